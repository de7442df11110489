/* provider_engine.c — requests served by the built-in engine; see provider_engine.h. */
#include "harness/provider_engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "harness/progress.h"

struct engine_ctx {
	struct eng_model *model;
	pthread_mutex_t mu;
	struct eng_session **free_list; /* idle sessions, reused so KV buffers are allocated once */
	size_t n_free, cap;
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

static struct eng_session *session_get(struct engine_ctx *c, struct evh_err *err)
{
	struct eng_session *s = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->n_free)
		s = c->free_list[--c->n_free];
	pthread_mutex_unlock(&c->mu);
	if (s)
		return s;
	struct eng_err ee = {0};
	if (eng_session_create(c->model, &s, &ee)) {
		evh_err_fail(err, map_code(ee.code), "engine", "%s", ee.msg);
		return NULL;
	}
	return s;
}

static void session_put(struct engine_ctx *c, struct eng_session *s)
{
	pthread_mutex_lock(&c->mu);
	if (c->n_free == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct eng_session **v = realloc(c->free_list, cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&c->mu);
			eng_session_free(s);
			return;
		}
		c->free_list = v;
		c->cap = cap;
	}
	c->free_list[c->n_free++] = s;
	pthread_mutex_unlock(&c->mu);
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
	struct eng_session *s = session_get(c, err);
	if (!s)
		return err ? err->code : EVH_EENGINE;
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
	struct eng_gen_result g = {0};
	struct eng_err ee = {0};
	double t0 = evh_now();
	int rc = eng_chat(s, rq->system, rq->user, &o, stop_on_cancel, NULL, &g, &ee);
	session_put(c, s);
	/* A cancel stops generation through the callback, which eng_chat reports as a normal stop: the
	 * partial answer must not be scored. */
	if (!rc && evh_provider_cancelled()) {
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
	resp->ttft_s = g.ttft_s;
	resp->total_s = g.total_s > 0 ? g.total_s : evh_now() - t0;
	resp->gpu_s = resp->total_s;
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
		for (size_t i = 0; i < c->n_free; i++)
			eng_session_free(c->free_list[i]);
		free(c->free_list);
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
