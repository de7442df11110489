/* provider_openai.c — POST /chat/completions to an OpenAI-compatible server, stream or not, with
 * retries; see provider_openai.h. Sections: configuration, request body, response parsing
 * (stream chunks and whole bodies share one accumulator), one attempt, the response; the retry loop
 * is provider_remote.c's. */
#include "harness/provider_openai.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/http.h"
#include "harness/provider_remote.h"
#include "harness/sse.h"
#include "harness/util/buf.h"

/* ---------------------------------------------------------------- configuration */

struct oa {
	struct evh_provider prov;
	struct evh_http_pool *pool;
	char *url;      /* base_url + "/chat/completions" */
	char *base;     /* base_url without trailing '/': the key of the endpoint's limiter (aimd.h) */
	char *model_id;
	char *key_env;  /* NULL: no key */
	int stream;
	struct evh_retry retry;
	long (*count_tokens)(void *ctx, const char *text);
	void *count_ctx;
	cJSON *extra;   /* parsed extra_body or NULL; read-only, so shared by all threads */
};

static int oa_complete(struct evh_provider *p, const struct evh_request *rq, struct evh_response *resp,
		       struct evh_err *err);

static void oa_free(struct evh_provider *p)
{
	if (!p)
		return;
	struct oa *o = p->ctx;
	evh_http_pool_free(o->pool);
	free(o->url);
	free(o->base);
	free(o->model_id);
	free(o->key_env);
	cJSON_Delete(o->extra);
	free(o);
}

int evh_openai_create(const struct evh_openai_cfg *cfg, struct evh_provider **out, struct evh_err *err)
{
	*out = NULL;
	if (!cfg->base_url || !*cfg->base_url)
		return evh_err_fail(err, EVH_EMISUSE, "base_url", "openai provider: base_url is empty");
	if (!cfg->model_id || !*cfg->model_id)
		return evh_err_fail(err, EVH_EMISUSE, "model_id", "openai provider: model_id is empty");
	const struct evh_retry *r = &cfg->retry;
	if (r->max_attempts < 1 || r->timeout_s < 0 || r->connect_timeout_s < 0 || r->stall_s < 0 ||
	    r->backoff_base_s < 0 || r->backoff_max_s < 0)
		return evh_err_fail(err, EVH_EMISUSE, "retry",
				    "openai provider: retry policy needs max_attempts >= 1 and no negative times "
				    "(got max_attempts %d)", r->max_attempts);
	struct oa *o = calloc(1, sizeof *o);
	if (!o)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "openai provider: out of memory");
	int rc = EVH_OK;
	size_t bl = strlen(cfg->base_url);
	while (bl && cfg->base_url[bl - 1] == '/')
		bl--;
	if (!(o->url = malloc(bl + sizeof "/chat/completions")) || !(o->base = strndup(cfg->base_url, bl)) ||
	    !(o->model_id = strdup(cfg->model_id)) ||
	    (cfg->api_key_env && *cfg->api_key_env && !(o->key_env = strdup(cfg->api_key_env)))) {
		rc = evh_err_fail(err, EVH_ENOMEM, NULL, "openai provider: out of memory");
		goto fail;
	}
	memcpy(o->url, cfg->base_url, bl);
	memcpy(o->url + bl, "/chat/completions", sizeof "/chat/completions");
	if (cfg->extra_body) {
		o->extra = cJSON_Parse(cfg->extra_body);
		if (!cJSON_IsObject(o->extra)) {
			rc = evh_err_fail(err, EVH_EMISUSE, "extra_body",
					  "openai provider: extra_body must be a JSON object, got \"%.40s\"",
					  cfg->extra_body);
			goto fail;
		}
	}
	o->stream = cfg->stream;
	o->retry = cfg->retry;
	o->count_tokens = cfg->count_tokens;
	o->count_ctx = cfg->count_ctx;
	if ((rc = evh_http_pool_create(&o->pool, err)))
		goto fail;
	o->prov.name = "openai";
	o->prov.complete = oa_complete;
	o->prov.free = oa_free;
	o->prov.ctx = o;
	*out = &o->prov;
	return EVH_OK;
fail:
	o->prov.ctx = o;
	oa_free(&o->prov);
	return rc;
}

/* ---------------------------------------------------------------- request body */

static int add_message(cJSON *msgs, const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();
	if (!m || !cJSON_AddItemToArray(msgs, m) || !cJSON_AddStringToObject(m, "role", role) ||
	    !cJSON_AddStringToObject(m, "content", content))
		return EVH_ENOMEM;
	return EVH_OK;
}

/* Returns the body as a malloc'd string, or NULL when out of memory. */
static char *build_body(const struct oa *o, const struct evh_request *rq)
{
	cJSON *b = cJSON_CreateObject(), *msgs = NULL;
	int ok = b && cJSON_AddStringToObject(b, "model", o->model_id) &&
		 (msgs = cJSON_AddArrayToObject(b, "messages"));
	if (ok && rq->system && *rq->system)
		ok = add_message(msgs, "system", rq->system) == EVH_OK;
	ok = ok && add_message(msgs, "user", rq->user ? rq->user : "") == EVH_OK;
	if (ok && rq->temperature >= 0)
		ok = cJSON_AddNumberToObject(b, "temperature", rq->temperature) != NULL;
	if (ok && rq->top_p >= 0)
		ok = cJSON_AddNumberToObject(b, "top_p", rq->top_p) != NULL;
	if (ok && rq->max_tokens > 0)
		ok = cJSON_AddNumberToObject(b, "max_tokens", rq->max_tokens) != NULL;
	if (ok && rq->has_seed)
		ok = cJSON_AddNumberToObject(b, "seed", (double)(rq->seed & 0x7fffffffu)) != NULL;
	if (ok && o->stream) {
		cJSON *so;
		ok = cJSON_AddTrueToObject(b, "stream") && (so = cJSON_AddObjectToObject(b, "stream_options")) &&
		     cJSON_AddTrueToObject(so, "include_usage");
	}
	/* OpenAI's reasoning models refuse max_tokens beside max_completion_tokens. */
	if (ok && o->extra && cJSON_HasObjectItem(o->extra, "max_completion_tokens"))
		cJSON_DeleteItemFromObjectCaseSensitive(b, "max_tokens");
	for (cJSON *e = o->extra ? o->extra->child : NULL; ok && e; e = e->next) {
		cJSON *d = cJSON_Duplicate(e, 1);
		ok = d != NULL;
		if (ok && cJSON_HasObjectItem(b, e->string))
			ok = cJSON_ReplaceItemInObjectCaseSensitive(b, e->string, d);
		else if (ok)
			ok = cJSON_AddItemToObject(b, e->string, d);
	}
	char *s = ok ? cJSON_PrintUnformatted(b) : NULL;
	cJSON_Delete(b);
	return s;
}

/* ---------------------------------------------------------------- response parsing */

/* What one attempt has gathered so far, from stream chunks or a whole body. */
struct acc {
	const struct oa *o;
	struct evh_sse sse;
	struct evh_buf text, reasoning;
	char *finish_reason, *model;
	int have_usage;
	long tokens_in, tokens_out, tokens_reasoning, tokens_cached;
	int have_reasoning_tokens;
	int saw_done;
	double t0, ttft;     /* ttft < 0 until the first content or reasoning arrives */
	int server_error;    /* an {"error":...} object arrived with status 200 */
	struct evh_err err;  /* parse failures, reported instead of the transport's */
};

/* Printable prefix of untrusted bytes for an error message: at most 60 bytes, controls as '.'. */
static void sample(char *out, size_t n, const char *p, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len && i < 60 && k + 1 < n; i++)
		out[k++] = (isprint((unsigned char)p[i]) && p[i] != '"') ? p[i] : '.';
	out[k] = '\0';
}

static long get_long(const cJSON *obj, const char *name, int *found)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!cJSON_IsNumber(v))
		return 0;
	if (found)
		*found = 1;
	return v->valuedouble > 0 ? (long)v->valuedouble : 0;
}

static void take_usage(struct acc *a, const cJSON *u)
{
	if (!cJSON_IsObject(u))
		return; /* null in every chunk but the last when include_usage is on */
	int found = 0;
	a->tokens_in = get_long(u, "prompt_tokens", &found);
	a->tokens_out = get_long(u, "completion_tokens", &found);
	a->have_usage = found;
	const cJSON *cd = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
	a->tokens_reasoning = get_long(cd, "reasoning_tokens", &a->have_reasoning_tokens);
	int cached = 0;
	const cJSON *pd = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
	a->tokens_cached = get_long(pd, "cached_tokens", &cached);
	if (!cached) /* DeepSeek's own field for context-cache hits */
		a->tokens_cached = get_long(u, "prompt_cache_hit_tokens", NULL);
}

static int add_text(struct acc *a, struct evh_buf *b, const cJSON *v, const char *field)
{
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return EVH_OK;
	if (a->ttft < 0)
		a->ttft = evh_http_now() - a->t0;
	int rc = evh_buf_adds(b, v->valuestring);
	if (rc == EVH_ELIMIT)
		return evh_err_fail(&a->err, rc, a->o->url, "response %s longer than %u bytes", field,
				    (unsigned)EVH_LIMIT_TEXT);
	if (rc)
		return evh_err_fail(&a->err, rc, a->o->url, "out of memory reading the response");
	return EVH_OK;
}

static void keep_string(char **dst, const cJSON *v)
{
	if (cJSON_IsString(v) && !*dst)
		*dst = strdup(v->valuestring);
}

/* An {"error": ...} object: the message as servers put it (OpenAI/DeepSeek error.message, vLLM
 * message, FastAPI detail, or a bare string). Returns NULL when none. */
static const char *error_message(const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsString(e))
		return e->valuestring;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_IsObject(e) ? e : j, "message");
	if (cJSON_IsString(m))
		return m->valuestring;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
	if (cJSON_IsString(d))
		return d->valuestring;
	return cJSON_IsObject(e) ? "(error without a message)" : NULL;
}

/* One chunk (stream) or one whole response: `delta` names where the text sits. */
static int take_completion(struct acc *a, const cJSON *j, const char *delta)
{
	const char *em = error_message(j);
	if (em && !cJSON_GetObjectItemCaseSensitive(j, "choices")) {
		a->server_error = 1;
		return evh_err_fail(&a->err, EVH_EHTTP, a->o->url, "server reported an error: %s", em);
	}
	keep_string(&a->model, cJSON_GetObjectItemCaseSensitive(j, "model"));
	take_usage(a, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
	if (!cJSON_IsArray(choices))
		return evh_err_fail(&a->err, EVH_EFORMAT, a->o->url, "response has no \"choices\" array");
	const cJSON *c = cJSON_GetArrayItem(choices, 0); /* n = 1: only the first choice exists */
	if (!c)
		return EVH_OK; /* the usage-only last chunk */
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, delta);
	int rc = add_text(a, &a->reasoning, cJSON_GetObjectItemCaseSensitive(m, "reasoning_content"),
			  "reasoning");
	if (!rc)
		rc = add_text(a, &a->reasoning, cJSON_GetObjectItemCaseSensitive(m, "reasoning"), "reasoning");
	if (!rc)
		rc = add_text(a, &a->text, cJSON_GetObjectItemCaseSensitive(m, "content"), "text");
	keep_string(&a->finish_reason, cJSON_GetObjectItemCaseSensitive(c, "finish_reason"));
	return rc;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len, struct evh_err *err)
{
	struct acc *a = ctx;
	if (!strcmp(data, "[DONE]")) {
		a->saw_done = 1;
		return EVH_OK;
	}
	cJSON *j = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		char s[64];
		sample(s, sizeof s, data, len);
		return evh_err_fail(&a->err, EVH_EFORMAT, a->o->url, "stream event %zu is not a JSON object: \"%s\"",
				    a->sse.events, s);
	}
	int rc = take_completion(a, j, "delta");
	cJSON_Delete(j);
	return rc;
}

static int on_data(void *ctx, const char *p, size_t n)
{
	struct acc *a = ctx;
	return evh_sse_feed(&a->sse, p, n, &a->err);
}

static int take_body(struct acc *a, const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		char s[64];
		sample(s, sizeof s, body, len);
		return evh_err_fail(&a->err, EVH_EFORMAT, a->o->url, "response body is not a JSON object (%zu bytes): \"%s\"",
				    len, s);
	}
	int rc = take_completion(a, j, "message");
	cJSON_Delete(j);
	return rc;
}

static void acc_init(struct acc *a, const struct oa *o, double t0)
{
	memset(a, 0, sizeof *a);
	a->o = o;
	evh_sse_init(&a->sse, on_event, a);
	evh_buf_init(&a->text, EVH_LIMIT_TEXT);
	evh_buf_init(&a->reasoning, EVH_LIMIT_TEXT);
	a->t0 = t0;
	a->ttft = -1;
}

static void acc_fini(struct acc *a)
{
	evh_sse_fini(&a->sse);
	evh_buf_free(&a->text);
	evh_buf_free(&a->reasoning);
	free(a->finish_reason);
	free(a->model);
}

/* ---------------------------------------------------------------- one attempt */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

static int retryable_status(int s)
{
	return s == 408 || s == 429 || s >= 500;
}

/* A non-2xx reply: the server's own words when its body is JSON, else the body's first bytes. */
static enum evh_attempt http_error(struct acc *a, const struct evh_http_res *res, struct evh_err *err)
{
	cJSON *j = cJSON_ParseWithLength(evh_buf_str(&res->body), res->body.len);
	const char *em = j ? error_message(j) : NULL;
	char s[64];
	sample(s, sizeof s, evh_buf_str(&res->body), res->body.len);
	const char *phrase = reason_phrase(res->status);
	evh_err_fail(err, EVH_EHTTP, a->o->url, "HTTP %d%s%s: %s", res->status, *phrase ? " " : "", phrase,
		     em ? em : res->body.len ? s : "(empty body)");
	cJSON_Delete(j);
	return retryable_status(res->status) ? EVH_ATTEMPT_RETRY : EVH_ATTEMPT_FAIL;
}

/* Reads the content type once the transfer is complete and parses what the body is. */
static enum evh_attempt finish_ok(struct acc *a, struct evh_http_res *res, struct evh_err *err)
{
	const char *ct = res->content_type;
	int rc;
	if (res->streamed) {
		rc = evh_sse_finish(&a->sse, &a->err);
	} else if (!strncasecmp(ct, "application/json", 16)) {
		/* Also the answer of a server that ignores "stream": true. */
		rc = take_body(a, evh_buf_str(&res->body), res->body.len);
	} else if (!strncasecmp(ct, "text/event-stream", 17)) {
		/* A server that streams although we asked it not to. */
		rc = evh_sse_feed(&a->sse, evh_buf_str(&res->body), res->body.len, &a->err);
		if (!rc)
			rc = evh_sse_finish(&a->sse, &a->err);
		res->streamed = 1;
	} else {
		char s[64];
		sample(s, sizeof s, evh_buf_str(&res->body), res->body.len);
		evh_err_fail(err, EVH_EFORMAT, a->o->url,
			     "expected application/json or text/event-stream, got content type \"%s\" (HTTP %d, %zu bytes): \"%s\"",
			     ct[0] ? ct : "(none)", res->status, res->body.len, s);
		return EVH_ATTEMPT_FAIL;
	}
	if (rc) {
		evh_err_fail(err, a->err.code, a->err.where, "%s", a->err.msg);
		return a->server_error ? EVH_ATTEMPT_RETRY : EVH_ATTEMPT_FAIL;
	}
	if (res->streamed && !a->saw_done && !a->finish_reason) {
		evh_err_fail(err, EVH_ENET, a->o->url,
			     "stream ended early: neither [DONE] nor a finish_reason after %zu events, %zu bytes",
			     a->sse.events, res->body_bytes);
		return EVH_ATTEMPT_RETRY;
	}
	return EVH_ATTEMPT_DONE;
}

static enum evh_attempt attempt(struct acc *a, const struct oa *o, const char *body, const char *const *hdrs,
			    struct evh_http_res *res, struct evh_err *err)
{
	struct evh_http_req hr = {
		.url = o->url,
		.body = body,
		.body_len = strlen(body),
		.headers = hdrs,
		.timeout_s = o->retry.timeout_s,
		.connect_timeout_s = o->retry.connect_timeout_s,
		.stall_s = o->stream ? o->retry.stall_s : 0,
		.stream_type = "text/event-stream",
		.on_data = o->stream ? on_data : NULL,
		.ctx = a,
	};
	int rc = evh_http_post(o->pool, &hr, res, err);
	if (a->err.code) { /* the body was refused while it streamed */
		evh_err_fail(err, a->err.code, a->err.where, "%s", a->err.msg);
		return a->server_error ? EVH_ATTEMPT_RETRY : EVH_ATTEMPT_FAIL;
	}
	if (rc)
		return (res->cancelled || rc == EVH_ELIMIT || rc == EVH_ENOMEM) ? EVH_ATTEMPT_FAIL : EVH_ATTEMPT_RETRY;
	if (res->status / 100 != 2)
		return http_error(a, res, err);
	return finish_ok(a, res, err);
}

/* ---------------------------------------------------------------- the response, the retry loop */

static long estimate(const struct oa *o, const char *text)
{
	if (!text || !*text)
		return 0;
	if (o->count_tokens)
		return o->count_tokens(o->count_ctx, text);
	return (long)((strlen(text) + 3) / 4);
}

/* Moves what the attempt gathered into resp, splitting a leading <think>...</think> off the text. */
static int fill_response(const struct oa *o, const struct evh_request *rq, struct acc *a,
			 struct evh_response *resp, struct evh_err *err)
{
	const char *t = evh_buf_str(&a->text);
	const char *lead = t;
	while (isspace((unsigned char)*lead))
		lead++;
	const char *close = NULL;
	if (!a->reasoning.len && !strncmp(lead, "<think>", 7) && (close = strstr(lead, "</think>"))) {
		const char *rs = lead + 7, *re = close;
		while (rs < re && isspace((unsigned char)*rs))
			rs++;
		while (re > rs && isspace((unsigned char)re[-1]))
			re--;
		const char *after = close + 8;
		while (isspace((unsigned char)*after))
			after++;
		resp->reasoning = strndup(rs, (size_t)(re - rs));
		resp->text = strdup(after);
	} else {
		resp->text = evh_buf_take(&a->text);
		resp->reasoning = a->reasoning.len ? evh_buf_take(&a->reasoning) : NULL;
	}
	if (!resp->text || (close && !resp->reasoning))
		return evh_err_fail(err, EVH_ENOMEM, o->url, "out of memory");
	resp->finish_reason = a->finish_reason;
	resp->model = a->model;
	a->finish_reason = a->model = NULL;
	if (a->have_usage) {
		resp->tokens_in = a->tokens_in;
		resp->tokens_out = a->tokens_out;
		resp->tokens_reasoning = a->tokens_reasoning;
		resp->tokens_cached = a->tokens_cached;
		if (!a->have_reasoning_tokens && resp->reasoning && *resp->reasoning) {
			/* vLLM and llama.cpp count reasoning inside completion_tokens without saying how many. */
			long n = estimate(o, resp->reasoning);
			resp->tokens_reasoning = n < resp->tokens_out ? n : resp->tokens_out;
			resp->tokens_estimated = 1;
		}
	} else {
		resp->tokens_in = estimate(o, rq->system) + estimate(o, rq->user);
		resp->tokens_reasoning = estimate(o, resp->reasoning);
		resp->tokens_out = estimate(o, resp->text) + resp->tokens_reasoning;
		resp->tokens_estimated = 1;
	}
	return EVH_OK;
}

/* What every attempt of one request shares. */
struct call {
	const struct oa *o;
	const struct evh_request *rq;
	const char *body;
	const char *const *hdrs;
};

static enum evh_attempt one_attempt(void *ctx, double t0, struct evh_http_res *res, struct evh_response *resp,
				    struct evh_err *err)
{
	const struct call *c = ctx;
	struct acc a;
	acc_init(&a, c->o, t0);
	enum evh_attempt v = attempt(&a, c->o, c->body, c->hdrs, res, err);
	if (v == EVH_ATTEMPT_DONE) {
		if (fill_response(c->o, c->rq, &a, resp, err))
			v = EVH_ATTEMPT_FAIL;
		resp->ttft_s = a.ttft;
	}
	acc_fini(&a);
	return v;
}

static int oa_complete(struct evh_provider *p, const struct evh_request *rq, struct evh_response *resp,
		       struct evh_err *err)
{
	struct oa *o = p->ctx;
	memset(resp, 0, sizeof *resp);
	const char *key;
	char *auth;
	int rc = evh_remote_key(o->key_env, "Authorization: Bearer %s", o->url, &key, &auth, err);
	if (rc)
		return rc;
	char *body = build_body(o, rq);
	if (!body) {
		evh_remote_key_free(auth);
		return evh_err_fail(err, EVH_ENOMEM, o->url, "out of memory building the request");
	}
	const char *hdrs[] = {"Content-Type: application/json",
			      o->stream ? "Accept: text/event-stream" : "Accept: application/json", auth, NULL};
	struct call c = {.o = o, .rq = rq, .body = body, .hdrs = hdrs};
	struct evh_remote_call run = {.url = o->url, .limiter = o->base, .retry = &o->retry, .key = key,
				      .attempt = one_attempt, .ctx = &c};
	rc = evh_remote_run(&run, resp, err);
	evh_remote_key_free(auth);
	free(body);
	return rc;
}
