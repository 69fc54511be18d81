/*
 * lib/core/control.c - the control socket server (see core/control.h).
 *
 * One thread per process, started with the first open device and joined
 * when the last one closes.  It polls the listening socket and at most
 * OSTORI_CONTROL_MAX_CLIENTS clients, every fd non-blocking, so a stuck or
 * hostile client costs it nothing but a slot until its deadline: the
 * I/O paths never wait for it.  Requests are JSON-RPC 2.0 objects, one
 * per line; each reply is one line.
 *
 * <dir>/<pid>.lock, held with flock() while the server runs, tells a live
 * socket from the stale one of a process that died: a socket whose lock
 * nobody holds may be removed by whoever takes the lock.
 */
#include "core/control.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct client {
	int fd;
	char *in;                  /* received, not yet handled */
	size_t inlen, incap;
	char *out;                 /* replies not yet sent: out[outoff..outlen) */
	size_t outlen, outoff, outcap;
	uint64_t deadline_ms;
	bool close_after_write;    /* refused or broken: reply, then hang up */
	bool draining;             /* replied and shut down: discard input until EOF */
	bool eof;                  /* the peer closed its side */
};

struct server {
	pthread_t thread;
	int listen_fd, lock_fd, wake_fd;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client clients[OSTORI_CONTROL_MAX_CLIENTS];
	unsigned int nclients;
};

static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;
static struct server *server;      /* server_lock */
/* A start was tried since the process last had no device open: the
 * server starts with the first device only (server_lock). */
static bool attempted;
static atomic_uint timeout_ms = OSTORI_CONTROL_TIMEOUT_MS;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static atomic_uint live_threads;   /* server threads not yet returned (tests) */

unsigned int ostori_control_threads(void)
{
	return atomic_load(&live_threads);
}

void ostori_control_set_timeout_ms(unsigned int ms)
{
	atomic_store(&timeout_ms, ms ? ms : OSTORI_CONTROL_TIMEOUT_MS);
}

static uint64_t deadline(void)
{
	return ostori_now_ms() + atomic_load(&timeout_ms);
}

/* ---- replies ------------------------------------------------------------- */

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
}

/* Queue obj (consumed) as one line. */
static void queue_reply(struct client *c, struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = text ? strlen(text) : 0;

	if (c->outlen + n + 1 > c->outcap) {
		size_t cap = OSTOR_MAX(c->outcap * 2, c->outlen + n + 1);
		char *p = realloc(c->out, cap);

		if (!p) {
			/* Nothing sensible to say without memory: hang up. */
			json_object_put(obj);
			c->close_after_write = true;
			return;
		}
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, text, n);
	c->outlen += n;
	c->out[c->outlen++] = '\n';
	json_object_put(obj);
	c->deadline_ms = deadline();
}

static struct json_object *envelope(struct json_object *id)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", json_object_get(id));
	return o;
}

/* error.data, when given, is consumed. */
static void reply_error(struct client *c, struct json_object *id, int code, const char *msg,
			struct json_object *data)
{
	struct json_object *o = envelope(id), *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	if (data)
		json_object_object_add(e, "data", data);
	json_object_object_add(o, "error", e);
	queue_reply(c, o);
}

static void reply_library_error(struct client *c, struct json_object *id, int err)
{
	struct json_object *data = json_object_new_object();
	const char *msg = ostor_last_error();

	json_object_object_add(data, "error", json_object_new_string(ostor_error_name(err)));
	reply_error(c, id, err == OSTOR_ERROR_INVALID_PARAM ? OSTORI_RPC_INVALID_PARAMS
							   : OSTORI_RPC_LIBRARY_BASE + err,
		    *msg ? msg : ostor_strerror(err), data);
}

/* ---- one request ----------------------------------------------------------- */

static const struct ostori_control_method *find_method(const char *name)
{
	for (const struct ostori_control_method *m = ostori_control_methods; m->name; m++)
		if (!strcmp(m->name, name))
			return m;
	return NULL;
}

static void method_not_found(struct client *c, struct json_object *id, const char *name)
{
	char msg[512];
	size_t n;

	n = (size_t)snprintf(msg, sizeof(msg), "method '%.64s' not found; methods:", name);
	for (const struct ostori_control_method *m = ostori_control_methods; m->name && n < sizeof(msg); m++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, " %s", m->name);
	reply_error(c, id, OSTORI_RPC_METHOD_NOT_FOUND, msg, NULL);
}

static bool valid_id(struct json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return true;
	default:
		return false;
	}
}

static void handle_request(struct client *c, const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *req, *id = NULL, *v, *params = NULL, *result = NULL;
	const struct ostori_control_method *m;
	bool has_id;
	size_t end;
	int r;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!len)
		return; /* a blank line asks nothing */
	tok = json_tokener_new();
	if (!tok) {
		c->close_after_write = true;
		return;
	}
	req = json_tokener_parse_ex(tok, line, (int)len);
	r = json_tokener_get_error(tok) == json_tokener_success;
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!r || end != len) {
		json_object_put(req);
		reply_error(c, NULL, OSTORI_RPC_PARSE_ERROR,
			    "parse error: a request is one JSON object on one line", NULL);
		return;
	}
	if (json_object_is_type(req, json_type_array)) {
		reply_error(c, NULL, OSTORI_RPC_INVALID_REQUEST,
			    "invalid request: batches are not supported; send one object per line", NULL);
		goto out;
	}
	if (!json_object_is_type(req, json_type_object)) {
		reply_error(c, NULL, OSTORI_RPC_INVALID_REQUEST, "invalid request: not a JSON object", NULL);
		goto out;
	}
	has_id = json_object_object_get_ex(req, "id", &id);
	if (has_id && !valid_id(id)) {
		reply_error(c, NULL, OSTORI_RPC_INVALID_REQUEST,
			    "invalid request: \"id\" must be a string, a number or null", NULL);
		goto out;
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0")) {
		reply_error(c, id, OSTORI_RPC_INVALID_REQUEST,
			    "invalid request: \"jsonrpc\": \"2.0\" is required", NULL);
		goto out;
	}
	if (!json_object_object_get_ex(req, "method", &v) || !json_object_is_type(v, json_type_string)) {
		reply_error(c, id, OSTORI_RPC_INVALID_REQUEST,
			    "invalid request: \"method\" must be a string", NULL);
		goto out;
	}
	if (json_object_object_get_ex(req, "params", &params) && params &&
	    !json_object_is_type(params, json_type_object) && !json_object_is_type(params, json_type_array)) {
		reply_error(c, id, OSTORI_RPC_INVALID_PARAMS,
			    "invalid params: \"params\" must be an object or an array", NULL);
		goto out;
	}
	m = find_method(json_object_get_string(v));
	if (!m) {
		if (has_id)
			method_not_found(c, id, json_object_get_string(v));
		goto out;
	}
	ostori_clear_error();
	r = m->fn(params, &result);
	if (!has_id) {
		/* A notification: done, and nothing to say (JSON-RPC 2.0). */
		json_object_put(result);
		c->deadline_ms = deadline();
	} else if (r < 0) {
		json_object_put(result);
		reply_library_error(c, id, r);
	} else {
		struct json_object *o = envelope(id);

		json_object_object_add(o, "result", result);
		queue_reply(c, o);
	}
out:
	json_object_put(req);
}

/* Tests and fuzzing only (tests/fuzz/fuzz_control.c): one request line
 * through handle_request, without a socket. */
char *ostori_control_handle_line(const char *line, size_t len, size_t *reply_len)
{
	struct client c = { .fd = -1 };

	handle_request(&c, line, len);
	*reply_len = c.outlen;
	return c.out;
}

/* ---- client I/O ------------------------------------------------------------ */

static bool pending(const struct client *c)
{
	return c->outoff < c->outlen;
}

/* Send what the socket takes now; false when the client is gone. */
static bool flush(struct client *c)
{
	while (pending(c)) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false;
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	c->deadline_ms = deadline(); /* delivered: the idle clock starts */
	return true;
}

/* Take the first complete line of c->in and handle it; false if none. */
static bool take_line(struct client *c)
{
	char *nl = c->inlen ? memchr(c->in, '\n', c->inlen) : NULL;
	size_t len;

	if (!nl)
		return false;
	len = (size_t)(nl - c->in);
	handle_request(c, c->in, len);
	memmove(c->in, nl + 1, c->inlen - len - 1);
	c->inlen -= len + 1;
	return true;
}

/* Read what is there: 1 got data, 0 nothing now, -1 EOF or error. */
static int read_some(struct client *c)
{
	const size_t max = OSTORI_CONTROL_REQUEST_MAX + 1;
	ssize_t n;

	if (c->inlen == c->incap) {
		size_t cap = OSTOR_MIN(max, c->incap ? c->incap * 2 : 4096);
		char *p = realloc(c->in, cap);

		if (!p)
			return -1;
		c->in = p;
		c->incap = cap;
	}
	do
		n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return -1;
	c->inlen += (size_t)n;
	return 1;
}

/* Discard input of a client we hung up on, so that closing does not
 * reset the connection before it read our last reply. */
static void drain(struct client *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 || (n < 0 && errno == EINTR))
		;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		client_close(c);
}

/* Everything a client is ready for: send, handle whole lines one at a
 * time (the next only once the last reply left), read. */
static void client_service(struct client *c)
{
	if (c->draining) {
		drain(c);
		return;
	}
	while (c->fd >= 0) {
		if (!flush(c)) {
			client_close(c);
			return;
		}
		if (pending(c))
			return; /* POLLOUT brings us back */
		if (c->close_after_write) {
			shutdown(c->fd, SHUT_WR);
			c->draining = true;
			c->deadline_ms = deadline();
			drain(c);
			return;
		}
		if (take_line(c))
			continue;
		if (c->eof) {
			client_close(c);
			return;
		}
		if (c->inlen > OSTORI_CONTROL_REQUEST_MAX) {
			char msg[128];

			snprintf(msg, sizeof(msg), "invalid request: larger than %d bytes; closing the "
				 "connection", OSTORI_CONTROL_REQUEST_MAX);
			reply_error(c, NULL, OSTORI_RPC_INVALID_REQUEST, msg, NULL);
			c->close_after_write = true;
			c->inlen = 0;
			continue;
		}
		switch (read_some(c)) {
		case 0:
			return;
		case -1:
			c->eof = true;
			break;
		default:
			break;
		}
	}
}

/* ---- accepting ------------------------------------------------------------- */

/* Refuse conn with one error line, best effort (a fresh socket buffer
 * always takes it), and close it. */
static void refuse(int fd, int code, const char *msg)
{
	struct client tmp = { .fd = fd };

	reply_error(&tmp, NULL, code, msg, NULL);
	if (tmp.out)
		(void)!send(fd, tmp.out, tmp.outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
	client_close(&tmp);
}

static void accept_clients(struct server *s)
{
	for (;;) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct client *c;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or out of fds: try again at the next wake-up */
		}
		if (s->nclients == OSTORI_CONTROL_MAX_CLIENTS) {
			char msg[128];

			snprintf(msg, sizeof(msg), "too many clients (at most %d at once); try again later",
				 OSTORI_CONTROL_MAX_CLIENTS);
			refuse(fd, OSTORI_RPC_LIBRARY_BASE + OSTOR_ERROR_BUSY, msg);
			continue;
		}
		c = &s->clients[s->nclients++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->deadline_ms = deadline();
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			char msg[128];

			snprintf(msg, sizeof(msg), "permission denied: this process belongs to uid %u",
				 (unsigned int)geteuid());
			ostor_info(NULL, "control socket: refused a client of uid %d",
				   clen == sizeof(cred) ? (int)cred.uid : -1);
			reply_error(c, NULL, OSTORI_RPC_LIBRARY_BASE + OSTOR_ERROR_ACCESS, msg, NULL);
			c->close_after_write = true;
		}
	}
}

/* ---- the thread ------------------------------------------------------------ */

static void *serve(void *arg)
{
	struct server *s = arg;
	struct pollfd fds[2 + OSTORI_CONTROL_MAX_CLIENTS];

	for (;;) {
		uint64_t now, next = UINT64_MAX;
		unsigned int i, kept;
		int timeout = -1;

		fds[0] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (i = 0; i < s->nclients; i++) {
			struct client *c = &s->clients[i];

			fds[2 + i] = (struct pollfd){ .fd = c->fd,
						      .events = pending(c) ? POLLOUT : POLLIN };
			next = OSTOR_MIN(next, c->deadline_ms);
		}
		if (next != UINT64_MAX) {
			now = ostori_now_ms();
			timeout = next <= now ? 0 : (int)OSTOR_MIN(next - now, (uint64_t)60000);
		}
		if (poll(fds, 2 + s->nclients, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		now = ostori_now_ms();
		for (i = 0; i < s->nclients; i++) {
			struct client *c = &s->clients[i];

			if (fds[2 + i].revents)
				client_service(c);
			if (c->fd >= 0 && now >= c->deadline_ms)
				client_close(c); /* idle, slow, or not reading its replies */
		}
		for (i = kept = 0; i < s->nclients; i++)
			if (s->clients[i].fd >= 0)
				s->clients[kept++] = s->clients[i];
		s->nclients = kept;
		if (fds[1].revents)
			accept_clients(s);
	}
	for (unsigned int i = 0; i < s->nclients; i++)
		client_close(&s->clients[i]);
	s->nclients = 0;
	atomic_fetch_sub(&live_threads, 1);
	return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

/* dir exists (made 0700 if missing), is a real directory of ours and
 * nobody else can write to it; else the warning says what to fix. */
static int check_dir(ostor_context *ctx, const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ostor_warn(ctx, "no control socket: cannot create %s: %s; create it (mode 0700) or set "
			   "[control] socket_dir in orionstor.conf", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ostor_warn(ctx, "no control socket: %s is not a directory; remove it or set [control] "
			   "socket_dir in orionstor.conf", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		ostor_warn(ctx, "no control socket: %s belongs to uid %u, not to this process (uid %u); "
			   "use a directory of your own ([control] socket_dir)", dir,
			   (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ostor_warn(ctx, "no control socket: others can write to %s (mode %03o); chmod 700 it",
			   dir, (unsigned int)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

static void server_free(struct server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

/* A forked child has no server thread: forget the parent's server (its
 * files stay the parent's) so the child can start its own. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&server_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&server_lock);
}

static void atfork_child(void)
{
	/* Only what was set before the thread started: the clients are the
	 * thread's (their fds close on exec). */
	if (server) {
		server_free(server);
		server = NULL;
	}
	attempted = false;
	pthread_mutex_unlock(&server_lock);
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static struct server *server_start(ostor_context *ctx)
{
	char dir[OSTORI_CONTROL_DIR_MAX + 1];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	sigset_t all, old;
	struct server *s;
	int r;

	r = ostori_control_dir(&ctx->config, dir, sizeof(dir));
	if (r == OSTOR_ERROR_NOT_SUPPORTED) {
		ostor_dbg(ctx, "%s", ostor_last_error());
		return NULL;
	}
	if (r < 0) {
		ostor_warn(ctx, "no control socket: %s", ostor_last_error());
		return NULL;
	}
	if (check_dir(ctx, dir) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->listen_fd = s->wake_fd = s->lock_fd = -1;
	snprintf(s->sock_path, sizeof(s->sock_path), "%s/%ld.sock", dir, (long)getpid());
	snprintf(s->lock_path, sizeof(s->lock_path), "%s/%ld.lock", dir, (long)getpid());

	s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0) {
		ostor_warn(ctx, "no control socket: cannot open %s: %s", s->lock_path, strerror(errno));
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		/* Another process with our pid (another PID namespace sharing
		 * the directory): its socket is live, leave it alone. */
		ostor_warn(ctx, "no control socket: %s is locked by another process, whose socket %s is "
			   "in use; set [control] socket_dir to a directory of this PID namespace",
			   s->lock_path, s->sock_path);
		goto fail;
	}
	/* We hold the lock: a socket by our name is a dead process's. */
	if (unlink(s->sock_path) == 0)
		ostor_info(ctx, "removed the stale control socket %s", s->sock_path);

	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(addr.sun_path, s->sock_path, strlen(s->sock_path) + 1);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(s->sock_path, 0600) < 0 || listen(s->listen_fd, OSTORI_CONTROL_MAX_CLIENTS) < 0) {
		ostor_warn(ctx, "no control socket: cannot listen on %s: %s", s->sock_path, strerror(errno));
		unlink(s->sock_path);
		goto fail_unlink;
	}
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		ostor_warn(ctx, "no control socket: eventfd: %s", strerror(errno));
		unlink(s->sock_path);
		goto fail_unlink;
	}
	/* Signals are for the application's threads, not ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_fetch_add(&live_threads, 1);
	r = pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		pthread_setname_np(s->thread, "ostor-control"); /* for ps -L, gdb and the tests */
	if (r) {
		atomic_fetch_sub(&live_threads, 1);
		ostor_warn(ctx, "no control socket: cannot start its thread: %s", strerror(r));
		unlink(s->sock_path);
		goto fail_unlink;
	}
	ostor_info(ctx, "control socket %s", s->sock_path);
	return s;
fail_unlink:
	unlink(s->lock_path);
fail:
	server_free(s);
	return NULL;
}

static void server_stop(struct server *s)
{
	uint64_t one = 1;

	(void)!write(s->wake_fd, &one, sizeof(one));
	pthread_join(s->thread, NULL);
	/* Socket first: while the lock is held nobody takes it for stale. */
	unlink(s->sock_path);
	unlink(s->lock_path);
	server_free(s);
}

void ostori_control_on_open(ostor_context *ctx)
{
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&server_lock);
	if (!server && !attempted) {
		attempted = true;
		server = server_start(ctx);
	}
	pthread_mutex_unlock(&server_lock);
}

static int any_device(ostor_device *dev, void *arg)
{
	(void)dev;
	(void)arg;
	return 1;
}

void ostori_control_on_close(void)
{
	struct server *s = NULL;

	pthread_mutex_lock(&server_lock);
	/* Under server_lock, after the caller's registry change: an open
	 * racing with this close either is seen here or starts a new server
	 * after we stopped this one. */
	if (!ostori_device_foreach(any_device, NULL)) {
		s = server;
		server = NULL;
		attempted = false;
		if (s)
			server_stop(s);
	}
	pthread_mutex_unlock(&server_lock);
}

/* A process that exits with devices still open (exit() without
 * ostor_exit) takes its socket along: only a killed one leaves a stale
 * one behind.  The thread is left to die with the process. */
__attribute__((destructor)) static void control_at_exit(void)
{
	if (pthread_mutex_trylock(&server_lock))
		return;
	if (server) {
		unlink(server->sock_path);
		unlink(server->lock_path);
	}
	pthread_mutex_unlock(&server_lock);
}

void ostori_control_socket_path(char *buf, size_t len)
{
	pthread_mutex_lock(&server_lock);
	snprintf(buf, len, "%s", server ? server->sock_path : "");
	pthread_mutex_unlock(&server_lock);
}
