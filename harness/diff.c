/* diff.c — flipped verdicts between two runs; see diff.h. */
#include "harness/diff.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/report_text.h"
#include "harness/util/jsonl.h"

/* One item of one run, folded over its samples (the last line of each sample wins). */
struct item {
	char *task, *id, *gold, *answer; /* answer: the most frequent extracted answer */
	size_t line;                     /* first line of the item in samples.jsonl */
	int scored, correct;
};

struct run {
	struct item *v;
	size_t n, cap;
};

struct line {
	char *task, *id, *gold, *extracted;
	int sample, scored, correct;
	size_t line;
};

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].task);
		free(r->v[i].id);
		free(r->v[i].gold);
		free(r->v[i].answer);
	}
	free(r->v);
}

static char *jdup(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int cmp_line(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = strcmp(x->task, y->task);
	if (!c)
		c = strcmp(x->id, y->id);
	if (!c)
		c = (x->sample > y->sample) - (x->sample < y->sample);
	if (!c)
		c = (x->line > y->line) - (x->line < y->line);
	return c;
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->task, y->task);
	return c ? c : strcmp(x->id, y->id);
}

/* Folds lines[i..j) (one item, sorted by sample then line) into one item. */
static int fold(struct run *r, struct line *l, size_t i, size_t j)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct item *v = realloc(r->v, cap * sizeof *v);
		if (!v)
			return EVH_ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	struct item *it = &r->v[r->n];
	memset(it, 0, sizeof *it);
	it->line = l[i].line;
	const char *best = NULL;
	size_t best_n = 0;
	for (size_t t = i; t < j; t++) {
		if (l[t].line < it->line)
			it->line = l[t].line;
		if (t + 1 < j && l[t + 1].sample == l[t].sample)
			continue; /* a later line of the same sample replaces this one */
		if (!l[t].scored)
			continue;
		it->scored++;
		it->correct += l[t].correct;
		if (!l[t].extracted)
			continue;
		size_t cnt = 0;
		for (size_t u = i; u < j; u++)
			cnt += l[u].scored && l[u].extracted && !strcmp(l[u].extracted, l[t].extracted);
		if (cnt > best_n) {
			best_n = cnt;
			best = l[t].extracted;
		}
	}
	it->task = strdup(l[i].task);
	it->id = strdup(l[i].id);
	it->gold = l[i].gold ? strdup(l[i].gold) : NULL;
	it->answer = best ? strdup(best) : NULL;
	r->n++;
	if (!it->task || !it->id || (l[i].gold && !it->gold) || (best && !it->answer))
		return EVH_ENOMEM;
	return EVH_OK;
}

struct lines {
	struct line *v;
	size_t n, cap;
};

static int add_line(void *ctx, cJSON **obj, const char *raw, size_t len, const char *where, size_t lineno,
		    struct evh_err *err)
{
	(void)raw;
	(void)len;
	struct lines *ls = ctx;
	const cJSON *o = *obj, *smp = cJSON_GetObjectItemCaseSensitive(o, "sample");
	if (!cJSON_IsObject(o) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "task")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "item_id")) || !cJSON_IsNumber(smp))
		return evh_err_fail(err, EVH_EFORMAT, where, "expected a sample with task, item_id, sample");
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 256;
		struct line *nl = realloc(ls->v, cap * sizeof *nl);
		if (!nl)
			return evh_err_fail(err, EVH_ENOMEM, where, "samples");
		ls->v = nl;
		ls->cap = cap;
	}
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "correct");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
	struct line *l = &ls->v[ls->n++];
	l->task = jdup(o, "task");
	l->id = jdup(o, "item_id");
	l->gold = jdup(o, "gold");
	l->extracted = jdup(o, "extracted");
	l->sample = smp->valueint;
	l->scored = cJSON_IsBool(c) && (!e || cJSON_IsNull(e));
	l->correct = l->scored && cJSON_IsTrue(c);
	l->line = lineno;
	return l->task && l->id ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, where, "samples");
}

static int load_run(const char *dir, struct run *r, struct evh_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/samples.jsonl", dir);
	struct lines all = {0};
	int rc = evh_jsonl_each(path, add_line, &all, err);
	if (rc == EVH_ENOTFOUND) {
		evh_err_clear(err);
		rc = evh_err_fail(err, EVH_ENOTFOUND, path, "cannot open: not a run folder");
	}
	struct line *ls = all.v;
	size_t n = all.n;
	if (!rc) {
		qsort(ls, n, sizeof *ls, cmp_line);
		for (size_t i = 0; i < n && !rc;) {
			size_t j = i;
			while (j < n && !strcmp(ls[j].task, ls[i].task) && !strcmp(ls[j].id, ls[i].id))
				j++;
			if (fold(r, ls, i, j))
				rc = evh_err_fail(err, EVH_ENOMEM, path, "items");
			i = j;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(ls[i].task);
		free(ls[i].id);
		free(ls[i].gold);
		free(ls[i].extracted);
	}
	free(ls);
	return rc;
}

static int verdict(const struct item *it)
{
	return 2 * it->correct > it->scored;
}

static void row(struct evh_buf *o, const char *kind, const struct item *a, const struct item *b, const char *da,
		const char *db)
{
	evh_buf_printf(o, "| %s | ", kind);
	evh_md_add(o, a->id);
	evh_buf_adds(o, " | ");
	evh_md_add(o, a->gold ? a->gold : "");
	evh_buf_adds(o, " | ");
	evh_md_add(o, a->answer ? a->answer : "(none)");
	evh_buf_printf(o, " (%d/%d) | ", a->correct, a->scored);
	evh_md_add(o, b->answer ? b->answer : "(none)");
	evh_buf_printf(o, " (%d/%d) | [A](%s/samples.jsonl#L%zu) | [B](%s/samples.jsonl#L%zu) |\n", b->correct,
		       b->scored, da, a->line, db, b->line);
}

int evh_diff_markdown(const char *run_a, const char *run_b, struct evh_buf *out, struct evh_err *err)
{
	struct run a = {0}, b = {0};
	int rc = load_run(run_a, &a, err);
	if (!rc)
		rc = load_run(run_b, &b, err);
	if (rc)
		goto done;
	qsort(a.v, a.n, sizeof *a.v, cmp_item);
	qsort(b.v, b.n, sizeof *b.v, cmp_item);
	evh_buf_adds(out, "## Flipped items: A = ");
	evh_md_add(out, run_a);
	evh_buf_adds(out, ", B = ");
	evh_md_add(out, run_b);
	evh_buf_adds(out, "\n");
	/* Per task: walk both sorted lists together, twice (regressions, then improvements). */
	for (size_t i = 0, j = 0; i < a.n;) {
		size_t ie = i;
		while (ie < a.n && !strcmp(a.v[ie].task, a.v[i].task))
			ie++;
		while (j < b.n && strcmp(b.v[j].task, a.v[i].task) < 0)
			j++;
		size_t je = j;
		while (je < b.n && !strcmp(b.v[je].task, a.v[i].task))
			je++;
		size_t both = 0, n_reg = 0, n_imp = 0;
		struct evh_buf rows;
		evh_buf_init(&rows, EVH_LIMIT_BODY);
		for (int pass = 0; pass < 2; pass++) {
			for (size_t x = i, y = j; x < ie && y < je;) {
				int c = strcmp(a.v[x].id, b.v[y].id);
				if (c) {
					c < 0 ? x++ : y++;
					continue;
				}
				if (a.v[x].scored && b.v[y].scored) {
					int va = verdict(&a.v[x]), vb = verdict(&b.v[y]);
					both += pass == 0;
					if (pass == 0 && va && !vb) {
						row(&rows, "regression", &a.v[x], &b.v[y], run_a, run_b);
						n_reg++;
					} else if (pass == 1 && !va && vb) {
						row(&rows, "improvement", &a.v[x], &b.v[y], run_a, run_b);
						n_imp++;
					}
				}
				x++;
				y++;
			}
		}
		evh_buf_adds(out, "\n### ");
		evh_md_add(out, a.v[i].task);
		evh_buf_printf(out, ": %zu regression%s, %zu improvement%s of %zu items in both runs\n", n_reg,
			       n_reg == 1 ? "" : "s", n_imp, n_imp == 1 ? "" : "s", both);
		if (n_reg + n_imp) {
			evh_buf_adds(out, "\n| flip | item | gold | A answer (correct/scored) | B answer | A | B |\n"
					  "| --- | --- | --- | --- | --- | --- | --- |\n");
			evh_buf_add(out, rows.data ? rows.data : "", rows.len);
		}
		evh_buf_free(&rows);
		i = ie;
	}
done:
	run_free(&a);
	run_free(&b);
	return rc;
}

int evh_diff_main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: evalh diff RUN_A RUN_B\n");
		return EVH_EXIT_USAGE;
	}
	struct evh_buf out;
	evh_buf_init(&out, EVH_LIMIT_BODY);
	struct evh_err err = {0};
	int rc = evh_diff_markdown(argv[1], argv[2], &out, &err);
	if (!rc)
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
	evh_buf_free(&out);
	return rc ? evh_cli_fail(&err, EVH_EXIT_USAGE) : EVH_EXIT_OK;
}
