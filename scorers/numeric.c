/* numeric.c — the "numeric" scorer of simple.h: one number, within a tolerance. The answer is found
 * by the math extraction rules (extract.h) and read as a number through the same normaliser and
 * parser the math scorer uses (latex.h, expr.h), so "\frac{3}{4}", "1{,}234" and "2.5 cm" are numbers. */
#include <cjson/cJSON.h>
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/expr.h"
#include "scorers/extract.h"
#include "scorers/latex.h"
#include "scorers/math.h"
#include "scorers/simple.h"

#define DEFAULT_REL 1e-6
#define DEFAULT_ABS 1e-9

int scr_numeric_value(const char *s, double *v)
{
	char *norm = NULL;
	int flags, ok = 0;
	struct scr_expr *e = NULL;
	if (scr_latex_normalize(s, strlen(s), &norm, &flags, NULL) || scr_expr_parse(norm, &e, NULL))
		goto out;
	const struct scr_node *root = scr_expr_root(e);
	const char *names[1];
	size_t nv = 0;
	/* A variable (or a word the parser took for one) means an expression, not a number. */
	if (scr_node_vars(root, names, &nv, 1) != 0 || nv)
		goto out;
	double complex z = scr_node_eval(root, NULL, 0);
	double re = creal(z), im = cimag(z);
	if (isfinite(re) && isfinite(im) && fabs(im) <= 1e-12 * (1 + fabs(re))) {
		*v = re;
		ok = 1;
	}
out:
	scr_expr_free(e);
	free(norm);
	return ok;
}

int scr_numeric_close(double gold, double pred, double rel, double abs_tol)
{
	double scale = fmax(fabs(gold), fabs(pred));
	return fabs(gold - pred) <= fmax(abs_tol, rel * scale);
}

/* Reads "tolerance" / "abs_tolerance" from `o` when present (non-negative numbers); other keys are
 * left to the caller. */
int scr_numeric_opt(const cJSON *it, double *rel, double *abs_tol, int *taken, struct evh_err *err)
{
	*taken = 0;
	double *dst = !strcmp(it->string, "tolerance") ? rel : !strcmp(it->string, "abs_tolerance") ? abs_tol : NULL;
	if (!dst)
		return EVH_OK;
	*taken = 1;
	if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || !isfinite(it->valuedouble))
		return evh_err_fail(err, EVH_EFORMAT, "scorer options", "\"%s\" must be a number >= 0", it->string);
	*dst = it->valuedouble;
	return EVH_OK;
}

/* Defined here rather than in scorer.c (its other user) because the fuzz build links numeric.c
 * without scorer.c. */
int scr_answer_find(const char *response, int rules, struct scr_result *out, struct evh_err *err)
{
	int rc = scr_extract_answer(response, rules, &out->extracted, &out->rule, err);
	if (!rc && !out->extracted)
		out->verdict = SCR_NO_ANSWER;
	return rc;
}

struct tol {
	double rel, abs_tol;
};

static int take_opt(const cJSON *it, void *ctx, struct evh_err *err)
{
	struct tol *t = ctx;
	int taken;
	int rc = scr_numeric_opt(it, &t->rel, &t->abs_tol, &taken, err);
	if (!rc && !taken)
		rc = evh_err_fail(err, EVH_EFORMAT, "scorer options",
				  "unknown option \"%s\" for the numeric scorer (known: tolerance, abs_tolerance)",
				  it->string);
	return rc;
}

static int parse_opts(const char *json, struct tol *t, struct evh_err *err)
{
	*t = (struct tol){DEFAULT_REL, DEFAULT_ABS};
	return scr_opts_each(json, take_opt, t, err);
}

int scr_numeric_compare(const char *gold, const char *pred, double rel, double abs_tol, struct scr_result *out,
			struct evh_err *err)
{
	double g, p;
	if (!scr_numeric_value(gold, &g))
		return evh_err_fail(err, EVH_EFORMAT, "gold answer", "the numeric scorer needs a number, found \"%.60s\"",
				    gold);
	if (scr_numeric_value(pred, &p)) {
		out->verdict = scr_numeric_close(g, p, rel, abs_tol) ? SCR_CORRECT : SCR_WRONG;
		return EVH_OK;
	}
	out->verdict = SCR_WRONG;
	if (asprintf(&out->detail, "not a number: \"%.60s\"", pred) < 0) {
		out->detail = NULL;
		return evh_err_fail(err, EVH_ENOMEM, "scorers/numeric", "out of memory");
	}
	return EVH_OK;
}

int scr_numeric_score(const char *options_json, const char *response, const struct scr_gold *gold,
		      struct scr_result *out, struct evh_err *err)
{
	struct tol t;
	int rc = parse_opts(options_json, &t, err);
	if (!rc)
		rc = scr_answer_find(response, SCR_EX_MATH, out, err);
	if (rc || !out->extracted)
		return rc;
	/* "The answer is 42 apples, I think": the phrase rules take the rest of the sentence; the number
	 * it opens with is the answer. (Only a leading one: "x+1" must not become "1".) */
	double v;
	size_t k = 0;
	const char *x = out->extracted;
	if (!scr_numeric_value(x, &v)) {
		while (x[k] == ' ' || x[k] == '$')
			k++;
		size_t a = k;
		if (x[k] == '-' || x[k] == '+')
			k++;
		if (x[k] >= '0' && x[k] <= '9') {
			while ((x[k] >= '0' && x[k] <= '9') || x[k] == ',' || x[k] == '.')
				k++;
			while (k > a && (x[k - 1] == ',' || x[k - 1] == '.'))
				k--;
			char *num = strndup(x + a, k - a);
			if (!num)
				return evh_err_fail(err, EVH_ENOMEM, "scorers/numeric", "out of memory");
			if (scr_numeric_value(num, &v)) {
				free(out->extracted);
				out->extracted = num;
			} else {
				free(num);
			}
		}
	}
	return scr_numeric_compare(gold->answer, out->extracted, t.rel, t.abs_tol, out, err);
}
