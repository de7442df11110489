/* test_model.c — the CPU forward pass against float32 logits that HF transformers computed on the
 * same (dequantized) weights (tests/fixtures/README.md), for every fixture model and family.
 * Tolerance: relative error ||ours - ref|| / ||ref|| < 1e-4 per prompt (issue 5): the same float32
 * weights in a different summation order (and MLA in its absorbed form) should agree to rounding,
 * ~1e-6; a wrong RoPE pairing, router rule or norm gives errors of order 1. Greedy: teacher-forced
 * on the reference continuation, our argmax must equal the reference token at every step whose
 * reference margin exceeds twice our largest absolute logit error seen on the prompts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/model.h"
#include "engine/safetensors.h"

static const struct eng_st_tensor *ref_tensor(const struct eng_st *ref, const char *fmt, int p, int dtype)
{
	char name[64];
	snprintf(name, sizeof name, fmt, p);
	const struct eng_st_tensor *t = eng_st_find(ref, name);
	assert_non_null(t);
	assert_int_equal(t->dtype, dtype);
	return t;
}

static int argmax(const float *v, int n)
{
	int b = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

/* Checks all prompts of `ref_path` on the model in `dir`; returns the number of greedy steps checked. */
static int check_model(const char *dir, const char *ref_path, int n_prompts)
{
	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	int rc = eng_transformer_load(dir, &t, &err);
	if (rc)
		fprintf(stderr, "load %s: %s\n", dir, err.msg);
	assert_int_equal(rc, ENG_OK);
	struct eng_st *ref = NULL;
	assert_int_equal(eng_st_open(ref_path, &ref, &err), ENG_OK);
	const int V = t->cfg.vocab_size;
	int checked = 0;
	for (int p = 0; p < n_prompts; p++) {
		const struct eng_st_tensor *ids = ref_tensor(ref, "prompt%d_ids", p, ENG_DT_I32);
		const struct eng_st_tensor *lg = ref_tensor(ref, "prompt%d_logits", p, ENG_DT_F32);
		const struct eng_st_tensor *gr = ref_tensor(ref, "prompt%d_greedy", p, ENG_DT_I32);
		const struct eng_st_tensor *mg = ref_tensor(ref, "prompt%d_greedy_margin", p, ENG_DT_F32);
		int T = (int)ids->numel, G = (int)gr->numel;
		assert_int_equal(lg->shape[0], T);
		assert_int_equal(lg->shape[1], V);
		struct eng_state *s = NULL;
		assert_int_equal(eng_state_create(t, T + G + 1, &s, &err), ENG_OK);
		double diff2 = 0, ref2 = 0, max_abs = 0;
		float ref_row[4096];
		assert_true(V <= 4096);
		const float *logits = NULL;
		for (int i = 0; i < T; i++) {
			int32_t tok;
			memcpy(&tok, (const char *)ids->data + 4 * i, 4);
			logits = eng_forward(t, s, tok, i, 0);
			assert_non_null(logits);
			memcpy(ref_row, (const char *)lg->data + (size_t)i * V * 4, (size_t)V * 4);
			for (int v = 0; v < V; v++) {
				double d = (double)logits[v] - ref_row[v];
				diff2 += d * d;
				ref2 += (double)ref_row[v] * ref_row[v];
				if (fabs(d) > max_abs)
					max_abs = fabs(d);
			}
		}
		double rel = sqrt(diff2 / ref2);
		printf("  %s prompt %d: %d positions, relative error %.2e, max abs %.2e\n", dir, p, T, rel, max_abs);
		assert_true(rel < 1e-4);
		/* Teacher-forced greedy continuation. */
		for (int g = 0; g < G; g++) {
			int32_t want;
			float margin;
			memcpy(&want, (const char *)gr->data + 4 * g, 4);
			memcpy(&margin, (const char *)mg->data + 4 * g, 4);
			if (margin > 2 * max_abs) {
				assert_int_equal(argmax(logits, V), want);
				checked++;
			}
			logits = eng_forward(t, s, want, T + g, 0);
			assert_non_null(logits);
		}
		eng_state_free(s);
	}
	eng_st_close(ref);
	eng_transformer_free(t);
	return checked;
}

static void test_tiny_arith(void **st)
{
	(void)st;
	/* margins of the trained model are > 10, so all 3 x 48 steps are checked */
	assert_int_equal(check_model("engine/models/tiny-arith", "tests/fixtures/tiny-arith/reference.safetensors", 3), 144);
}

static void test_deepseek_v3_bf16(void **st)
{
	(void)st;
	assert_true(check_model("tests/fixtures/random/tiny-random-deepseek-v3-bf16",
				"tests/fixtures/random/tiny-random-deepseek-v3-bf16/reference.safetensors", 3) >= 60);
}
static void test_deepseek_v3_fp8(void **st)
{
	(void)st;
	assert_true(check_model("tests/fixtures/random/tiny-random-deepseek-v3-fp8",
				"tests/fixtures/random/tiny-random-deepseek-v3-fp8/reference.safetensors", 3) >= 60);
}
static void test_qwen3_moe_bf16(void **st)
{
	(void)st;
	assert_true(check_model("tests/fixtures/random/tiny-random-qwen3-moe-bf16",
				"tests/fixtures/random/tiny-random-qwen3-moe-bf16/reference.safetensors", 3) >= 60);
}
static void test_qwen3_moe_fp8(void **st)
{
	(void)st;
	assert_true(check_model("tests/fixtures/random/tiny-random-qwen3-moe-fp8",
				"tests/fixtures/random/tiny-random-qwen3-moe-fp8/reference.safetensors", 3) >= 60);
}

/* Rows are split between threads but each row is summed by one thread in the same order, so the
 * logits must be bit-identical with 1 and 3 threads. */
static void test_threads_same_logits(void **st)
{
	(void)st;
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load("engine/models/tiny-arith", &t, NULL), ENG_OK);
	struct eng_state *a = NULL, *b = NULL;
	assert_int_equal(eng_state_create(t, 16, &a, NULL), ENG_OK);
	assert_int_equal(eng_state_create(t, 16, &b, NULL), ENG_OK);
	assert_int_equal(eng_state_threads(b, 3, NULL), ENG_OK);
	assert_int_equal(eng_state_threads(b, 0, NULL), ENG_EMISUSE);
	const int toks[] = {0, 5, 17, 300, 42, 7, 9, 1000};
	for (int i = 0; i < 8; i++) {
		const float *la = eng_forward(t, a, toks[i], i, 0), *lb = eng_forward(t, b, toks[i], i, 0);
		assert_memory_equal(la, lb, (size_t)t->cfg.vocab_size * sizeof(float));
	}
	eng_state_free(a);
	eng_state_free(b);
	eng_transformer_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiny_arith),      cmocka_unit_test(test_deepseek_v3_bf16),
		cmocka_unit_test(test_deepseek_v3_fp8), cmocka_unit_test(test_qwen3_moe_bf16),
		cmocka_unit_test(test_qwen3_moe_fp8),   cmocka_unit_test(test_threads_same_logits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
