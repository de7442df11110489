/* test_scorer.c — the dispatch of scorer.h: names, verdicts, rules recorded, reasoning ignored,
 * errors leave no half-filled result. (The code scorer is the sandbox engineer's, tested there.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "scorers/scorer.h"

/* Scores pred (reasoning aside) with the scorer and its options against g: no error, the verdict,
 * and the rule and the extracted answer where they are not NULL. */
static void expect(const char *scorer, const char *opts, const char *pred, const char *reasoning,
		   const struct scr_gold *g, int verdict, const char *rule, const char *extracted)
{
	struct scr_result r;
	assert_int_equal(scr_score(scorer, opts, pred, reasoning, g, &r, NULL), EVH_OK);
	assert_int_equal(r.verdict, verdict);
	if (rule)
		assert_string_equal(r.rule, rule);
	if (extracted)
		assert_string_equal(r.extracted, extracted);
	scr_result_free(&r);
}

static void names_and_verdicts(void **state)
{
	(void)state;
	assert_true(scr_known("math") && scr_known("mcq") && scr_known("exact") && scr_known("code"));
	assert_false(scr_known("regex2"));
	assert_string_equal(scr_verdict_name(SCR_NO_ANSWER), "no_answer");
	assert_string_equal(scr_verdict_name(SCR_COMPILE_ERROR), "compile_error");
	assert_true(scr_is_correct(SCR_CORRECT) && scr_is_correct(SCR_PASS));
	assert_false(scr_is_correct(SCR_WRONG) || scr_is_correct(SCR_NO_ANSWER) || scr_is_correct(SCR_FAIL));
}

static void math_scores_after_think(void **state)
{
	(void)state;
	struct scr_gold g = {.answer = "\\frac{1}{2}"};
	struct scr_result r;
	expect("math", NULL, "<think>\\boxed{3}</think>So it is \\boxed{0.5}.", "\\boxed{3}", &g, SCR_CORRECT, "boxed",
	       "0.5");
	assert_int_equal(scr_score("math", NULL, "<think>The answer is 0.5", NULL, &g, &r, NULL), EVH_OK);
	assert_int_equal(r.verdict, SCR_NO_ANSWER);
	assert_null(r.extracted);
	scr_result_free(&r);
	/* a gold that is a whole solution: its box */
	struct scr_gold sol = {.answer = "We compute ... so the result is $\\boxed{\\dfrac{3}{4}}$."};
	expect("math", NULL, "#### 0.75", NULL, &sol, SCR_CORRECT, "gsm8k", NULL);
	expect("math", "{\"tolerance\": 0.01}", "The answer is 0.505", NULL, &g, SCR_CORRECT, NULL, NULL);
	expect("math", NULL, "The answer is 0.505", NULL, &g, SCR_WRONG, NULL, NULL);
}

static void oversized_prediction_is_wrong_not_error(void **state)
{
	(void)state;
	static char big[20000];
	memcpy(big, "\\boxed{", 7);
	memset(big + 7, '1', sizeof big - 9);
	big[sizeof big - 2] = '}';
	struct scr_gold g = {.answer = "1"};
	struct scr_result r;
	assert_int_equal(scr_score("math", NULL, big, NULL, &g, &r, NULL), EVH_OK);
	assert_int_equal(r.verdict, SCR_WRONG);
	assert_non_null(r.detail);
	scr_result_free(&r);
}

static void mcq_and_exact(void **state)
{
	(void)state;
	const char *ch[] = {"London", "Paris", "Rome", "Berlin"};
	struct scr_gold g = {.answer = "B", .choices = ch, .n_choices = 4};
	expect("mcq", NULL, "Answer: B", NULL, &g, SCR_CORRECT, NULL, "B");
	expect("mcq", NULL, "Answer: C", NULL, &g, SCR_WRONG, NULL, NULL);
	expect("mcq", NULL, "hmm", NULL, &g, SCR_NO_ANSWER, NULL, NULL);

	struct scr_gold e = {.answer = "Paris"};
	expect("exact", NULL, "  paris. ", NULL, &e, SCR_CORRECT, "whole", NULL);
	expect("exact", "{\"case_sensitive\": true}", "paris", NULL, &e, SCR_WRONG, NULL, NULL);
	expect("exact", NULL, "The answer is Paris.", NULL, &e, SCR_CORRECT, "answer_is", NULL);
}

static void errors_leave_nothing(void **state)
{
	(void)state;
	struct scr_gold g = {.answer = "1"};
	struct scr_result r;
	struct evh_err err = {0};
	assert_int_equal(scr_score("nope", NULL, "1", NULL, &g, &r, &err), EVH_ENOTFOUND);
	assert_null(r.extracted);
	evh_err_clear(&err);
	assert_int_equal(scr_score("math", "{\"bogus\": 1}", "\\boxed{1}", NULL, &g, &r, &err), EVH_EFORMAT);
	assert_non_null(strstr(err.msg, "bogus"));
	assert_null(r.extracted);
	evh_err_clear(&err);
	struct scr_gold m = {.answer = "Z"};
	assert_int_equal(scr_score("mcq", NULL, "Answer: A", NULL, &m, &r, &err), EVH_EFORMAT);
	struct scr_gold none = {0};
	assert_int_equal(scr_score("math", NULL, "1", NULL, &none, &r, NULL), EVH_EFORMAT);
	scr_result_free(&r);
	scr_result_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_and_verdicts),
		cmocka_unit_test(math_scores_after_think),
		cmocka_unit_test(oversized_prediction_is_wrong_not_error),
		cmocka_unit_test(mcq_and_exact),
		cmocka_unit_test(errors_leave_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
