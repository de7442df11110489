/* simple.h — the scorers for simple packs behind scr_score: "exact" (scorer.c), "regex" (regex.c:
 * a PCRE2 pattern picks the answer) and "numeric" (numeric.c: one number within a tolerance).
 * scorer.c dispatches to them; nothing else needs this header. */
#ifndef SCR_SIMPLE_H
#define SCR_SIMPLE_H

#include "harness/util/err.h"
#include "scorers/scorer.h"

/* 1 when a and b are the same answer after light normalisation (surrounding space, '$' and a
 * trailing '.' dropped, runs of space collapsed); `fold` compares case-insensitively (ASCII). */
int scr_exact_equal(const char *a, const char *b, int fold);

/* The answer found in `response` by the extraction rules `rules` (extract.h SCR_EX_*) into
 * out->extracted and out->rule; none found leaves out->extracted NULL and sets out->verdict to
 * SCR_NO_ANSWER. Returns the extraction's error code. The first step of exact, math and numeric. */
int scr_answer_find(const char *response, int rules, struct scr_result *out, struct evh_err *err);

/* "numeric": the answer found by the math extraction rules must be one real number within
 * max(abs_tolerance, tolerance * max(|gold|, |pred|)) of the gold.
 * Options: "tolerance" (relative, default 1e-6), "abs_tolerance" (default 1e-9).
 * An answer that holds no number is SCR_WRONG with `detail` saying so; a gold that is not one
 * number is EVH_EFORMAT (the pack is at fault). Same contract as scr_score otherwise. */
int scr_numeric_score(const char *options_json, const char *response, const struct scr_gold *gold,
		      struct scr_result *out, struct evh_err *err);

/* Parses s as one finite real number: LaTeX normalised (latex.h: \frac, thousands separators,
 * units, \%, \$ dropped) and evaluated (expr.h), so "1{,}234", "\frac{3}{4}" and "2.5 cm" are
 * numbers and "x+1", "(1,2)" are not. 1 and *v set when it is one; 0 otherwise. */
int scr_numeric_value(const char *s, double *v);

/* The pieces regex.c reuses: |gold - pred| <= max(abs_tol, rel * max(|gold|, |pred|)); reading one
 * "tolerance" / "abs_tolerance" option (*taken 0 for any other key); and judging `pred` against
 * `gold` (both text) into out->verdict / out->detail as scr_numeric_score does. */
struct cJSON;
int scr_numeric_close(double gold, double pred, double rel, double abs_tol);
int scr_numeric_opt(const struct cJSON *it, double *rel, double *abs_tol, int *taken, struct evh_err *err);
int scr_numeric_compare(const char *gold, const char *pred, double rel, double abs_tol, struct scr_result *out,
			struct evh_err *err);

/* "regex": a PCRE2 pattern (UTF-8, invalid UTF-8 in the response tolerated) searched in the
 * response after any <think> block; capture group `group` (a number or a name; default 1 when the
 * pattern has a group, else the whole match) of the last match ("match": "first" takes the first)
 * is the answer, compared with the gold by "compare": "exact" (default, "case_sensitive": false),
 * "numeric" ("tolerance", "abs_tolerance" as above) or "math" (math.h defaults).
 * No match is SCR_NO_ANSWER; a bad pattern or option is EVH_EFORMAT naming it; a response that
 * exhausts PCRE2's match limits is SCR_WRONG with `detail` saying so (a retry would do the same). */
int scr_regex_score(const char *options_json, const char *response, const struct scr_gold *gold,
		    struct scr_result *out, struct evh_err *err);

#endif
