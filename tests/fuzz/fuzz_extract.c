/* fuzz_extract.c — libFuzzer entry for answer extraction (extract.h) and multiple-choice letters
 * (mcq.h) on a whole model response, then the math comparison of what was extracted, built by
 * tests/fuzz/run.sh. Checks that nothing is ever taken from an unclosed <think> block.
 * tests/unit/scorers/test_fuzz_corpus.c includes this file with FUZZ_NO_ENTRY to replay the corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/extract.h"
#include "scorers/math.h"
#include "scorers/mcq.h"
#include "tests/fuzz/fuzz_entry.h"

static int fuzz_extract_one(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size);
	if (!s)
		return 0;
	size_t n = strlen(s), kept, bl;
	const char *part = scr_strip_think(s, &kept);
	if (part < s || part + kept > s + n)
		abort();
	(void)scr_extract_boxed(s, n, &bl);

	char *ans = NULL;
	const char *rule = NULL;
	if (scr_extract_answer(s, SCR_EX_MATH | SCR_EX_WHOLE, &ans, &rule, NULL) == EVH_OK && ans) {
		/* an answer may only come from the part after the reasoning */
		if (!rule || kept == 0) {
			fprintf(stderr, "fuzz_extract: rule %s fired on an empty answer part\n", rule ? rule : "(null)");
			abort();
		}
		struct scr_math_opts o;
		scr_math_opts_defaults(&o);
		int equal;
		(void)scr_math_equal("\\frac{1}{2}", ans, &o, &equal, NULL);
	}
	free(ans);

	static const char *const choices[] = {"London", "Paris", "3.5", "none of the above"};
	int letter;
	(void)scr_mcq_letter(s, NULL, 0, &letter, &rule, NULL);
	if (scr_mcq_letter(s, choices, 4, &letter, &rule, NULL) == EVH_OK && (letter < -1 || letter >= 4))
		abort();
	(void)scr_mcq_gold(s, choices, 4);
	free(s);
	return 0;
}

FUZZ_ENTRY(fuzz_extract_one)
