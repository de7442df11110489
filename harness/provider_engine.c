/* provider_engine.c — requests served by the built-in engine; see provider_engine.h. */
#include "harness/provider_engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "harness/progress.h"

/* Requests go to an engine batch (continuous batching: every request in flight advances in one
 * batched step), so the runner's --concurrency N becomes batch size N. The provider is not told N:
 * it counts requests in flight and, when they outnumber the batch's slots, opens a batch twice as
 * large (or as large as the count) for new requests; the outgrown one finishes what it runs and is
 * freed by its last request. After the runner's first round the batch has N slots. */
struct pool {
	struct eng_batch *b;
	int slots, in_flight;
	struct pool *next; /* outgrown pools still running requests */
};

struct engine_ctx {
	struct eng_model *model;
	pthread_mutex_t mu;
	struct pool *cur, *old;
	int busy; /* requests in flight over all pools */
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

static void pool_free(struct pool *p)
{
	if (!p)
		return;
	eng_batch_free(p->b);
	free(p);
}

/* The pool a new request goes to, grown as described above; NULL with err set when there is none. */
static struct pool *pool_enter(struct engine_ctx *c, struct evh_err *err)
{
	struct eng_err ee = {0};
	struct pool *drop = NULL, *p = NULL;
	pthread_mutex_lock(&c->mu);
	c->busy++;
	if (!c->cur || (c->busy > c->cur->slots && c->cur->slots < 1024)) {
		int want = c->cur ? (c->busy > 2 * c->cur->slots ? c->busy : 2 * c->cur->slots) : 1;
		struct pool *np = calloc(1, sizeof *np);
		want = want > 1024 ? 1024 : want;
		if (np && eng_batch_create(c->model, want, 1000000, &np->b, &ee) == ENG_OK) {
			np->slots = want;
			if (c->cur && c->cur->in_flight == 0) {
				drop = c->cur;
			} else if (c->cur) {
				c->cur->next = c->old;
				c->old = c->cur;
			}
			c->cur = np;
		} else {
			free(np); /* keep queueing on the current batch, if any */
		}
	}
	if ((p = c->cur))
		p->in_flight++;
	else
		c->busy--;
	pthread_mutex_unlock(&c->mu);
	pool_free(drop);
	if (!p)
		evh_err_fail(err, map_code(ee.code ? ee.code : ENG_ENOMEM), "engine", "%s",
			     ee.msg[0] ? ee.msg : "cannot create the engine batch");
	return p;
}

static void pool_leave(struct engine_ctx *c, struct pool *p)
{
	struct pool *drop = NULL;
	pthread_mutex_lock(&c->mu);
	c->busy--;
	if (--p->in_flight == 0 && p != c->cur) {
		for (struct pool **q = &c->old; *q; q = &(*q)->next)
			if (*q == p) {
				*q = p->next;
				drop = p;
				break;
			}
	}
	pthread_mutex_unlock(&c->mu);
	pool_free(drop); /* on this worker's thread, never the batch's own */
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
	struct pool *pl = pool_enter(c, err);
	if (!pl)
		return err ? err->code : EVH_EENGINE;
	struct wait w = {.done = 0};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	struct eng_batch_req br = {.system = rq->system, .user = rq->user, .opts = o, .on_token = stop_on_cancel,
				   .on_done = on_done, .ctx = &w};
	struct eng_err ee = {0};
	double t0 = evh_now();
	int rc = eng_batch_submit(pl->b, &br, &ee);
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
	pool_leave(c, pl);
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
		pool_free(c->cur);
		while (c->old) {
			struct pool *n = c->old->next;
			pool_free(c->old);
			c->old = n;
		}
		eng_model_free(c->model);
		pthread_mutex_destroy(&c->mu);
		free(c);
	}
	free(p);
}

int evh_engine_provider_create(const char *path, struct evh_provider **out, struct evh_err *err)
{
	*out = NULL;
	struct evh_provider *p = calloc(1, sizeof *p);
	struct engine_ctx *c = calloc(1, sizeof *c);
	if (!p || !c) {
		free(p);
		free(c);
		return evh_err_fail(err, EVH_ENOMEM, path, "engine provider");
	}
	pthread_mutex_init(&c->mu, NULL);
	p->name = "engine";
	p->complete = engine_complete;
	p->free = engine_free;
	p->ctx = c;
	struct eng_err ee = {0};
	int rc = eng_model_load(path, &c->model, &ee);
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
