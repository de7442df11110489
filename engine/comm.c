/* comm.c — the public face of comm.h: argument checks once, then the backend's table. A group of
 * one rank needs no backend work at all, which keeps the single-GPU path free of copies. */
#include <stdlib.h>
#include <string.h>

#include "engine/comm_impl.h"
#include "engine/err.h"

int eng_comm_rank(const struct eng_comm *c)
{
	return c ? c->rank : 0;
}

int eng_comm_size(const struct eng_comm *c)
{
	return c ? c->size : 1;
}

const char *eng_comm_backend(const struct eng_comm *c)
{
	return c ? c->ops->name : "none";
}

int eng_comm_split(struct eng_comm *c, int color, int key, struct eng_comm **out, struct eng_err *err)
{
	*out = NULL;
	if (!c)
		return eng_errf(err, ENG_EMISUSE, "comm split: no communicator");
	return c->ops->split(c, color, key, out, err);
}

int eng_comm_all_reduce(struct eng_comm *c, float *buf, size_t n, struct eng_err *err)
{
	if (!c || c->size == 1)
		return ENG_OK;
	return c->ops->all_reduce(c, buf, n, err);
}

int eng_comm_all_gather(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err)
{
	if (!c || c->size == 1) {
		if (recv != send)
			memmove(recv, send, n * sizeof *recv);
		return ENG_OK;
	}
	return c->ops->all_gather(c, send, recv, n, err);
}

int eng_comm_all_to_allv(struct eng_comm *c, const float *send, const size_t *send_counts, const size_t *send_displs,
			 float *recv, const size_t *recv_counts, const size_t *recv_displs, struct eng_err *err)
{
	if (!c || c->size == 1) {
		if (send_counts[0] != recv_counts[0])
			return eng_errf(err, ENG_EMISUSE, "all_to_allv: rank 0 sends %zu floats to itself but expects %zu",
					send_counts[0], recv_counts[0]);
		memmove(recv + recv_displs[0], send + send_displs[0], send_counts[0] * sizeof *recv);
		return ENG_OK;
	}
	return c->ops->all_to_allv(c, send, send_counts, send_displs, recv, recv_counts, recv_displs, err);
}

int eng_comm_all_to_all(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err)
{
	int size = eng_comm_size(c);
	size_t *v = malloc(2 * (size_t)size * sizeof *v); /* counts, then displacements */
	if (!v)
		return eng_errf(err, ENG_ENOMEM, "all_to_all: out of memory for %d ranks", size);
	for (int i = 0; i < size; i++) {
		v[i] = n;
		v[size + i] = (size_t)i * n;
	}
	int rc = eng_comm_all_to_allv(c, send, v, v + size, recv, v, v + size, err);
	free(v);
	return rc;
}

int eng_comm_broadcast(struct eng_comm *c, float *buf, size_t n, int root, struct eng_err *err)
{
	if (root < 0 || root >= eng_comm_size(c))
		return eng_errf(err, ENG_EMISUSE, "broadcast: root %d outside 0..%d", root, eng_comm_size(c) - 1);
	if (!c || c->size == 1)
		return ENG_OK;
	return c->ops->broadcast(c, buf, n, root, err);
}

int eng_comm_barrier(struct eng_comm *c, struct eng_err *err)
{
	if (!c || c->size == 1)
		return ENG_OK;
	return c->ops->barrier(c, err);
}

void eng_comm_abort(struct eng_comm *c, const char *why)
{
	if (c)
		c->ops->abort(c, why ? why : "aborted");
}

void eng_comm_free(struct eng_comm *c)
{
	if (c)
		c->ops->free(c);
}
