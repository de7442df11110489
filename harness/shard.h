/* shard.h — `evalh run --shard I/N`: which items of a task one of N machines runs. An item belongs
 * to shard 1 + (hash(task, item id) mod N), so a shard's items depend on nothing but the item's own
 * id: not on item order, on --limit, on the model or on the other items. Any scheduler (Slurm array
 * jobs, Kubernetes indexed Jobs, a GitHub matrix) can then run shard I on machine I, and
 * `evalh merge` (merge.h) joins the folders. */
#ifndef EVH_SHARD_H
#define EVH_SHARD_H

#include <stddef.h>

#include "harness/runner.h"
#include "harness/util/err.h"

#define EVH_SHARD_MAX 65536 /* more machines than any one evaluation needs; bounds a typo */

/* Shard `index` of `count`, 1-based as Slurm's SLURM_ARRAY_TASK_ID and `--shard 1/4` read. A zeroed
 * struct (count 0) is "not sharded": evh_shard_has says yes to every item. */
struct evh_shard {
	unsigned index; /* 1..count */
	unsigned count; /* 1..EVH_SHARD_MAX; 0: not sharded */
};

/* Parses "I/N" (decimal, 1 <= I <= N <= EVH_SHARD_MAX, nothing else). On failure *out is zeroed
 * and err (EVH_EMISUSE, where "--shard") says what was expected and what was given. */
int evh_shard_parse(const char *spec, struct evh_shard *out, struct evh_err *err);

/* 1 when item `item_id` of task `task` belongs to shard s, else 0. Pure: same answer on every
 * machine, build and run. */
int evh_shard_has(const struct evh_shard *s, const char *task, const char *item_id);

/* Which shard (1..count) an item belongs to. */
unsigned evh_shard_of(unsigned count, const char *task, const char *item_id);

/* Narrows the items `t` runs (t->items, or all of t->pack when NULL) to those of shard s, keeping
 * their order. The new index array is malloc'd into *owned, which is freed first (pass the array
 * t->items points to when the caller owns it, else a NULL pointer); t->items and t->n_items then
 * point at it. A shard may get no item of a small task: t->n_items is then 0. Not sharded: no-op. */
int evh_shard_filter(const struct evh_shard *s, struct evh_task *t, size_t **owned, struct evh_err *err);

#endif
