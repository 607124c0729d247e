/*
 * progress.c - the progress line of the cask tool's long commands
 * (progress.h): "CMD  DONE / TOTAL  N/M UNIT  RATE/s  M:SS left", redrawn
 * in place with a carriage return on stderr when that is a terminal.
 *
 * One line is shown at a time (the one last drawn); a message printed
 * meanwhile erases it first through progress_clear(). Updates may come from
 * another thread (cask_merge()'s callback) while the caller waits, never
 * from two threads at once.
 */
#include "progress.h"
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#define REDRAW_NS 250000000L

/* The line on the screen now, for progress_clear(). */
static struct progress *shown;

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 +
	       (b->tv_nsec - a->tv_nsec);
}

/* "1:02:03" or "2:03" into @p buf. */
static const char *clock_string(uint64_t s, char *buf, size_t size)
{
	if (s >= 3600)
		snprintf(buf, size, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			 s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
	return buf;
}

/* Seconds left at the rate so far, by bytes if their total is known, else
 * by items; -1 if not known (no total, nothing done yet). */
static double time_left(const struct progress *p, double secs)
{
	uint64_t done = p->total_bytes ? p->bytes : p->items;
	uint64_t total = p->total_bytes ? p->total_bytes : p->total_items;

	if (!total || !done || secs <= 0)
		return -1;
	return done >= total ? 0 : (double)(total - done) * secs / (double)done;
}

static void draw(struct progress *p, const struct timespec *now)
{
	double secs = (double)ns_between(&p->start, now) / 1e9;
	double rate = secs > 0 ? (double)p->bytes / secs : 0;
	double left = time_left(p, secs);
	char a[32], b[32], r[32], t[32];

	fprintf(stderr, "\r%s  %s", p->cmd,
		human_bytes(p->bytes, a, sizeof(a)));
	if (p->total_bytes)
		fprintf(stderr, " / %s",
			human_bytes(p->total_bytes, b, sizeof(b)));
	if (p->unit) {
		fprintf(stderr, "  %" PRIu64, p->items);
		if (p->total_items)
			fprintf(stderr, "/%" PRIu64, p->total_items);
		fprintf(stderr, " %s", p->unit);
	}
	fprintf(stderr, "  %s/s", human_bytes((uint64_t)rate, r, sizeof(r)));
	if (left >= 0)
		fprintf(stderr, "  %s left",
			clock_string((uint64_t)left, t, sizeof(t)));
	else if (p->total_bytes || p->total_items)
		fputs("  -:-- left", stderr);
	fputs("\033[K", stderr); /* erase what a longer line left */
	fflush(stderr);
	p->last = *now;
	p->drawn = true;
	shown = p;
}

static void update(struct progress *p)
{
	struct timespec now;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!p->drawn || shown != p || ns_between(&p->last, &now) >= REDRAW_NS)
		draw(p, &now);
}

void progress_init(struct progress *p, const char *cmd, const char *unit,
		   bool quiet)
{
	*p = (struct progress){.on = !quiet && isatty(STDERR_FILENO),
			       .cmd = cmd,
			       .unit = unit};
	clock_gettime(CLOCK_MONOTONIC, &p->start);
}

void progress_total(struct progress *p, uint64_t bytes, uint64_t items)
{
	p->total_bytes = bytes;
	p->total_items = items;
}

void progress_restart(struct progress *p, uint64_t bytes, uint64_t items)
{
	p->bytes = p->items = 0;
	progress_total(p, bytes, items);
	clock_gettime(CLOCK_MONOTONIC, &p->start);
}

void progress_add(struct progress *p, uint64_t bytes, uint64_t items)
{
	p->bytes += bytes;
	p->items += items;
	update(p);
}

void progress_set(struct progress *p, uint64_t bytes, uint64_t total_bytes)
{
	p->bytes = bytes;
	p->total_bytes = total_bytes;
	update(p);
}

void progress_clear(void)
{
	if (!shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	shown->drawn = false;
	shown = NULL;
}

void progress_done(struct progress *p)
{
	if (shown == p)
		progress_clear();
	p->on = false;
}
