/* ops.c — leaf operations of the CPU forward (see ops.h). Plain loops the compiler vectorises;
 * accumulation in float32 like the reference's float32 matmuls. */
#include <math.h>

#include "engine/batch_ops.h"
#include "engine/ops.h"
#include "engine/pool.h"

void eng_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
	float ss = 0.0f;
	for (int i = 0; i < n; i++)
		ss += x[i] * x[i];
	float r = 1.0f / sqrtf(ss / (float)n + eps);
	for (int i = 0; i < n; i++)
		out[i] = w[i] * (x[i] * r);
}

void eng_linear(float *y, const struct eng_linear *l, const float *x)
{
	eng_linear_rows(y, 0, l, x, 0, 1); /* one summation order for single and batched steps */
}

void eng_softmax(float *x, int n)
{
	float max = x[0];
	for (int i = 1; i < n; i++)
		if (x[i] > max)
			max = x[i];
	float sum = 0.0f;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	for (int i = 0; i < n; i++)
		x[i] /= sum;
}

void eng_rope(float *x, const float *cos, const float *sin, int rope_dim, int interleave)
{
	int half = rope_dim / 2;
	for (int i = 0; i < half; i++) {
		int a = interleave ? 2 * i : i, b = interleave ? 2 * i + 1 : i + half;
		float x0 = x[a], x1 = x[b];
		x[a] = x0 * cos[i] - x1 * sin[i];
		x[b] = x1 * cos[i] + x0 * sin[i];
	}
}

void eng_swiglu_mlp(struct eng_pool *pool, float *out, const struct eng_mlp *m, const float *x, float *hb, float *hb2)
{
	eng_pool_linear(pool, hb, &m->w1, x);
	eng_pool_linear(pool, hb2, &m->w3, x);
	for (int i = 0; i < m->w1.out; i++) {
		float g = hb[i];
		hb[i] = g / (1.0f + expf(-g)) * hb2[i]; /* F.silu(w1(x)) * w3(x) */
	}
	eng_pool_linear(pool, out, &m->w2, hb);
}
