/* forward_gqa.c — one token through the grouped-query-attention families: qwen3_moe (HF
 * modeling_qwen3_moe: per-head q_norm/k_norm, softmax top-k router) and the dense qwen3 / qwen2
 * (q/k/v bias) / llama decoders the DeepSeek-R1 distilled models use. The layers differ only in
 * the optional pieces the config switches on, so one function reads them all. A rank of a split
 * model runs its own heads (and the kv heads they read), MLP rows and experts, meeting the other
 * ranks in all_reduce / all_gather as forward_deepseek_v3.c does. */
#include <math.h>
#include <string.h>

#include "engine/comm.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/pool.h"

/* Self-attention for the token at pos; in: xb (dim,), out: xb2 (dim,). k/v caches: (max_seq, kv_dim). */
static void gqa(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos)
{
	const struct eng_config *c = &t->cfg;
	const struct eng_part *P = &t->part;
	/* this rank's query heads [head0, head0 + H) read kv heads [kv_head0, kv_head0 + KV) */
	const int H = P->n_heads, KV = P->n_kv_heads, hd = c->head_dim, kvd = KV * hd;
	const int group = c->num_attention_heads / c->num_key_value_heads;
	const float *cos = s->rope_cos + (size_t)pos * (hd / 2), *sin = s->rope_sin + (size_t)pos * (hd / 2);
	float *k_cache = s->kv_cache + (size_t)l * s->max_seq * kvd;
	float *v_cache = s->pe_cache + (size_t)l * s->max_seq * kvd;
	float *k = k_cache + (size_t)pos * kvd, *v = v_cache + (size_t)pos * kvd;

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
	for (int h = 0; h < H; h++) {
		const float *qh = s->q + (size_t)h * hd;
		const int kh = (P->head0 + h) / group - P->kv_head0;
		float *att = s->att + (size_t)h * s->max_seq;
		for (int p = 0; p <= pos; p++) {
			const float *kp = k_cache + (size_t)p * kvd + (size_t)kh * hd;
			float a = 0.0f;
			for (int d = 0; d < hd; d++)
				a += qh[d] * kp[d];
			att[p] = a * c->softmax_scale;
		}
		eng_softmax(att, pos + 1);
		float *o = s->att_out + (size_t)h * hd;
		for (int d = 0; d < hd; d++)
			o[d] = 0.0f;
		for (int p = 0; p <= pos; p++) {
			const float *vp = v_cache + (size_t)p * kvd + (size_t)kh * hd;
			for (int d = 0; d < hd; d++)
				o[d] += att[p] * vp[d];
		}
	}
	eng_pool_linear(s->pool, s->xb2, &L->wo, s->att_out);
}

/* Qwen3MoeSparseMoeBlock: softmax over the router logits, top-k, renormalised when
 * norm_topk_prob; in xb, out xb2. */
static void moe(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L)
{
	const struct eng_config *c = &t->cfg;
	const int E = c->n_routed_experts, K = c->num_experts_per_tok, dim = c->hidden_size;
	const struct eng_linear gate = {.w = L->gate, .out = E, .in = dim};
	eng_pool_linear(s->pool, s->scores, &gate, s->xb);
	eng_softmax(s->scores, E);
	float sum = 0.0f;
	for (int k = 0; k < K; k++) { /* torch.topk: largest first, lower index on ties */
		int best = -1;
		for (int e = 0; e < E; e++) {
			int used = 0;
			for (int j = 0; j < k; j++)
				used |= s->topk_idx[j] == e;
			if (!used && (best < 0 || s->scores[e] > s->scores[best]))
				best = e;
		}
		s->topk_idx[k] = best;
		s->topk_w[k] = s->scores[best];
		sum += s->scores[best];
	}
	for (int i = 0; i < dim; i++)
		s->xb2[i] = 0.0f;
	for (int k = 0; k < K; k++) {
		float w = c->norm_topk_prob ? s->topk_w[k] / sum : s->topk_w[k];
		if (!L->experts[s->topk_idx[k]].w1.w) /* another rank's expert */
			continue;
		eng_swiglu_mlp(s->pool, s->moe_out, &L->experts[s->topk_idx[k]], s->xb, s->hb, s->hb2);
		for (int i = 0; i < dim; i++)
			s->xb2[i] += w * s->moe_out[i];
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
