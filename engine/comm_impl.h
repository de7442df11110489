/* comm_impl.h — what a communication backend provides (internal to comm*.c): one table of
 * functions chosen when a handle is created (Redis aeApi*), so comm.c checks arguments once and
 * the backends only move data. */
#ifndef ENG_COMM_IMPL_H
#define ENG_COMM_IMPL_H

#include "engine/comm.h"

struct eng_comm_ops {
	const char *name;
	int (*split)(struct eng_comm *c, int color, int key, struct eng_comm **out, struct eng_err *err);
	int (*all_reduce)(struct eng_comm *c, float *buf, size_t n, struct eng_err *err);
	int (*all_gather)(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err);
	int (*all_to_allv)(struct eng_comm *c, const float *send, const size_t *scount, const size_t *sdispl,
			   float *recv, const size_t *rcount, const size_t *rdispl, struct eng_err *err);
	int (*broadcast)(struct eng_comm *c, float *buf, size_t n, int root, struct eng_err *err);
	int (*barrier)(struct eng_comm *c, struct eng_err *err);
	void (*abort)(struct eng_comm *c, const char *why);
	void (*free)(struct eng_comm *c);
};

/* Every backend's handle starts with this. */
struct eng_comm {
	const struct eng_comm_ops *ops;
	int rank, size;
};

#endif
