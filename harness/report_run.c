/* report_run.c — loading a run folder for report and gate; see report_run.h.
 * Strict on purpose: a gate that silently skipped a malformed line could pass a broken run. */
#include "harness/report_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/util/buf.h"
#include "harness/util/json.h"
#include "harness/util/jsonl.h"

/* ---- small JSON helpers ---------------------------------------------------------------------- */

static const cJSON *json_at(const cJSON *root, const char *path)
{
	char key[128];
	const cJSON *cur = root;
	while (cur && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, key);
		path += n;
		if (*path == '.')
			path++;
	}
	return cur;
}

double evh_run_num(const cJSON *root, const char *path)
{
	const cJSON *v = json_at(root, path);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *evh_run_str(const cJSON *root, const char *path)
{
	const cJSON *v = json_at(root, path);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- whole JSON files ------------------------------------------------------------------------ */

static int parse_json_file(const char *path, cJSON **out, struct evh_err *err)
{
	int rc = evh_json_load_file(path, out, err);
	if (rc == EVH_OK && !cJSON_IsObject(*out)) {
		rc = evh_err_fail(err, EVH_EFORMAT, path, "expected a JSON object at top level");
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- samples.jsonl --------------------------------------------------------------------------- */

struct keyed {
	struct evh_rsample s;
	size_t line; /* order of appearance: the last line for a key wins */
};

static int dup_str(const cJSON *o, const char *field, char **out, const char *where, struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return EVH_OK;
	if (!cJSON_IsString(v))
		return evh_err_fail(err, EVH_EFORMAT, where, "field \"%s\": expected a string", field);
	*out = strdup(v->valuestring);
	return *out ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, where, "out of memory");
}

static int get_num(const cJSON *o, const char *field, double *out, const char *where, struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
	*out = NAN;
	if (!v || cJSON_IsNull(v))
		return EVH_OK;
	if (!cJSON_IsNumber(v))
		return evh_err_fail(err, EVH_EFORMAT, where, "field \"%s\": expected a number", field);
	*out = v->valuedouble;
	return EVH_OK;
}

static void sample_free(struct evh_rsample *s)
{
	free(s->task);
	free(s->item_id);
	free(s->verdict);
	free(s->gold);
	free(s->extracted);
	free(s->rule);
	free(s->response);
	free(s->error);
	memset(s, 0, sizeof *s);
}

static int sample_from_json(const cJSON *o, struct evh_rsample *s, const char *where, struct evh_err *err)
{
	memset(s, 0, sizeof *s);
	if (!cJSON_IsObject(o))
		return evh_err_fail(err, EVH_EFORMAT, where, "expected a JSON object");
	int rc = dup_str(o, "task", &s->task, where, err);
	if (rc == EVH_OK)
		rc = dup_str(o, "item_id", &s->item_id, where, err);
	if (rc == EVH_OK && (!s->task || !s->item_id))
		rc = evh_err_fail(err, EVH_EFORMAT, where, "field \"%s\": missing", s->task ? "item_id" : "task");
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "sample");
	if (rc == EVH_OK && (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || idx->valuedouble > 1e6 ||
			     idx->valuedouble != (double)(int)idx->valuedouble))
		rc = evh_err_fail(err, EVH_EFORMAT, where, "field \"sample\": expected a non-negative integer");
	if (rc == EVH_OK)
		s->sample = idx->valueint;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "correct");
	if (rc == EVH_OK) {
		if (cJSON_IsBool(c))
			s->correct = cJSON_IsTrue(c) ? 1 : 0;
		else if (!c || cJSON_IsNull(c))
			s->correct = -1;
		else
			rc = evh_err_fail(err, EVH_EFORMAT, where, "field \"correct\": expected true, false or null");
	}
	if (rc == EVH_OK)
		rc = dup_str(o, "verdict", &s->verdict, where, err);
	if (rc == EVH_OK)
		rc = dup_str(o, "gold", &s->gold, where, err);
	if (rc == EVH_OK)
		rc = dup_str(o, "extracted", &s->extracted, where, err);
	if (rc == EVH_OK)
		rc = dup_str(o, "rule", &s->rule, where, err);
	if (rc == EVH_OK)
		rc = dup_str(o, "response", &s->response, where, err);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
	if (rc == EVH_OK && e && !cJSON_IsNull(e)) {
		const char *code = evh_run_str(e, "code");
		s->error = strdup(code ? code : "error");
		if (!s->error)
			rc = evh_err_fail(err, EVH_ENOMEM, where, "out of memory");
		/* An error means no verdict, whatever the line says (results/README.md). */
		s->correct = -1;
	}
	if (rc == EVH_OK)
		rc = get_num(o, "tokens_in", &s->tokens_in, where, err);
	if (rc == EVH_OK)
		rc = get_num(o, "tokens_out", &s->tokens_out, where, err);
	if (rc == EVH_OK)
		rc = get_num(o, "tokens_reasoning", &s->tokens_reasoning, where, err);
	if (rc == EVH_OK)
		rc = get_num(o, "ttft_s", &s->ttft_s, where, err);
	if (rc == EVH_OK)
		rc = get_num(o, "total_s", &s->total_s, where, err);
	if (rc == EVH_OK)
		rc = get_num(o, "cost_usd", &s->cost_usd, where, err);
	if (rc != EVH_OK)
		sample_free(s);
	return rc;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;
	int c = strcmp(a->s.task, b->s.task);
	if (c == 0)
		c = strcmp(a->s.item_id, b->s.item_id);
	if (c == 0)
		c = (a->s.sample > b->s.sample) - (a->s.sample < b->s.sample);
	if (c == 0)
		c = (a->line > b->line) - (a->line < b->line);
	return c;
}

struct keyeds {
	struct keyed *v;
	size_t n, cap;
};

static int add_keyed(void *ctx, cJSON **obj, const char *line, size_t len, const char *where, size_t lineno,
		     struct evh_err *err)
{
	(void)line;
	(void)len;
	struct keyeds *k = ctx;
	if (k->n == k->cap) {
		size_t nc = k->cap ? k->cap * 2 : 256;
		struct keyed *nv = realloc(k->v, nc * sizeof *nv);
		if (!nv)
			return evh_err_fail(err, EVH_ENOMEM, where, "out of memory");
		k->v = nv;
		k->cap = nc;
	}
	int rc = sample_from_json(*obj, &k->v[k->n].s, where, err);
	if (rc == EVH_OK)
		k->v[k->n++].line = lineno;
	return rc;
}

static int load_samples(const char *path, struct evh_run *r, struct evh_err *err)
{
	struct keyeds all = {0};
	int rc = evh_jsonl_each(path, add_keyed, &all, err);
	struct keyed *v = all.v;
	size_t n = all.n;
	if (rc == EVH_OK) {
		if (n)
			qsort(v, n, sizeof *v, key_cmp);
		r->s = n ? malloc(n * sizeof *r->s) : NULL;
		if (n && !r->s)
			rc = evh_err_fail(err, EVH_ENOMEM, path, "out of memory");
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		int last = i + 1 == n || strcmp(v[i].s.task, v[i + 1].s.task) != 0 ||
			   strcmp(v[i].s.item_id, v[i + 1].s.item_id) != 0 || v[i].s.sample != v[i + 1].s.sample;
		if (rc == EVH_OK && last)
			r->s[kept++] = v[i].s; /* moved: r owns the strings now */
		else
			sample_free(&v[i].s);
	}
	r->n = kept;
	free(v);
	return rc;
}

/* ---- the run --------------------------------------------------------------------------------- */

int evh_run_load(const char *dir, struct evh_run *out, struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	char path[4096];
	int rc = EVH_OK;
	out->dir = strdup(dir);
	if (!out->dir)
		return evh_err_fail(err, EVH_ENOMEM, dir, "out of memory");
	snprintf(path, sizeof path, "%s/run.json", dir);
	rc = parse_json_file(path, &out->run, err);
	if (rc == EVH_OK) {
		snprintf(path, sizeof path, "%s/samples.jsonl", dir);
		rc = load_samples(path, out, err);
	}
	if (rc == EVH_OK) {
		snprintf(path, sizeof path, "%s/summary.json", dir);
		struct evh_err quiet = {0};
		rc = parse_json_file(path, &out->summary, &quiet);
		if (rc == EVH_ENOTFOUND)
			rc = EVH_OK; /* a run still going or killed has none; gate does not need it */
		else if (rc != EVH_OK)
			evh_err_fail(err, quiet.code, quiet.where, "%s", quiet.msg);
	}
	if (rc != EVH_OK) {
		evh_run_free(out);
		return rc;
	}
	const char *id = evh_run_str(out->run, "run_id");
	out->run_id = id ? id : "";
	const char *m = evh_run_str(out->run, "model.name");
	if (!m)
		m = evh_run_str(out->summary, "model");
	out->model = m ? m : "";
	return EVH_OK;
}

void evh_run_free(struct evh_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		sample_free(&r->s[i]);
	free(r->s);
	cJSON_Delete(r->run);
	cJSON_Delete(r->summary);
	free(r->dir);
	memset(r, 0, sizeof *r);
}

const cJSON *evh_run_task_info(const struct evh_run *r, const char *task)
{
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(r->run, "tasks");
	const cJSON *t;
	cJSON_ArrayForEach(t, tasks)
	{
		const char *name = evh_run_str(t, "name");
		if (name && strcmp(name, task) == 0)
			return t;
	}
	return NULL;
}
