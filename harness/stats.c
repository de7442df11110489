/* stats.c — summary statistics of a run; see stats.h. */
#include "harness/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/results.h"
#include "harness/util/buf.h"
#include "harness/util/json.h"
#include "harness/util/jsonl.h"

void evh_wilson(double c, double n, double z, double *lo, double *hi)
{
	if (n <= 0) {
		*lo = 0;
		*hi = 1;
		return;
	}
	double p = c / n, z2 = z * z;
	double den = 1 + z2 / n;
	double mid = (p + z2 / (2 * n)) / den;
	double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den;
	*lo = fmax(0, mid - half);
	*hi = fmin(1, mid + half);
}

double evh_percentile(const double *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	double pos = q / 100.0 * (double)(n - 1);
	size_t i = (size_t)pos;
	if (i + 1 >= n)
		return v[n - 1];
	double f = pos - (double)i;
	return v[i] + (v[i + 1] - v[i]) * f;
}

/* Sample states, in the order summary.json lists them (results.h: evh_sample_state). */
enum state { ST_OK, ST_TRUNCATED, ST_REFUSED, ST_ERROR, ST_TIMEOUT, ST_N };
static const char *const state_names[ST_N] = {"ok", "truncated", "refused", "error", "timeout"};

/* One record as the summary needs it. */
struct rec {
	char *task, *item, *extracted;
	size_t seq; /* line number: later lines replace earlier ones */
	int sample, scored, correct, no_answer, truncated, error, estimated;
	int state; /* enum state */
	double ttft, total, cost;
	long tin, tout, treason;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

static void rec_free(struct rec *r)
{
	free(r->task);
	free(r->item);
	free(r->extracted);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int rec_from_json(const cJSON *o, struct rec *r)
{
	memset(r, 0, sizeof *r);
	const char *task = jstr(o, "task"), *item = jstr(o, "item_id"), *ex = jstr(o, "extracted");
	if (!task || !item)
		return EVH_EFORMAT;
	r->task = strdup(task);
	r->item = strdup(item);
	r->extracted = ex ? strdup(ex) : NULL;
	if (!r->task || !r->item || (ex && !r->extracted))
		return EVH_ENOMEM;
	r->sample = (int)jnum(o, "sample");
	const cJSON *er = cJSON_GetObjectItemCaseSensitive(o, "error");
	r->error = er && !cJSON_IsNull(er);
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "correct");
	r->scored = !r->error && cJSON_IsBool(c);
	r->correct = r->scored && cJSON_IsTrue(c);
	const char *verdict = jstr(o, "verdict"), *fin = jstr(o, "finish_reason");
	r->no_answer = verdict && strcmp(verdict, "no_answer") == 0;
	/* Lines written before states existed carry none: derive it as the writer would have. */
	const char *st = jstr(o, "state");
	if (!st) {
		const char *code = jstr(er, "code");
		st = r->error ? (code && !strcmp(code, "timeout") ? "timeout" : "error") : evh_sample_state(0, fin);
	}
	r->state = ST_OK;
	for (int k = 0; k < ST_N; k++)
		if (!strcmp(st, state_names[k]))
			r->state = k;
	r->truncated = r->state == ST_TRUNCATED;
	r->estimated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "tokens_estimated"));
	r->ttft = jnum(o, "ttft_s");
	r->total = jnum(o, "total_s");
	r->cost = jnum(o, "cost_usd");
	r->tin = (long)jnum(o, "tokens_in");
	r->tout = (long)jnum(o, "tokens_out");
	r->treason = (long)jnum(o, "tokens_reasoning");
	return EVH_OK;
}

int evh_sample_cmp(const char *task_a, const char *item_a, long n_a, const char *task_b, const char *item_b,
		   long n_b)
{
	int c = strcmp(task_a, task_b);
	if (!c)
		c = strcmp(item_a, item_b);
	if (!c)
		c = (n_a > n_b) - (n_a < n_b);
	return c;
}

size_t evh_keep_last(void *v, size_t n, size_t size, int (*by_pos)(const void *, const void *),
		     int (*by_key)(const void *, const void *), void (*drop)(void *))
{
	char *e = v;
	qsort(e, n, size, by_pos);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && by_key(e + i * size, e + (i + 1) * size) == 0) {
			drop(e + i * size);
			continue;
		}
		if (m != i)
			memcpy(e + m * size, e + i * size, size);
		m++;
	}
	return m;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	return evh_sample_cmp(x->task, x->item, x->sample, y->task, y->item, y->sample);
}

static int cmp_rec_seq(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c = cmp_rec(a, b);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int add_record(void *ctx, cJSON **obj, const char *line, size_t len, const char *where, size_t lineno,
		      struct evh_err *err)
{
	(void)line;
	(void)len;
	struct recs *rs = ctx;
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 256;
		struct rec *v = realloc(rs->v, nc * sizeof *v);
		if (!v)
			return evh_err_fail(err, EVH_ENOMEM, where, "records");
		rs->v = v;
		rs->cap = nc;
	}
	int rc = rec_from_json(*obj, &rs->v[rs->n]);
	rs->v[rs->n++].seq = lineno;
	return rc ? evh_err_fail(err, rc, where, "a sample needs \"task\" and \"item_id\"") : EVH_OK;
}

/* Reads every complete line; records keep file order so the last one per key wins below. */
static int read_records(const char *path, struct recs *rs, struct evh_err *err)
{
	return evh_jsonl_each(path, add_record, rs, err);
}

static void drop_rec(void *r)
{
	rec_free(r);
}

/* Keeps the last record of each (task, item, sample); the result stays sorted by task, item, sample. */
static void dedupe(struct recs *rs)
{
	rs->n = evh_keep_last(rs->v, rs->n, sizeof *rs->v, cmp_rec_seq, cmp_rec, drop_rec);
}

/* Statistics of records v[0..n) (sorted by task, item, sample): one task, or all tasks pooled. */
static cJSON *aggregate(const struct rec *v, size_t n)
{
	size_t items = 0, scored = 0, errors = 0, correct = 0, no_answer = 0, truncated = 0, kmax = 0;
	long tin = 0, tout = 0, treason = 0;
	double cost = 0, busy = 0, item_acc_sum = 0, item_acc_sq = 0, cons = 0, passk_sum = 0;
	int estimated = 0;
	size_t scored_items = 0, states[ST_N] = {0}, correct_ok = 0;
	double *ttft = malloc((n + 1) * sizeof *ttft), *total = malloc((n + 1) * sizeof *total);
	size_t nt = 0;
	if (!ttft || !total) {
		free(ttft);
		free(total);
		return NULL;
	}
	for (size_t i = 0; i < n;) {
		/* one item: records i..j share task and item */
		size_t j = i;
		while (j < n && strcmp(v[j].task, v[i].task) == 0 && strcmp(v[j].item, v[i].item) == 0)
			j++;
		items++;
		size_t c = 0, s = 0;
		for (size_t t = i; t < j; t++) {
			const struct rec *r = &v[t];
			states[r->state]++;
			correct_ok += r->state == ST_OK && r->correct;
			if (r->error) {
				errors++;
				continue;
			}
			ttft[nt] = r->ttft;
			total[nt++] = r->total;
			tin += r->tin;
			tout += r->tout;
			treason += r->treason;
			cost += r->cost;
			busy += r->total;
			estimated |= r->estimated;
			truncated += (size_t)r->truncated;
			if (!r->scored)
				continue;
			s++;
			c += (size_t)r->correct;
			no_answer += (size_t)r->no_answer;
		}
		if (s > 0) {
			scored_items++;
			double a = (double)c / (double)s;
			item_acc_sum += a;
			item_acc_sq += a * a;
			if (s > kmax)
				kmax = s;
			/* pass@k with k = s (all samples of the item): 1 when any is correct. */
			passk_sum += c > 0;
			/* cons@k: the most frequent extracted answer, ties to the first seen. */
			size_t best = 0, best_n = 0;
			for (size_t t = i; t < j; t++) {
				if (!v[t].scored || !v[t].extracted)
					continue;
				size_t cnt = 0;
				for (size_t u = i; u < j; u++)
					cnt += v[u].scored && v[u].extracted && strcmp(v[u].extracted, v[t].extracted) == 0;
				if (cnt > best_n) {
					best_n = cnt;
					best = t;
				}
			}
			cons += best_n > 0 && v[best].correct;
		}
		scored += s;
		correct += c;
		i = j;
	}
	cJSON *o = cJSON_CreateObject();
	double acc = scored_items ? item_acc_sum / (double)scored_items : 0, lo, hi;
	if (kmax <= 1) {
		evh_wilson((double)correct, (double)scored, 1.96, &lo, &hi);
	} else {
		/* Items are the unit of replication when each has k samples: normal interval of the mean. */
		double m = (double)scored_items, var = m > 1 ? (item_acc_sq - m * acc * acc) / (m - 1) : 0;
		double half = m > 0 ? 1.96 * sqrt(fmax(var, 0) / m) : 1;
		lo = fmax(0, acc - half);
		hi = fmin(1, acc + half);
	}
	cJSON_AddNumberToObject(o, "items", (double)items);
	cJSON_AddNumberToObject(o, "samples_per_item", (double)kmax);
	cJSON_AddNumberToObject(o, "scored", (double)scored);
	cJSON_AddNumberToObject(o, "errors", (double)errors);
	cJSON_AddNumberToObject(o, "correct", (double)correct);
	cJSON_AddNumberToObject(o, "no_answer", (double)no_answer);
	cJSON_AddNumberToObject(o, "truncated", (double)truncated);
	cJSON_AddNumberToObject(o, "accuracy", acc);
	/* Every sample counted (errors, timeouts and truncations as failures) against only those that
	 * ended on their own: far apart, a token cap or the endpoint decided the score, not the model. */
	cJSON_AddNumberToObject(o, "samples", (double)n);
	cJSON *so = cJSON_AddObjectToObject(o, "states");
	for (int k = 0; k < ST_N; k++)
		cJSON_AddNumberToObject(so, state_names[k], (double)states[k]);
	cJSON_AddNumberToObject(o, "truncation_rate", n ? (double)states[ST_TRUNCATED] / (double)n : 0);
	cJSON_AddNumberToObject(o, "error_rate", n ? (double)(states[ST_ERROR] + states[ST_TIMEOUT]) / (double)n : 0);
	cJSON_AddNumberToObject(o, "accuracy_all", n ? (double)correct / (double)n : 0);
	cJSON_AddNumberToObject(o, "accuracy_completed",
				states[ST_OK] ? (double)correct_ok / (double)states[ST_OK] : 0);
	cJSON *ci = cJSON_AddArrayToObject(o, "ci95");
	cJSON_AddItemToArray(ci, cJSON_CreateNumber(lo));
	cJSON_AddItemToArray(ci, cJSON_CreateNumber(hi));
	cJSON *pk = cJSON_AddObjectToObject(o, "pass_at_k");
	cJSON_AddNumberToObject(pk, "1", acc);
	if (kmax > 1) {
		char key[24];
		snprintf(key, sizeof key, "%zu", kmax);
		cJSON_AddNumberToObject(pk, key, scored_items ? passk_sum / (double)scored_items : 0);
	}
	cJSON_AddNumberToObject(o, "cons_at_k", scored_items ? cons / (double)scored_items : 0);
	qsort(ttft, nt, sizeof *ttft, cmp_double);
	qsort(total, nt, sizeof *total, cmp_double);
	cJSON *lat = cJSON_AddObjectToObject(o, "latency");
	static const double qs[] = {50, 90, 99};
	for (size_t q = 0; q < 3; q++) {
		char key[24];
		snprintf(key, sizeof key, "ttft_p%.0f", qs[q]);
		cJSON_AddNumberToObject(lat, key, evh_percentile(ttft, nt, qs[q]));
		snprintf(key, sizeof key, "total_p%.0f", qs[q]);
		cJSON_AddNumberToObject(lat, key, evh_percentile(total, nt, qs[q]));
	}
	cJSON *tok = cJSON_AddObjectToObject(o, "tokens");
	cJSON_AddNumberToObject(tok, "in", (double)tin);
	cJSON_AddNumberToObject(tok, "out", (double)tout);
	cJSON_AddNumberToObject(tok, "reasoning", (double)treason);
	cJSON_AddBoolToObject(tok, "estimated", estimated);
	/* Per-request generation speed: output tokens over the time requests were in flight. */
	cJSON_AddNumberToObject(o, "output_tokens_per_s", busy > 0 ? (double)tout / busy : 0);
	cJSON_AddNumberToObject(o, "cost_usd", cost);
	cJSON_AddNumberToObject(o, "cost_per_million_tokens",
				tin + tout > 0 ? cost / (double)(tin + tout) * 1e6 : 0);
	free(ttft);
	free(total);
	return o;
}

int evh_summary_compute(const char *samples_path, const char *run_id, const char *model, cJSON **out,
			struct evh_err *err)
{
	*out = NULL;
	struct recs rs = {0};
	int rc = read_records(samples_path, &rs, err);
	if (rc)
		goto done;
	dedupe(&rs);
	cJSON *root = cJSON_CreateObject();
	if (!root) {
		rc = evh_err_fail(err, EVH_ENOMEM, samples_path, "summary");
		goto done;
	}
	cJSON_AddStringToObject(root, "run_id", run_id ? run_id : "");
	cJSON_AddStringToObject(root, "model", model ? model : "");
	cJSON *tasks = cJSON_AddObjectToObject(root, "tasks");
	for (size_t i = 0; i < rs.n;) {
		size_t j = i;
		while (j < rs.n && strcmp(rs.v[j].task, rs.v[i].task) == 0)
			j++;
		cJSON *t = aggregate(rs.v + i, j - i);
		if (!t) {
			cJSON_Delete(root);
			rc = evh_err_fail(err, EVH_ENOMEM, samples_path, "summary");
			goto done;
		}
		cJSON_AddItemToObject(tasks, rs.v[i].task, t);
		i = j;
	}
	cJSON *all = aggregate(rs.v, rs.n);
	if (!all) {
		cJSON_Delete(root);
		rc = evh_err_fail(err, EVH_ENOMEM, samples_path, "summary");
		goto done;
	}
	cJSON_AddItemToObject(root, "overall", all);
	*out = root;
done:
	for (size_t i = 0; i < rs.n; i++)
		rec_free(&rs.v[i]);
	free(rs.v);
	return rc;
}
