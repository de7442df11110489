/* math.h — are two final answers mathematically the same? Normalises both (latex.h), parses them
 * (expr.h) and compares: identical text, numbers within a tolerance, decimals to the precision
 * written, expressions at random points, tuples, sets, intervals, unions, matrices, equations,
 * inequalities, several answers in any order, and plain-text answers case- and space-free. */
#ifndef SCR_MATH_H
#define SCR_MATH_H

#include "harness/util/err.h"

struct scr_math_opts {
	double rel_tol;      /* "tolerance": relative tolerance between numbers (default 1e-9) */
	double abs_tol;      /* "abs_tolerance": absolute floor for values near zero (default 1e-12) */
	int percent;         /* "percent": "50\%" may equal 0.5 (default 1) */
	int min_sig_digits;  /* "min_sig_digits": a decimal literal stands for an exact value (0.333 for
				\frac13) when written with at least this many significant digits (default 3) */
};

void scr_math_opts_defaults(struct scr_math_opts *o);

/* The one walk over a scorer's options (JSON object text from pack.json), shared by the math, exact
 * and numeric scorers: parses `json` and calls `take` for each member in order, stopping at the
 * first error; `take` stores the value or records EVH_EFORMAT naming the key. NULL or "" means no
 * options (EVH_OK, no call); text that is not a JSON object is EVH_EFORMAT at "scorer options".
 * Defaults are the caller's to set before. Here, not in a file of its own, because the fuzz build
 * (tests/fuzz/run.sh) links math.c and numeric.c by name. */
struct cJSON;
typedef int (*scr_opt_fn)(const struct cJSON *it, void *ctx, struct evh_err *err);
int scr_opts_each(const char *json, scr_opt_fn take, void *ctx, struct evh_err *err);

/* Reads options from JSON object text (NULL or "" keeps the defaults). EVH_EFORMAT naming the key
 * for an unknown key or a value of the wrong type or range. */
int scr_math_opts_parse(const char *json, struct scr_math_opts *o, struct evh_err *err);

/* *equal = 1 when `pred` is the same answer as `gold`. EVH_ELIMIT when either passes the LaTeX
 * length or nesting limits (latex.h), EVH_ENOMEM; *equal is 0 then. Deterministic; thread-safe. */
int scr_math_equal(const char *gold, const char *pred, const struct scr_math_opts *o, int *equal,
		   struct evh_err *err);

#endif
