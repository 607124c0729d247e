/*
 * progress.h - the progress line of the cask tool's long commands (backup,
 * verify, dump, load, fs get, fs put, merge): bytes, items (files, keys,
 * records, segments), rate and time left, redrawn in place on stderr.
 * Shown only when stderr is a terminal and the command was not given
 * --quiet; otherwise every call is a no-op, so callers need no test.
 */
#ifndef CASK_CLI_PROGRESS_H
#define CASK_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/** One progress line. Fill with progress_init(); fields are its own. */
struct progress {
	bool on;	  /* drawing: stderr is a terminal, no --quiet */
	bool drawn;	  /* a line is on the screen now */
	const char *cmd;  /* "backup" */
	const char *unit; /* "files"; NULL: no items counted */
	uint64_t bytes, total_bytes; /* total 0: not known */
	uint64_t items, total_items; /* total 0: not known */
	struct timespec start, last; /* last: of the last draw */
};

/**
 * Start the line of command @p cmd counting @p unit ("files", "keys"...,
 * or NULL to show bytes only);
 * off when @p quiet or stderr is not a terminal. @p cmd and @p unit are
 * borrowed until progress_done().
 */
void progress_init(struct progress *p, const char *cmd, const char *unit,
		   bool quiet);

/** Set what there is to do (0: not known; then no time left is shown). */
void progress_total(struct progress *p, uint64_t bytes, uint64_t items);

/** Count from zero again towards new totals (a command that starts its
 *  work over). */
void progress_restart(struct progress *p, uint64_t bytes, uint64_t items);

/** Count @p bytes and @p items more done; redraws at most 4 times a
 *  second (and at the first call). */
void progress_add(struct progress *p, uint64_t bytes, uint64_t items);

/** Set the bytes done and to do (a callback that counts them itself, as
 *  cask_merge()'s and cask_verify()'s do). */
void progress_set(struct progress *p, uint64_t bytes, uint64_t total_bytes);

/** Erase the line: the command's own summary follows. */
void progress_done(struct progress *p);

/** Erase the line being shown, if any, before a message goes to stderr
 *  (warnx_() and store_log() call it); the next update draws it again. */
void progress_clear(void);

#endif
