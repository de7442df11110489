/* forward_deepseek_v3.c — one token through DeepSeek-V3 (inference/model.py Transformer.forward,
 * with the HF transformers modeling_deepseek_v3 details the references were made with): MLA
 * attention in its absorbed form, caching only the latent and the rope key; dense MLP for the
 * first_k_dense_replace layers, then the sigmoid group-limited MoE with shared experts.
 * On a rank of a split model (t->part) the same steps run on its heads, rows and experts, and the
 * partial sums meet in the all_reduce calls model.py makes (RowParallelLinear, MoE, embed) and
 * the all_gather after the head. */
#include <math.h>
#include <string.h>

#include "engine/batch_ops.h"
#include "engine/comm.h"
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
static void mla(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos)
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

/* Index of the largest of the n values not yet taken (first on ties, as torch.topk keeps order).
 * Callers take at most n, so one is always free. */
static int argmax_free(const float *v, int n, const unsigned char *taken)
{
	int best = 0, found = 0;
	for (int i = 0; i < n; i++)
		if (!taken[i] && (!found || v[i] > v[best])) {
			best = i;
			found = 1;
		}
	return best;
}

/* Gate.forward / HF DeepseekV3MoE.route_tokens_to_experts on one token's router logits: sigmoid
 * scores, the correction bias used for choosing only, the topk_group groups with the best top-2
 * sums, top-k experts within them, weights from the unbiased scores, normalised, times
 * routed_scaling_factor. scores (E) in: logits, out: sigmoid; choice (E), group_scores (n_group)
 * scratch; out idx, w (num_experts_per_tok). */
static void route(const struct eng_config *c, const struct eng_layer *L, float *scores, float *choice,
		  float *group_scores, int *idx, float *w)
{
	const int E = c->n_routed_experts, G = c->n_group, per = E / G, K = c->num_experts_per_tok;
	for (int e = 0; e < E; e++) {
		scores[e] = 1.0f / (1.0f + expf(-scores[e]));
		choice[e] = scores[e] + (L->gate_bias ? L->gate_bias[e] : 0.0f);
	}
	unsigned char taken[1024] = {0}, group_on[1024] = {0};
	for (int g = 0; g < G; g++) { /* group score: sum of the group's top-2 */
		const float *v = choice + g * per;
		int a = argmax_free(v, per, taken);
		taken[a] = 1;
		int b = argmax_free(v, per, taken);
		taken[a] = 0;
		group_scores[g] = v[a] + v[b];
	}
	for (int k = 0; k < c->topk_group; k++) {
		int g = argmax_free(group_scores, G, group_on);
		group_on[g] = 1;
	}
	/* HF masks the other groups' scores to 0.0 (not -inf), so match that. */
	for (int e = 0; e < E; e++)
		if (!group_on[e / per])
			choice[e] = 0.0f;
	float sum = 0.0f;
	for (int k = 0; k < K; k++) {
		int e = argmax_free(choice, E, taken);
		taken[e] = 1;
		idx[k] = e;
		w[k] = scores[e];
		sum += scores[e];
	}
	for (int k = 0; k < K; k++) {
		if (c->norm_topk_prob)
			w[k] /= sum + 1e-20f;
		w[k] *= c->routed_scaling_factor;
	}
}

static void moe_gate(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L)
{
	const struct eng_config *c = &t->cfg;
	const struct eng_linear gate = {.w = L->gate, .out = c->n_routed_experts, .in = c->hidden_size};
	eng_pool_linear(s->pool, s->scores, &gate, s->xb);
	route(c, L, s->scores, s->scores_choice, s->group_scores, s->topk_idx, s->topk_w);
}

/* MoE.forward: routed experts weighted by the gate, plus shared_experts; in xb, out xb2. Every
 * rank routes alike (the gate is whole everywhere) and runs the chosen experts it holds; the
 * shared experts are added by the ep_rank 0 group only, so that the caller's all_reduce over the
 * world counts them once. */
static void moe(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L)
{
	const int dim = t->cfg.hidden_size;
	moe_gate(t, s, L);
	for (int i = 0; i < dim; i++)
		s->xb2[i] = 0.0f;
	for (int k = 0; k < t->cfg.num_experts_per_tok; k++) {
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

int eng_forward_deepseek_v3(const struct eng_transformer *t, struct eng_state *s, const struct eng_comms *cm,
			    int token, int pos, int flags, struct eng_err *err)
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
		mla(t, s, L, l, pos);
		if ((rc = eng_comm_all_reduce(tp, s->xb2, (size_t)dim, err))) /* wo is RowParallelLinear */
			return rc;
		for (int i = 0; i < dim; i++)
			s->x[i] += s->xb2[i];
		/* x = x + ffn(ffn_norm(x)); ffn = MLP for the first_k_dense_replace layers, MoE after */
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

/* MLA over rows; in xb (n, dim), out xb2 (n, dim). Every row writes its sequence's caches at its
 * position (through its block table) before any row attends, so the rows of one prompt chunk see each other causally. */
static void mla_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
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

/* MoE over rows; in xb, out xb2 (n, dim); sums in moe()'s order (routed k = 0.., then shared). */
static void moe_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int n)
{
	const struct eng_config *c = &t->cfg;
	const int E = c->n_routed_experts, K = c->num_experts_per_tok, dim = c->hidden_size;
	const struct eng_linear gate = {.w = L->gate, .out = E, .in = dim};
	eng_pool_linear_rows(b->pool, b->scores, (size_t)E, &gate, b->xb, (size_t)dim, n);
	for (int r = 0; r < n; r++)
		route(c, L, b->scores + (size_t)r * E, b->scores_choice, b->group_scores, b->topk_idx + r * K,
		      b->topk_w + r * K);
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

void eng_layers_batch_deepseek_v3(const struct eng_transformer *t, struct eng_bstate *b, int n, const int *pos,
				  struct eng_state *const *seq)
{
	const struct eng_config *c = &t->cfg;
	const int dim = c->hidden_size;
	const size_t nd = (size_t)n * dim;
	for (int l = 0; l < c->num_hidden_layers; l++) {
		const struct eng_layer *L = &t->w.layers[l];
		for (int r = 0; r < n; r++)
			eng_rmsnorm(b->xb + (size_t)r * dim, b->x + (size_t)r * dim, L->attn_norm, dim, c->rms_norm_eps);
		mla_rows(t, b, L, l, n, pos, seq);
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
