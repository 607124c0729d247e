/*
 * alloc.c - malloc wrappers with an injectable failure point (alloc.h).
 * The countdown is one relaxed atomic, so the seam costs next to nothing
 * when unused. A one-shot failure turns the countdown off as it fires, so
 * that what follows (the error path, a retry) allocates normally.
 */
#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

static _Atomic long fail_countdown = -1;
static _Atomic bool fail_once;
static _Atomic long failed;

static int should_fail(void)
{
	long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (n < 0)
		return 0;
	if (n > 0) {
		atomic_store_explicit(&fail_countdown, n - 1,
				      memory_order_relaxed);
		return 0;
	}
	if (atomic_load_explicit(&fail_once, memory_order_relaxed))
		atomic_store_explicit(&fail_countdown, -1,
				      memory_order_relaxed);
	atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
	return 1;
}

static void arm(long n, bool once)
{
	atomic_store(&fail_countdown, -1);
	atomic_store(&failed, 0);
	atomic_store(&fail_once, once);
	atomic_store(&fail_countdown, n);
}

void mem_fail_after(long n)
{
	arm(n, false);
}

void mem_fail_once(long n)
{
	arm(n, true);
}

long mem_failed(void)
{
	return atomic_load(&failed);
}

void *mem_alloc(size_t n)
{
	return should_fail() ? NULL : malloc(n);
}

void *mem_calloc(size_t count, size_t n)
{
	return should_fail() ? NULL : calloc(count, n);
}

void *mem_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n);
}

void mem_free(void *p)
{
	free(p);
}

int mem_grow(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c = *cap ? *cap * 2 : first;
	void *p;

	if (n < *cap)
		return 0;
	p = mem_realloc(*v, c * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}
