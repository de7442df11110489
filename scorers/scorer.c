/* scorer.c — the dispatch of scorer.h: names to scorers, verdict names, result lifetime. The
 * scorers themselves live in extract.c (finding the answer), math.c (comparing it), mcq.c
 * (letters) and code.c (the sandbox engineer's). */
#include "scorers/scorer.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/code.h"
#include "scorers/extract.h"
#include "scorers/math.h"
#include "scorers/mcq.h"
#include "scorers/simple.h"

int scr_is_correct(int verdict)
{
	return verdict == SCR_CORRECT || verdict == SCR_PASS;
}

const char *scr_verdict_name(int verdict)
{
	switch (verdict) {
	case SCR_CORRECT: return "correct";
	case SCR_WRONG: return "wrong";
	case SCR_NO_ANSWER: return "no_answer";
	case SCR_PASS: return "pass";
	case SCR_FAIL: return "fail";
	case SCR_TIMEOUT: return "timeout";
	case SCR_MEMORY: return "memory";
	case SCR_RUNTIME_ERROR: return "runtime_error";
	case SCR_COMPILE_ERROR: return "compile_error";
	case SCR_OUTPUT_LIMIT: return "output_limit";
	case SCR_SANDBOX_ERROR: return "sandbox_error";
	}
	return "unknown";
}

int scr_known(const char *name)
{
	static const char *const names[] = {"exact", "math", "mcq", "code", "regex", "numeric"};
	for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

void scr_result_free(struct scr_result *r)
{
	if (!r)
		return;
	free(r->extracted);
	free(r->detail);
	memset(r, 0, sizeof *r);
}

/* ---- exact --------------------------------------------------------------------------- */

/* Light normalisation: surrounding space, $ and trailing '.' dropped, runs of space collapsed. */
int scr_exact_equal(const char *a, const char *b, int fold)
{
	for (int pass = 0; pass < 2; pass++) {
		const char **s = pass ? &b : &a;
		while (**s && (isspace((unsigned char)**s) || **s == '$'))
			(*s)++;
	}
	size_t la = strlen(a), lb = strlen(b);
	while (la && (isspace((unsigned char)a[la - 1]) || a[la - 1] == '.' || a[la - 1] == '$'))
		la--;
	while (lb && (isspace((unsigned char)b[lb - 1]) || b[lb - 1] == '.' || b[lb - 1] == '$'))
		lb--;
	size_t i = 0, j = 0;
	while (i < la && j < lb) {
		if (isspace((unsigned char)a[i]) && isspace((unsigned char)b[j])) {
			while (i < la && isspace((unsigned char)a[i]))
				i++;
			while (j < lb && isspace((unsigned char)b[j]))
				j++;
			continue;
		}
		int ca = (unsigned char)a[i], cb = (unsigned char)b[j];
		if (fold) {
			ca = tolower(ca);
			cb = tolower(cb);
		}
		if (ca != cb)
			return 0;
		i++;
		j++;
	}
	return i == la && j == lb;
}

static int take_exact_opt(const cJSON *it, void *ctx, struct evh_err *err)
{
	if (strcmp(it->string, "case_sensitive") != 0 || !cJSON_IsBool(it))
		return evh_err_fail(err, EVH_EFORMAT, "scorer options", "unknown or mistyped option \"%s\"", it->string);
	*(int *)ctx = !cJSON_IsTrue(it);
	return EVH_OK;
}

static int score_exact(const char *options_json, const char *response, const struct scr_gold *gold,
		       struct scr_result *out, struct evh_err *err)
{
	int fold = 1;
	int rc = scr_opts_each(options_json, take_exact_opt, &fold, err);
	if (!rc)
		rc = scr_answer_find(response, (SCR_EX_MATH & ~SCR_EX_LAST_NUMBER) | SCR_EX_WHOLE, out, err);
	if (rc || !out->extracted)
		return rc;
	out->verdict = scr_exact_equal(gold->answer, out->extracted, fold) ? SCR_CORRECT : SCR_WRONG;
	return EVH_OK;
}

/* ---- math ---------------------------------------------------------------------------- */

static int score_math(const char *options_json, const char *response, const struct scr_gold *gold,
		      struct scr_result *out, struct evh_err *err)
{
	struct scr_math_opts o;
	int rc = scr_math_opts_parse(options_json, &o, err);
	if (!rc)
		rc = scr_answer_find(response, SCR_EX_MATH, out, err);
	if (rc || !out->extracted)
		return rc;
	/* a gold that is a whole MATH solution: its boxed answer, boxes on one line joined as the
	 * prediction's are ("\boxed{1}, \boxed{2}" is the answer 1, 2) */
	const char *g = gold->answer, *grule;
	char *gcopy = NULL;
	rc = scr_extract_answer(g, SCR_EX_BOXED, &gcopy, &grule, err);
	if (rc)
		return rc;
	if (gcopy)
		g = gcopy;
	struct evh_err e = {0};
	int equal;
	rc = scr_math_equal(g, out->extracted, &o, &equal, &e);
	free(gcopy);
	if (rc == EVH_ELIMIT && strncmp(e.msg, "prediction", 10) == 0) {
		/* A deterministic grader would refuse the same text on every retry: an answer past the
		 * parser's limits is wrong, and the detail says why. */
		out->verdict = SCR_WRONG;
		out->detail = strdup(e.msg);
		return out->detail ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, "scorers/math", "out of memory");
	}
	if (rc) {
		evh_err_fail(err, rc, e.where, "%s", e.msg);
		return rc;
	}
	out->verdict = equal ? SCR_CORRECT : SCR_WRONG;
	return EVH_OK;
}

/* ---- mcq ----------------------------------------------------------------------------- */

static int score_mcq(const char *response, const struct scr_gold *gold, struct scr_result *out, struct evh_err *err)
{
	int want = scr_mcq_gold(gold->answer, gold->choices, gold->n_choices);
	if (want < 0)
		return evh_err_fail(err, EVH_EFORMAT, "gold answer",
				    "expected a letter A-J or one option's text, found \"%.60s\"", gold->answer);
	int got;
	int rc = scr_mcq_letter(response, gold->choices, gold->n_choices, &got, &out->rule, err);
	if (rc)
		return rc;
	if (got < 0) {
		out->verdict = SCR_NO_ANSWER;
		return EVH_OK;
	}
	char letter[2] = {(char)('A' + got), '\0'};
	out->extracted = strdup(letter);
	if (!out->extracted)
		return evh_err_fail(err, EVH_ENOMEM, "scorers/mcq", "out of memory");
	out->verdict = got == want ? SCR_CORRECT : SCR_WRONG;
	return EVH_OK;
}

int scr_score(const char *scorer, const char *options_json, const char *response, const char *reasoning,
	      const struct scr_gold *gold, struct scr_result *out, struct evh_err *err)
{
	(void)reasoning; /* kept by the caller and measured, never searched for an answer */
	memset(out, 0, sizeof *out);
	if (!scorer || !scr_known(scorer))
		return evh_err_fail(err, EVH_ENOTFOUND, "scorer", "unknown scorer \"%s\" (known: exact, math, mcq, code, regex, numeric)",
				    scorer ? scorer : "(null)");
	if (!response || !gold)
		return evh_err_fail(err, EVH_EMISUSE, "scorer", "response and gold are required");
	int rc;
	if (strcmp(scorer, "code") == 0) {
		rc = scr_code_score(options_json, response, gold, out, err);
	} else if (!gold->answer) {
		rc = evh_err_fail(err, EVH_EFORMAT, "gold answer", "scorer \"%s\" needs a gold answer", scorer);
	} else if (strcmp(scorer, "exact") == 0) {
		rc = score_exact(options_json, response, gold, out, err);
	} else if (strcmp(scorer, "math") == 0) {
		rc = score_math(options_json, response, gold, out, err);
	} else if (strcmp(scorer, "regex") == 0) {
		rc = scr_regex_score(options_json, response, gold, out, err);
	} else if (strcmp(scorer, "numeric") == 0) {
		rc = scr_numeric_score(options_json, response, gold, out, err);
	} else {
		rc = score_mcq(response, gold, out, err);
	}
	if (rc)
		scr_result_free(out); /* an error means no verdict: nothing half-filled */
	return rc;
}
