/* import_math.c — GSM8K, MATH / MATH-500 and AIME records to math items (gold answer as text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/import_int.h"

/* GSM8K: `answer` is the worked solution whose last line is "#### <number>" (the dataset's own
 * marker, read by its dataset.py as `answer.split("####")[-1]`). */
int imp_gsm8k(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	char *q = NULL, *sol = NULL;
	*item = NULL;
	int rc = imp_text(c, rec, line, "question", 1, &q, err);
	if (!rc)
		rc = imp_text(c, rec, line, "answer", 1, &sol, err);
	if (rc)
		goto out;
	char *mark = NULL;
	for (char *m = strstr(sol, "####"); m; m = strstr(m + 4, "####"))
		mark = m;
	if (!mark || !*imp_trim(mark + 4)) {
		rc = imp_fail(c, err, line, "answer", EVH_EFORMAT, "no \"#### <final answer>\" at its end, "
			      "as GSM8K marks the gold answer");
		goto out;
	}
	char *gold = strdup(mark + 4);
	mark[0] = 0;
	imp_trim(sol);
	if (!gold) {
		rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
		goto out;
	}
	rc = imp_item_new(c, line, NULL, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "question", q, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "answer", gold, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "solution", sol, err);
	free(gold);
out:
	if (rc) {
		cJSON_Delete(*item);
		*item = NULL;
	}
	free(q);
	free(sol);
	return rc;
}

/* The argument of the last \boxed{...} (or \fbox{...}) in s, braces balanced, \{ and \} escaped
 * (MATH writes sets as \boxed{\{1,2\}}); "\boxed 5" takes the token. NULL when there is none. */
static char *last_boxed(const char *s)
{
	const char *at = NULL;
	for (const char *p = s; (p = strstr(p, "\\boxed")) != NULL; p++)
		at = p;
	for (const char *p = s; (p = strstr(p, "\\fbox")) != NULL; p++)
		if (!at || p > at)
			at = p;
	if (!at)
		return NULL;
	const char *p = at + (strncmp(at, "\\boxed", 6) == 0 ? 6 : 5);
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " $\n");
		return n ? strndup(p, n) : NULL;
	}
	if (*p != '{')
		return NULL;
	int depth = 0;
	for (const char *q = p; *q; q++) {
		if (*q == '\\' && q[1]) {
			q++;
			continue;
		}
		if (*q == '{')
			depth++;
		else if (*q == '}' && --depth == 0)
			return strndup(p + 1, (size_t)(q - p - 1));
	}
	return NULL;
}

/* MATH (Hendrycks et al.): problem, solution with the answer boxed, level, type. MATH-500 (PRM800K's
 * test split) adds answer, subject and unique_id. */
int imp_math(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	char *q = NULL, *sol = NULL, *ans = NULL, *subj = NULL, *level = NULL, *uid = NULL;
	*item = NULL;
	int rc = imp_text(c, rec, line, "problem|question", 1, &q, err);
	if (!rc)
		rc = imp_text(c, rec, line, "solution", 0, &sol, err);
	if (!rc)
		rc = imp_text(c, rec, line, "answer", 0, &ans, err);
	if (!rc)
		rc = imp_text(c, rec, line, "subject|type", 0, &subj, err);
	if (!rc)
		rc = imp_text(c, rec, line, "level", 0, &level, err);
	if (!rc)
		rc = imp_text(c, rec, line, "unique_id|id", 0, &uid, err);
	if (rc)
		goto out;
	if (!ans && sol)
		ans = last_boxed(sol);
	if (!ans) {
		rc = imp_fail(c, err, line, sol ? "solution" : "answer", EVH_EFORMAT,
			      sol ? "no \\boxed{...} answer in the solution and no \"answer\" field"
				  : "missing (and no \"solution\" with a \\boxed{} answer)");
		goto out;
	}
	imp_trim(ans);
	rc = imp_item_new(c, line, uid, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "question", q, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "answer", ans, err);
	if (!rc && sol)
		rc = imp_add_str(c, line, *item, "solution", sol, err);
	if (!rc && subj)
		rc = imp_add_str(c, line, *item, "subject", subj, err);
	if (!rc && level)
		rc = imp_add_str(c, line, *item, "level", level, err);
out:
	if (rc) {
		cJSON_Delete(*item);
		*item = NULL;
	}
	free(q);
	free(sol);
	free(ans);
	free(subj);
	free(level);
	free(uid);
	return rc;
}

/* AIME: the published sets (AoPS wiki exports, HF aime_2024/2025, the 1983-2024 csv) differ in
 * column names but agree that the answer is an integer 0..999, sometimes written "033". */
int imp_aime(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	char *q = NULL, *ans = NULL, *year = NULL, *num = NULL, *part = NULL, *id = NULL, *sol = NULL;
	*item = NULL;
	int rc = imp_text(c, rec, line, "problem|question", 1, &q, err);
	if (!rc)
		rc = imp_text(c, rec, line, "answer", 1, &ans, err);
	if (!rc)
		rc = imp_text(c, rec, line, "year", 0, &year, err);
	if (!rc)
		rc = imp_text(c, rec, line, "problem_number|problem number|number|problem_idx", 0, &num, err);
	if (!rc)
		rc = imp_text(c, rec, line, "part", 0, &part, err);
	if (!rc)
		rc = imp_text(c, rec, line, "id", 0, &id, err);
	if (!rc)
		rc = imp_text(c, rec, line, "solution", 0, &sol, err);
	if (rc)
		goto out;
	imp_trim(ans);
	char *end;
	long v = strtol(ans, &end, 10);
	if (!ans[0] || *end || ans[0] == '-' || ans[0] == '+' || ans[0] == ' ' || v < 0 || v > 999) {
		rc = imp_fail(c, err, line, "answer", EVH_EFORMAT, "an integer from 0 to 999 is expected (AIME), "
			      "found \"%.40s\"", ans);
		goto out;
	}
	char gold[8], gen[200];
	snprintf(gold, sizeof gold, "%ld", v);
	if (!id && year && num) {
		snprintf(gen, sizeof gen, "aime-%s%s%s-%s", year, part ? "-" : "", part ? imp_trim(part) : "", num);
		for (char *p = gen; *p; p++)
			if (*p == ' ')
				*p = '_';
	}
	rc = imp_item_new(c, line, id ? id : (year && num) ? gen : NULL, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "question", q, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "answer", gold, err);
	if (!rc && year)
		rc = imp_add_str(c, line, *item, "year", year, err);
	if (!rc && num)
		rc = imp_add_str(c, line, *item, "problem_number", num, err);
	if (!rc && part)
		rc = imp_add_str(c, line, *item, "part", part, err);
	if (!rc && sol)
		rc = imp_add_str(c, line, *item, "solution", sol, err);
out:
	if (rc) {
		cJSON_Delete(*item);
		*item = NULL;
	}
	free(q);
	free(ans);
	free(year);
	free(num);
	free(part);
	free(id);
	free(sol);
	return rc;
}
