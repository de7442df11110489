/* pool.h — a small fixed pool of worker threads that splits matrix products by output rows
 * (internal). One pool serves a run state (one token) and a batch state (rows of a step) alike; it
 * belongs to one of them, so it is driven by one thread at a time. */
#ifndef ENG_POOL_H
#define ENG_POOL_H

#include <stddef.h>

#include "engine/model.h"

struct eng_pool;

/* n_threads >= 2 (the caller's thread counts as one). On failure returns NULL. */
struct eng_pool *eng_pool_create(int n_threads);
void eng_pool_free(struct eng_pool *p); /* NULL allowed; joins the workers */

/* eng_linear_rows (batch_ops.h) with the output rows split over the pool; p NULL, or too little
 * work to be worth waking threads: the caller's thread alone. Each output is summed as
 * eng_linear_rows sums it, so the result does not depend on the thread count. */
void eng_pool_linear_rows(struct eng_pool *p, float *y, size_t ldy, const struct eng_linear *l, const float *x,
			  size_t ldx, int n);

/* eng_linear on the pool: eng_pool_linear_rows with one row. */
void eng_pool_linear(struct eng_pool *p, float *y, const struct eng_linear *l, const float *x);

#endif
