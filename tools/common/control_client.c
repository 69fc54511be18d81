/*
 * tools/common/control_client.c - the client side of the control socket.
 *
 * One connection per call: connect, one request line, one reply line,
 * close.  Every step is bounded in time and size, so a hung or hostile
 * process cannot hang a tool.
 */
#include "control_client.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int tc_ctl_dir(ostor_context *ctx, char *buf, size_t len)
{
	int err = ostor_control_socket_dir(ctx, buf, len);

	if (err < 0) {
		tc_lib_error(err, "cannot tell where the control sockets are");
		return tc_exit_from_error(err);
	}
	return 0;
}

long tc_ctl_pid_of(const char *path)
{
	const char *name = strrchr(path, '/');
	char *end;
	long pid;

	name = name ? name + 1 : path;
	if (*name < '1' || *name > '9')
		return 0;
	pid = strtol(name, &end, 10);
	return strcmp(end, ".sock") ? 0 : pid;
}

static int by_pid(const void *a, const void *b)
{
	long pa = tc_ctl_pid_of(*(char *const *)a), pb = tc_ctl_pid_of(*(char *const *)b);

	return (pa > pb) - (pa < pb);
}

void tc_ctl_list_free(char **paths, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(paths[i]);
	free(paths);
}

int tc_ctl_list(const char *dir, char ***paths, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*paths = NULL;
	*count = 0;
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		char *p;

		if (!tc_ctl_pid_of(e->d_name))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
		}
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			goto nomem;
		v[n++] = p;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), by_pid);
	*paths = v;
	*count = n;
	return 0;
nomem:
	closedir(d);
	tc_ctl_list_free(v, n);
	errno = ENOMEM;
	return -1;
}

/* ---- one call ----------------------------------------------------------------- */

static int ctl_connect(const char *path, int timeout_ms, char *why, size_t whylen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(why, whylen, "%s: path too long for a Unix socket", path);
		return -TC_CTL_ERROR;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -TC_CTL_ERROR;
	}
	/* A full backlog makes connect wait; this bounds it (Linux). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		if (e == ECONNREFUSED || e == ENOENT)
			return -TC_CTL_STALE;
		snprintf(why, whylen, "cannot connect to %s: %s", path, strerror(e));
		return -TC_CTL_ERROR;
	}
	return fd;
}

static int remaining(long long deadline)
{
	long long left = deadline - (long long)tc_now_ms();

	return left > 0 ? (int)left : 0;
}

/* One line from fd before the deadline, malloc'ed, '\n' removed. */
static char *read_reply_line(int fd, long long deadline, char *why, size_t whylen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (len + 1 == cap) {
			char *nb = cap >= TC_CTL_REPLY_MAX ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				snprintf(why, whylen, "reply larger than %u bytes", TC_CTL_REPLY_MAX);
				break;
			}
			buf = nb;
			cap *= 2;
		}
		if (poll(&p, 1, remaining(deadline)) <= 0) {
			snprintf(why, whylen, "no reply within %d ms (the process is busy or stuck)",
				 TC_CTL_TIMEOUT_MS);
			break;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, whylen, "the process hung up without a reply%s%s",
				 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

int tc_ctl_call(const char *path, const char *method, struct json_object *params, int timeout_ms,
		struct json_object **result, int *code, char *why, size_t whylen)
{
	long long deadline = (long long)tc_now_ms() + timeout_ms;
	struct json_object *req, *reply, *v, *err;
	const char *text;
	char *line;
	int fd, rc = TC_CTL_ERROR;

	*result = NULL;
	if (code)
		*code = 0;
	why[0] = '\0';
	fd = ctl_connect(path, timeout_ms, why, whylen);
	if (fd < 0)
		return -fd;
	req = json_object_new_object();
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", json_object_get(params));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	/* The request is small: the socket buffer takes it at once. */
	if (send(fd, text, strlen(text), MSG_NOSIGNAL) != (ssize_t)strlen(text) ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		snprintf(why, whylen, "cannot send to %s: %s", path, strerror(errno));
		json_object_put(req);
		close(fd);
		return TC_CTL_ERROR;
	}
	json_object_put(req);
	line = read_reply_line(fd, deadline, why, whylen);
	close(fd);
	if (!line)
		return TC_CTL_ERROR;
	reply = json_tokener_parse(line);
	free(line);
	if (!reply || !json_object_is_type(reply, json_type_object)) {
		snprintf(why, whylen, "%s answered something that is not JSON-RPC", path);
	} else if (json_object_object_get_ex(reply, "error", &err)) {
		const char *name = "";

		if (json_object_object_get_ex(err, "data", &v) && json_object_object_get_ex(v, "error", &v))
			name = json_object_get_string(v);
		if (code && json_object_object_get_ex(err, "code", &v))
			*code = json_object_get_int(v);
		snprintf(why, whylen, "%s%s%s%s",
			 json_object_object_get_ex(err, "message", &v) ? json_object_get_string(v) : "error",
			 *name ? " (" : "", name, *name ? ")" : "");
	} else if (json_object_object_get_ex(reply, "result", &v)) {
		*result = json_object_get(v);
		rc = 0;
	} else {
		snprintf(why, whylen, "%s answered neither a result nor an error", path);
	}
	json_object_put(reply);
	return rc;
}

/* ---- finding the holder of a device ----------------------------------------------- */

/* What the server reports as "identity" for the hardware spec names, if
 * it can be told without opening it (see lib/core/control_methods.c). */
static void identity_of(const char *spec, char *buf, size_t len)
{
	unsigned int a, b, c, d;
	char tail;

	buf[0] = '\0';
	if (!strncmp(spec, "sim:", 4)) {
		/* image=PATH among the comma-separated options */
		for (const char *p = spec + 4; *p; p += strcspn(p, ","), p += *p == ',') {
			if (!strncmp(p, "image=", 6)) {
				char path[PATH_MAX], real[PATH_MAX];

				snprintf(path, sizeof(path), "%.*s", (int)strcspn(p + 6, ","), p + 6);
				if (realpath(path, real))
					snprintf(buf, len, "file:%s", real);
				return;
			}
		}
	} else if (sscanf(spec, "virtio:%x:%x.%x%c", &a, &b, &c, &tail) == 3) {
		snprintf(buf, len, "virtio:0000:%02x:%02x.%x", a, b, c);
	} else if (sscanf(spec, "virtio:%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4) {
		snprintf(buf, len, "virtio:%04x:%02x:%02x.%x", a, b, c, d);
	} else if (!strncmp(spec, "usb:", 4)) {
		snprintf(buf, len, "%s", spec);   /* usb:BUS.DEVNUM as reported */
	}
}

static bool matches(struct json_object *dev, const char *spec, const char *id)
{
	struct json_object *v;

	if (json_object_object_get_ex(dev, "spec", &v) && !strcmp(json_object_get_string(v), spec))
		return true;
	return *id && json_object_object_get_ex(dev, "identity", &v) && v &&
	       !strcmp(json_object_get_string(v), id);
}

int tc_ctl_find_holder(const char *dir, const char *spec, struct tc_ctl_holder *h)
{
	char **paths, id[PATH_MAX + 16], why[256];
	size_t n;
	int found = 0;

	memset(h, 0, sizeof(*h));
	identity_of(spec, id, sizeof(id));
	if (tc_ctl_list(dir, &paths, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !found; i++) {
		struct json_object *devs, *ping, *v;

		if (tc_ctl_call(paths[i], "devices", NULL, TC_CTL_TIMEOUT_MS, &devs, NULL, why, sizeof(why)))
			continue;
		for (size_t k = 0; json_object_is_type(devs, json_type_array) &&
				   k < json_object_array_length(devs) && !found; k++) {
			struct json_object *d = json_object_array_get_idx(devs, k);

			if (!matches(d, spec, id))
				continue;
			found = 1;
			h->pid = tc_ctl_pid_of(paths[i]);
			h->device = json_object_get(d);
			snprintf(h->socket, sizeof(h->socket), "%s", paths[i]);
			snprintf(h->program, sizeof(h->program), "?");
			if (!tc_ctl_call(paths[i], "ping", NULL, TC_CTL_TIMEOUT_MS, &ping, NULL, why, sizeof(why))) {
				if (json_object_object_get_ex(ping, "program", &v))
					snprintf(h->program, sizeof(h->program), "%s", json_object_get_string(v));
				json_object_put(ping);
			}
		}
		json_object_put(devs);
	}
	tc_ctl_list_free(paths, n);
	return found;
}

int tc_ctl_selected(const struct tc_common *c, const char *dir, char *path, size_t len)
{
	if (c->socket) {
		snprintf(path, len, "%s", c->socket);
		return 0;
	}
	if (c->pid) {
		snprintf(path, len, "%s/%ld.sock", dir, c->pid);
		if (access(path, F_OK) < 0) {
			tc_msg("process %ld has no control socket in %s (not running, no device open, "
			       "or [control] socket = false in its configuration)", c->pid, dir);
			return TC_EXIT_NOT_FOUND;
		}
		return 0;
	}
	path[0] = '\0';
	return 0;
}

int tc_ctl_not_held(const char *spec)
{
	tc_msg("no process holds %s; start one, e.g. orionstor bench -d %s --runtime 600", spec, spec);
	return TC_EXIT_NOT_HELD;
}

int tc_ctl_live_dir(const struct tc_common *c, char *dir, size_t len)
{
	ostor_context *ctx;
	int rc;

	dir[0] = '\0';
	if (c->socket)
		return 0;
	if ((rc = tc_open_context(c, &ctx)))
		return rc;
	rc = tc_ctl_dir(ctx, dir, len);
	ostor_exit(ctx);
	return rc;
}
