/* test_report.c — evalh report on the hand-made runs of tests/fixtures/runs (report-a, report-b;
 * make_runs.py there says how they were made): files exist, the Markdown carries summary.json's
 * numbers, the HTML is well-formed XML (xmllint, libxml2-utils) with no live <script> from a
 * sample, the charts are SVG; and the escaping helpers on their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/report.h"
#include "harness/report_text.h"
#include "tests/unit/testutil.h"

static char root[64];

/* NULL when the report did not write the file. */
static char *slurp(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return tu_slurp(p, NULL);
}

static int have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static int report(const char *out, const char *fmt)
{
	char *argv[] = {"report", "tests/fixtures/runs/report-a", "tests/fixtures/runs/report-b", "-o", (char *)out,
			(char *)(fmt ? "--format" : NULL), (char *)fmt, NULL};
	return evh_report_main(fmt ? 7 : 5, argv);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(tu_tmpdir(root, sizeof root, "report"), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(root);
}

static void escaping(void **state)
{
	(void)state;
	struct evh_buf b;
	evh_buf_init(&b, 1 << 16);
	assert_int_equal(evh_html_add(&b, "<script>a&b\"c'd</script>\x01\xff"), 0);
	assert_string_equal(evh_buf_str(&b), "&lt;script&gt;a&amp;b&quot;c&#39;d&lt;/script&gt;\xEF\xBF\xBD");
	evh_buf_reset(&b);
	assert_int_equal(evh_md_add(&b, "a|b *c* <i>\nx"), 0);
	assert_string_equal(evh_buf_str(&b), "a\\|b \\*c\\* &lt;i&gt; x");
	evh_buf_reset(&b);
	assert_int_equal(evh_gp_add(&b, "say \"hi\"\\\n", 100), 0);
	assert_string_equal(evh_buf_str(&b), "\"say 'hi'/\"");
	evh_buf_reset(&b);
	/* "é" is two bytes: a cut at 2 must not split it. */
	assert_int_equal(evh_utf8_prefix("a\xC3\xA9z", 2), 1);
	assert_int_equal(evh_utf8_prefix("a\xC3\xA9z", 3), 3);
	evh_buf_free(&b);
}

static void report_from_two_runs(void **state)
{
	(void)state;
	char out[128];
	snprintf(out, sizeof out, "%s/both", root);
	assert_int_equal(report(out, NULL), 0);
	char *md = slurp(out, "report.md"), *html = slurp(out, "report.html");
	assert_non_null(md);
	assert_non_null(html);
	/* report-a arith: accuracy 0.8, ci95 [0.4902, 0.9433], latency p50/p90 1.45/1.81, 141.38 tok/s,
	 * cost 0.0045995 USD, 2.0442 USD/M (tests/fixtures/runs/report-a/summary.json). */
	/* The fixtures predate per-state counts: accuracy over completed samples and truncation show "–". */
	assert_non_null(strstr(md, "| alpha-r1 | 10 | 80.0% [49.0, 94.3] | p@1 80.0% | 80.0% | – | – | 0 | 1.45 / 1.81 |"));
	/* Flips between the two runs (evalh diff): arith-0005..7 right in A, wrong in B. */
	assert_non_null(strstr(md, "### arith: 3 regressions, 0 improvements of 10 items in both runs"));
	assert_non_null(strstr(md, "| regression | arith-0005 | 35 | 35 (1/1) | 5 (0/1) |"));
	assert_non_null(strstr(md, "| 141.4 | 0.0046 | 2.044 |"));
	/* report-b overall: 0.6875 [0.444, 0.8584], 52.0661 USD/M. */
	assert_non_null(strstr(md, "| beta &lt;script&gt; | 16 | 68.8% [44.4, 85.8] |"));
	assert_non_null(strstr(md, "| 52.07 |"));
	assert_non_null(strstr(md, "### Task mcq"));
	/* No live script anywhere: the model name and the sample response are escaped. */
	assert_null(strcasestr(md, "<script"));
	assert_null(strcasestr(html, "<script"));
	assert_non_null(strstr(html, "I think &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; the answer"));
	assert_non_null(strstr(html, "<td>beta &lt;script&gt;</td>"));
	if (have("xmllint")) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "xmllint --noout '%s/report.html'", out);
		assert_int_equal(system(cmd), 0);
	} else {
		fprintf(stderr, "  skipped: xmllint not installed (Debian libxml2-utils): HTML not parsed\n");
	}
	if (have("gnuplot")) {
		static const char *const charts[] = {"acc_task", "acc_cost", "latency_total", "latency_ttft",
						     "tokens_out", "tokens_reasoning", "acc_reasoning"};
		for (size_t i = 0; i < sizeof charts / sizeof *charts; i++) {
			char name[64];
			snprintf(name, sizeof name, "%s.svg", charts[i]);
			char *svg = slurp(out, name);
			assert_non_null(svg);
			assert_true(strlen(svg) > 1000);
			assert_non_null(strstr(svg, "<svg"));
			assert_null(strcasestr(svg, "<script>alert"));
			free(svg);
			/* inlined into the page, and linked from the Markdown */
			snprintf(name, sizeof name, "](%s.svg)", charts[i]);
			assert_non_null(strstr(md, name));
		}
		/* The model names reach the chart legends, escaped by gnuplot's SVG terminal. */
		char *svg = slurp(out, "acc_task.svg");
		assert_non_null(strstr(svg, "beta &lt;script>"));
		assert_non_null(strstr(svg, "alpha-r1"));
		free(svg);
		/* Pareto front: alpha (2.09 USD/M, 68.75%) and beta (52.1, 68.75%) tie on accuracy, so only
		 * the cheaper one is on it. */
		char *pareto = slurp(out, "pareto.dat");
		assert_non_null(pareto);
		assert_string_equal(pareto, "2.0852 68.75\n");
		free(pareto);
		int svgs = 0;
		for (const char *p = html; (p = strstr(p, "<svg")) != NULL; p++)
			svgs++;
		assert_int_equal(svgs, 7);
	} else {
		fprintf(stderr, "  skipped: gnuplot not installed: charts not checked\n");
	}
	free(md);
	free(html);
}

static void without_gnuplot_markdown_still_written(void **state)
{
	(void)state;
	char out[128];
	snprintf(out, sizeof out, "%s/nognuplot", root);
	setenv("EVALH_GNUPLOT", "/nonexistent/gnuplot", 1);
	int rc = report(out, "md");
	unsetenv("EVALH_GNUPLOT");
	assert_int_equal(rc, 0);
	char *md = slurp(out, "report.md"), *html = slurp(out, "report.html");
	assert_non_null(md);
	assert_null(html); /* --format md */
	assert_non_null(strstr(md, "gnuplot could not be run"));
	assert_null(strstr(md, ".svg)"));
	assert_non_null(strstr(md, "80.0% [49.0, 94.3]"));
	free(md);
}

static void bad_input_is_exit_2(void **state)
{
	(void)state;
	char out[128], run[160], p[200];
	snprintf(out, sizeof out, "%s/bad-out", root);
	snprintf(run, sizeof run, "%s/nosummary", root);
	mkdir(run, 0755);
	snprintf(p, sizeof p, "%s/run.json", run);
	FILE *f = fopen(p, "w");
	fputs("{\"run_id\": \"x\"}\n", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/samples.jsonl", run);
	f = fopen(p, "w");
	fclose(f);
	char *argv1[] = {"report", run, "-o", out, NULL};
	assert_int_equal(evh_report_main(4, argv1), 2);
	struct evh_run r;
	struct evh_err err = {0};
	assert_int_equal(evh_run_load(run, &r, &err), 0);
	assert_int_equal(evh_report_write(&r, 1, out, EVH_REPORT_MD, &err), EVH_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no summary.json"));
	evh_run_free(&r);

	snprintf(p, sizeof p, "%s/run.json", run);
	f = fopen(p, "w");
	fputs("{\"run_id\": \"x\",\n \"model\": {\"name\": oops}}\n", f);
	fclose(f);
	evh_err_clear(&err);
	assert_int_equal(evh_run_load(run, &r, &err), EVH_EFORMAT);
	assert_non_null(strstr(err.where, "nosummary/run.json"));
	assert_non_null(strstr(err.msg, "line 2"));
	assert_int_equal(evh_report_main(4, argv1), 2);

	char *argv2[] = {"report", "tests/fixtures/runs/report-a", NULL};
	assert_int_equal(evh_report_main(2, argv2), 2); /* no -o */
	char *argv3[] = {"report", "tests/fixtures/runs/report-a", "-o", out, "--format", "pdf", NULL};
	assert_int_equal(evh_report_main(6, argv3), 2);
	char *argv4[] = {"report", "tests/fixtures/runs/does-not-exist", "-o", out, NULL};
	assert_int_equal(evh_report_main(4, argv4), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escaping),
		cmocka_unit_test(report_from_two_runs),
		cmocka_unit_test(without_gnuplot_markdown_still_written),
		cmocka_unit_test(bad_input_is_exit_2),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
