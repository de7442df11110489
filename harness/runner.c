/* runner.c — the job queue and its workers; see runner.h. */
#include "harness/runner.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/aimd.h"
#include "harness/progress.h"
#include "scorers/scorer.h"

void evh_run_opts_defaults(struct evh_run_opts *o)
{
	memset(o, 0, sizeof *o);
	o->samples = 1;
	o->temperature = -1;
	o->top_p = -1;
	o->max_tokens = 0;
	o->concurrency = 4;
	o->seed = 1234;
	o->subsample_seed = 20250120; /* fixed, so that --limit alone gives every model the same items */
}

int evh_run_opts_check(const struct evh_run_opts *o, struct evh_err *err)
{
	if (o->samples < 1 || o->samples > 1024)
		return evh_err_fail(err, EVH_EMISUSE, "--samples", "expected 1..1024, got %d", o->samples);
	if (o->concurrency < 1 || o->concurrency > 1024)
		return evh_err_fail(err, EVH_EMISUSE, "--concurrency", "expected 1..1024, got %d", o->concurrency);
	if (o->max_concurrency > 1024)
		return evh_err_fail(err, EVH_EMISUSE, "--max-concurrency", "expected at most 1024, got %d",
				    o->max_concurrency);
	if (o->max_cost_usd < 0 || o->max_time_s < 0)
		return evh_err_fail(err, EVH_EMISUSE, o->max_cost_usd < 0 ? "--max-cost" : "--max-time",
				    "a budget must not be negative");
	if (o->temperature > 2.0)
		return evh_err_fail(err, EVH_EMISUSE, "--temperature", "expected 0..2, got %g", o->temperature);
	if (o->top_p > 1.0 || (o->top_p >= 0 && o->top_p == 0))
		return evh_err_fail(err, EVH_EMISUSE, "--top-p", "expected (0, 1], got %g", o->top_p);
	return EVH_OK;
}

struct job {
	size_t task, item;
	int sample;
};

struct run {
	const struct evh_run_opts *o;
	struct evh_provider *prov;
	const struct evh_model *model;
	const struct evh_task *tasks;
	struct evh_results *res;
	struct job *jobs;
	size_t n_jobs, next;
	pthread_mutex_t mu;
	struct evh_run_totals *t;
	struct evh_progress prog;
	int fatal;
	struct evh_err fatal_err;
	double t_start;
};

int evh_status_is_fatal(int status)
{
	return status == 400 || status == 401 || status == 402 || status == 403 || status == 404 || status == 422;
}

/* Records why the run stops; the first reason wins. Under run->mu. */
static void stop_run(struct run *run, int why, const char *msg)
{
	if (run->t->stop)
		return;
	run->t->stop = why;
	snprintf(run->t->stop_msg, sizeof run->t->stop_msg, "%s", msg ? msg : "");
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The request seed depends on the run seed, the item and the sample only, so a resumed or
 * reordered run sends the same seed for the same sample. */
static uint64_t request_seed(uint64_t seed, const char *task, const char *item, int sample)
{
	uint64_t h = evh_hash64(task, strlen(task), 0xcbf29ce484222325ULL);
	h = evh_hash64("/", 1, h);
	h = evh_hash64(item, strlen(item), h);
	return splitmix64(seed ^ splitmix64(h + (uint64_t)sample)) & 0x7fffffffffffULL;
}

static double cost_of(const struct evh_model *m, const struct evh_response *r)
{
	if (strcmp(m->provider, "engine") == 0)
		return r->gpu_s * m->gpu_hour_price / 3600.0;
	double cached_price = m->price_cached_in >= 0 ? m->price_cached_in : m->price_in;
	long fresh = r->tokens_in - r->tokens_cached;
	if (fresh < 0)
		fresh = 0;
	return ((double)fresh * m->price_in + (double)r->tokens_cached * cached_price +
		(double)r->tokens_out * m->price_out) /
	       1e6;
}

static size_t n_items(const struct evh_task *t)
{
	return t->items ? t->n_items : pack_count(t->pack);
}

static double pick(double opt, double model_default)
{
	return opt >= 0 ? opt : model_default;
}

int evh_runner_prompt(const struct evh_run_opts *o, const struct evh_task *task, const struct pack_item *it,
		      char **user, const char **system, struct evh_err *err)
{
	const struct pack_manifest *man = pack_manifest(task->pack);
	*system = o->system_prompt ? o->system_prompt : man->system_prompt;
	int rc = pack_render_prompt(task->pack, it, user, err);
	if (!rc && o->math_instruction && !strcmp(man->domain, "math")) {
		char *p2 = NULL;
		if (asprintf(&p2, "%s\n%s", *user, o->math_instruction) < 0)
			p2 = NULL;
		free(*user);
		*user = p2;
		if (!p2)
			rc = evh_err_fail(err, EVH_ENOMEM, NULL, "prompt");
	}
	return rc;
}

static void run_job(struct run *run, const struct job *jb)
{
	const struct evh_run_opts *o = run->o;
	const struct evh_task *task = &run->tasks[jb->task];
	const struct pack_item *it = pack_item_at(task->pack, jb->item);
	const struct pack_manifest *man = pack_manifest(task->pack);
	struct evh_err err = {0};
	struct evh_response resp = {0};
	struct scr_result sr = {0};
	struct evh_sample s = {0};
	char *prompt = NULL;
	s.task = task->name;
	s.item_id = it->id;
	s.sample = jb->sample;
	s.gold = it->answer;
	s.correct = -1;

	const char *system = NULL;
	int rc = evh_runner_prompt(o, task, it, &prompt, &system, &err);
	if (!rc) {
		evh_hash_hex(prompt, s.prompt_hash);
		struct evh_request rq = {
			.system = system,
			.user = prompt,
			.temperature = pick(o->temperature, run->model->temperature),
			.top_p = pick(o->top_p, run->model->top_p),
			.max_tokens = o->max_tokens > 0 ? o->max_tokens : run->model->max_tokens,
			.seed = request_seed(o->seed, task->name, it->id, jb->sample),
			.has_seed = 1,
		};
		rc = run->prov->complete(run->prov, &rq, &resp, &err);
	}
	/* A cancelled request is not recorded: --resume does it again. */
	if (rc && evh_provider_cancelled()) {
		free(prompt);
		evh_response_free(&resp);
		return;
	}
	if (!rc) {
		s.response = resp.text;
		s.reasoning = resp.reasoning;
		s.finish_reason = resp.finish_reason;
		s.tokens_in = resp.tokens_in;
		s.tokens_out = resp.tokens_out;
		s.tokens_reasoning = resp.tokens_reasoning;
		s.tokens_cached = resp.tokens_cached;
		s.tokens_estimated = resp.tokens_estimated;
		s.ttft_s = resp.ttft_s;
		s.total_s = resp.total_s;
		s.cost_usd = cost_of(run->model, &resp);
		struct scr_gold gold = {
			.answer = it->answer,
			.choices = (const char **)it->choices,
			.n_choices = it->n_choices,
			.tests = it->tests,
			.item_json = it->json,
		};
		rc = scr_score(man->scorer, man->scorer_options, resp.text, resp.reasoning, &gold, &sr, &err);
		if (!rc) {
			s.verdict = scr_verdict_name(sr.verdict);
			s.correct = scr_is_correct(sr.verdict);
			s.extracted = sr.extracted;
			s.rule = sr.rule;
			s.detail = sr.detail;
		} else {
			evh_err_prefix(&err, "scorer %s: ", man->scorer);
		}
	}
	s.http_status = resp.http_status;
	s.attempts = resp.attempts;
	char msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
	if (rc) {
		s.error_code = rc;
		s.error_msg = evh_err_str(&err, msg, sizeof msg);
	}
	s.state = evh_sample_state(s.error_code, s.finish_reason);
	/* Retrying cannot fix these: stop before the rest of the pack burns on them. */
	int fatal = (rc == EVH_EHTTP && evh_status_is_fatal(resp.http_status)) || rc == EVH_EMISUSE;
	struct evh_err werr = {0};
	int wrc = evh_results_append(run->res, &s, &werr);

	pthread_mutex_lock(&run->mu);
	if (wrc && !run->fatal) {
		run->fatal = wrc;
		run->fatal_err = werr;
	}
	struct evh_run_totals *t = run->t;
	t->done++;
	t->errors += rc != 0;
	t->truncated += !strcmp(s.state, "truncated");
	if (fatal)
		stop_run(run, EVH_STOP_FATAL, msg);
	t->scored += s.correct >= 0;
	t->correct += s.correct == 1;
	t->cost_usd += s.cost_usd;
	t->tokens_out += s.tokens_out;
	evh_progress_update(&run->prog, t->skipped + t->done, t->correct, t->scored, t->errors, t->tokens_out,
			    t->cost_usd, 0);
	pthread_mutex_unlock(&run->mu);

	free(prompt);
	scr_result_free(&sr);
	evh_response_free(&resp);
}

/* Checks the budgets before a job is taken; under run->mu. In-flight requests finish and are
 * recorded, so a budget is overrun by at most what they cost. */
static int budget_left(struct run *run)
{
	const struct evh_run_opts *o = run->o;
	char msg[160];
	if (o->max_cost_usd > 0 && run->t->cost_usd >= o->max_cost_usd) {
		snprintf(msg, sizeof msg, "--max-cost %.4g USD reached (spent %.4f USD)", o->max_cost_usd,
			 run->t->cost_usd);
		stop_run(run, EVH_STOP_COST, msg);
		return 0;
	}
	if (o->max_time_s > 0 && evh_now() - run->t_start >= o->max_time_s) {
		snprintf(msg, sizeof msg, "--max-time %.0f s reached", o->max_time_s);
		stop_run(run, EVH_STOP_TIME, msg);
		return 0;
	}
	return 1;
}

static void *worker(void *arg)
{
	struct run *run = arg;
	for (;;) {
		pthread_mutex_lock(&run->mu);
		int stop = run->fatal || run->t->stop || evh_provider_cancelled() || run->next >= run->n_jobs ||
			   !budget_left(run);
		size_t i = run->next++;
		if (run->o->endpoint)
			run->prog.concurrency = evh_aimd_limit(run->o->endpoint);
		pthread_mutex_unlock(&run->mu);
		if (stop)
			break;
		run_job(run, &run->jobs[i]);
	}
	return NULL;
}

int evh_runner_run(const struct evh_run_opts *o, struct evh_provider *prov, const struct evh_model *model,
		   const struct evh_task *tasks, size_t n_tasks, struct evh_results *res, struct evh_run_totals *totals,
		   struct evh_err *err)
{
	memset(totals, 0, sizeof *totals);
	struct run run = {.o = o, .prov = prov, .model = model, .tasks = tasks, .res = res, .t = totals};
	size_t cap = 0;
	int kmax = 0;
	for (size_t t = 0; t < n_tasks; t++) {
		int k = tasks[t].samples > 0 ? tasks[t].samples : o->samples;
		cap += n_items(&tasks[t]) * (size_t)k;
		if (k > kmax)
			kmax = k;
	}
	run.jobs = calloc(cap ? cap : 1, sizeof *run.jobs);
	if (!run.jobs)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "job list of %zu", cap);
	/* Sample-major order: every item's first sample before any second one, so an interrupted
	 * k-sample run still covers all items. */
	for (int s = 0; s < kmax; s++) {
		for (size_t t = 0; t < n_tasks; t++) {
			if (s >= (tasks[t].samples > 0 ? tasks[t].samples : o->samples))
				continue;
			size_t n = n_items(&tasks[t]);
			for (size_t j = 0; j < n; j++) {
				size_t i = tasks[t].items ? tasks[t].items[j] : j;
				totals->jobs++;
				if (evh_results_done(res, tasks[t].name, pack_item_at(tasks[t].pack, i)->id, s)) {
					totals->skipped++;
					continue;
				}
				run.jobs[run.n_jobs++] = (struct job){t, i, s};
			}
		}
	}
	pthread_mutex_init(&run.mu, NULL);
	evh_progress_init(&run.prog, stderr, totals->jobs, o->quiet);
	run.t_start = evh_now();
	int nw = o->concurrency;
	/* With an adaptive limit, as many workers as the ceiling; the limiter decides how many of them
	 * have a request in flight. */
	if (o->endpoint) {
		int ceiling = o->max_concurrency > nw ? o->max_concurrency : nw;
		struct evh_aimd_cfg ac;
		evh_aimd_cfg_defaults(&ac, o->concurrency, ceiling);
		if (evh_aimd_setup(o->endpoint, &ac) == EVH_OK)
			nw = ceiling;
	}
	if ((size_t)nw > run.n_jobs)
		nw = run.n_jobs ? (int)run.n_jobs : 1;
	pthread_t *th = calloc((size_t)nw, sizeof *th);
	int started = 0, rc = EVH_OK;
	if (!th) {
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "workers");
	} else {
		for (; started < nw; started++)
			if (pthread_create(&th[started], NULL, worker, &run) != 0)
				break;
		if (started == 0)
			rc = evh_err_fail(err, EVH_EINTERNAL, NULL, "cannot start worker threads");
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
	}
	evh_progress_update(&run.prog, totals->skipped + totals->done, totals->correct, totals->scored,
			    totals->errors, totals->tokens_out, totals->cost_usd, 1);
	evh_progress_end(&run.prog);
	if (!rc && run.fatal) {
		rc = run.fatal;
		*err = run.fatal_err;
	}
	if (evh_provider_cancelled())
		stop_run(&run, EVH_STOP_CANCELLED, "interrupted");
	totals->interrupted = totals->stop != EVH_STOP_NONE || totals->skipped + totals->done < totals->jobs;
	if (totals->interrupted && !totals->stop)
		stop_run(&run, EVH_STOP_CANCELLED, "interrupted");
	evh_aimd_reset_all();
	pthread_mutex_destroy(&run.mu);
	free(th);
	free(run.jobs);
	return rc;
}

/* ---- the --limit subset ---------------------------------------------------------------------- */

struct pick {
	size_t idx;
	char *stratum;   /* "subject=..|level=..": the item's values of the stratifying fields */
	uint64_t order;  /* seeded hash of the id: the draw order within the stratum */
};

static int cmp_pick(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;
	int c = strcmp(x->stratum, y->stratum);
	if (c)
		return c;
	return (x->order > y->order) - (x->order < y->order);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* The stratum of one item from its JSON line. Values of any JSON type count, printed compactly. */
static char *stratum_of(const struct pack_item *it)
{
	static const char *const fields[] = {"subject", "level", "domain", "difficulty"};
	cJSON *j = it->json ? cJSON_Parse(it->json) : NULL;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
	char *out = strdup("");
	for (size_t f = 0; out && f < sizeof fields / sizeof fields[0]; f++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, fields[f]);
		if (!v)
			v = cJSON_GetObjectItemCaseSensitive(meta, fields[f]);
		if (!v || cJSON_IsNull(v))
			continue;
		char *vs = cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v);
		char *n = NULL;
		if (!vs || asprintf(&n, "%s%s=%s|", out, fields[f], vs) < 0)
			n = NULL;
		free(vs);
		free(out);
		out = n;
	}
	cJSON_Delete(j);
	return out;
}

int evh_subsample(const struct pack *p, size_t limit, uint64_t seed, size_t **out, size_t *n_out,
		  struct evh_err *err)
{
	size_t n = pack_count(p);
	*out = NULL;
	*n_out = 0;
	if (!limit || limit > n)
		limit = n;
	size_t *sel = malloc((limit ? limit : 1) * sizeof *sel);
	struct pick *v = calloc(n ? n : 1, sizeof *v);
	int rc = EVH_OK;
	if (!sel || !v) {
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "subset of %zu items", n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *id = pack_item_at(p, i)->id;
		v[i].idx = i;
		v[i].order = splitmix64(seed ^ splitmix64(evh_hash64(id, strlen(id), 0xcbf29ce484222325ULL)));
		if (!(v[i].stratum = stratum_of(pack_item_at(p, i)))) {
			rc = evh_err_fail(err, EVH_ENOMEM, NULL, "subset of %zu items", n);
			goto out;
		}
	}
	qsort(v, n, sizeof *v, cmp_pick);
	/* Proportional allocation, the remainder to the strata with the largest fractional shares
	 * (Hamilton's method; ties to the stratum that sorts first). */
	size_t n_str = 0;
	for (size_t i = 0; i < n; i++)
		n_str += i == 0 || strcmp(v[i].stratum, v[i - 1].stratum) != 0;
	size_t *start = calloc(n_str + 1, sizeof *start), *take = calloc(n_str + 1, sizeof *take);
	double *frac = calloc(n_str + 1, sizeof *frac);
	if (!start || !take || !frac) {
		free(start);
		free(take);
		free(frac);
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "subset of %zu items", n);
		goto out;
	}
	for (size_t i = 0, s = 0; i < n; i++)
		if (i == 0 || strcmp(v[i].stratum, v[i - 1].stratum) != 0)
			start[s++] = i;
	start[n_str] = n;
	size_t given = 0;
	for (size_t s = 0; s < n_str; s++) {
		double share = (double)limit * (double)(start[s + 1] - start[s]) / (double)n;
		take[s] = (size_t)share;
		frac[s] = share - (double)take[s];
		given += take[s];
	}
	while (given < limit) {
		size_t best = n_str;
		for (size_t s = 0; s < n_str; s++)
			if (take[s] < start[s + 1] - start[s] && (best == n_str || frac[s] > frac[best]))
				best = s;
		if (best == n_str)
			break;
		take[best]++;
		frac[best] = -1;
		given++;
	}
	for (size_t s = 0; s < n_str; s++)
		for (size_t i = 0; i < take[s]; i++)
			sel[(*n_out)++] = v[start[s] + i].idx;
	free(start);
	free(take);
	free(frac);
	qsort(sel, *n_out, sizeof *sel, cmp_size);
	*out = sel;
	sel = NULL;
out:
	for (size_t i = 0; v && i < n; i++)
		free(v[i].stratum);
	free(v);
	free(sel);
	if (rc)
		*n_out = 0;
	return rc;
}
