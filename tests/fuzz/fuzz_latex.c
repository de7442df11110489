/* fuzz_latex.c — libFuzzer entry for the LaTeX normaliser, the expression parser and evaluator and
 * the math comparison (latex.h, expr.h, math.h), built by tests/fuzz/run.sh. The input is one answer,
 * or "gold\npred". Beyond "no crash, hang or leak" it checks that an answer equals itself.
 * tests/unit/scorers/test_fuzz_corpus.c includes this file with FUZZ_NO_ENTRY to replay the corpus. */
#include <complex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/expr.h"
#include "scorers/latex.h"
#include "scorers/math.h"
#include "scorers/simple.h"
#include "tests/fuzz/fuzz_entry.h"

/* Returns 1 when the normalised answer is not blank. */
static int fuzz_latex_parse(const char *s, size_t n)
{
	char *norm = NULL;
	int flags;
	if (scr_latex_normalize(s, n, &norm, &flags, NULL))
		return 0;
	int blank = norm[strspn(norm, " \t\r\n\v\f")] == '\0';
	struct scr_expr *e = NULL;
	if (!scr_expr_parse(norm, &e, NULL)) {
		const struct scr_node *root = scr_expr_root(e);
		const char *names[8];
		size_t nv = 0;
		struct scr_binding vars[8];
		if (scr_node_vars(root, names, &nv, 8) == 0) {
			for (size_t i = 0; i < nv; i++)
				vars[i] = (struct scr_binding){names[i], 0.7 + 0.1 * (double)i + 0.3 * I};
			(void)scr_node_eval(root, vars, nv);
		}
		scr_expr_free(e);
	}
	free(norm);
	return !blank;
}

static int fuzz_latex_one(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	if (!s)
		return 0;
	int some = fuzz_latex_parse(s, strlen(s));
	double v;
	(void)scr_numeric_value(s, &v);

	struct scr_math_opts o;
	scr_math_opts_defaults(&o);
	int equal = 0;
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		(void)scr_math_equal(s, nl + 1, &o, &equal, NULL);
		(void)scr_math_equal(nl + 1, s, &o, &equal, NULL);
	} else if (some && scr_math_equal(s, s, &o, &equal, NULL) == EVH_OK && !equal) {
		/* (a blank answer is no answer, equal to nothing) */
		fprintf(stderr, "fuzz_latex: \"%s\" is not equal to itself\n", s);
		abort();
	}
	free(s);
	return 0;
}

FUZZ_ENTRY(fuzz_latex_one)
