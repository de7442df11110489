/* test_batch_forward.c — eng_forward_batch against one-at-a-time eng_forward (already checked
 * against HF transformers in test_model.c) on every fixture model and family:
 *  - prefill as a batch: a whole prompt as rows of one sequence (causal attention among them);
 *  - several sequences of different lengths in one step, each at its own position, joining and
 *    finishing at different steps, prompt chunks and single decode rows mixed;
 *  - the same with the rows' matmuls split over 3 threads.
 * Tolerance: every row's logits within 1e-6 relative (||batched - single|| / ||single||) of the
 * single step's, i.e. float rounding; each (weight row, input row) is summed in the same order on
 * both paths, so we measure 0. A wrong position, cache slot or causal mask gives errors of order 1.
 * The prefill rows are also checked against the HF reference logits (< 1e-4, as test_model.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "engine/safetensors.h"
#include "tests/unit/engine/engine_testutil.h"

#define NP 3 /* prompts per reference file */

struct prompts {
	int n[NP];
	int32_t *ids[NP];
	float *ref[NP]; /* (n, V) HF logits */
};

static void load_prompts(const char *ref_path, int V, struct prompts *p)
{
	struct eng_st *ref = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_st_open(ref_path, &ref, &err), ENG_OK);
	for (int i = 0; i < NP; i++) {
		char name[64];
		snprintf(name, sizeof name, "prompt%d_ids", i);
		const struct eng_st_tensor *ids = eng_st_find(ref, name);
		snprintf(name, sizeof name, "prompt%d_logits", i);
		const struct eng_st_tensor *lg = eng_st_find(ref, name);
		assert_non_null(ids);
		assert_non_null(lg);
		p->n[i] = (int)ids->numel;
		p->ids[i] = malloc(ids->numel * 4);
		p->ref[i] = malloc(lg->numel * 4);
		assert_int_equal((int)lg->numel, p->n[i] * V);
		memcpy(p->ids[i], ids->data, ids->numel * 4);
		memcpy(p->ref[i], lg->data, lg->numel * 4);
	}
	eng_st_close(ref);
}

static void free_prompts(struct prompts *p)
{
	for (int i = 0; i < NP; i++) {
		free(p->ids[i]);
		free(p->ref[i]);
	}
}

/* One-at-a-time logits of every position of every prompt: single[i] (n_i, V). */
static void single_logits(const struct eng_transformer *t, const struct prompts *p, float **single)
{
	const int V = t->cfg.vocab_size;
	for (int i = 0; i < NP; i++) {
		struct eng_state *s = NULL;
		assert_int_equal(eng_state_create(t, p->n[i] + 1, &s, NULL), ENG_OK);
		single[i] = malloc((size_t)p->n[i] * V * sizeof(float));
		for (int k = 0; k < p->n[i]; k++) {
			const float *lg = eng_forward(t, s, p->ids[i][k], k, 0);
			assert_non_null(lg);
			memcpy(single[i] + (size_t)k * V, lg, (size_t)V * sizeof(float));
		}
		eng_state_free(s);
	}
}

static void check_model(const char *dir, const char *ref_path, int threads)
{
	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load(dir, &t, &err), ENG_OK);
	const int V = t->cfg.vocab_size;
	struct prompts p;
	load_prompts(ref_path, V, &p);
	float *single[NP];
	single_logits(t, &p, single);
	int max_n = 0;
	for (int i = 0; i < NP; i++)
		max_n = p.n[i] > max_n ? p.n[i] : max_n;

	/* Prefill as one batch: all of prompt i's positions in one step. */
	struct eng_bstate *b = NULL;
	assert_int_equal(eng_bstate_create(t, max_n * NP, max_n + 1, &b, &err), ENG_OK);
	if (threads > 1)
		assert_int_equal(eng_bstate_threads(b, threads, &err), ENG_OK);
	int *tok = malloc(sizeof(int) * (size_t)max_n * NP), *pos = malloc(sizeof(int) * (size_t)max_n * NP);
	struct eng_state **seq = malloc(sizeof *seq * (size_t)max_n * NP);
	struct eng_state *st[NP];
	for (int i = 0; i < NP; i++)
		assert_int_equal(eng_state_create(t, max_n + 1, &st[i], &err), ENG_OK);
	double worst = 0, worst_ref = 0;
	for (int i = 0; i < NP; i++) {
		for (int k = 0; k < p.n[i]; k++) {
			tok[k] = p.ids[i][k];
			pos[k] = k;
			seq[k] = st[i];
		}
		const float *lg = eng_forward_batch(t, b, p.n[i], tok, pos, seq, 0);
		assert_non_null(lg);
		for (int k = 0; k < p.n[i]; k++) {
			double e = tu_rel_err(lg + (size_t)k * V, single[i] + (size_t)k * V, V);
			worst = e > worst ? e : worst;
		}
		double r = tu_rel_err(lg, p.ref[i], p.n[i] * V);
		worst_ref = r > worst_ref ? r : worst_ref;
	}
	printf("  %s (%d threads): prefill rows vs single steps %.2e, vs HF %.2e\n", dir, threads, worst, worst_ref);
	assert_true(worst < 1e-6);
	assert_true(worst_ref < 1e-4);

	/* Mixed steps over fresh caches: prompt i joins at step i and advances by i + 1 positions per
	 * step (prompt 0 one token at a time, as decode rows), so sequences are at different positions,
	 * some rows are chunks of one sequence, and prompts finish at different steps. */
	for (int i = 0; i < NP; i++) {
		eng_state_free(st[i]);
		assert_int_equal(eng_state_create(t, max_n + 1, &st[i], &err), ENG_OK);
	}
	int done[NP] = {0}, steps = 0;
	worst = 0;
	for (;;) {
		int n = 0, from[NP];
		for (int i = 0; i < NP; i++) {
			from[i] = n;
			if (steps < i)
				continue;
			for (int c = 0; c < i + 1 && done[i] < p.n[i]; c++, done[i]++) {
				tok[n] = p.ids[i][done[i]];
				pos[n] = done[i];
				seq[n++] = st[i];
			}
		}
		if (n == 0)
			break;
		const float *lg = eng_forward_batch(t, b, n, tok, pos, seq, 0);
		assert_non_null(lg);
		for (int r = 0; r < n; r++) {
			int i = 0;
			while (i + 1 < NP && from[i + 1] <= r)
				i++;
			double e = tu_rel_err(lg + (size_t)r * V, single[i] + (size_t)pos[r] * V, V);
			worst = e > worst ? e : worst;
		}
		steps++;
	}
	printf("  %s (%d threads): %d mixed steps, rows vs single steps %.2e\n", dir, threads, steps, worst);
	assert_true(steps >= p.n[0]);
	assert_true(worst < 1e-6);

	for (int i = 0; i < NP; i++) {
		eng_state_free(st[i]);
		free(single[i]);
	}
	free(tok);
	free(pos);
	free(seq);
	eng_bstate_free(b);
	free_prompts(&p);
	eng_transformer_free(t);
}

static void test_tiny_arith(void **st)
{
	(void)st;
	check_model("engine/models/tiny-arith", "tests/fixtures/tiny-arith/reference.safetensors", 1);
}

#define RANDOM(name) "tests/fixtures/random/" name, "tests/fixtures/random/" name "/reference.safetensors"

static void test_deepseek_v3(void **st)
{
	(void)st;
	check_model(RANDOM("tiny-random-deepseek-v3-bf16"), 1);
	check_model(RANDOM("tiny-random-deepseek-v3-fp8"), 3);
}

static void test_qwen3_moe(void **st)
{
	(void)st;
	check_model(RANDOM("tiny-random-qwen3-moe-bf16"), 1);
	check_model(RANDOM("tiny-random-qwen3-moe-fp8"), 3);
}

/* ENG_FF_LAST_ROWS computes logits for each sequence's last row only (the others are not read),
 * ENG_FF_KV_ONLY none; bad rows are refused before anything runs. */
static void test_flags_and_errors(void **st)
{
	(void)st;
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load("engine/models/tiny-arith", &t, NULL), ENG_OK);
	const int V = t->cfg.vocab_size;
	struct eng_state *a = NULL, *c = NULL, *ref = NULL;
	struct eng_bstate *b = NULL;
	assert_int_equal(eng_state_create(t, 8, &a, NULL), ENG_OK);
	assert_int_equal(eng_state_create(t, 8, &c, NULL), ENG_OK);
	assert_int_equal(eng_state_create(t, 8, &ref, NULL), ENG_OK);
	assert_int_equal(eng_bstate_create(t, 4, 8, &b, NULL), ENG_OK);
	int tok[4] = {5, 17, 300, 42}, pos[4] = {0, 1, 0, 2};
	struct eng_state *seq[4] = {a, a, c, a};
	const float *lg = eng_forward_batch(t, b, 4, tok, pos, seq, ENG_FF_LAST_ROWS);
	assert_non_null(lg);
	const float *r = NULL;
	for (int k = 0; k < 3; k++)
		r = eng_forward(t, ref, (int[]){5, 17, 42}[k], k, 0);
	assert_true(tu_rel_err(lg + 3 * (size_t)V, r, V) < 1e-6); /* a's last row */
	eng_forward(t, ref, 300, 0, 0);
	assert_true(tu_rel_err(lg + 2 * (size_t)V, ref->logits, V) < 1e-6); /* c's only row */
	/* errors: token, position (past the sequence's context), row count */
	tok[0] = V;
	assert_null(eng_forward_batch(t, b, 1, tok, pos, seq, 0));
	assert_int_equal(b->err.code, ENG_EFORMAT);
	tok[0] = 5;
	pos[0] = 8;
	assert_null(eng_forward_batch(t, b, 1, tok, pos, seq, 0));
	assert_int_equal(b->err.code, ENG_ELIMIT);
	assert_null(eng_forward_batch(t, b, 5, tok, pos, seq, 0));
	assert_int_equal(b->err.code, ENG_EMISUSE);
	struct eng_bstate *bad = (struct eng_bstate *)1;
	assert_int_equal(eng_bstate_create(t, 0, 8, &bad, NULL), ENG_EMISUSE);
	assert_null(bad);
	eng_bstate_free(b);
	eng_state_free(a);
	eng_state_free(c);
	eng_state_free(ref);
	eng_transformer_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiny_arith),
		cmocka_unit_test(test_deepseek_v3),
		cmocka_unit_test(test_qwen3_moe),
		cmocka_unit_test(test_flags_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
