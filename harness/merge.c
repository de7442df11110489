/* merge.c — `evalh merge`: shard folders of one experiment -> one run folder; see merge.h.
 * Checks first (same experiment, every shard once, every item once, every sample present), writes
 * only then: samples.jsonl (each sample's last line, byte for byte), run.json (the first shard's,
 * without "shard", with the merged item list and a "merged_from" record), summary.json
 * (harness/stats, the code a single-machine run uses, so equal samples give an equal summary). */
#include "harness/merge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/cli.h"
#include "harness/shard.h"
#include "harness/stats.h"
#include "harness/util/buf.h"
#include "harness/util/json.h"
#include "harness/util/jsonl.h"

/* ---- what each shard folder holds -------------------------------------------------------------- */

struct stask {
	const char *name;  /* borrowed from run.json */
	const char **ids;  /* the shard's item_ids, sorted by strcmp for bsearch (strings borrowed) */
	size_t n;
	int k;             /* samples per item */
	size_t items;      /* the pack's item count */
};

struct shard_run {
	const char *dir;
	cJSON *run;
	unsigned index, count;
	struct stask *tasks;
	size_t n_tasks;
};

/* One line of a shard's samples.jsonl. */
struct line {
	char *text;    /* the line as written, newline included */
	char *task, *item;
	int sample;
	size_t shard;  /* position in the shard array (sorted by shard index) */
	size_t seq;    /* line number: a later line for the same sample replaces an earlier one */
	int error;     /* the request failed: not scored */
};

struct lines {
	struct line *v;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int has_id(const struct stask *t, const char *id)
{
	return bsearch(&id, t->ids, t->n, sizeof *t->ids, cmp_str) != NULL;
}

static void shard_fini(struct shard_run *s)
{
	for (size_t i = 0; s->tasks && i < s->n_tasks; i++)
		free(s->tasks[i].ids);
	free(s->tasks);
	cJSON_Delete(s->run);
	memset(s, 0, sizeof *s);
}

static void line_free(void *p)
{
	struct line *l = p;
	free(l->text);
	free(l->task);
	free(l->item);
}

static void lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		line_free(&ls->v[i]);
	free(ls->v);
	memset(ls, 0, sizeof *ls);
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A whole number in [lo, hi] at o.k, else EVH_EFORMAT naming where.k. */
static int get_uint(const cJSON *o, const char *k, double lo, double hi, double *out, const char *where,
		    struct evh_err *err)
{
	const cJSON *v = get(o, k);
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi || v->valuedouble != (double)(long)v->valuedouble)
		return evh_err_fail(err, EVH_EFORMAT, where, "\"%s\" must be a whole number in [%.0f, %.0f]", k, lo, hi);
	*out = v->valuedouble;
	return EVH_OK;
}

/* Reads DIR/run.json: the shard, and per task its item list and k. */
static int shard_load(const char *dir, struct shard_run *s, struct evh_err *err)
{
	memset(s, 0, sizeof *s);
	s->dir = dir;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/run.json", dir);
	int rc = evh_json_load_file(path, &s->run, err);
	if (rc)
		return rc;
	const cJSON *sh = get(s->run, "shard");
	if (!cJSON_IsObject(sh))
		return evh_err_fail(err, EVH_EUNSUPPORTED, path,
				    "no \"shard\" object: not a run made with `evalh run --shard I/N`");
	double ix, cnt;
	char where[PATH_MAX + 16];
	snprintf(where, sizeof where, "%s: shard", path);
	if ((rc = get_uint(sh, "count", 1, EVH_SHARD_MAX, &cnt, where, err)) ||
	    (rc = get_uint(sh, "index", 1, cnt, &ix, where, err)))
		return rc;
	s->index = (unsigned)ix;
	s->count = (unsigned)cnt;
	const cJSON *ta = get(s->run, "tasks");
	int nt = cJSON_GetArraySize(ta);
	if (!cJSON_IsArray(ta) || nt == 0)
		return evh_err_fail(err, EVH_EFORMAT, path, "\"tasks\" must be a non-empty array");
	if (!(s->tasks = calloc((size_t)nt, sizeof *s->tasks)))
		return evh_err_fail(err, EVH_ENOMEM, path, "tasks");
	s->n_tasks = (size_t)nt;
	for (int i = 0; i < nt; i++) {
		const cJSON *t = cJSON_GetArrayItem(ta, i);
		struct stask *st = &s->tasks[i];
		snprintf(where, sizeof where, "%s: tasks[%d]", path, i);
		st->name = cJSON_GetStringValue(get(t, "name"));
		if (!st->name)
			return evh_err_fail(err, EVH_EFORMAT, where, "\"name\" must be a string");
		double k, items;
		if ((rc = get_uint(t, "samples", 1, 1 << 20, &k, where, err)) ||
		    (rc = get_uint(t, "items", 0, 1e12, &items, where, err)))
			return rc;
		st->k = (int)k;
		st->items = (size_t)items;
		const cJSON *ids = get(t, "item_ids"), *id;
		if (!cJSON_IsArray(ids))
			return evh_err_fail(err, EVH_EFORMAT, where,
					    "\"item_ids\" must be an array (a sharded run lists the items it ran)");
		st->n = (size_t)cJSON_GetArraySize(ids);
		if (!(st->ids = malloc((st->n ? st->n : 1) * sizeof *st->ids)))
			return evh_err_fail(err, EVH_ENOMEM, where, "item_ids");
		size_t j = 0;
		cJSON_ArrayForEach(id, ids)
		{
			if (!cJSON_IsString(id))
				return evh_err_fail(err, EVH_EFORMAT, where, "item_ids[%zu] must be a string", j);
			/* The list must be the one the hash gives: a folder labelled with the wrong
			 * shard, or made by another partition, would otherwise merge into a wrong run. */
			unsigned owner = evh_shard_of(s->count, st->name, id->valuestring);
			if (owner != s->index)
				return evh_err_fail(err, EVH_EUNSUPPORTED, where,
						    "item \"%s\" belongs to shard %u/%u, not %u/%u: the folder's "
						    "\"shard\" does not match its items",
						    id->valuestring, owner, s->count, s->index, s->count);
			st->ids[j++] = id->valuestring;
		}
		qsort(st->ids, st->n, sizeof *st->ids, cmp_str);
		for (j = 1; j < st->n; j++)
			if (!strcmp(st->ids[j - 1], st->ids[j]))
				return evh_err_fail(err, EVH_EFORMAT, where, "item \"%s\" listed twice", st->ids[j]);
	}
	return EVH_OK;
}

/* ---- one experiment? --------------------------------------------------------------------------- */

/* Fields that must agree for the shards to be one run. Operational settings (concurrency,
 * timeouts, retries, budgets, streaming) may differ per machine: they change no answer. */
static const char *const model_fields[] = {"name", "provider", "model_id", "base_url", "price_in",
					   "price_out", "price_cached_in", "gpu_hour_price"};
static const char *const task_fields[] = {"name", "digest", "version", "items", "samples"};
static const char *const option_fields[] = {"samples", "temperature", "top_p", "max_tokens", "limit",
					    "subsample_seed", "seed", "system", "math_instruction",
					    "reasoning_effort", "reasoning_budget"};

/* Compares a.k with b.k (both absent is equal); on a difference names it with both values. */
static int same_field(const cJSON *a, const cJSON *b, const char *what, const char *k, const struct shard_run *sa,
		      const struct shard_run *sb, struct evh_err *err)
{
	const cJSON *va = get(a, k), *vb = get(b, k);
	if (!va && !vb)
		return EVH_OK;
	if (va && vb && cJSON_Compare(va, vb, 1))
		return EVH_OK;
	char *ta = va ? cJSON_PrintUnformatted(va) : NULL, *tb = vb ? cJSON_PrintUnformatted(vb) : NULL;
	int rc = evh_err_fail(err, EVH_EUNSUPPORTED, sb->dir,
			      "not the same experiment as %s: %s%s differs (%s there, %s here)", sa->dir, what, k,
			      ta ? ta : "absent", tb ? tb : "absent");
	free(ta);
	free(tb);
	return rc;
}

static int same_experiment(const struct shard_run *a, const struct shard_run *b, struct evh_err *err)
{
	int rc = EVH_OK;
	const cJSON *ma = get(a->run, "model"), *mb = get(b->run, "model");
	for (size_t i = 0; !rc && i < sizeof model_fields / sizeof *model_fields; i++)
		rc = same_field(ma, mb, "model.", model_fields[i], a, b, err);
	const cJSON *oa = get(a->run, "options"), *ob = get(b->run, "options");
	for (size_t i = 0; !rc && i < sizeof option_fields / sizeof *option_fields; i++)
		rc = same_field(oa, ob, "options.", option_fields[i], a, b, err);
	const cJSON *pa = get(a->run, "preset"), *pb = get(b->run, "preset");
	if (!rc)
		rc = same_field(cJSON_IsObject(pa) ? pa : NULL, cJSON_IsObject(pb) ? pb : NULL, "preset.", "name", a,
				b, err);
	if (!rc && a->count != b->count)
		rc = evh_err_fail(err, EVH_EUNSUPPORTED, b->dir, "shard %u/%u, but %s is shard %u/%u: one split of N only",
				  b->index, b->count, a->dir, a->index, a->count);
	if (!rc && a->n_tasks != b->n_tasks)
		rc = evh_err_fail(err, EVH_EUNSUPPORTED, b->dir, "not the same experiment as %s: %zu tasks there, %zu here",
				  a->dir, a->n_tasks, b->n_tasks);
	const cJSON *ta = get(a->run, "tasks"), *tb = get(b->run, "tasks");
	for (size_t t = 0; !rc && t < a->n_tasks; t++) {
		char what[64];
		snprintf(what, sizeof what, "tasks[%zu].", t);
		for (size_t i = 0; !rc && i < sizeof task_fields / sizeof *task_fields; i++)
			rc = same_field(cJSON_GetArrayItem(ta, (int)t), cJSON_GetArrayItem(tb, (int)t), what,
					task_fields[i], a, b, err);
	}
	return rc;
}

/* ---- coverage ---------------------------------------------------------------------------------- */

struct owned_id {
	const char *task, *item;
	size_t shard;
};

static int cmp_owned(const void *a, const void *b)
{
	const struct owned_id *x = a, *y = b;
	/* sample order, the owning shard in the sample index's place: equal items end up side by side */
	return evh_sample_cmp(x->task, x->item, (long)x->shard, y->task, y->item, (long)y->shard);
}

/* Every item in one shard only, every shard index once, and together the whole selection: the
 * pack, or the --limit subset the same seed picks on every machine. */
static int check_coverage(const struct shard_run *sh, size_t n, struct evh_err *err)
{
	size_t total = 0;
	for (size_t s = 0; s < n; s++)
		for (size_t t = 0; t < sh[s].n_tasks; t++)
			total += sh[s].tasks[t].n;
	struct owned_id *v = malloc((total ? total : 1) * sizeof *v);
	if (!v)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "item list of %zu items", total);
	size_t m = 0;
	for (size_t s = 0; s < n; s++)
		for (size_t t = 0; t < sh[s].n_tasks; t++)
			for (size_t j = 0; j < sh[s].tasks[t].n; j++)
				v[m++] = (struct owned_id){sh[s].tasks[t].name, sh[s].tasks[t].ids[j], s};
	qsort(v, m, sizeof *v, cmp_owned);
	int rc = EVH_OK;
	for (size_t i = 1; i < m && !rc; i++)
		if (!strcmp(v[i - 1].task, v[i].task) && !strcmp(v[i - 1].item, v[i].item))
			rc = evh_err_fail(err, EVH_EUNSUPPORTED, v[i].task,
					  "item \"%s\" is in two folders, %s (shard %u/%u) and %s (shard %u/%u): it "
					  "would count twice",
					  v[i].item, sh[v[i - 1].shard].dir, sh[v[i - 1].shard].index, sh[v[i - 1].shard].count,
					  sh[v[i].shard].dir, sh[v[i].shard].index, sh[v[i].shard].count);
	free(v);
	for (size_t s = 1; s < n && !rc; s++)
		if (sh[s].index == sh[s - 1].index)
			rc = evh_err_fail(err, EVH_EUNSUPPORTED, sh[s].dir, "shard %u/%u given twice (also %s)", sh[s].index,
					  sh[s].count, sh[s - 1].dir);
	if (rc)
		return rc;
	/* Shards sorted by index, none twice: the first index absent from 1..count is missing. */
	unsigned count = sh[0].count, missing = 0;
	for (unsigned want = 1, s = 0; want <= count && !missing; want++, s++)
		if (s >= n || sh[s].index != want)
			missing = want;
	const cJSON *op = get(sh[0].run, "options");
	double limit = cJSON_IsNumber(get(op, "limit")) ? get(op, "limit")->valuedouble : 0;
	for (size_t t = 0; t < sh[0].n_tasks; t++) {
		size_t have = 0, items = sh[0].tasks[t].items;
		size_t want = limit > 0 && limit < (double)items ? (size_t)limit : items;
		for (size_t s = 0; s < n; s++)
			have += sh[s].tasks[t].n;
		if (missing && have < want)
			return evh_err_fail(err, EVH_EUNSUPPORTED, sh[0].tasks[t].name,
					    "shard %u/%u is missing: %zu of the %zu items of task %s are in no folder given",
					    missing, count, want - have, want, sh[0].tasks[t].name);
		if (have != want)
			return evh_err_fail(err, EVH_EUNSUPPORTED, sh[0].tasks[t].name,
					    "the shards list %zu items of task %s, the run selects %zu (pack of %zu, "
					    "--limit %.0f)",
					    have, sh[0].tasks[t].name, want, items, limit);
	}
	if (missing)
		return evh_err_fail(err, EVH_EUNSUPPORTED, NULL, "shard %u/%u is missing (its slice is empty here, "
				    "but give every folder to be sure it is the same split)", missing, count);
	return EVH_OK;
}

/* ---- samples ----------------------------------------------------------------------------------- */

static const struct stask *find_task(const struct shard_run *s, const char *name)
{
	for (size_t i = 0; i < s->n_tasks; i++)
		if (!strcmp(s->tasks[i].name, name))
			return &s->tasks[i];
	return NULL;
}

static int lines_push(struct lines *ls, struct line *l)
{
	if (ls->n == ls->cap) {
		size_t nc = ls->cap ? ls->cap * 2 : 256;
		struct line *v = realloc(ls->v, nc * sizeof *v);
		if (!v)
			return EVH_ENOMEM;
		ls->v = v;
		ls->cap = nc;
	}
	ls->v[ls->n++] = *l;
	return EVH_OK;
}

struct read_ctx {
	const struct shard_run *s;
	size_t si;
	struct lines *ls;
};

static int add_sample(void *ctx, cJSON **obj, const char *raw, size_t len, const char *where, size_t lineno,
		      struct evh_err *err)
{
	const struct read_ctx *rd = ctx;
	const struct shard_run *s = rd->s;
	const cJSON *o = *obj;
	const char *task = cJSON_GetStringValue(get(o, "task")), *item = cJSON_GetStringValue(get(o, "item_id"));
	const cJSON *sn = get(o, "sample"), *er = get(o, "error");
	const struct stask *st = task ? find_task(s, task) : NULL;
	if (!task || !item || !cJSON_IsNumber(sn))
		return evh_err_fail(err, EVH_EFORMAT, where, "a sample needs \"task\", \"item_id\" and \"sample\"");
	if (!st)
		return evh_err_fail(err, EVH_EUNSUPPORTED, where, "task \"%s\" is not in run.json", task);
	if (!has_id(st, item))
		return evh_err_fail(err, EVH_EUNSUPPORTED, where,
				    "item \"%s\" of task %s is not in this shard's item_ids (%u/%u)", item, task, s->index,
				    s->count);
	if (sn->valuedouble < 0 || sn->valuedouble >= st->k || sn->valuedouble != (double)(int)sn->valuedouble)
		return evh_err_fail(err, EVH_EUNSUPPORTED, where, "sample %g of item \"%s\": task %s has %d per item",
				    sn->valuedouble, item, task, st->k);
	/* The line is written back as it was, with its newline. */
	struct line l = {.text = malloc(len + 2), .task = strdup(task), .item = strdup(item),
			 .sample = (int)sn->valuedouble, .shard = rd->si, .seq = lineno, .error = er && !cJSON_IsNull(er)};
	if (l.text) {
		memcpy(l.text, raw, len);
		memcpy(l.text + len, "\n", 2);
	}
	if (!l.text || !l.task || !l.item || lines_push(rd->ls, &l)) {
		line_free(&l);
		return evh_err_fail(err, EVH_ENOMEM, where, "samples");
	}
	return EVH_OK;
}

/* Reads DIR/samples.jsonl of shard `si`: every complete line must be a sample of an item the shard
 * lists, with a sample index below the task's k. A last line without its newline was cut by a kill
 * and is not a finished sample (results/README.md). */
static int read_samples(const struct shard_run *sh, size_t si, struct lines *ls, struct evh_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/samples.jsonl", sh[si].dir);
	struct read_ctx ctx = {&sh[si], si, ls};
	return evh_jsonl_each(path, add_sample, &ctx, err);
}

static int cmp_line_key(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	return evh_sample_cmp(x->task, x->item, x->sample, y->task, y->item, y->sample);
}

static int cmp_line_key_seq(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = cmp_line_key(x, y);
	if (!c)
		c = (x->shard > y->shard) - (x->shard < y->shard);
	if (!c)
		c = (x->seq > y->seq) - (x->seq < y->seq);
	return c;
}

static int cmp_line_pos(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = (x->shard > y->shard) - (x->shard < y->shard);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Keeps the last line of each (task, item, sample) (a resumed shard retried it); the result is
 * sorted by key. Items were checked to be in one shard each, so equal keys share a shard. */
static void keep_last(struct lines *ls)
{
	ls->n = evh_keep_last(ls->v, ls->n, sizeof *ls->v, cmp_line_key_seq, cmp_line_key, line_free);
}

/* Every sample 0..k-1 of every listed item has a line. Names the first missing ones. */
static int check_samples(const struct shard_run *sh, size_t n, const struct lines *ls, struct evh_err *err)
{
	for (size_t s = 0; s < n; s++) {
		struct evh_buf names;
		evh_buf_init(&names, 200);
		size_t missing = 0;
		for (size_t t = 0; t < sh[s].n_tasks; t++) {
			const struct stask *st = &sh[s].tasks[t];
			for (size_t j = 0; j < st->n; j++)
				for (int k = 0; k < st->k; k++) {
					struct line key = {.task = (char *)st->name, .item = (char *)st->ids[j], .sample = k};
					if (bsearch(&key, ls->v, ls->n, sizeof *ls->v, cmp_line_key))
						continue;
					if (missing++ < 4) {
						/* A full buffer only shortens the list of examples. */
						(void)evh_buf_printf(&names, "%s%s/%s#%d", missing > 1 ? ", " : "", st->name,
								     st->ids[j], k);
					}
				}
		}
		if (missing) {
			int rc = evh_err_fail(err, EVH_EUNSUPPORTED, sh[s].dir,
					      "shard %u/%u is incomplete: %zu sample(s) missing (%s%s); finish it with "
					      "`evalh run ... --shard %u/%u --out %s --resume`",
					      sh[s].index, sh[s].count, missing, evh_buf_str(&names), missing > 4 ? ", ..." : "",
					      sh[s].index, sh[s].count, sh[s].dir);
			evh_buf_free(&names);
			return rc;
		}
		evh_buf_free(&names);
	}
	return EVH_OK;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static int write_samples(const char *out_dir, struct lines *ls, struct evh_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/samples.jsonl", out_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	/* Shard by shard in the order each wrote its lines: the file reads like the shards' own. */
	qsort(ls->v, ls->n, sizeof *ls->v, cmp_line_pos);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return evh_err_fail(err, EVH_EIO, tmp, "cannot create: %s", strerror(errno));
	int bad = 0;
	for (size_t i = 0; i < ls->n && !bad; i++)
		bad = fputs(ls->v[i].text, f) == EOF;
	bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return evh_err_fail(err, EVH_EIO, path, "cannot write: %s", strerror(e));
	}
	return EVH_OK;
}

static const char *base_name(const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	const char *p = dir + n;
	while (p > dir && p[-1] != '/')
		p--;
	return p;
}

/* o.k = v in k's place, or added when o had no k (cJSON's replace alone would drop v then). */
static void set(cJSON *o, const char *k, cJSON *v)
{
	if (!cJSON_GetObjectItemCaseSensitive(o, k) || !cJSON_ReplaceItemInObjectCaseSensitive(o, k, v))
		cJSON_AddItemToObject(o, k, v);
}

/* The first shard's run.json made into the merged run's: its own run_id (the folder's name), the
 * command that made it, the earliest start and the latest end, the whole item list, and where the
 * parts came from. */
static cJSON *merged_run_json(const struct shard_run *sh, size_t n, const char *run_id, int argc, char **argv)
{
	cJSON *o = cJSON_Duplicate(sh[0].run, 1);
	if (!o)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "shard");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "stopped");
	set(o, "run_id", cJSON_CreateString(run_id));
	cJSON *av = cJSON_CreateArray();
	for (int i = 0; i < argc; i++)
		cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
	set(o, "argv", av);
	const char *started = NULL, *ended = NULL;
	int open_end = 0;
	cJSON *from = cJSON_CreateArray();
	for (size_t s = 0; s < n; s++) {
		const char *st = cJSON_GetStringValue(get(sh[s].run, "started_at"));
		const char *en = cJSON_GetStringValue(get(sh[s].run, "ended_at"));
		/* ISO 8601 UTC stamps of one format compare as strings. */
		if (st && (!started || strcmp(st, started) < 0))
			started = st;
		if (!en)
			open_end = 1;
		else if (!ended || strcmp(en, ended) > 0)
			ended = en;
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "dir", sh[s].dir);
		char spec[32];
		snprintf(spec, sizeof spec, "%u/%u", sh[s].index, sh[s].count);
		cJSON_AddStringToObject(e, "shard", spec);
		static const char *const keep[] = {"run_id", "host", "git_revision", "started_at", "ended_at", "argv"};
		for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
			const cJSON *v = get(sh[s].run, keep[k]);
			if (v)
				cJSON_AddItemToObject(e, keep[k], cJSON_Duplicate(v, 1));
		}
		cJSON_AddItemToArray(from, e);
	}
	if (started)
		set(o, "started_at", cJSON_CreateString(started));
	set(o, "ended_at", open_end || !ended ? cJSON_CreateNull() : cJSON_CreateString(ended));
	cJSON_AddItemToObject(o, "merged_from", from);
	/* item_ids as an unsharded run writes them: absent when every item ran, else the --limit
	 * subset (sorted by id: the pack order is not known here). */
	const cJSON *op = get(o, "options");
	double limit = cJSON_IsNumber(get(op, "limit")) ? get(op, "limit")->valuedouble : 0;
	cJSON *ta = (cJSON *)get(o, "tasks");
	for (size_t t = 0; t < sh[0].n_tasks; t++) {
		cJSON *te = cJSON_GetArrayItem(ta, (int)t);
		cJSON_DeleteItemFromObjectCaseSensitive(te, "item_ids");
		if (!(limit > 0 && limit < (double)sh[0].tasks[t].items))
			continue;
		size_t m = 0;
		for (size_t s = 0; s < n; s++)
			m += sh[s].tasks[t].n;
		const char **ids = malloc((m ? m : 1) * sizeof *ids);
		if (!ids) {
			cJSON_Delete(o);
			return NULL;
		}
		m = 0;
		for (size_t s = 0; s < n; s++)
			for (size_t j = 0; j < sh[s].tasks[t].n; j++)
				ids[m++] = sh[s].tasks[t].ids[j];
		qsort(ids, m, sizeof *ids, cmp_str);
		cJSON *arr = cJSON_AddArrayToObject(te, "item_ids");
		for (size_t j = 0; j < m; j++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(ids[j]));
		free(ids);
	}
	return o;
}

/* ---- the command ------------------------------------------------------------------------------- */

static int cmp_shard(const void *a, const void *b)
{
	const struct shard_run *x = a, *y = b;
	return (x->index > y->index) - (x->index < y->index);
}

static int merge(const char *const *dirs, size_t n, const char *out_dir, int argc, char **argv,
		 struct evh_merge_info *info, struct evh_err *err)
{
	struct evh_merge_info scratch;
	if (!info)
		info = &scratch;
	memset(info, 0, sizeof *info);
	if (n == 0)
		return evh_err_fail(err, EVH_EMISUSE, "merge", "no run folder given");
	struct shard_run *sh = calloc(n, sizeof *sh);
	struct lines ls = {0};
	cJSON *rj = NULL, *sum = NULL;
	int rc = EVH_OK;
	if (!sh)
		return evh_err_fail(err, EVH_ENOMEM, "merge", "%zu folders", n);
	for (size_t i = 0; i < n && !rc; i++)
		rc = shard_load(dirs[i], &sh[i], err);
	if (rc)
		goto out;
	qsort(sh, n, sizeof *sh, cmp_shard);
	for (size_t i = 1; i < n && !rc; i++)
		rc = same_experiment(&sh[0], &sh[i], err);
	if (rc || (rc = check_coverage(sh, n, err)))
		goto out;
	for (size_t i = 0; i < n && !rc; i++)
		rc = read_samples(sh, i, &ls, err);
	if (rc)
		goto out;
	keep_last(&ls);
	if ((rc = check_samples(sh, n, &ls, err)))
		goto out;

	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/samples.jsonl", out_dir);
	struct stat stt;
	if (stat(path, &stt) == 0) {
		rc = evh_err_fail(err, EVH_EMISUSE, path, "exists: merge into a new folder");
		goto out;
	}
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
		rc = evh_err_fail(err, EVH_EIO, out_dir, "cannot create: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < ls.n; i++)
		info->errors += (size_t)ls.v[i].error;
	info->shards = n;
	info->samples = ls.n;
	for (size_t i = 1; i < n; i++) {
		const char *ga = cJSON_GetStringValue(get(sh[0].run, "git_revision"));
		const char *gb = cJSON_GetStringValue(get(sh[i].run, "git_revision"));
		if (ga && gb && strcmp(ga, gb) && !info->notes[0])
			snprintf(info->notes, sizeof info->notes,
				 "shards ran different evalh revisions (%s: %s, %s: %s): scoring may differ", sh[0].dir, ga,
				 sh[i].dir, gb);
	}
	const char *run_id = base_name(out_dir);
	if ((rc = write_samples(out_dir, &ls, err)))
		goto out;
	if (!(rj = merged_run_json(sh, n, run_id, argc, argv))) {
		rc = evh_err_fail(err, EVH_ENOMEM, out_dir, "run.json");
		goto out;
	}
	snprintf(path, sizeof path, "%s/run.json", out_dir);
	if ((rc = evh_json_write_file(path, rj, err)))
		goto out;
	const char *model = cJSON_GetStringValue(get(get(rj, "model"), "name"));
	snprintf(path, sizeof path, "%s/samples.jsonl", out_dir);
	if ((rc = evh_summary_compute(path, run_id, model ? model : "", &sum, err)))
		goto out;
	snprintf(path, sizeof path, "%s/summary.json", out_dir);
	rc = evh_json_write_file(path, sum, err);
out:
	cJSON_Delete(rj);
	cJSON_Delete(sum);
	lines_free(&ls);
	for (size_t i = 0; i < n; i++)
		shard_fini(&sh[i]);
	free(sh);
	return rc;
}

int evh_merge(const char *const *dirs, size_t n, const char *out_dir, struct evh_merge_info *info,
	      struct evh_err *err)
{
	char *argv[] = {"evalh", "merge"};
	return merge(dirs, n, out_dir, 2, argv, info, err);
}

static const char merge_usage[] =
	"usage: evalh merge RUN_DIR... -o OUT_DIR\n"
	"  joins the folders of `evalh run --shard I/N` (one per shard, any order) into one run folder\n"
	"  whose summary.json equals a single-machine run's; refuses shards of different models, packs or\n"
	"  options, and a shard or sample missing or given twice\n"
	"exit: 0 merged, 2 refused or bad input, 3 merged with samples in error (resume that shard)\n";

int evh_merge_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': fputs(merge_usage, stdout); return EVH_EXIT_OK;
		default: fputs(merge_usage, stderr); return EVH_EXIT_USAGE;
		}
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "evalh merge: %s\n%s", !out ? "-o OUT_DIR is required" : "no run folder given",
			merge_usage);
		return EVH_EXIT_USAGE;
	}
	struct evh_err err = {0};
	struct evh_merge_info info;
	/* run.json records the whole command; main passed it without "evalh". */
	char **full = malloc(((size_t)argc + 1) * sizeof *full);
	if (!full) {
		fprintf(stderr, "evalh merge: out of memory\n");
		return EVH_EXIT_FAILED;
	}
	full[0] = "evalh";
	memcpy(full + 1, argv, (size_t)argc * sizeof *argv);
	int rc = merge((const char *const *)argv + optind, (size_t)(argc - optind), out, argc + 1, full, &info, &err);
	free(full);
	if (rc)
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	if (info.notes[0])
		fprintf(stderr, "evalh merge: note: %s\n", info.notes);
	printf("merged %zu shards: %zu samples -> %s\n", info.shards, info.samples, out);
	if (info.errors) {
		fprintf(stderr, "evalh merge: %zu sample(s) are errors, not scored: resume their shard, then merge again\n",
			info.errors);
		return EVH_EXIT_INCOMPLETE;
	}
	return EVH_EXIT_OK;
}
