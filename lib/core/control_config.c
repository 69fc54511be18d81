/*
 * lib/core/control_config.c - the [control] table of orionstor.conf(5)
 * and the directory of the control sockets it names.
 */
#include "core/control.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T "control"
#define S struct ostori_control_config

/* Absolute, and short enough for sun_path with "/<pid>.sock" added. */
static int check_socket_dir(const char *v)
{
	if (!*v)
		return 0;
	if (v[0] != '/')
		return ostori_error(OSTOR_ERROR_CONFIG, "expected an absolute path (starting with '/'), "
				    "or \"\" for the automatic one");
	if (strlen(v) > OSTORI_CONTROL_DIR_MAX)
		return ostori_error(OSTOR_ERROR_CONFIG, "longer than %d characters: a Unix socket path "
				    "must fit in 108 bytes; choose a shorter directory",
				    OSTORI_CONTROL_DIR_MAX);
	return 0;
}

static const struct ostori_config_key keys[] = {
	OSTORI_K_BOOL(T, S, socket, true),
	OSTORI_K_TEXT(T, S, socket_dir, check_socket_dir),
};

const struct ostori_config_table ostori_control_config_table = {
	.name = T,
	.size = sizeof(S),
	.keys = keys,
	.nkeys = sizeof(keys) / sizeof(keys[0]),
};

int ostori_control_dir(const struct ostor_config *cfg, char *buf, size_t len)
{
	const struct ostori_control_config *cc = ostori_control_config(cfg);
	const char *xdg;
	int n;

	if (!cc->socket)
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED,
				    "the control socket is off ([control] socket = false in %s)",
				    *cfg->path ? cfg->path : "the configuration");
	if (*cc->socket_dir)
		n = snprintf(buf, len, "%s", cc->socket_dir);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/orionstor");
	else if ((xdg = getenv("XDG_RUNTIME_DIR")) && xdg[0] == '/')
		n = snprintf(buf, len, "%s/orionstor", xdg);
	else
		/* Never a shared directory such as /tmp: anyone could plant
		 * sockets there for our tools to trust. */
		return ostori_error(OSTOR_ERROR_NOT_FOUND,
				    "no control socket directory: $XDG_RUNTIME_DIR is not set; set it, or "
				    "set [control] socket_dir in orionstor.conf to a directory only you "
				    "can write to");
	if (n < 0 || (size_t)n >= len || (size_t)n > OSTORI_CONTROL_DIR_MAX)
		return ostori_error(OSTOR_ERROR_OVERFLOW, "control socket directory '%.60s...' is too long "
				    "for a Unix socket path; set [control] socket_dir to a shorter one",
				    buf);
	return 0;
}

OSTOR_API int ostor_control_socket_dir(const ostor_context *ctx, char *buf, size_t len)
{
	char dir[OSTORI_CONTROL_DIR_MAX + 1];
	int r;

	if (!ctx || !buf || !len)
		return ostori_error(OSTOR_ERROR_INVALID_PARAM, "ostor_control_socket_dir: NULL argument");
	buf[0] = '\0';
	if ((r = ostori_control_dir(&ctx->config, dir, sizeof(dir))) < 0)
		return r;
	if (strlen(dir) >= len)
		return ostori_error(OSTOR_ERROR_OVERFLOW, "ostor_control_socket_dir needs %zu bytes, got %zu",
				    strlen(dir) + 1, len);
	memcpy(buf, dir, strlen(dir) + 1);
	return 0;
}
