/* forward_deepseek_v3.c — DeepSeek-V3's attention (inference/model.py MLA, with the HF
 * transformers modeling_deepseek_v3 details the references were made with) in its absorbed form,
 * caching only the latent and the rope key; decoder.c runs the rest of the layer. On a rank of a
 * split model it runs that rank's heads (wq_b, wkv_b column parallel, wo row parallel). */
#include <string.h>

#include "engine/model.h"
#include "engine/ops.h"
#include "engine/paged.h"
#include "engine/pool.h"

/* One query head of MLA (absorbed) over positions 0..pos of sequence s's caches of layer l (the
 * latent (R) and rope key (rd) per position, through the block table): q (qk_head_dim) =
 * [q_nope | q_pe], wkv_b the head's (nope + v, R) rows; out o (v_head_dim); q_abs, lat (R) and
 * att (pos + 1) scratch. */
static void mla_head(const struct eng_config *c, const float *q, const float *wkv_b, const struct eng_state *s,
		     int l, int pos, float *q_abs, float *att, float *lat, float *o)
{
	const int nope = c->qk_nope_head_dim, rd = c->qk_rope_head_dim, vd = c->v_head_dim, R = c->kv_lora_rank;
	const float *q_nope = q, *q_pe = q + nope;
	/* q_nope = einsum("bshd,hdc->bshc", q_nope, wkv_b[:, :qk_nope_head_dim]) */
	for (int r = 0; r < R; r++)
		q_abs[r] = 0.0f;
	for (int d = 0; d < nope; d++) {
		const float *row = wkv_b + (size_t)d * R;
		for (int r = 0; r < R; r++)
			q_abs[r] += q_nope[d] * row[r];
	}
	/* scores = (q_nope . kv_cache + q_pe . pe_cache) * softmax_scale */
	for (int p = 0; p <= pos; p++) {
		const float *kv = eng_kv_a(s, l, p), *pe = eng_kv_b(s, l, p);
		float a = 0.0f, b = 0.0f;
		for (int r = 0; r < R; r++)
			a += q_abs[r] * kv[r];
		for (int r = 0; r < rd; r++)
			b += q_pe[r] * pe[r];
		att[p] = (a + b) * c->softmax_scale;
	}
	eng_softmax(att, pos + 1);
	/* x = einsum("bsht,btc->bshc", scores, kv_cache) */
	for (int r = 0; r < R; r++)
		lat[r] = 0.0f;
	for (int p = 0; p <= pos; p++) {
		const float *kv = eng_kv_a(s, l, p);
		for (int r = 0; r < R; r++)
			lat[r] += att[p] * kv[r];
	}
	/* x = einsum("bshc,hdc->bshd", x, wkv_b[:, -v_head_dim:]) */
	for (int d = 0; d < vd; d++) {
		const float *row = wkv_b + (size_t)(nope + d) * R;
		float a = 0.0f;
		for (int r = 0; r < R; r++)
			a += row[r] * lat[r];
		o[d] = a;
	}
}

/* MLA.forward (attn_impl "absorb") for the token at pos, on this rank's heads (wq_b, wkv_b column
 * parallel; wq_a, wkv_a and the latent cache whole on every rank); in: xb (dim,), out: xb2 (dim,),
 * the partial sum of wo (row parallel) until the caller's all_reduce. */
void eng_attn_mla(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos)
{
	const struct eng_config *c = &t->cfg;
	const int H = t->part.n_heads, nope = c->qk_nope_head_dim, rd = c->qk_rope_head_dim;
	const int qhd = c->qk_head_dim, vd = c->v_head_dim, R = c->kv_lora_rank;
	const float *cos = s->rope_cos + (size_t)pos * (rd / 2), *sin = s->rope_sin + (size_t)pos * (rd / 2);

	/* q = wq_b(q_norm(wq_a(x))) -> (H, qk_head_dim) = [q_nope | q_pe] per head */
	if (c->q_lora_rank) {
		eng_pool_linear(s->pool, s->q_a, &L->wq_a, s->xb);
		eng_rmsnorm(s->q_a, s->q_a, L->q_norm, c->q_lora_rank, c->rms_norm_eps);
		eng_pool_linear(s->pool, s->q, &L->wq_b, s->q_a);
	} else {
		eng_pool_linear(s->pool, s->q, &L->wq, s->xb);
	}
	for (int h = 0; h < H; h++)
		eng_rope(s->q + (size_t)h * qhd + nope, cos, sin, rd, c->rope_interleave);

	/* kv, k_pe = wkv_a(x).split([kv_lora_rank, qk_rope_head_dim]); cache kv_norm(kv) and rope(k_pe) */
	eng_pool_linear(s->pool, s->kv_a, &L->wkv_a, s->xb);
	float *kv = eng_kv_a(s, l, pos), *pe = eng_kv_b(s, l, pos);
	eng_rmsnorm(kv, s->kv_a, L->kv_norm, R, c->rms_norm_eps);
	memcpy(pe, s->kv_a + R, (size_t)rd * sizeof(float));
	eng_rope(pe, cos, sin, rd, c->rope_interleave);

	for (int h = 0; h < H; h++)
		mla_head(c, s->q + (size_t)h * qhd, L->wkv_b.w + (size_t)h * (nope + vd) * R, s, l, pos,
			 s->q_abs + (size_t)h * R, s->att + (size_t)h * s->max_seq, s->att_lat + (size_t)h * R,
			 s->att_out + (size_t)h * vd);
	eng_pool_linear(s->pool, s->xb2, &L->wo, s->att_out);
}

/* ---- batched: the same steps over rows (eng_forward_batch; whole model only) ---- */

/* MLA over rows; in xb (n, dim), out xb2 (n, dim). Every row writes its sequence's caches at its
 * position (through its block table) before any row attends, so the rows of one prompt chunk see each other causally. */
void eng_attn_mla_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
		       const int *pos, struct eng_state *const *seq)
{
	const struct eng_config *c = &t->cfg;
	const int H = t->part.n_heads, nope = c->qk_nope_head_dim, rd = c->qk_rope_head_dim;
	const int qhd = c->qk_head_dim, vd = c->v_head_dim, R = c->kv_lora_rank, ql = c->q_lora_rank;
	const size_t dim = (size_t)c->hidden_size, ldq = (size_t)H * qhd, ldo = (size_t)H * vd, lda = (size_t)(R + rd);
	if (ql) {
		eng_pool_linear_rows(b->pool, b->q_a, (size_t)ql, &L->wq_a, b->xb, dim, n);
		for (int r = 0; r < n; r++)
			eng_rmsnorm(b->q_a + (size_t)r * ql, b->q_a + (size_t)r * ql, L->q_norm, ql, c->rms_norm_eps);
		eng_pool_linear_rows(b->pool, b->q, ldq, &L->wq_b, b->q_a, (size_t)ql, n);
	} else {
		eng_pool_linear_rows(b->pool, b->q, ldq, &L->wq, b->xb, dim, n);
	}
	eng_pool_linear_rows(b->pool, b->kv_a, lda, &L->wkv_a, b->xb, dim, n);
	for (int r = 0; r < n; r++) {
		const int p = pos[r];
		const float *cos = b->rope_cos + (size_t)p * (rd / 2), *sin = b->rope_sin + (size_t)p * (rd / 2);
		for (int h = 0; h < H; h++)
			eng_rope(b->q + (size_t)r * ldq + (size_t)h * qhd + nope, cos, sin, rd, c->rope_interleave);
		float *kv = eng_kv_a(seq[r], l, p), *pe = eng_kv_b(seq[r], l, p);
		eng_rmsnorm(kv, b->kv_a + (size_t)r * lda, L->kv_norm, R, c->rms_norm_eps);
		memcpy(pe, b->kv_a + (size_t)r * lda + R, (size_t)rd * sizeof(float));
		eng_rope(pe, cos, sin, rd, c->rope_interleave);
	}
	/* heads outer: a head's wkv_b rows stay in cache while every row uses them */
	for (int h = 0; h < H; h++) {
		const float *wkv_b = L->wkv_b.w + (size_t)h * (nope + vd) * R;
		for (int r = 0; r < n; r++)
			mla_head(c, b->q + (size_t)r * ldq + (size_t)h * qhd, wkv_b, seq[r], l, pos[r], b->q_abs, b->att,
				 b->att_lat, b->att_out + (size_t)r * ldo + (size_t)h * vd);
	}
	eng_pool_linear_rows(b->pool, b->xb2, dim, &L->wo, b->att_out, ldo, n);
}
