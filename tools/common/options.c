/*
 * tools/common/options.c - the option vocabulary every tool shares.
 *
 * Each group is its own argp so a tool picks the ones that make sense
 * (a lister has no -d); tc_parse() stacks them under the tool's argp.
 */
#include "toolcommon.h"

#include <stdlib.h>
#include <string.h>

#ifndef TC_TOOLS_VERSION
#define TC_TOOLS_VERSION "unknown"
#endif

enum {
	KEY_TARGET = TC_KEY_BASE + 1,
	KEY_LUN,
	KEY_PID,
	KEY_SOCKET,
};

static const struct argp_option base_options[] = {
	{ NULL, 0, NULL, 0, "General options:", 20 },
	{ NULL, 'h', NULL, 0, "Give this help list (as --help)", 20 },
	{ "verbose", 'v', NULL, 0,
	  "More library logging, repeatable: -v info, -vv debug (the default is warnings "
	  "and errors; ORIONSTOR_DEBUG sets it)", 20 },
	{ "config", 'c', "FILE", 0,
	  "Configuration file (default: $ORIONSTOR_CONF, then the system one)", 20 },
	{ NULL }
};

#define DEVICE_OPTIONS(doc) { \
	{ NULL, 0, NULL, 0, "Device selection:", 5 }, \
	{ "device", 'd', "SPEC", 0, doc, 5 }, \
	{ "target", KEY_TARGET, "T", 0, "SCSI target id (default 0)", 5 }, \
	{ "lun", KEY_LUN, "L", 0, "Logical unit number (default 0)", 5 }, \
	{ NULL } }

static const struct argp_option device_options[] = DEVICE_OPTIONS(
	"Device spec: sim:[opts], usb:VVVV:PPPP[:SERIAL], usb:BUS.DEVNUM, virtio:[DDDD:]BB:DD.F "
	"(orionstor(1), DEVICE SPECS)");
static const struct argp_option usb_device_options[] = DEVICE_OPTIONS(
	"USB device spec: usb:VVVV:PPPP[:SERIAL], usb:BUS.DEVNUM, or "
	"sim:transport=usb-bot|usb-cbi|usb-cb[,opts] (orionstor(1), DEVICE SPECS)");
static const struct argp_option virtio_device_options[] = DEVICE_OPTIONS(
	"virtio-scsi device spec: virtio:[DDDD:]BB:DD.F, or sim:transport=virtio[,opts] "
	"(orionstor(1), DEVICE SPECS)");
static const struct argp_option pci_device_options[] = {
	{ NULL, 0, NULL, 0, "Device selection:", 5 },
	{ "device", 'd', "ADDRESS", 0, "PCI address of a virtio-scsi function: [virtio:][DDDD:]BB:DD.F", 5 },
	{ NULL }
};

const char *tc_spec_example(unsigned int groups)
{
	if (groups & TC_OPT_USB)
		return "-d usb:0781:5567, or -d sim:transport=usb-bot to try it";
	if (groups & TC_OPT_VIRTIO)
		return "-d virtio:00:04.0, or -d sim:transport=virtio to try it";
	if (groups & TC_OPT_PCI)
		return "-d virtio:00:04.0";
	return "-d sim: for a simulated disk";
}

static const struct argp_option json_options[] = {
	{ "json", 'j', NULL, 0, "Print the result as JSON", 2 },
	{ NULL }
};

static const struct argp_option live_options[] = {
	{ NULL, 0, NULL, 0, "Process selection (a process with devices open):", 6 },
	{ "pid", KEY_PID, "N", 0, "The process with this pid (its control socket)", 6 },
	{ "socket", KEY_SOCKET, "PATH", 0, "The control socket at PATH", 6 },
	{ NULL }
};

static const struct argp_option hex_options[] = {
	{ "hex", 'H', NULL, 0, "Print data as a hex dump", 2 },
	{ NULL }
};

uint64_t tc_argp_size(struct argp_state *state, const char *option, const char *arg, uint64_t max)
{
	const char *why;
	uint64_t v = 0;

	if (tc_parse_size(arg, max, &v, &why) < 0) {
		argp_error(state, "invalid %s '%s': %s (a byte count such as 4096, 4k or 1M, at most %llu)",
			   option, arg, why, (unsigned long long)max);
		exit(TC_EXIT_SYNTAX);
	}
	return v;
}

uint64_t tc_argp_u64(struct argp_state *state, const char *option,
		     const char *arg, uint64_t max)
{
	const char *why;
	uint64_t v = 0;

	if (tc_parse_u64(arg, max, &v, &why) < 0) {
		if (strcmp(why, "out of range") == 0)
			argp_error(state, "invalid %s '%s': out of range (0..%llu)",
				   option, arg, (unsigned long long)max);
		else
			argp_error(state, "invalid %s '%s': %s", option, arg, why);
		exit(TC_EXIT_SYNTAX); /* argp_error exits; this is belt and braces */
	}
	return v;
}

static error_t base_parser(int key, char *arg, struct argp_state *state)
{
	struct tc_common *c = state->input;

	switch (key) {
	case 'v':
		c->verbose++;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return 0;
	case 'c':
		/* An empty name is meaningful: no file, the built-in
		 * defaults (orionstor.conf(5)). */
		c->config = arg;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static error_t device_parser(int key, char *arg, struct argp_state *state)
{
	struct tc_common *c = state->input;

	switch (key) {
	case 'd':
		if (!*arg)
			argp_error(state, "--device needs a spec such as 'sim:'");
		if (c->device)
			argp_error(state, "only one --device may be given");
		c->device = arg;
		return 0;
	case KEY_TARGET:
		c->target = (uint32_t)tc_argp_u64(state, "--target", arg, UINT32_MAX);
		c->target_set = true;
		return 0;
	case KEY_LUN:
		c->lun = (uint32_t)tc_argp_u64(state, "--lun", arg, UINT32_MAX);
		c->lun_set = true;
		return 0;
	case ARGP_KEY_END:
		if ((c->groups & TC_OPT_DEVICE_REQUIRED) && !c->device)
			argp_error(state, "a device is required: -d SPEC (e.g. %s)", tc_spec_example(c->groups));
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static error_t json_parser(int key, char *arg, struct argp_state *state)
{
	struct tc_common *c = state->input;

	if (key != 'j')
		return ARGP_ERR_UNKNOWN;
	c->json = true;
	return 0;
}

static error_t live_parser(int key, char *arg, struct argp_state *state)
{
	struct tc_common *c = state->input;

	switch (key) {
	case KEY_PID:
		c->pid = (long)tc_argp_u64(state, "--pid", arg, 0x7fffffff);
		if (!c->pid)
			argp_error(state, "--pid 0: expected a process id");
		return 0;
	case KEY_SOCKET:
		if (!*arg)
			argp_error(state, "--socket needs a path");
		c->socket = arg;
		return 0;
	case ARGP_KEY_END:
		if (c->pid && c->socket)
			argp_error(state, "--pid and --socket both choose the process; give one");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static error_t hex_parser(int key, char *arg, struct argp_state *state)
{
	struct tc_common *c = state->input;

	if (key != 'H')
		return ARGP_ERR_UNKNOWN;
	c->hex = true;
	return 0;
}

static const struct argp base_argp = { base_options, base_parser };
static const struct argp_option *device_options_for(unsigned int groups)
{
	static struct argp_option opts[6];
	const struct argp_option *src = groups & TC_OPT_USB ? usb_device_options :
					groups & TC_OPT_VIRTIO ? virtio_device_options :
					groups & TC_OPT_PCI ? pci_device_options : device_options;
	size_t n = 0;

	for (; src->name || src->doc; src++) {
		if ((src->key == KEY_LUN && (groups & TC_OPT_NO_LUN)) ||
		    (src->key == KEY_TARGET && (groups & TC_OPT_NO_TARGET)))
			continue;
		opts[n++] = *src;
	}
	opts[n] = (struct argp_option){ NULL };
	return opts;
}

static struct argp device_argp = { NULL, device_parser };
static const struct argp json_argp = { json_options, json_parser };
static const struct argp hex_argp = { hex_options, hex_parser };
static const struct argp live_argp = { live_options, live_parser };

static void print_version(FILE *stream, struct argp_state *state)
{
	const char *const *b = ostor_backends();

	fprintf(stream, "%s (liborionstor tools) %s\n", tc_progname(), TC_TOOLS_VERSION);
	fprintf(stream, "liborionstor %s; backends:", ostor_version());
	for (; b && *b; b++)
		fprintf(stream, " %s", *b);
	fputc('\n', stream);
}

void tc_argp_setup(void)
{
	argp_program_version_hook = print_version;
	argp_err_exit_status = TC_EXIT_SYNTAX;
}

/* The wrapper hands each child its input: the tool's own struct to the
 * tool's parser, the shared struct to every common group. */
struct wrapper_input {
	void *tool_input;
	struct tc_common *common;
	unsigned int nchildren;
};

static error_t wrapper_parser(int key, char *arg, struct argp_state *state)
{
	struct wrapper_input *w = state->input;

	if (key != ARGP_KEY_INIT)
		return ARGP_ERR_UNKNOWN;
	state->child_inputs[0] = w->tool_input;
	for (unsigned int i = 1; i < w->nchildren; i++)
		state->child_inputs[i] = w->common;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;

	/* libtool runs uninstalled programs as lt-NAME */
	if (strncmp(name, "lt-", 3) == 0 && name[3])
		name += 3;
	return name;
}

void tc_parse(const struct argp *tool, int argc, char **argv,
	      unsigned int groups, struct tc_common *common, void *tool_input)
{
	static const struct argp empty_argp = { NULL, NULL };
	struct argp_child children[7];
	struct argp tool_copy, wrapper;
	struct wrapper_input w;
	unsigned int n = 0;

	tc_argp_setup();
	if (argc > 0 && argv[0])
		tc_set_progname(base_name(argv[0]));

	/* The transport tools share commands with orionstor (cmd, power,
	 * the live ones): their name says which specs they take. */
	if (groups & (TC_OPT_DEVICE | TC_OPT_DEVICE_REQUIRED) && !(groups & (TC_OPT_USB | TC_OPT_VIRTIO | TC_OPT_PCI))) {
		if (!strncmp(tc_progname(), "usb_storage_", 12))
			groups |= TC_OPT_USB;
		else if (!strncmp(tc_progname(), "virtio-scsi-", 12))
			groups |= TC_OPT_VIRTIO;
	}
	memset(common, 0, sizeof(*common));
	common->groups = groups;

	/* The tool's doc and args_doc belong on the wrapper, or argp would
	 * print them twice. */
	tool_copy = tool ? *tool : empty_argp;
	tool_copy.args_doc = NULL;
	tool_copy.doc = NULL;
	memset(children, 0, sizeof(children));
	children[n++] = (struct argp_child){ &tool_copy, 0, NULL, 0 };
	if (groups & (TC_OPT_DEVICE | TC_OPT_DEVICE_REQUIRED)) {
		device_argp.options = device_options_for(groups);
		children[n++] = (struct argp_child){ &device_argp, 0, NULL, 0 };
	}
	if (groups & TC_OPT_JSON)
		children[n++] = (struct argp_child){ &json_argp, 0, NULL, 0 };
	if (groups & TC_OPT_HEX)
		children[n++] = (struct argp_child){ &hex_argp, 0, NULL, 0 };
	if (groups & TC_OPT_LIVE)
		children[n++] = (struct argp_child){ &live_argp, 0, NULL, 0 };
	children[n++] = (struct argp_child){ &base_argp, 0, NULL, 0 };

	memset(&wrapper, 0, sizeof(wrapper));
	wrapper.parser = wrapper_parser;
	wrapper.args_doc = tool ? tool->args_doc : NULL;
	wrapper.doc = tool ? tool->doc : NULL;
	wrapper.children = children;

	/* argp's own usage errors exit inside argp_parse: with -j/--json
	 * on the line they still end in a JSON document. */
	if (groups & TC_OPT_JSON)
		for (int i = 1; i < argc && argv[i] && strcmp(argv[i], "--"); i++)
			if (!strcmp(argv[i], "--json") || (argv[i][0] == '-' && argv[i][1] != '-' &&
							    strchr(argv[i], 'j') && !strchr(argv[i], '=')))
				tc_json_errors(true);
	w.tool_input = tool_input;
	w.common = common;
	w.nchildren = n;
	/* Without ARGP_NO_EXIT argp exits itself on errors (status 1) and
	 * after --help/--version (status 0). */
	if (argp_parse(&wrapper, argc, argv, 0, NULL, &w) != 0)
		exit(TC_EXIT_SYNTAX);
	tc_set_device(common->device);
	tc_json_errors(common->json);
}

const char *tc_pci_address(const char *device)
{
	const char *addr = strncmp(device, "virtio:", 7) ? device : device + 7;

	if (*addr && strspn(addr, "0123456789abcdefABCDEF:.") == strlen(addr))
		return addr;
	tc_msg("'%s' is not a PCI address (%s)", device, tc_spec_example(TC_OPT_PCI));
	return NULL;
}
