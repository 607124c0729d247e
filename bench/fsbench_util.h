/*
 * fsbench_util.h - what the stand-alone helpers of bench/fsbench.sh
 * (fsbench_io.c, fsbench_kvsync.c) share: the clock they time with and
 * the parsing of their numeric arguments. Header-only, so that the script
 * can build each with one plain cc command.
 */
#ifndef FSBENCH_UTIL_H
#define FSBENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Argument @p s as a number >= 0; exits with status 2, naming the
 * argument @p name, if it is not one. */
static inline long num(const char *s, const char *name)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "%s: bad %s '%s'\n",
			program_invocation_short_name, name, s);
		exit(2);
	}
	return v;
}

#endif
