/* pool.h — a small fixed pool of worker threads (internal): one function run on all of them at
 * once, matrix products split by output rows on top of it. A pool belongs to one run state (one
 * token), batch state (rows of a step) or split model (its ranks), so it is driven by one thread
 * at a time. */
#ifndef ENG_POOL_H
#define ENG_POOL_H

#include <stddef.h>

#include "engine/model.h"

struct eng_pool;

/* n_threads >= 2 (the caller's thread counts as one). On failure returns NULL. */
struct eng_pool *eng_pool_create(int n_threads);
void eng_pool_free(struct eng_pool *p); /* NULL allowed; joins the workers */

/* Runs fn(arg, share) for every share 0..n_threads-1 at once (share 0 on the caller's thread, the
 * others on the workers) and returns when all have; p NULL: fn(arg, 0) alone. */
void eng_pool_run(struct eng_pool *p, void (*fn)(void *arg, int share), void *arg);

/* eng_linear_rows (batch_ops.h) with the output rows split over the pool; p NULL, or too little
 * work to be worth waking threads: the caller's thread alone. Each output is summed as
 * eng_linear_rows sums it, so the result does not depend on the thread count. */
void eng_pool_linear_rows(struct eng_pool *p, float *y, size_t ldy, const struct eng_linear *l, const float *x,
			  size_t ldx, int n);

/* eng_linear on the pool: eng_pool_linear_rows with one row. */
void eng_pool_linear(struct eng_pool *p, float *y, const struct eng_linear *l, const float *x);

#endif
