/*
 * tools/common/holder.c - one device for a command that must not open it
 * behind the back of a process holding it (orionstor smart, power, and
 * the usb_storage_power_* tools): the holder is asked through its control
 * socket, and a device nobody holds is opened here.
 *
 * A holder whose library has no method for the job is refused, not
 * bypassed: a USB interface or a virtio function has one owner, and a
 * second open would fail anyway (or, for a sim device, show another
 * device).  The message says who holds it and what to do.
 */
#include "control_client.h"

#include <string.h>

int tc_where_locate(const struct tc_common *c, struct tc_where *w)
{
	struct tc_ctl_holder h;
	char dir[512];
	int rc, err;

	memset(w, 0, sizeof(*w));
	if ((rc = tc_open_context(c, &w->ctx)))
		return rc;
	/* No socket directory ([control] socket = false, no XDG_RUNTIME_DIR):
	 * nobody can be asked; the device is opened here. */
	if (ostor_control_socket_dir(w->ctx, dir, sizeof(dir)) == 0 && tc_ctl_find_holder(dir, c->device, &h)) {
		struct json_object *v;

		w->live = true;
		snprintf(w->lv.socket, sizeof(w->lv.socket), "%s", h.socket);
		snprintf(w->lv.program, sizeof(w->lv.program), "%s", h.program);
		snprintf(w->lv.spec, sizeof(w->lv.spec), "%s",
			 json_object_object_get_ex(h.device, "spec", &v) ? json_object_get_string(v) : c->device);
		w->lv.pid = h.pid;
		json_object_put(h.device);
		ostor_exit(w->ctx);
		w->ctx = NULL;
		return 0;
	}
	err = ostor_open(w->ctx, c->device, &w->dev);
	if (err < 0) {
		tc_lib_error(err, "cannot open device '%s' (no process holds it)", c->device);
		ostor_exit(w->ctx);
		w->ctx = NULL;
		return tc_exit_from_open_error(err);
	}
	return 0;
}

int tc_where_call(const struct tc_where *w, const char *method, struct json_object *params, int timeout_ms,
		  const char *what, struct json_object **res)
{
	char why[512];
	int code = 0, r;

	if (!params)
		params = json_object_new_object();
	json_object_object_add(params, "device", json_object_new_string(w->lv.spec));
	r = tc_ctl_call(w->lv.socket, method, params, timeout_ms, res, &code, why, sizeof(why));
	json_object_put(params);
	if (r == TC_CTL_STALE) {
		tc_msg("process %ld is gone (stale socket %s): run the command again", w->lv.pid, w->lv.socket);
		return TC_EXIT_NOT_HELD;
	}
	if (r && code == -32601) {
		tc_msg("%s is held by pid %ld (%s), whose library has no control method '%s': cannot %s while it "
		       "holds the device (and it cannot be opened here meanwhile); run this again once that "
		       "process has closed it", w->lv.spec, w->lv.pid, w->lv.program[0] ? w->lv.program : "?",
		       method, what);
		return TC_EXIT_BUSY;
	}
	if (r) {
		tc_msg("process %ld: %s", w->lv.pid, why);
		return tc_ctl_exit_from_code(code);
	}
	return 0;
}

int tc_where_release(struct tc_where *w, int rc)
{
	int r = 0;

	if (w->dev || w->ctx)
		r = tc_close(w->ctx, w->dev);
	w->dev = NULL;
	w->ctx = NULL;
	return rc ? rc : r;
}

const char *tc_where_spec(const struct tc_common *c, const struct tc_where *w)
{
	return w->live ? w->lv.spec : c->device;
}

void tc_where_add_holder(struct json_object *doc, const struct tc_where *w)
{
	struct json_object *h = NULL;

	if (w->live) {
		h = json_object_new_object();
		json_object_object_add(h, "pid", json_object_new_int64(w->lv.pid));
		json_object_object_add(h, "program", json_object_new_string(w->lv.program));
	}
	json_object_object_add(doc, "held_by", h);
}
