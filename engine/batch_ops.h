/* batch_ops.h — leaf operations over several rows at once (internal), for eng_forward_batch: a
 * weight matrix is read once for all rows of a step instead of once per sequence, which is what
 * a memory-bound CPU gains from batching. Each (output, row) pair is summed exactly as eng_linear
 * sums it, so a row's result does not depend on the other rows or the thread count. */
#ifndef ENG_BATCH_OPS_H
#define ENG_BATCH_OPS_H

#include <stddef.h>

#include "engine/model.h"

struct eng_pool; /* pool.h; NULL: the caller's thread only */

/* nn.Linear over rows: W (out, in) @ x[r] (in,) [+ b] -> y[r] (out,) for r < n; row r of x starts at
 * x + r * ldx, of y at y + r * ldy. y must not alias x. eng_linear is this with n = 1. */
void eng_linear_rows(float *y, size_t ldy, const struct eng_linear *l, const float *x, size_t ldx, int n);

/* MLP / Expert over rows: out[r] (m->w2.out,) = w2(silu(w1(x[r])) * w3(x[r])), rows contiguous
 * (ld = the vector sizes); hb, hb2 scratch (n, m->w1.out). As eng_swiglu_mlp row by row. */
void eng_swiglu_rows(struct eng_pool *p, float *out, const struct eng_mlp *m, const float *x, int n, float *hb,
		     float *hb2);

/* Routed experts over rows: each expert some row chose runs once over all the rows that chose it
 * (its weights read once per step). idx (n, K) the choices; eo row r * K + k (dim) gets expert
 * idx[r * K + k]'s output for row r; experts without weights here (another rank's) are skipped,
 * leaving their eo rows as they were. in, tmp (n, dim), rows, ks (n), hb, hb2 (n, inter) scratch. */
void eng_experts_rows(struct eng_pool *p, const struct eng_mlp *experts, int n_experts, int K, int n,
		      const float *x, int dim, const int *idx, float *eo, float *in, float *tmp, int *rows, int *ks,
		      float *hb, float *hb2);

#endif
