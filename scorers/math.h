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

/* Reads options from JSON object text (NULL or "" keeps the defaults). EVH_EFORMAT naming the key
 * for an unknown key or a value of the wrong type or range. */
int scr_math_opts_parse(const char *json, struct scr_math_opts *o, struct evh_err *err);

/* *equal = 1 when `pred` is the same answer as `gold`. EVH_ELIMIT when either passes the LaTeX
 * length or nesting limits (latex.h), EVH_ENOMEM; *equal is 0 then. Deterministic; thread-safe. */
int scr_math_equal(const char *gold, const char *pred, const struct scr_math_opts *o, int *equal,
		   struct evh_err *err);

#endif
