/* test_results.c — samples.jsonl survives kills (partial last line cut on resume), errored
 * samples are retried, and the summary statistics match independent references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/results.h"
#include "harness/stats.h"
#include "tests/unit/testutil.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	return tu_tmpdir(dir, sizeof dir, "results");
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(dir);
}

static void sample(struct evh_sample *s, const char *item, int correct, int error)
{
	memset(s, 0, sizeof *s);
	s->task = "t";
	s->item_id = item;
	s->response = "The answer is \\boxed{1}";
	s->extracted = "1";
	s->verdict = error ? NULL : (correct ? "correct" : "wrong");
	s->correct = error ? -1 : correct;
	s->tokens_in = 10;
	s->tokens_out = 20;
	s->total_s = 1.0;
	s->cost_usd = 0.5;
	s->attempts = 1;
	s->error_code = error ? EVH_ETIMEOUT : 0;
	s->error_msg = error ? "timed out after 1 s" : NULL;
}

static void resume_cuts_partial_line_and_retries_errors(void **state)
{
	(void)state;
	struct evh_results *r = NULL;
	struct evh_err err = {0};
	assert_int_equal(evh_results_open(dir, 0, &r, &err), EVH_OK);
	struct evh_sample s;
	sample(&s, "a", 1, 0);
	assert_int_equal(evh_results_append(r, &s, &err), EVH_OK);
	sample(&s, "b", 0, 1);
	assert_int_equal(evh_results_append(r, &s, &err), EVH_OK);
	assert_true(evh_results_done(r, "t", "a", 0));
	assert_false(evh_results_done(r, "t", "b", 0));
	evh_results_close(r);

	/* Without --resume an existing run is refused, and left as it was. */
	assert_int_equal(evh_results_open(dir, 0, &r, &err), EVH_EMISUSE);
	assert_null(r);

	/* A kill mid-write leaves half a line. */
	char path[128];
	snprintf(path, sizeof path, "%s/samples.jsonl", dir);
	FILE *f = fopen(path, "a");
	fputs("{\"task\":\"t\",\"item_id\":\"c\",\"sam", f);
	fclose(f);

	evh_err_clear(&err);
	assert_int_equal(evh_results_open(dir, 1, &r, &err), EVH_OK);
	assert_int_equal(evh_results_loaded(r), 1);
	assert_true(evh_results_done(r, "t", "a", 0));
	assert_false(evh_results_done(r, "t", "b", 0)); /* errored: retried */
	assert_false(evh_results_done(r, "t", "c", 0)); /* partial: redone */
	sample(&s, "b", 1, 0);
	assert_int_equal(evh_results_append(r, &s, &err), EVH_OK);
	evh_results_close(r);

	/* Every line parses: the partial one was cut before appending. */
	f = fopen(path, "r");
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		assert_true(line[0] == '{' && strstr(line, "}\n"));
		n++;
	}
	fclose(f);
	assert_int_equal(n, 3);

	/* The summary takes the last line per sample: b is now correct, no error remains. */
	cJSON *sum = NULL;
	assert_int_equal(evh_summary_compute(path, "id", "m", &sum, &err), EVH_OK);
	const cJSON *o = cJSON_GetObjectItem(sum, "overall");
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "errors")), 0);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "scored")), 2);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "accuracy")) - 1.0) < 1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "cost_usd")) - 1.0) < 1e-12);
	cJSON_Delete(sum);
}

/* References: statsmodels proportion_confint(8, 10, method="wilson") = (0.4901625, 0.9433178);
 * (0, 20) -> (0, 0.1611252); numpy.percentile([1, 2, 3, 4], 90) = 3.7. */
static void statistics_match_references(void **state)
{
	(void)state;
	double lo, hi;
	evh_wilson(8, 10, 1.959964, &lo, &hi);
	assert_true(fabs(lo - 0.4901625) < 1e-6);
	assert_true(fabs(hi - 0.9433178) < 1e-6);
	evh_wilson(0, 20, 1.959964, &lo, &hi);
	assert_true(fabs(lo) < 1e-12);
	assert_true(fabs(hi - 0.1611252) < 1e-6);
	const double v[] = {1, 2, 3, 4};
	assert_true(fabs(evh_percentile(v, 4, 90) - 3.7) < 1e-12);
	assert_true(fabs(evh_percentile(v, 4, 50) - 2.5) < 1e-12);
	assert_true(fabs(evh_percentile(v, 4, 100) - 4) < 1e-12);
}

/* k = 3 samples per item: pass@1 is the mean, pass@3 any-correct, cons@3 the majority answer. */
static void multi_sample_metrics(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/k.jsonl", dir);
	FILE *f = fopen(path, "w");
	/* item x: answers 5 (right), 7, 7 -> pass@1 1/3, pass@3 1, cons wrong.
	 * item y: answers 2, 2 (right), 9 -> pass@1 2/3, pass@3 1, cons right. */
	const char *rows[][3] = {{"x", "5", "true"}, {"x", "7", "false"}, {"x", "7", "false"},
				 {"y", "2", "true"}, {"y", "2", "true"},  {"y", "9", "false"}};
	for (int i = 0; i < 6; i++)
		fprintf(f,
			"{\"task\":\"t\",\"item_id\":\"%s\",\"sample\":%d,\"extracted\":\"%s\",\"verdict\":\"x\","
			"\"correct\":%s,\"error\":null}\n",
			rows[i][0], i % 3, rows[i][1], rows[i][2]);
	fclose(f);
	cJSON *sum = NULL;
	struct evh_err err = {0};
	assert_int_equal(evh_summary_compute(path, "id", "m", &sum, &err), EVH_OK);
	const cJSON *o = cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "tasks"), "t");
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "accuracy")) - 0.5) < 1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "pass_at_k"), "3")) - 1.0) <
		    1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "cons_at_k")) - 0.5) < 1e-12);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "samples_per_item")), 3);
	cJSON_Delete(sum);
}

/* States from the writer (evh_sample_state) and from lines written before states existed, and the
 * rates: 6 samples, 2 truncated (one correct), 1 refused (wrong), 1 error, 1 timeout, 1 ok correct. */
static void states_and_rates(void **state)
{
	(void)state;
	assert_string_equal(evh_sample_state(0, "length"), "truncated");
	assert_string_equal(evh_sample_state(0, "max_tokens"), "truncated");
	assert_string_equal(evh_sample_state(0, "content_filter"), "refused");
	assert_string_equal(evh_sample_state(0, "refusal"), "refused");
	assert_string_equal(evh_sample_state(0, "end_turn"), "ok");
	assert_string_equal(evh_sample_state(EVH_ETIMEOUT, NULL), "timeout");
	assert_string_equal(evh_sample_state(EVH_EHTTP, NULL), "error");
	char path[128];
	snprintf(path, sizeof path, "%s/s.jsonl", dir);
	FILE *f = fopen(path, "w");
	const char *ok = "\"verdict\":\"correct\",\"correct\":true,\"error\":null";
	const char *bad = "\"verdict\":\"wrong\",\"correct\":false,\"error\":null";
	fprintf(f, "{\"task\":\"t\",\"item_id\":\"a\",\"sample\":0,\"finish_reason\":\"length\",%s}\n", ok);
	fprintf(f, "{\"task\":\"t\",\"item_id\":\"b\",\"sample\":0,\"state\":\"truncated\",%s}\n", bad);
	fprintf(f, "{\"task\":\"t\",\"item_id\":\"c\",\"sample\":0,\"finish_reason\":\"content_filter\",%s}\n", bad);
	fprintf(f, "{\"task\":\"t\",\"item_id\":\"d\",\"sample\":0,\"correct\":null,\"error\":{\"code\":\"http\"}}\n");
	fprintf(f, "{\"task\":\"t\",\"item_id\":\"e\",\"sample\":0,\"correct\":null,\"error\":{\"code\":\"timeout\"}}\n");
	fprintf(f, "{\"task\":\"t\",\"item_id\":\"f\",\"sample\":0,\"finish_reason\":\"stop\",%s}\n", ok);
	fclose(f);
	cJSON *sum = NULL;
	assert_int_equal(evh_summary_compute(path, "id", "m", &sum, NULL), EVH_OK);
	const cJSON *o = cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "tasks"), "t");
	const cJSON *st = cJSON_GetObjectItem(o, "states");
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "ok")), 1);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "truncated")), 2);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "refused")), 1);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "error")), 1);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(st, "timeout")), 1);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "truncation_rate")) - 2.0 / 6) < 1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "error_rate")) - 2.0 / 6) < 1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "accuracy_all")) - 2.0 / 6) < 1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "accuracy_completed")) - 1.0) < 1e-12);
	assert_true(fabs(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "accuracy")) - 2.0 / 4) < 1e-12);
	cJSON_Delete(sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resume_cuts_partial_line_and_retries_errors),
		cmocka_unit_test(statistics_match_references),
		cmocka_unit_test(multi_sample_metrics),
		cmocka_unit_test(states_and_rates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
