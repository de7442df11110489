/* provider_anthropic.c — POST /messages to Anthropic's API, stream or not, with retries; see
 * provider_anthropic.h. Sections: configuration, request body, events and bodies, the retry loop. */
#include "harness/provider_anthropic.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "harness/aimd.h"
#include "harness/http.h"
#include "harness/sse.h"
#include "harness/util/buf.h"

/* The API version this client speaks (Anthropic: "Versioning"). */
#define ANTHROPIC_VERSION "2023-06-01"

/* ---------------------------------------------------------------- configuration */

struct an {
	struct evh_provider prov;
	struct evh_http_pool *pool;
	char *url, *base, *model_id, *key_env;
	int stream, thinking_budget, default_max_tokens;
	struct evh_retry retry;
};

static int an_complete(struct evh_provider *p, const struct evh_request *rq, struct evh_response *resp,
		       struct evh_err *err);

static void an_free(struct evh_provider *p)
{
	if (!p)
		return;
	struct an *a = p->ctx;
	evh_http_pool_free(a->pool);
	free(a->url);
	free(a->base);
	free(a->model_id);
	free(a->key_env);
	free(a);
}

int evh_anthropic_create(const struct evh_anthropic_cfg *cfg, struct evh_provider **out, struct evh_err *err)
{
	*out = NULL;
	if (!cfg->base_url || !*cfg->base_url)
		return evh_err_fail(err, EVH_EMISUSE, "base_url", "anthropic provider: base_url is empty");
	if (!cfg->model_id || !*cfg->model_id)
		return evh_err_fail(err, EVH_EMISUSE, "model_id", "anthropic provider: model_id is empty");
	if (cfg->retry.max_attempts < 1 || cfg->thinking_budget < 0)
		return evh_err_fail(err, EVH_EMISUSE, "retry", "anthropic provider: max_attempts must be >= 1");
	struct an *a = calloc(1, sizeof *a);
	if (!a)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "anthropic provider: out of memory");
	int rc = EVH_OK;
	size_t bl = strlen(cfg->base_url);
	while (bl && cfg->base_url[bl - 1] == '/')
		bl--;
	a->base = strndup(cfg->base_url, bl);
	if (!a->base || asprintf(&a->url, "%s/messages", a->base) < 0)
		a->url = NULL;
	a->model_id = strdup(cfg->model_id);
	if (cfg->api_key_env && *cfg->api_key_env)
		a->key_env = strdup(cfg->api_key_env);
	if (!a->url || !a->model_id || (cfg->api_key_env && *cfg->api_key_env && !a->key_env)) {
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "anthropic provider: out of memory");
		goto fail;
	}
	a->stream = cfg->stream;
	a->thinking_budget = cfg->thinking_budget;
	a->default_max_tokens = cfg->default_max_tokens > 0 ? cfg->default_max_tokens : 4096;
	a->retry = cfg->retry;
	if ((rc = evh_http_pool_create(&a->pool, err)))
		goto fail;
	a->prov.name = "anthropic";
	a->prov.complete = an_complete;
	a->prov.free = an_free;
	a->prov.ctx = a;
	*out = &a->prov;
	return EVH_OK;
fail:
	a->prov.ctx = a;
	an_free(&a->prov);
	return rc;
}

/* ---------------------------------------------------------------- request body */

static char *build_body(const struct an *a, const struct evh_request *rq, int max_tokens)
{
	cJSON *b = cJSON_CreateObject(), *msgs = NULL, *m = NULL;
	int ok = b && cJSON_AddStringToObject(b, "model", a->model_id) &&
		 cJSON_AddNumberToObject(b, "max_tokens", max_tokens) && (msgs = cJSON_AddArrayToObject(b, "messages")) &&
		 (m = cJSON_CreateObject()) && cJSON_AddItemToArray(msgs, m) && cJSON_AddStringToObject(m, "role", "user") &&
		 cJSON_AddStringToObject(m, "content", rq->user ? rq->user : "");
	if (ok && rq->system && *rq->system)
		ok = cJSON_AddStringToObject(b, "system", rq->system) != NULL;
	if (ok && a->thinking_budget > 0) {
		cJSON *t = cJSON_AddObjectToObject(b, "thinking");
		ok = t && cJSON_AddStringToObject(t, "type", "enabled") &&
		     cJSON_AddNumberToObject(t, "budget_tokens", a->thinking_budget);
		/* Extended thinking takes no temperature other than 1, and top_p only from 0.95 up. */
		if (ok && rq->top_p >= 0.95)
			ok = cJSON_AddNumberToObject(b, "top_p", rq->top_p) != NULL;
	} else {
		if (ok && rq->temperature >= 0)
			ok = cJSON_AddNumberToObject(b, "temperature", fmin(rq->temperature, 1.0)) != NULL;
		if (ok && rq->top_p >= 0)
			ok = cJSON_AddNumberToObject(b, "top_p", rq->top_p) != NULL;
	}
	if (ok && a->stream)
		ok = cJSON_AddTrueToObject(b, "stream") != NULL;
	char *s = ok ? cJSON_PrintUnformatted(b) : NULL;
	cJSON_Delete(b);
	return s;
}

/* ---------------------------------------------------------------- events and bodies */

struct acc {
	const struct an *a;
	struct evh_sse sse;
	struct evh_buf text, reasoning;
	char *stop_reason, *model;
	long tokens_in, tokens_out, tokens_cached;
	int have_usage, saw_stop, server_error;
	double t0, ttft;
	struct evh_err err;
};

static long num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (long)v->valuedouble : 0;
}

static void take_usage(struct acc *c, const cJSON *u)
{
	if (!cJSON_IsObject(u))
		return;
	/* input_tokens excludes cache reads and writes: the prompt is all three. */
	if (cJSON_HasObjectItem(u, "input_tokens")) {
		c->tokens_cached = num(u, "cache_read_input_tokens");
		c->tokens_in = num(u, "input_tokens") + c->tokens_cached + num(u, "cache_creation_input_tokens");
	}
	if (cJSON_HasObjectItem(u, "output_tokens"))
		c->tokens_out = num(u, "output_tokens"); /* cumulative in message_delta */
	c->have_usage = 1;
}

static void keep(char **dst, const cJSON *v)
{
	if (cJSON_IsString(v)) {
		free(*dst);
		*dst = strdup(v->valuestring);
	}
}

static int add(struct acc *c, struct evh_buf *b, const cJSON *v)
{
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return EVH_OK;
	if (c->ttft < 0)
		c->ttft = evh_http_now() - c->t0;
	int rc = evh_buf_adds(b, v->valuestring);
	return rc ? evh_err_fail(&c->err, rc, c->a->url, "response longer than %u bytes", (unsigned)EVH_LIMIT_TEXT) : EVH_OK;
}

/* A content block, whole (non-streamed body, content_block_start) or as a delta. */
static int take_block(struct acc *c, const cJSON *blk)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(blk, "type"));
	if (!t)
		return EVH_OK;
	if (!strcmp(t, "thinking") || !strcmp(t, "thinking_delta"))
		return add(c, &c->reasoning, cJSON_GetObjectItemCaseSensitive(blk, "thinking"));
	if (!strcmp(t, "text") || !strcmp(t, "text_delta"))
		return add(c, &c->text, cJSON_GetObjectItemCaseSensitive(blk, "text"));
	return EVH_OK; /* signature_delta, redacted_thinking, tool use: not part of an answer */
}

static const char *error_message(const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
	return m ? m : cJSON_IsObject(e) ? "(error without a message)" : NULL;
}

static int take_event(struct acc *c, const cJSON *j)
{
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "type"));
	if (!type)
		return evh_err_fail(&c->err, EVH_EFORMAT, c->a->url, "stream event %zu has no \"type\"", c->sse.events);
	if (!strcmp(type, "message_start")) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		keep(&c->model, cJSON_GetObjectItemCaseSensitive(m, "model"));
		take_usage(c, cJSON_GetObjectItemCaseSensitive(m, "usage"));
	} else if (!strcmp(type, "content_block_start")) {
		return take_block(c, cJSON_GetObjectItemCaseSensitive(j, "content_block"));
	} else if (!strcmp(type, "content_block_delta")) {
		return take_block(c, cJSON_GetObjectItemCaseSensitive(j, "delta"));
	} else if (!strcmp(type, "message_delta")) {
		keep(&c->stop_reason, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "delta"), "stop_reason"));
		take_usage(c, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	} else if (!strcmp(type, "message_stop")) {
		c->saw_stop = 1;
	} else if (!strcmp(type, "error")) {
		c->server_error = 1;
		return evh_err_fail(&c->err, EVH_EHTTP, c->a->url, "server reported an error mid-stream: %s",
				    error_message(j));
	}
	return EVH_OK; /* ping, content_block_stop, and event types added later */
}

static int on_event(void *ctx, const char *event, const char *data, size_t len, struct evh_err *err)
{
	struct acc *c = ctx;
	cJSON *j = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return evh_err_fail(&c->err, EVH_EFORMAT, c->a->url, "stream event %zu (%s) is not a JSON object",
				    c->sse.events, event[0] ? event : "message");
	}
	int rc = take_event(c, j);
	cJSON_Delete(j);
	return rc;
}

static int on_data(void *ctx, const char *p, size_t n)
{
	struct acc *c = ctx;
	return evh_sse_feed(&c->sse, p, n, &c->err);
}

static int take_body(struct acc *c, const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content");
	int rc = EVH_OK;
	if (!cJSON_IsObject(j) || !cJSON_IsArray(content)) {
		const char *em = j ? error_message(j) : NULL;
		c->server_error = em != NULL;
		rc = evh_err_fail(&c->err, em ? EVH_EHTTP : EVH_EFORMAT, c->a->url, "%s%s",
				  em ? "server reported an error: " : "response is not a message (no \"content\" array)",
				  em ? em : "");
	} else {
		const cJSON *blk;
		cJSON_ArrayForEach(blk, content) if (!rc) rc = take_block(c, blk);
		keep(&c->model, cJSON_GetObjectItemCaseSensitive(j, "model"));
		keep(&c->stop_reason, cJSON_GetObjectItemCaseSensitive(j, "stop_reason"));
		take_usage(c, cJSON_GetObjectItemCaseSensitive(j, "usage"));
		c->saw_stop = 1;
	}
	cJSON_Delete(j);
	return rc;
}

/* ---------------------------------------------------------------- one attempt, the retry loop */

enum verdict { DONE, RETRY, FAIL };

static enum verdict attempt(struct acc *c, const char *body, const char *const *hdrs, struct evh_http_res *res,
			    struct evh_err *err)
{
	const struct an *a = c->a;
	struct evh_http_req hr = {
		.url = a->url, .body = body, .body_len = strlen(body), .headers = hdrs,
		.timeout_s = a->retry.timeout_s, .connect_timeout_s = a->retry.connect_timeout_s,
		.stall_s = a->stream ? a->retry.stall_s : 0, .stream_type = "text/event-stream",
		.on_data = a->stream ? on_data : NULL, .ctx = c,
	};
	int rc = evh_http_post(a->pool, &hr, res, err);
	if (c->err.code) {
		evh_err_fail(err, c->err.code, c->err.where, "%s", c->err.msg);
		return c->server_error ? RETRY : FAIL;
	}
	if (rc)
		return (res->cancelled || rc == EVH_ELIMIT || rc == EVH_ENOMEM) ? FAIL : RETRY;
	if (res->status / 100 != 2) {
		cJSON *j = cJSON_ParseWithLength(evh_buf_str(&res->body), res->body.len);
		const char *em = j ? error_message(j) : NULL;
		evh_err_fail(err, EVH_EHTTP, a->url, "HTTP %d: %s", res->status,
			     em ? em : res->body.len ? "(not JSON)" : "(empty body)");
		cJSON_Delete(j);
		int s = res->status;
		return (s == 408 || s == 429 || s >= 500) ? RETRY : FAIL;
	}
	if (res->streamed)
		rc = evh_sse_finish(&c->sse, &c->err);
	else if (!strncasecmp(res->content_type, "text/event-stream", 17)) {
		rc = evh_sse_feed(&c->sse, evh_buf_str(&res->body), res->body.len, &c->err);
		if (!rc)
			rc = evh_sse_finish(&c->sse, &c->err);
	} else
		rc = take_body(c, evh_buf_str(&res->body), res->body.len);
	if (rc) {
		evh_err_fail(err, c->err.code, c->err.where, "%s", c->err.msg);
		return c->server_error ? RETRY : FAIL;
	}
	if (!c->saw_stop) {
		evh_err_fail(err, EVH_ENET, a->url, "stream ended before message_stop after %zu events", c->sse.events);
		return RETRY;
	}
	return DONE;
}

/* Full jitter, as the OpenAI provider. */
static double backoff(const struct evh_retry *r, int k)
{
	static _Thread_local uint64_t s;
	if (!s)
		s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s;
	s = s * 6364136223846793005ULL + 1442695040888963407ULL;
	double cap = fmin(r->backoff_max_s, r->backoff_base_s * ldexp(1.0, k < 60 ? k : 60));
	return cap * (double)(s >> 11) * 0x1p-53;
}

static int nap(double s)
{
	double end = evh_http_now() + s;
	while (!evh_provider_cancelled()) {
		double left = end - evh_http_now();
		if (left <= 0)
			return 0;
		struct timespec ts = {0, (long)(fmin(left, 0.05) * 1e9)};
		nanosleep(&ts, NULL);
	}
	return 1;
}

static void scrub(char *s, const char *key)
{
	size_t kl = key ? strlen(key) : 0;
	if (kl < 3)
		return;
	for (char *p = s; (p = strstr(p, key)); p += kl)
		memset(p, '*', kl);
}

static int an_complete(struct evh_provider *p, const struct evh_request *rq, struct evh_response *resp,
		       struct evh_err *err)
{
	struct an *a = p->ctx;
	memset(resp, 0, sizeof *resp);
	int max_tokens = rq->max_tokens > 0 ? rq->max_tokens : a->default_max_tokens;
	if (a->thinking_budget > 0 && a->thinking_budget >= max_tokens)
		return evh_err_fail(err, EVH_EMISUSE, "--reasoning-budget",
				    "the thinking budget (%d) must be below max tokens (%d)", a->thinking_budget, max_tokens);
	const char *key = NULL;
	if (a->key_env && (!(key = getenv(a->key_env)) || !*key))
		return evh_err_fail(err, EVH_EMISUSE, a->key_env, "API key variable %s is not set in the environment",
				    a->key_env);
	char *body = build_body(a, rq, max_tokens), *xkey = NULL;
	if (!body || (key && asprintf(&xkey, "x-api-key: %s", key) < 0)) {
		free(body);
		return evh_err_fail(err, EVH_ENOMEM, a->url, "out of memory building the request");
	}
	const char *hdrs[] = {"Content-Type: application/json", "anthropic-version: " ANTHROPIC_VERSION,
			      a->stream ? "Accept: text/event-stream" : "Accept: application/json", xkey, NULL};
	int rc = EVH_OK;
	struct evh_err last = {0};
	for (int k = 1;; k++) {
		struct acc c = {.a = a, .t0 = evh_http_now(), .ttft = -1};
		evh_sse_init(&c.sse, on_event, &c);
		evh_buf_init(&c.text, EVH_LIMIT_TEXT);
		evh_buf_init(&c.reasoning, EVH_LIMIT_TEXT);
		struct evh_http_res res;
		evh_http_res_init(&res);
		evh_err_clear(&last);
		int slot = evh_aimd_acquire(a->base);
		enum verdict v = attempt(&c, body, hdrs, &res, &last);
		evh_aimd_release(slot, res.status, res.retry_after_s);
		resp->attempts = k;
		resp->http_status = res.status;
		if (v == DONE) {
			rc = EVH_OK; /* an earlier attempt's failure no longer counts */
			resp->text = evh_buf_take(&c.text);
			if (!resp->text)
				resp->text = strdup("");
			resp->reasoning = c.reasoning.len ? evh_buf_take(&c.reasoning) : NULL;
			resp->finish_reason = c.stop_reason;
			resp->model = c.model;
			c.stop_reason = c.model = NULL;
			resp->tokens_in = c.tokens_in;
			resp->tokens_out = c.tokens_out;
			resp->tokens_cached = c.tokens_cached;
			if (resp->reasoning) {
				long est = (long)(strlen(resp->reasoning) + 3) / 4;
				resp->tokens_reasoning = est < resp->tokens_out ? est : resp->tokens_out;
				resp->tokens_estimated = 1;
			}
			if (!c.have_usage) {
				resp->tokens_in = (long)(strlen(rq->user ? rq->user : "") + 3) / 4;
				resp->tokens_out = (long)(strlen(resp->text) + 3) / 4 + resp->tokens_reasoning;
				resp->tokens_estimated = 1;
			}
			resp->total_s = evh_http_now() - c.t0;
			resp->ttft_s = res.streamed && c.ttft >= 0 ? c.ttft : resp->total_s;
			if (!resp->text)
				rc = evh_err_fail(&last, EVH_ENOMEM, a->url, "out of memory");
		}
		double wait = -1;
		if (v == RETRY && k < a->retry.max_attempts) {
			wait = backoff(&a->retry, k - 1);
			if (res.retry_after_s >= 0 && (res.status == 429 || res.status == 503 || res.status == 529))
				wait = fmin(res.retry_after_s, a->retry.backoff_max_s);
		}
		evh_sse_fini(&c.sse);
		evh_buf_free(&c.text);
		evh_buf_free(&c.reasoning);
		free(c.stop_reason);
		free(c.model);
		evh_http_res_fini(&res);
		if (v == DONE)
			break;
		rc = last.code ? last.code : EVH_EINTERNAL;
		if (wait < 0)
			break;
		if (nap(wait)) {
			evh_err_clear(&last);
			rc = evh_err_fail(&last, EVH_ENET, a->url, "request cancelled while waiting to retry");
			break;
		}
	}
	if (rc && resp->attempts > 1)
		evh_err_prefix(&last, "gave up after %d attempts: ", resp->attempts);
	if (rc) {
		scrub(last.msg, key);
		scrub(last.where, key);
		evh_err_fail(err, last.code, last.where, "%s", last.msg);
		int attempts = resp->attempts, status = resp->http_status;
		evh_response_free(resp);
		resp->attempts = attempts;
		resp->http_status = status;
	}
	if (xkey) {
		explicit_bzero(xkey, strlen(xkey));
		free(xkey);
	}
	free(body);
	return rc;
}
