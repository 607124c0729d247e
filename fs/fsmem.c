/*
 * fsmem.c - fs/'s allocation wrappers with a one-shot failure point
 * (fsmem.h). The countdown is one relaxed atomic, so the seam costs next
 * to nothing when unused; it turns itself off as it fires, so that the
 * error path that follows allocates normally.
 */
#include "fsmem.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long fail_countdown = -1;
static _Atomic long failed;

static bool should_fail(void)
{
	long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (n < 0)
		return false;
	atomic_store_explicit(&fail_countdown, n - 1, memory_order_relaxed);
	if (n > 0)
		return false;
	atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
	return true;
}

void fsmem_fail_once(long n)
{
	atomic_store(&fail_countdown, -1);
	atomic_store(&failed, 0);
	atomic_store(&fail_countdown, n);
}

long fsmem_failed(void)
{
	return atomic_load(&failed);
}

void *fsmem_alloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *fsmem_calloc(size_t count, size_t n)
{
	return should_fail() ? NULL : calloc(count, n);
}

void *fsmem_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

char *fsmem_strdup(const char *s)
{
	return should_fail() ? NULL : strdup(s);
}

char *fsmem_dup_bytes(const char *p, size_t n)
{
	char *s = fsmem_alloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

int fsmem_grow(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *p;

	if (n < *cap)
		return 0;
	p = fsmem_realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

int fsmem_vasprintf(char **out, const char *fmt, va_list ap)
{
	int n;

	*out = NULL;
	if (should_fail())
		return -1;
	n = vasprintf(out, fmt, ap);
	if (n < 0)
		*out = NULL;
	return n;
}

int fsmem_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fsmem_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}
