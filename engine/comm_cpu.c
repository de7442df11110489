/* comm_cpu.c — the CPU backend of comm.h: the ranks are threads of this process and a collective
 * reads the other ranks' buffers directly. Each collective is publish -> wait -> copy/reduce ->
 * wait: after the first wait every rank's pointers are visible, after the second nobody reads a
 * buffer its owner is about to change. Waits are bounded (timeout_ms) and watch a failure flag
 * shared by every group split from one world, so a dead or failing rank yields ENG_ECOMM in the
 * others instead of a hang (what NCCL's async error + ncclCommAbort give on GPUs). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/comm_impl.h"
#include "engine/err.h"

/* Shared by a world and every group split from it. */
struct fabric {
	atomic_int failed;
	pthread_mutex_t mu; /* guards why and refs */
	char why[160];
	int refs; /* groups alive */
	int timeout_ms;
};

struct group {
	struct fabric *fab;
	int n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long gen; /* completed waits */
	int arrived;
	int refs; /* rank handles alive */
	/* published by each rank between the two waits of a collective */
	const float **src;
	const size_t **cnt, **displ;
	int *color, *key;
	struct group **made; /* split: the new group of each rank */
};

struct cpu_comm {
	struct eng_comm base;
	struct group *g;
	float *tmp; /* all_reduce result before it overwrites the caller's buffer */
	size_t tmp_n;
};

static const struct eng_comm_ops cpu_ops;

static void fabric_unref(struct fabric *f)
{
	pthread_mutex_lock(&f->mu);
	int last = --f->refs == 0;
	pthread_mutex_unlock(&f->mu);
	if (last) {
		pthread_mutex_destroy(&f->mu);
		free(f);
	}
}

static void group_free(struct group *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g->src);
	free(g->cnt);
	free(g->displ);
	free(g->color);
	free(g->key);
	free(g->made);
	if (g->fab)
		fabric_unref(g->fab);
	free(g);
}

static struct group *group_new(struct fabric *f, int n)
{
	struct group *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* timeouts immune to wall-clock jumps */
	int ok = pthread_mutex_init(&g->mu, NULL) == 0;
	ok = pthread_cond_init(&g->cv, &ca) == 0 && ok;
	pthread_condattr_destroy(&ca);
	g->n = g->refs = n;
	g->src = calloc((size_t)n, sizeof *g->src);
	g->cnt = calloc((size_t)n, sizeof *g->cnt);
	g->displ = calloc((size_t)n, sizeof *g->displ);
	g->color = calloc((size_t)n, sizeof *g->color);
	g->key = calloc((size_t)n, sizeof *g->key);
	g->made = calloc((size_t)n, sizeof *g->made);
	if (!ok || !g->src || !g->cnt || !g->displ || !g->color || !g->key || !g->made) {
		group_free(g);
		return NULL;
	}
	pthread_mutex_lock(&f->mu);
	f->refs++;
	pthread_mutex_unlock(&f->mu);
	g->fab = f;
	return g;
}

static struct cpu_comm *handle_new(struct group *g, int rank)
{
	struct cpu_comm *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->base.ops = &cpu_ops;
	h->base.rank = rank;
	h->base.size = g->n;
	h->g = g;
	return h;
}

static void fail_world(struct fabric *f, int rank, const char *why)
{
	pthread_mutex_lock(&f->mu);
	if (!atomic_load(&f->failed)) {
		snprintf(f->why, sizeof f->why, "rank %d: %s", rank, why);
		atomic_store(&f->failed, 1);
	}
	pthread_mutex_unlock(&f->mu);
}

static int failed_err(struct cpu_comm *h, const char *op, struct eng_err *err)
{
	struct fabric *f = h->g->fab;
	pthread_mutex_lock(&f->mu);
	int rc = eng_errf(err, ENG_ECOMM, "%s on rank %d of %d: the group failed (%s)", op, h->base.rank, h->base.size,
			  f->why);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* The barrier every collective is built from. Sleeps in slices of at most 20 ms so that a
 * failure flagged from another group of the same world is seen promptly. */
static int wait_all(struct cpu_comm *h, const char *op, struct eng_err *err)
{
	struct group *g = h->g;
	struct fabric *f = g->fab;
	if (atomic_load(&f->failed))
		return failed_err(h, op, err);
	pthread_mutex_lock(&g->mu);
	unsigned long gen = g->gen;
	if (++g->arrived == g->n) {
		g->arrived = 0;
		g->gen++;
		pthread_cond_broadcast(&g->cv);
		pthread_mutex_unlock(&g->mu);
		return ENG_OK;
	}
	double deadline = now_ms() + f->timeout_ms;
	while (g->gen == gen) {
		if (atomic_load(&f->failed)) {
			pthread_mutex_unlock(&g->mu);
			return failed_err(h, op, err);
		}
		double t = now_ms();
		if (t >= deadline) {
			pthread_mutex_unlock(&g->mu);
			char why[96];
			snprintf(why, sizeof why, "timed out after %d ms in %s waiting for the other ranks", f->timeout_ms, op);
			fail_world(f, h->base.rank, why);
			return failed_err(h, op, err);
		}
		double until = t + 20 < deadline ? t + 20 : deadline;
		struct timespec ts = {.tv_sec = (time_t)(until / 1e3)};
		ts.tv_nsec = (long)((until - ts.tv_sec * 1e3) * 1e6);
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	}
	pthread_mutex_unlock(&g->mu);
	return ENG_OK;
}

static int cpu_all_reduce(struct eng_comm *c, float *buf, size_t n, struct eng_err *err)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	struct group *g = h->g;
	if (h->tmp_n < n) { /* grows once to the largest vector; later calls allocate nothing */
		float *t = realloc(h->tmp, n * sizeof *t);
		if (!t) {
			fail_world(g->fab, c->rank, "out of memory in all_reduce");
			return eng_errf(err, ENG_ENOMEM, "all_reduce: out of memory for %zu floats", n);
		}
		h->tmp = t;
		h->tmp_n = n;
	}
	g->src[c->rank] = buf;
	int rc = wait_all(h, "all_reduce", err);
	if (rc)
		return rc;
	/* The same order on every rank, so every rank ends with the same bits. */
	memcpy(h->tmp, g->src[0], n * sizeof(float));
	for (int r = 1; r < g->n; r++) {
		const float *s = g->src[r];
		for (size_t i = 0; i < n; i++)
			h->tmp[i] += s[i];
	}
	if ((rc = wait_all(h, "all_reduce", err)))
		return rc;
	memcpy(buf, h->tmp, n * sizeof(float));
	return ENG_OK;
}

static int cpu_all_gather(struct eng_comm *c, const float *send, float *recv, size_t n, struct eng_err *err)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	struct group *g = h->g;
	g->src[c->rank] = send;
	int rc = wait_all(h, "all_gather", err);
	if (rc)
		return rc;
	for (int r = 0; r < g->n; r++)
		if (recv + (size_t)r * n != g->src[r])
			memcpy(recv + (size_t)r * n, g->src[r], n * sizeof(float));
	return wait_all(h, "all_gather", err);
}

static int cpu_all_to_allv(struct eng_comm *c, const float *send, const size_t *scount, const size_t *sdispl,
			   float *recv, const size_t *rcount, const size_t *rdispl, struct eng_err *err)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	struct group *g = h->g;
	g->src[c->rank] = send;
	g->cnt[c->rank] = scount;
	g->displ[c->rank] = sdispl;
	int rc = wait_all(h, "all_to_allv", err);
	if (rc)
		return rc;
	int bad = -1;
	for (int r = 0; r < g->n && bad < 0; r++)
		if (g->cnt[r][c->rank] != rcount[r])
			bad = r;
	if (bad < 0)
		for (int r = 0; r < g->n; r++)
			memcpy(recv + rdispl[r], g->src[r] + g->displ[r][c->rank], rcount[r] * sizeof(float));
	size_t sent = bad >= 0 ? g->cnt[bad][c->rank] : 0; /* read before the wait lets it change */
	if ((rc = wait_all(h, "all_to_allv", err)))
		return rc;
	if (bad >= 0)
		return eng_errf(err, ENG_EMISUSE, "all_to_allv: rank %d sends %zu floats to rank %d, which expects %zu", bad,
				sent, c->rank, rcount[bad]);
	return ENG_OK;
}

static int cpu_broadcast(struct eng_comm *c, float *buf, size_t n, int root, struct eng_err *err)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	struct group *g = h->g;
	g->src[c->rank] = buf;
	int rc = wait_all(h, "broadcast", err);
	if (rc)
		return rc;
	if (c->rank != root)
		memcpy(buf, g->src[root], n * sizeof(float));
	return wait_all(h, "broadcast", err);
}

static int cpu_barrier(struct eng_comm *c, struct eng_err *err)
{
	return wait_all((struct cpu_comm *)c, "barrier", err);
}

/* Each color's first member (by key, then rank) makes the new group for all of them. */
static int cpu_split(struct eng_comm *c, int color, int key, struct eng_comm **out, struct eng_err *err)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	struct group *g = h->g;
	g->color[c->rank] = color;
	g->key[c->rank] = key;
	g->made[c->rank] = NULL;
	int rc = wait_all(h, "split", err);
	if (rc)
		return rc;
	int m = 0, pos = 0, leader = 1;
	for (int r = 0; r < g->n; r++) {
		if (g->color[r] != color)
			continue;
		m++;
		int before = g->key[r] < key || (g->key[r] == key && r < c->rank);
		pos += before;
		if (before)
			leader = 0;
	}
	int made_ok = 1;
	if (color >= 0 && leader) {
		struct group *ng = group_new(g->fab, m);
		made_ok = ng != NULL;
		for (int r = 0; r < g->n && ng; r++)
			if (g->color[r] == color)
				g->made[r] = ng;
	}
	if (!made_ok)
		fail_world(g->fab, c->rank, "out of memory in split");
	if ((rc = wait_all(h, "split", err)))
		return rc;
	struct group *ng = color >= 0 ? g->made[c->rank] : NULL;
	int rc2 = ENG_OK;
	if (ng) {
		struct cpu_comm *nh = handle_new(ng, pos);
		if (!nh) {
			fail_world(g->fab, c->rank, "out of memory in split");
			rc2 = eng_errf(err, ENG_ENOMEM, "split: out of memory");
			/* drop this rank's reference; the others see the failure on their first wait */
			pthread_mutex_lock(&ng->mu);
			int last = --ng->refs == 0;
			pthread_mutex_unlock(&ng->mu);
			if (last)
				group_free(ng);
		} else {
			*out = &nh->base;
		}
	}
	/* third wait: no rank may start another split (and reset made[]) before all have read theirs */
	if ((rc = wait_all(h, "split", err))) {
		eng_comm_free(*out);
		*out = NULL;
		return rc;
	}
	return rc2;
}

static void cpu_abort(struct eng_comm *c, const char *why)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	fail_world(h->g->fab, c->rank, why);
}

static void cpu_free(struct eng_comm *c)
{
	struct cpu_comm *h = (struct cpu_comm *)c;
	struct group *g = h->g;
	pthread_mutex_lock(&g->mu);
	int last = --g->refs == 0;
	pthread_mutex_unlock(&g->mu);
	if (last)
		group_free(g);
	free(h->tmp);
	free(h);
}

static const struct eng_comm_ops cpu_ops = {
	.name = "cpu",
	.split = cpu_split,
	.all_reduce = cpu_all_reduce,
	.all_gather = cpu_all_gather,
	.all_to_allv = cpu_all_to_allv,
	.broadcast = cpu_broadcast,
	.barrier = cpu_barrier,
	.abort = cpu_abort,
	.free = cpu_free,
};

int eng_comm_cpu_create(int n, int timeout_ms, struct eng_comm **comms, struct eng_err *err)
{
	if (n < 1 || n > 4096)
		return eng_errf(err, ENG_EMISUSE, "cpu comm: %d ranks, must be 1..4096", n);
	if (timeout_ms < 1)
		return eng_errf(err, ENG_EMISUSE, "cpu comm: timeout %d ms, must be > 0", timeout_ms);
	for (int i = 0; i < n; i++)
		comms[i] = NULL;
	struct fabric *f = calloc(1, sizeof *f);
	if (!f || pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		return eng_errf(err, ENG_ENOMEM, "cpu comm: out of memory");
	}
	f->timeout_ms = timeout_ms;
	f->refs = 1; /* held until the group takes its own reference */
	struct group *g = group_new(f, n);
	fabric_unref(f);
	if (!g)
		return eng_errf(err, ENG_ENOMEM, "cpu comm: out of memory");
	for (int i = 0; i < n; i++) {
		struct cpu_comm *h = handle_new(g, i);
		if (!h) {
			g->refs = i; /* the handles made so far hold it */
			for (int j = 0; j < i; j++) {
				eng_comm_free(comms[j]);
				comms[j] = NULL;
			}
			if (i == 0)
				group_free(g);
			return eng_errf(err, ENG_ENOMEM, "cpu comm: out of memory");
		}
		comms[i] = &h->base;
	}
	return ENG_OK;
}
