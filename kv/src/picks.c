/*
 * picks.c - the key-ordered list of records a merge keeps (picks.h).
 * 16 bytes a record; the caller bounds how many it gathers at once.
 */
#include "picks.h"

#include "alloc.h"

#include <stdlib.h>
#include <string.h>

int picks_add(struct picks *p, const struct pick *k)
{
	int rc = mem_grow((void **)&p->v, &p->cap, p->n, sizeof(*p->v), 4096);

	if (!rc)
		p->v[p->n++] = *k;
	return rc;
}

static int pick_cmp(const void *x, const void *y)
{
	const struct pick *a = x, *b = y;
	int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);

	if (c)
		return c;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	if (a->in != b->in)
		return a->in < b->in ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;
}

void picks_sort(struct picks *p)
{
	if (p->n > 1) /* v is NULL while nothing was picked */
		qsort(p->v, p->n, sizeof(*p->v), pick_cmp);
}

void picks_clear(struct picks *p)
{
	p->n = 0;
}

void picks_free(struct picks *p)
{
	mem_free(p->v);
	*p = (struct picks){0};
}
