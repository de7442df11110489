/* ops.h — the leaf operations the CPU forward passes are built from (internal), each named after
 * the PyTorch step it implements and opening with its shapes. */
#ifndef ENG_OPS_H
#define ENG_OPS_H

#include "engine/model.h"

struct eng_pool;

/* RMSNorm (HF DeepseekV3RMSNorm / Qwen3RMSNorm): out = w * x / sqrt(mean(x^2) + eps); x, out (n,),
 * may alias. */
void eng_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* nn.Linear: W (out, in) @ x (in,) [+ b] -> y (out,). y must not alias x. */
void eng_linear(float *y, const struct eng_linear *l, const float *x);

/* In-place softmax over x (n,). */
void eng_softmax(float *x, int n);

/* Rotary embedding of one head vector x (rope_dim,) at the position whose cos/sin rows are given
 * (rope_dim / 2 each). interleave: pairs (2i, 2i+1) as HF apply_rotary_pos_emb_interleave (the
 * permutation it applies to q and k alike cancels in q.k); else pairs (i, i + d/2), rotate_half. */
void eng_rope(float *x, const float *cos, const float *sin, int rope_dim, int interleave);

/* MLP / Expert: out (dim,) = w2(silu(w1(x)) * w3(x)); hb, hb2 scratch (inter,); pool may be NULL. */
void eng_swiglu_mlp(struct eng_pool *pool, float *out, const struct eng_mlp *m, const float *x, float *hb, float *hb2);

#endif
