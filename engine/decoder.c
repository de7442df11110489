/* decoder.c — the decoder both families share (DeepSeek-V3 inference/model.py Transformer.forward
 * and HF modeling_qwen3_moe / qwen3 / qwen2 / llama): embed, then per layer
 * x = x + attn(attn_norm(x)), x = x + ffn(ffn_norm(x)) with a dense MLP or the sparse MoE block,
 * then norm and head. Only the attention differs (forward_deepseek_v3.c: MLA; forward_gqa.c:
 * grouped-query), and the router's scoring, which the config selects. On a rank of a split model
 * (t->part) the same steps run on its heads, rows and experts, and the partial sums meet in the
 * all_reduce calls model.py makes (RowParallelLinear, MoE, embed) and the all_gather after the
 * head. */
#include <string.h>

#include "engine/batch_ops.h"
#include "engine/comm.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include "kernels/krn_plan.h"

/* The router of the config: DeepSeek-V3 Gate.forward / HF route_tokens_to_experts (sigmoid
 * scores, the correction bias for choosing only, group-limited top-k with the other groups masked
 * to 0.0, weights from the unbiased scores, normalised, times routed_scaling_factor) or
 * Qwen3MoeSparseMoeBlock's (softmax, top-k largest first with the lower index on ties as
 * torch.topk, renormalised when norm_topk_prob). krn_ref_route is that router, the one the GPU
 * kernel is checked against. */
static struct krn_route_cfg route_cfg(const struct eng_config *c)
{
	return (struct krn_route_cfg){.n_experts = c->n_routed_experts,
				      .top_k = c->num_experts_per_tok,
				      .sigmoid = c->arch == ENG_ARCH_DEEPSEEK_V3,
				      .n_group = c->n_group,
				      .topk_group = c->topk_group,
				      .norm_topk_prob = c->norm_topk_prob,
				      .route_scale = c->routed_scaling_factor};
}

static void attn(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos)
{
	if (t->cfg.arch == ENG_ARCH_DEEPSEEK_V3)
		eng_attn_mla(t, s, L, l, pos);
	else
		eng_attn_gqa(t, s, L, l, pos);
}

/* MoE.forward: routed experts weighted by the gate, plus shared_experts where the model has them;
 * in xb, out xb2. Every rank routes alike (the gate is whole everywhere) and runs the chosen
 * experts it holds; the shared experts are added by the ep_rank 0 group only, so that the
 * caller's all_reduce over the world counts them once. */
static void moe(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L)
{
	const struct eng_config *c = &t->cfg;
	const int dim = c->hidden_size;
	const struct eng_linear gate = {.w = L->gate, .out = c->n_routed_experts, .in = dim};
	const struct krn_route_cfg rc = route_cfg(c);
	eng_pool_linear(s->pool, s->scores, &gate, s->xb);
	krn_ref_route(s->scores, L->gate_bias, &rc, s->topk_idx, s->topk_w, s->route_scratch);
	for (int i = 0; i < dim; i++)
		s->xb2[i] = 0.0f;
	for (int k = 0; k < c->num_experts_per_tok; k++) {
		const struct eng_mlp *e = &L->experts[s->topk_idx[k]];
		if (!e->w1.w) /* another rank's expert */
			continue;
		eng_swiglu_mlp(s->pool, s->moe_out, e, s->xb, s->hb, s->hb2);
		for (int i = 0; i < dim; i++)
			s->xb2[i] += s->topk_w[k] * s->moe_out[i];
	}
	if (L->shared_experts.w1.w && t->part.shared_on) {
		eng_swiglu_mlp(s->pool, s->moe_out, &L->shared_experts, s->xb, s->hb, s->hb2);
		for (int i = 0; i < dim; i++)
			s->xb2[i] += s->moe_out[i];
	}
}

int eng_forward_step(const struct eng_transformer *t, struct eng_state *s, const struct eng_comms *cm, int token,
		     int pos, int flags, struct eng_err *err)
{
	const struct eng_config *c = &t->cfg;
	const struct eng_part *P = &t->part;
	struct eng_comm *tp = cm ? cm->tp : NULL, *world = cm ? cm->world : NULL;
	const int dim = c->hidden_size;
	int rc;
	/* embed (ParallelEmbedding): the rank holding the token's row copies it, the others give 0 */
	if (token >= P->vocab0 && token < P->vocab0 + P->n_vocab)
		memcpy(s->x, t->w.embed + (size_t)(token - P->vocab0) * dim, (size_t)dim * sizeof(float));
	else
		memset(s->x, 0, (size_t)dim * sizeof(float));
	if ((rc = eng_comm_all_reduce(tp, s->x, (size_t)dim, err)))
		return rc;
	for (int l = 0; l < c->num_hidden_layers; l++) {
		const struct eng_layer *L = &t->w.layers[l];
		/* x = x + attn(attn_norm(x)) */
		eng_rmsnorm(s->xb, s->x, L->attn_norm, dim, c->rms_norm_eps);
		attn(t, s, L, l, pos);
		if ((rc = eng_comm_all_reduce(tp, s->xb2, (size_t)dim, err))) /* wo is RowParallelLinear */
			return rc;
		for (int i = 0; i < dim; i++)
			s->x[i] += s->xb2[i];
		/* x = x + ffn(ffn_norm(x)); ffn = MLP or MoE per layer (first_k_dense_replace, mlp_only_layers) */
		eng_rmsnorm(s->xb, s->x, L->ffn_norm, dim, c->rms_norm_eps);
		if (L->moe) {
			moe(t, s, L);
			rc = eng_comm_all_reduce(world, s->xb2, (size_t)dim, err); /* MoE.forward all_reduce */
		} else {
			eng_swiglu_mlp(s->pool, s->xb2, &L->mlp, s->xb, s->hb, s->hb2);
			rc = eng_comm_all_reduce(tp, s->xb2, (size_t)dim, err); /* MLP.w2 is RowParallelLinear */
		}
		if (rc)
			return rc;
		for (int i = 0; i < dim; i++)
			s->x[i] += s->xb2[i];
	}
	eng_rmsnorm(s->x, s->x, t->w.norm, dim, c->rms_norm_eps); /* norm */
	if (!(flags & ENG_FF_KV_ONLY)) {
		/* head (ColumnParallelLinear over the vocabulary), then all_gather of the slices */
		const struct eng_linear head = {.w = t->w.head, .out = P->n_vocab, .in = dim};
		float *mine = s->logits + (size_t)P->tp_rank * P->vocab_pad;
		eng_pool_linear(s->pool, mine, &head, s->x);
		if ((rc = eng_comm_all_gather(tp, mine, s->logits, (size_t)P->vocab_pad, err)))
			return rc;
	}
	return ENG_OK;
}

/* ---- batched: the same steps over rows (eng_forward_batch; whole model only) ---- */

static void attn_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
		      const int *pos, struct eng_state *const *seq)
{
	if (t->cfg.arch == ENG_ARCH_DEEPSEEK_V3)
		eng_attn_mla_rows(t, b, L, l, n, pos, seq);
	else
		eng_attn_gqa_rows(t, b, L, l, n, pos, seq);
}

/* MoE over rows; in xb, out xb2 (n, dim); sums in moe()'s order (routed k = 0.., then shared). */
static void moe_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int n)
{
	const struct eng_config *c = &t->cfg;
	const int E = c->n_routed_experts, K = c->num_experts_per_tok, dim = c->hidden_size;
	const struct eng_linear gate = {.w = L->gate, .out = E, .in = dim};
	const struct krn_route_cfg rc = route_cfg(c);
	eng_pool_linear_rows(b->pool, b->scores, (size_t)E, &gate, b->xb, (size_t)dim, n);
	for (int r = 0; r < n; r++)
		krn_ref_route(b->scores + (size_t)r * E, L->gate_bias, &rc, b->topk_idx + r * K, b->topk_w + r * K,
			      b->route_scratch);
	eng_experts_rows(b->pool, L->experts, E, K, n, b->xb, dim, b->topk_idx, b->moe_eo, b->moe_in, b->moe_tmp,
			 b->moe_rows, b->moe_k, b->hb, b->hb2);
	const int shared = L->shared_experts.w1.w && t->part.shared_on;
	if (shared)
		eng_swiglu_rows(b->pool, b->moe_tmp, &L->shared_experts, b->xb, n, b->hb, b->hb2);
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
		if (shared)
			for (int i = 0; i < dim; i++)
				y[i] += b->moe_tmp[(size_t)r * dim + i];
	}
}

void eng_layers_batch(const struct eng_transformer *t, struct eng_bstate *b, int n, const int *pos,
		      struct eng_state *const *seq)
{
	const struct eng_config *c = &t->cfg;
	const int dim = c->hidden_size;
	const size_t nd = (size_t)n * dim;
	for (int l = 0; l < c->num_hidden_layers; l++) {
		const struct eng_layer *L = &t->w.layers[l];
		for (int r = 0; r < n; r++)
			eng_rmsnorm(b->xb + (size_t)r * dim, b->x + (size_t)r * dim, L->attn_norm, dim, c->rms_norm_eps);
		attn_rows(t, b, L, l, n, pos, seq);
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
