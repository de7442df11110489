/* test_gate.c — evalh gate on run folders built here whose p-values are known by hand:
 * the references are exact binomial sums computed in this file (products of integers in long
 * double, not the lgamma route gate_stats.c takes) and a few closed-form fractions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/gate.h"
#include "harness/gate_stats.h"
#include "tests/unit/testutil.h"

/* ---- references ------------------------------------------------------------------------------ */

/* 2 * P(X <= min(b,c)), X ~ Binomial(b+c, 1/2), by C(n,i) built as an integer product. */
static long double ref_mcnemar(unsigned b, unsigned c)
{
	unsigned n = b + c, k = b < c ? b : c;
	if (n == 0)
		return 1;
	long double sum = 0, coef = 1; /* C(n, 0) */
	for (unsigned i = 0; i <= k; i++) {
		sum += coef;
		coef = coef * (n - i) / (i + 1);
	}
	long double p = 2 * sum / powl(2, n);
	return p > 1 ? 1 : p;
}

static void mcnemar_matches_reference(void **state)
{
	(void)state;
	/* By hand: 10 vs 0 -> 2 / 2^10; 25 vs 5 -> 2 * (1+30+435+4060+27405+142506) / 2^30. */
	assert_true(fabs(evh_stats_mcnemar_exact(10, 0) - 2.0 / 1024) < 1e-15);
	assert_true(fabs(evh_stats_mcnemar_exact(25, 5) - 348874.0 / 1073741824.0) < 1e-15);
	assert_true(fabs(evh_stats_mcnemar_exact(5, 25) - 348874.0 / 1073741824.0) < 1e-15);
	assert_true(evh_stats_mcnemar_exact(1, 0) == 1.0);
	assert_true(evh_stats_mcnemar_exact(0, 0) == 1.0);
	assert_true(evh_stats_mcnemar_exact(7, 7) == 1.0);
	for (unsigned b = 0; b <= 60; b += 3)
		for (unsigned c = 0; c <= 60; c += 7) {
			long double r = ref_mcnemar(b, c);
			double got = evh_stats_mcnemar_exact(b, c);
			assert_true(fabsl(got - r) <= 1e-12L * r + 1e-300L);
		}
	/* Large n, where 2^n overflows double: the tail must still be right (relative). */
	long double r = ref_mcnemar(600, 500); /* long double reaches 2^1100 */
	assert_true(fabsl(evh_stats_mcnemar_exact(600, 500) - r) <= 1e-9L * r);
}

static void holm_by_hand(void **state)
{
	(void)state;
	double p[4] = {0.01, 0.04, 0.03, 0.5};
	evh_stats_holm(p, 4);
	/* sorted 0.01,0.03,0.04,0.5 -> 0.04, 0.09, max(0.08,0.09)=0.09, 0.5 */
	assert_true(fabs(p[0] - 0.04) < 1e-15);
	assert_true(fabs(p[2] - 0.09) < 1e-15);
	assert_true(fabs(p[1] - 0.09) < 1e-15);
	assert_true(fabs(p[3] - 0.5) < 1e-15);
}

static void bootstrap_properties(void **state)
{
	(void)state;
	struct evh_boot a, b;
	double zero[50] = {0};
	assert_int_equal(evh_stats_paired_bootstrap(zero, 50, 2000, 1, &a), 0);
	assert_true(a.p == 1.0 && a.mean == 0 && a.ci_lo == 0 && a.ci_hi == 0);
	/* 200 items, differences -1 (40), +1 (10), 0 (150): mean -0.15, sd/sqrt(n) known. */
	double d[200];
	for (int i = 0; i < 200; i++)
		d[i] = i < 40 ? -1 : i < 50 ? 1 : 0;
	assert_int_equal(evh_stats_paired_bootstrap(d, 200, 10000, 7, &a), 0);
	assert_int_equal(evh_stats_paired_bootstrap(d, 200, 10000, 7, &b), 0);
	assert_true(a.ci_lo == b.ci_lo && a.ci_hi == b.ci_hi && a.p == b.p); /* seeded */
	assert_true(fabs(a.mean + 0.15) < 1e-12);
	double var = (50 * 1.0) / 200 - 0.15 * 0.15, se = sqrt(var / 200);
	/* The percentile interval of a mean of 200 draws is close to mean +- 1.96 se. */
	assert_true(fabs((a.ci_hi - a.ci_lo) / 2 - 1.96 * se) < 0.1 * 1.96 * se);
	assert_true(a.ci_lo < -0.15 && a.ci_hi > -0.15);
	/* z = 0.15/se ~ 4.9: essentially no shifted resample reaches it; p is the floor 1/(B+1). */
	assert_true(a.p < 0.001);
	/* Normal-theory p for a small effect, 13 vs 7 in 200: z = 0.03/se, two-sided ~ 0.18. */
	for (int i = 0; i < 200; i++)
		d[i] = i < 13 ? -1 : i < 20 ? 1 : 0;
	assert_int_equal(evh_stats_paired_bootstrap(d, 200, 10000, 7, &a), 0);
	var = 20.0 / 200 - 0.03 * 0.03;
	double z = 0.03 / sqrt(var / 200), pn = erfc(z / sqrt(2));
	assert_true(fabs(a.p - pn) < 0.05);
	assert_int_equal(evh_stats_paired_bootstrap(d, 0, 100, 7, &a), -1);
}

/* ---- run folders ----------------------------------------------------------------------------- */

static char root[64];

struct spec {
	const char *name;
	const char *digest;
	double temperature;
	int k;
	int n_items;
	int id_offset;        /* item ids start here, to make item sets differ */
	const char *task;
	int (*correct)(int item, int sample, void *ctx);
	void *ctx;
	int error_item;       /* -1: none; else this item's sample 0 is an error line */
	const char *extra;    /* appended raw to samples.jsonl */
};

static int all_right(int item, int sample, void *ctx) { (void)item, (void)sample, (void)ctx; return 1; }
/* ctx points to an int n: items < n are wrong */
static int first_n_wrong(int item, int sample, void *ctx) { (void)sample; return item >= *(int *)ctx; }

static void path_of(char *out, size_t n, const char *name, const char *file)
{
	snprintf(out, n, "%s/%s%s%s", root, name, file ? "/" : "", file ? file : "");
}

static void write_run(const struct spec *s, int append)
{
	char p[256];
	path_of(p, sizeof p, s->name, NULL);
	mkdir(p, 0755);
	path_of(p, sizeof p, s->name, "run.json");
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "{\"run_id\": \"%s\", \"model\": {\"name\": \"m-%s\"}, \"tasks\": [{\"name\": \"arith\", \"digest\": "
		   "\"%s\", \"version\": \"1\"}, {\"name\": \"other\", \"digest\": \"%s\", \"version\": \"1\"}], "
		   "\"options\": {\"samples\": %d, \"temperature\": %g, \"top_p\": 1.0, \"max_tokens\": 512}}\n",
		s->name, s->name, s->digest, s->digest, s->k, s->temperature);
	fclose(f);
	path_of(p, sizeof p, s->name, "samples.jsonl");
	f = fopen(p, append ? "a" : "w");
	assert_non_null(f);
	/* Written in reverse so that the reader's sorting is exercised. */
	for (int i = s->n_items - 1; i >= 0; i--)
		for (int j = 0; j < s->k; j++) {
			int id = i + s->id_offset;
			if (i == s->error_item && j == 0)
				fprintf(f, "{\"task\": \"%s\", \"item_id\": \"it-%03d\", \"sample\": 0, \"verdict\": null, "
					   "\"correct\": null, \"error\": {\"code\": \"timeout\", \"message\": \"x\"}}\n",
					s->task, id);
			else
				fprintf(f, "{\"task\": \"%s\", \"item_id\": \"it-%03d\", \"sample\": %d, \"verdict\": "
					   "\"x\", \"correct\": %s, \"error\": null}\n",
					s->task, id, j, s->correct(i, j, s->ctx) ? "true" : "false");
		}
	if (s->extra)
		fputs(s->extra, f);
	fclose(f);
}

static struct spec base_spec(const char *name)
{
	return (struct spec){.name = name, .digest = "d1", .temperature = 0, .k = 1, .n_items = 30,
			     .task = "arith", .correct = all_right, .error_item = -1};
}

static int gate(const char *b, const char *c, const char *extra1, const char *extra2)
{
	char pb[256], pc[256];
	path_of(pb, sizeof pb, b, NULL);
	path_of(pc, sizeof pc, c, NULL);
	char *argv[] = {"gate", "--baseline", pb, "--candidate", pc, (char *)extra1, (char *)extra2, NULL};
	int argc = 5 + (extra1 != NULL) + (extra2 != NULL);
	fflush(stdout);
	return evh_gate_main(argc, argv);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(tu_tmpdir(root, sizeof root, "gate"), 0);
	struct spec s = base_spec("base");
	write_run(&s, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(root);
}

static void compare(const char *b, const char *c, const struct evh_gate_opts *o, struct evh_gate_result *r,
		    int want_rc)
{
	char pb[256], pc[256];
	path_of(pb, sizeof pb, b, NULL);
	path_of(pc, sizeof pc, c, NULL);
	struct evh_run rb, rc;
	struct evh_err err = {0};
	assert_int_equal(evh_run_load(pb, &rb, &err), 0);
	assert_int_equal(evh_run_load(pc, &rc, &err), 0);
	assert_int_equal(evh_gate_compare(&rb, &rc, o, r, &err), want_rc);
	if (want_rc)
		fprintf(stderr, "  (expected) %s\n", err.msg);
	evh_run_free(&rb);
	evh_run_free(&rc);
}

/* Writes run cand, the baseline with its first n items wrong, and compares the baseline with it
 * under the default options (no error expected). */
static void against_first_wrong(const char *cand, int n, struct evh_gate_result *r)
{
	struct spec s = base_spec(cand);
	s.correct = first_n_wrong;
	s.ctx = &n;
	write_run(&s, 0);
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	compare("base", cand, &o, r, 0);
}

static void ten_newly_wrong_is_a_regression(void **state)
{
	(void)state;
	struct evh_gate_result r;
	against_first_wrong("cand10", 10, &r);
	assert_int_equal(r.n, 1);
	assert_true(r.rows[0].exact);
	assert_int_equal(r.rows[0].b, 10);
	assert_int_equal(r.rows[0].c, 0);
	assert_true(fabsl(r.rows[0].p - ref_mcnemar(10, 0)) < 1e-15L);
	assert_true(fabs(r.rows[0].delta + 10.0 / 30) < 1e-12);
	assert_true(r.rows[0].ci_hi < 0 && r.rows[0].ci_lo > -0.7);
	assert_int_equal(r.rows[0].verdict, EVH_GATE_REGRESSED);
	assert_true(r.regression);
	evh_gate_result_free(&r);
	assert_int_equal(gate("base", "cand10", NULL, NULL), EVH_GATE_REGRESSION);
	/* The same drop tolerated: 33.3 points is not larger than 40. */
	assert_int_equal(gate("base", "cand10", "--max-drop", "40"), EVH_GATE_PASS);
	assert_int_equal(gate("base", "cand10", "--max-drop", "30"), EVH_GATE_REGRESSION);
	/* Reversed, it is an improvement, not a failure. */
	assert_int_equal(gate("cand10", "base", NULL, NULL), EVH_GATE_PASS);
}

static void one_flip_passes(void **state)
{
	(void)state;
	struct evh_gate_result r;
	against_first_wrong("cand1", 1, &r);
	assert_true(r.rows[0].p == 1.0);
	assert_int_equal(r.rows[0].verdict, EVH_GATE_OK);
	evh_gate_result_free(&r);
	assert_int_equal(gate("base", "cand1", NULL, NULL), EVH_GATE_PASS);
	assert_int_equal(gate("base", "base", NULL, NULL), EVH_GATE_PASS); /* identical runs */
}

/* 25 items right only in the baseline, 5 only in the candidate, 20 right in both. */
static int b25(int item, int sample, void *ctx) { (void)sample, (void)ctx; return item < 25 || item >= 50; }
static int c5(int item, int sample, void *ctx) { (void)sample, (void)ctx; return (item >= 25 && item < 30) || item >= 50; }

static void twenty_five_vs_five(void **state)
{
	(void)state;
	struct spec s = base_spec("b25");
	s.n_items = 70;
	s.correct = b25;
	write_run(&s, 0);
	s = base_spec("c5");
	s.n_items = 70;
	s.correct = c5;
	write_run(&s, 0);
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	struct evh_gate_result r;
	compare("b25", "c5", &o, &r, 0);
	assert_int_equal(r.rows[0].b, 25);
	assert_int_equal(r.rows[0].c, 5);
	assert_true(fabs(r.rows[0].p - 348874.0 / 1073741824.0) < 1e-15);
	assert_true(fabs(r.rows[0].base_acc - 45.0 / 70) < 1e-12);
	assert_true(fabs(r.rows[0].cand_acc - 25.0 / 70) < 1e-12);
	evh_gate_result_free(&r);
	/* alpha below p: not significant, so it passes. */
	assert_int_equal(gate("b25", "c5", "--alpha", "0.0003"), EVH_GATE_PASS);
	assert_int_equal(gate("b25", "c5", "--alpha", "0.0004"), EVH_GATE_REGRESSION);
}

static void not_comparable_exits_2(void **state)
{
	(void)state;
	struct spec s = base_spec("shifted");
	s.id_offset = 1; /* it-001..it-030 against it-000..it-029 */
	write_run(&s, 0);
	assert_int_equal(gate("base", "shifted", NULL, NULL), EVH_GATE_ERROR);
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	struct evh_gate_result r;
	struct evh_err err = {0};
	char pb[256], pc[256];
	path_of(pb, sizeof pb, "base", NULL);
	path_of(pc, sizeof pc, "shifted", NULL);
	struct evh_run rb, rc;
	assert_int_equal(evh_run_load(pb, &rb, &err), 0);
	assert_int_equal(evh_run_load(pc, &rc, &err), 0);
	assert_int_equal(evh_gate_compare(&rb, &rc, &o, &r, &err), EVH_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "only in baseline: it-000"));
	assert_non_null(strstr(err.msg, "only in candidate: it-030"));
	evh_run_free(&rb);
	evh_run_free(&rc);

	s = base_spec("digest2");
	s.digest = "d2";
	write_run(&s, 0);
	assert_int_equal(gate("base", "digest2", NULL, NULL), EVH_GATE_ERROR);
	assert_int_equal(gate("base", "digest2", "--force", NULL), EVH_GATE_PASS);

	s = base_spec("hot");
	s.temperature = 0.6;
	write_run(&s, 0);
	assert_int_equal(gate("base", "hot", NULL, NULL), EVH_GATE_ERROR);
	assert_int_equal(gate("base", "hot", "--force", NULL), EVH_GATE_PASS);

	s = base_spec("errored");
	s.error_item = 3;
	write_run(&s, 0);
	assert_int_equal(gate("base", "errored", NULL, NULL), EVH_GATE_ERROR);
	/* A retry that succeeded later wins over the error line (last line per key). */
	write_run(&s, 0);
	struct spec fix = base_spec("errored");
	fix.n_items = 0;
	fix.extra = "{\"task\": \"arith\", \"item_id\": \"it-003\", \"sample\": 0, \"correct\": true, \"error\": null}\n";
	write_run(&fix, 1);
	assert_int_equal(gate("base", "errored", NULL, NULL), EVH_GATE_PASS);

	s = base_spec("othertask");
	s.task = "other";
	write_run(&s, 0);
	assert_int_equal(gate("base", "othertask", NULL, NULL), EVH_GATE_ERROR);
	assert_int_equal(gate("base", "nonexistent", NULL, NULL), EVH_GATE_ERROR);
	assert_int_equal(gate("base", "base", "--alpha", "abc"), EVH_GATE_ERROR);
	assert_int_equal(gate("base", "base", "--bogus", "1"), EVH_GATE_ERROR);
}

static void malformed_line_names_file_and_line(void **state)
{
	(void)state;
	struct spec s = base_spec("broken");
	s.n_items = 2;
	s.extra = "{\"task\": \"arith\", \"item_id\": \"it-009\", \"sample\": 0, \"correct\": tru}\n";
	write_run(&s, 0);
	char p[256];
	path_of(p, sizeof p, "broken", NULL);
	struct evh_run r;
	struct evh_err err = {0};
	assert_int_equal(evh_run_load(p, &r, &err), EVH_EFORMAT);
	assert_non_null(strstr(err.where, "broken/samples.jsonl:3"));
	assert_int_equal(gate("base", "broken", NULL, NULL), EVH_GATE_ERROR);

	s.extra = "{\"task\": \"arith\", \"item_id\": \"it-009\", \"sample\": \"0\", \"correct\": true}\n";
	write_run(&s, 0);
	evh_err_clear(&err);
	assert_int_equal(evh_run_load(p, &r, &err), EVH_EFORMAT);
	assert_non_null(strstr(err.where, "samples.jsonl:3"));
	assert_non_null(strstr(err.msg, "\"sample\""));
}

/* k = 4 samples: the bootstrap decides. Baseline: every sample right. Candidate: items 0..19 get
 * 1 of 4 right, the rest all right: delta = -20*0.75/30 = -0.5, far outside the noise. */
static int most_wrong(int item, int sample, void *ctx) { (void)ctx; return item >= 20 || sample == 0; }
static int one_sample_off(int item, int sample, void *ctx) { (void)ctx; return !(item == 0 && sample == 1); }

static void k_samples_use_bootstrap(void **state)
{
	(void)state;
	struct spec s = base_spec("k4base");
	s.k = 4;
	write_run(&s, 0);
	s = base_spec("k4bad");
	s.k = 4;
	s.correct = most_wrong;
	write_run(&s, 0);
	s = base_spec("k4near");
	s.k = 4;
	s.correct = one_sample_off;
	write_run(&s, 0);
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	struct evh_gate_result r;
	compare("k4base", "k4bad", &o, &r, 0);
	assert_false(r.rows[0].exact);
	assert_int_equal(r.rows[0].k_base, 4);
	assert_true(fabs(r.rows[0].delta + 0.5) < 1e-12);
	assert_true(r.rows[0].p < 0.001);
	assert_int_equal(r.rows[0].verdict, EVH_GATE_REGRESSED);
	evh_gate_result_free(&r);
	compare("k4base", "k4near", &o, &r, 0);
	assert_true(r.rows[0].p > 0.5); /* one item differs by 1/4: bootstrap cannot call that a change */
	assert_int_equal(r.rows[0].verdict, EVH_GATE_OK);
	evh_gate_result_free(&r);
	assert_int_equal(gate("k4base", "k4bad", NULL, NULL), EVH_GATE_REGRESSION);
}

/* Two tasks: arith regresses strongly, other is unchanged; Holm doubles the smaller p. */
static void two_tasks_holm(void **state)
{
	(void)state;
	struct spec s = base_spec("two-b");
	write_run(&s, 0);
	s.task = "other";
	s.n_items = 0;
	s.extra = NULL;
	write_run(&s, 1);
	char line[200];
	char p[256];
	path_of(p, sizeof p, "two-b", "samples.jsonl");
	FILE *f = fopen(p, "a");
	for (int i = 0; i < 30; i++) {
		snprintf(line, sizeof line, "{\"task\": \"other\", \"item_id\": \"o-%d\", \"sample\": 0, \"correct\": true}\n", i);
		fputs(line, f);
	}
	fclose(f);
	int ten = 10;
	s = base_spec("two-c");
	s.correct = first_n_wrong;
	s.ctx = &ten;
	write_run(&s, 0);
	path_of(p, sizeof p, "two-c", "samples.jsonl");
	f = fopen(p, "a");
	for (int i = 0; i < 30; i++) {
		snprintf(line, sizeof line, "{\"task\": \"other\", \"item_id\": \"o-%d\", \"sample\": 0, \"correct\": true}\n", i);
		fputs(line, f);
	}
	fclose(f);
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	struct evh_gate_result r;
	compare("two-b", "two-c", &o, &r, 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.rows[0].task, "arith");
	assert_string_equal(r.rows[2].task, "overall");
	assert_true(fabsl(r.rows[0].p - 2 * ref_mcnemar(10, 0)) < 1e-15L);
	assert_true(r.rows[1].p == 1.0);
	assert_true(fabsl(r.rows[2].p - ref_mcnemar(10, 0)) < 1e-15L);
	assert_true(fabs(r.rows[2].delta + 10.0 / 60) < 1e-12);
	evh_gate_result_free(&r);
	assert_int_equal(gate("two-b", "two-c", "--task", "other"), EVH_GATE_PASS);
	assert_int_equal(gate("two-b", "two-c", "--tasks", "other,arith"), EVH_GATE_REGRESSION);
	assert_int_equal(gate("two-b", "two-c", "--tasks", "nope"), EVH_GATE_ERROR);
}

static void markdown_table(void **state)
{
	(void)state;
	char pb[256], pc[256];
	path_of(pb, sizeof pb, "base", NULL);
	path_of(pc, sizeof pc, "cand10", NULL);
	struct evh_run rb, rc;
	struct evh_err err = {0};
	assert_int_equal(evh_run_load(pb, &rb, &err), 0);
	assert_int_equal(evh_run_load(pc, &rc, &err), 0);
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	struct evh_gate_result r;
	assert_int_equal(evh_gate_compare(&rb, &rc, &o, &r, &err), 0);
	struct evh_buf b;
	evh_buf_init(&b, 1 << 16);
	assert_int_equal(evh_gate_markdown(&rb, &rc, &o, &r, &b), 0);
	const char *t = evh_buf_str(&b);
	assert_non_null(strstr(t, "| task | items | baseline | candidate | delta (95% CI), points | p-value |"));
	assert_non_null(strstr(t, "| arith | 30 | 100.0% | 66.7% | -33.3 ["));
	assert_non_null(strstr(t, "| 0.00195 | McNemar exact (10 vs 0) | **REGRESSION** |"));
	evh_buf_free(&b);
	evh_gate_result_free(&r);
	evh_run_free(&rb);
	evh_run_free(&rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mcnemar_matches_reference),
		cmocka_unit_test(holm_by_hand),
		cmocka_unit_test(bootstrap_properties),
		cmocka_unit_test(ten_newly_wrong_is_a_regression),
		cmocka_unit_test(one_flip_passes),
		cmocka_unit_test(twenty_five_vs_five),
		cmocka_unit_test(not_comparable_exits_2),
		cmocka_unit_test(malformed_line_names_file_and_line),
		cmocka_unit_test(k_samples_use_bootstrap),
		cmocka_unit_test(two_tasks_holm),
		cmocka_unit_test(markdown_table),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
