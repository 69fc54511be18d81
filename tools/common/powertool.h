/*
 * tools/common/powertool.h - the SCSI power part shared by orionstor
 * power (power.c) and the usb_storage_power_* tools (usbpower.c): the
 * options that change it, reading it as JSON, printing that.
 */
#ifndef ORIONSTOR_TOOL_POWERTOOL_H
#define ORIONSTOR_TOOL_POWERTOOL_H

#include "control_client.h"

/* What to change (--state, --immed, --idle-timer, --standby-timer, --save). */
struct pw_args {
	int action;                   /* enum ostor_power_action, 0: none */
	bool immed, save;
	int idle, standby;            /* -1 unchanged, 0 disable, 1 enable with the timer below */
	uint32_t idle_100ms, standby_100ms;
};
#define PW_ARGS_INIT { .idle = -1, .standby = -1 }

/* The options above; its input is a struct pw_args (an argp child). */
extern const struct argp pw_set_argp;

/* Something to change. */
bool pw_changes(const struct pw_args *a);
/* The timers, then the state, on -d's LUN (or through the holder); what
 * was done is appended to changed (an array).  0 or an exit code (message
 * printed). */
int pw_apply(const struct tc_common *c, const struct tc_where *w, const struct pw_args *a,
	     struct json_object *changed);
/* The power condition and page 1Ah as a new JSON object.  0 or an exit
 * code (message printed). */
int pw_read(const struct tc_common *c, const struct tc_where *w, struct json_object **doc);
/* The text of pw_read's object (and of its "changed": the entries
 * pw_apply adds, and usbpower.c's autosuspend). */
void pw_print(const struct tc_common *c, const struct tc_where *w, struct json_object *doc);

#endif
