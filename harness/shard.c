/* shard.c — deterministic slices of a task's items for `evalh run --shard I/N`; see shard.h. */
#include "harness/shard.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/results.h"

int evh_shard_parse(const char *spec, struct evh_shard *out, struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	const char *slash = spec ? strchr(spec, '/') : NULL;
	unsigned long v[2];
	const char *part[2] = {spec, slash ? slash + 1 : NULL};
	for (int k = 0; k < 2 && slash; k++) {
		char *end;
		/* strtoul takes a sign and spaces; a shard number is digits only. */
		if (*part[k] < '0' || *part[k] > '9')
			goto bad;
		errno = 0;
		v[k] = strtoul(part[k], &end, 10);
		if (errno || end != (k == 0 ? slash : part[k] + strlen(part[k])))
			goto bad;
	}
	if (!slash || v[1] < 1 || v[1] > EVH_SHARD_MAX || v[0] < 1 || v[0] > v[1])
		goto bad;
	out->index = (unsigned)v[0];
	out->count = (unsigned)v[1];
	return EVH_OK;
bad:
	return evh_err_fail(err, EVH_EMISUSE, "--shard", "expected I/N with 1 <= I <= N <= %d (e.g. 2/8), got \"%s\"",
			    EVH_SHARD_MAX, spec ? spec : "");
}

/* splitmix64's finaliser: FNV-1a alone leaves its low bits (what `mod N` reads) poorly mixed. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

unsigned evh_shard_of(unsigned count, const char *task, const char *item_id)
{
	if (count <= 1)
		return 1;
	/* The task is hashed too, so that packs sharing ids ("q1", "q2", ...) do not all put their
	 * first items on machine 1. The salt keeps this choice independent of --limit's seeded
	 * subsample (runner.c), which hashes the id alone the same FNV way. Written down in
	 * results/README.md: other tools may reproduce it. */
	uint64_t h = evh_hash64(task, strlen(task), 0xcbf29ce484222325ULL);
	h = evh_hash64("/", 1, h);
	h = evh_hash64(item_id, strlen(item_id), h);
	return 1 + (unsigned)(mix(h ^ 0x5348415244ULL /* "SHARD" */) % count);
}

int evh_shard_has(const struct evh_shard *s, const char *task, const char *item_id)
{
	if (!s || s->count <= 1)
		return 1;
	return evh_shard_of(s->count, task, item_id) == s->index;
}

int evh_shard_filter(const struct evh_shard *s, struct evh_task *t, size_t **owned, struct evh_err *err)
{
	if (!s || s->count == 0)
		return EVH_OK;
	size_t n = t->items ? t->n_items : pack_count(t->pack);
	size_t *v = malloc((n ? n : 1) * sizeof *v), m = 0;
	if (!v)
		return evh_err_fail(err, EVH_ENOMEM, t->name, "shard of %zu items", n);
	for (size_t j = 0; j < n; j++) {
		size_t i = t->items ? t->items[j] : j;
		if (evh_shard_has(s, t->name, pack_item_at(t->pack, i)->id))
			v[m++] = i;
	}
	free(*owned);
	*owned = v;
	t->items = v;
	t->n_items = m;
	return EVH_OK;
}
