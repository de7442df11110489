/* scorer.h — turns one model response into a verdict. Knows nothing of HTTP, packs or the engine:
 * the harness hands it the response text, the reasoning and the gold answer.
 * Answers are never taken from reasoning (<think>...</think> or the API's reasoning field). */
#ifndef SCORER_H
#define SCORER_H

#include <stddef.h>

#include "harness/util/err.h"

/* Verdicts are outcomes, not errors (DESIGN.md). Stable numbers: written by name in samples.jsonl. */
enum scr_verdict {
	SCR_CORRECT = 0,
	SCR_WRONG = 1,
	SCR_NO_ANSWER = 2,  /* nothing could be extracted */
	/* code verdicts */
	SCR_PASS = 10,
	SCR_FAIL = 11,
	SCR_TIMEOUT = 12,
	SCR_MEMORY = 13,
	SCR_RUNTIME_ERROR = 14,
	SCR_COMPILE_ERROR = 15,
	SCR_OUTPUT_LIMIT = 16,  /* stdout past the cap: the program was killed, its output cut */
	SCR_SANDBOX_ERROR = 17, /* the sandbox itself failed: never the model's failure, never
				 * correct; scr_score reports it as an EVH_ESANDBOX error (the sample
				 * is retried), the name is for outputs such as `evalh sandbox run` */
};

struct scr_gold {
	const char *answer;   /* gold answer text (letter for mcq); NULL for code */
	const char **choices; /* mcq options as shown to the model, NULL when none */
	size_t n_choices;
	const char *tests;    /* code tests as JSON text, NULL otherwise */
	const char *item_json;/* whole item as JSON, for scorer-specific fields */
};

struct scr_result {
	int verdict;          /* enum scr_verdict */
	char *extracted;      /* the extracted answer, malloc'd, NULL when none */
	const char *rule;     /* static name of the extraction rule that fired: "boxed", "answer_is", ... */
	char *detail;         /* malloc'd free text (first failing test, ...), NULL when none */
};

/* 1 when the verdict counts as correct (SCR_CORRECT or SCR_PASS). */
int scr_is_correct(int verdict);
const char *scr_verdict_name(int verdict); /* "correct", "wrong", "no_answer", "pass", ... */

/* Scores `response` (the text after any reasoning; a leading <think>...</think> block in it is
 * stripped here too) against `gold` with the named scorer ("exact", "math", "mcq", "code") and its
 * options (JSON object text or NULL). EVH_ENOTFOUND for an unknown scorer name; an error means no
 * verdict. Fills *out; release with scr_result_free. */
int scr_score(const char *scorer, const char *options_json, const char *response, const char *reasoning,
	      const struct scr_gold *gold, struct scr_result *out, struct evh_err *err);
void scr_result_free(struct scr_result *r);

/* 1 when `name` is a known scorer. */
int scr_known(const char *name);

#endif
