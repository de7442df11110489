/* provider_anthropic.c — POST /messages to Anthropic's API, stream or not, with retries; see
 * provider_anthropic.h. Sections: configuration, request body, events and bodies, one attempt and the
 * response; the retry loop is provider_remote.c's. */
#include "harness/provider_anthropic.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/http.h"
#include "harness/provider_remote.h"
#include "harness/sse.h"
#include "harness/util/buf.h"

/* The API version this client speaks (Anthropic: "Versioning"). */
#define ANTHROPIC_VERSION "2023-06-01"

/* ---------------------------------------------------------------- configuration */

struct an {
	struct evh_provider prov;
	struct evh_http_pool *pool;
	char *url, *base, *model_id, *key_env;
	int stream, thinking_budget, default_max_tokens, adaptive;
	char *effort;
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
	free(a->effort);
	free(a);
}

int evh_anthropic_adaptive(const char *id)
{
	if (!id)
		return 0;
	if (strstr(id, "fable") || strstr(id, "mythos"))
		return 1;
	/* claude-<family>-<major>[-<minor>], e.g. claude-sonnet-5, claude-opus-4-6; dated ids
	 * (claude-sonnet-4-5-20250929) carry the date after the minor. */
	static const char *const fam[] = {"claude-opus-", "claude-sonnet-", "claude-haiku-"};
	for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
		const char *p = strstr(id, fam[i]);
		if (!p)
			continue;
		char *end;
		long major = strtol(p + strlen(fam[i]), &end, 10), minor = 0;
		if (end == p + strlen(fam[i]))
			return 0;
		if (*end == '-' && end[1] >= '0' && end[1] <= '9' && (end[2] == '\0' || end[2] == '-'))
			minor = end[1] - '0';
		return major >= 5 || (major == 4 && minor >= 6);
	}
	return 0;
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
	a->adaptive = cfg->adaptive;
	a->thinking_budget = cfg->adaptive ? 0 : cfg->thinking_budget;
	if (cfg->adaptive && cfg->effort && !(a->effort = strdup(cfg->effort))) {
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "anthropic provider: out of memory");
		goto fail;
	}
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
	if (ok && a->adaptive) {
		/* The current models choose how much to think; a budget or non-default sampling is a
		 * 400 there, so none is sent. */
		cJSON *t = cJSON_AddObjectToObject(b, "thinking");
		ok = t && cJSON_AddStringToObject(t, "type", "adaptive");
		if (ok && a->effort) {
			cJSON *oc = cJSON_AddObjectToObject(b, "output_config");
			ok = oc && cJSON_AddStringToObject(oc, "effort", a->effort);
		}
	} else if (ok && a->thinking_budget > 0) {
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

/* ---------------------------------------------------------------- one attempt, the response */

static enum evh_attempt attempt(struct acc *c, const char *body, const char *const *hdrs, struct evh_http_res *res,
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
		return c->server_error ? EVH_ATTEMPT_RETRY : EVH_ATTEMPT_FAIL;
	}
	if (rc)
		return (res->cancelled || rc == EVH_ELIMIT || rc == EVH_ENOMEM) ? EVH_ATTEMPT_FAIL : EVH_ATTEMPT_RETRY;
	if (res->status / 100 != 2) {
		cJSON *j = cJSON_ParseWithLength(evh_buf_str(&res->body), res->body.len);
		const char *em = j ? error_message(j) : NULL;
		evh_err_fail(err, EVH_EHTTP, a->url, "HTTP %d: %s", res->status,
			     em ? em : res->body.len ? "(not JSON)" : "(empty body)");
		cJSON_Delete(j);
		int s = res->status;
		return (s == 408 || s == 429 || s >= 500) ? EVH_ATTEMPT_RETRY : EVH_ATTEMPT_FAIL;
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
		return c->server_error ? EVH_ATTEMPT_RETRY : EVH_ATTEMPT_FAIL;
	}
	if (!c->saw_stop) {
		evh_err_fail(err, EVH_ENET, a->url, "stream ended before message_stop after %zu events", c->sse.events);
		return EVH_ATTEMPT_RETRY;
	}
	return EVH_ATTEMPT_DONE;
}

/* What every attempt of one request shares. */
struct call {
	const struct an *a;
	const struct evh_request *rq;
	const char *body;
	const char *const *hdrs;
};

/* Moves what the attempt gathered into resp. */
static int fill_response(const struct evh_request *rq, struct acc *c, struct evh_response *resp, struct evh_err *err)
{
	resp->text = evh_buf_take(&c->text);
	if (!resp->text)
		resp->text = strdup("");
	resp->reasoning = c->reasoning.len ? evh_buf_take(&c->reasoning) : NULL;
	resp->finish_reason = c->stop_reason;
	resp->model = c->model;
	c->stop_reason = c->model = NULL;
	resp->tokens_in = c->tokens_in;
	resp->tokens_out = c->tokens_out;
	resp->tokens_cached = c->tokens_cached;
	if (resp->reasoning) {
		long est = (long)(strlen(resp->reasoning) + 3) / 4;
		resp->tokens_reasoning = est < resp->tokens_out ? est : resp->tokens_out;
		resp->tokens_estimated = 1;
	}
	if (!resp->text)
		return evh_err_fail(err, EVH_ENOMEM, c->a->url, "out of memory");
	if (!c->have_usage) {
		resp->tokens_in = (long)(strlen(rq->user ? rq->user : "") + 3) / 4;
		resp->tokens_out = (long)(strlen(resp->text) + 3) / 4 + resp->tokens_reasoning;
		resp->tokens_estimated = 1;
	}
	return EVH_OK;
}

static enum evh_attempt one_attempt(void *ctx, double t0, struct evh_http_res *res, struct evh_response *resp,
				    struct evh_err *err)
{
	const struct call *k = ctx;
	struct acc c = {.a = k->a, .t0 = t0, .ttft = -1};
	evh_sse_init(&c.sse, on_event, &c);
	evh_buf_init(&c.text, EVH_LIMIT_TEXT);
	evh_buf_init(&c.reasoning, EVH_LIMIT_TEXT);
	enum evh_attempt v = attempt(&c, k->body, k->hdrs, res, err);
	if (v == EVH_ATTEMPT_DONE) {
		if (fill_response(k->rq, &c, resp, err))
			v = EVH_ATTEMPT_FAIL;
		resp->ttft_s = c.ttft;
	}
	evh_sse_fini(&c.sse);
	evh_buf_free(&c.text);
	evh_buf_free(&c.reasoning);
	free(c.stop_reason);
	free(c.model);
	return v;
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
	const char *key;
	char *xkey;
	int rc = evh_remote_key(a->key_env, "x-api-key: %s", a->url, &key, &xkey, err);
	if (rc)
		return rc;
	char *body = build_body(a, rq, max_tokens);
	if (!body) {
		evh_remote_key_free(xkey);
		return evh_err_fail(err, EVH_ENOMEM, a->url, "out of memory building the request");
	}
	const char *hdrs[] = {"Content-Type: application/json", "anthropic-version: " ANTHROPIC_VERSION,
			      a->stream ? "Accept: text/event-stream" : "Accept: application/json", xkey, NULL};
	struct call k = {.a = a, .rq = rq, .body = body, .hdrs = hdrs};
	/* 529 is Anthropic's "overloaded_error". */
	struct evh_remote_call run = {.url = a->url, .limiter = a->base, .retry = &a->retry, .key = key,
				      .overloaded_status = 529, .attempt = one_attempt, .ctx = &k};
	rc = evh_remote_run(&run, resp, err);
	evh_remote_key_free(xkey);
	free(body);
	return rc;
}
