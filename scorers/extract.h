/* extract.h — finds the final answer in a model response, reasoning-aware: text inside
 * <think>...</think> is never where an answer comes from. Each rule that can fire has a stable
 * name, recorded in the sample so a changed verdict can be traced to the rule behind it. */
#ifndef SCR_EXTRACT_H
#define SCR_EXTRACT_H

#include <stddef.h>

#include "harness/util/err.h"

/* The part of `text` an answer may be taken from: after the last "</think>"; when a "<think>"
 * opens and never closes (the model ran out of tokens while thinking), only what precedes it.
 * Returns a pointer into `text`; *len gets the length of that part. */
const char *scr_strip_think(const char *text, size_t *len);

/* Which rules may fire; the order among them is fixed (issue 3). */
enum scr_extract_flags {
	SCR_EX_BOXED = 1 << 0,       /* last \boxed{...} / \fbox{...}, nested braces: "boxed" */
	SCR_EX_FINAL = 1 << 1,       /* "final answer is X" (Minerva format): "final_answer" */
	SCR_EX_ANSWER_IS = 1 << 2,   /* "The answer is X": "answer_is" */
	SCR_EX_GSM8K = 1 << 3,       /* GSM8K "#### N": "gsm8k" */
	SCR_EX_ANSWER_COLON = 1 << 4,/* "Answer: X": "answer_colon" */
	SCR_EX_LAST_NUMBER = 1 << 5, /* last number in the text: "last_number" */
	SCR_EX_WHOLE = 1 << 6,       /* the whole (trimmed) text when nothing else fired: "whole" */
	SCR_EX_LATEX = 1 << 7,       /* last $...$ / $$...$$ / \(...\) / \[...\] span, tried before the
				      * last number: "latex" */
	SCR_EX_MATH = 0xbf,          /* every rule but "whole" */
};

/* Extracts the answer from `text` (reasoning already stripped by the caller, or not: a <think>
 * block is stripped here again). On success *out is a malloc'd answer (free with free()) and
 * *rule a static rule name, or both NULL when no rule fired. EVH_ENOMEM is the only error. */
int scr_extract_answer(const char *text, int flags, char **out, const char **rule, struct evh_err *err);

/* The content of the last complete \boxed{} / \fbox{} in s[0..n) (balanced braces, escaped \{ \}
 * skipped; "\boxed 5" without braces too), or NULL. *blen gets its length. */
const char *scr_extract_boxed(const char *s, size_t n, size_t *blen);

#endif
