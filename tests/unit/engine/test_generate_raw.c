/* test_generate_raw.c — eng_generate beyond eng_chat: a raw prompt equals the chat-rendered one,
 * stop strings cut the text where OpenAI's `stop` would, and the trace's top logits agree with the
 * greedy choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define MODEL "engine/models/tiny-arith"
/* The fixture README's prompt format, written out by hand (not rendered by our template code). */
#define RAW "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c><\xef\xbd\x9cUser\xef\xbd\x9c>What is 347 + 85?<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\n"

static struct eng_model *model;

static int setup(void **st)
{
	(void)st;
	struct eng_err err = {0};
	return eng_model_load(MODEL, &model, &err) == ENG_OK ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	eng_model_free(model);
	return 0;
}

static int gen(const struct eng_gen_input *in, int max_tokens, struct eng_gen_trace *tr, struct eng_gen_result *r)
{
	struct eng_session *s = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_session_create(model, &s, &err), ENG_OK);
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	o.max_tokens = max_tokens;
	int rc = eng_generate(s, in, &o, NULL, NULL, tr, r, &err);
	if (rc)
		fprintf(stderr, "generate: %s\n", err.msg);
	eng_session_free(s);
	return rc;
}

static void raw_prompt_equals_chat(void **st)
{
	(void)st;
	struct eng_gen_result a = {0}, b = {0};
	struct eng_gen_input chat = {.text = "What is 347 + 85?", .chat = 1};
	struct eng_gen_input raw = {.text = RAW, .chat = 0};
	assert_int_equal(gen(&chat, 200, NULL, &a), ENG_OK);
	assert_int_equal(gen(&raw, 200, NULL, &b), ENG_OK);
	assert_int_equal(a.n_prompt, b.n_prompt);
	assert_string_equal(a.text, b.text);
	assert_non_null(strstr(a.text, "\\boxed{432}"));
	eng_gen_result_free(&a);
	eng_gen_result_free(&b);
}

static void stop_string_cuts_text(void **st)
{
	(void)st;
	struct eng_gen_result full = {0}, cut = {0};
	struct eng_gen_input in = {.text = "What is 347 + 85?", .chat = 1};
	assert_int_equal(gen(&in, 200, NULL, &full), ENG_OK);
	const char *at = strstr(full.text, "</think>");
	assert_non_null(at);
	const char *stops[] = {"never-appears", "</think>"};
	in.stop = stops;
	in.n_stop = 2;
	assert_int_equal(gen(&in, 200, NULL, &cut), ENG_OK);
	assert_int_equal(cut.finish, ENG_FINISH_STOP);
	assert_int_equal(strlen(cut.text), (size_t)(at - full.text));
	assert_memory_equal(cut.text, full.text, strlen(cut.text));
	assert_true(cut.n_completion < full.n_completion);
	eng_gen_result_free(&full);
	eng_gen_result_free(&cut);
}

static void trace_top_logits(void **st)
{
	(void)st;
	struct eng_gen_result r = {0};
	struct eng_gen_trace tr = {.top_k = 5};
	struct eng_gen_input in = {.text = "What is 12 + 30?", .chat = 1};
	assert_int_equal(gen(&in, 40, &tr, &r), ENG_OK);
	assert_int_equal(tr.n, (size_t)r.n_completion);
	assert_int_equal(tr.n_prompt, (size_t)r.n_prompt);
	for (size_t i = 0; i < tr.n; i++) {
		/* greedy: the chosen id is the top-1 of its step, and the list is sorted */
		assert_int_equal(tr.top_ids[i * 5], tr.ids[i]);
		for (int k = 1; k < 5; k++)
			assert_true(tr.top_logits[i * 5 + k - 1] >= tr.top_logits[i * 5 + k]);
	}
	eng_gen_trace_free(&tr);
	assert_int_equal(tr.top_k, 5);
	assert_null(tr.ids);
	eng_gen_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raw_prompt_equals_chat),
		cmocka_unit_test(stop_string_cuts_text),
		cmocka_unit_test(trace_top_logits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
