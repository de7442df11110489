/* comm_nccl.c — the NCCL backend of comm.h. Compiled in where nccl.h and cuda_runtime_api.h are on
 * the include path; libnccl.so.2 and libcudart.so are opened at run time (dlopen), so the engine
 * links and runs the same on machines without them and eng_comm_nccl_* then report
 * ENG_EUNSUPPORTED. Host buffers (the CPU forward) are staged through device memory; device
 * buffers (the GPU forward) are used in place. Communicators are non-blocking (config.blocking = 0)
 * and every call is polled against timeout_ms with ncclCommGetAsyncError, then ncclCommAbort: a
 * dead peer gives ENG_ECOMM, never a hang. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/comm_impl.h"
#include "engine/err.h"

#if defined(__has_include)
#if __has_include(<nccl.h>) && __has_include(<cuda_runtime_api.h>)
#define ENG_HAVE_NCCL 1
#endif
#endif

#ifdef ENG_HAVE_NCCL
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>
#include <pthread.h>
#include <time.h>

/* The entry points we use, resolved once. */
#define NCCL_FNS(X)                                                                                                   \
	X(ncclGetUniqueId) X(ncclCommInitRankConfig) X(ncclCommSplit) X(ncclAllReduce) X(ncclAllGather)               \
	X(ncclBroadcast) X(ncclSend) X(ncclRecv) X(ncclGroupStart) X(ncclGroupEnd) X(ncclCommGetAsyncError)           \
	X(ncclCommAbort) X(ncclCommDestroy) X(ncclGetErrorString) X(ncclCommUserRank) X(ncclCommCount)
#define CUDA_FNS(X)                                                                                                   \
	X(cudaSetDevice) X(cudaStreamCreate) X(cudaStreamDestroy) X(cudaStreamQuery) X(cudaMalloc) X(cudaFree)        \
	X(cudaMemcpyAsync) X(cudaPointerGetAttributes) X(cudaGetErrorString) X(cudaGetLastError)

static struct {
#define DECL(f) __typeof__(&f) f;
	NCCL_FNS(DECL) CUDA_FNS(DECL)
#undef DECL
	int ok;
	char why[200];
} lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_open(void)
{
	void *hn = dlopen("libnccl.so.2", RTLD_NOW | RTLD_GLOBAL);
	void *hc = dlopen("libcudart.so", RTLD_NOW | RTLD_GLOBAL);
	if (!hc)
		hc = dlopen("libcudart.so.13", RTLD_NOW | RTLD_GLOBAL);
	if (!hc)
		hc = dlopen("libcudart.so.12", RTLD_NOW | RTLD_GLOBAL);
	if (!hn || !hc) {
		snprintf(lib.why, sizeof lib.why, "cannot load %s", !hn ? "libnccl.so.2" : "libcudart.so");
		return;
	}
	int ok = 1;
#define LOAD(h, f)                                                                                                    \
	if (!(*(void **)&lib.f = dlsym(h, #f))) {                                                                     \
		snprintf(lib.why, sizeof lib.why, "symbol %s missing", #f);                                           \
		ok = 0;                                                                                               \
	}
#define LOADN(f) LOAD(hn, f)
#define LOADC(f) LOAD(hc, f)
	NCCL_FNS(LOADN) CUDA_FNS(LOADC)
	lib.ok = ok;
	/* the libraries stay loaded for the life of the process, as NCCL expects */
}

static int lib_check(struct eng_err *err)
{
	pthread_once(&lib_once, lib_open);
	if (!lib.ok)
		return eng_errf(err, ENG_EUNSUPPORTED, "nccl comm: %s", lib.why);
	return ENG_OK;
}

struct nccl_comm {
	struct eng_comm base;
	ncclComm_t comm;
	int device, timeout_ms, dead;
	cudaStream_t stream;
	float *dsend, *drecv; /* staging for host buffers */
	size_t dsend_n, drecv_n;
};

static const struct eng_comm_ops nccl_ops;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void nap(void)
{
	struct timespec ts = {0, 100000};
	nanosleep(&ts, NULL);
}

static int fail(struct nccl_comm *h, const char *op, const char *what, struct eng_err *err)
{
	if (!h->dead && h->comm)
		lib.ncclCommAbort(h->comm); /* releases peers blocked on us and our own pending work */
	h->dead = 1;
	h->comm = NULL;
	return eng_errf(err, ENG_ECOMM, "nccl %s on rank %d of %d (device %d): %s", op, h->base.rank, h->base.size,
			h->device, what);
}

/* Waits for a non-blocking call to settle (ncclInProgress) and then for the stream, both bounded. */
static int settle(struct nccl_comm *h, ncclResult_t r, const char *op, int stream_too, struct eng_err *err)
{
	double deadline = now_ms() + h->timeout_ms;
	while (r == ncclInProgress) {
		if (now_ms() > deadline)
			return fail(h, op, "timed out", err);
		nap();
		lib.ncclCommGetAsyncError(h->comm, &r);
	}
	if (r != ncclSuccess)
		return fail(h, op, lib.ncclGetErrorString(r), err);
	while (stream_too) {
		cudaError_t ce = lib.cudaStreamQuery(h->stream);
		if (ce == cudaSuccess)
			break;
		if (ce != cudaErrorNotReady)
			return fail(h, op, lib.cudaGetErrorString(ce), err);
		ncclResult_t ar = ncclSuccess;
		lib.ncclCommGetAsyncError(h->comm, &ar);
		if (ar != ncclSuccess && ar != ncclInProgress)
			return fail(h, op, lib.ncclGetErrorString(ar), err);
		if (now_ms() > deadline)
			return fail(h, op, "timed out waiting for the other ranks", err);
		nap();
	}
	return ENG_OK;
}

static int begin(struct nccl_comm *h, const char *op, struct eng_err *err)
{
	if (h->dead)
		return eng_errf(err, ENG_ECOMM, "nccl %s on rank %d: communicator already failed", op, h->base.rank);
	cudaError_t ce = lib.cudaSetDevice(h->device);
	return ce == cudaSuccess ? ENG_OK : fail(h, op, lib.cudaGetErrorString(ce), err);
}

static int on_device(const void *p)
{
	struct cudaPointerAttributes a;
	if (lib.cudaPointerGetAttributes(&a, p) != cudaSuccess) {
		lib.cudaGetLastError(); /* plain host memory may report an error; clear it */
		return 0;
	}
	return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

static int grow(struct nccl_comm *h, float **buf, size_t *have, size_t n, struct eng_err *err)
{
	if (*have >= n)
		return ENG_OK;
	if (*buf)
		lib.cudaFree(*buf);
	*buf = NULL;
	*have = 0;
	if (lib.cudaMalloc((void **)buf, n * sizeof(float)) != cudaSuccess)
		return eng_errf(err, ENG_ECUDA, "nccl comm: cannot allocate %zu floats of staging on device %d", n, h->device);
	*have = n;
	return ENG_OK;
}

/* Host -> device staging of [src, src + n_in) and back of [dst, dst + n_out) around `run`. */
struct stage {
	const float *in;
	float *out;
	size_t n_in, n_out;
	const float *din;
	float *dout;
	int host;
};

/* The start of every data-moving op: begin(), then the host -> device half of the staging. */
static int stage_in(struct nccl_comm *h, struct stage *s, const char *op, struct eng_err *err)
{
	int rc = begin(h, op, err);
	if (rc)
		return rc;
	s->host = !on_device(s->out);
	s->din = s->in;
	s->dout = s->out;
	if (!s->host)
		return ENG_OK;
	rc = grow(h, &h->dsend, &h->dsend_n, s->n_in ? s->n_in : 1, err);
	if (!rc)
		rc = grow(h, &h->drecv, &h->drecv_n, s->n_out ? s->n_out : 1, err);
	if (rc)
		return rc;
	if (s->n_in && lib.cudaMemcpyAsync(h->dsend, s->in, s->n_in * sizeof(float), cudaMemcpyHostToDevice, h->stream) !=
			       cudaSuccess)
		return fail(h, op, "host to device copy failed", err);
	s->din = h->dsend;
	s->dout = h->drecv;
	return ENG_OK;
}

static int stage_out(struct nccl_comm *h, struct stage *s, ncclResult_t r, const char *op, struct eng_err *err)
{
	if (r == ncclSuccess && s->host && s->n_out &&
	    lib.cudaMemcpyAsync(s->out, s->dout, s->n_out * sizeof(float), cudaMemcpyDeviceToHost, h->stream) != cudaSuccess)
		return fail(h, op, "device to host copy failed", err);
	return settle(h, r, op, 1, err);
}

static int n_all_reduce(struct eng_comm *c, float *buf, size_t n, struct eng_err *err)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	struct stage s = {.in = buf, .out = buf, .n_in = n, .n_out = n};
	int rc = stage_in(h, &s, "all_reduce", err);
	if (rc)
		return rc;
	ncclResult_t r = lib.ncclAllReduce(s.din, s.dout, n, ncclFloat32, ncclSum, h->comm, h->stream);
	return stage_out(h, &s, r, "all_reduce", err);
}

static int n_all_gather(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	struct stage s = {.in = send, .out = recv, .n_in = n, .n_out = n * (size_t)c->size};
	int rc = stage_in(h, &s, "all_gather", err);
	if (rc)
		return rc;
	ncclResult_t r = lib.ncclAllGather(s.din, s.dout, n, ncclFloat32, h->comm, h->stream);
	return stage_out(h, &s, r, "all_gather", err);
}

static int n_all_to_allv(struct eng_comm *c, const float *send, const size_t *sc, const size_t *sd, float *recv,
			 const size_t *rc_, const size_t *rd, struct eng_err *err)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	struct stage s = {.in = send, .out = recv};
	for (int i = 0; i < c->size; i++) {
		if (sd[i] + sc[i] > s.n_in)
			s.n_in = sd[i] + sc[i];
		if (rd[i] + rc_[i] > s.n_out)
			s.n_out = rd[i] + rc_[i];
	}
	int rc = stage_in(h, &s, "all_to_allv", err);
	if (rc)
		return rc;
	ncclResult_t r = lib.ncclGroupStart();
	for (int i = 0; i < c->size && r == ncclSuccess; i++) {
		if (sc[i])
			r = lib.ncclSend(s.din + sd[i], sc[i], ncclFloat32, i, h->comm, h->stream);
		if (r == ncclSuccess && rc_[i])
			r = lib.ncclRecv(s.dout + rd[i], rc_[i], ncclFloat32, i, h->comm, h->stream);
	}
	ncclResult_t e = lib.ncclGroupEnd();
	return stage_out(h, &s, r != ncclSuccess ? r : e, "all_to_allv", err);
}

static int n_broadcast(struct eng_comm *c, float *buf, size_t n, int root, struct eng_err *err)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	struct stage s = {.in = buf, .out = buf, .n_in = n, .n_out = n};
	int rc = stage_in(h, &s, "broadcast", err);
	if (rc)
		return rc;
	ncclResult_t r = lib.ncclBroadcast(s.din, s.dout, n, ncclFloat32, root, h->comm, h->stream);
	return stage_out(h, &s, r, "broadcast", err);
}

static int n_barrier(struct eng_comm *c, struct eng_err *err)
{
	/* NCCL has no barrier: a one-float all-reduce on the device staging buffer is one. */
	struct nccl_comm *h = (struct nccl_comm *)c;
	int rc = begin(h, "barrier", err);
	if (!rc)
		rc = grow(h, &h->drecv, &h->drecv_n, 1, err);
	if (rc)
		return rc;
	ncclResult_t r = lib.ncclAllReduce(h->drecv, h->drecv, 1, ncclFloat32, ncclSum, h->comm, h->stream);
	return settle(h, r, "barrier", 1, err);
}

static struct nccl_comm *handle_new(int rank, int size, int device, int timeout_ms)
{
	struct nccl_comm *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->base.ops = &nccl_ops;
	h->base.rank = rank;
	h->base.size = size;
	h->device = device;
	h->timeout_ms = timeout_ms;
	return h;
}

static void n_free(struct eng_comm *c)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	lib.cudaSetDevice(h->device);
	if (h->comm)
		lib.ncclCommDestroy(h->comm);
	if (h->stream)
		lib.cudaStreamDestroy(h->stream);
	if (h->dsend)
		lib.cudaFree(h->dsend);
	if (h->drecv)
		lib.cudaFree(h->drecv);
	free(h);
}

static int n_split(struct eng_comm *c, int color, int key, struct eng_comm **out, struct eng_err *err)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	int rc = begin(h, "split", err);
	if (rc)
		return rc;
	ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
	cfg.blocking = 0;
	ncclComm_t nc = NULL;
	ncclResult_t r = lib.ncclCommSplit(h->comm, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &nc, &cfg);
	if ((rc = settle(h, r, "split", 0, err)))
		return rc;
	if (color < 0)
		return ENG_OK;
	int nrank = 0, nsize = 0;
	if (lib.ncclCommUserRank(nc, &nrank) != ncclSuccess || lib.ncclCommCount(nc, &nsize) != ncclSuccess) {
		lib.ncclCommAbort(nc);
		return eng_errf(err, ENG_ECOMM, "nccl split: cannot read the new communicator's rank");
	}
	struct nccl_comm *nh = handle_new(nrank, nsize, h->device, h->timeout_ms);
	if (!nh || lib.cudaStreamCreate(&nh->stream) != cudaSuccess) {
		lib.ncclCommAbort(nc);
		free(nh);
		return eng_errf(err, ENG_ENOMEM, "nccl split: out of memory");
	}
	nh->comm = nc;
	*out = &nh->base;
	return ENG_OK;
}

static void n_abort(struct eng_comm *c, const char *why)
{
	struct nccl_comm *h = (struct nccl_comm *)c;
	if (!h->dead && h->comm) {
		lib.cudaSetDevice(h->device);
		lib.ncclCommAbort(h->comm);
	}
	h->dead = 1;
	h->comm = NULL;
	(void)why; /* peers learn of it through NCCL's own error / their timeout */
}

static const struct eng_comm_ops nccl_ops = {
	.name = "nccl",
	.split = n_split,
	.all_reduce = n_all_reduce,
	.all_gather = n_all_gather,
	.all_to_allv = n_all_to_allv,
	.broadcast = n_broadcast,
	.barrier = n_barrier,
	.abort = n_abort,
	.free = n_free,
};

int eng_comm_nccl_available(void)
{
	return lib_check(NULL) == ENG_OK;
}

int eng_comm_nccl_unique_id(unsigned char id[ENG_COMM_ID_BYTES], struct eng_err *err)
{
	int rc = lib_check(err);
	if (rc)
		return rc;
	_Static_assert(sizeof(ncclUniqueId) == ENG_COMM_ID_BYTES, "NCCL unique id size");
	ncclUniqueId u;
	ncclResult_t r = lib.ncclGetUniqueId(&u);
	if (r != ncclSuccess)
		return eng_errf(err, ENG_ECOMM, "ncclGetUniqueId: %s", lib.ncclGetErrorString(r));
	memcpy(id, &u, sizeof u);
	return ENG_OK;
}

/* Starts one rank's non-blocking init; the caller settles it (inside or outside a group). */
static int init_rank(const ncclUniqueId *u, int n, int rank, int device, int timeout_ms, struct nccl_comm **out,
		     ncclResult_t *r, struct eng_err *err)
{
	*out = NULL;
	if (lib.cudaSetDevice(device) != cudaSuccess)
		return eng_errf(err, ENG_ECUDA, "nccl comm: cannot select device %d", device);
	struct nccl_comm *h = handle_new(rank, n, device, timeout_ms);
	if (!h)
		return eng_errf(err, ENG_ENOMEM, "nccl comm: out of memory");
	if (lib.cudaStreamCreate(&h->stream) != cudaSuccess) {
		free(h);
		return eng_errf(err, ENG_ECUDA, "nccl comm: cannot create a stream on device %d", device);
	}
	ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
	cfg.blocking = 0;
	*r = lib.ncclCommInitRankConfig(&h->comm, n, *u, rank, &cfg);
	*out = h;
	return ENG_OK;
}

int eng_comm_nccl_create_rank(const unsigned char id[ENG_COMM_ID_BYTES], int n, int rank, int device, int timeout_ms,
			      struct eng_comm **out, struct eng_err *err)
{
	*out = NULL;
	int rc = lib_check(err);
	if (rc)
		return rc;
	if (n < 1 || rank < 0 || rank >= n || timeout_ms < 1)
		return eng_errf(err, ENG_EMISUSE, "nccl comm: rank %d of %d (timeout %d ms) is not valid", rank, n, timeout_ms);
	ncclUniqueId u;
	memcpy(&u, id, sizeof u);
	struct nccl_comm *h = NULL;
	ncclResult_t r = ncclSuccess;
	if ((rc = init_rank(&u, n, rank, device, timeout_ms, &h, &r, err)))
		return rc;
	if ((rc = settle(h, r, "init", 0, err))) {
		n_free(&h->base);
		return rc;
	}
	*out = &h->base;
	return ENG_OK;
}

/* ncclCommInitAll is blocking and takes no config; the same thing as one group of per-device
 * non-blocking inits (the pattern NCCL documents for one thread driving several GPUs). */
int eng_comm_nccl_create_all(int n, const int *devices, int timeout_ms, struct eng_comm **comms, struct eng_err *err)
{
	for (int i = 0; i < n; i++)
		comms[i] = NULL;
	int rc = lib_check(err);
	if (rc)
		return rc;
	if (n < 1 || timeout_ms < 1)
		return eng_errf(err, ENG_EMISUSE, "nccl comm: %d devices (timeout %d ms) is not valid", n, timeout_ms);
	unsigned char id[ENG_COMM_ID_BYTES];
	if ((rc = eng_comm_nccl_unique_id(id, err)))
		return rc;
	ncclUniqueId u;
	memcpy(&u, id, sizeof u);
	lib.ncclGroupStart();
	ncclResult_t first = ncclSuccess;
	for (int i = 0; i < n && !rc; i++) {
		struct nccl_comm *h = NULL;
		ncclResult_t r = ncclSuccess;
		rc = init_rank(&u, n, i, devices ? devices[i] : i, timeout_ms, &h, &r, err);
		comms[i] = h ? &h->base : NULL;
		if (first == ncclSuccess && r != ncclInProgress)
			first = r;
	}
	ncclResult_t e = lib.ncclGroupEnd();
	for (int i = 0; i < n && !rc; i++)
		rc = settle((struct nccl_comm *)comms[i], first != ncclSuccess ? first : e, "init", 0, err);
	if (rc)
		for (int i = 0; i < n; i++) {
			eng_comm_free(comms[i]);
			comms[i] = NULL;
		}
	return rc;
}

#else /* built without nccl.h */

int eng_comm_nccl_available(void)
{
	return 0;
}

static int absent(struct eng_err *err)
{
	return eng_errf(err, ENG_EUNSUPPORTED, "nccl comm: engine built without nccl.h (add the CUDA include path)");
}

int eng_comm_nccl_unique_id(unsigned char id[ENG_COMM_ID_BYTES], struct eng_err *err)
{
	(void)id;
	return absent(err);
}

int eng_comm_nccl_create_rank(const unsigned char id[ENG_COMM_ID_BYTES], int n, int rank, int device, int timeout_ms,
			      struct eng_comm **out, struct eng_err *err)
{
	(void)id, (void)n, (void)rank, (void)device, (void)timeout_ms;
	*out = NULL;
	return absent(err);
}

int eng_comm_nccl_create_all(int n, const int *devices, int timeout_ms, struct eng_comm **comms, struct eng_err *err)
{
	(void)devices, (void)timeout_ms;
	for (int i = 0; i < n; i++)
		comms[i] = NULL;
	return absent(err);
}

#endif
