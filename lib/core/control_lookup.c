/*
 * lib/core/control_lookup.c - who holds a device that would not open:
 * ostor_open asks the control sockets of the other processes (their
 * "devices" method) so that "busy" comes with the pid to look at.
 *
 * The tools have their own, fuller client (tools/common/control_client.c);
 * the library cannot use theirs (tools sit above it), and this one needs
 * only one question asked within a small time budget.
 */
#include "core/control.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* All sockets together: a busy open must not turn into a hang. */
#define LOOKUP_BUDGET_MS 1000
#define LOOKUP_REPLY_MAX (1u << 20)

/* The identity the server reports for the hardware text names, when it
 * can be told from the spec alone (see control_methods.c). */
static void identity_of(const char *text, char *buf, size_t len)
{
	struct ostor_spec *spec = malloc(sizeof(*spec));
	const struct ostor_spec_option *o;
	unsigned int a, b, c, d;
	char tail;

	buf[0] = '\0';
	if (sscanf(text, "virtio:%x:%x.%x%c", &a, &b, &c, &tail) == 3)
		snprintf(buf, len, "virtio:0000:%02x:%02x.%x", a, b, c);
	else if (sscanf(text, "virtio:%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4)
		snprintf(buf, len, "virtio:%04x:%02x:%02x.%x", a, b, c, d);
	else if (spec && ostori_spec_parse(text, spec) == 0 && !strcmp(spec->backend, "sim") &&
		 (o = ostori_spec_get(spec, "image")) && o->value) {
		char real[PATH_MAX];

		if (realpath(o->value, real) && strlen(real) + 6 <= len)
			snprintf(buf, len, "file:%s", real);
	}
	free(spec);
}

/* The "devices" reply of the socket at path, before deadline; NULL if
 * it has none to give. */
static struct json_object *ask_devices(const char *path, uint64_t deadline)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"devices\"}\n";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct json_object *reply = NULL, *result = NULL;
	size_t len = 0, cap = 0;
	char *buf = NULL, *nl = NULL;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return NULL;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	{
		uint64_t now = ostori_now_ms(), left = deadline > now ? deadline - now : 1;
		struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
		goto out;
	while (!nl && ostori_now_ms() < deadline) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *p = cap >= LOOKUP_REPLY_MAX ? NULL : realloc(buf, cap ? cap * 2 : 4096);

			if (!p)
				goto out;
			buf = p;
			cap = cap ? cap * 2 : 4096;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		len += (size_t)n;
		buf[len] = '\0';
		nl = memchr(buf, '\n', len);
	}
	if (nl && (reply = json_tokener_parse(buf)) &&
	    json_object_object_get_ex(reply, "result", &result) &&
	    json_object_is_type(result, json_type_array))
		json_object_get(result);
	else
		result = NULL;
	json_object_put(reply);
out:
	free(buf);
	close(fd);
	return result;
}

static long pid_of(const char *name)
{
	char *end;
	long pid;

	if (*name < '1' || *name > '9')
		return 0;
	pid = strtol(name, &end, 10);
	return strcmp(end, ".sock") ? 0 : pid;
}

static bool holds(struct json_object *devices, const char *text, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		struct json_object *d = json_object_array_get_idx(devices, i), *v;

		if (json_object_object_get_ex(d, "spec", &v) && !strcmp(json_object_get_string(v), text))
			return true;
		if (*id && json_object_object_get_ex(d, "identity", &v) && v &&
		    !strcmp(json_object_get_string(v), id))
			return true;
	}
	return false;
}

/* The program a pid runs as, from /proc ("?" when it cannot be read). */
static void program_of(long pid, char *buf, size_t len)
{
	char path[64];
	FILE *fp;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fp = fopen(path, "re"))) {
		if (fgets(buf, (int)len, fp))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(fp);
	}
}

int ostori_control_explain_busy(ostor_context *ctx, const char *text, int err)
{
	char dir[OSTORI_CONTROL_DIR_MAX + 1], id[PATH_MAX + 8], why[512];
	uint64_t deadline = ostori_now_ms() + LOOKUP_BUDGET_MS;
	long holder = 0;
	struct dirent *e;
	DIR *d;

	/* The lookup below would overwrite the message otherwise. */
	snprintf(why, sizeof(why), "%s", ostor_last_error());
	if (ostori_control_dir(&ctx->config, dir, sizeof(dir)) < 0 || !(d = opendir(dir))) {
		ostori_error(err, "%s", why);
		return err;
	}
	identity_of(text, id, sizeof(id));
	while (!holder && (e = readdir(d)) && ostori_now_ms() < deadline) {
		struct json_object *devices;
		char path[sizeof(dir) + sizeof(e->d_name) + 2];
		long pid = pid_of(e->d_name);

		if (!pid)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((devices = ask_devices(path, deadline))) {
			if (holds(devices, text, id))
				holder = pid;
			json_object_put(devices);
		}
	}
	closedir(d);
	if (!holder) {
		ostori_error(err, "%s", why);
		return err;
	}
	{
		char prog[64];

		program_of(holder, prog, sizeof(prog));
		return ostori_error(err, "%s is held by pid %ld (%s); inspect it with orionstor stats -d %s "
				    "(%s)", text, holder, prog, text, why);
	}
}
