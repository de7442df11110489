/* forward_gqa.c — one token through the grouped-query-attention families: qwen3_moe (HF
 * modeling_qwen3_moe: per-head q_norm/k_norm, softmax top-k router) and the dense qwen3 / qwen2
 * (q/k/v bias) / llama decoders the DeepSeek-R1 distilled models use. The layers differ only in
 * the optional pieces the config switches on, so one function reads them all. A rank of a split
 * model runs its own heads (and the kv heads they read), MLP rows and experts, meeting the other
 * ranks in all_reduce / all_gather as forward_deepseek_v3.c does. */
#include <math.h>
#include <string.h>

#include "engine/batch_ops.h"
#include "engine/comm.h"
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
static void gqa(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos)
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

/* Qwen3MoeSparseMoeBlock router on one token: softmax over the router logits scores (E, in
 * place), top-k (largest first, lower index on ties as torch.topk), weights renormalised when
 * norm_topk_prob; out idx, w (num_experts_per_tok). */
static void route(const struct eng_config *c, float *scores, int *idx, float *w)
{
	const int E = c->n_routed_experts, K = c->num_experts_per_tok;
	eng_softmax(scores, E);
	float sum = 0.0f;
	for (int k = 0; k < K; k++) {
		int best = -1;
		for (int e = 0; e < E; e++) {
			int used = 0;
			for (int j = 0; j < k; j++)
				used |= idx[j] == e;
			if (!used && (best < 0 || scores[e] > scores[best]))
				best = e;
		}
		idx[k] = best;
		w[k] = scores[best];
		sum += scores[best];
	}
	for (int k = 0; k < K; k++)
		w[k] = c->norm_topk_prob ? w[k] / sum : w[k];
}

/* The sparse MoE block on one token; in xb, out xb2. */
static void moe(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L)
{
	const struct eng_config *c = &t->cfg;
	const int E = c->n_routed_experts, K = c->num_experts_per_tok, dim = c->hidden_size;
	const struct eng_linear gate = {.w = L->gate, .out = E, .in = dim};
	eng_pool_linear(s->pool, s->scores, &gate, s->xb);
	route(c, s->scores, s->topk_idx, s->topk_w);
	for (int i = 0; i < dim; i++)
		s->xb2[i] = 0.0f;
	for (int k = 0; k < K; k++) {
		if (!L->experts[s->topk_idx[k]].w1.w) /* another rank's expert */
			continue;
		eng_swiglu_mlp(s->pool, s->moe_out, &L->experts[s->topk_idx[k]], s->xb, s->hb, s->hb2);
		for (int i = 0; i < dim; i++)
			s->xb2[i] += s->topk_w[k] * s->moe_out[i];
	}
}

int eng_forward_gqa(const struct eng_transformer *t, struct eng_state *s, const struct eng_comms *cm, int token,
		    int pos, int flags, struct eng_err *err)
{
	const struct eng_config *c = &t->cfg;
	const struct eng_part *P = &t->part;
	struct eng_comm *tp = cm ? cm->tp : NULL, *world = cm ? cm->world : NULL;
	const int dim = c->hidden_size;
	int rc;
	/* embed_tokens, vocabulary split over tp: the holder of the row copies it, the others give 0 */
	if (token >= P->vocab0 && token < P->vocab0 + P->n_vocab)
		memcpy(s->x, t->w.embed + (size_t)(token - P->vocab0) * dim, (size_t)dim * sizeof(float));
	else
		memset(s->x, 0, (size_t)dim * sizeof(float));
	if ((rc = eng_comm_all_reduce(tp, s->x, (size_t)dim, err)))
		return rc;
	for (int l = 0; l < c->num_hidden_layers; l++) {
		const struct eng_layer *L = &t->w.layers[l];
		/* hidden = hidden + self_attn(input_layernorm(hidden)); o_proj is row parallel */
		eng_rmsnorm(s->xb, s->x, L->attn_norm, dim, c->rms_norm_eps);
		gqa(t, s, L, l, pos);
		if ((rc = eng_comm_all_reduce(tp, s->xb2, (size_t)dim, err)))
			return rc;
		for (int i = 0; i < dim; i++)
			s->x[i] += s->xb2[i];
		/* hidden = hidden + mlp(post_attention_layernorm(hidden)); MoE or dense per layer */
		eng_rmsnorm(s->xb, s->x, L->ffn_norm, dim, c->rms_norm_eps);
		if (L->moe) {
			moe(t, s, L);
			rc = eng_comm_all_reduce(world, s->xb2, (size_t)dim, err);
		} else {
			eng_swiglu_mlp(s->pool, s->xb2, &L->mlp, s->xb, s->hb, s->hb2);
			rc = eng_comm_all_reduce(tp, s->xb2, (size_t)dim, err);
		}
		if (rc)
			return rc;
		for (int i = 0; i < dim; i++)
			s->x[i] += s->xb2[i];
	}
	eng_rmsnorm(s->x, s->x, t->w.norm, dim, c->rms_norm_eps); /* norm */
	if (!(flags & ENG_FF_KV_ONLY)) {
		const struct eng_linear head = {.w = t->w.head, .out = P->n_vocab, .in = dim};
		float *mine = s->logits + (size_t)P->tp_rank * P->vocab_pad;
		eng_pool_linear(s->pool, mine, &head, s->x); /* lm_head, vocabulary rows of this rank */
		if ((rc = eng_comm_all_gather(tp, mine, s->logits, (size_t)P->vocab_pad, err)))
			return rc;
	}
	return ENG_OK;
}

/* ---- batched: the same steps over rows (eng_forward_batch; whole model only) ---- */

/* Self-attention over rows; in xb (n, dim), out xb2 (n, dim). Every row writes its sequence's k/v
 * at its position before any row attends (causal among one prompt chunk's rows). */
static void gqa_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
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

/* The sparse MoE block over rows; in xb, out xb2 (n, dim); sums in moe()'s order. */
static void moe_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int n)
{
	const struct eng_config *c = &t->cfg;
	const int E = c->n_routed_experts, K = c->num_experts_per_tok, dim = c->hidden_size;
	const struct eng_linear gate = {.w = L->gate, .out = E, .in = dim};
	eng_pool_linear_rows(b->pool, b->scores, (size_t)E, &gate, b->xb, (size_t)dim, n);
	for (int r = 0; r < n; r++)
		route(c, b->scores + (size_t)r * E, b->topk_idx + r * K, b->topk_w + r * K);
	eng_experts_rows(b->pool, L->experts, E, K, n, b->xb, dim, b->topk_idx, b->moe_eo, b->moe_in, b->moe_tmp,
			 b->moe_rows, b->moe_k, b->hb, b->hb2);
	for (int r = 0; r < n; r++) {
		float *y = b->xb2 + (size_t)r * dim;
		for (int i = 0; i < dim; i++)
			y[i] = 0.0f;
		for (int k = 0; k < K; k++) {
			if (!L->experts[b->topk_idx[r * K + k]].w1.w) /* another rank's expert */
				continue;
			const float w = b->topk_w[r * K + k], *eo = b->moe_eo + ((size_t)r * K + k) * dim;
			for (int i = 0; i < dim; i++)
				y[i] += w * eo[i];
		}
	}
}

void eng_layers_batch_gqa(const struct eng_transformer *t, struct eng_bstate *b, int n, const int *pos,
			  struct eng_state *const *seq)
{
	const struct eng_config *c = &t->cfg;
	const int dim = c->hidden_size;
	const size_t nd = (size_t)n * dim;
	for (int l = 0; l < c->num_hidden_layers; l++) {
		const struct eng_layer *L = &t->w.layers[l];
		for (int r = 0; r < n; r++)
			eng_rmsnorm(b->xb + (size_t)r * dim, b->x + (size_t)r * dim, L->attn_norm, dim, c->rms_norm_eps);
		gqa_rows(t, b, L, l, n, pos, seq);
		for (size_t i = 0; i < nd; i++)
			b->x[i] += b->xb2[i];
		for (int r = 0; r < n; r++)
			eng_rmsnorm(b->xb + (size_t)r * dim, b->x + (size_t)r * dim, L->ffn_norm, dim, c->rms_norm_eps);
		if (L->moe)
			moe_rows(t, b, L, n);
		else
			eng_swiglu_rows(b->pool, b->xb2, &L->mlp, b->xb, n, b->hb, b->hb2);
		for (size_t i = 0; i < nd; i++)
			b->x[i] += b->xb2[i];
	}
}
