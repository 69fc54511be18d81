/*
 * lib/usb/suspend.c - USB selective suspend while the device is held
 * idle.
 *
 * Holding a usbfs descriptor keeps a device awake: the kernel counts the
 * open file as a user.  USBDEVFS_ALLOW_SUSPEND drops that count, so the
 * kernel may runtime-suspend the device once power/control is "auto" and
 * power/autosuspend_delay_ms passed; USBDEVFS_FORBID_SUSPEND takes it
 * back, resuming the device before it returns.  URBs sent to a suspended
 * device fail, so no command may reach the wire while suspend is allowed:
 * the engines check `allowed` under their lock before queueing, and the
 * timer sets it only with every engine's lock held and every engine idle.
 *
 * Lock order: s->lock, then the engines' locks in target order.  A submit
 * never holds its engine's lock while it waits for s->lock.
 */
#include "usb/suspend.h"
#include "usb/engine_priv.h"

#include <errno.h>
#include <string.h>

void ousb_suspend_init(struct ousb_suspend *s, ostor_device *dev, ousb_suspend_fn set, void *arg)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->dev = dev;
	s->set = set;
	s->arg = arg;
	atomic_init(&s->allowed, false);
	atomic_init(&s->deadline, 0);
}

void ousb_suspend_destroy(struct ousb_suspend *s)
{
	if (!s->dev)
		return;
	ousb_suspend_manage(s, false, 0);
	pthread_mutex_destroy(&s->lock);
	s->dev = NULL;
}

void ousb_suspend_add_engine(struct ousb_suspend *s, struct ousb_engine *e)
{
	pthread_mutex_lock(&s->lock);
	if (s->nengines < (int)OSTOR_ARRAY_SIZE(s->engines))
		s->engines[s->nengines++] = e;
	pthread_mutex_unlock(&s->lock);
}

/* Resume and forbid suspend; s->lock held. */
static void resume_locked(struct ousb_suspend *s, bool for_command)
{
	int r;

	if (!atomic_load(&s->allowed))
		return;
	r = s->set(s->arg, false);
	/* Even when the kernel failed to resume the device, the command goes
	 * out: it fails like any command to a broken or missing device, and
	 * the usual recovery or the unplug path takes over. */
	atomic_store(&s->allowed, false);
	if (r == -ENODEV) {
		s->gone = true;
		ostor_dbg(s->dev->ctx, "%s: resume: the device is gone", s->dev->spec);
	} else if (r < 0) {
		ostor_warn(s->dev->ctx, "%s: the kernel could not resume the USB device (%s); the next "
			   "command may fail", s->dev->spec, strerror(-r));
	} else if (for_command) {
		s->resumes++;
	}
}

int ousb_suspend_manage(struct ousb_suspend *s, bool allow, unsigned int idle_ms)
{
	pthread_mutex_lock(&s->lock);
	if (allow && !s->set) {
		pthread_mutex_unlock(&s->lock);
		return ostori_error(OSTOR_ERROR_NOT_SUPPORTED, "%s: cannot let the idle device suspend: %s",
				    s->dev->spec, s->unsupported ? s->unsupported : "no usbfs descriptor");
	}
	if (!allow) {
		if (s->set)
			resume_locked(s, false);
		s->enabled = false;
		atomic_store(&s->deadline, 0);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	s->enabled = true;
	s->idle_ms = idle_ms ? idle_ms : 1;
	s->seen = UINT64_MAX;          /* the first look only starts the clock */
	if (!atomic_load(&s->allowed))
		atomic_store(&s->deadline, ostori_now_ms() + s->idle_ms);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int ousb_suspend_next_ms(struct ousb_suspend *s, uint64_t now)
{
	uint64_t d = atomic_load_explicit(&s->deadline, memory_order_relaxed);

	if (!d)
		return -1;
	return d <= now ? 0 : (int)OSTOR_MIN(d - now, 60000u);
}

void ousb_suspend_tick(struct ousb_suspend *s, uint64_t now)
{
	uint64_t d = atomic_load_explicit(&s->deadline, memory_order_relaxed), commands = 0;
	bool quiet = true;
	int i, r;

	if (!d || now < d)
		return;
	pthread_mutex_lock(&s->lock);
	d = atomic_load(&s->deadline);
	if (!s->enabled || !d || now < d || atomic_load(&s->allowed) || s->gone) {
		/* Nothing to watch for (any more): no wake-ups for it either. */
		if (!s->enabled || atomic_load(&s->allowed) || s->gone)
			atomic_store(&s->deadline, 0);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* Idle: nothing queued or on the wire, no recovery, and no command
	 * went out since the last look (the engines count them anyway). */
	for (i = 0; i < s->nengines; i++) {
		struct ousb_engine *e = s->engines[i];

		pthread_mutex_lock(&e->lock);
		commands += e->stats.commands;
		quiet = quiet && !e->task && !ousb_waiting(e) && e->stage == S_IDLE && !e->sync_busy && !e->busy &&
			!e->gone && !e->dead;
	}
	if (quiet && commands == s->seen)
		atomic_store(&s->allowed, true);
	while (i-- > 0)
		pthread_mutex_unlock(&s->engines[i]->lock);
	if (!atomic_load(&s->allowed)) {
		/* Busy since: look again one idle time from now. */
		s->seen = commands;
		atomic_store(&s->deadline, now + s->idle_ms);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	atomic_store(&s->deadline, 0);
	r = s->set(s->arg, true);
	if (r < 0) {
		atomic_store(&s->allowed, false);
		if (r == -ENODEV) {
			s->gone = true;
		} else {
			/* Not worth retrying every idle time: say so once. */
			s->enabled = false;
			ostor_warn(s->dev->ctx, "%s: the kernel refused to let the idle device suspend (%s); "
				   "USB power management is off for it%s", s->dev->spec, strerror(-r),
				   r == -ENOTTY || r == -EINVAL ? " (usbfs runtime power management needs "
				   "Linux 5.4 or later)" : "");
		}
	} else {
		s->suspends_allowed++;
		ostor_dbg(s->dev->ctx, "%s: idle for %u ms: the kernel may suspend it", s->dev->spec,
			  s->idle_ms);
	}
	pthread_mutex_unlock(&s->lock);
}

void ousb_suspend_wake(struct ousb_suspend *s)
{
	pthread_mutex_lock(&s->lock);
	resume_locked(s, true);
	if (s->enabled && !s->gone)
		atomic_store(&s->deadline, ostori_now_ms() + s->idle_ms);
	pthread_mutex_unlock(&s->lock);
}

void ousb_suspend_get(struct ousb_suspend *s, struct ousb_suspend_state *st)
{
	pthread_mutex_lock(&s->lock);
	st->enabled = s->enabled;
	st->allowed = atomic_load(&s->allowed);
	st->idle_ms = s->idle_ms;
	st->suspends_allowed = s->suspends_allowed;
	st->resumes = s->resumes;
	pthread_mutex_unlock(&s->lock);
}
