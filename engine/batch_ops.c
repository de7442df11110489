/* batch_ops.c — matrix x matrix products for batched steps (see batch_ops.h); pool.c splits them
 * over threads by output rows. */
#include <math.h>
#include <string.h>

#include "engine/batch_ops.h"
#include "engine/pool.h"

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

void eng_swiglu_rows(struct eng_pool *p, float *out, const struct eng_mlp *m, const float *x, int n, float *hb,
		     float *hb2)
{
	const size_t inter = (size_t)m->w1.out, dim = (size_t)m->w1.in;
	eng_pool_linear_rows(p, hb, inter, &m->w1, x, dim, n);
	eng_pool_linear_rows(p, hb2, inter, &m->w3, x, dim, n);
	for (size_t i = 0; i < (size_t)n * inter; i++) {
		float g = hb[i];
		hb[i] = g / (1.0f + expf(-g)) * hb2[i]; /* F.silu(w1(x)) * w3(x) */
	}
	eng_pool_linear_rows(p, out, (size_t)m->w2.out, &m->w2, hb, inter, n);
}

void eng_experts_rows(struct eng_pool *p, const struct eng_mlp *experts, int n_experts, int K, int n,
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
