/*
 * tests/unit/test_control.c - the control socket (lib/core/control.c):
 * its life with the devices of the process, the lock file, the protocol,
 * its bounds and who may talk to it.  Each test has its own socket
 * directory under a mkdtemp() one, named by its own configuration file.
 */
#include "core/control.h"
#include "scsi/scsi.h"
#include "sim/backend.h"
#include "sim/target.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];
static char sockdir[128];
static char cfgpath[160];
static char warnings[4096];
static ostor_context *ctx;

static void capture_log(ostor_context *c, enum ostor_log_level level, const char *fn,
			const char *msg, void *user)
{
	(void)c;
	(void)fn;
	(void)user;
	if (level <= OSTOR_LOG_WARNING && strlen(warnings) + strlen(msg) + 2 < sizeof(warnings)) {
		strcat(warnings, msg);
		strcat(warnings, "\n");
	}
}

static void write_config(const char *extra)
{
	FILE *fp = fopen(cfgpath, "w");

	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "[control]\nsocket_dir = \"%s\"\n%s", sockdir, extra);
	fclose(fp);
}

static void new_context(void)
{
	ck_assert_int_eq(ostor_init(&ctx, cfgpath), 0);
	ostor_set_log_level(ctx, OSTOR_LOG_WARNING);
	ostor_set_log_callback(ctx, capture_log, NULL, NULL);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ostor-ctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sockdir, sizeof(sockdir), "%s/s", tmpdir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/orionstor.conf", tmpdir);
	warnings[0] = '\0';
	write_config("");
	new_context();
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];

	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void teardown(void)
{
	if (ctx)
		ostor_exit(ctx);
	ctx = NULL;
	ostori_control_set_timeout_ms(0);
	rm_rf(tmpdir);
}

/* ---- helpers ----------------------------------------------------------------- */

static void path_of(char *buf, size_t len, const char *ext)
{
	snprintf(buf, len, "%s/%ld.%s", sockdir, (long)getpid(), ext);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static ostor_device *open_dev(const char *spec)
{
	ostor_device *dev = NULL;

	ck_assert_msg(ostor_open(ctx, spec, &dev) == 0, "open %s: %s", spec, ostor_last_error());
	return dev;
}

static int try_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int ctl_connect(void)
{
	char path[256];
	int fd;

	ostori_control_socket_path(path, sizeof(path));
	ck_assert_str_ne(path, "");
	fd = try_connect(path);
	ck_assert_msg(fd >= 0, "connect %s: %s", path, strerror(errno));
	return fd;
}

static void send_text(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		text += n;
		len -= (size_t)n;
	}
}

static void send_str(int fd, const char *text)
{
	send_text(fd, text, strlen(text));
}

/* The next line from fd within timeout_ms (NULL on EOF or timeout).
 * One byte at a time: the tests read a few short lines. */
static char *read_line(int fd, int timeout_ms)
{
	static char line[256 * 1024];
	size_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return NULL;
		r = recv(fd, line + n, 1, 0);
		if (r <= 0)
			return NULL;
		if (line[n] == '\n') {
			line[n] = '\0';
			return line;
		}
		ck_assert_uint_lt(++n, sizeof(line));
	}
}

static struct json_object *read_reply(int fd)
{
	char *line = read_line(fd, 5000);
	struct json_object *o;

	ck_assert_msg(line != NULL, "no reply");
	o = json_tokener_parse(line);
	ck_assert_msg(o != NULL, "reply is not JSON: %s", line);
	return o;
}

/* The peer hung up within timeout_ms (whatever it sent before). */
static bool wait_eof(int fd, int timeout_ms)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			return true;
	}
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\" in %s", key,
		      json_object_to_json_string(o));
	return v;
}

static int error_code(struct json_object *reply)
{
	return json_object_get_int(member(member(reply, "error"), "code"));
}

static const char *error_message(struct json_object *reply)
{
	return json_object_get_string(member(member(reply, "error"), "message"));
}

static struct json_object *call(int fd, const char *method, int id)
{
	char req[256];

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}\n", id, method);
	send_str(fd, req);
	return read_reply(fd);
}

/* A method with params (a JSON object's text). */
static struct json_object *call_params(int fd, const char *method, const char *params, int id)
{
	char req[1024];

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}\n", id,
		 method, params);
	send_str(fd, req);
	return read_reply(fd);
}

static int64_t int_of(struct json_object *o, const char *key)
{
	return json_object_get_int64(member(o, key));
}

/* Threads of this process named as the server's. */
static unsigned int named_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned int n = 0;
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[300], name[32] = "";
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!(fp = fopen(path, "r")))
			continue; /* gone meanwhile */
		if (fgets(name, sizeof(name), fp) && !strcmp(name, "ostor-control\n"))
			n++;
		fclose(fp);
	}
	closedir(d);
	return n;
}

/* Server threads: the one the process shows, and the library's count
 * (which a joined thread has left for sure). */
static unsigned int thread_count(void)
{
	unsigned int n = ostori_control_threads();

	if (n)
		ck_assert_uint_eq(named_threads(), n);
	return n;
}

/* ---- life cycle ------------------------------------------------------------------ */

START_TEST(starts_with_first_device_stops_with_last)
{
	char sock[256], lock[256];
	const unsigned int threads = 0;
	ostor_device *a, *b;
	struct stat st;
	int fd, lfd;

	ck_assert_uint_eq(thread_count(), threads);
	path_of(sock, sizeof(sock), "sock");
	path_of(lock, sizeof(lock), "lock");
	ck_assert(!exists(sockdir));
	a = open_dev("sim:null");
	ck_assert_uint_eq(thread_count(), threads + 1);
	/* The directory is made private, the socket too. */
	ck_assert_int_eq(stat(sockdir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* The lock is held: another open file description cannot take it. */
	lfd = open(lock, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(lfd);

	b = open_dev("sim:size=1M");
	ck_assert_uint_eq(thread_count(), threads + 1);   /* one server per process */
	ck_assert_int_eq(ostor_close(a), 0);
	fd = ctl_connect();                                /* b still open: still served */
	json_object_put(call(fd, "ping", 1));
	ck_assert_int_eq(ostor_close(b), 0);
	/* The last close joined the thread and removed both files; the
	 * connected client was hung up on. */
	ck_assert_uint_eq(thread_count(), threads);
	ck_assert(!exists(sock));
	ck_assert(!exists(lock));
	ck_assert(wait_eof(fd, 5000));
	close(fd);
	ck_assert_int_lt(try_connect(sock), 0);
	ck_assert_str_eq(warnings, "");

	/* The next first device starts it again. */
	a = open_dev("sim:");
	ck_assert(exists(sock));
	ck_assert_int_eq(ostor_close(a), 0);
	ck_assert(!exists(sock));
}
END_TEST

START_TEST(exit_stops_the_thread)
{
	char sock[256], lock[256];
	const unsigned int threads = 0;

	ck_assert_uint_eq(thread_count(), threads);
	path_of(sock, sizeof(sock), "sock");
	path_of(lock, sizeof(lock), "lock");
	(void)open_dev("sim:null");
	(void)open_dev("sim:size=2M");
	ck_assert(exists(sock));
	ck_assert_uint_eq(thread_count(), threads + 1);
	ostor_exit(ctx);
	ctx = NULL;
	ck_assert_uint_eq(thread_count(), threads);
	ck_assert(!exists(sock));
	ck_assert(!exists(lock));
}
END_TEST

START_TEST(socket_off)
{
	ostor_exit(ctx);
	write_config("socket = false\n");
	new_context();
	(void)open_dev("sim:null");
	ck_assert(!exists(sockdir));
	{
		char path[256];

		ostori_control_socket_path(path, sizeof(path));
		ck_assert_str_eq(path, "");
	}
	ck_assert_str_eq(warnings, "");
}
END_TEST

START_TEST(unsafe_dir_refused)
{
	char sock[256];

	path_of(sock, sizeof(sock), "sock");
	ck_assert_int_eq(mkdir(sockdir, 0700), 0);
	ck_assert_int_eq(chmod(sockdir, 0777), 0);
	(void)open_dev("sim:null");          /* the open itself succeeds */
	ck_assert(!exists(sock));
	ck_assert_msg(strstr(warnings, "others can write to") && strstr(warnings, "chmod 700"),
		      "warnings: %s", warnings);
}
END_TEST

START_TEST(foreign_dir_refused)
{
	char sock[256];

	if (geteuid() != 0)
		return; /* only root can give a directory away */
	path_of(sock, sizeof(sock), "sock");
	ck_assert_int_eq(mkdir(sockdir, 0700), 0);
	ck_assert_int_eq(chown(sockdir, 65534, 65534), 0);
	(void)open_dev("sim:null");
	ck_assert(!exists(sock));
	ck_assert_msg(strstr(warnings, "belongs to uid 65534"), "warnings: %s", warnings);
}
END_TEST

/* A socket by our name whose lock nobody holds is a dead process's. */
START_TEST(stale_socket_replaced)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char sock[256], lock[256];
	struct json_object *r;
	int fd;

	path_of(sock, sizeof(sock), "sock");
	path_of(lock, sizeof(lock), "lock");
	ck_assert_int_eq(mkdir(sockdir, 0700), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_uint_lt(strlen(sock), sizeof(a.sun_path));
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);                            /* bound, nobody listens: dead */
	ck_assert_int_lt(try_connect(sock), 0);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);

	(void)open_dev("sim:null");
	fd = ctl_connect();
	r = call(fd, "ping", 1);
	ck_assert_int_eq(json_object_get_int(member(member(r, "result"), "pid")), getpid());
	json_object_put(r);
	close(fd);
}
END_TEST

/* A socket whose lock is held by someone else is never touched. */
START_TEST(live_socket_kept)
{
	char sock[256], lock[256], path[256];
	struct stat before, after;
	ostor_device *dev;
	int fd, lfd;

	path_of(sock, sizeof(sock), "sock");
	path_of(lock, sizeof(lock), "lock");
	ck_assert_int_eq(mkdir(sockdir, 0700), 0);
	fd = open(sock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "live", 4), 4);
	close(fd);
	ck_assert_int_eq(stat(sock, &before), 0);
	/* flock is per open file description: this one is "another
	 * process" to the server's own open of the file. */
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(flock(lfd, LOCK_EX | LOCK_NB), 0);

	dev = open_dev("sim:null");
	ostori_control_socket_path(path, sizeof(path));
	ck_assert_str_eq(path, "");
	ck_assert_int_eq(stat(sock, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert(S_ISREG(after.st_mode));
	ck_assert_uint_eq(after.st_size, 4);
	ck_assert(exists(lock));
	ck_assert_msg(strstr(warnings, "is locked by another process"), "warnings: %s", warnings);
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert(exists(sock));              /* not ours: not removed either */
	ck_assert(exists(lock));

	/* Once that process is gone, the next first device takes over. */
	close(lfd);
	dev = open_dev("sim:null");
	fd = ctl_connect();
	json_object_put(call(fd, "ping", 1));
	close(fd);
	ck_assert_int_eq(ostor_close(dev), 0);
	ck_assert(!exists(sock));
}
END_TEST

/* ---- methods ------------------------------------------------------------------- */

START_TEST(ping_and_devices)
{
	struct json_object *r, *res, *arr;
	char image[128], want[PATH_MAX + 8], real[PATH_MAX];
	bool seen_null = false, seen_image = false;
	int fd;

	snprintf(image, sizeof(image), "%s/disk.img", tmpdir);
	(void)open_dev("sim:null");
	(void)open_dev("sim:transport=usb-bot");
	{
		char spec[200];

		snprintf(spec, sizeof(spec), "sim:image=%s,size=1M", image);
		(void)open_dev(spec);
	}
	fd = ctl_connect();
	r = call(fd, "ping", 1);
	ck_assert_str_eq(json_object_get_string(member(r, "jsonrpc")), "2.0");
	ck_assert_int_eq(json_object_get_int(member(r, "id")), 1);
	res = member(r, "result");
	ck_assert_int_eq(json_object_get_int(member(res, "pid")), getpid());
	ck_assert_str_eq(json_object_get_string(member(res, "version")), ostor_version());
	ck_assert_str_eq(json_object_get_string(member(res, "program")), "test_control");
	json_object_put(r);

	/* Two requests in one write, answered in order on the connection. */
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"devices\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"ping\"}\n");
	r = read_reply(fd);
	ck_assert_str_eq(json_object_get_string(member(r, "id")), "a");
	arr = member(r, "result");
	ck_assert_uint_eq(json_object_array_length(arr), 3);
	ck_assert_ptr_nonnull(realpath(image, real));
	snprintf(want, sizeof(want), "file:%s", real);
	for (size_t i = 0; i < 3; i++) {
		struct json_object *d = json_object_array_get_idx(arr, i);
		const char *spec = json_object_get_string(member(d, "spec"));

		ck_assert_str_eq(json_object_get_string(member(d, "backend")), "sim");
		ck_assert_str_ne(json_object_get_string(member(d, "description")), "");
		if (!strcmp(spec, "sim:null")) {
			seen_null = true;
			ck_assert(json_object_is_type(member(d, "identity"), json_type_null));
		} else if (!strncmp(spec, "sim:image=", 10)) {
			seen_image = true;
			ck_assert_str_eq(json_object_get_string(member(d, "identity")), want);
		} else {
			/* The simulated USB device shows its USB details. */
			ck_assert_str_eq(spec, "sim:transport=usb-bot");
			ck_assert_str_eq(json_object_get_string(
				member(member(member(d, "details"), "usb"), "transport")), "bot");
		}
	}
	ck_assert(seen_null && seen_image);
	json_object_put(r);
	r = read_reply(fd);
	ck_assert_str_eq(json_object_get_string(member(r, "id")), "b");
	json_object_put(r);
	close(fd);
}
END_TEST

START_TEST(protocol_errors)
{
	struct json_object *r;
	int fd;

	(void)open_dev("sim:null");
	fd = ctl_connect();

	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"\n");  /* no '}' */
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32700);
	ck_assert(json_object_is_type(member(r, "id"), json_type_null));
	json_object_put(r);

	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing\n");
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32700);
	json_object_put(r);

	r = call(fd, "no_such_method", 7);
	ck_assert_int_eq(error_code(r), -32601);
	ck_assert_int_eq(json_object_get_int(member(r, "id")), 7);
	ck_assert_ptr_nonnull(strstr(error_message(r), "ping"));   /* it lists the methods */
	json_object_put(r);

	send_str(fd, "{\"id\":2,\"method\":\"ping\"}\n");
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32600);
	ck_assert_int_eq(json_object_get_int(member(r, "id")), 2);
	json_object_put(r);

	send_str(fd, "[{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}]\n");
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32600);
	json_object_put(r);

	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":5}\n");
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32600);
	json_object_put(r);

	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\",\"params\":3}\n");
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32602);
	json_object_put(r);

	/* A notification gets no reply; blank lines none either: the next
	 * reply is the ping's. */
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n\r\n\n");
	r = call(fd, "ping", 6);
	ck_assert_int_eq(json_object_get_int(member(r, "id")), 6);
	json_object_put(r);
	close(fd);
}
END_TEST

/* The largest request is served; one byte more is refused and the
 * connection closed. */
START_TEST(request_size_limit)
{
	const char *head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"";
	const char *tail = "\"}}";
	size_t pad = OSTORI_CONTROL_REQUEST_MAX - strlen(head) - strlen(tail);
	char *req = malloc(OSTORI_CONTROL_REQUEST_MAX + 3); /* one byte over, and "\n" */
	struct json_object *r;
	int fd;

	ck_assert_ptr_nonnull(req);
	(void)open_dev("sim:null");
	fd = ctl_connect();
	strcpy(req, head);
	memset(req + strlen(head), 'x', pad);
	strcpy(req + strlen(head) + pad, tail);
	ck_assert_uint_eq(strlen(req), OSTORI_CONTROL_REQUEST_MAX);
	strcat(req, "\n");
	send_text(fd, req, strlen(req));
	r = read_reply(fd);
	ck_assert_int_eq(json_object_get_int(member(member(r, "result"), "pid")), getpid());
	json_object_put(r);

	/* One more byte of padding: too large. */
	memset(req + strlen(head), 'x', pad + 1);
	strcpy(req + strlen(head) + pad + 1, tail);
	strcat(req, "\n");
	send_text(fd, req, strlen(req));
	r = read_reply(fd);
	ck_assert_int_eq(error_code(r), -32600);
	ck_assert_ptr_nonnull(strstr(error_message(r), "larger than 65536 bytes"));
	json_object_put(r);
	ck_assert(wait_eof(fd, 5000));
	close(fd);
	free(req);

	/* The server is fine afterwards. */
	fd = ctl_connect();
	json_object_put(call(fd, "ping", 2));
	close(fd);
}
END_TEST

START_TEST(client_limit)
{
	int fds[OSTORI_CONTROL_MAX_CLIENTS], extra;
	struct json_object *r;

	(void)open_dev("sim:null");
	/* A reply to each proves the server took it. */
	for (int i = 0; i < OSTORI_CONTROL_MAX_CLIENTS; i++) {
		fds[i] = ctl_connect();
		json_object_put(call(fds[i], "ping", i));
	}
	extra = ctl_connect();
	r = read_reply(extra);
	ck_assert_int_eq(error_code(r), OSTORI_RPC_LIBRARY_BASE + OSTOR_ERROR_BUSY);
	ck_assert_ptr_nonnull(strstr(error_message(r), "too many clients"));
	json_object_put(r);
	ck_assert(wait_eof(extra, 5000));
	close(extra);
	/* The others are still served. */
	for (int i = 0; i < OSTORI_CONTROL_MAX_CLIENTS; i++) {
		r = call(fds[i], "ping", 100 + i);
		ck_assert_int_eq(json_object_get_int(member(r, "id")), 100 + i);
		json_object_put(r);
		close(fds[i]);
	}
}
END_TEST

START_TEST(idle_and_slow_clients_closed)
{
	uint64_t t0;
	int idle, slow, busy;

	ostor_device *dev;
	uint8_t buf[512];

	ostori_control_set_timeout_ms(200);
	dev = open_dev("sim:null");
	t0 = ostori_now_ms();
	idle = ctl_connect();
	slow = ctl_connect();
	busy = ctl_connect();
	send_str(slow, "{\"jsonrpc\":\"2.0\",");       /* and never the rest */
	/* I/O goes on meanwhile: it never waits for the server.  (The busy
	 * client asks now and then: the reads may take longer than the
	 * timeout, under ThreadSanitizer for one.) */
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, (uint64_t)i % 64, 1, buf), 0);
		if (i % 256 == 0)
			json_object_put(call(busy, "ping", i));
	}
	/* A client that keeps asking stays: it asks at least every 50 ms
	 * until the idle one is hung up on. */
	for (int n = 0;; n++) {
		struct pollfd p = { .fd = idle, .events = POLLIN };

		json_object_put(call(busy, "ping", n));
		if (poll(&p, 1, 50) > 0)
			break;
		ck_assert_int_lt(n, 1000);
	}
	ck_assert(wait_eof(idle, 5000));
	ck_assert(wait_eof(slow, 5000));
	ck_assert_uint_ge(ostori_now_ms() - t0, 190);
	json_object_put(call(busy, "ping", -1));  /* still served */
	close(idle);
	close(slow);
	close(busy);
}
END_TEST

/* Only the same euid and root get answers: as root, a child turned
 * nobody is told why it is refused. */
START_TEST(other_uid_refused)
{
	char sock[256];
	pid_t pid;
	int status;

	if (geteuid() != 0)
		return;
	path_of(sock, sizeof(sock), "sock");
	(void)open_dev("sim:null");
	/* Let nobody reach the socket at all: the check under test is the
	 * server's own, not the file modes. */
	ck_assert_int_eq(chmod(tmpdir, 0711), 0);
	ck_assert_int_eq(chmod(sockdir, 0711), 0);
	ck_assert_int_eq(chmod(sock, 0666), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *line;
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = try_connect(sock);
		if (fd < 0)
			_exit(3);
		line = read_line(fd, 5000);
		if (!line)
			_exit(4);
		if (!strstr(line, "\"code\":-32003") ||
		    !strstr(line, "permission denied: this process belongs to uid 0"))
			_exit(5);
		_exit(wait_eof(fd, 5000) ? 0 : 6);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* Methods walk the devices while other threads open and close them. */
struct hammer {
	atomic_bool stop;
	atomic_uint calls;
	int fd;
};

static void *hammer_devices(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(&h->stop)) {
		struct json_object *r;
		char *line;

		send_str(h->fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"devices\"}\n");
		line = read_line(h->fd, 5000);
		if (!line)
			break;
		r = json_tokener_parse(line);
		if (!r || !json_object_object_get_ex(r, "result", NULL)) {
			json_object_put(r);
			break;
		}
		json_object_put(r);
		atomic_fetch_add(&h->calls, 1);
	}
	return NULL;
}

START_TEST(methods_race_close)
{
	struct hammer h = { .fd = -1 };
	pthread_t t;

	(void)open_dev("sim:null");   /* keeps the server up */
	h.fd = ctl_connect();
	ck_assert_int_eq(pthread_create(&t, NULL, hammer_devices, &h), 0);
	for (int i = 0; i < 200 || atomic_load(&h.calls) < 20; i++) {
		ostor_device *dev = open_dev("sim:size=1M,luns=2");

		ck_assert_int_eq(ostor_close(dev), 0);
		ck_assert_int_lt(i, 100000);
	}
	atomic_store(&h.stop, true);
	pthread_join(t, NULL);
	ck_assert_uint_ge(atomic_load(&h.calls), 20);
	close(h.fd);
}
END_TEST

/* The block cache's methods against a write-back sim device: what it
 * holds, a refused reset, a confirmed flush, a failed one (an injected
 * medium error on the write-out) with its sticky error, a discard and
 * what it lost; the "cache" object of stats; a device without a cache. */
START_TEST(cache_methods)
{
	static const char spec[] = "sim:size=4M,cache=wb";
	struct json_object *r, *res, *lun, *o;
	ostor_device *dev = open_dev(spec), *plain = open_dev("sim:size=1M");
	static uint8_t buf[8 * 512];
	char p[256];
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 16, 8, buf), 0);
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 16, 8, buf), 0);     /* a hit */
	ck_assert_int_eq(ostor_read_blocks(dev, 0, 0, 1000, 1, buf), 0);   /* a miss */
	fd = ctl_connect();
	snprintf(p, sizeof(p), "{\"device\":\"%s\"}", spec);

	r = call_params(fd, "cache", p, 1);
	res = member(r, "result");
	ck_assert_str_eq(json_object_get_string(member(res, "device")), spec);
	o = member(res, "total");
	ck_assert_str_eq(json_object_get_string(member(o, "mode")), "write-back");
	ck_assert_str_eq(json_object_get_string(member(o, "policy")), "lru");
	ck_assert_int_eq(int_of(o, "dirty_bytes"), 8 * 512);
	ck_assert_int_eq(int_of(o, "read_hits"), 1);
	ck_assert_int_eq(int_of(o, "read_misses"), 1);
	ck_assert(json_object_get_double(member(o, "hit_rate")) == 0.5);
	ck_assert(json_object_is_type(member(o, "read_ahead_efficiency"), json_type_null) ||
		  int_of(o, "read_ahead_bytes") > 0);
	ck_assert(json_object_is_type(member(o, "sticky_error"), json_type_null));
	ck_assert_uint_eq(json_object_array_length(member(res, "luns")), 1);
	lun = json_object_array_get_idx(member(res, "luns"), 0);
	ck_assert_int_eq(int_of(lun, "target"), 0);
	ck_assert_int_eq(int_of(lun, "lun"), 0);
	ck_assert_int_eq(int_of(lun, "dirty_bytes"), 8 * 512);
	json_object_put(r);

	/* Dirty: a reset without flush or discard is refused; both at once
	 * are bad params. */
	r = call_params(fd, "cache_reset", p, 2);
	ck_assert_int_eq(error_code(r), OSTORI_RPC_LIBRARY_BASE + OSTOR_ERROR_BUSY);
	ck_assert_ptr_nonnull(strstr(error_message(r), "--flush"));
	ck_assert_ptr_nonnull(strstr(error_message(r), "--discard"));
	json_object_put(r);
	snprintf(p, sizeof(p), "{\"device\":\"%s\",\"flush\":true,\"discard\":true}", spec);
	r = call_params(fd, "cache_reset", p, 3);
	ck_assert_int_eq(error_code(r), OSTORI_RPC_INVALID_PARAMS);
	json_object_put(r);
	snprintf(p, sizeof(p), "{\"device\":\"%s\",\"lun\":\"x\"}", spec);
	r = call_params(fd, "cache", p, 4);
	ck_assert_int_eq(error_code(r), OSTORI_RPC_INVALID_PARAMS);
	json_object_put(r);
	r = call_params(fd, "cache", "{\"device\":\"sim:nothing\"}", 5);
	ck_assert_int_eq(error_code(r), OSTORI_RPC_LIBRARY_BASE + OSTOR_ERROR_NOT_FOUND);
	json_object_put(r);

	/* A flush the device confirms. */
	snprintf(p, sizeof(p), "{\"device\":\"%s\"}", spec);
	r = call_params(fd, "cache_flush", p, 6);
	res = member(r, "result");
	ck_assert(json_object_get_boolean(member(res, "confirmed")));
	ck_assert_uint_eq(json_object_array_length(member(res, "luns")), 1);
	lun = json_object_array_get_idx(member(res, "luns"), 0);
	ck_assert(json_object_get_boolean(member(lun, "confirmed")));
	ck_assert_int_eq(int_of(lun, "unwritten_bytes_before"), 8 * 512);
	ck_assert_int_eq(int_of(lun, "unwritten_bytes_after"), 0);
	ck_assert(!json_object_object_get_ex(lun, "error", NULL));
	json_object_put(r);
	{
		struct ostor_cache_info ci = OSTOR_CACHE_INFO_INIT;

		ck_assert_int_eq(ostor_cache_info(dev, 0, 0, &ci), 0);
		ck_assert_uint_eq(ci.dirty_bytes, 0);
		ck_assert_uint_eq(ci.writeouts, 1);
	}

	/* A write-out the device fails: not confirmed, the error and the
	 * sticky error said; a second flush writes the data but still fails. */
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 800, 8, buf), 0);
	ck_assert_int_eq(sim_target_inject_check(ostori_sim_device_target(dev), 0, OSTOR_SCSI_OP_WRITE10, 1,
						 OSTOR_SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0x00), 0);
	snprintf(p, sizeof(p), "{\"device\":\"%s\",\"target\":0,\"lun\":0}", spec);
	r = call_params(fd, "cache_flush", p, 7);
	res = member(r, "result");
	ck_assert(!json_object_get_boolean(member(res, "confirmed")));
	lun = json_object_array_get_idx(member(res, "luns"), 0);
	ck_assert(!json_object_get_boolean(member(lun, "confirmed")));
	ck_assert_str_eq(json_object_get_string(member(lun, "error")), "OSTOR_ERROR_IO");
	ck_assert_int_eq(int_of(lun, "error_code"), OSTOR_ERROR_IO);
	ck_assert_ptr_nonnull(strstr(json_object_get_string(member(lun, "message")), "800..807"));
	ck_assert_str_eq(json_object_get_string(member(lun, "sticky_error")), "OSTOR_ERROR_IO");
	ck_assert_ptr_nonnull(strstr(json_object_get_string(member(lun, "sticky_message")), "800..807"));
	ck_assert_int_eq(int_of(lun, "unwritten_bytes_after"), 8 * 512);   /* kept */
	json_object_put(r);

	/* Discarded: the loss is counted and the stats say so. */
	snprintf(p, sizeof(p), "{\"device\":\"%s\",\"discard\":true}", spec);
	r = call_params(fd, "cache_reset", p, 8);
	res = member(r, "result");
	ck_assert_int_eq(int_of(res, "discarded_bytes"), 8 * 512);
	ck_assert_int_gt(int_of(res, "dropped_bytes"), 0);
	ck_assert_int_eq(int_of(res, "used_bytes_after"), 0);
	ck_assert(!json_object_get_boolean(member(res, "flushed")));
	ck_assert_str_eq(json_object_get_string(member(res, "sticky_error")), "OSTOR_ERROR_IO");
	json_object_put(r);
	r = call_params(fd, "stats", p, 9);
	o = member(member(r, "result"), "cache");
	ck_assert_str_eq(json_object_get_string(member(o, "mode")), "write-back");
	ck_assert_int_eq(int_of(o, "lost_bytes"), 8 * 512);
	ck_assert_int_eq(int_of(o, "lost_ranges"), 1);
	ck_assert_int_eq(int_of(o, "writeout_errors"), 1);
	ck_assert_int_eq(int_of(o, "dirty_bytes"), 0);
	ck_assert_str_eq(json_object_get_string(member(o, "sticky_error")), "OSTOR_ERROR_IO");
	json_object_put(r);

	/* Flush then drop: clean afterwards, nothing discarded (the sticky
	 * error acknowledged first, as the holder would). */
	ck_assert_int_eq(ostor_flush_acknowledge(dev, OSTOR_EVENT_ALL, OSTOR_EVENT_ALL), OSTOR_ERROR_IO);
	ck_assert_int_eq(ostor_write_blocks(dev, 0, 0, 64, 8, buf), 0);
	snprintf(p, sizeof(p), "{\"device\":\"%s\",\"flush\":true}", spec);
	r = call_params(fd, "cache_reset", p, 10);
	res = member(r, "result");
	ck_assert(json_object_get_boolean(member(res, "flushed")));
	ck_assert_int_eq(int_of(res, "discarded_bytes"), 0);
	ck_assert_int_eq(int_of(res, "used_bytes_after"), 0);
	ck_assert(json_object_is_type(member(res, "sticky_error"), json_type_null));
	json_object_put(r);

	/* Without a cache: mode off and no LUNs; stats without "cache"; a
	 * flush is SYNCHRONIZE CACHE of the LUN the block helpers used. */
	ck_assert_int_eq(ostor_write_blocks(plain, 0, 0, 0, 1, buf), 0);
	r = call_params(fd, "cache", "{\"device\":\"sim:size=1M\"}", 11);
	res = member(r, "result");
	ck_assert_str_eq(json_object_get_string(member(member(res, "total"), "mode")), "off");
	ck_assert_uint_eq(json_object_array_length(member(res, "luns")), 0);
	json_object_put(r);
	r = call_params(fd, "stats", "{\"device\":\"sim:size=1M\"}", 12);
	ck_assert(!json_object_object_get_ex(member(r, "result"), "cache", NULL));
	json_object_put(r);
	r = call_params(fd, "cache_flush", "{\"device\":\"sim:size=1M\"}", 13);
	res = member(r, "result");
	ck_assert(json_object_get_boolean(member(res, "confirmed")));
	ck_assert_uint_eq(json_object_array_length(member(res, "luns")), 1);
	json_object_put(r);
	r = call_params(fd, "cache_reset", "{\"device\":\"sim:size=1M\"}", 14);
	ck_assert_int_eq(int_of(member(r, "result"), "dropped_bytes"), 0);
	json_object_put(r);
	close(fd);
	ck_assert_int_eq(ostor_close(plain), 0);
	ck_assert_int_eq(ostor_close(dev), 0);
}
END_TEST

/* ---- configuration ------------------------------------------------------------- */

START_TEST(config_keys)
{
	char buf[256];

	ck_assert_int_eq(ostor_control_socket_dir(ctx, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, sockdir);
	ck_assert_int_eq(ostor_control_socket_dir(ctx, buf, 4), OSTOR_ERROR_OVERFLOW);
	ck_assert(ostori_control_config(&ctx->config)->socket);
	ostor_exit(ctx);

	write_config("socket = false\n");
	new_context();
	ck_assert_int_eq(ostor_control_socket_dir(ctx, buf, sizeof(buf)), OSTOR_ERROR_NOT_SUPPORTED);
	ostor_exit(ctx);
	ctx = NULL;

	/* Only absolute paths short enough for a socket name. */
	snprintf(sockdir, sizeof(sockdir), "relative/dir");
	write_config("");
	ck_assert_int_eq(ostor_init(&ctx, cfgpath), OSTOR_ERROR_CONFIG);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "absolute path"));
	snprintf(sockdir, sizeof(sockdir), "/%090d", 0);
	write_config("");
	ck_assert_int_eq(ostor_init(&ctx, cfgpath), OSTOR_ERROR_CONFIG);
	ck_assert_ptr_nonnull(strstr(ostor_last_error(), "108 bytes"));
	ctx = NULL;
}
END_TEST

/* The automatic directory: root's, else $XDG_RUNTIME_DIR's, else none. */
START_TEST(automatic_dir)
{
	struct ostor_config cfg;
	char buf[256];

	ostori_config_defaults(&cfg);
	setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
	ck_assert_int_eq(ostori_control_dir(&cfg, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, geteuid() == 0 ? "/run/orionstor" : "/run/user/4242/orionstor");
	unsetenv("XDG_RUNTIME_DIR");
	if (geteuid() != 0) {
		ck_assert_int_eq(ostori_control_dir(&cfg, buf, sizeof(buf)), OSTOR_ERROR_NOT_FOUND);
		ck_assert_ptr_nonnull(strstr(ostor_last_error(), "XDG_RUNTIME_DIR"));
	}
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, starts_with_first_device_stops_with_last);
	tcase_add_test(tc, exit_stops_the_thread);
	tcase_add_test(tc, socket_off);
	tcase_add_test(tc, unsafe_dir_refused);
	tcase_add_test(tc, foreign_dir_refused);
	tcase_add_test(tc, stale_socket_replaced);
	tcase_add_test(tc, live_socket_kept);
	tcase_add_test(tc, ping_and_devices);
	tcase_add_test(tc, protocol_errors);
	tcase_add_test(tc, request_size_limit);
	tcase_add_test(tc, client_limit);
	tcase_add_test(tc, idle_and_slow_clients_closed);
	tcase_add_test(tc, other_uid_refused);
	tcase_add_test(tc, methods_race_close);
	tcase_add_test(tc, cache_methods);
	tcase_add_test(tc, config_keys);
	tcase_add_test(tc, automatic_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
