/* provider_engine.c — requests served by the built-in engine; see provider_engine.h. */
#include "harness/provider_engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "harness/progress.h"

/* Requests go to one engine batch (continuous batching: every request in flight advances in one
 * batched step) with as many slots as the runner has workers, so --concurrency N is batch size N.
 * One batch, never two: a model split over ranks has one communication group, which two batches'
 * schedulers stepping at once would interleave. */
struct engine_ctx {
	struct eng_model *model;
	struct eng_batch *batch;
};

/* The one place engine codes become harness codes (curl's easy_perform mapping). */
static int map_code(int eng_code)
{
	switch (eng_code) {
	case ENG_OK:
		return EVH_OK;
	case ENG_ENOMEM:
		return EVH_ENOMEM;
	case ENG_EIO:
		return EVH_EIO;
	case ENG_ELIMIT:
		return EVH_ELIMIT;
	case ENG_EUNSUPPORTED:
		return EVH_EUNSUPPORTED;
	case ENG_EFORMAT:
		return EVH_EFORMAT;
	default:
		return EVH_EENGINE;
	}
}

/* One request's wait for its on_done. */
struct wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc, skipped;
	struct eng_gen_result g; /* text copied */
	struct eng_err ee;
};

static void on_done(void *ctx, int rc, const struct eng_gen_result *res, const struct eng_err *err)
{
	struct wait *w = ctx;
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	if (err)
		w->ee = *err;
	if (!rc && !res) {
		w->skipped = 1;
	} else if (!rc) {
		w->g = *res;
		if (!(w->g.text = strdup(res->text ? res->text : "")))
			w->rc = ENG_ENOMEM;
	}
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int stop_on_cancel(void *ctx, const char *piece, size_t len)
{
	(void)ctx;
	(void)piece;
	(void)len;
	return evh_provider_cancelled();
}

/* The DeepSeek-R1 template opens the reasoning in the prompt, so the completion is
 * "reasoning</think>answer": split it the way the API's reasoning_content does. */
static int split_reasoning(const char *text, struct evh_response *r)
{
	const char *end = strstr(text, "</think>");
	if (!end) {
		r->text = strdup(text);
		return r->text ? EVH_OK : EVH_ENOMEM;
	}
	const char *ans = end + strlen("</think>");
	while (*ans == '\n' || *ans == ' ')
		ans++;
	r->reasoning = strndup(text, (size_t)(end - text));
	r->text = strdup(ans);
	return r->reasoning && r->text ? EVH_OK : EVH_ENOMEM;
}

static int engine_complete(struct evh_provider *p, const struct evh_request *rq, struct evh_response *resp,
			   struct evh_err *err)
{
	struct engine_ctx *c = p->ctx;
	memset(resp, 0, sizeof *resp);
	resp->attempts = 1;
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	if (rq->temperature >= 0)
		o.temperature = (float)rq->temperature;
	if (rq->top_p > 0)
		o.top_p = (float)rq->top_p;
	if (rq->max_tokens > 0)
		o.max_tokens = rq->max_tokens;
	if (rq->has_seed)
		o.seed = rq->seed;
	struct wait w = {.done = 0};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	struct eng_batch_req br = {.system = rq->system, .user = rq->user, .opts = o, .on_token = stop_on_cancel,
				   .on_done = on_done, .ctx = &w};
	struct eng_err ee = {0};
	double t0 = evh_now();
	int rc = eng_batch_submit(c->batch, &br, &ee);
	if (rc == ENG_OK) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		rc = w.rc;
		ee = w.ee;
	}
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	struct eng_gen_result g = w.g;
	/* A cancel stops generation through the callback, which the engine reports as a normal stop
	 * (or skips a request still queued): the partial answer must not be scored. */
	if (!rc && (w.skipped || evh_provider_cancelled())) {
		eng_gen_result_free(&g);
		return evh_err_fail(err, EVH_ENET, "engine", "request cancelled");
	}
	if (rc) {
		eng_gen_result_free(&g);
		return evh_err_fail(err, map_code(rc), "engine", "%s", ee.msg[0] ? ee.msg : eng_strerror(rc));
	}
	rc = split_reasoning(g.text ? g.text : "", resp);
	resp->finish_reason = strdup(g.finish == ENG_FINISH_LENGTH ? "length" : "stop");
	resp->tokens_in = g.n_prompt;
	resp->tokens_out = g.n_completion;
	resp->tokens_reasoning = g.n_reasoning;
	/* Wall time includes any wait for a slot; the engine's own times start at admission. gpu_s is
	 * the request's share of the batched steps, so requests sharing a step split its cost. */
	double wall = evh_now() - t0, queued = wall > g.total_s ? wall - g.total_s : 0;
	resp->ttft_s = g.ttft_s + queued;
	resp->total_s = wall;
	resp->gpu_s = g.compute_s > 0 ? g.compute_s : wall;
	eng_gen_result_free(&g);
	if (rc || !resp->finish_reason) {
		evh_response_free(resp);
		return evh_err_fail(err, EVH_ENOMEM, "engine", "response");
	}
	return EVH_OK;
}

static void engine_free(struct evh_provider *p)
{
	if (!p)
		return;
	struct engine_ctx *c = p->ctx;
	if (c) {
		eng_batch_free(c->batch);
		eng_model_free(c->model);
		free(c);
	}
	free(p);
}

int evh_engine_provider_create(const char *path, int slots, const struct eng_par_opts *par,
				struct evh_provider **out, struct evh_err *err)
{
	*out = NULL;
	struct evh_provider *p = calloc(1, sizeof *p);
	struct engine_ctx *c = calloc(1, sizeof *c);
	if (!p || !c) {
		free(p);
		free(c);
		return evh_err_fail(err, EVH_ENOMEM, path, "engine provider");
	}
	p->name = "engine";
	p->complete = engine_complete;
	p->free = engine_free;
	p->ctx = c;
	struct eng_err ee = {0};
	/* The batch queues what exceeds its slots, so a too-small guess only delays, never refuses. */
	int rc = eng_model_load_parallel(path, par, &c->model, &ee);
	if (rc == ENG_OK)
		rc = eng_batch_create(c->model, slots < 1 ? 1 : slots > 1024 ? 1024 : slots, 1000000, &c->batch, &ee);
	if (rc) {
		engine_free(p);
		return evh_err_fail(err, map_code(rc), path, "%s", ee.msg[0] ? ee.msg : eng_strerror(rc));
	}
	*out = p;
	return EVH_OK;
}

const char *evh_engine_provider_arch(const struct evh_provider *p)
{
	const struct engine_ctx *c = p->ctx;
	return eng_model_arch(c->model);
}
