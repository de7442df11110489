/* test_mcq.c — letter extraction table tests/cases/mcq.jsonl, gold parsing, and the seeded shuffle
 * checked against SplitMix64 values published with the algorithm's reference implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/mcq.h"
#include "tests/unit/testutil.h"

static void letter_table(void **state)
{
	(void)state;
	char *text = tu_slurp("tests/cases/mcq.jsonl", NULL);
	assert_non_null(text);
	int line = 0, bad = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		cJSON *j = cJSON_Parse(l);
		assert_non_null(j);
		const cJSON *r = cJSON_GetObjectItem(j, "response"), *le = cJSON_GetObjectItem(j, "letter"),
			    *ru = cJSON_GetObjectItem(j, "rule"), *ch = cJSON_GetObjectItem(j, "choices");
		const char *choices[SCR_MCQ_MAX];
		size_t nc = 0;
		cJSON *it;
		cJSON_ArrayForEach(it, ch) choices[nc++] = it->valuestring;
		int got;
		const char *rule;
		assert_int_equal(scr_mcq_letter(r->valuestring, nc ? choices : NULL, nc, &got, &rule, NULL), EVH_OK);
		int ok = cJSON_IsString(le) ? got == le->valuestring[0] - 'A' && rule && strcmp(rule, ru->valuestring) == 0
					    : got == -1 && !rule;
		if (!ok) {
			bad++;
			printf("DISAGREE mcq.jsonl:%d got %c [%s]\n", line, got >= 0 ? 'A' + got : '-', rule ? rule : "-");
		}
		cJSON_Delete(j);
	}
	free(text);
	assert_int_equal(bad, 0);
}

static void gold_forms(void **state)
{
	(void)state;
	const char *ch[] = {"red", "green", "blue"};
	assert_int_equal(scr_mcq_gold("B", ch, 3), 1);
	assert_int_equal(scr_mcq_gold("(c)", ch, 3), 2);
	assert_int_equal(scr_mcq_gold("Green", ch, 3), 1);
	assert_int_equal(scr_mcq_gold("D", ch, 3), -1);
	assert_int_equal(scr_mcq_gold("J", NULL, 0), 9);
	assert_int_equal(scr_mcq_gold("purple", ch, 3), -1);
}

static void shuffle_is_seeded(void **state)
{
	(void)state;
	/* SplitMix64 from seed 1234567 gives 6457827717110365317 first (Vigna's splitmix64.c test
	 * vector); 6457827717110365317 % 4 = 1, so the first swap exchanges positions 3 and 1. */
	int p[4];
	scr_mcq_shuffle(1234567, 4, p);
	assert_int_equal(p[3], 1);
	int seen = 0;
	for (int i = 0; i < 4; i++)
		seen |= 1 << p[i];
	assert_int_equal(seen, 0xf);
	int q[4];
	scr_mcq_shuffle(1234567, 4, q);
	assert_memory_equal(p, q, sizeof p);
	int differs = 0;
	for (uint64_t s = 0; s < 20 && !differs; s++) {
		scr_mcq_shuffle(s, 4, q);
		differs = memcmp(p, q, sizeof p) != 0;
	}
	assert_true(differs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(letter_table),
		cmocka_unit_test(gold_forms),
		cmocka_unit_test(shuffle_is_seeded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
