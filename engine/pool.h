/* pool.h — a small fixed pool of worker threads that splits one matrix-vector product by rows
 * (internal). One pool belongs to one run state, so it is driven by one thread at a time. */
#ifndef ENG_POOL_H
#define ENG_POOL_H

#include "engine/model.h"

struct eng_pool;

/* n_threads >= 2 (the caller's thread counts as one). On failure returns NULL. */
struct eng_pool *eng_pool_create(int n_threads);
void eng_pool_free(struct eng_pool *p); /* NULL allowed; joins the workers */

/* eng_linear with the rows split over the pool; falls back to one thread for small matrices. */
void eng_pool_linear(struct eng_pool *p, float *y, const struct eng_linear *l, const float *x);

#endif
