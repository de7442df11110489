/* parallel.c — partition plans (struct eng_part), their parameter and memory counts, and the MoE
 * dispatch plan with the bytes it moves. The split follows DeepSeek-V3 inference/model.py
 * (ColumnParallelLinear / RowParallelLinear over tp, experts over ep) and the sizes the loader
 * (weights.c) takes for each piece; eng_part_params is checked against the loader in the tests. */
#include <stdlib.h>

#include "engine/err.h"
#include "engine/parallel.h"

void eng_span(int n, int parts, int i, int *start, int *len)
{
	int base = n / parts, extra = n % parts;
	*start = i * base + (i < extra ? i : extra);
	*len = base + (i < extra);
}

static void fill(const struct eng_config *c, int tp, int ep, int tr, int er, struct eng_part *p)
{
	*p = (struct eng_part){.tp = tp, .tp_rank = tr, .ep = ep, .ep_rank = er};
	const int H = c->num_attention_heads, KV = c->num_key_value_heads;
	eng_span(H, tp, tr, &p->head0, &p->n_heads);
	/* GQA: the kv heads the local query heads read; when tp > KV neighbours share (replicate) one */
	int g = KV > 0 ? H / KV : 1;
	p->kv_head0 = p->head0 / g;
	p->n_kv_heads = (p->head0 + p->n_heads - 1) / g + 1 - p->kv_head0;
	eng_span(c->intermediate_size, tp, tr, &p->inter0, &p->n_inter);
	eng_span(c->moe_intermediate_size, tp, tr, &p->moe_inter0, &p->n_moe_inter);
	eng_span(c->moe_intermediate_size * c->n_shared_experts, tp, tr, &p->shared_inter0, &p->n_shared_inter);
	p->shared_on = er == 0;
	eng_span(c->n_routed_experts, ep, er, &p->expert0, &p->n_experts);
	p->vocab_pad = (c->vocab_size + tp - 1) / tp;
	p->vocab0 = tr * p->vocab_pad;
	p->n_vocab = c->vocab_size - p->vocab0 < p->vocab_pad ? c->vocab_size - p->vocab0 : p->vocab_pad;
}

void eng_part_whole(const struct eng_config *c, struct eng_part *p)
{
	fill(c, 1, 1, 0, 0, p);
}

int eng_part_plan(const struct eng_config *c, int tp, int ep, int rank, struct eng_part *p, struct eng_err *err)
{
	if (tp < 1 || ep < 1 || tp > 4096 || ep > 4096 || (long)tp * ep > 4096)
		return eng_errf(err, ENG_EMISUSE, "tp %d x ep %d: each must be >= 1 and the product <= 4096", tp, ep);
	if (rank < 0 || rank >= tp * ep)
		return eng_errf(err, ENG_EMISUSE, "rank %d outside 0..%d", rank, tp * ep - 1);
	if (tp > c->num_attention_heads)
		return eng_errf(err, ENG_EMISUSE, "tp %d: more than the %d attention heads", tp, c->num_attention_heads);
	if (tp > c->intermediate_size || (c->n_routed_experts && tp > c->moe_intermediate_size))
		return eng_errf(err, ENG_EMISUSE, "tp %d: more than an MLP's intermediate size", tp);
	if (tp > c->vocab_size)
		return eng_errf(err, ENG_EMISUSE, "tp %d: more than the vocabulary", tp);
	if (ep > 1 && c->n_routed_experts == 0)
		return eng_errf(err, ENG_EMISUSE, "ep %d: %s is dense (no routed experts to split)", ep, c->model_type);
	if (ep > c->n_routed_experts && c->n_routed_experts)
		return eng_errf(err, ENG_EMISUSE, "ep %d: more than the %d routed experts", ep, c->n_routed_experts);
	fill(c, tp, ep, rank % tp, rank / tp, p);
	return ENG_OK;
}

static size_t mla_params(const struct eng_config *c, const struct eng_part *p)
{
	size_t dim = (size_t)c->hidden_size, Hl = (size_t)p->n_heads, R = (size_t)c->kv_lora_rank;
	size_t n = 0;
	if (c->q_lora_rank)
		n += (size_t)c->q_lora_rank * dim + (size_t)c->q_lora_rank + Hl * c->qk_head_dim * c->q_lora_rank;
	else
		n += Hl * c->qk_head_dim * dim;
	n += (R + c->qk_rope_head_dim) * dim + R;              /* wkv_a, kv_norm: replicated */
	n += Hl * (size_t)(c->qk_nope_head_dim + c->v_head_dim) * R; /* wkv_b: column parallel */
	n += dim * Hl * c->v_head_dim;                         /* wo: row parallel */
	return n;
}

static size_t gqa_params(const struct eng_config *c, const struct eng_part *p)
{
	size_t dim = (size_t)c->hidden_size, hd = (size_t)c->head_dim;
	size_t q = (size_t)p->n_heads * hd, kv = (size_t)p->n_kv_heads * hd;
	size_t n = (q + 2 * kv) * dim + dim * q;
	if (c->attention_bias)
		n += q + 2 * kv;
	if (c->attention_bias && c->arch != ENG_ARCH_QWEN2 /* o_proj bias: all but qwen2 */ && p->tp_rank == 0)
		n += dim; /* o_proj bias: added once, by tp rank 0 */
	if (c->qk_norm)
		n += 2 * hd;
	return n;
}

size_t eng_part_params(const struct eng_config *c, const struct eng_part *p, int gate_bias, int own_head)
{
	size_t dim = (size_t)c->hidden_size, n = 0;
	for (int l = 0; l < c->num_hidden_layers; l++) {
		n += 2 * dim;
		n += c->arch == ENG_ARCH_DEEPSEEK_V3 ? mla_params(c, p) : gqa_params(c, p);
		if (!eng_config_layer_moe(c, l)) {
			n += 3 * dim * p->n_inter;
			continue;
		}
		n += (size_t)c->n_routed_experts * dim; /* router: replicated */
		if (gate_bias && c->arch == ENG_ARCH_DEEPSEEK_V3)
			n += (size_t)c->n_routed_experts;
		n += (size_t)p->n_experts * 3 * dim * p->n_moe_inter;
		if (c->n_shared_experts)
			n += 3 * dim * p->n_shared_inter;
	}
	n += (size_t)p->n_vocab * dim + dim; /* embed, norm */
	if (own_head)
		n += (size_t)p->n_vocab * dim;
	return n;
}

size_t eng_part_kv_per_pos(const struct eng_config *c, const struct eng_part *p)
{
	size_t per_layer = c->arch == ENG_ARCH_DEEPSEEK_V3 ? (size_t)(c->kv_lora_rank + c->qk_rope_head_dim)
							   : 2 * (size_t)p->n_kv_heads * c->head_dim;
	return per_layer * c->num_hidden_layers;
}

void eng_mem_plan_rank(const struct eng_config *c, const struct eng_part *p, double bytes_per_param, int max_seq,
		       int batch, struct eng_mem_plan *out)
{
	*out = (struct eng_mem_plan){.tp = p->tp, .ep = p->ep};
	out->weight_bytes = (double)eng_part_params(c, p, 1, !c->tie_word_embeddings) * bytes_per_param;
	out->kv_bytes = (double)eng_part_kv_per_pos(c, p) * max_seq * batch * 2.0;
	/* per token in flight: a few hidden-sized vectors, the local head slice and the MoE receive
	 * buffer (every token may land on this rank k times); float32, doubled for staging */
	double per_tok = 8.0 * c->hidden_size + p->vocab_pad + (double)c->num_experts_per_tok * c->hidden_size * p->ep;
	out->act_bytes = per_tok * batch * 4.0 * 2.0 + (64 << 20);
	out->total_bytes = out->weight_bytes + out->kv_bytes + out->act_bytes;
}

int eng_mem_plan_gpus(const struct eng_config *c, double bytes_per_param, int max_seq, int batch, double gpu_bytes,
		      double usable, int max_world, struct eng_mem_plan *out, struct eng_err *err)
{
	double cap = gpu_bytes * usable;
	struct eng_mem_plan best = {0};
	for (int world = 1; world <= max_world; world *= 2) {
		/* MoE: tp inside a node (up to 8) and experts across all ranks, the DeepSeek layout;
		 * dense: tensor parallel only. */
		int tp = c->n_routed_experts ? (world < 8 ? world : 8) : world;
		int ep = world / tp;
		if (c->n_routed_experts && ep == 1 && world > 1) { /* prefer pure EP when it divides */
			tp = 1;
			ep = world;
		}
		double worst = 0;
		struct eng_mem_plan m = {0};
		int ok = 1;
		for (int r = 0; r < world && ok; r++) {
			struct eng_part p;
			if (eng_part_plan(c, tp, ep, r, &p, NULL) != ENG_OK) {
				ok = 0;
				break;
			}
			struct eng_mem_plan mr;
			eng_mem_plan_rank(c, &p, bytes_per_param, max_seq, batch, &mr);
			if (mr.total_bytes > worst) {
				worst = mr.total_bytes;
				m = mr;
			}
		}
		if (!ok)
			break;
		best = m;
		if (worst <= cap) {
			*out = m;
			return ENG_OK;
		}
	}
	*out = best;
	return eng_errf(err, ENG_ELIMIT, "%s needs %.1f GiB on its busiest rank even split %d ways; a GPU offers %.1f GiB",
			c->model_type, best.total_bytes / (1 << 30), best.tp * best.ep, cap / (1 << 30));
}

void eng_dispatch_plan(const int *topk_idx, int n_tokens, int k, int n_experts, int ep, int per_expert,
		       size_t *tokens_to)
{
	for (int d = 0; d < ep; d++)
		tokens_to[d] = 0;
	int base = n_experts / ep, extra = n_experts % ep;
	for (int t = 0; t < n_tokens; t++) {
		unsigned char seen[4096] = {0};
		for (int j = 0; j < k; j++) {
			int e = topk_idx[(size_t)t * k + j];
			/* inverse of eng_span: the first `extra` ranks hold base + 1 experts */
			int d = e < extra * (base + 1) ? e / (base + 1) : extra + (e - extra * (base + 1)) / base;
			if (per_expert || !seen[d])
				tokens_to[d]++;
			seen[d] = 1;
		}
	}
}

void eng_moe_bytes(const size_t *tokens_to, int ep, int src_rank, int hidden, struct eng_moe_bytes *out)
{
	*out = (struct eng_moe_bytes){0};
	double fp8 = hidden + (hidden + 127) / 128 * 4.0; /* e4m3 values + one float scale per 128 */
	double bf16 = hidden * 2.0;
	for (int d = 0; d < ep; d++) {
		double n = (double)tokens_to[d];
		out->copies += n;
		if (d == src_rank) {
			out->dispatch_local += n * fp8;
			out->combine_local += n * bf16;
		} else {
			out->dispatch += n * fp8;
			out->combine += n * bf16;
		}
	}
}
