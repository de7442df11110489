/* gate.c — `evalh gate`: the paired comparison of two runs for CI; see gate.h.
 *
 * What is decided, and why:
 * - Samples are paired by (task, item_id). Each item contributes the fraction of its samples that
 *   are correct; a task's accuracy is the mean over its items (results/README.md's accuracy).
 * - One sample per item in both runs: McNemar's exact test on the discordant items (the two-sided
 *   binomial test of b against Binomial(b + c, 1/2)). Otherwise: a paired bootstrap over items
 *   (10,000 resamples, fixed seed) of the mean per-item difference. Both report a bootstrap 95%
 *   interval of the difference. Items, not samples, are resampled: the k samples of one item are
 *   not independent draws of the benchmark.
 * - Several tasks: each task's p-value is Holm-adjusted over the tasks compared, so that gating on
 *   ten tasks does not fail ten times as often by chance; the pooled "overall" row is one more test
 *   on all items together and is not adjusted.
 * - A row regresses when delta < 0, its p-value < alpha, AND the observed drop is larger than
 *   --max-drop percentage points (strictly). --max-drop is a tolerance on the point estimate, not a
 *   non-inferiority test: a significant 1.5-point drop passes with --max-drop 2, and the table
 *   shows it as "drop within tolerance". The gate fails (exit 1) when any row regresses.
 * - Not comparable (exit 2): a task or item present in one run only (the message names the first
 *   one on each side), different pack digests or versions, different sampling options (samples,
 *   temperature, top_p, max_tokens), or unscored samples (a request that failed: resume the run
 *   first, an error is never counted as wrong). --force accepts digest/version/sampling differences
 *   and says so under the table; nothing makes different item sets comparable.
 */
#include "harness/gate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/gate_stats.h"
#include "harness/report_text.h"

void evh_gate_opts_defaults(struct evh_gate_opts *o)
{
	memset(o, 0, sizeof *o);
	o->alpha = 0.05;
	o->max_drop = 0;
	o->resamples = 10000;
	o->seed = 20261201;
}

/* ---- per-item accumulation ------------------------------------------------------------------- */

struct item {
	const char *id;
	int n, correct;
	const struct evh_rsample *unscored; /* first sample without a verdict, or NULL */
};

/* Items of `task` in r, in item_id order (r->s is sorted). *out is malloc'd. */
static int task_items(const struct evh_run *r, const char *task, struct item **out, size_t *n_out)
{
	size_t n = 0, cap = 0;
	struct item *v = NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct evh_rsample *s = &r->s[i];
		if (strcmp(s->task, task) != 0)
			continue;
		if (n == 0 || strcmp(v[n - 1].id, s->item_id) != 0) {
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 64;
				struct item *nv = realloc(v, nc * sizeof *nv);
				if (!nv) {
					free(v);
					return EVH_ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = (struct item){.id = s->item_id};
		}
		struct item *it = &v[n - 1];
		it->n++;
		if (s->correct == 1)
			it->correct++;
		else if (s->correct < 0 && !it->unscored)
			it->unscored = s;
	}
	*out = v;
	*n_out = n;
	return EVH_OK;
}

/* Sorted unique task names of r's samples; the strings are borrowed from r. */
static int run_tasks(const struct evh_run *r, const char ***out, size_t *n_out)
{
	const char **v = r->n ? malloc(r->n * sizeof *v) : NULL;
	size_t n = 0;
	if (r->n && !v)
		return EVH_ENOMEM;
	for (size_t i = 0; i < r->n; i++)
		if (n == 0 || strcmp(v[n - 1], r->s[i].task) != 0)
			v[n++] = r->s[i].task;
	*out = v;
	*n_out = n;
	return EVH_OK;
}

static int has_task(const char **v, size_t n, const char *t)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], t) == 0)
			return 1;
	return 0;
}

/* ---- comparability --------------------------------------------------------------------------- */

/* Appends a line to out->notes with the three strings Markdown-escaped (they come from the runs). */
static void note(struct evh_gate_result *out, const char *fmt, const char *a, const char *b, const char *c)
{
	struct evh_buf e[3];
	const char *in[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		evh_buf_init(&e[i], 256);
		evh_md_add(&e[i], in[i]); /* past the ceiling the piece is cut: notes are context only */
	}
	size_t len = strlen(out->notes);
	snprintf(out->notes + len, sizeof out->notes - len, fmt, evh_buf_str(&e[0]), evh_buf_str(&e[1]),
		 evh_buf_str(&e[2]));
	for (int i = 0; i < 3; i++)
		evh_buf_free(&e[i]);
}

static int same_json(const cJSON *a, const cJSON *b)
{
	if (!a || !b || cJSON_IsNull(a) || cJSON_IsNull(b))
		return 1; /* one run does not say: nothing to compare */
	return cJSON_Compare(a, b, 1);
}

static int check_task_meta(const struct evh_run *base, const struct evh_run *cand, const char *task,
			   const struct evh_gate_opts *o, struct evh_gate_result *out, struct evh_err *err)
{
	const cJSON *tb = evh_run_task_info(base, task), *tc = evh_run_task_info(cand, task);
	static const char *const fields[] = {"digest", "version"};
	for (size_t i = 0; i < 2; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(tb, fields[i]);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(tc, fields[i]);
		if (same_json(a, b))
			continue;
		if (!o->force)
			return evh_err_fail(err, EVH_EUNSUPPORTED, task,
					    "task %s: pack %s differs (baseline %s, candidate %s); the runs used different "
					    "packs (--force compares them anyway)",
					    task, fields[i], cJSON_IsString(a) ? a->valuestring : "?",
					    cJSON_IsString(b) ? b->valuestring : "?");
		note(out, "- forced: task %s pack %s differs%s\n", task, fields[i], "");
	}
	return EVH_OK;
}

static int check_options(const struct evh_run *base, const struct evh_run *cand, const struct evh_gate_opts *o,
			 struct evh_gate_result *out, struct evh_err *err)
{
	static const char *const fields[] = {"samples", "temperature", "top_p", "max_tokens"};
	const cJSON *ob = cJSON_GetObjectItemCaseSensitive(base->run, "options");
	const cJSON *oc = cJSON_GetObjectItemCaseSensitive(cand->run, "options");
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(ob, fields[i]);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(oc, fields[i]);
		if (same_json(a, b))
			continue;
		char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
		int rc = EVH_OK;
		if (!o->force)
			rc = evh_err_fail(err, EVH_EUNSUPPORTED, "run.json: options", "option %s differs (baseline %s, "
					  "candidate %s) (--force compares them anyway)", fields[i], sa ? sa : "?", sb ? sb : "?");
		else
			note(out, "- forced: option %s differs (baseline %s, candidate %s)\n", fields[i], sa ? sa : "?",
			     sb ? sb : "?");
		free(sa);
		free(sb);
		if (rc)
			return rc;
	}
	return EVH_OK;
}

/* ---- one row --------------------------------------------------------------------------------- */

/* Merges the item lists (both sorted by id) into per-item differences appended to d; fails on the
 * first item present on one side only or carrying an unscored sample. */
static int pair_items(const char *task, const struct item *ib, size_t nb, const struct item *ic, size_t nc,
		      double *d, size_t *nd, double *sum_b, double *sum_c, unsigned long *b, unsigned long *c,
		      int *k_b, int *k_c, int *exact, struct evh_err *err)
{
	size_t i = 0, j = 0;
	while (i < nb || j < nc) {
		int cmp = i == nb ? 1 : j == nc ? -1 : strcmp(ib[i].id, ic[j].id);
		if (cmp != 0) {
			/* Name one missing item on each side when there is one: it tells which side is short. */
			const char *only_b = NULL, *only_c = NULL;
			size_t x = i, y = j;
			while ((x < nb || y < nc) && (!only_b || !only_c)) {
				int c2 = x == nb ? 1 : y == nc ? -1 : strcmp(ib[x].id, ic[y].id);
				if (c2 == 0) {
					x++;
					y++;
				} else if (c2 < 0) {
					if (!only_b)
						only_b = ib[x].id;
					x++;
				} else {
					if (!only_c)
						only_c = ic[y].id;
					y++;
				}
			}
			return evh_err_fail(err, EVH_EUNSUPPORTED, task,
					    "task %s: item sets differ (baseline %zu items, candidate %zu; only in baseline: %s; "
					    "only in candidate: %s)",
					    task, nb, nc, only_b ? only_b : "none", only_c ? only_c : "none");
		}
		const struct item *x = &ib[i++], *y = &ic[j++];
		const struct item *bad = x->unscored ? x : y->unscored ? y : NULL;
		if (bad) {
			const struct evh_rsample *s = bad->unscored;
			return evh_err_fail(err, EVH_EUNSUPPORTED, task,
					    "task %s: %s item %s sample %d has no verdict (error: %s); resume that run "
					    "before gating",
					    task, bad == x ? "baseline" : "candidate", s->item_id, s->sample,
					    s->error ? s->error : "none");
		}
		double fb = (double)x->correct / x->n, fc = (double)y->correct / y->n;
		d[(*nd)++] = fc - fb;
		*sum_b += fb;
		*sum_c += fc;
		if (x->n > *k_b)
			*k_b = x->n;
		if (y->n > *k_c)
			*k_c = y->n;
		if (x->n != 1 || y->n != 1)
			*exact = 0;
		else if (x->correct && !y->correct)
			(*b)++;
		else if (!x->correct && y->correct)
			(*c)++;
	}
	return EVH_OK;
}

static int fill_row(struct evh_gate_row *row, const char *task, const double *d, size_t n, double sum_b,
		    double sum_c, unsigned long b, unsigned long c, int exact, const struct evh_gate_opts *o,
		    struct evh_err *err)
{
	row->task = strdup(task);
	if (!row->task)
		return evh_err_fail(err, EVH_ENOMEM, task, "out of memory");
	row->items = n;
	row->base_acc = sum_b / (double)n;
	row->cand_acc = sum_c / (double)n;
	row->exact = exact;
	row->b = b;
	row->c = c;
	struct evh_boot bt;
	if (evh_stats_paired_bootstrap(d, n, o->resamples, o->seed, &bt) != 0)
		return evh_err_fail(err, EVH_ENOMEM, task, "bootstrap failed (out of memory)");
	row->delta = bt.mean;
	row->ci_lo = bt.ci_lo;
	row->ci_hi = bt.ci_hi;
	row->p_raw = exact ? evh_stats_mcnemar_exact(b, c) : bt.p;
	row->p = row->p_raw;
	return EVH_OK;
}

static void decide(struct evh_gate_row *row, const struct evh_gate_opts *o)
{
	int significant = row->p < o->alpha && row->delta != 0;
	/* Rounding: a drop of exactly max_drop points (within 1e-9) is not "larger than" it. */
	double drop_pts = -row->delta * 100;
	if (!significant)
		row->verdict = EVH_GATE_OK;
	else if (row->delta > 0)
		row->verdict = EVH_GATE_IMPROVED;
	else if (drop_pts > o->max_drop + 1e-9)
		row->verdict = EVH_GATE_REGRESSED;
	else
		row->verdict = EVH_GATE_SMALL_DROP;
}

/* ---- compare --------------------------------------------------------------------------------- */

int evh_gate_compare(const struct evh_run *base, const struct evh_run *cand, const struct evh_gate_opts *o,
		     struct evh_gate_result *out, struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	const char **tb = NULL, **tc = NULL, **sel = NULL;
	size_t ntb = 0, ntc = 0, nsel = 0;
	double *d = NULL;
	struct item *ib = NULL, *ic = NULL;
	int rc = run_tasks(base, &tb, &ntb);
	if (rc == EVH_OK)
		rc = run_tasks(cand, &tc, &ntc);
	if (rc != EVH_OK) {
		evh_err_fail(err, rc, NULL, "out of memory");
		goto done;
	}
	if (o->n_tasks) {
		for (size_t i = 0; i < o->n_tasks && rc == EVH_OK; i++) {
			const char *t = o->tasks[i];
			if (!has_task(tb, ntb, t) || !has_task(tc, ntc, t))
				rc = evh_err_fail(err, EVH_EUNSUPPORTED, t, "task %s: not in the %s run", t,
						  has_task(tb, ntb, t) ? "candidate" : "baseline");
		}
		sel = (const char **)o->tasks;
		nsel = o->n_tasks;
	} else {
		for (size_t i = 0; i < ntb && rc == EVH_OK; i++)
			if (!has_task(tc, ntc, tb[i]))
				rc = evh_err_fail(err, EVH_EUNSUPPORTED, tb[i], "task %s: only in the baseline run", tb[i]);
		for (size_t i = 0; i < ntc && rc == EVH_OK; i++)
			if (!has_task(tb, ntb, tc[i]))
				rc = evh_err_fail(err, EVH_EUNSUPPORTED, tc[i], "task %s: only in the candidate run", tc[i]);
		sel = tb;
		nsel = ntb;
	}
	if (rc == EVH_OK && nsel == 0)
		rc = evh_err_fail(err, EVH_EUNSUPPORTED, base->dir, "no samples to compare");
	if (rc == EVH_OK)
		rc = check_options(base, cand, o, out, err);
	for (size_t i = 0; i < nsel && rc == EVH_OK; i++)
		rc = check_task_meta(base, cand, sel[i], o, out, err);
	if (rc != EVH_OK)
		goto done;

	d = malloc((base->n + 1) * sizeof *d); /* at most one difference per baseline sample */
	out->rows = calloc(nsel + 1, sizeof *out->rows);
	if (!d || !out->rows) {
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "out of memory");
		goto done;
	}
	size_t nd = 0;
	double all_b = 0, all_c = 0;
	unsigned long all_disc_b = 0, all_disc_c = 0;
	int all_exact = 1, all_kb = 0, all_kc = 0;
	for (size_t t = 0; t < nsel && rc == EVH_OK; t++) {
		size_t nb, nc, start = nd;
		rc = task_items(base, sel[t], &ib, &nb);
		if (rc == EVH_OK)
			rc = task_items(cand, sel[t], &ic, &nc);
		if (rc != EVH_OK) {
			evh_err_fail(err, rc, sel[t], "out of memory");
			break;
		}
		double sb = 0, sc = 0;
		unsigned long b = 0, c = 0;
		int kb = 0, kc = 0, exact = 1;
		rc = pair_items(sel[t], ib, nb, ic, nc, d, &nd, &sb, &sc, &b, &c, &kb, &kc, &exact, err);
		if (rc == EVH_OK && nd == start)
			rc = evh_err_fail(err, EVH_EUNSUPPORTED, sel[t], "task %s: no items", sel[t]);
		if (rc == EVH_OK) {
			struct evh_gate_row *row = &out->rows[out->n++];
			rc = fill_row(row, sel[t], d + start, nd - start, sb, sc, b, c, exact, o, err);
			row->k_base = kb;
			row->k_cand = kc;
		}
		all_b += sb;
		all_c += sc;
		all_disc_b += b;
		all_disc_c += c;
		all_exact &= exact;
		all_kb = kb > all_kb ? kb : all_kb;
		all_kc = kc > all_kc ? kc : all_kc;
		free(ib);
		free(ic);
		ib = ic = NULL;
	}
	if (rc == EVH_OK && out->n > 1) {
		double *p = malloc(out->n * sizeof *p);
		if (!p) {
			rc = evh_err_fail(err, EVH_ENOMEM, NULL, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < out->n; i++)
			p[i] = out->rows[i].p_raw;
		evh_stats_holm(p, out->n);
		for (size_t i = 0; i < out->n; i++)
			out->rows[i].p = p[i];
		free(p);
		struct evh_gate_row *row = &out->rows[out->n];
		rc = fill_row(row, "overall", d, nd, all_b, all_c, all_disc_b, all_disc_c, all_exact, o, err);
		row->k_base = all_kb;
		row->k_cand = all_kc;
		out->n++;
	}
	for (size_t i = 0; i < out->n && rc == EVH_OK; i++) {
		decide(&out->rows[i], o);
		if (out->rows[i].verdict == EVH_GATE_REGRESSED)
			out->regression = 1;
	}
done:
	free(ib);
	free(ic);
	free(d);
	free(tb);
	free(tc);
	if (rc != EVH_OK)
		evh_gate_result_free(out);
	return rc;
}

void evh_gate_result_free(struct evh_gate_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->rows[i].task);
	free(r->rows);
	memset(r, 0, sizeof *r);
}

/* ---- the Markdown table ---------------------------------------------------------------------- */

static const char *verdict_text(enum evh_gate_verdict v)
{
	switch (v) {
	case EVH_GATE_IMPROVED: return "improved";
	case EVH_GATE_SMALL_DROP: return "drop within tolerance";
	case EVH_GATE_REGRESSED: return "**REGRESSION**";
	default: return "ok";
	}
}

int evh_gate_markdown(const struct evh_run *base, const struct evh_run *cand, const struct evh_gate_opts *o,
		      const struct evh_gate_result *r, struct evh_buf *b)
{
	int rc = evh_buf_adds(b, "### evalh gate: ");
	rc = rc ? rc : evh_buf_adds(b, r->regression ? "regression\n\n" : "pass\n\n");
	rc = rc ? rc : evh_buf_adds(b, "Baseline `");
	rc = rc ? rc : evh_md_add(b, base->run_id);
	rc = rc ? rc : evh_buf_adds(b, "` (");
	rc = rc ? rc : evh_md_add(b, base->model);
	rc = rc ? rc : evh_buf_adds(b, ") vs candidate `");
	rc = rc ? rc : evh_md_add(b, cand->run_id);
	rc = rc ? rc : evh_buf_adds(b, "` (");
	rc = rc ? rc : evh_md_add(b, cand->model);
	rc = rc ? rc : evh_buf_printf(b, "); alpha %g, max drop %g points.\n\n", o->alpha, o->max_drop);
	rc = rc ? rc : evh_buf_adds(b, "| task | items | baseline | candidate | delta (95% CI), points | p-value | test "
				       "| verdict |\n|---|---:|---:|---:|---:|---:|---|---|\n");
	for (size_t i = 0; i < r->n && rc == EVH_OK; i++) {
		const struct evh_gate_row *w = &r->rows[i];
		rc = evh_buf_adds(b, "| ");
		rc = rc ? rc : evh_md_add(b, w->task);
		rc = rc ? rc : evh_buf_printf(b, " | %zu | %.1f%% | %.1f%% | %+.1f [%+.1f, %+.1f] | %.3g | ", w->items,
					      100 * w->base_acc, 100 * w->cand_acc, 100 * w->delta, 100 * w->ci_lo,
					      100 * w->ci_hi, w->p);
		if (rc == EVH_OK && w->exact)
			rc = evh_buf_printf(b, "McNemar exact (%lu vs %lu)", w->b, w->c);
		else if (rc == EVH_OK)
			rc = evh_buf_printf(b, "paired bootstrap (k=%d/%d, %u resamples)", w->k_base, w->k_cand, o->resamples);
		rc = rc ? rc : evh_buf_printf(b, " | %s |\n", verdict_text(w->verdict));
	}
	if (rc == EVH_OK && r->n > 1)
		rc = evh_buf_adds(b, "\nTask p-values are Holm-adjusted over the tasks; the overall row pools all items.\n");
	if (rc == EVH_OK && r->notes[0]) {
		rc = evh_buf_adds(b, "\n");
		rc = rc ? rc : evh_buf_adds(b, r->notes); /* escaped when noted */
	}
	return rc;
}

/* ---- command line ---------------------------------------------------------------------------- */

static const char usage[] =
	"usage: evalh gate --baseline RUN_DIR --candidate RUN_DIR [--alpha A] [--max-drop POINTS]\n"
	"                  [--tasks T[,T...]] [--task T] [--force] [--resamples N] [--seed S]\n"
	"exit: 0 no significant regression, 1 regression, 2 error or runs not comparable\n";

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "evalh gate: %s: expected a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

int evh_gate_main(int argc, char **argv)
{
	struct evh_gate_opts o;
	evh_gate_opts_defaults(&o);
	const char *base_dir = NULL, *cand_dir = NULL;
	char **tasks = NULL; /* each strdup'd: --tasks lists are split into owned pieces */
	size_t n_tasks = 0;
	int code = EVH_GATE_ERROR;
	struct evh_run base = {0}, cand = {0};
	struct evh_gate_result res = {0};
	struct evh_buf out;
	evh_buf_init(&out, 1u << 20);
	/* argv[0] is the subcommand name, as main.c passes it (getopt's convention). */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			code = EVH_GATE_PASS;
			goto done;
		} else if (strcmp(a, "--force") == 0) {
			o.force = 1;
			continue;
		}
		if (!v || strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "evalh gate: %s '%s'\n%s", v ? "unexpected argument" : "missing value for", a, usage);
			goto done;
		}
		i++;
		if (strcmp(a, "--baseline") == 0) {
			base_dir = v;
		} else if (strcmp(a, "--candidate") == 0) {
			cand_dir = v;
		} else if (strcmp(a, "--alpha") == 0) {
			if (parse_double(a, v, 1e-12, 0.5, &o.alpha))
				goto done;
		} else if (strcmp(a, "--max-drop") == 0) {
			if (parse_double(a, v, 0, 100, &o.max_drop))
				goto done;
		} else if (strcmp(a, "--resamples") == 0) {
			if (parse_double(a, v, 100, 1e7, &x))
				goto done;
			o.resamples = (unsigned)x;
		} else if (strcmp(a, "--seed") == 0) {
			if (parse_double(a, v, 0, 281474976710655.0, &x))
				goto done;
			o.seed = (unsigned long)x;
		} else if (strcmp(a, "--task") == 0 || strcmp(a, "--tasks") == 0) {
			size_t pieces = 1;
			for (const char *q = v; *q; q++)
				pieces += *q == ',';
			char **nt = realloc(tasks, (n_tasks + pieces + 1) * sizeof *nt);
			if (!nt)
				goto nomem;
			tasks = nt;
			for (const char *q = v; *q;) {
				size_t len = strcspn(q, ",");
				if (len && !(tasks[n_tasks++] = strndup(q, len)))
					goto nomem;
				q += len + (q[len] == ',');
			}
		} else {
			fprintf(stderr, "evalh gate: unknown option '%s'\n%s", a, usage);
			goto done;
		}
	}
	if (!base_dir || !cand_dir) {
		fprintf(stderr, "evalh gate: --baseline and --candidate are required\n%s", usage);
		goto done;
	}
	o.tasks = (const char *const *)tasks;
	o.n_tasks = n_tasks;
	struct evh_err err = {0};
	char msg[EVH_ERR_WHERE + EVH_ERR_MSG + 8];
	if (evh_run_load(base_dir, &base, &err) || evh_run_load(cand_dir, &cand, &err)) {
		fprintf(stderr, "evalh gate: %s\n", evh_err_str(&err, msg, sizeof msg));
		goto done;
	}
	if (evh_gate_compare(&base, &cand, &o, &res, &err)) {
		fprintf(stderr, "evalh gate: not comparable: %s\n", err.msg);
		goto done;
	}
	if (evh_gate_markdown(&base, &cand, &o, &res, &out)) {
		fprintf(stderr, "evalh gate: out of memory\n");
		goto done;
	}
	fputs(evh_buf_str(&out), stdout);
	fflush(stdout);
	code = res.regression ? EVH_GATE_REGRESSION : EVH_GATE_PASS;
	goto done;
nomem:
	fprintf(stderr, "evalh gate: out of memory\n");
done:
	evh_gate_result_free(&res);
	evh_run_free(&base);
	evh_run_free(&cand);
	evh_buf_free(&out);
	for (size_t i = 0; i < n_tasks; i++)
		free(tasks[i]);
	free(tasks);
	return code;
}
