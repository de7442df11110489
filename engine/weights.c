/* weights.c — checkpoint tensors into the float32 weights of struct eng_transformer.
 * One walk over the model's tensor names runs twice: the first pass checks every tensor (present,
 * shape, dtype, block scales) and counts floats, the second fills the single allocation. FP8
 * e4m3 weights are multiplied by their weight_scale_inv block (DeepSeek-V3 kernel.py
 * weight_dequant); BF16/F16 are widened. A rank of a split model (struct eng_part) converts only its
 * slice: rows of column-parallel weights, columns of row-parallel ones, its own experts; the rest
 * of the mapping is never touched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/err.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/safetensors.h"

struct loader {
	const struct eng_st *st;
	const struct eng_config *c;
	const struct eng_part *p;
	const char *dir;
	int fill;     /* 0: check and count, 1: convert into arena */
	float *arena;
	size_t off;   /* floats handed out so far */
	struct eng_err *err;
	int rc;
};

static const struct eng_st_tensor *need(struct loader *ld, const char *name, int64_t d0, int64_t d1)
{
	if (ld->rc)
		return NULL;
	const struct eng_st_tensor *t = eng_st_find(ld->st, name);
	if (!t) {
		ld->rc = eng_errf(ld->err, ENG_EFORMAT, "%s: tensor '%s' missing from the checkpoint", ld->dir, name);
		return NULL;
	}
	int nd = d1 < 0 ? 1 : 2;
	if (t->ndim != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1)) {
		char got[64] = "", want[64];
		for (int i = 0; i < t->ndim && strlen(got) < 40; i++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "",
				 (long long)t->shape[i]);
		if (nd == 1)
			snprintf(want, sizeof want, "%lld", (long long)d0);
		else
			snprintf(want, sizeof want, "%lld, %lld", (long long)d0, (long long)d1);
		ld->rc = eng_errf(ld->err, ENG_EFORMAT, "%s: tensor '%s': shape [%s], config.json implies [%s]",
				  t->file, name, got, want);
		return NULL;
	}
	if (t->dtype == ENG_DT_I32) {
		ld->rc = eng_errf(ld->err, ENG_EUNSUPPORTED, "%s: tensor '%s': dtype I32 where a float weight is expected",
				  t->file, name);
		return NULL;
	}
	return t;
}

static float *take(struct loader *ld, size_t n)
{
	float *p = ld->fill ? ld->arena + ld->off : NULL;
	ld->off += n;
	return p;
}

/* Elements [start, start + len) of a 1-D float tensor (norm weight, bias, router bias) of n. */
static const float *vec_part(struct loader *ld, const char *name, int n, int start, int len)
{
	const struct eng_st_tensor *t = need(ld, name, n, -1);
	if (!t)
		return NULL;
	float *p = take(ld, (size_t)len);
	if (p)
		eng_st_to_f32(t->dtype, (const char *)t->data + (size_t)start * eng_dtype_size(t->dtype), (size_t)len, p);
	return p;
}

static const float *vec(struct loader *ld, const char *name, int n)
{
	return vec_part(ld, name, n, 0, n);
}

/* Rows [r0, r0 + nr) x columns [c0, c0 + nc) of the (out, in) weight `name`, dequantized with the
 * block scales of their global positions. */
static const float *mat_part(struct loader *ld, const char *name, int out, int in, int r0, int nr, int c0, int nc)
{
	const struct eng_st_tensor *t = need(ld, name, out, in);
	if (!t)
		return NULL;
	const struct eng_st_tensor *s = NULL;
	int bn = ld->c->block_n, bk = ld->c->block_k;
	int sn = (out + bn - 1) / bn, sk = (in + bk - 1) / bk;
	if (t->dtype == ENG_DT_F8_E4M3) {
		char sname[512];
		snprintf(sname, sizeof sname, "%s_scale_inv", name);
		s = need(ld, sname, sn, sk);
		if (!s)
			return NULL;
	}
	float *p = take(ld, (size_t)nr * nc);
	if (!p)
		return NULL;
	size_t es = eng_dtype_size(t->dtype);
	if (nc == in) /* whole rows: one contiguous run */
		eng_st_to_f32(t->dtype, (const char *)t->data + (size_t)r0 * in * es, (size_t)nr * in, p);
	else
		for (int i = 0; i < nr; i++)
			eng_st_to_f32(t->dtype, (const char *)t->data + ((size_t)(r0 + i) * in + c0) * es, (size_t)nc,
				      p + (size_t)i * nc);
	if (s) {
		/* weight_dequant: w[i][j] *= scale_inv[i / 128][j / 128] */
		float *scale = malloc((size_t)sn * sk * sizeof *scale);
		if (!scale) {
			ld->rc = eng_errf(ld->err, ENG_ENOMEM, "%s: out of memory", name);
			return NULL;
		}
		eng_st_to_f32(s->dtype, s->data, (size_t)sn * sk, scale);
		for (int i = 0; i < nr; i++)
			for (int j = 0; j < nc; j++)
				p[(size_t)i * nc + j] *= scale[((r0 + i) / bn) * sk + (c0 + j) / bk];
		free(scale);
	}
	return p;
}

static const float *mat(struct loader *ld, const char *name, int out, int in)
{
	return mat_part(ld, name, out, in, 0, out, 0, in);
}

/* ColumnParallelLinear: output rows [r0, r0 + nr) of (out, in), with their bias. */
static struct eng_linear linear_col(struct loader *ld, const char *prefix, int out, int in, int r0, int nr, int bias)
{
	char name[512];
	struct eng_linear l = {.out = nr, .in = in};
	snprintf(name, sizeof name, "%s.weight", prefix);
	l.w = mat_part(ld, name, out, in, r0, nr, 0, in);
	if (bias) {
		snprintf(name, sizeof name, "%s.bias", prefix);
		l.b = vec_part(ld, name, out, r0, nr);
	}
	return l;
}

/* RowParallelLinear: input columns [c0, c0 + nc); the bias, when asked, is the whole one (the
 * caller asks on one rank only, so the sum over ranks adds it once). */
static struct eng_linear linear_row(struct loader *ld, const char *prefix, int out, int in, int c0, int nc, int bias)
{
	char name[512];
	struct eng_linear l = {.out = out, .in = nc};
	snprintf(name, sizeof name, "%s.weight", prefix);
	l.w = mat_part(ld, name, out, in, 0, out, c0, nc);
	if (bias) {
		snprintf(name, sizeof name, "%s.bias", prefix);
		l.b = vec(ld, name, out);
	}
	return l;
}

static struct eng_linear linear(struct loader *ld, const char *prefix, int out, int in, int bias)
{
	return linear_col(ld, prefix, out, in, 0, out, bias);
}

/* MLP / Expert with intermediate rows [i0, i0 + ni): w1, w3 column parallel, w2 row parallel. */
static struct eng_mlp mlp(struct loader *ld, const char *prefix, int dim, int inter, int i0, int ni)
{
	char name[512];
	struct eng_mlp m;
	snprintf(name, sizeof name, "%s.gate_proj", prefix);
	m.w1 = linear_col(ld, name, inter, dim, i0, ni, 0);
	snprintf(name, sizeof name, "%s.down_proj", prefix);
	m.w2 = linear_row(ld, name, dim, inter, i0, ni, 0);
	snprintf(name, sizeof name, "%s.up_proj", prefix);
	m.w3 = linear_col(ld, name, inter, dim, i0, ni, 0);
	return m;
}

static void load_layer(struct loader *ld, int l, struct eng_layer *L)
{
	const struct eng_config *c = ld->c;
	const struct eng_part *P = ld->p;
	int dim = c->hidden_size, H = c->num_attention_heads, h0 = P->head0, Hl = P->n_heads;
	char p[256], name[512];
	snprintf(p, sizeof p, "model.layers.%d", l);
#define NAME(fmt) (snprintf(name, sizeof name, "%s." fmt, p), name)
	L->attn_norm = vec(ld, NAME("input_layernorm.weight"), dim);
	L->ffn_norm = vec(ld, NAME("post_attention_layernorm.weight"), dim);
	if (c->arch == ENG_ARCH_DEEPSEEK_V3) {
		if (c->q_lora_rank) {
			L->wq_a = linear(ld, NAME("self_attn.q_a_proj"), c->q_lora_rank, dim, 0);
			L->q_norm = vec(ld, NAME("self_attn.q_a_layernorm.weight"), c->q_lora_rank);
			L->wq_b = linear_col(ld, NAME("self_attn.q_b_proj"), H * c->qk_head_dim, c->q_lora_rank,
					     h0 * c->qk_head_dim, Hl * c->qk_head_dim, 0);
		} else {
			L->wq = linear_col(ld, NAME("self_attn.q_proj"), H * c->qk_head_dim, dim, h0 * c->qk_head_dim,
					   Hl * c->qk_head_dim, 0);
		}
		L->wkv_a = linear(ld, NAME("self_attn.kv_a_proj_with_mqa"), c->kv_lora_rank + c->qk_rope_head_dim, dim, 0);
		L->kv_norm = vec(ld, NAME("self_attn.kv_a_layernorm.weight"), c->kv_lora_rank);
		int kvb = c->qk_nope_head_dim + c->v_head_dim;
		L->wkv_b = linear_col(ld, NAME("self_attn.kv_b_proj"), H * kvb, c->kv_lora_rank, h0 * kvb, Hl * kvb, 0);
		L->wo = linear_row(ld, NAME("self_attn.o_proj"), dim, H * c->v_head_dim, h0 * c->v_head_dim,
				   Hl * c->v_head_dim, 0);
	} else {
		int hd = c->head_dim, kvd = c->num_key_value_heads * hd;
		int kv0 = P->kv_head0 * hd, nkv = P->n_kv_heads * hd;
		L->wq = linear_col(ld, NAME("self_attn.q_proj"), H * hd, dim, h0 * hd, Hl * hd, c->attention_bias);
		L->wk = linear_col(ld, NAME("self_attn.k_proj"), kvd, dim, kv0, nkv, c->attention_bias);
		L->wv = linear_col(ld, NAME("self_attn.v_proj"), kvd, dim, kv0, nkv, c->attention_bias);
		/* qwen2's bias is on q/k/v only; llama's and qwen3's attention_bias also cover o_proj
		 * (HF LlamaAttention, Qwen3Attention: o_proj bias=config.attention_bias) */
		L->wo = linear_row(ld, NAME("self_attn.o_proj"), dim, H * hd, h0 * hd, Hl * hd,
				   c->attention_bias && c->arch != ENG_ARCH_QWEN2 /* o_proj bias: all but qwen2 */ && P->tp_rank == 0);
		if (c->qk_norm) {
			L->q_norm = vec(ld, NAME("self_attn.q_norm.weight"), hd);
			L->k_norm = vec(ld, NAME("self_attn.k_norm.weight"), hd);
		}
	}
	L->moe = eng_config_layer_moe(c, l);
	if (!L->moe) {
		L->mlp = mlp(ld, NAME("mlp"), dim, c->intermediate_size, P->inter0, P->n_inter);
		return;
	}
	int E = c->n_routed_experts;
	L->gate = mat(ld, NAME("mlp.gate.weight"), E, dim);
	/* The correction bias is read from the checkpoint, not inferred from the model size. */
	if (c->arch == ENG_ARCH_DEEPSEEK_V3 && eng_st_find(ld->st, NAME("mlp.gate.e_score_correction_bias")))
		L->gate_bias = vec(ld, name, E);
	for (int e = P->expert0; e < P->expert0 + P->n_experts; e++) { /* other ranks' experts stay zero */
		char ep[300];
		snprintf(ep, sizeof ep, "%s.mlp.experts.%d", p, e);
		struct eng_mlp m = mlp(ld, ep, dim, c->moe_intermediate_size, P->moe_inter0, P->n_moe_inter);
		if (L->experts)
			L->experts[e] = m;
	}
	if (c->n_shared_experts)
		L->shared_experts = mlp(ld, NAME("mlp.shared_experts"), dim, c->moe_intermediate_size * c->n_shared_experts,
					P->shared_inter0, P->n_shared_inter);
#undef NAME
}

static void load_all(struct loader *ld, struct eng_transformer *t)
{
	const struct eng_config *c = ld->c;
	const struct eng_part *P = ld->p;
	/* embed and head: vocabulary rows [vocab0, vocab0 + n_vocab) (model.py ParallelEmbedding) */
	t->w.embed = mat_part(ld, "model.embed_tokens.weight", c->vocab_size, c->hidden_size, P->vocab0, P->n_vocab, 0,
			      c->hidden_size);
	for (int l = 0; l < c->num_hidden_layers; l++)
		load_layer(ld, l, &t->w.layers[l]);
	t->w.norm = vec(ld, "model.norm.weight", c->hidden_size);
	if (c->tie_word_embeddings && !eng_st_find(ld->st, "lm_head.weight"))
		t->w.head = t->w.embed;
	else
		t->w.head = mat_part(ld, "lm_head.weight", c->vocab_size, c->hidden_size, P->vocab0, P->n_vocab, 0,
				     c->hidden_size);
}

void eng_transformer_free(struct eng_transformer *t)
{
	if (!t)
		return;
	eng_split_free(t->split);
	free(t->arena);
	free(t->experts_pool);
	free(t->w.layers);
	free(t);
}

int eng_transformer_load(const char *dir, struct eng_transformer **out, struct eng_err *err)
{
	return eng_transformer_load_part(dir, 0, 0, 0, out, err);
}

int eng_transformer_load_part(const char *dir, int tp, int ep, int rank, struct eng_transformer **out,
			      struct eng_err *err)
{
	*out = NULL;
	char path[4096];
	struct eng_transformer *t = calloc(1, sizeof *t);
	if (!t)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", dir);
	int rc;
	if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path) {
		rc = eng_errf(err, ENG_ELIMIT, "%s: path too long", dir);
		goto fail;
	}
	if ((rc = eng_config_load(path, &t->cfg, err)) != ENG_OK)
		goto fail;
	struct eng_st *st = NULL;
	if ((rc = eng_st_open_dir(dir, &st, err)) != ENG_OK)
		goto fail;
	const struct eng_config *c = &t->cfg;
	if (tp < 1)
		eng_part_whole(c, &t->part);
	else if ((rc = eng_part_plan(c, tp, ep, rank, &t->part, err)) != ENG_OK) {
		eng_st_close(st);
		goto fail;
	}
	t->w.layers = calloc((size_t)c->num_hidden_layers, sizeof *t->w.layers);
	size_t n_exp = (size_t)c->num_hidden_layers * (size_t)c->n_routed_experts;
	t->experts_pool = calloc(n_exp ? n_exp : 1, sizeof *t->experts_pool);
	if (!t->w.layers || !t->experts_pool) {
		rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", dir);
		eng_st_close(st);
		goto fail;
	}
	struct loader ld = {.st = st, .c = c, .p = &t->part, .dir = dir, .err = err};
	load_all(&ld, t); /* pass 1: check and count */
	if (ld.rc == ENG_OK) {
		t->arena = malloc(ld.off * sizeof(float));
		if (!t->arena)
			ld.rc = eng_errf(err, ENG_ENOMEM, "%s: cannot allocate %zu MiB of float32 weights", dir,
					 ld.off * sizeof(float) >> 20);
	}
	if (ld.rc == ENG_OK) {
		t->n_params = ld.off;
		for (int l = 0; l < c->num_hidden_layers; l++)
			if (eng_config_layer_moe(c, l))
				t->w.layers[l].experts = t->experts_pool + (size_t)l * c->n_routed_experts;
		ld.fill = 1;
		ld.arena = t->arena;
		ld.off = 0;
		load_all(&ld, t); /* pass 2: fill */
	}
	eng_st_close(st); /* everything was converted; the mapping is no longer needed */
	if ((rc = ld.rc) != ENG_OK)
		goto fail;
	*out = t;
	return ENG_OK;
fail:
	eng_transformer_free(t);
	return rc;
}
