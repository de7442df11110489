/* mcq.h — the chosen letter of a multiple-choice answer (GPQA, ARC, MMLU: A-J), and the per-item
 * option shuffle with a recorded seed. No answer is an outcome of its own, never counted wrong. */
#ifndef SCR_MCQ_H
#define SCR_MCQ_H

#include <stddef.h>
#include <stdint.h>

#include "harness/util/err.h"

#define SCR_MCQ_MAX 10 /* letters A..J */

/* Finds the letter chosen in `text` (a <think> block is skipped): "Answer: C", "The correct answer
 * is (C)", \boxed{C}, a reply that is just "C" or "C) ...", the text of one option (when `choices`
 * is given), "**C**" / "(C)" last. Letters beyond n_choices (A-J when n_choices is 0) are not
 * choices. *letter = 0-based index or -1 when none; *rule = static rule name or NULL. */
int scr_mcq_letter(const char *text, const char *const *choices, size_t n_choices, int *letter,
		   const char **rule, struct evh_err *err);

/* The gold letter index from "C", "(C)", "c", or the text of one of `choices`; -1 when none. */
int scr_mcq_gold(const char *answer, const char *const *choices, size_t n_choices);

/* Fills perm[0..n) with a permutation of 0..n-1 drawn from `seed` (SplitMix64 + Fisher-Yates), so
 * the order shown to the model is reproducible from the seed recorded with the sample: option
 * perm[k] of the item is shown as letter 'A'+k. n <= SCR_MCQ_MAX. */
void scr_mcq_shuffle(uint64_t seed, size_t n, int *perm);

#endif
