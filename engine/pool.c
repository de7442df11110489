/* pool.c — a fixed set of pthreads running one function on every thread at once: the caller's
 * thread is share 0, worker i share i. A generation counter hands out each job, so a worker that
 * wakes late can never run a stale job twice. On it: row-parallel matrix products for single-token
 * and batched steps, and the ranks of a split model (parallel_run.c).
 *
 * A decode step is a hundred or so small jobs with serial work between them. Sleeping on a
 * condition variable after each job made two threads slower than one (a futex wake is tens of
 * microseconds on a VM, as long as a job), so both sides spin on the counters for a short while
 * before they sleep, as llama.cpp's and calm's thread pools do; between tokens they sleep. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "engine/batch_ops.h"
#include "engine/pool.h"

/* Below this many multiply-adds the wake-up costs more than the work saves. */
#define POOL_MIN_WORK (1 << 16)
/* How long a thread spins for the next job (or for the others to finish) before it sleeps. */
#define POOL_SPIN_NS 200000L

/* eng_linear_rows(y, ldy, l, x, ldx, rows), its output rows cut into n_shares shares. */
struct linear_job {
	float *y;
	size_t ldy, ldx;
	const struct eng_linear *l;
	const float *x;
	int rows, n_shares;
};

struct eng_pool {
	int n; /* threads including the caller */
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	atomic_ulong gen;   /* bumped (release) after fn and arg are set */
	atomic_int pending; /* workers still running the current job */
	atomic_int quit;
	void (*fn)(void *arg, int share); /* the job */
	void *arg;
};

struct worker_arg {
	struct eng_pool *p;
	int idx;
};

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Spins until *v != old or the spin time is up; returns the last value read. */
static unsigned long spin_gen(struct eng_pool *p, unsigned long old)
{
	long t0 = now_ns();
	for (int i = 1;; i++) {
		unsigned long g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g != old || atomic_load_explicit(&p->quit, memory_order_relaxed))
			return g;
		cpu_relax();
		if ((i & 63) == 0 && now_ns() - t0 > POOL_SPIN_NS)
			return g;
	}
}

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct eng_pool *p = wa->p;
	int idx = wa->idx;
	free(wa);
	unsigned long seen = 0;
	for (;;) {
		unsigned long g = spin_gen(p, seen);
		if (g == seen && !atomic_load(&p->quit)) {
			pthread_mutex_lock(&p->mu);
			while (!atomic_load(&p->quit) && (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
				pthread_cond_wait(&p->go, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->quit))
			break;
		seen = g;
		p->fn(p->arg, idx);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			/* Under the mutex: the caller checks pending under it before it sleeps. */
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

void eng_pool_free(struct eng_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->quit, 1);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->th);
	free(p);
}

struct eng_pool *eng_pool_create(int n_threads)
{
	if (n_threads < 2)
		return NULL;
	struct eng_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (!(p->th = calloc((size_t)n_threads, sizeof *p->th))) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->n = 1; /* counts only the workers started, so eng_pool_free joins exactly those */
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa)
			*wa = (struct worker_arg){.p = p, .idx = i};
		if (!wa || pthread_create(&p->th[i], NULL, worker, wa) != 0) {
			free(wa);
			eng_pool_free(p);
			return NULL;
		}
		p->n = i + 1;
	}
	return p;
}

void eng_pool_run(struct eng_pool *p, void (*fn)(void *arg, int share), void *arg)
{
	if (!p) {
		fn(arg, 0);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
	/* The bump under the mutex: a worker about to sleep checks gen under it, so it either sees
	 * the new job or is waiting when the broadcast comes (which costs nothing without waiters). */
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	fn(arg, 0);
	long t0 = now_ns();
	for (int i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
		cpu_relax();
		if ((i & 63) == 0 && now_ns() - t0 > POOL_SPIN_NS)
			break;
	}
	if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
}

static void linear_share(void *arg, int idx)
{
	const struct linear_job *j = arg;
	const struct eng_linear *l = j->l;
	int lo = (int)((long)l->out * idx / j->n_shares), hi = (int)((long)l->out * (idx + 1) / j->n_shares);
	struct eng_linear part = {.w = l->w + (size_t)lo * l->in, .b = l->b ? l->b + lo : NULL, .out = hi - lo, .in = l->in};
	if (part.out > 0)
		eng_linear_rows(j->y + lo, j->ldy, &part, j->x, j->ldx, j->rows);
}

void eng_pool_linear_rows(struct eng_pool *p, float *y, size_t ldy, const struct eng_linear *l, const float *x,
			  size_t ldx, int n)
{
	if (n < 1)
		return;
	if (!p || (long)l->out * l->in * n < POOL_MIN_WORK || l->out < p->n) {
		eng_linear_rows(y, ldy, l, x, ldx, n);
		return;
	}
	struct linear_job job = {.y = y, .ldy = ldy, .ldx = ldx, .l = l, .x = x, .rows = n, .n_shares = p->n};
	eng_pool_run(p, linear_share, &job);
}

void eng_pool_linear(struct eng_pool *p, float *y, const struct eng_linear *l, const float *x)
{
	eng_pool_linear_rows(p, y, 0, l, x, 0, 1); /* eng_linear is eng_linear_rows with one row */
}
