/* import_mcq.c — multiple-choice records to items with `choices` and the answer letter: GPQA's csv
 * (correct answer in its own column, so the options are shuffled with a recorded seed), and the
 * ARC / MMLU shapes (options as a list, as {text, label} pairs, or as columns A, B, C, ...). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/import_int.h"

#define MAX_CHOICES 26

/* SplitMix64 (Steele et al.), as pack_arith.c and scr_mcq_shuffle use: a seed names one order on
 * every machine. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int finish(struct imp_ctx *c, size_t line, const char *id, const char *q, char **ch, size_t n, size_t gold,
		  const char *subject, cJSON **item, struct evh_err *err)
{
	char letter[2] = {(char)('A' + gold), 0};
	int rc = imp_item_new(c, line, id, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "question", q, err);
	if (!rc)
		rc = imp_add(c, line, *item, "choices", cJSON_CreateStringArray((const char *const *)ch, (int)n), err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "answer", letter, err);
	if (!rc && subject && subject[0])
		rc = imp_add_str(c, line, *item, "subject", subject, err);
	if (rc) {
		cJSON_Delete(*item);
		*item = NULL;
	}
	return rc;
}

/* GPQA (Rein et al.): Question, Correct Answer, Incorrect Answer 1-3, Subdomain, Record ID. */
int imp_gpqa(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	static const char *const cols[4] = {"correct_answer|correct answer", "incorrect_answer_1|incorrect answer 1",
					    "incorrect_answer_2|incorrect answer 2",
					    "incorrect_answer_3|incorrect answer 3"};
	char *q = NULL, *opt[4] = {0}, *sub = NULL, *dom = NULL, *id = NULL;
	*item = NULL;
	int rc = imp_text(c, rec, line, "question", 1, &q, err);
	for (int i = 0; !rc && i < 4; i++)
		rc = imp_text(c, rec, line, cols[i], 1, &opt[i], err);
	if (!rc)
		rc = imp_text(c, rec, line, "subdomain", 0, &sub, err);
	if (!rc)
		rc = imp_text(c, rec, line, "high-level_domain|high-level domain", 0, &dom, err);
	if (!rc)
		rc = imp_text(c, rec, line, "record_id|record id|id", 0, &id, err);
	if (rc)
		goto out;
	/* The csv's cells carry stray spaces and newlines around the text. */
	imp_trim(q);
	for (int i = 0; i < 4; i++)
		imp_trim(opt[i]);
	char key[64];
	snprintf(key, sizeof key, "line %zu", line);
	uint64_t s = c->o->seed ^ fnv1a(id ? id : key);
	int order[4] = {0, 1, 2, 3};
	for (int i = 3; i > 0; i--) {
		int j = (int)(splitmix64(&s) % (uint64_t)(i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	char *shown[4];
	size_t gold = 0;
	for (int i = 0; i < 4; i++) {
		shown[i] = opt[order[i]];
		if (order[i] == 0)
			gold = (size_t)i;
	}
	rc = finish(c, line, id, q, shown, 4, gold, sub, item, err);
	if (!rc && dom)
		rc = imp_add_str(c, line, *item, "domain", dom, err);
	if (rc) {
		cJSON_Delete(*item);
		*item = NULL;
	}
out:
	free(q);
	for (int i = 0; i < 4; i++)
		free(opt[i]);
	free(sub);
	free(dom);
	free(id);
	return rc;
}

struct opts {
	char *text[MAX_CHOICES];
	char *label[MAX_CHOICES];
	size_t n;
};

static void opts_free(struct opts *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->text[i]);
		free(o->label[i]);
	}
}

static int opt_add(struct imp_ctx *c, size_t line, struct opts *o, const cJSON *text, const cJSON *label,
		   struct evh_err *err)
{
	if (o->n == MAX_CHOICES)
		return imp_fail(c, err, line, "choices", EVH_EFORMAT, "more than %d options", MAX_CHOICES);
	if (!cJSON_IsString(text) || !text->valuestring[strspn(text->valuestring, " \t\r\n")])
		return imp_fail(c, err, line, "choices", EVH_EFORMAT, "option %zu: a non-empty string is expected",
				o->n + 1);
	o->text[o->n] = strdup(text->valuestring);
	o->label[o->n] = cJSON_IsString(label) ? strdup(label->valuestring) : NULL;
	if (!o->text[o->n++])
		return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	return 0;
}

/* Options from: ["a","b"] | [{"text","label"}] | {"text":[...],"label":[...]} | columns A, B, ... */
static int read_options(struct imp_ctx *c, const cJSON *rec, const cJSON *qobj, size_t line, struct opts *o,
			struct evh_err *err)
{
	const cJSON *ch = qobj ? cJSON_GetObjectItem(qobj, "choices") : NULL;
	if (!ch)
		ch = imp_get(rec, "choices|options");
	int rc = 0;
	if (cJSON_IsArray(ch)) {
		const cJSON *e;
		cJSON_ArrayForEach(e, ch) {
			if (cJSON_IsObject(e))
				rc = opt_add(c, line, o, cJSON_GetObjectItem(e, "text"), cJSON_GetObjectItem(e, "label"),
					     err);
			else
				rc = opt_add(c, line, o, e, NULL, err);
			if (rc)
				return rc;
		}
	} else if (cJSON_IsObject(ch)) {
		const cJSON *t = cJSON_GetObjectItem(ch, "text"), *l = cJSON_GetObjectItem(ch, "label"), *e;
		if (!cJSON_IsArray(t))
			return imp_fail(c, err, line, "choices", EVH_EFORMAT, "\"text\" must be an array");
		int i = 0;
		cJSON_ArrayForEach(e, t) {
			if ((rc = opt_add(c, line, o, e, cJSON_IsArray(l) ? cJSON_GetArrayItem(l, i) : NULL, err)))
				return rc;
			i++;
		}
	} else if (ch) {
		return imp_fail(c, err, line, "choices", EVH_EFORMAT, "an array or {text, label} is expected");
	} else {
		for (char k[2] = "A"; k[0] <= 'Z'; k[0]++) {
			const cJSON *v = cJSON_GetObjectItem(rec, k);
			if (!v)
				break;
			if ((rc = opt_add(c, line, o, v, NULL, err)))
				return rc;
		}
	}
	if (o->n < 2)
		return imp_fail(c, err, line, "choices", EVH_EFORMAT, "at least 2 options are expected, found %zu", o->n);
	return 0;
}

/* The answer as an option index: a label the options carry (ARC uses "1".."4" on some items), a
 * letter, or a 0-based number (HF MMLU's `answer`). */
static int answer_index(struct imp_ctx *c, const cJSON *v, size_t line, const struct opts *o, size_t *out,
			struct evh_err *err)
{
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d < 0 || d >= (double)o->n || d != (double)(size_t)d)
			return imp_fail(c, err, line, "answer", EVH_EFORMAT, "index %g is not one of the %zu options", d,
					o->n);
		*out = (size_t)d;
		return 0;
	}
	if (!cJSON_IsString(v))
		return imp_fail(c, err, line, "answer", EVH_EFORMAT, "missing: a letter, a label or a 0-based index "
				"is expected");
	char k[64];
	snprintf(k, sizeof k, "%s", v->valuestring);
	imp_trim(k);
	for (size_t i = 0; i < o->n; i++)
		if (o->label[i] && strcmp(o->label[i], k) == 0) {
			*out = i;
			return 0;
		}
	if (k[0] >= 'A' && k[0] <= 'Z' && !k[1] && (size_t)(k[0] - 'A') < o->n) {
		*out = (size_t)(k[0] - 'A');
		return 0;
	}
	return imp_fail(c, err, line, "answer", EVH_EFORMAT, "\"%s\" names none of the %zu options", k, o->n);
}

int imp_mcq(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	struct opts o = {0};
	char *q = NULL, *id = NULL, *subj = NULL;
	*item = NULL;
	size_t gold = 0;
	int rc = 0;
	if (cJSON_IsArray(rec)) {
		/* MMLU's header-less csv: question, the options, the answer letter. */
		int n = cJSON_GetArraySize(rec);
		if (n < 4) {
			rc = imp_fail(c, err, line, NULL, EVH_EFORMAT, "%d fields: question, at least 2 options and the "
				      "answer letter are expected", n);
			goto out;
		}
		q = strdup(cJSON_GetArrayItem(rec, 0)->valuestring);
		for (int i = 1; !rc && i < n - 1; i++)
			rc = opt_add(c, line, &o, cJSON_GetArrayItem(rec, i), NULL, err);
		if (!rc)
			rc = answer_index(c, cJSON_GetArrayItem(rec, n - 1), line, &o, &gold, err);
		if (!rc && !q)
			rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
		if (!rc && !q[strspn(q, " \t\r\n")])
			rc = imp_fail(c, err, line, "question", EVH_EFORMAT, "empty");
		if (!rc)
			rc = finish(c, line, NULL, q, o.text, o.n, gold, c->subject, item, err);
		goto out;
	}
	const cJSON *qv = imp_get(rec, "question");
	const cJSON *qobj = cJSON_IsObject(qv) ? qv : NULL;
	if (qobj)
		rc = imp_text(c, qobj, line, "stem", 1, &q, err);
	else
		rc = imp_text(c, rec, line, "question|stem", 1, &q, err);
	if (!rc)
		rc = imp_text(c, rec, line, "id", 0, &id, err);
	if (!rc)
		rc = imp_text(c, rec, line, "subject", 0, &subj, err);
	if (!rc)
		rc = read_options(c, rec, qobj, line, &o, err);
	if (!rc)
		rc = answer_index(c, imp_get(rec, "answerkey|answer|label"), line, &o, &gold, err);
	if (!rc)
		rc = finish(c, line, id, q, o.text, o.n, gold, subj, item, err);
out:
	opts_free(&o);
	free(q);
	free(id);
	free(subj);
	return rc;
}
