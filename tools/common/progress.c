/*
 * tools/common/progress.c - a one-line progress bar on stderr.
 *
 * Only drawn when stderr is a terminal, so logs and test output stay
 * clean; redrawn at most ten times a second.
 */
#include "toolcommon.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_MS 100

static void draw(struct tc_progress *p, uint64_t now)
{
	char bar[BAR_WIDTH + 1];
	char done[32], total[32], rate[32];
	unsigned int pct, fill;
	uint64_t elapsed = now - p->start_ms;

	pct = p->total ? (unsigned int)((double)p->done * 100.0 / (double)p->total) : 100;
	if (pct > 100)
		pct = 100;
	fill = pct * BAR_WIDTH / 100;
	memset(bar, '#', fill);
	memset(bar + fill, '.', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	tc_human_size(p->done, done, sizeof(done));
	tc_human_size(p->total, total, sizeof(total));
	if (elapsed > 0)
		tc_human_size((uint64_t)((double)p->done * 1000.0 / (double)elapsed),
			      rate, sizeof(rate));
	else
		strcpy(rate, "-");
	/* \r plus erase-to-end-of-line keeps one line however it shrinks */
	fprintf(stderr, "\r%s [%s] %3u%% %s / %s  %s/s\033[K",
		p->label, bar, pct, done, total, rate);
	fflush(stderr);
	p->last_ms = now;
}

void tc_progress_begin(struct tc_progress *p, const char *label,
		       uint64_t total_bytes, bool enable)
{
	memset(p, 0, sizeof(*p));
	p->label = label ? label : "";
	p->total = total_bytes;
	p->active = enable && isatty(STDERR_FILENO);
	p->start_ms = tc_now_ms();
	if (p->active)
		draw(p, p->start_ms);
}

void tc_progress_update(struct tc_progress *p, uint64_t done_bytes)
{
	uint64_t now;

	p->done = done_bytes;
	if (!p->active)
		return;
	now = tc_now_ms();
	if (now - p->last_ms >= REDRAW_MS || done_bytes >= p->total)
		draw(p, now);
}

void tc_progress_end(struct tc_progress *p)
{
	if (!p->active)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->active = false;
}
