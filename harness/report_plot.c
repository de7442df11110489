/* report_plot.c — data files and gnuplot children for the report's charts; see report_plot.h.
 * Everything derived from the runs is computed here (bins, CDFs, the Pareto front) so that the
 * gnuplot scripts in plots/ only draw. */
#include "harness/report_plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report_text.h"
#include "harness/util/buf.h"

#define LABEL_MAX 60 /* bytes of a model or task name shown in a chart */
#define HIST_BINS 20
#define REASONING_BINS 6

/* ---- helpers --------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t evh_report_task_names(const struct evh_run *runs, size_t n, const char ***names)
{
	size_t total = 0, k = 0;
	for (size_t r = 0; r < n; r++)
		total += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(runs[r].summary, "tasks"));
	const char **v = malloc((total + 1) * sizeof *v);
	if (!v)
		return (size_t)-1;
	for (size_t r = 0; r < n; r++) {
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(runs[r].summary, "tasks"))
			if (t->string)
				v[k++] = t->string;
	}
	qsort(v, k, sizeof *v, cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
			v[u++] = v[i];
	*names = v;
	return u;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int write_file(const char *dir, const char *name, const struct evh_buf *b, struct evh_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return evh_err_fail(err, EVH_EIO, path, "cannot write: %s", strerror(errno));
	size_t n = b->len;
	int bad = fwrite(evh_buf_str(b), 1, n, f) != n;
	bad |= fclose(f) != 0;
	return bad ? evh_err_fail(err, EVH_EIO, path, "write failed") : EVH_OK;
}

/* Block header of gnuplot's `index` blocks: two blank lines before every block but the first. */
static int block_start(struct evh_buf *b, size_t *blocks, const char *name)
{
	int rc = *blocks ? evh_buf_adds(b, "\n\n") : 0;
	rc = rc ? rc : evh_gp_add(b, name, LABEL_MAX);
	rc = rc ? rc : evh_buf_adds(b, "\n");
	(*blocks)++;
	return rc;
}

/* Values of one field over a run's samples that succeeded (no error), sorted. */
enum field { F_TOTAL, F_TTFT, F_OUT, F_REASONING };

static double field_of(const struct evh_rsample *s, enum field f)
{
	switch (f) {
	case F_TOTAL: return s->total_s;
	case F_TTFT: return s->ttft_s;
	case F_OUT: return s->tokens_out;
	default: return s->tokens_reasoning;
	}
}

static double *values(const struct evh_run *r, enum field f, size_t *n)
{
	double *v = malloc((r->n + 1) * sizeof *v);
	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		double x = field_of(&r->s[i], f);
		if (!r->s[i].error && isfinite(x))
			v[(*n)++] = x;
	}
	qsort(v, *n, sizeof *v, cmp_double);
	return v;
}

/* ---- the data files -------------------------------------------------------------------------- */

static int data_acc_task(const struct evh_run *runs, size_t n, const char **tasks, size_t nt, struct evh_buf *b,
			 struct evh_buf *tb, size_t *blocks)
{
	int rc = 0;
	for (size_t t = 0; t < nt && !rc; t++) {
		rc = evh_buf_printf(tb, "%zu ", t);
		rc = rc ? rc : evh_gp_add(tb, tasks[t], LABEL_MAX);
		rc = rc ? rc : evh_buf_adds(tb, "\n");
	}
	for (size_t r = 0; r < n && !rc; r++) {
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(runs[r].summary, "tasks");
		size_t rows = 0;
		for (size_t t = 0; t < nt && !rc; t++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(ts, tasks[t]);
			double acc = evh_run_num(s, "accuracy");
			const cJSON *ci = cJSON_GetObjectItemCaseSensitive(s, "ci95");
			double lo = cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)) ? cJSON_GetArrayItem(ci, 0)->valuedouble : acc;
			double hi = cJSON_IsNumber(cJSON_GetArrayItem(ci, 1)) ? cJSON_GetArrayItem(ci, 1)->valuedouble : acc;
			if (!isfinite(acc))
				continue;
			if (rows++ == 0)
				rc = block_start(b, blocks, runs[r].model);
			rc = rc ? rc : evh_buf_printf(b, "%zu %.6g %.6g %.6g\n", t, 100 * acc, 100 * lo, 100 * hi);
		}
	}
	return rc;
}

struct point {
	double cost, acc;
};

static int cmp_point(const void *a, const void *b)
{
	const struct point *x = a, *y = b;
	if (x->cost != y->cost)
		return (x->cost > y->cost) - (x->cost < y->cost);
	return (x->acc < y->acc) - (x->acc > y->acc); /* more accurate first at equal cost */
}

static int data_acc_cost(const struct evh_run *runs, size_t n, struct evh_buf *b, struct evh_buf *pb,
			 size_t *blocks, int *logx)
{
	struct point *pts = malloc((n + 1) * sizeof *pts);
	if (!pts)
		return EVH_ENOMEM;
	size_t np = 0;
	int rc = 0;
	for (size_t r = 0; r < n && !rc; r++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(runs[r].summary, "overall");
		double cost = evh_run_num(o, "cost_per_million_tokens"), acc = evh_run_num(o, "accuracy");
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(o, "ci95");
		if (!isfinite(cost) || !isfinite(acc) || cost < 0)
			continue; /* no price known: the model cannot be placed on a cost axis */
		double lo = cJSON_IsNumber(cJSON_GetArrayItem(ci, 0)) ? cJSON_GetArrayItem(ci, 0)->valuedouble : acc;
		double hi = cJSON_IsNumber(cJSON_GetArrayItem(ci, 1)) ? cJSON_GetArrayItem(ci, 1)->valuedouble : acc;
		rc = block_start(b, blocks, runs[r].model);
		rc = rc ? rc : evh_buf_printf(b, "%.6g %.6g %.6g %.6g\n", cost, 100 * acc, 100 * lo, 100 * hi);
		pts[np++] = (struct point){cost, acc};
	}
	/* Pareto front (lower cost, higher accuracy): walking by cost, a model is on it when it is more
	 * accurate than every cheaper (or equally cheap) one. */
	qsort(pts, np, sizeof *pts, cmp_point);
	double best = -1, lo = INFINITY, hi = 0;
	for (size_t i = 0; i < np && !rc; i++) {
		if (pts[i].acc > best) {
			rc = evh_buf_printf(pb, "%.6g %.6g\n", pts[i].cost, 100 * pts[i].acc);
			best = pts[i].acc;
		}
		lo = fmin(lo, pts[i].cost);
		hi = fmax(hi, pts[i].cost);
	}
	/* A log axis only when the costs span orders of magnitude (API vs local engine) and none is 0. */
	*logx = np > 1 && lo > 0 && hi / lo > 50;
	free(pts);
	return rc;
}

/* One gnuplot block per model that has values of f: `rows` writes the points of its sorted values
 * v[0..m), m > 0 (a model without any gets no block). */
typedef int (*rows_fn)(const double *v, size_t m, const void *ctx, struct evh_buf *b);

static int per_model(const struct evh_run *runs, size_t n, enum field f, rows_fn rows, const void *ctx,
		     struct evh_buf *b, size_t *blocks)
{
	int rc = 0;
	for (size_t r = 0; r < n && !rc; r++) {
		size_t m;
		double *v = values(&runs[r], f, &m);
		if (!v)
			return EVH_ENOMEM;
		if (m)
			rc = block_start(b, blocks, runs[r].model);
		if (m && !rc)
			rc = rows(v, m, ctx, b);
		free(v);
	}
	return rc;
}

static int cdf_rows(const double *v, size_t m, const void *ctx, struct evh_buf *b)
{
	(void)ctx;
	int rc = 0;
	for (size_t i = 0; i < m && !rc; i++)
		rc = evh_buf_printf(b, "%.6g %.6g\n", v[i], (double)(i + 1) / (double)m);
	return rc;
}

static int data_cdf(const struct evh_run *runs, size_t n, enum field f, struct evh_buf *b, size_t *blocks)
{
	return per_model(runs, n, f, cdf_rows, NULL, b, blocks);
}

struct bins {
	double lo, w;
	int n;
};

static int hist_rows(const double *v, size_t m, const void *ctx, struct evh_buf *b)
{
	const struct bins *h = ctx;
	size_t count[HIST_BINS] = {0};
	for (size_t i = 0; i < m; i++) {
		int k = (int)((v[i] - h->lo) / h->w);
		count[k >= h->n ? h->n - 1 : k < 0 ? 0 : k]++;
	}
	int rc = 0;
	for (int k = 0; k < h->n && !rc; k++)
		rc = evh_buf_printf(b, "%.6g %.6g\n", h->lo + (k + 0.5) * h->w, (double)count[k] / (double)m);
	return rc;
}

/* Histograms on bins shared by all models: [lo, hi] over every model's values, HIST_BINS equal
 * bins (fewer for small integer ranges, one per value). All-zero data (a model without reasoning)
 * gives no block: a spike at 0 says nothing. */
static int data_hist(const struct evh_run *runs, size_t n, enum field f, struct evh_buf *b, size_t *blocks)
{
	double lo = INFINITY, hi = -INFINITY;
	for (size_t r = 0; r < n; r++)
		for (size_t i = 0; i < runs[r].n; i++) {
			double x = field_of(&runs[r].s[i], f);
			if (!runs[r].s[i].error && isfinite(x)) {
				lo = fmin(lo, x);
				hi = fmax(hi, x);
			}
		}
	if (!isfinite(lo) || hi <= 0)
		return 0;
	struct bins h = {lo, 0, HIST_BINS};
	if (hi - lo + 1 < h.n)
		h.n = (int)(hi - lo + 1);
	h.w = (hi - lo) / h.n;
	if (h.w <= 0)
		h.w = 1;
	return per_model(runs, n, f, hist_rows, &h, b, blocks);
}

struct scored {
	double reasoning;
	int correct;
};

static int cmp_scored(const void *a, const void *b)
{
	return cmp_double(&((const struct scored *)a)->reasoning, &((const struct scored *)b)->reasoning);
}

static int data_acc_reasoning(const struct evh_run *runs, size_t n, struct evh_buf *b, size_t *blocks)
{
	int rc = 0;
	for (size_t r = 0; r < n && !rc; r++) {
		struct scored *v = malloc((runs[r].n + 1) * sizeof *v);
		if (!v)
			return EVH_ENOMEM;
		size_t m = 0;
		double total = 0;
		for (size_t i = 0; i < runs[r].n; i++) {
			const struct evh_rsample *s = &runs[r].s[i];
			if (s->correct >= 0 && isfinite(s->tokens_reasoning)) {
				v[m++] = (struct scored){s->tokens_reasoning, s->correct};
				total += s->tokens_reasoning;
			}
		}
		if (m == 0 || total == 0) {
			free(v);
			continue;
		}
		qsort(v, m, sizeof *v, cmp_scored);
		/* Equal-count bins, at least 5 samples each so that a point is not a single coin flip. */
		size_t nb = m / 5 < REASONING_BINS ? m / 5 : REASONING_BINS;
		if (nb == 0)
			nb = 1;
		rc = block_start(b, blocks, runs[r].model);
		for (size_t k = 0; k < nb && !rc; k++) {
			size_t a = k * m / nb, e = (k + 1) * m / nb, c = 0;
			double sum = 0;
			for (size_t i = a; i < e; i++) {
				sum += v[i].reasoning;
				c += (size_t)v[i].correct;
			}
			rc = evh_buf_printf(b, "%.6g %.6g %zu\n", sum / (double)(e - a), 100.0 * (double)c / (double)(e - a),
					    e - a);
		}
		free(v);
	}
	return rc;
}

/* ---- gnuplot --------------------------------------------------------------------------------- */

static int plots_dir(char *out, size_t n)
{
	const char *cands[3] = {getenv("EVALH_PLOTS_DIR"), NULL, "plots"};
#ifdef EVALH_DATADIR
	cands[1] = EVALH_DATADIR "/plots";
#endif
	for (int i = 0; i < 3; i++) {
		char probe[PATH_MAX];
		if (!cands[i] || !*cands[i])
			continue;
		snprintf(probe, sizeof probe, "%s/acc_task.gp", cands[i]);
		if (access(probe, R_OK) == 0 && realpath(cands[i], probe) && strlen(probe) < n) {
			memcpy(out, probe, strlen(probe) + 1);
			return 0;
		}
	}
	return -1;
}

/* Runs `gnuplot -c DIR/SCRIPT ARGS...` with OUT_DIR as its working directory, stdout and stderr
 * appended to OUT_DIR/gnuplot.log. Returns the exit status, 127 when gnuplot could not be run. */
static int run_gnuplot(const char *out_dir, const char *script, const char *const *args)
{
	const char *prog = getenv("EVALH_GNUPLOT");
	if (!prog || !*prog)
		prog = "gnuplot";
	const char *argv[12] = {prog, "-c", script};
	size_t k = 3;
	for (size_t i = 0; args[i] && k < 11; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	fflush(NULL); /* the child must not flush the parent's buffered output a second time */
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		if (chdir(out_dir) != 0)
			_exit(126);
		int log = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		execvp(prog, (char *const *)argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int file_nonempty(const char *dir, const char *base, const char *ext)
{
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s%s", dir, base, ext);
	return stat(path, &st) == 0 && st.st_size > 0;
}

static void add_note(struct evh_plots *p, const char *msg)
{
	size_t len = strlen(p->note);
	snprintf(p->note + len, sizeof p->note - len, "%s%s", len ? " " : "", msg);
}

/* ---- all charts ------------------------------------------------------------------------------ */

struct job {
	const char *base, *title, *script, *data, *kind;
	enum { J_ACC_TASK, J_ACC_COST, J_CDF_TOTAL, J_CDF_TTFT, J_HIST_OUT, J_HIST_REASONING, J_ACC_REASONING } what;
};

static const struct job jobs[] = {
	{"acc_task", "Accuracy per task with 95% CI", "acc_task.gp", "acc_task.dat", NULL, J_ACC_TASK},
	{"acc_cost", "Accuracy vs cost per million tokens, Pareto front", "acc_cost.gp", "acc_cost.dat", NULL, J_ACC_COST},
	{"latency_total", "Total latency CDF", "latency_cdf.gp", "latency_total.dat", "total", J_CDF_TOTAL},
	{"latency_ttft", "Time to first token CDF", "latency_cdf.gp", "latency_ttft.dat", "ttft", J_CDF_TTFT},
	{"tokens_out", "Output length distribution", "tokens_hist.gp", "tokens_out.dat", "out", J_HIST_OUT},
	{"tokens_reasoning", "Reasoning length distribution", "tokens_hist.gp", "tokens_reasoning.dat", "reasoning",
	 J_HIST_REASONING},
	{"acc_reasoning", "Accuracy vs reasoning tokens", "acc_reasoning.gp", "acc_reasoning.dat", NULL, J_ACC_REASONING},
};

int evh_report_plots(const struct evh_run *runs, size_t n, const char *out_dir, struct evh_plots *out,
		     struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	const char **tasks = NULL;
	size_t nt = evh_report_task_names(runs, n, &tasks);
	if (nt == (size_t)-1)
		return evh_err_fail(err, EVH_ENOMEM, out_dir, "out of memory");
	char dir[PATH_MAX];
	int have_scripts = plots_dir(dir, sizeof dir) == 0, gnuplot_missing = 0, rc = EVH_OK;
	if (!have_scripts)
		add_note(out, "Charts skipped: the gnuplot scripts (plots/*.gp) were not found; set EVALH_PLOTS_DIR.");
	for (size_t j = 0; j < sizeof jobs / sizeof *jobs && rc == EVH_OK; j++) {
		const struct job *jb = &jobs[j];
		struct evh_chart *c = &out->charts[out->n++];
		c->base = jb->base;
		c->title = jb->title;
		struct evh_buf b, extra;
		evh_buf_init(&b, EVH_LIMIT_BODY);
		evh_buf_init(&extra, EVH_LIMIT_BODY);
		size_t blocks = 0;
		int logx = 0;
		switch (jb->what) {
		case J_ACC_TASK: rc = data_acc_task(runs, n, tasks, nt, &b, &extra, &blocks); break;
		case J_ACC_COST: rc = data_acc_cost(runs, n, &b, &extra, &blocks, &logx); break;
		case J_CDF_TOTAL: rc = data_cdf(runs, n, F_TOTAL, &b, &blocks); break;
		case J_CDF_TTFT: rc = data_cdf(runs, n, F_TTFT, &b, &blocks); break;
		case J_HIST_OUT: rc = data_hist(runs, n, F_OUT, &b, &blocks); break;
		case J_HIST_REASONING: rc = data_hist(runs, n, F_REASONING, &b, &blocks); break;
		case J_ACC_REASONING: rc = data_acc_reasoning(runs, n, &b, &blocks); break;
		}
		if (rc != EVH_OK)
			evh_err_fail(err, rc, out_dir, "building chart data for %s failed", jb->base);
		if (rc == EVH_OK)
			rc = write_file(out_dir, jb->data, &b, err);
		if (rc == EVH_OK && jb->what == J_ACC_TASK)
			rc = write_file(out_dir, "tasks.dat", &extra, err);
		if (rc == EVH_OK && jb->what == J_ACC_COST)
			rc = write_file(out_dir, "pareto.dat", &extra, err);
		evh_buf_free(&b);
		evh_buf_free(&extra);
		if (rc != EVH_OK || !have_scripts || gnuplot_missing)
			continue;
		if (blocks == 0) {
			char msg[200];
			const char *why = jb->what == J_ACC_COST ? "no run has a price"
					  : jb->what == J_HIST_REASONING || jb->what == J_ACC_REASONING
						  ? "no reasoning tokens recorded"
						  : "nothing recorded";
			snprintf(msg, sizeof msg, "Chart %s skipped: no data (%s).", jb->base, why);
			add_note(out, msg);
			continue;
		}
		char script[PATH_MAX + 32], nb[32], arg3[32];
		snprintf(script, sizeof script, "%s/%s", dir, jb->script);
		snprintf(nb, sizeof nb, "%zu", blocks);
		const char *args[5] = {nb, jb->base, NULL, NULL, NULL};
		if (jb->kind) {
			args[2] = jb->data;
			args[3] = jb->kind;
		} else if (jb->what == J_ACC_TASK || jb->what == J_ACC_COST) {
			snprintf(arg3, sizeof arg3, "%zu", jb->what == J_ACC_TASK ? nt : (size_t)logx);
			args[2] = arg3;
		}
		int st = run_gnuplot(out_dir, script, args);
		if (st == 127) {
			gnuplot_missing = 1;
			add_note(out, "Charts skipped: gnuplot could not be run (install gnuplot-nox, or set EVALH_GNUPLOT).");
			continue;
		}
		c->ok = st == 0 && file_nonempty(out_dir, jb->base, ".svg");
		c->png = c->ok && file_nonempty(out_dir, jb->base, ".png");
		if (!c->ok) {
			char msg[200];
			snprintf(msg, sizeof msg, "Chart %s failed (gnuplot exit %d; see gnuplot.log).", jb->base, st);
			add_note(out, msg);
		}
	}
	free(tasks);
	return rc;
}
