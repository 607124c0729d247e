/*
 * segtable.c - the store's segments, sorted by id, found by binary search.
 * The table owns one reference to each segment. Callers hold the store's
 * rwlock (shared to find, exclusive with wmu to change).
 */
#include "db.h"

#include "alloc.h"

#include <errno.h>
#include <string.h>

static size_t lower_bound(const struct seg_table *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct segment *segtable_find(const struct seg_table *t, uint32_t id)
{
	size_t i = lower_bound(t, id);

	return i < t->n && t->v[i]->id == id ? t->v[i] : NULL;
}

int segtable_add(struct seg_table *t, struct segment *s)
{
	size_t i;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct segment **v = mem_realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	i = lower_bound(t, s->id);
	memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof(*t->v));
	t->v[i] = s;
	t->n++;
	return 0;
}

void segtable_remove(struct seg_table *t, uint32_t id)
{
	size_t i = lower_bound(t, id);

	if (i == t->n || t->v[i]->id != id)
		return;
	segment_put(t->v[i]);
	memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof(*t->v));
	t->n--;
}

void segtable_free(struct seg_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		segment_put(t->v[i]);
	mem_free(t->v);
	*t = (struct seg_table){0};
}
