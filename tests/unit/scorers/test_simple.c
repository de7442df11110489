/* test_simple.c — the "regex" and "numeric" scorers through scr_score: which match and group is the
 * answer, reasoning never searched, comparisons, tolerances, and every bad option named. The GSM8K
 * pattern is lm-evaluation-harness's "strict-match" filter (tasks/gsm8k/gsm8k.yaml). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "scorers/scorer.h"
#include "scorers/simple.h"

/* Scores and checks verdict and extracted answer (NULL: none); returns nothing, frees the result. */
static void expect(const char *scorer, const char *opts, const char *response, const char *gold, int verdict,
		   const char *extracted)
{
	struct scr_gold g = {.answer = gold};
	struct scr_result r;
	struct evh_err err = {0};
	int rc = scr_score(scorer, opts, response, NULL, &g, &r, &err);
	if (rc)
		print_error("%s %s on \"%s\": %s: %s\n", scorer, opts ? opts : "", response, err.where, err.msg);
	assert_int_equal(rc, EVH_OK);
	if (r.verdict != verdict)
		print_error("%s %s on \"%s\" vs \"%s\": got %s\n", scorer, opts ? opts : "", response, gold,
			    scr_verdict_name(r.verdict));
	assert_int_equal(r.verdict, verdict);
	if (extracted)
		assert_string_equal(r.extracted, extracted);
	else
		assert_null(r.extracted);
	scr_result_free(&r);
}

/* Expects an error whose message holds `needle`. */
static void expect_err(const char *scorer, const char *opts, const char *response, const char *gold, int code,
		       const char *needle)
{
	struct scr_gold g = {.answer = gold};
	struct scr_result r;
	struct evh_err err = {0};
	assert_int_equal(scr_score(scorer, opts, response, NULL, &g, &r, &err), code);
	if (!strstr(err.msg, needle))
		print_error("error \"%s\" lacks \"%s\"\n", err.msg, needle);
	assert_non_null(strstr(err.msg, needle));
	assert_null(r.extracted);
	assert_null(r.detail);
}

static void known(void **state)
{
	(void)state;
	assert_true(scr_known("regex") && scr_known("numeric"));
}

static void regex_groups_and_matches(void **state)
{
	(void)state;
	const char *gsm = "{\"pattern\": \"#### (\\\\-?[0-9\\\\.\\\\,]+)\"}";
	expect("regex", gsm, "She has 9 - 2 = 7 left.\n#### 72", "72", SCR_CORRECT, "72");
	expect("regex", gsm, "She has 72.", "72", SCR_NO_ANSWER, NULL);

	struct scr_gold g = {.answer = "5"};
	struct scr_result r;
	assert_int_equal(scr_score("regex", "{\"pattern\": \"Answer: (\\\\d+)\"}", "Answer: 3. No wait. Answer: 5", NULL,
				   &g, &r, NULL), EVH_OK);
	assert_int_equal(r.verdict, SCR_CORRECT);
	assert_string_equal(r.rule, "regex");
	scr_result_free(&r);
	expect("regex", "{\"pattern\": \"Answer: (\\\\d+)\", \"match\": \"first\"}", "Answer: 3. No wait. Answer: 5", "5",
	       SCR_WRONG, "3");
	/* a named group, group 0, and a group that did not take part in the last match */
	expect("regex", "{\"pattern\": \"(?<n>\\\\d+) apples\", \"group\": \"n\"}", "I count 12 apples", "12", SCR_CORRECT,
	       "12");
	expect("regex", "{\"pattern\": \"\\\\d+ apples\", \"group\": 0}", "I count 12 apples", "12 apples", SCR_CORRECT,
	       "12 apples");
	expect("regex", "{\"pattern\": \"A=(\\\\d)|B=(\\\\d)\", \"group\": 2}", "B=4, A=1", "4", SCR_CORRECT, "4");
	/* a pattern that matches empty everywhere still finds the last non-blank answer, and ends */
	expect("regex", "{\"pattern\": \"(\\\\d*)\"}", "ab 12 cd 34 ef", "34", SCR_CORRECT, "34");
	/* the response is searched after the reasoning only */
	expect("regex", "{\"pattern\": \"Answer: (\\\\d+)\"}", "<think>Answer: 5</think>Answer: 3", "5", SCR_WRONG, "3");
	expect("regex", "{\"pattern\": \"Answer: (\\\\d+)\"}", "<think>Answer: 5", "5", SCR_NO_ANSWER, NULL);
	/* invalid UTF-8 in a response does not stop the search; Unicode classes apply */
	expect("regex", "{\"pattern\": \"Answer: \\\\W*(\\\\w+)\"}", "\xff\xfe Answer: \xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9",
	       SCR_CORRECT, "\xc3\xa9t\xc3\xa9");
}

static void regex_compares(void **state)
{
	(void)state;
	const char *p = "{\"pattern\": \"Capital: (.+)\"}";
	expect("regex", p, "Capital: paris ", "Paris", SCR_CORRECT, "paris");
	expect("regex", "{\"pattern\": \"Capital: (.+)\", \"case_sensitive\": true}", "Capital: paris", "Paris", SCR_WRONG,
	       "paris");
	expect("regex", "{\"pattern\": \"Total: (\\\\S+)\", \"compare\": \"numeric\"}", "Total: 1,234.0", "1234",
	       SCR_CORRECT, "1,234.0");
	expect("regex", "{\"pattern\": \"Total: (\\\\S+)\", \"compare\": \"numeric\", \"tolerance\": 0.01}",
	       "Total: 1240", "1234", SCR_CORRECT, "1240");
	expect("regex", "{\"pattern\": \"Total: (\\\\S+)\", \"compare\": \"numeric\"}", "Total: 1240", "1234", SCR_WRONG,
	       "1240");
	expect("regex", "{\"pattern\": \"Result: (.+)\", \"compare\": \"math\"}", "Result: \\frac{1}{2}", "0.5",
	       SCR_CORRECT, "\\frac{1}{2}");
	expect("regex", "{\"pattern\": \"Result: (.+)\", \"compare\": \"math\"}", "Result: \\frac{1}{3}", "0.5", SCR_WRONG,
	       "\\frac{1}{3}");
}

static void regex_match_limit_is_a_verdict(void **state)
{
	(void)state;
	/* (a+)+$ on a's followed by b backtracks 2^n ways: PCRE2's limit ends it, and the sample is
	 * wrong with the reason, not an error to retry. */
	char resp[64];
	memset(resp, 'a', 40);
	strcpy(resp + 40, "b");
	struct scr_gold g = {.answer = "a"};
	struct scr_result r;
	assert_int_equal(scr_score("regex", "{\"pattern\": \"(a+)+$\"}", resp, NULL, &g, &r, NULL), EVH_OK);
	assert_int_equal(r.verdict, SCR_WRONG);
	assert_non_null(r.detail);
	assert_non_null(strstr(r.detail, "match limit"));
	scr_result_free(&r);
}

static void regex_bad_options(void **state)
{
	(void)state;
	expect_err("regex", NULL, "x", "1", EVH_EFORMAT, "pattern");
	expect_err("regex", "{}", "x", "1", EVH_EFORMAT, "\"pattern\" is required");
	expect_err("regex", "{\"pattern\": \"(\"}", "x", "1", EVH_EFORMAT, "bad \"pattern\" at offset 1");
	expect_err("regex", "{\"pattern\": \"(a)\", \"group\": 2}", "a", "a", EVH_EFORMAT, "1 capture group");
	expect_err("regex", "{\"pattern\": \"(a)\", \"group\": \"zz\"}", "a", "a", EVH_EFORMAT, "named \"zz\"");
	expect_err("regex", "{\"pattern\": \"(a)\", \"group\": -1}", "a", "a", EVH_EFORMAT, "\"group\"");
	expect_err("regex", "{\"pattern\": \"a\", \"flags\": \"i\"}", "a", "a", EVH_EFORMAT, "unknown option \"flags\"");
	expect_err("regex", "{\"pattern\": \"a\", \"match\": \"all\"}", "a", "a", EVH_EFORMAT, "\"match\"");
	expect_err("regex", "{\"pattern\": \"a\", \"compare\": \"fuzzy\"}", "a", "a", EVH_EFORMAT, "\"compare\"");
	expect_err("regex", "{\"pattern\": \"(a)\", \"compare\": \"numeric\"}", "a", "seven", EVH_EFORMAT,
		   "needs a number");
}

static void numeric_scores(void **state)
{
	(void)state;
	expect("numeric", NULL, "So the answer is 42 apples, I think.", "42", SCR_CORRECT, "42");
	expect("numeric", NULL, "We get $\\boxed{\\frac{3}{4}}$.", "0.75", SCR_CORRECT, "\\frac{3}{4}");
	expect("numeric", NULL, "#### 1,234", "1234", SCR_CORRECT, "1,234");
	expect("numeric", NULL, "The final answer is $-2.50$", "-2.5", SCR_CORRECT, "-2.50");
	expect("numeric", NULL, "It is \\boxed{3.1416}", "3.14159", SCR_WRONG, "3.1416");
	expect("numeric", "{\"tolerance\": 1e-4}", "It is \\boxed{3.1416}", "3.14159", SCR_CORRECT, "3.1416");
	/* the absolute floor near zero */
	expect("numeric", NULL, "\\boxed{0.0000000001}", "0", SCR_CORRECT, "0.0000000001");
	expect("numeric", NULL, "\\boxed{0.001}", "0", SCR_WRONG, "0.001");
	expect("numeric", "{\"abs_tolerance\": 0.01}", "\\boxed{0.001}", "0", SCR_CORRECT, "0.001");
	expect("numeric", NULL, "I cannot tell.", "7", SCR_NO_ANSWER, NULL);
	expect("numeric", NULL, "<think>The answer is 7</think>", "7", SCR_NO_ANSWER, NULL);
	expect("numeric", NULL, "<think>so 9</think>The answer is 7.", "7", SCR_CORRECT, "7");

	/* an expression is not a number, and its last digit is not taken for one */
	struct scr_gold g = {.answer = "1"};
	struct scr_result r;
	assert_int_equal(scr_score("numeric", NULL, "\\boxed{x+1}", NULL, &g, &r, NULL), EVH_OK);
	assert_int_equal(r.verdict, SCR_WRONG);
	assert_string_equal(r.extracted, "x+1");
	assert_non_null(strstr(r.detail, "not a number"));
	scr_result_free(&r);
}

static void numeric_values(void **state)
{
	(void)state;
	double v = 0;
	assert_true(scr_numeric_value("1{,}234", &v) && v == 1234);
	assert_true(scr_numeric_value("\\sqrt{4}", &v) && v == 2);
	assert_true(scr_numeric_value("2.5 cm", &v) && v == 2.5);
	assert_false(scr_numeric_value("(1,2)", &v));
	assert_false(scr_numeric_value("\\sqrt{-1}", &v));
	assert_false(scr_numeric_value("\\infty", &v));
	assert_false(scr_numeric_value("seven", &v));
	assert_true(scr_numeric_close(100, 100.00001, 1e-6, 0));
	assert_false(scr_numeric_close(100, 100.001, 1e-6, 0));
}

static void numeric_bad_options(void **state)
{
	(void)state;
	expect_err("numeric", "{\"tolerance\": -1}", "\\boxed{1}", "1", EVH_EFORMAT, "\"tolerance\" must be");
	expect_err("numeric", "{\"tolerance\": \"1%\"}", "\\boxed{1}", "1", EVH_EFORMAT, "\"tolerance\" must be");
	expect_err("numeric", "{\"percent\": true}", "\\boxed{1}", "1", EVH_EFORMAT, "unknown option \"percent\"");
	expect_err("numeric", "[1]", "\\boxed{1}", "1", EVH_EFORMAT, "JSON object");
	expect_err("numeric", NULL, "\\boxed{1}", "x^2", EVH_EFORMAT, "needs a number");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known),
		cmocka_unit_test(regex_groups_and_matches),
		cmocka_unit_test(regex_compares),
		cmocka_unit_test(regex_match_limit_is_a_verdict),
		cmocka_unit_test(regex_bad_options),
		cmocka_unit_test(numeric_scores),
		cmocka_unit_test(numeric_values),
		cmocka_unit_test(numeric_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
