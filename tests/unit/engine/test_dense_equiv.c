/* test_dense_equiv.c — the dense families (qwen3, qwen2, llama) have no reference logits of their
 * own (no PyTorch here), so they are checked by equivalences with the HF-verified qwen3_moe path:
 * checkpoints written at test time from the tiny random qwen3_moe fixture, built so that two
 * configurations compute the same function, must give the same logits at every position of a
 * 40-token prompt. Each identity says below why it is exact, or exact up to float rounding.
 *
 *  1. The fixture itself against its HF logits (< 1e-4, as test_model.c), and its float32 rewrite
 *     by this file's writer gives the same logits (the writer changes nothing).
 *  2. qwen3 dense == qwen3_moe with one expert (top-1: softmax of one logit is 1, so the block is
 *     1.0f * expert(x), exact) == qwen3_moe with every layer in mlp_only_layers (the same dense
 *     MLP tensors) == the fixture's own router and top-2 over 8 copies of expert 0 (weights sum to
 *     1 after norm_topk_prob, so the output is expert(x) up to rounding).
 *  3. Without q/k norm: qwen2 with zero q/k/v biases == llama == llama with attention_bias and
 *     zero q/k/v/o biases (adding 0.0f is exact). qwen2 with random q/k/v biases == llama with the
 *     same biases and a zero o_proj bias (same sums). A v_proj bias b equals an o_proj bias W_o b:
 *     each head's output is sum_p a_p (v_p + b) = sum_p a_p v_p + b since the softmax weights a_p
 *     sum to 1 (to rounding), and o_proj is linear; qwen2 has no o_proj bias, llama has one.
 *  4. What no identity reaches (the biases go in before RoPE; llama3 RoPE scaling) is checked on
 *     layer 0 directly: its k/v cache rows and the last query equal HF's formulas (q_proj(x) + b,
 *     rotate_half RoPE with _compute_llama3_parameters frequencies) computed here in double.
 *  5. tie_word_embeddings: a checkpoint without lm_head == the untied one whose lm_head is a copy
 *     of embed_tokens (same floats, exact).
 * Every dense checkpoint also runs as one batched prefill (eng_forward_batch), which must equal
 * the one-at-a-time steps (1e-6 relative, measured 0): test_batch_forward.c covers only the
 * fixture families.
 * Tolerances (max |a - b| over all logits / max |b|): 1e-6 where both sides do the same float
 * operations (measured 0), 1e-5 where the identity holds in real arithmetic only. Each identity
 * also asserts that the thing it adds (a bias, a router, a RoPE scaling) moves the logits by far
 * more than the tolerance, so it could not pass by being ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/model.h"
#include "engine/paged.h"
#include "engine/safetensors.h"
#include "tests/unit/engine/engine_testutil.h"

#define SRC "tests/fixtures/random/tiny-random-qwen3-moe-bf16"
#define PROMPT 2 /* reference prompt2: 40 tokens */

#define TOL_SAME 1e-6 /* same float operations on both sides */
#define TOL_REAL 1e-5 /* identity exact in real arithmetic, rounding differs */
#define MOVED 1e-3    /* what an identity adds must move the logits at least this much */

/* the fixture's shapes (its config.json; the loader rejects a checkpoint that disagrees) */
enum { VOCAB = 1024, D = 256, H = 4, KVH = 2, HD = 64, FF = 128, E = 8, NL = 2 };

static int32_t prompt[64];
static int n_prompt;
static float *ref_logits; /* (n_prompt, vocab) HF float32 logits of the fixture */

/* ---- checkpoints: float32 tensors by name, written as one model.safetensors ---- */

#define MAX_TENSORS 128

struct tensor {
	char name[96];
	int ndim;
	int64_t shape[2];
	float *data;
};

struct ckpt {
	int n;
	struct tensor t[MAX_TENSORS];
};

static struct tensor *ck_find(struct ckpt *ck, const char *name)
{
	for (int i = 0; i < ck->n; i++)
		if (strcmp(ck->t[i].name, name) == 0)
			return &ck->t[i];
	return NULL;
}

static float *ck_get(struct ckpt *ck, const char *name)
{
	struct tensor *t = ck_find(ck, name);
	if (!t)
		fail_msg("tensor %s not in the checkpoint", name);
	return t->data;
}

/* Sets (adds or replaces) tensor `name` of shape (d0) when d1 < 0, else (d0, d1), copying src. */
static void ck_set(struct ckpt *ck, const char *name, int64_t d0, int64_t d1, const float *src)
{
	size_t n = (size_t)(d0 * (d1 < 0 ? 1 : d1));
	float *data = malloc(n * sizeof(float));
	assert_non_null(data);
	memcpy(data, src, n * sizeof(float)); /* before freeing: src may be the tensor replaced */
	struct tensor *t = ck_find(ck, name);
	if (!t) {
		assert_true(ck->n < MAX_TENSORS);
		t = &ck->t[ck->n++];
		snprintf(t->name, sizeof t->name, "%s", name);
	} else {
		free(t->data);
	}
	t->ndim = d1 < 0 ? 1 : 2;
	t->shape[0] = d0;
	t->shape[1] = d1 < 0 ? 1 : d1;
	t->data = data;
}

static void ck_del(struct ckpt *ck, const char *name)
{
	struct tensor *t = ck_find(ck, name);
	assert_non_null(t);
	free(t->data);
	*t = ck->t[--ck->n];
}

static void ck_free(struct ckpt *ck)
{
	for (int i = 0; i < ck->n; i++)
		free(ck->t[i].data);
	ck->n = 0;
}

static void ck_copy(struct ckpt *dst, const struct ckpt *src)
{
	dst->n = 0;
	for (int i = 0; i < src->n; i++)
		ck_set(dst, src->t[i].name, src->t[i].shape[0], src->t[i].ndim == 1 ? -1 : src->t[i].shape[1],
		       src->t[i].data);
}

/* Every tensor of the fixture, widened to float32 (the engine widens BF16 the same way). */
static void ck_from_fixture(struct ckpt *ck)
{
	struct eng_st *st = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_st_open(SRC "/model.safetensors", &st, &err), ENG_OK);
	ck->n = 0;
	for (size_t i = 0; i < eng_st_count(st); i++) {
		const struct eng_st_tensor *t = eng_st_at(st, i);
		assert_true(t->ndim == 1 || t->ndim == 2);
		float *f = malloc(t->numel * sizeof(float));
		assert_non_null(f);
		eng_st_to_f32(t->dtype, t->data, t->numel, f);
		ck_set(ck, t->name, t->shape[0], t->ndim == 1 ? -1 : t->shape[1], f);
		free(f);
	}
	eng_st_close(st);
}

/* Writes <scratch folder>/<name>/{config.json, model.safetensors} (all F32); returns the folder (static). */
static const char *ck_write(const struct ckpt *ck, const char *name, cJSON *config)
{
	static char dir[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(dir[k], sizeof dir[k], "%s/%s", tu_scratch(), name);
	mkdir(dir[k], 0700);
	char path[320];
	snprintf(path, sizeof path, "%s/config.json", dir[k]);
	char *cfg = cJSON_Print(config);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(cfg, f);
	fclose(f);
	free(cfg);

	cJSON *h = cJSON_CreateObject();
	size_t off = 0;
	for (int i = 0; i < ck->n; i++) {
		const struct tensor *t = &ck->t[i];
		size_t bytes = (size_t)(t->shape[0] * t->shape[1]) * 4;
		tu_st_entry(h, t->name, "F32", t->shape, t->ndim, off, bytes);
		off += bytes;
	}
	char *js = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	snprintf(path, sizeof path, "%s/model.safetensors", dir[k]);
	f = fopen(path, "wb");
	assert_non_null(f);
	tu_st_put_header(f, js);
	for (int i = 0; i < ck->n; i++) /* little-endian host, as the format */
		fwrite(ck->t[i].data, 4, (size_t)(ck->t[i].shape[0] * ck->t[i].shape[1]), f);
	assert_int_equal(fclose(f), 0);
	free(js);
	return dir[k];
}

/* ---- configs: the fixture's config.json with fields changed ---- */

static cJSON *cfg_fixture(void)
{
	FILE *f = fopen(SRC "/config.json", "rb");
	assert_non_null(f);
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	cJSON *c = cJSON_Parse(buf);
	assert_non_null(c);
	return c;
}

static void cfg_set(cJSON *c, const char *key, cJSON *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(c, key);
	cJSON_AddItemToObject(c, key, v);
}

static void cfg_num(cJSON *c, const char *key, double v)
{
	cfg_set(c, key, cJSON_CreateNumber(v));
}

/* The fixture's hyper-parameters as a dense family: model_type, MLP width = one expert's, the MoE
 * fields gone. */
static cJSON *cfg_dense(const char *model_type, int attention_bias)
{
	cJSON *c = cfg_fixture();
	static const char *moe_keys[] = {"num_experts", "num_experts_per_tok", "moe_intermediate_size",
					 "norm_topk_prob", "decoder_sparse_step", "mlp_only_layers",
					 "router_aux_loss_coef", "output_router_logits"};
	for (size_t i = 0; i < sizeof moe_keys / sizeof moe_keys[0]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(c, moe_keys[i]);
	static const char *const arch[][2] = {
		{"qwen3", "Qwen3ForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"llama", "LlamaForCausalLM"}};
	for (size_t i = 0; i < 3; i++)
		if (strcmp(model_type, arch[i][0]) == 0)
			cfg_set(c, "architectures", cJSON_CreateStringArray(&arch[i][1], 1));
	cfg_set(c, "model_type", cJSON_CreateString(model_type));
	cfg_num(c, "intermediate_size", FF);
	cfg_set(c, "attention_bias", cJSON_CreateBool(attention_bias));
	return c;
}

/* ---- running a checkpoint ---- */

static double max_rel(const float *a, const float *b, size_t n)
{
	double d = 0, m = 0;
	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - b[i]));
		m = fmax(m, fabs((double)b[i]));
	}
	return d / (m > 0 ? m : 1);
}

/* Logits (n_prompt, vocab) of the prompt through the checkpoint in dir, one token at a time; the
 * same prompt as one batched prefill must give the same rows. Caller frees. */
static float *run(const char *dir)
{
	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	int rc = eng_transformer_load(dir, &t, &err);
	if (rc)
		fail_msg("load %s: %s", dir, err.msg);
	const int V = t->cfg.vocab_size, T = n_prompt;
	float *out = malloc((size_t)T * V * sizeof(float));
	assert_non_null(out);
	struct eng_state *s = NULL, *sb = NULL;
	assert_int_equal(eng_state_create(t, T, &s, &err), ENG_OK);
	for (int i = 0; i < T; i++) {
		const float *lg = eng_forward(t, s, prompt[i], i, 0);
		assert_non_null(lg);
		memcpy(out + (size_t)i * V, lg, (size_t)V * sizeof(float));
	}
	struct eng_bstate *b = NULL;
	assert_int_equal(eng_bstate_create(t, T, T, &b, &err), ENG_OK);
	assert_int_equal(eng_state_create(t, T, &sb, &err), ENG_OK);
	int pos[64];
	struct eng_state *seq[64];
	for (int i = 0; i < T; i++) {
		pos[i] = i;
		seq[i] = sb;
	}
	const float *lg = eng_forward_batch(t, b, T, prompt, pos, seq, 0);
	assert_non_null(lg);
	double e = max_rel(lg, out, (size_t)T * V);
	if (e >= TOL_SAME)
		fail_msg("%s: batched prefill differs from single steps by %.2e", dir, e);
	eng_bstate_free(b);
	eng_state_free(sb);
	eng_state_free(s);
	eng_transformer_free(t);
	return out;
}

/* Asserts a == b within tol (max |a - b| / max |b| over all positions); prints the measure. */
static void same(const char *what, const float *a, const float *b, double tol)
{
	double e = max_rel(a, b, (size_t)n_prompt * VOCAB);
	printf("  %-66s %.2e (< %.0e)\n", what, e, tol);
	if (!(e < tol))
		fail_msg("%s: logits differ by %.2e relative", what, e);
}

/* Asserts the change under test moves the logits: a and b differ by more than MOVED. */
static void moved(const char *what, const float *a, const float *b)
{
	double e = max_rel(a, b, (size_t)n_prompt * VOCAB);
	printf("  %-66s %.2e (> %.0e)\n", what, e, MOVED);
	if (!(e > MOVED))
		fail_msg("%s: changes the logits by only %.2e", what, e);
}

/* ---- the fixture's shapes, and tensors derived from it ---- */

static const char *lname(int l, const char *suffix)
{
	static char buf[4][128];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "model.layers.%d.%s", l, suffix);
	return buf[k];
}

/* Deterministic values in [-scale, scale] (xorshift), the same on every run. */
static void fill_random(float *v, int n, float scale, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (int i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		v[i] = scale * ((float)(x >> 8) / (float)(1u << 23) - 1.0f);
	}
}

/* The fixture with every layer's MoE replaced by a dense MLP: expert 0's gate/up/down. */
static void ck_dense_qwen3(struct ckpt *ck)
{
	ck_from_fixture(ck);
	for (int l = 0; l < NL; l++) {
		static const char *proj[] = {"gate_proj", "up_proj", "down_proj"};
		for (int j = 0; j < 3; j++) {
			char from[128], to[128];
			snprintf(from, sizeof from, "mlp.experts.0.%s.weight", proj[j]);
			snprintf(to, sizeof to, "mlp.%s.weight", proj[j]);
			const struct tensor *t = ck_find(ck, lname(l, from));
			assert_non_null(t);
			ck_set(ck, lname(l, to), t->shape[0], t->shape[1], t->data);
		}
		for (int e = 0; e < E; e++)
			for (int j = 0; j < 3; j++) {
				char name[128];
				snprintf(name, sizeof name, "mlp.experts.%d.%s.weight", e, proj[j]);
				ck_del(ck, lname(l, name));
			}
		ck_del(ck, lname(l, "mlp.gate.weight"));
	}
}

/* The dense qwen3 checkpoint without q/k norm: what qwen2 and llama read. */
static void ck_dense_plain(struct ckpt *ck)
{
	ck_dense_qwen3(ck);
	for (int l = 0; l < NL; l++) {
		ck_del(ck, lname(l, "self_attn.q_norm.weight"));
		ck_del(ck, lname(l, "self_attn.k_norm.weight"));
	}
}

/* Sets q/k/v biases of every layer: random with the given scales (0: zeros). */
static void set_qkv_bias(struct ckpt *ck, float sq, float sk, float sv)
{
	float b[H * HD];
	for (int l = 0; l < NL; l++) {
		fill_random(b, H * HD, sq, 11 + l);
		ck_set(ck, lname(l, "self_attn.q_proj.bias"), H * HD, -1, b);
		fill_random(b, KVH * HD, sk, 21 + l);
		ck_set(ck, lname(l, "self_attn.k_proj.bias"), KVH * HD, -1, b);
		fill_random(b, KVH * HD, sv, 31 + l);
		ck_set(ck, lname(l, "self_attn.v_proj.bias"), KVH * HD, -1, b);
	}
}

/* ---- tests ---- */

/* 1. The anchor: the unchanged fixture against HF, and its float32 rewrite equal to it. */
static void test_fixture_anchor(void **st)
{
	(void)st;
	float *orig = run(SRC);
	const int V = VOCAB;
	double d2 = 0, r2 = 0;
	for (size_t i = 0; i < (size_t)n_prompt * V; i++) {
		double d = (double)orig[i] - ref_logits[i];
		d2 += d * d;
		r2 += (double)ref_logits[i] * ref_logits[i];
	}
	printf("  %-66s %.2e (< 1e-04)\n", "qwen3_moe fixture vs HF transformers (relative L2)", sqrt(d2 / r2));
	assert_true(sqrt(d2 / r2) < 1e-4);
	struct ckpt ck;
	ck_from_fixture(&ck);
	cJSON *c = cfg_fixture();
	float *rewritten = run(ck_write(&ck, "fixture-f32", c));
	same("qwen3_moe fixture rewritten as F32 == fixture", rewritten, orig, TOL_SAME);
	cJSON_Delete(c);
	ck_free(&ck);
	free(rewritten);
	free(orig);
}

/* 2. qwen3 dense against the MoE path. */
static void test_qwen3_dense_is_moe(void **st)
{
	(void)st;
	struct ckpt dense, moe1, moe8;
	ck_dense_qwen3(&dense);
	cJSON *c = cfg_dense("qwen3", 0);
	float *q3 = run(ck_write(&dense, "qwen3", c));
	cJSON_Delete(c);

	/* (a) qwen3_moe with one expert, top-1: the router's softmax over one logit is exactly 1
	 * (expf(x - x) / 1), norm_topk_prob divides 1 by 1, and the block adds 1.0f * expert(x) to a
	 * zeroed sum: the same floats as the dense MLP. */
	ck_from_fixture(&moe1);
	for (int l = 0; l < NL; l++) {
		for (int e = 1; e < E; e++)
			for (int j = 0; j < 3; j++) {
				static const char *proj[] = {"gate_proj", "up_proj", "down_proj"};
				char name[128];
				snprintf(name, sizeof name, "mlp.experts.%d.%s.weight", e, proj[j]);
				ck_del(&moe1, lname(l, name));
			}
		/* router row 0 only: (1, dim) */
		ck_set(&moe1, lname(l, "mlp.gate.weight"), 1, D, ck_get(&moe1, lname(l, "mlp.gate.weight")));
	}
	c = cfg_fixture();
	cfg_num(c, "num_experts", 1);
	cfg_num(c, "num_experts_per_tok", 1);
	cfg_set(c, "norm_topk_prob", cJSON_CreateTrue());
	float *m1 = run(ck_write(&moe1, "qwen3_moe-1expert", c));
	cJSON_Delete(c);
	same("qwen3 dense == qwen3_moe, 1 expert, top-1", q3, m1, TOL_SAME);

	/* (b) qwen3_moe whose every layer is in mlp_only_layers reads the same dense MLP tensors
	 * (HF Qwen3MoeMLP of intermediate_size): the same model. */
	c = cfg_fixture();
	cfg_num(c, "intermediate_size", FF);
	cfg_set(c, "mlp_only_layers", cJSON_CreateIntArray((const int[]){0, 1}, 2));
	float *mo = run(ck_write(&dense, "qwen3_moe-mlp-only", c));
	cJSON_Delete(c);
	same("qwen3 dense == qwen3_moe, mlp_only_layers = every layer", q3, mo, TOL_SAME);

	/* (c) the fixture's own config (8 experts, its router, top-2, norm_topk_prob) with every
	 * expert a copy of expert 0: whichever two win, w0 f(x) + w1 f(x) with w0 + w1 = 1 to
	 * rounding. The router runs as verified against HF; only the experts' weights changed. */
	ck_from_fixture(&moe8);
	for (int l = 0; l < NL; l++)
		for (int e = 1; e < E; e++)
			for (int j = 0; j < 3; j++) {
				static const char *proj[] = {"gate_proj", "up_proj", "down_proj"};
				char from[128], to[128];
				snprintf(from, sizeof from, "mlp.experts.0.%s.weight", proj[j]);
				snprintf(to, sizeof to, "mlp.experts.%d.%s.weight", e, proj[j]);
				const struct tensor *t = ck_find(&moe8, lname(l, from));
				ck_set(&moe8, lname(l, to), t->shape[0], t->shape[1], t->data);
			}
	c = cfg_fixture();
	float *m8 = run(ck_write(&moe8, "qwen3_moe-8-copies", c));
	cJSON_Delete(c);
	same("qwen3 dense == qwen3_moe, 8 copies of expert 0, top-2 normalised", q3, m8, TOL_REAL);

	/* The fixture (8 different experts) is another function: the identities above rest on the
	 * experts, not on a router or MLP that does nothing. */
	float *fx = run(SRC);
	moved("fixture's 8 distinct experts vs 8 copies (the experts matter)", fx, m8);

	free(fx);
	free(m8);
	free(mo);
	free(m1);
	free(q3);
	ck_free(&moe8);
	ck_free(&moe1);
	ck_free(&dense);
}

/* 3. qwen2 and llama against each other, with and without biases. */
static void test_qwen2_llama_biases(void **st)
{
	(void)st;
	struct ckpt plain, ck;
	ck_dense_plain(&plain);

	cJSON *c = cfg_dense("llama", 0);
	float *llama = run(ck_write(&plain, "llama", c));
	cJSON_Delete(c);

	/* qwen2 always has q/k/v biases (HF Qwen2Attention: bias=True; o_proj bias=False); zeros
	 * add 0.0f to each projection, which changes no float. */
	ck_copy(&ck, &plain);
	set_qkv_bias(&ck, 0, 0, 0);
	c = cfg_dense("qwen2", 0);
	float *q2_zero = run(ck_write(&ck, "qwen2-zero-bias", c));
	cJSON_Delete(c);
	same("qwen2, zero q/k/v biases == llama", q2_zero, llama, TOL_SAME);

	/* llama with attention_bias: q/k/v and o_proj biases (HF LlamaAttention), zeros here. */
	float zero[D] = {0};
	for (int l = 0; l < NL; l++)
		ck_set(&ck, lname(l, "self_attn.o_proj.bias"), D, -1, zero);
	c = cfg_dense("llama", 1);
	float *ll_zero = run(ck_write(&ck, "llama-zero-bias", c));
	cJSON_Delete(c);
	same("llama, attention_bias with zero q/k/v/o biases == llama", ll_zero, llama, TOL_SAME);

	/* Random q/k/v biases: qwen2 == llama with attention_bias, the same q/k/v biases and a zero
	 * o_proj bias (the same sums on both sides). */
	set_qkv_bias(&ck, 0.5f, 0.5f, 0.5f);
	c = cfg_dense("llama", 1);
	float *ll_bias = run(ck_write(&ck, "llama-bias", c));
	cJSON_Delete(c);
	ck_del(&ck, lname(0, "self_attn.o_proj.bias"));
	ck_del(&ck, lname(1, "self_attn.o_proj.bias"));
	c = cfg_dense("qwen2", 0);
	float *q2_bias = run(ck_write(&ck, "qwen2-bias", c));
	cJSON_Delete(c);
	same("qwen2, random q/k/v biases == llama, same biases, zero o_proj bias", q2_bias, ll_bias, TOL_SAME);
	moved("qwen2 random q/k/v biases vs zero biases (the biases matter)", q2_bias, q2_zero);

	/* v_proj bias b == o_proj bias W_o b: query head h reads kv head h / (H / KVH), so the
	 * attention output gains b of that kv head in head h's slot; o_proj maps it to
	 * o_bias[i] = sum_h sum_d W_o[i][h * HD + d] * b[(h / (H / KVH)) * HD + d]. */
	float *q2_nov;
	{
		struct ckpt nov;
		ck_copy(&nov, &ck);
		float zb[KVH * HD] = {0};
		for (int l = 0; l < NL; l++)
			ck_set(&nov, lname(l, "self_attn.v_proj.bias"), KVH * HD, -1, zb);
		c = cfg_dense("qwen2", 0);
		q2_nov = run(ck_write(&nov, "qwen2-no-v-bias", c));
		cJSON_Delete(c);
		for (int l = 0; l < NL; l++) {
			const float *wo = ck_get(&nov, lname(l, "self_attn.o_proj.weight"));
			const float *bv = ck_get(&ck, lname(l, "self_attn.v_proj.bias"));
			float ob[D];
			for (int i = 0; i < D; i++) {
				double s = 0;
				for (int h = 0; h < H; h++)
					for (int d = 0; d < HD; d++)
						s += (double)wo[(size_t)i * H * HD + h * HD + d] * bv[(h / (H / KVH)) * HD + d];
				ob[i] = (float)s;
			}
			ck_set(&nov, lname(l, "self_attn.o_proj.bias"), D, -1, ob);
		}
		c = cfg_dense("llama", 1);
		float *ll_ob = run(ck_write(&nov, "llama-o-bias", c));
		cJSON_Delete(c);
		same("qwen2 with v_proj bias b == llama, v bias 0, o_proj bias W_o b", q2_bias, ll_ob, TOL_REAL);
		free(ll_ob);
		ck_free(&nov);
	}
	moved("qwen2 v_proj bias vs none (the v bias matters)", q2_bias, q2_nov);

	/* A qwen2 checkpoint without its q/k/v biases is an error naming the tensor, not zeros. */
	ck_del(&ck, lname(1, "self_attn.k_proj.bias"));
	c = cfg_dense("qwen2", 0);
	const char *dir = ck_write(&ck, "qwen2-missing-bias", c);
	cJSON_Delete(c);
	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load(dir, &t, &err), ENG_EFORMAT);
	assert_null(t);
	assert_non_null(strstr(err.msg, "model.layers.1.self_attn.k_proj.bias"));

	free(q2_nov);
	free(q2_bias);
	free(ll_bias);
	free(ll_zero);
	free(q2_zero);
	free(llama);
	ck_free(&ck);
	ck_free(&plain);
}

/* HF _compute_llama3_parameters on the default frequencies (rope_dim HD). */
static void llama3_inv_freq(double theta, double factor, double lo, double hi, double old, double *inv, int scaled)
{
	for (int i = 0; i < HD / 2; i++) {
		inv[i] = 1.0 / pow(theta, 2.0 * i / HD);
		if (!scaled)
			continue;
		double wl = 2 * M_PI / inv[i];
		if (wl > old / lo)
			inv[i] /= factor;
		else if (wl >= old / hi) {
			double s = (old / wl - lo) / (hi - lo);
			inv[i] = (1 - s) * inv[i] / factor + s * inv[i];
		}
	}
}

/* HF apply_rotary_pos_emb on one head: x * cos + rotate_half(x) * sin. */
static void rope_ref(double *x, const double *inv, int pos)
{
	for (int i = 0; i < HD / 2; i++) {
		double a = (double)((float)pos * (float)inv[i]), x0 = x[i], x1 = x[i + HD / 2];
		x[i] = x0 * cos(a) - x1 * sin(a);
		x[i + HD / 2] = x1 * cos(a) + x0 * sin(a);
	}
}

/* y = W x + b of layer 0's projection (out rows) on input xn, then RoPE per head at pos. */
static void proj_ref(const float *w, const float *b, int out, const double *xn, const double *inv, int pos, int rope,
		     double *y)
{
	for (int r = 0; r < out; r++) {
		double s = b ? b[r] : 0;
		for (int j = 0; j < D; j++)
			s += (double)w[(size_t)r * D + j] * xn[j];
		y[r] = s;
	}
	if (rope)
		for (int h = 0; h < out / HD; h++)
			rope_ref(y + h * HD, inv, pos);
}

/* max |a - b| / max |b| of a float vector against a double one */
static double rel_vs(const float *a, const double *b, int n)
{
	double d = 0, m = 0;
	for (int i = 0; i < n; i++) {
		d = fmax(d, fabs(a[i] - b[i]));
		m = fmax(m, fabs(b[i]));
	}
	return d / m;
}

/* 4. Layer 0 of a one-layer llama with q/k/v biases and llama3 RoPE (DeepSeek-R1-Distill-Llama's
 * rope_scaling: factor 8, low 1, high 4, original 8192, theta 5e5; with head_dim 64 all three
 * bands occur) against HF's formulas: its k and v cache rows at every position and the last
 * token's query (the state's q buffer holds layer 0's after the step, there being one layer). */
static void test_layer0_bias_rope(void **st)
{
	(void)st;
	struct ckpt ck;
	ck_dense_plain(&ck);
	set_qkv_bias(&ck, 0.5f, 0.5f, 0.5f);
	float ob[D];
	fill_random(ob, D, 0.5f, 41);
	for (int l = 0; l < NL; l++)
		ck_set(&ck, lname(l, "self_attn.o_proj.bias"), D, -1, ob);
	cJSON *c = cfg_dense("llama", 1);
	cfg_num(c, "num_hidden_layers", 1);
	cfg_num(c, "rope_theta", 500000.0);
	cJSON *rs = cJSON_CreateObject();
	cJSON_AddStringToObject(rs, "rope_type", "llama3");
	cJSON_AddNumberToObject(rs, "factor", 8.0);
	cJSON_AddNumberToObject(rs, "low_freq_factor", 1.0);
	cJSON_AddNumberToObject(rs, "high_freq_factor", 4.0);
	cJSON_AddNumberToObject(rs, "original_max_position_embeddings", 8192);
	cfg_set(c, "rope_scaling", rs);
	const char *dir = ck_write(&ck, "llama3-1layer", c);
	cJSON_Delete(c);

	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load(dir, &t, &err), ENG_OK);
	assert_int_equal(t->cfg.num_hidden_layers, 1);
	struct eng_state *s = NULL;
	assert_int_equal(eng_state_create(t, n_prompt, &s, &err), ENG_OK);
	for (int i = 0; i < n_prompt; i++)
		assert_non_null(eng_forward(t, s, prompt[i], i, 0));

	double inv[HD / 2], inv_plain[HD / 2];
	llama3_inv_freq(500000.0, 8, 1, 4, 8192, inv, 1);
	llama3_inv_freq(500000.0, 8, 1, 4, 8192, inv_plain, 0);
	int bands[3] = {0};
	for (int i = 0; i < HD / 2; i++) {
		double wl = 2 * M_PI / inv_plain[i];
		bands[wl > 8192 ? 0 : wl >= 2048 ? 1 : 2]++;
	}
	assert_true(bands[0] > 0 && bands[1] > 0 && bands[2] > 0);

	const float *emb = ck_get(&ck, "model.embed_tokens.weight"), *g = ck_get(&ck, lname(0, "input_layernorm.weight"));
	const float *wq = ck_get(&ck, lname(0, "self_attn.q_proj.weight")), *bq = ck_get(&ck, lname(0, "self_attn.q_proj.bias"));
	const float *wk = ck_get(&ck, lname(0, "self_attn.k_proj.weight")), *bk = ck_get(&ck, lname(0, "self_attn.k_proj.bias"));
	const float *wv = ck_get(&ck, lname(0, "self_attn.v_proj.weight")), *bv = ck_get(&ck, lname(0, "self_attn.v_proj.bias"));
	const int kvd = KVH * HD;
	double worst_k = 0, worst_v = 0, moved_bias = 0, moved_rope = 0;
	for (int p = 0; p < n_prompt; p++) {
		/* input_layernorm(embed_tokens[token]) */
		const float *x = emb + (size_t)prompt[p] * D;
		double ss = 0, xn[D];
		for (int j = 0; j < D; j++)
			ss += (double)x[j] * x[j];
		double r = 1.0 / sqrt(ss / D + t->cfg.rms_norm_eps);
		for (int j = 0; j < D; j++)
			xn[j] = g[j] * (x[j] * r);
		double k[KVH * HD], v[KVH * HD], k_nb[KVH * HD], k_plain[KVH * HD];
		proj_ref(wk, bk, kvd, xn, inv, p, 1, k);
		proj_ref(wv, bv, kvd, xn, inv, p, 0, v);
		proj_ref(wk, NULL, kvd, xn, inv, p, 1, k_nb);
		proj_ref(wk, bk, kvd, xn, inv_plain, p, 1, k_plain);
		/* layer 0's cached k and v of position p, through the paged cache's block table */
		const float *kc = eng_kv_a(s, 0, p), *vc = eng_kv_b(s, 0, p);
		worst_k = fmax(worst_k, rel_vs(kc, k, kvd));
		worst_v = fmax(worst_v, rel_vs(vc, v, kvd));
		moved_bias = fmax(moved_bias, rel_vs(kc, k_nb, kvd));
		moved_rope = fmax(moved_rope, rel_vs(kc, k_plain, kvd));
		if (p == n_prompt - 1) {
			double q[H * HD];
			proj_ref(wq, bq, H * HD, xn, inv, p, 1, q);
			double eq = rel_vs(s->q, q, H * HD);
			printf("  %-66s %.2e (< %.0e)\n", "layer 0 query of the last token vs HF formula", eq, TOL_REAL);
			assert_true(eq < TOL_REAL);
		}
	}
	printf("  %-66s %.2e (< %.0e)\n", "layer 0 k cache, every position, vs HF formula", worst_k, TOL_REAL);
	printf("  %-66s %.2e (< %.0e)\n", "layer 0 v cache, every position, vs HF formula", worst_v, TOL_REAL);
	printf("  %-66s %.2e (> %.0e)\n", "k without its bias (the bias matters)", moved_bias, MOVED);
	printf("  %-66s %.2e (> %.0e)\n", "k with unscaled RoPE (the llama3 scaling matters)", moved_rope, MOVED);
	assert_true(worst_k < TOL_REAL);
	assert_true(worst_v < TOL_REAL);
	assert_true(moved_bias > MOVED);
	assert_true(moved_rope > MOVED);
	eng_state_free(s);
	eng_transformer_free(t);
	ck_free(&ck);
}

/* 5. tie_word_embeddings: no lm_head in the file == lm_head a copy of embed_tokens. */
static void test_tied_embeddings(void **st)
{
	(void)st;
	struct ckpt ck;
	ck_dense_plain(&ck);
	cJSON *c = cfg_dense("llama", 0);
	float *own_head = run(ck_write(&ck, "llama-own-head", c));
	ck_set(&ck, "lm_head.weight", VOCAB, D, ck_get(&ck, "model.embed_tokens.weight"));
	float *copied = run(ck_write(&ck, "llama-head-copy", c));
	ck_del(&ck, "lm_head.weight");
	cfg_set(c, "tie_word_embeddings", cJSON_CreateTrue());
	float *tied = run(ck_write(&ck, "llama-tied", c));
	same("llama, tie_word_embeddings without lm_head == lm_head = embed_tokens", tied, copied, TOL_SAME);
	moved("tied head vs the fixture's own lm_head (the head matters)", tied, own_head);
	/* untied without lm_head: an error naming the tensor */
	cfg_set(c, "tie_word_embeddings", cJSON_CreateFalse());
	const char *dir = ck_write(&ck, "llama-no-head", c);
	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load(dir, &t, &err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "lm_head.weight"));
	cJSON_Delete(c);
	free(tied);
	free(copied);
	free(own_head);
	ck_free(&ck);
}

/* ---- setup ---- */

static int setup(void **st)
{
	if (tu_scratch_setup(st))
		return -1;
	struct eng_st *ref = NULL;
	if (eng_st_open(SRC "/reference.safetensors", &ref, NULL))
		return -1;
	char name[64];
	snprintf(name, sizeof name, "prompt%d_ids", PROMPT);
	const struct eng_st_tensor *ids = eng_st_find(ref, name);
	snprintf(name, sizeof name, "prompt%d_logits", PROMPT);
	const struct eng_st_tensor *lg = eng_st_find(ref, name);
	if (!ids || !lg || ids->numel > 64 || ids->dtype != ENG_DT_I32 || lg->dtype != ENG_DT_F32) {
		eng_st_close(ref);
		return -1;
	}
	n_prompt = (int)ids->numel;
	memcpy(prompt, ids->data, ids->nbytes);
	ref_logits = malloc(lg->nbytes);
	if (ref_logits)
		memcpy(ref_logits, lg->data, lg->nbytes);
	eng_st_close(ref);
	return ref_logits ? 0 : -1;
}

/* HF Qwen3Attention: o_proj = nn.Linear(..., bias=config.attention_bias). A qwen3 checkpoint with
 * attention_bias and zero q/k/v biases but a non-zero o_proj bias must differ from the same one
 * with a zero o_proj bias (the bias is added to the residual after attention); an engine that
 * ignored the tensor would give identical logits. */
static void test_qwen3_o_proj_bias(void **st)
{
	(void)st;
	struct ckpt ck;
	ck_dense_qwen3(&ck);
	set_qkv_bias(&ck, 0, 0, 0);
	float ob[D] = {0};
	for (int l = 0; l < NL; l++)
		ck_set(&ck, lname(l, "self_attn.o_proj.bias"), D, -1, ob);
	cJSON *c = cfg_dense("qwen3", 1);
	float *zero = run(ck_write(&ck, "qwen3-o-bias-zero", c));
	fill_random(ob, D, 0.5f, 41);
	for (int l = 0; l < NL; l++)
		ck_set(&ck, lname(l, "self_attn.o_proj.bias"), D, -1, ob);
	float *nonzero = run(ck_write(&ck, "qwen3-o-bias", c));
	moved("qwen3 attention_bias: o_proj bias vs zero o_proj bias", nonzero, zero);
	cJSON_Delete(c);
	free(zero);
	free(nonzero);
	ck_free(&ck);
}

/* HF LlamaMLP puts bias=config.mlp_bias on gate/up/down, and sliding-window attention changes
 * which positions attend: the engine has neither, so such configs are refused, never run wrong. */
static void test_unsupported_refused(void **st)
{
	(void)st;
	struct ckpt ck;
	ck_dense_plain(&ck);
	static const char *const keys[] = {"mlp_bias", "use_sliding_window"};
	for (int i = 0; i < 2; i++) {
		cJSON *c = cfg_dense(i ? "qwen2" : "llama", 0);
		cfg_set(c, keys[i], cJSON_CreateTrue());
		const char *dir = ck_write(&ck, keys[i], c);
		struct eng_transformer *t = NULL;
		struct eng_err err = {0};
		assert_int_equal(eng_transformer_load(dir, &t, &err), ENG_EUNSUPPORTED);
		assert_null(t);
		assert_non_null(strstr(err.msg, keys[i]));
		cJSON_Delete(c);
	}
	ck_free(&ck);
}

static int teardown(void **st)
{
	free(ref_logits);
	return tu_scratch_teardown(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_anchor),     cmocka_unit_test(test_qwen3_dense_is_moe),
		cmocka_unit_test(test_qwen2_llama_biases), cmocka_unit_test(test_layer0_bias_rope),
		cmocka_unit_test(test_tied_embeddings),    cmocka_unit_test(test_qwen3_o_proj_bias),
		cmocka_unit_test(test_unsupported_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
