/* test_math.c — the answer-equivalence table tests/cases/math_equiv.jsonl, one row per case with the
 * expected verdict and a category; prints agreement per category and fails on any disagreement.
 * Plus the option parser and the limits on hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/math.h"
#include "scorers/latex.h"
#include "tests/unit/testutil.h"

struct cat {
	char name[32];
	int total, agree;
};

static void equivalence_table(void **state)
{
	(void)state;
	char *text = tu_slurp("tests/cases/math_equiv.jsonl", NULL);
	assert_non_null(text);
	struct cat cats[64];
	int ncat = 0, rows = 0, bad = 0;
	int line = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		if (!*l)
			continue;
		cJSON *j = cJSON_Parse(l);
		if (!j) {
			fail_msg("math_equiv.jsonl:%d: not JSON", line);
		}
		const cJSON *g = cJSON_GetObjectItem(j, "gold"), *p = cJSON_GetObjectItem(j, "pred"),
			    *e = cJSON_GetObjectItem(j, "equal"), *c = cJSON_GetObjectItem(j, "category"),
			    *o = cJSON_GetObjectItem(j, "options");
		if (!cJSON_IsString(g) || !cJSON_IsString(p) || !cJSON_IsBool(e) || !cJSON_IsString(c))
			fail_msg("math_equiv.jsonl:%d: needs gold, pred, equal, category", line);
		struct scr_math_opts opts;
		char *oj = o ? cJSON_PrintUnformatted(o) : NULL;
		assert_int_equal(scr_math_opts_parse(oj, &opts, NULL), EVH_OK);
		free(oj);
		int got = -1;
		struct evh_err err = {0};
		int rc = scr_math_equal(g->valuestring, p->valuestring, &opts, &got, &err);
		int want = cJSON_IsTrue(e);
		int k;
		for (k = 0; k < ncat && strcmp(cats[k].name, c->valuestring) != 0; k++)
			;
		if (k == ncat) {
			assert_true(ncat < 64);
			snprintf(cats[k].name, sizeof cats[k].name, "%s", c->valuestring);
			cats[k].total = cats[k].agree = 0;
			ncat++;
		}
		cats[k].total++;
		rows++;
		if (rc == EVH_OK && got == want) {
			cats[k].agree++;
		} else {
			bad++;
			printf("DISAGREE math_equiv.jsonl:%d [%s] gold=%s pred=%s want=%d got=%d rc=%d %s\n", line,
			       c->valuestring, g->valuestring, p->valuestring, want, got, rc, err.msg);
		}
		cJSON_Delete(j);
	}
	free(text);
	for (int k = 0; k < ncat; k++)
		printf("  %-14s %3d/%3d agree\n", cats[k].name, cats[k].agree, cats[k].total);
	printf("  %-14s %3d/%3d agree\n", "all", rows - bad, rows);
	assert_true(rows >= 400);
	assert_int_equal(bad, 0);
}

static void options_are_checked(void **state)
{
	(void)state;
	struct scr_math_opts o;
	struct evh_err err = {0};
	assert_int_equal(scr_math_opts_parse("{\"tolerance\": 0.01}", &o, &err), EVH_OK);
	assert_true(o.rel_tol == 0.01);
	assert_int_equal(scr_math_opts_parse("{\"tolerence\": 0.01}", &o, &err), EVH_EFORMAT);
	assert_non_null(strstr(err.msg, "tolerence"));
	evh_err_clear(&err);
	assert_int_equal(scr_math_opts_parse("{\"percent\": 3}", &o, &err), EVH_EFORMAT);
	evh_err_clear(&err);
	assert_int_equal(scr_math_opts_parse("[1]", &o, &err), EVH_EFORMAT);
	int eq;
	/* the tolerance option widens numeric equality */
	scr_math_opts_parse("{\"tolerance\": 0.01}", &o, NULL);
	assert_int_equal(scr_math_equal("100", "100.5", &o, &eq, NULL), EVH_OK);
	assert_true(eq);
	scr_math_opts_defaults(&o);
	assert_int_equal(scr_math_equal("100", "100.5", &o, &eq, NULL), EVH_OK);
	assert_false(eq);
}

/* Hostile answers get EVH_ELIMIT, never a stack overflow: long, deeply nested, long chains. */
static void limits_give_elimit(void **state)
{
	(void)state;
	size_t n = 200000;
	char *s = malloc(n + 1);
	int eq;
	struct evh_err err = {0};
	memset(s, '(', n);
	s[n] = '\0';
	assert_int_equal(scr_math_equal("1", s, NULL, &eq, &err), EVH_ELIMIT);
	assert_false(eq);
	/* within the length limit but nested past the depth limit */
	size_t d = 4000;
	for (size_t i = 0; i < d; i++)
		s[i] = '{';
	s[d] = '1';
	for (size_t i = 0; i < d; i++)
		s[d + 1 + i] = '}';
	s[2 * d + 1] = '\0';
	evh_err_clear(&err);
	assert_int_equal(scr_math_equal("1", s, NULL, &eq, &err), EVH_ELIMIT);
	/* \frac nesting goes through commands, not brackets the normaliser counts */
	struct evh_err e2 = {0};
	char *f = malloc(8 * 600 + 16);
	f[0] = '\0';
	for (int i = 0; i < 600; i++)
		strcat(f, "\\sqrt ");
	strcat(f, "2");
	assert_int_equal(scr_math_equal("1", f, NULL, &eq, &e2), EVH_ELIMIT);
	/* a flat sum is not nesting, but its left-deep tree is: bounded too */
	size_t k = 0;
	for (int i = 0; i < 3000; i++) {
		s[k++] = '1';
		s[k++] = '+';
	}
	s[k++] = '1';
	s[k] = '\0';
	evh_err_clear(&err);
	assert_int_equal(scr_math_equal("1", s, NULL, &eq, &err), EVH_ELIMIT);
	/* a modest sum is fine */
	assert_int_equal(scr_math_equal("6", "1+1+1+1+1+1", NULL, &eq, NULL), EVH_OK);
	assert_true(eq);
	free(f);
	free(s);
}

/* Random and garbage strings, and mutations of real answers: never a crash, hang or leak
 * (ASan/UBSan watch), and every call ends with OK, ELIMIT or nothing else. */
static void fuzz_garbage(void **state)
{
	(void)state;
	static const char *const seeds[] = {
		"\\frac{1}{2}", "\\sqrt[3]{x^2+1}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "(1,2]\\cup[3,\\infty)",
		"\\{1,2\\}", "x=3 \\text{ or } x=-3", "1 \\pm \\sqrt{2}", "\\left(\\frac{\\pi}{2}\\right)^2",
		"50\\%", "\\$1{,}000.00", "|x-1|<2", "\\log_2 8", "\\sin^{-1}(x)", "\\binom{5}{2}", "3!",
		"\\text{Monday}", "1<x\\le3", "e^{i\\pi}", "2^{10}", "10^{-3}", "\\dfrac{\\sqrt{3}}{2}",
	};
	static const char alphabet[] = "0123456789+-*/^_{}()[]|,.=<>!\\ $%&abcxyzeipq\n";
	static const char *const toks[] = {"\\frac", "\\sqrt", "\\left", "\\right", "\\text{", "\\begin{pmatrix}",
					   "\\end{pmatrix}", "\\\\", "&", "\\{", "\\}", "\\pm", "\\cup", "\\infty",
					   "\\boxed{", "^", "_", "\\sin", "\\log_", "\\in", "\\le", "\\circ", "{,}"};
	uint64_t x = 0x1234567;
	char buf[256];
	int ok = 0, limit = 0, other = 0;
	for (int it = 0; it < 20000; it++) {
		size_t len = 0;
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int mode = (int)((x >> 33) % 3);
		if (mode == 0) { /* random bytes of the alphabet, and raw bytes */
			size_t n = (x >> 40) % 64;
			for (size_t i = 0; i < n; i++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				buf[len++] = (x >> 50) % 7 == 0 ? (char)((x >> 20) & 0xff) : alphabet[(x >> 33) % (sizeof alphabet - 1)];
				if (!buf[len - 1])
					buf[len - 1] = '1';
			}
		} else { /* a seed with random tokens spliced in */
			const char *sd = seeds[(x >> 35) % (sizeof seeds / sizeof seeds[0])];
			size_t sl = strlen(sd), cut = sl ? (x >> 41) % (sl + 1) : 0;
			memcpy(buf, sd, cut);
			len = cut;
			for (int t = 0; t < 1 + (int)((x >> 45) % 3); t++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				const char *tk = toks[(x >> 37) % (sizeof toks / sizeof toks[0])];
				size_t tl = strlen(tk);
				if (len + tl < 120) {
					memcpy(buf + len, tk, tl);
					len += tl;
				}
			}
			size_t rest = sl - cut < 100 ? sl - cut : 100;
			if (mode == 2) {
				memcpy(buf + len, sd + cut, rest);
				len += rest;
			}
		}
		buf[len] = '\0';
		int eq;
		int rc = scr_math_equal(seeds[it % (sizeof seeds / sizeof seeds[0])], buf, NULL, &eq, NULL);
		if (rc == EVH_OK)
			ok++;
		else if (rc == EVH_ELIMIT)
			limit++;
		else
			other++;
		rc = scr_math_equal(buf, buf, NULL, &eq, NULL);
		assert_true(rc == EVH_OK || rc == EVH_ELIMIT);
	}
	printf("  fuzz: %d compared, %d over limits, %d other\n", ok, limit, other);
	assert_int_equal(other, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equivalence_table),
		cmocka_unit_test(options_are_checked),
		cmocka_unit_test(limits_give_elimit),
		cmocka_unit_test(fuzz_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
