/* test_extract.c — the extraction table tests/cases/extract.jsonl (response, expected answer and
 * rule, or null when no rule may fire), think stripping, and garbage input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/extract.h"
#include "tests/unit/testutil.h"

static void extraction_table(void **state)
{
	(void)state;
	char *text = tu_slurp("tests/cases/extract.jsonl", NULL);
	assert_non_null(text);
	int line = 0, bad = 0, rows = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		cJSON *j = cJSON_Parse(l);
		assert_non_null(j);
		const cJSON *r = cJSON_GetObjectItem(j, "response"), *a = cJSON_GetObjectItem(j, "answer"),
			    *ru = cJSON_GetObjectItem(j, "rule");
		assert_true(cJSON_IsString(r));
		char *out;
		const char *rule;
		assert_int_equal(scr_extract_answer(r->valuestring, SCR_EX_MATH, &out, &rule, NULL), EVH_OK);
		int ok = cJSON_IsString(a) ? out && strcmp(out, a->valuestring) == 0 && rule &&
							    strcmp(rule, ru->valuestring) == 0
					    : !out && !rule;
		if (!ok) {
			bad++;
			printf("DISAGREE extract.jsonl:%d got [%s] %s\n", line, rule ? rule : "-", out ? out : "(none)");
		}
		rows++;
		free(out);
		cJSON_Delete(j);
	}
	free(text);
	printf("  %d/%d extraction rows agree\n", rows - bad, rows);
	assert_int_equal(bad, 0);
}

static void think_is_stripped(void **state)
{
	(void)state;
	size_t n;
	const char *s = scr_strip_think("<think>x</think>  ans", &n);
	assert_int_equal(n, 5);
	assert_memory_equal(s, "  ans", 5);
	s = scr_strip_think("before<think>never closed", &n);
	assert_int_equal(n, 6);
	s = scr_strip_think("plain", &n);
	assert_int_equal(n, 5);
}

static void whole_rule_only_when_asked(void **state)
{
	(void)state;
	char *out;
	const char *rule;
	assert_int_equal(scr_extract_answer("  Paris \n", SCR_EX_WHOLE, &out, &rule, NULL), EVH_OK);
	assert_string_equal(out, "Paris");
	assert_string_equal(rule, "whole");
	free(out);
	assert_int_equal(scr_extract_answer("  Paris \n", SCR_EX_MATH, &out, &rule, NULL), EVH_OK);
	assert_null(out);
}

/* Garbage and pathological inputs: deep braces, thousands of boxes, random bytes. */
static void fuzz_extract(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = i < n / 2 ? '{' : '}';
	memcpy(s, "\\boxed", 6);
	s[n] = '\0';
	char *out;
	const char *rule;
	assert_int_equal(scr_extract_answer(s, SCR_EX_MATH, &out, &rule, NULL), EVH_OK);
	free(out);
	for (size_t i = 0; i + 9 < n; i += 9)
		memcpy(s + i, "\\boxed{1}", 9);
	assert_int_equal(scr_extract_answer(s, SCR_EX_MATH, &out, &rule, NULL), EVH_OK);
	assert_string_equal(rule, "boxed");
	free(out);
	uint64_t x = 42;
	static const char *const toks[] = {"\\boxed{", "}", "{", "answer is ", "####", "Answer:", "<think>",
					   "</think>", "$", "\\(", "1", "-", ".", " ", "\n", "\\fbox", "final answer is"};
	char buf[512];
	for (int it = 0; it < 20000; it++) {
		size_t len = 0;
		for (int t = 0; t < 24; t++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			if ((x >> 60) == 0) {
				buf[len++] = (char)(((x >> 20) & 0xfe) + 1);
				continue;
			}
			const char *tk = toks[(x >> 33) % (sizeof toks / sizeof toks[0])];
			size_t tl = strlen(tk);
			memcpy(buf + len, tk, tl);
			len += tl;
		}
		buf[len] = '\0';
		assert_int_equal(scr_extract_answer(buf, SCR_EX_MATH | SCR_EX_WHOLE, &out, &rule, NULL), EVH_OK);
		assert_true((out == NULL) == (rule == NULL));
		free(out);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(extraction_table),
		cmocka_unit_test(think_is_stripped),
		cmocka_unit_test(whole_rule_only_when_asked),
		cmocka_unit_test(fuzz_extract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
