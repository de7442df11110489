/* latex.h — normalises an extracted answer before it is parsed: math delimiters, \text{} and
 * \mathrm{} wrappers, units, degrees, percent and currency signs, thousands separators, spacing
 * commands, unicode operators, trailing punctuation. String in, string out; no parsing of maths. */
#ifndef SCR_LATEX_H
#define SCR_LATEX_H

#include <stddef.h>

#include "harness/util/err.h"

/* Ceilings on an answer handed to the math scorer (hostile input gets EVH_ELIMIT, never a deep
 * recursion): bytes of one answer, and nesting of braces / brackets / the expression tree. */
#define SCR_LIMIT_LATEX 8192
#define SCR_LIMIT_DEPTH 96

/* What the normaliser removed, so the comparison can use it ("50\%" may mean 0.5). */
enum scr_norm_flags {
	SCR_NORM_PERCENT = 1 << 0,  /* a % sign */
	SCR_NORM_DEGREE = 1 << 1,   /* ^\circ, °, "degrees" */
	SCR_NORM_UNIT = 1 << 2,     /* a unit word ("cm", \text{ meters}) */
	SCR_NORM_CURRENCY = 1 << 3, /* \$ or $ used as currency, "dollars" */
};

/* Normalises s[0..n) into a malloc'd string *out (free with free()); *flags gets what was removed.
 * EVH_ELIMIT when n > SCR_LIMIT_LATEX or braces nest deeper than SCR_LIMIT_DEPTH; *out is NULL on
 * error. Pure function of its input; thread-safe. */
int scr_latex_normalize(const char *s, size_t n, char **out, int *flags, struct evh_err *err);

/* 1 when the word w[0..n) is a unit of measure the normaliser drops ("cm", "dollars", "hours"). */
int scr_latex_is_unit(const char *w, size_t n);

/* End of the brace group opening at s[i] == '{' (index of the matching '}'), or n when unbalanced.
 * \{ and \} are literal braces in LaTeX, not grouping. Iterative, so depth costs no stack. */
size_t scr_latex_match_brace(const char *s, size_t n, size_t i);

#endif
