/* test_generate.c — end to end through engine.h on the shipped tiny-arith model: chat template,
 * tokenizer, prefill, greedy decode, detokenize. The model answered 100% of held-out questions
 * greedily under transformers (tests/fixtures/README.md), so a correct engine must too; the
 * continuation must also equal the reference greedy tokens decoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/safetensors.h"
#include "engine/tokenizer.h"

#define MODEL "engine/models/tiny-arith"

static struct eng_model *model;

static int setup(void **st)
{
	(void)st;
	struct eng_err err = {0};
	if (eng_model_load(MODEL, &model, &err) != ENG_OK) {
		fprintf(stderr, "load: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	eng_model_free(model);
	return 0;
}

static char *ask(const char *q, const struct eng_gen_opts *o, struct eng_gen_result *r)
{
	struct eng_session *s = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_session_create(model, &s, &err), ENG_OK);
	int rc = eng_chat(s, NULL, q, o, NULL, NULL, r, &err);
	if (rc)
		fprintf(stderr, "chat: %s\n", err.msg);
	assert_int_equal(rc, ENG_OK);
	eng_session_free(s);
	return r->text;
}

static void test_facts(void **st)
{
	(void)st;
	assert_string_equal(eng_model_arch(model), "deepseek_v3");
	/* "4.4M params" in the fixture README */
	assert_true(eng_model_params(model) > 4000000 && eng_model_params(model) < 4800000);
	assert_true(eng_count_tokens(model, "What is 347 + 85?") > 3);
	struct eng_model *m = (struct eng_model *)0x1;
	struct eng_err err = {0};
	assert_int_equal(eng_model_load("tests/fixtures/no-such-model", &m, &err), ENG_EIO);
	assert_null(m);
	assert_non_null(strstr(err.msg, "no-such-model"));
}

static void test_boxed_432(void **st)
{
	(void)st;
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	struct eng_gen_result r;
	const char *text = ask("What is 347 + 85?", &o, &r);
	printf("  %s\n", text);
	assert_non_null(strstr(text, "\\boxed{432}"));
	assert_non_null(strstr(text, "</think>"));
	assert_int_equal(r.finish, ENG_FINISH_STOP);
	assert_true(r.n_reasoning > 0 && r.n_reasoning < r.n_completion);
	assert_true(r.n_prompt > 5);
	assert_true(r.ttft_s > 0 && r.total_s >= r.ttft_s);
	eng_gen_result_free(&r);
}

/* The reference prompts' ids decode to the questions; rendering + encoding them must give the same
 * ids, and greedy generation the reference continuation. */
static void test_reference_prompts(void **st)
{
	(void)st;
	struct eng_st *ref = NULL;
	assert_int_equal(eng_st_open("tests/fixtures/tiny-arith/reference.safetensors", &ref, NULL), ENG_OK);
	struct eng_tokenizer *tok = NULL;
	assert_int_equal(eng_tok_load(MODEL "/tokenizer.json", MODEL "/tokenizer_config.json", &tok, NULL), ENG_OK);
	for (int p = 0; p < 3; p++) {
		char name[32];
		snprintf(name, sizeof name, "prompt%d_ids", p);
		const struct eng_st_tensor *ids = eng_st_find(ref, name);
		snprintf(name, sizeof name, "prompt%d_greedy", p);
		const struct eng_st_tensor *gr = eng_st_find(ref, name);
		assert_non_null(ids);
		assert_non_null(gr);
		int32_t pid[64], gid[64];
		memcpy(pid, ids->data, ids->nbytes);
		memcpy(gid, gr->data, gr->nbytes);
		char *prompt = eng_tok_decode(tok, pid, ids->numel, 0);
		/* the question sits between the user and assistant markers */
		char *u = strstr(prompt, "<｜User｜>"), *a = strstr(prompt, "<｜Assistant｜>");
		assert_non_null(u);
		assert_non_null(a);
		u += strlen("<｜User｜>");
		*a = 0;
		size_t ng = 0;
		while (ng < gr->numel && gid[ng] != 1) /* 1 = <｜end▁of▁sentence｜> */
			ng++;
		char *want = eng_tok_decode(tok, gid, ng, 0);
		struct eng_gen_opts o;
		eng_gen_opts_defaults(&o);
		o.max_tokens = (int)ng;
		struct eng_gen_result r;
		ask(u, &o, &r);
		printf("  %s -> %d prompt tokens (reference %zu)\n", u, r.n_prompt, ids->numel);
		assert_int_equal(r.n_prompt, (int)ids->numel);
		assert_string_equal(r.text, want);
		eng_gen_result_free(&r);
		free(want);
		free(prompt);
	}
	eng_tok_free(tok);
	eng_st_close(ref);
}

static void test_arith(void **st)
{
	(void)st;
	/* fixed questions of both kinds in the training distribution (a+b < 1000 each, a*b with a < 100,
	 * b < 10) */
	const int qs[][3] = {{12, 7, '+'}, {999, 1, '+'}, {505, 495, '+'}, {86, 9, '*'}, {47, 3, '*'},
			     {0, 0, '+'},  {250, 638, '+'}, {99, 9, '*'}, {7, 0, '*'}, {123, 876, '+'}};
	int right = 0, n = (int)(sizeof qs / sizeof qs[0]);
	for (int i = 0; i < n; i++) {
		char q[64], want[32];
		snprintf(q, sizeof q, "What is %d %c %d?", qs[i][0], qs[i][2], qs[i][1]);
		snprintf(want, sizeof want, "\\boxed{%d}", qs[i][2] == '+' ? qs[i][0] + qs[i][1] : qs[i][0] * qs[i][1]);
		struct eng_gen_opts o;
		eng_gen_opts_defaults(&o);
		struct eng_gen_result r;
		ask(q, &o, &r);
		int ok = strstr(r.text, want) != NULL;
		right += ok;
		if (!ok)
			printf("  wrong: %s -> %s\n", q, r.text);
		eng_gen_result_free(&r);
	}
	printf("  %d of %d arithmetic questions right\n", right, n);
	assert_int_equal(right, n);
}

struct collect {
	char buf[8192];
	size_t n;
	int calls, stop_after;
};

static int on_piece(void *ctx, const char *piece, size_t len)
{
	struct collect *c = ctx;
	assert_true(c->n + len < sizeof c->buf);
	memcpy(c->buf + c->n, piece, len);
	c->n += len;
	c->buf[c->n] = 0;
	return ++c->calls == c->stop_after;
}

static void test_stream_limits_seed(void **st)
{
	(void)st;
	struct eng_session *s = NULL;
	assert_int_equal(eng_session_create(model, &s, NULL), ENG_OK);
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	struct eng_gen_result r;
	struct collect c = {.stop_after = -1};
	/* streamed pieces add up to the text */
	assert_int_equal(eng_chat(s, NULL, "What is 58 + 64?", &o, on_piece, &c, &r, NULL), ENG_OK);
	assert_string_equal(c.buf, r.text);
	eng_gen_result_free(&r);
	/* the callback stops generation */
	struct collect c2 = {.stop_after = 5};
	assert_int_equal(eng_chat(s, NULL, "What is 58 + 64?", &o, on_piece, &c2, &r, NULL), ENG_OK);
	assert_int_equal(r.n_completion, 5);
	assert_int_equal(r.finish, ENG_FINISH_STOP);
	eng_gen_result_free(&r);
	/* max_tokens */
	o.max_tokens = 10;
	assert_int_equal(eng_chat(s, NULL, "What is 58 + 64?", &o, NULL, NULL, &r, NULL), ENG_OK);
	assert_int_equal(r.n_completion, 10);
	assert_int_equal(r.finish, ENG_FINISH_LENGTH);
	eng_gen_result_free(&r);
	/* sampling: same seed same text, in the R1 protocol's settings */
	o.max_tokens = 40;
	o.temperature = 1.5f;
	o.top_p = 0.95f;
	o.seed = 7;
	struct eng_gen_result a, b;
	assert_int_equal(eng_chat(s, NULL, "What is 58 + 64?", &o, NULL, NULL, &a, NULL), ENG_OK);
	assert_int_equal(eng_chat(s, NULL, "What is 58 + 64?", &o, NULL, NULL, &b, NULL), ENG_OK);
	assert_string_equal(a.text, b.text);
	eng_gen_result_free(&a);
	eng_gen_result_free(&b);
	/* bad options are refused with the option named */
	o.top_p = 2.0f;
	struct eng_err err = {0};
	assert_int_equal(eng_chat(s, NULL, "What is 1 + 1?", &o, NULL, NULL, &r, &err), ENG_EMISUSE);
	assert_non_null(strstr(err.msg, "top_p"));
	assert_null(r.text);
	eng_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts),  cmocka_unit_test(test_boxed_432),
		cmocka_unit_test(test_reference_prompts), cmocka_unit_test(test_arith),
		cmocka_unit_test(test_stream_limits_seed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
