/* runner.c — the job queue and its workers; see runner.h. */
#include "harness/runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
}

int evh_run_opts_check(const struct evh_run_opts *o, struct evh_err *err)
{
	if (o->samples < 1 || o->samples > 1024)
		return evh_err_fail(err, EVH_EMISUSE, "--samples", "expected 1..1024, got %d", o->samples);
	if (o->concurrency < 1 || o->concurrency > 1024)
		return evh_err_fail(err, EVH_EMISUSE, "--concurrency", "expected 1..1024, got %d", o->concurrency);
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
};

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

static double pick(double opt, double model_default)
{
	return opt >= 0 ? opt : model_default;
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

	int rc = pack_render_prompt(task->pack, it, &prompt, &err);
	if (!rc) {
		evh_hash_hex(prompt, s.prompt_hash);
		struct evh_request rq = {
			.system = o->system_prompt ? o->system_prompt : man->system_prompt,
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

static void *worker(void *arg)
{
	struct run *run = arg;
	for (;;) {
		pthread_mutex_lock(&run->mu);
		int stop = run->fatal || evh_provider_cancelled() || run->next >= run->n_jobs;
		size_t i = run->next++;
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
	for (size_t t = 0; t < n_tasks; t++) {
		size_t n = pack_count(tasks[t].pack);
		if (o->limit && o->limit < n)
			n = o->limit;
		cap += n * (size_t)o->samples;
	}
	run.jobs = calloc(cap ? cap : 1, sizeof *run.jobs);
	if (!run.jobs)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "job list of %zu", cap);
	/* Sample-major order: every item's first sample before any second one, so an interrupted
	 * k-sample run still covers all items. */
	for (int s = 0; s < o->samples; s++) {
		for (size_t t = 0; t < n_tasks; t++) {
			size_t n = pack_count(tasks[t].pack);
			if (o->limit && o->limit < n)
				n = o->limit;
			for (size_t i = 0; i < n; i++) {
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
	int nw = o->concurrency;
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
	totals->interrupted = evh_provider_cancelled() || totals->skipped + totals->done < totals->jobs;
	pthread_mutex_destroy(&run.mu);
	free(th);
	free(run.jobs);
	return rc;
}
