/* batch_ops.c — matrix x matrix products for batched steps (see batch_ops.h) and the thread pool
 * that splits them by output rows. The pool mirrors pool.c (a generation counter under one mutex
 * hands out each job, so a worker waking late never runs a stale job twice) with a job that
 * carries the row count. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch_ops.h"

/* Below this many multiply-adds the wake-up costs more than the work saves (as pool.c). */
#define BPOOL_MIN_WORK (1 << 16)

/* Four floats in one SSE register (GCC vector extension): lane k sums the products j = k mod 4. */
typedef float v4 __attribute__((vector_size(16)));

static inline v4 load4(const float *p)
{
	v4 v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* The end of row . x: the tail j >= j0 into lane 0, then (a0 + a1) + (a2 + a3). With the lanes
 * this is the summation order eng_linear has always used (four partial sums a0..a3), kept so that
 * batched and one-at-a-time logits are bit-identical. */
static inline float dot_end(v4 acc, const float *row, const float *x, int j0, int in)
{
	float a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
	for (int j = j0; j < in; j++)
		a0 += row[j] * x[j];
	return (a0 + a1) + (a2 + a3);
}

void eng_linear_rows(float *y, size_t ldy, const struct eng_linear *l, const float *x, size_t ldx, int n)
{
	const int in = l->in, in4 = in & ~3;
	/* Weight row outer, input rows inner: each weight row comes from memory once and is reused
	 * from L1 for every row of the step; four input rows at a time share each load of it. */
	for (int i = 0; i < l->out; i++) {
		const float *row = l->w + (size_t)i * in;
		const float b = l->b ? l->b[i] : 0.0f;
		int r = 0;
		for (; r + 4 <= n; r += 4) {
			const float *x0 = x + (size_t)r * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
			v4 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
			for (int j = 0; j < in4; j += 4) {
				v4 w = load4(row + j);
				s0 += w * load4(x0 + j);
				s1 += w * load4(x1 + j);
				s2 += w * load4(x2 + j);
				s3 += w * load4(x3 + j);
			}
			y[(size_t)r * ldy + i] = dot_end(s0, row, x0, in4, in) + b;
			y[(size_t)(r + 1) * ldy + i] = dot_end(s1, row, x1, in4, in) + b;
			y[(size_t)(r + 2) * ldy + i] = dot_end(s2, row, x2, in4, in) + b;
			y[(size_t)(r + 3) * ldy + i] = dot_end(s3, row, x3, in4, in) + b;
		}
		for (; r < n; r++) {
			const float *xr = x + (size_t)r * ldx;
			v4 s0 = {0};
			for (int j = 0; j < in4; j += 4)
				s0 += load4(row + j) * load4(xr + j);
			y[(size_t)r * ldy + i] = dot_end(s0, row, xr, in4, in) + b;
		}
	}
}

struct eng_bpool {
	int n; /* threads including the caller */
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;
	int pending, quit;
	/* the job */
	float *y;
	size_t ldy, ldx;
	const struct eng_linear *l;
	const float *x;
	int rows;
};

struct worker_arg {
	struct eng_bpool *p;
	int idx;
};

static void run_share(const struct eng_bpool *p, int idx, float *y, size_t ldy, const struct eng_linear *l,
		      const float *x, size_t ldx, int rows)
{
	int lo = (int)((long)l->out * idx / p->n), hi = (int)((long)l->out * (idx + 1) / p->n);
	struct eng_linear part = {.w = l->w + (size_t)lo * l->in, .b = l->b ? l->b + lo : NULL, .out = hi - lo, .in = l->in};
	if (part.out > 0)
		eng_linear_rows(y + lo, ldy, &part, x, ldx, rows);
}

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct eng_bpool *p = wa->p;
	int idx = wa->idx;
	free(wa);
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		float *y = p->y;
		size_t ldy = p->ldy, ldx = p->ldx;
		const struct eng_linear *l = p->l;
		const float *x = p->x;
		int rows = p->rows;
		pthread_mutex_unlock(&p->mu);
		run_share(p, idx, y, ldy, l, x, ldx, rows);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void eng_bpool_free(struct eng_bpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
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

struct eng_bpool *eng_bpool_create(int n_threads)
{
	if (n_threads < 2)
		return NULL;
	struct eng_bpool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (!(p->th = calloc((size_t)n_threads, sizeof *p->th))) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->n = 1;
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa)
			*wa = (struct worker_arg){.p = p, .idx = i};
		if (!wa || pthread_create(&p->th[i], NULL, worker, wa) != 0) {
			free(wa);
			eng_bpool_free(p);
			return NULL;
		}
		p->n = i + 1;
	}
	return p;
}

void eng_bpool_linear(struct eng_bpool *p, float *y, size_t ldy, const struct eng_linear *l, const float *x,
		      size_t ldx, int n)
{
	if (n < 1)
		return;
	if (!p || (long)l->out * l->in * n < BPOOL_MIN_WORK || l->out < p->n) {
		eng_linear_rows(y, ldy, l, x, ldx, n);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->y = y;
	p->ldy = ldy;
	p->l = l;
	p->x = x;
	p->ldx = ldx;
	p->rows = n;
	p->pending = p->n - 1;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	run_share(p, 0, y, ldy, l, x, ldx, n);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void eng_swiglu_rows(struct eng_bpool *p, float *out, const struct eng_mlp *m, const float *x, int n, float *hb,
		     float *hb2)
{
	const size_t inter = (size_t)m->w1.out, dim = (size_t)m->w1.in;
	eng_bpool_linear(p, hb, inter, &m->w1, x, dim, n);
	eng_bpool_linear(p, hb2, inter, &m->w3, x, dim, n);
	for (size_t i = 0; i < (size_t)n * inter; i++) {
		float g = hb[i];
		hb[i] = g / (1.0f + expf(-g)) * hb2[i]; /* F.silu(w1(x)) * w3(x) */
	}
	eng_bpool_linear(p, out, (size_t)m->w2.out, &m->w2, hb, inter, n);
}

void eng_experts_rows(struct eng_bpool *p, const struct eng_mlp *experts, int n_experts, int K, int n,
		      const float *x, int dim, const int *idx, float *eo, float *in, float *tmp, int *rows, int *ks,
		      float *hb, float *hb2)
{
	const size_t d = (size_t)dim;
	for (int e = 0; e < n_experts; e++) {
		if (!experts[e].w1.w)
			continue;
		int m = 0;
		for (int r = 0; r < n; r++)
			for (int k = 0; k < K; k++)
				if (idx[r * K + k] == e) { /* a row chooses an expert at most once */
					rows[m] = r;
					ks[m++] = k;
					break;
				}
		if (!m)
			continue;
		for (int j = 0; j < m; j++)
			memcpy(in + (size_t)j * d, x + (size_t)rows[j] * d, d * sizeof(float));
		eng_swiglu_rows(p, tmp, &experts[e], in, m, hb, hb2);
		for (int j = 0; j < m; j++)
			memcpy(eo + ((size_t)rows[j] * K + ks[j]) * d, tmp + (size_t)j * d, d * sizeof(float));
	}
}
