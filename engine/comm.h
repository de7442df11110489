/* comm.h — the engine's collective communication API (internal to engine/): all-reduce, all-gather,
 * all-to-all(v), broadcast, barrier over a group of ranks, with two backends behind one table:
 * threads sharing memory in this process (comm_cpu.c, for tests and CPU runs) and NCCL (comm_nccl.c,
 * compiled where nccl.h is found, libnccl/libcudart opened at run time). Semantics are NCCL's:
 * every rank of a group calls the same collectives in the same order with the same sizes.
 * Data is float32; buffers are host memory on the CPU backend, host or device memory on NCCL.
 * A handle belongs to one thread (its rank); different ranks' handles are used concurrently. */
#ifndef ENG_COMM_H
#define ENG_COMM_H

#include <stddef.h>

#include "engine/engine.h"

struct eng_comm;

/* CPU backend: the n handles of one group of n ranks in this process (comms[i] is rank i, to be
 * driven by one thread each). Every wait gives up after timeout_ms (> 0): the waiting rank marks
 * the group failed and returns ENG_ECOMM, so a rank that died or hangs cannot hang the others.
 * On failure every comms[i] is NULL. Free each handle with eng_comm_free. */
int eng_comm_cpu_create(int n, int timeout_ms, struct eng_comm **comms, struct eng_err *err);

/* NCCL backend, one process driving n GPUs (one thread per GPU): ncclCommInitAll over devices[0..n)
 * (NULL: devices 0..n-1). ENG_EUNSUPPORTED where built without nccl.h or libnccl.so.2 is absent. */
int eng_comm_nccl_create_all(int n, const int *devices, int timeout_ms, struct eng_comm **comms, struct eng_err *err);

/* NCCL backend, one rank per process (or per thread): rank 0 makes the id (ncclGetUniqueId), every
 * rank learns it (eng_comm_rendezvous), then each calls eng_comm_nccl_create_rank. */
enum { ENG_COMM_ID_BYTES = 128 };
int eng_comm_nccl_unique_id(unsigned char id[ENG_COMM_ID_BYTES], struct eng_err *err);
int eng_comm_nccl_create_rank(const unsigned char id[ENG_COMM_ID_BYTES], int n, int rank, int device, int timeout_ms,
			      struct eng_comm **out, struct eng_err *err);

/* 1 when the NCCL backend is compiled in and libnccl.so.2 + libcudart load (no GPU touched). */
int eng_comm_nccl_available(void);

/* The small TCP rendezvous that hands rank 0's blob (the NCCL unique id) to the other nodes:
 * node 0 listens on master "HOST:PORT" and sends `len` bytes to each of the n_nodes - 1 others,
 * which connect (retrying until timeout_ms) and receive them into blob. ENG_ECOMM on timeout. */
int eng_comm_rendezvous(const char *master, int n_nodes, int node_rank, unsigned char *blob, size_t len,
			int timeout_ms, struct eng_err *err);

int eng_comm_rank(const struct eng_comm *c);
int eng_comm_size(const struct eng_comm *c);
const char *eng_comm_backend(const struct eng_comm *c); /* "cpu" or "nccl" */

/* Collective: the ranks passing the same color form a new group, ranked by (key, old rank)
 * (MPI_Comm_split / ncclCommSplit). color < 0: *out is NULL for this rank. */
int eng_comm_split(struct eng_comm *c, int color, int key, struct eng_comm **out, struct eng_err *err);

/* Sum over ranks, in place: buf (n,). Every rank gets bit-identical results (ranks are added in
 * rank order on the CPU backend). */
int eng_comm_all_reduce(struct eng_comm *c, float *buf, size_t n, struct eng_err *err);

/* recv (size * n,) = [send of rank 0 | send of rank 1 | ...]; send (n,). */
int eng_comm_all_gather(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err);

/* Block i of send (n floats at send + i * n) goes to rank i, arriving as block `rank` of its recv. */
int eng_comm_all_to_all(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err);

/* Uneven all-to-all (MPI_Alltoallv): send_counts[i] floats from send + send_displs[i] go to rank i;
 * recv_counts[j] floats from rank j land at recv + recv_displs[j]. Counts must agree pairwise
 * (ENG_EMISUSE where the CPU backend can see they do not). */
int eng_comm_all_to_allv(struct eng_comm *c, const float *send, const size_t *send_counts, const size_t *send_displs,
			 float *recv, const size_t *recv_counts, const size_t *recv_displs, struct eng_err *err);

/* buf (n,) of rank root is copied to every rank's buf. */
int eng_comm_broadcast(struct eng_comm *c, float *buf, size_t n, int root, struct eng_err *err);

int eng_comm_barrier(struct eng_comm *c, struct eng_err *err);

/* Marks the group, and every group split from the same world, failed: the other ranks' pending
 * and later calls return ENG_ECOMM naming this rank and `why`. For a rank that gives up. */
void eng_comm_abort(struct eng_comm *c, const char *why);

void eng_comm_free(struct eng_comm *c); /* NULL allowed */

#endif
