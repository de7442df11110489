/* forward_gqa.c — the grouped-query attention of qwen3_moe (HF modeling_qwen3_moe: per-head
 * q_norm/k_norm) and of the dense qwen3 / qwen2 (q/k/v bias) / llama decoders the DeepSeek-R1
 * distilled models use. The layers differ only in the optional pieces the config switches on, so
 * one function reads them all; decoder.c runs the rest of the layer. A rank of a split model runs
 * its own heads and the kv heads they read. */
#include <string.h>

#include "engine/model.h"
#include "engine/ops.h"
#include "engine/paged.h"
#include "engine/pool.h"

/* One query head q (head_dim) over positions 0..pos of kv head kh of sequence s's k/v caches of
 * layer l (through the block table); out o (head_dim), att (pos + 1) scratch. */
static void gqa_head(const struct eng_config *c, const float *qh, const struct eng_state *s, int l, int kh, int pos,
		     float *att, float *o)
{
	const int hd = c->head_dim;
	for (int p = 0; p <= pos; p++) {
		const float *kp = eng_kv_a(s, l, p) + (size_t)kh * hd;
		float a = 0.0f;
		for (int d = 0; d < hd; d++)
			a += qh[d] * kp[d];
		att[p] = a * c->softmax_scale;
	}
	eng_softmax(att, pos + 1);
	for (int d = 0; d < hd; d++)
		o[d] = 0.0f;
	for (int p = 0; p <= pos; p++) {
		const float *vp = eng_kv_b(s, l, p) + (size_t)kh * hd;
		for (int d = 0; d < hd; d++)
			o[d] += att[p] * vp[d];
	}
}

/* Self-attention for the token at pos; in: xb (dim,), out: xb2 (dim,). k/v: (kv_dim) per position. */
void eng_attn_gqa(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos)
{
	const struct eng_config *c = &t->cfg;
	const struct eng_part *P = &t->part;
	/* this rank's query heads [head0, head0 + H) read kv heads [kv_head0, kv_head0 + KV) */
	const int H = P->n_heads, KV = P->n_kv_heads, hd = c->head_dim;
	const int group = c->num_attention_heads / c->num_key_value_heads;
	const float *cos = s->rope_cos + (size_t)pos * (hd / 2), *sin = s->rope_sin + (size_t)pos * (hd / 2);
	float *k = eng_kv_a(s, l, pos), *v = eng_kv_b(s, l, pos);

	/* q = q_norm(q_proj(x).view(H, hd)), k likewise; then apply_rotary_pos_emb (rotate_half) */
	eng_pool_linear(s->pool, s->q, &L->wq, s->xb);
	eng_pool_linear(s->pool, k, &L->wk, s->xb);
	eng_pool_linear(s->pool, v, &L->wv, s->xb);
	for (int h = 0; h < H; h++) {
		float *qh = s->q + (size_t)h * hd;
		if (L->q_norm)
			eng_rmsnorm(qh, qh, L->q_norm, hd, c->rms_norm_eps);
		eng_rope(qh, cos, sin, hd, 0);
	}
	for (int h = 0; h < KV; h++) {
		float *kh = k + (size_t)h * hd;
		if (L->k_norm)
			eng_rmsnorm(kh, kh, L->k_norm, hd, c->rms_norm_eps);
		eng_rope(kh, cos, sin, hd, 0);
	}
	/* softmax(q k^T * scaling) v, each kv head shared by H / KV query heads (repeat_kv) */
	for (int h = 0; h < H; h++)
		gqa_head(c, s->q + (size_t)h * hd, s, l, (P->head0 + h) / group - P->kv_head0, pos,
			 s->att + (size_t)h * s->max_seq, s->att_out + (size_t)h * hd);
	eng_pool_linear(s->pool, s->xb2, &L->wo, s->att_out);
}

/* ---- batched: the same steps over rows (eng_forward_batch; whole model only) ---- */

/* Self-attention over rows; in xb (n, dim), out xb2 (n, dim). Every row writes its sequence's k/v
 * at its position before any row attends (causal among one prompt chunk's rows). */
void eng_attn_gqa_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
		       const int *pos, struct eng_state *const *seq)
{
	const struct eng_config *c = &t->cfg;
	const struct eng_part *P = &t->part;
	const int H = P->n_heads, KV = P->n_kv_heads, hd = c->head_dim, kvd = KV * hd;
	const int group = c->num_attention_heads / c->num_key_value_heads;
	const size_t dim = (size_t)c->hidden_size, ldq = (size_t)H * hd, ldkv = 2 * (size_t)kvd;
	eng_pool_linear_rows(b->pool, b->q, ldq, &L->wq, b->xb, dim, n);
	eng_pool_linear_rows(b->pool, b->kv_a, ldkv, &L->wk, b->xb, dim, n); /* row r: k | v */
	eng_pool_linear_rows(b->pool, b->kv_a + kvd, ldkv, &L->wv, b->xb, dim, n);
	for (int r = 0; r < n; r++) {
		const int p = pos[r];
		const float *cos = b->rope_cos + (size_t)p * (hd / 2), *sin = b->rope_sin + (size_t)p * (hd / 2);
		for (int h = 0; h < H; h++) {
			float *qh = b->q + (size_t)r * ldq + (size_t)h * hd;
			if (L->q_norm)
				eng_rmsnorm(qh, qh, L->q_norm, hd, c->rms_norm_eps);
			eng_rope(qh, cos, sin, hd, 0);
		}
		float *k = eng_kv_a(seq[r], l, p), *v = eng_kv_b(seq[r], l, p);
		memcpy(k, b->kv_a + (size_t)r * ldkv, (size_t)kvd * sizeof(float));
		memcpy(v, b->kv_a + (size_t)r * ldkv + kvd, (size_t)kvd * sizeof(float));
		for (int h = 0; h < KV; h++) {
			float *kh = k + (size_t)h * hd;
			if (L->k_norm)
				eng_rmsnorm(kh, kh, L->k_norm, hd, c->rms_norm_eps);
			eng_rope(kh, cos, sin, hd, 0);
		}
	}
	for (int r = 0; r < n; r++)
		for (int h = 0; h < H; h++)
			gqa_head(c, b->q + (size_t)r * ldq + (size_t)h * hd, seq[r], l, (P->head0 + h) / group - P->kv_head0,
				 pos[r], b->att, b->att_out + (size_t)r * ldq + (size_t)h * hd);
	eng_pool_linear_rows(b->pool, b->xb2, dim, &L->wo, b->att_out, ldq, n);
}
