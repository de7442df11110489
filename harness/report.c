/* report.c — report.md and report.html from finished runs; see report.h.
 * The numbers come from each run's summary.json (harness/stats computes them); only the chart data
 * and the wrong-answer examples read samples.jsonl. One table model renders to both formats so
 * that the two documents cannot disagree. */
#include "harness/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/diff.h"
#include "harness/report_plot.h"
#include "harness/report_text.h"
#include "harness/util/buf.h"

#define EXAMPLES_PER_TASK 3 /* wrong answers shown per model and task */
#define EXCERPT_BYTES 300   /* of a response shown in an example */

/* ---- a table, rendered as Markdown or HTML --------------------------------------------------- */

struct cell {
	char *text;
	int data; /* from the runs: escaped; else formatted here (numbers) and written as is */
};

struct table {
	const char *const *head;
	const char *align; /* one 'l' or 'r' per column */
	size_t ncols, n, cap;
	struct cell *cells;
	int oom;
};

static void tab_init(struct table *t, const char *const *head, const char *align)
{
	memset(t, 0, sizeof *t);
	t->head = head;
	t->align = align;
	t->ncols = strlen(align);
}

static void tab_put(struct table *t, char *text, int data)
{
	if (!text) {
		t->oom = 1;
		return;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 64;
		struct cell *v = realloc(t->cells, nc * sizeof *v);
		if (!v) {
			free(text);
			t->oom = 1;
			return;
		}
		t->cells = v;
		t->cap = nc;
	}
	t->cells[t->n++] = (struct cell){text, data};
}

/* A cell holding a string from the runs (NULL shows as an empty cell). */
static void tab_data(struct table *t, const char *s)
{
	tab_put(t, strdup(s ? s : ""), 1);
}

static void tab_num(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tab_num(struct table *t, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	tab_put(t, s, 0);
}

static void tab_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i].text);
	free(t->cells);
	memset(t, 0, sizeof *t);
}

static int tab_md(const struct table *t, struct evh_buf *b)
{
	int rc = evh_buf_adds(b, "|");
	for (size_t c = 0; c < t->ncols && !rc; c++)
		rc = evh_buf_printf(b, " %s |", t->head[c]);
	rc = rc ? rc : evh_buf_adds(b, "\n|");
	for (size_t c = 0; c < t->ncols && !rc; c++)
		rc = evh_buf_adds(b, t->align[c] == 'r' ? "---:|" : "---|");
	for (size_t i = 0; i < t->n && !rc; i++) {
		rc = evh_buf_adds(b, i % t->ncols == 0 ? "\n| " : " | ");
		rc = rc ? rc : t->cells[i].data ? evh_md_add(b, t->cells[i].text) : evh_buf_adds(b, t->cells[i].text);
		if (!rc && i % t->ncols == t->ncols - 1)
			rc = evh_buf_adds(b, " |");
	}
	return rc ? rc : evh_buf_adds(b, "\n\n");
}

static int tab_html(const struct table *t, struct evh_buf *b)
{
	int rc = evh_buf_adds(b, "<table>\n<thead><tr>");
	for (size_t c = 0; c < t->ncols && !rc; c++)
		rc = evh_buf_printf(b, "<th>%s</th>", t->head[c]);
	rc = rc ? rc : evh_buf_adds(b, "</tr></thead>\n<tbody>");
	for (size_t i = 0; i < t->n && !rc; i++) {
		if (i % t->ncols == 0)
			rc = evh_buf_adds(b, "\n<tr>");
		rc = rc ? rc : evh_buf_adds(b, t->align[i % t->ncols] == 'r' ? "<td class=\"r\">" : "<td>");
		/* Numbers formatted here still go through the escaper: it costs nothing and leaves no
		 * path by which a cell reaches the page unescaped. */
		rc = rc ? rc : evh_html_add(b, t->cells[i].text);
		rc = rc ? rc : evh_buf_adds(b, "</td>");
		if (!rc && i % t->ncols == t->ncols - 1)
			rc = evh_buf_adds(b, "</tr>");
	}
	return rc ? rc : evh_buf_adds(b, "\n</tbody>\n</table>\n");
}

/* ---- cells from summary.json ----------------------------------------------------------------- */

static double ci_at(const cJSON *s, int i)
{
	const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "ci95"), i);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void num_or_dash(struct table *t, const char *fmt, double v, double scale)
{
	if (isfinite(v))
		tab_num(t, fmt, v * scale);
	else
		tab_num(t, "–");
}

static void pct_cell(struct table *t, double v)
{
	num_or_dash(t, "%.1f%%", v, 100);
}

/* "p@1 62.5%, p@4 80.0%" from the pass_at_k object, keys in numeric order. */
static void pass_cell(struct table *t, const cJSON *s)
{
	struct evh_buf b;
	evh_buf_init(&b, 4096);
	const cJSON *pk = cJSON_GetObjectItemCaseSensitive(s, "pass_at_k");
	long last = 0;
	for (;;) {
		const cJSON *e, *best = NULL;
		long bk = 0;
		cJSON_ArrayForEach(e, pk)
		{
			long k = e->string ? strtol(e->string, NULL, 10) : 0;
			if (k > last && cJSON_IsNumber(e) && (!best || k < bk)) {
				best = e;
				bk = k;
			}
		}
		if (!best)
			break;
		evh_buf_printf(&b, "%sp@%ld %.1f%%", b.len ? ", " : "", bk, 100 * best->valuedouble);
		last = bk;
	}
	tab_num(t, "%s", b.len ? evh_buf_str(&b) : "–");
	evh_buf_free(&b);
}

static void metrics_cells(struct table *t, const cJSON *s)
{
	num_or_dash(t, "%.0f", evh_run_num(s, "items"), 1);
	double acc = evh_run_num(s, "accuracy"), lo = ci_at(s, 0), hi = ci_at(s, 1);
	if (isfinite(acc) && isfinite(lo) && isfinite(hi))
		tab_num(t, "%.1f%% [%.1f, %.1f]", 100 * acc, 100 * lo, 100 * hi);
	else
		pct_cell(t, acc);
	pass_cell(t, s);
	pct_cell(t, evh_run_num(s, "cons_at_k"));
	/* When a token cap, not the model, decided the score, these two columns show it (issue 13). */
	pct_cell(t, evh_run_num(s, "accuracy_completed"));
	pct_cell(t, evh_run_num(s, "truncation_rate"));
	num_or_dash(t, "%.0f", evh_run_num(s, "errors"), 1);
	double p50 = evh_run_num(s, "latency.total_p50"), p90 = evh_run_num(s, "latency.total_p90");
	double t50 = evh_run_num(s, "latency.ttft_p50"), t90 = evh_run_num(s, "latency.ttft_p90");
	if (isfinite(p50) && isfinite(p90))
		tab_num(t, "%.2f / %.2f", p50, p90);
	else
		tab_num(t, "–");
	if (isfinite(t50) && isfinite(t90))
		tab_num(t, "%.3f / %.3f", t50, t90);
	else
		tab_num(t, "–");
	num_or_dash(t, "%.1f", evh_run_num(s, "output_tokens_per_s"), 1);
	num_or_dash(t, "%.4g", evh_run_num(s, "cost_usd"), 1);
	num_or_dash(t, "%.4g", evh_run_num(s, "cost_per_million_tokens"), 1);
}

static const char *const metric_head[] = {"model", "items", "accuracy [95% CI]", "pass@k", "cons@k",
					  "accuracy (completed)", "truncated", "errors",
					  "latency p50 / p90 (s)", "TTFT p50 / p90 (s)", "output tok/s",
					  "cost (USD)", "USD / M tokens"};
static const char metric_align[] = "lrrrrrrrrrrrr";

/* ---- the document, built once as a list of blocks -------------------------------------------- */

struct doc {
	struct evh_buf md, html;
	int rc;
};

static void both(struct doc *d, const char *md, const char *html)
{
	if (!d->rc)
		d->rc = evh_buf_adds(&d->md, md);
	if (!d->rc)
		d->rc = evh_buf_adds(&d->html, html);
}

static void both_data(struct doc *d, const char *s)
{
	if (!d->rc)
		d->rc = evh_md_add(&d->md, s);
	if (!d->rc)
		d->rc = evh_html_add(&d->html, s);
}

static void both_table(struct doc *d, struct table *t)
{
	if (t->oom && !d->rc)
		d->rc = EVH_ENOMEM;
	if (!d->rc)
		d->rc = tab_md(t, &d->md);
	if (!d->rc)
		d->rc = tab_html(t, &d->html);
	tab_free(t);
}

static void heading(struct doc *d, int level, const char *text)
{
	if (d->rc)
		return;
	d->rc = evh_buf_printf(&d->md, "%.*s %s\n\n", level, "######", text);
	if (!d->rc)
		d->rc = evh_buf_printf(&d->html, "<h%d>%s</h%d>\n", level, text, level);
}

static void section_runs(struct doc *d, const struct evh_run *runs, size_t n)
{
	static const char *const head[] = {"model", "run", "provider", "model id", "tasks", "samples", "temperature",
					   "top-p", "max tokens", "started"};
	struct table t;
	tab_init(&t, head, "llllrrrrrl");
	for (size_t r = 0; r < n; r++) {
		const cJSON *run = runs[r].run;
		tab_data(&t, runs[r].model);
		tab_data(&t, runs[r].run_id);
		tab_data(&t, evh_run_str(run, "model.provider"));
		tab_data(&t, evh_run_str(run, "model.model_id"));
		struct evh_buf names;
		evh_buf_init(&names, 1 << 16);
		const cJSON *task;
		cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(run, "tasks"))
		{
			const char *nm = evh_run_str(task, "name");
			evh_buf_printf(&names, "%s%s", names.len ? ", " : "", nm ? nm : "?");
		}
		tab_data(&t, evh_buf_str(&names));
		evh_buf_free(&names);
		num_or_dash(&t, "%.0f", evh_run_num(run, "options.samples"), 1);
		num_or_dash(&t, "%g", evh_run_num(run, "options.temperature"), 1);
		num_or_dash(&t, "%g", evh_run_num(run, "options.top_p"), 1);
		num_or_dash(&t, "%.0f", evh_run_num(run, "options.max_tokens"), 1);
		tab_data(&t, evh_run_str(run, "started_at"));
	}
	heading(d, 2, "Runs");
	both_table(d, &t);
}

/* Warns when runs scored the same task name on different packs: their numbers do not compare. */
static void section_warnings(struct doc *d, const struct evh_run *runs, size_t n, const char **tasks, size_t nt,
			     const struct evh_plots *plots)
{
	int any = 0;
	for (size_t i = 0; i < nt; i++) {
		const char *first = NULL;
		int differs = 0;
		for (size_t r = 0; r < n; r++) {
			const char *dg = evh_run_str(evh_run_task_info(&runs[r], tasks[i]), "digest");
			if (dg && first && strcmp(dg, first) != 0)
				differs = 1;
			if (dg && !first)
				first = dg;
		}
		if (!differs)
			continue;
		if (!any++)
			heading(d, 2, "Warnings");
		both(d, "- Task ", "<p class=\"warn\">Task ");
		both_data(d, tasks[i]);
		both(d, ": the runs used different pack digests; its accuracies do not compare.\n",
		     ": the runs used different pack digests; its accuracies do not compare.</p>\n");
	}
	if (plots->note[0]) {
		if (!any++)
			heading(d, 2, "Warnings");
		both(d, "- ", "<p class=\"warn\">");
		both_data(d, plots->note);
		both(d, "\n", "</p>\n");
	}
	if (any)
		both(d, "\n", "");
}

static void section_metrics(struct doc *d, const struct evh_run *runs, size_t n, const char **tasks, size_t nt)
{
	struct table t;
	tab_init(&t, metric_head, metric_align);
	for (size_t r = 0; r < n; r++) {
		tab_data(&t, runs[r].model);
		metrics_cells(&t, cJSON_GetObjectItemCaseSensitive(runs[r].summary, "overall"));
	}
	heading(d, 2, "Overall");
	both_table(d, &t);
	heading(d, 2, "Per task");
	for (size_t i = 0; i < nt; i++) {
		both(d, "### Task ", "<h3>Task ");
		both_data(d, tasks[i]);
		both(d, "\n\n", "</h3>\n");
		tab_init(&t, metric_head, metric_align);
		for (size_t r = 0; r < n; r++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(runs[r].summary, "tasks"), tasks[i]);
			if (!s)
				continue;
			tab_data(&t, runs[r].model);
			metrics_cells(&t, s);
		}
		both_table(d, &t);
	}
}

/* Appends the <svg> element of FILE (gnuplot's XML declaration and anything before <svg dropped). */
static int inline_svg(struct evh_buf *html, const char *dir, const char *base)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s.svg", dir, base);
	FILE *f = fopen(path, "rb");
	if (!f)
		return EVH_EIO;
	struct evh_buf svg;
	evh_buf_init(&svg, EVH_LIMIT_BODY);
	char chunk[65536];
	size_t got;
	int rc = 0;
	while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
		rc = evh_buf_add(&svg, chunk, got);
	fclose(f);
	const char *start = rc ? NULL : strstr(evh_buf_str(&svg), "<svg");
	if (!start)
		rc = rc ? rc : EVH_EFORMAT;
	else
		rc = evh_buf_adds(html, start);
	evh_buf_free(&svg);
	return rc;
}

static void section_charts(struct doc *d, const struct evh_plots *p, const char *dir)
{
	heading(d, 2, "Charts");
	for (size_t i = 0; i < p->n && !d->rc; i++) {
		const struct evh_chart *c = &p->charts[i];
		if (!c->ok)
			continue;
		d->rc = evh_buf_printf(&d->md, "### %s\n\n![%s](%s.svg)", c->title, c->title, c->base);
		if (!d->rc && c->png)
			d->rc = evh_buf_printf(&d->md, " ([PNG](%s.png))", c->base);
		if (!d->rc)
			d->rc = evh_buf_adds(&d->md, "\n\n");
		if (!d->rc)
			d->rc = evh_buf_printf(&d->html, "<figure>\n");
		if (!d->rc && inline_svg(&d->html, dir, c->base) != 0)
			d->rc = evh_buf_printf(&d->html, "<p class=\"warn\">%s.svg could not be read.</p>", c->base);
		if (!d->rc)
			d->rc = evh_buf_printf(&d->html, "\n<figcaption>%s</figcaption>\n</figure>\n", c->title);
	}
	if (!d->rc && p->note[0])
		both(d, "Some charts are missing: see Warnings above.\n\n",
		     "<p class=\"warn\">Some charts are missing: see Warnings above.</p>\n");
}

/* Items whose verdict flipped between the first run and each other one (evalh diff), so a reader
 * sees which questions a change won or lost. */
static void section_flips(struct doc *d, const struct evh_run *runs, size_t n)
{
	if (n < 2 || d->rc)
		return;
	for (size_t r = 1; r < n && !d->rc; r++) {
		struct evh_buf md;
		struct evh_err err = {0};
		evh_buf_init(&md, EVH_LIMIT_BODY);
		if (evh_diff_markdown(runs[0].dir, runs[r].dir, &md, &err) != EVH_OK) {
			char msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
			evh_buf_reset(&md);
			evh_buf_printf(&md, "(no comparison: %s)\n", evh_err_str(&err, msg, sizeof msg));
		}
		both(d, "", "<pre>");
		if (!d->rc)
			d->rc = evh_buf_add(&d->md, md.data ? md.data : "", md.len);
		if (!d->rc)
			d->rc = evh_html_add(&d->html, evh_buf_str(&md));
		both(d, "\n", "</pre>\n");
		evh_buf_free(&md);
	}
}

static void section_examples(struct doc *d, const struct evh_run *runs, size_t n)
{
	static const char *const head[] = {"task", "item", "gold", "extracted", "verdict", "response (start)"};
	heading(d, 2, "Wrong answers (first few per task)");
	for (size_t r = 0; r < n; r++) {
		struct table t;
		tab_init(&t, head, "llllll");
		const char *task = NULL;
		int shown = 0, rows = 0;
		for (size_t i = 0; i < runs[r].n; i++) {
			const struct evh_rsample *s = &runs[r].s[i];
			if (!task || strcmp(task, s->task) != 0) {
				task = s->task;
				shown = 0;
			}
			if (s->correct != 0 || shown >= EXAMPLES_PER_TASK)
				continue;
			shown++;
			rows++;
			tab_data(&t, s->task);
			tab_data(&t, s->item_id);
			tab_data(&t, s->gold);
			tab_data(&t, s->extracted);
			tab_data(&t, s->verdict);
			const char *resp = s->response ? s->response : "";
			size_t cut = evh_utf8_prefix(resp, EXCERPT_BYTES);
			char *ex = malloc(cut + 4);
			if (ex) {
				memcpy(ex, resp, cut);
				strcpy(ex + cut, cut < strlen(resp) ? "…" : "");
			}
			tab_put(&t, ex, 1);
		}
		both(d, "### ", "<h3>");
		both_data(d, runs[r].model);
		both(d, "\n\n", "</h3>\n");
		if (rows)
			both_table(d, &t);
		else {
			tab_free(&t);
			both(d, "No wrong answers.\n\n", "<p>No wrong answers.</p>\n");
		}
	}
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	"<title>evalh report</title>\n<style>\n"
	"body{font-family:sans-serif;margin:2em;max-width:1200px}"
	"table{border-collapse:collapse;margin:0 0 1.5em 0}"
	"th,td{border:1px solid #ccc;padding:3px 8px;font-size:90%;vertical-align:top}"
	"th{background:#f0f0f0}td.r{text-align:right;white-space:nowrap}"
	"figure{margin:1em 0}svg{max-width:100%;height:auto}.warn{color:#a40}\n"
	"</style>\n</head>\n<body>\n";

/* ---- writing --------------------------------------------------------------------------------- */

static int save(const char *dir, const char *name, const struct evh_buf *b, struct evh_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return evh_err_fail(err, EVH_EIO, path, "cannot write: %s", strerror(errno));
	int bad = fwrite(evh_buf_str(b), 1, b->len, f) != b->len;
	bad |= fclose(f) != 0;
	return bad ? evh_err_fail(err, EVH_EIO, path, "write failed") : EVH_OK;
}

int evh_report_write(const struct evh_run *runs, size_t n, const char *out_dir, int formats, struct evh_err *err)
{
	for (size_t r = 0; r < n; r++)
		if (!runs[r].summary)
			return evh_err_fail(err, EVH_ENOTFOUND, runs[r].dir,
					    "no summary.json: the run has not finished (resume it to write one)");
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
		return evh_err_fail(err, EVH_EIO, out_dir, "cannot create: %s", strerror(errno));
	struct evh_plots plots;
	int rc = evh_report_plots(runs, n, out_dir, &plots, err);
	if (rc != EVH_OK)
		return rc;
	if (plots.note[0])
		fprintf(stderr, "evalh report: %s\n", plots.note);
	const char **tasks = NULL;
	size_t nt = evh_report_task_names(runs, n, &tasks);
	if (nt == (size_t)-1)
		return evh_err_fail(err, EVH_ENOMEM, out_dir, "out of memory");
	struct doc d = {.rc = 0};
	evh_buf_init(&d.md, EVH_LIMIT_BODY);
	evh_buf_init(&d.html, 4 * (size_t)EVH_LIMIT_BODY);
	d.rc = evh_buf_adds(&d.html, html_head);
	heading(&d, 1, "evalh report");
	both(&d, "Models compared: ", "<p>Models compared: ");
	for (size_t r = 0; r < n; r++) {
		both(&d, r ? ", " : "", r ? ", " : "");
		both_data(&d, runs[r].model);
	}
	both(&d, ".\n\n", ".</p>\n");
	section_warnings(&d, runs, n, tasks, nt, &plots);
	section_metrics(&d, runs, n, tasks, nt);
	section_charts(&d, &plots, out_dir);
	section_runs(&d, runs, n);
	section_examples(&d, runs, n);
	section_flips(&d, runs, n);
	both(&d, "", "</body>\n</html>\n");
	rc = d.rc ? evh_err_fail(err, d.rc, out_dir, "building the report failed: %s", evh_strerror(d.rc)) : EVH_OK;
	if (rc == EVH_OK && (formats & EVH_REPORT_MD))
		rc = save(out_dir, "report.md", &d.md, err);
	if (rc == EVH_OK && (formats & EVH_REPORT_HTML))
		rc = save(out_dir, "report.html", &d.html, err);
	evh_buf_free(&d.md);
	evh_buf_free(&d.html);
	free(tasks);
	return rc;
}

/* ---- command line ---------------------------------------------------------------------------- */

static const char usage[] = "usage: evalh report RUN_DIR [RUN_DIR...] -o OUT_DIR [--format md,html]\n";

static int parse_formats(const char *s)
{
	int f = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		if (len == 2 && strncmp(s, "md", 2) == 0)
			f |= EVH_REPORT_MD;
		else if (len == 4 && strncmp(s, "html", 4) == 0)
			f |= EVH_REPORT_HTML;
		else
			return -1;
		s += len + (s[len] == ',');
	}
	return f ? f : -1;
}

/* Runs of one model (two temperatures, two revisions) would be told apart by nothing in the tables
 * and chart legends: such runs are shown as "model (folder)", the folder being the run's own
 * name, with " #N" after it should two folders share a name too. Labels are malloc'd into labels[]
 * and runs[].model points at them. */
static int label_runs(struct evh_run *runs, size_t n, char **labels)
{
	for (size_t i = 0; i < n; i++) {
		int shared = 0;
		for (size_t j = 0; j < n && !shared; j++)
			shared = j != i && strcmp(runs[i].model, runs[j].model) == 0;
		if (!shared)
			continue;
		size_t len = strlen(runs[i].dir);
		while (len > 1 && runs[i].dir[len - 1] == '/')
			len--;
		const char *base = runs[i].dir + len;
		while (base > runs[i].dir && base[-1] != '/')
			base--;
		if (asprintf(&labels[i], "%s (%.*s)", runs[i].model, (int)(runs[i].dir + len - base), base) < 0) {
			labels[i] = NULL;
			return EVH_ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (labels[i] && labels[j] && strcmp(labels[i], labels[j]) == 0) {
				char *l;
				if (asprintf(&l, "%s #%zu", labels[i], i + 1) < 0)
					return EVH_ENOMEM;
				free(labels[i]);
				labels[i] = l;
			}
	for (size_t i = 0; i < n; i++)
		if (labels[i])
			runs[i].model = labels[i];
	return EVH_OK;
}

int evh_report_main(int argc, char **argv)
{
	const char *out = NULL;
	int formats = EVH_REPORT_MD | EVH_REPORT_HTML, code = 2;
	size_t n = 0;
	struct evh_run *runs = calloc((size_t)argc + 1, sizeof *runs);
	const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
	char **labels = calloc((size_t)argc + 1, sizeof *labels);
	size_t nd = 0;
	if (!runs || !dirs || !labels) {
		fprintf(stderr, "evalh report: out of memory\n");
		goto done;
	}
	/* argv[0] is the subcommand name, as main.c passes it (getopt's convention). */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			code = 0;
			goto done;
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0 || strcmp(a, "--format") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "evalh report: missing value for %s\n%s", a, usage);
				goto done;
			}
			if (strcmp(a, "--format") == 0 && (formats = parse_formats(argv[++i])) < 0) {
				fprintf(stderr, "evalh report: --format: expected md, html or md,html, got '%s'\n", argv[i]);
				goto done;
			} else if (strcmp(a, "--format") != 0) {
				out = argv[++i];
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "evalh report: unknown option '%s'\n%s", a, usage);
			goto done;
		} else {
			dirs[nd++] = a;
		}
	}
	if (!out || nd == 0) {
		fprintf(stderr, "evalh report: %s\n%s", nd ? "-o OUT_DIR is required" : "no run folder given", usage);
		goto done;
	}
	struct evh_err err = {0};
	char msg[EVH_ERR_WHERE + EVH_ERR_MSG + 8];
	for (size_t i = 0; i < nd; i++, n++)
		if (evh_run_load(dirs[i], &runs[i], &err) != EVH_OK) {
			fprintf(stderr, "evalh report: %s\n", evh_err_str(&err, msg, sizeof msg));
			goto done;
		}
	if (label_runs(runs, n, labels) != EVH_OK) {
		fprintf(stderr, "evalh report: out of memory\n");
		goto done;
	}
	if (evh_report_write(runs, n, out, formats, &err) != EVH_OK) {
		fprintf(stderr, "evalh report: %s\n", evh_err_str(&err, msg, sizeof msg));
		goto done;
	}
	if (formats & EVH_REPORT_MD)
		fprintf(stderr, "evalh report: wrote %s/report.md\n", out);
	if (formats & EVH_REPORT_HTML)
		fprintf(stderr, "evalh report: wrote %s/report.html\n", out);
	code = 0;
done:
	for (size_t i = 0; i < n; i++)
		evh_run_free(&runs[i]);
	for (size_t i = 0; labels && i < (size_t)argc + 1; i++)
		free(labels[i]);
	free(labels);
	free(runs);
	free(dirs);
	return code;
}
