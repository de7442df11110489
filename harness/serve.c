/* serve.c — `evalh serve` (serve.h): libmicrohttpd in thread-per-connection mode in front of an
 * eng_batch (engine/batch.c). A connection thread parses and checks the request, submits one
 * engine request per choice and then waits: for the whole answer (non-streaming) or for the next
 * SSE bytes (streaming), polling its socket so that a client that leaves stops its generation and
 * frees its slot. Slot threads run eng_generate and push each piece through the reasoning/stop filter
 * (serve_text.c) into the call's outgoing buffer: one SSE chunk per token, whole UTF-8 characters
 * only (the engine already holds back a partial character).
 *
 * Decisions:
 * - Reasoning is split into reasoning_content by default on /chat/completions (DeepSeek's API does
 *   so for R1, and evalh's client expects it); "reasoning_format": "none" returns the raw text.
 *   Whether the answer starts inside <think> comes from the chat family: DeepSeek-R1's template
 *   opens it in the prompt, ChatML models write "<think>" themselves. /completions returns text.
 * - /completions continues the raw prompt (eng_generate with chat = 0), as vLLM's does.
 * - /chat/completions takes the whole conversation (system, user, assistant turns in any order):
 *   it is rendered here with the model's chat template (eng_chat_render_msgs, the tokenizer kept
 *   from the start) and submitted as a raw prompt, which encodes exactly as the engine's own chat
 *   path would. Earlier assistant turns lose their reasoning where the template drops it
 *   (DeepSeek-R1, Qwen3); an assistant message's "reasoning_content" field is ignored.
 * - "stop" cuts the answer (content), not the reasoning.
 * - /health and errors before the model loads need no key; everything under /v1 does when
 *   --api-key-env is given. The key is compared in constant time and never logged. */
#include "harness/serve.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "harness/cli.h"
#include "harness/registry.h"
#include "harness/serve_int.h"

struct evh_server {
	struct MHD_Daemon *d;
	struct evh_serve_opts o;
	char *model_id, *api_key, *fingerprint;
	struct eng_model *m;
	struct eng_batch *b;
	struct eng_tokenizer *tok; /* the model's, for rendering conversations */
	int family;                /* enum eng_chat_family */
	int start_phase; /* enum evh_srv_phase for a split answer */
	int port;
	atomic_int ready, stopping;
	atomic_ulong seq;
};

void evh_serve_opts_defaults(struct evh_serve_opts *o)
{
	memset(o, 0, sizeof *o);
	o->host = "127.0.0.1";
	o->port = 8000;
	o->threads = 1;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	o->parallel = n > 0 ? (n > 64 ? 64 : (int)n) : 1;
	o->max_queue = 256;
	o->max_body = 1 << 20;
}

/* ---- a generation request in flight --------------------------------------------------------- */

struct choice {
	struct call *c;
	int index, first_sent, done, finish; /* finish: enum eng_finish */
	long n_completion, n_reasoning;
	struct evh_srv_text t;
	size_t sent_r, sent_c; /* released bytes already written as chunks */
};

/* Shared by the connection thread and the slot threads running its choices: freed by the last
 * of them (refs). */
struct call {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	struct evh_server *srv;
	struct evh_srv_req rq;
	struct evh_srv_meta meta;
	char id[48];
	int n, n_done, cancelled, tail_done;
	struct choice ch[EVH_SRV_MAX_N];
	long n_prompt;
	int rc; /* first engine failure */
	char emsg[256];
	struct evh_buf out; /* SSE bytes not yet handed to MHD */
	size_t out_off;
	int fd; /* the client's socket, polled for hang-ups */
};

static void call_unref(struct call *c)
{
	pthread_mutex_lock(&c->mu);
	int last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	for (int i = 0; i < c->n; i++)
		evh_srv_text_fini(&c->ch[i].t);
	evh_srv_req_fini(&c->rq);
	evh_buf_free(&c->out);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* Appends an SSE event (owned string) to the outgoing bytes; on failure the stream ends short and
 * the client sees no [DONE]. Under c->mu. */
static void out_event(struct call *c, char *ev)
{
	if (!ev || evh_buf_adds(&c->out, ev))
		c->cancelled = 1;
	free(ev);
}

/* Writes the newly released reasoning/content of choice h as one chunk. Under c->mu. */
static void emit_delta(struct call *c, struct choice *h, const char *finish)
{
	size_t rn = h->t.reasoning.len - h->sent_r, cn = h->t.content.len - h->sent_c;
	if (!rn && !cn && !finish && h->first_sent)
		return;
	out_event(c, evh_srv_chunk(&c->meta, h->index, !h->first_sent, h->t.reasoning.data + h->sent_r, rn,
				   h->t.content.data + h->sent_c, cn, finish, c->rq.include_usage));
	h->first_sent = 1;
	h->sent_r = h->t.reasoning.len;
	h->sent_c = h->t.content.len;
}

static int on_token(void *ctx, const char *piece, size_t len)
{
	struct choice *h = ctx;
	struct call *c = h->c;
	if (atomic_load(&c->srv->stopping))
		return 1;
	pthread_mutex_lock(&c->mu);
	int stop = c->cancelled;
	if (!stop && len) {
		int r = evh_srv_text_feed(&h->t, piece, len);
		stop = r != 0;
		if (r < 0) {
			c->cancelled = 1;
		} else if (c->rq.stream) {
			emit_delta(c, h, NULL);
			pthread_cond_broadcast(&c->cv);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return stop;
}

static const char *finish_name(const struct choice *h)
{
	return h->t.stopped || h->finish == ENG_FINISH_STOP ? "stop" : "length";
}

static void on_done(void *ctx, int rc, const struct eng_gen_result *res, const struct eng_err *err)
{
	struct choice *h = ctx;
	struct call *c = h->c;
	pthread_mutex_lock(&c->mu);
	if (res) {
		c->n_prompt = res->n_prompt;
		h->n_completion = res->n_completion;
		h->n_reasoning = res->n_reasoning;
		h->finish = res->finish;
	}
	if (rc && !c->rc) {
		c->rc = rc;
		snprintf(c->emsg, sizeof c->emsg, "%s", err && err->msg[0] ? err->msg : eng_strerror(rc));
	}
	if (evh_srv_text_finish(&h->t) < 0)
		c->cancelled = 1;
	if (c->rq.stream && !rc && res && !c->cancelled)
		emit_delta(c, h, finish_name(h));
	h->done = 1;
	c->n_done++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	call_unref(c);
}

static int hung_up(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Waits up to 100 ms for news; 0 when the client left or the server stops (marks the call). */
static int wait_news(struct call *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	if (atomic_load(&c->srv->stopping) || hung_up(c->fd)) {
		c->cancelled = 1;
		return 0;
	}
	return 1;
}

static void usage_of(const struct call *c, struct evh_srv_usage *u)
{
	u->prompt = c->n_prompt;
	u->completion = u->reasoning = 0;
	for (int i = 0; i < c->n; i++) {
		u->completion += c->ch[i].n_completion;
		u->reasoning += c->ch[i].n_reasoning;
	}
}

/* The events after the last choice: an error, the usage, [DONE]. Under c->mu. */
static void stream_tail(struct call *c)
{
	if (c->rc) {
		char *e = evh_srv_error_json(c->emsg, "server_error", NULL, NULL);
		char *ev = NULL;
		if (e && asprintf(&ev, "data: %s\n\n", e) < 0)
			ev = NULL;
		free(e);
		out_event(c, ev);
	}
	if (c->rq.include_usage) {
		struct evh_srv_usage u;
		usage_of(c, &u);
		out_event(c, evh_srv_usage_chunk(&c->meta, &u));
	}
	out_event(c, strdup("data: [DONE]\n\n"));
	c->tail_done = 1;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct call *c = cls;
	(void)pos;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (c->cancelled)
			break;
		if (c->out.len > c->out_off) {
			size_t n = c->out.len - c->out_off;
			if (n > max)
				n = max;
			memcpy(buf, c->out.data + c->out_off, n);
			c->out_off += n;
			if (c->out_off == c->out.len) { /* all handed over: reuse the memory */
				evh_buf_reset(&c->out);
				c->out_off = 0;
			}
			pthread_mutex_unlock(&c->mu);
			return (ssize_t)n;
		}
		if (c->n_done == c->n) {
			if (c->tail_done) {
				pthread_mutex_unlock(&c->mu);
				return MHD_CONTENT_READER_END_OF_STREAM;
			}
			stream_tail(c);
			continue;
		}
		if (!wait_news(c))
			break;
	}
	pthread_mutex_unlock(&c->mu);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* MHD is done with the stream (finished or the client left): stop generating, drop our ref. */
static void stream_free(void *cls)
{
	struct call *c = cls;
	pthread_mutex_lock(&c->mu);
	if (c->n_done < c->n)
		c->cancelled = 1;
	pthread_mutex_unlock(&c->mu);
	call_unref(c);
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

struct conn {
	struct evh_buf body;
	int too_big;
	size_t discarded;
};

static enum MHD_Result send_body(struct MHD_Connection *mc, unsigned status, char *body, const char *type)
{
	if (!body)
		return MHD_NO;
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	enum MHD_Result ok = MHD_queue_response(mc, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result send_error(struct evh_server *s, struct MHD_Connection *mc, unsigned status,
				  const char *msg, const char *param, const char *code)
{
	const char *type = status == 401   ? "authentication_error"
			   : status == 404 ? "invalid_request_error"
			   : status == 429 ? "rate_limit_error"
			   : status >= 500 ? "server_error"
					   : "invalid_request_error";
	if (!s->o.quiet)
		fprintf(stderr, "evalh serve: %u %s\n", status, msg);
	return send_body(mc, status, evh_srv_error_json(msg, type, param, code), "application/json");
}

static int authorized(const struct evh_server *s, struct MHD_Connection *mc)
{
	if (!s->api_key)
		return 1;
	const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	const char *k = h + 7;
	size_t kl = strlen(k), want = strlen(s->api_key);
	/* Constant time in the key's content: the length is not the secret. */
	unsigned char diff = kl != want;
	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)(s->api_key[i] ^ (i < kl ? k[i] : 0));
	return diff == 0;
}

static enum MHD_Result send_health(struct evh_server *s, struct MHD_Connection *mc)
{
	char *b = NULL;
	int ready = atomic_load(&s->ready);
	int running = 0, queued = 0;
	if (ready)
		eng_batch_counts(s->b, &running, &queued);
	if (asprintf(&b, "{\"status\":\"%s\",\"slots\":%d,\"running\":%d,\"queued\":%d}", ready ? "ok" : "loading",
		     ready ? eng_batch_slots(s->b) : 0, running, queued) < 0)
		return MHD_NO;
	return send_body(mc, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, b, "application/json");
}

static enum MHD_Result send_models(struct evh_server *s, struct MHD_Connection *mc)
{
	return send_body(mc, MHD_HTTP_OK, evh_srv_models_json(s->model_id, (long)time(NULL)), "application/json");
}

static enum MHD_Result answer_whole(struct evh_server *s, struct MHD_Connection *mc, struct call *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->n_done < c->n)
		if (!wait_news(c))
			break;
	int done = c->n_done == c->n, rc = c->rc;
	char emsg[256];
	snprintf(emsg, sizeof emsg, "%s", c->emsg);
	char *body = NULL;
	if (done && !rc && !c->cancelled) {
		struct evh_srv_choice_out out[EVH_SRV_MAX_N];
		for (int i = 0; i < c->n; i++) {
			struct choice *h = &c->ch[i];
			out[i].content = evh_buf_str(&h->t.content);
			out[i].reasoning = h->t.reasoning.len ? evh_buf_str(&h->t.reasoning) : NULL;
			out[i].finish = finish_name(h);
		}
		struct evh_srv_usage u;
		usage_of(c, &u);
		body = evh_srv_response(&c->meta, out, c->n, &u);
	}
	pthread_mutex_unlock(&c->mu);
	call_unref(c);
	if (!done)
		return MHD_NO; /* the client left or the server stops: close the connection */
	if (rc == ENG_ELIMIT || rc == ENG_EMISUSE)
		return send_error(s, mc, MHD_HTTP_BAD_REQUEST, emsg, NULL, NULL);
	if (rc)
		return send_error(s, mc, MHD_HTTP_INTERNAL_SERVER_ERROR, emsg, NULL, NULL);
	if (!body)
		return send_error(s, mc, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory writing the response", NULL, NULL);
	return send_body(mc, MHD_HTTP_OK, body, "application/json");
}

static enum MHD_Result generate(struct evh_server *s, struct MHD_Connection *mc, int kind, struct conn *cn)
{
	struct evh_err err = {0};
	struct evh_srv_req rq;
	int rc = evh_srv_req_parse(evh_buf_str(&cn->body), cn->body.len, kind, &rq, &err);
	if (rc) {
		char msg[600];
		snprintf(msg, sizeof msg, "%s%s%s", err.where[0] ? err.where : "", err.where[0] ? ": " : "", err.msg);
		return send_error(s, mc, MHD_HTTP_BAD_REQUEST, msg, err.where[0] ? err.where : NULL,
				  rc == EVH_EUNSUPPORTED ? "unsupported" : NULL);
	}
	if (strcmp(rq.model, s->model_id) != 0) {
		char msg[600];
		snprintf(msg, sizeof msg, "The model `%s` does not exist (this server serves `%s`).", rq.model,
			 s->model_id);
		evh_srv_req_fini(&rq);
		return send_error(s, mc, MHD_HTTP_NOT_FOUND, msg, "model", "model_not_found");
	}
	struct call *c = calloc(1, sizeof *c);
	if (!c) {
		evh_srv_req_fini(&rq);
		return send_error(s, mc, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL, NULL);
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->srv = s;
	c->rq = rq;
	c->n = rq.n;
	c->refs = 1;
	evh_buf_init(&c->out, EVH_LIMIT_BODY);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	c->fd = ci ? ci->connect_fd : -1;
	unsigned long seq = atomic_fetch_add(&s->seq, 1);
	snprintf(c->id, sizeof c->id, "%s-%lx%06lx", kind == EVH_SRV_CHAT ? "chatcmpl" : "cmpl", (long)time(NULL),
		 seq & 0xffffff);
	c->meta = (struct evh_srv_meta){.id = c->id, .model = s->model_id, .fingerprint = s->fingerprint,
					.created = (long)time(NULL), .kind = kind};
	if (c->rq.reasoning < 0)
		c->rq.reasoning = kind == EVH_SRV_CHAT;
	int phase = c->rq.reasoning ? s->start_phase : EVH_SRV_ANSWER;
	struct eng_gen_opts go;
	eng_gen_opts_defaults(&go);
	if (rq.max_tokens)
		go.max_tokens = rq.max_tokens;
	if (rq.temperature >= 0)
		go.temperature = (float)rq.temperature;
	if (rq.top_p > 0)
		go.top_p = (float)rq.top_p;
	go.top_k = rq.top_k;
	uint64_t seed = rq.has_seed ? rq.seed : ((uint64_t)time(NULL) << 20) ^ seq ^ (uint64_t)(uintptr_t)c;
	int n_sub = 0;
	struct eng_err ee = {0};
	char *prompt = NULL; /* the rendered conversation; the batch copies it at submit */
	if (kind == EVH_SRV_CHAT &&
	    (rc = eng_chat_render_msgs(s->tok, s->family, c->rq.msgs, c->rq.n_msgs, 0, &prompt, &ee)) != ENG_OK) {
		call_unref(c);
		return send_error(s, mc, rc == ENG_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_BAD_REQUEST, ee.msg,
				  "messages", NULL);
	}
	for (int i = 0; i < c->n; i++) {
		struct choice *h = &c->ch[i];
		h->c = c;
		h->index = i;
		evh_srv_text_init(&h->t, phase, c->rq.stop, c->rq.n_stop);
	}
	for (int i = 0; i < c->n; i++) {
		go.seed = seed + (uint64_t)i; /* choice i of seed s reproduces as choice 0 of seed s+i */
		struct eng_batch_req br = {.user = prompt ? prompt : c->rq.user, .raw = 1,
					   .opts = go, .on_token = on_token,
					   .on_done = on_done, .ctx = &c->ch[i]};
		pthread_mutex_lock(&c->mu);
		c->refs++;
		pthread_mutex_unlock(&c->mu);
		if ((rc = eng_batch_submit(s->b, &br, &ee)) != ENG_OK) {
			pthread_mutex_lock(&c->mu);
			c->refs--;
			c->cancelled = 1; /* choices already queued skip themselves */
			c->n_done += c->n - i;
			pthread_mutex_unlock(&c->mu);
			break;
		}
		n_sub++;
	}
	free(prompt);
	if (rc) {
		call_unref(c);
		if (rc == ENG_ELIMIT)
			return send_error(s, mc, MHD_HTTP_TOO_MANY_REQUESTS, ee.msg, NULL, "rate_limit_exceeded");
		return send_error(s, mc, MHD_HTTP_SERVICE_UNAVAILABLE, ee.msg, NULL, NULL);
	}
	if (!c->rq.stream)
		return answer_whole(s, mc, c);
	/* The call's ref passes to the response: stream_free drops it. */
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, c, stream_free);
	if (!r) {
		pthread_mutex_lock(&c->mu);
		c->cancelled = 1;
		pthread_mutex_unlock(&c->mu);
		call_unref(c);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	enum MHD_Result ok = MHD_queue_response(mc, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

enum route { R_NONE, R_HEALTH, R_MODELS, R_CHAT, R_TEXT };

static enum route route_of(const char *url)
{
	if (!strcmp(url, "/health"))
		return R_HEALTH;
	if (!strcmp(url, "/v1/models"))
		return R_MODELS;
	if (!strcmp(url, "/v1/chat/completions"))
		return R_CHAT;
	if (!strcmp(url, "/v1/completions"))
		return R_TEXT;
	return R_NONE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	struct evh_server *s = cls;
	(void)version;
	enum route rt = route_of(url);
	int post = !strcmp(method, MHD_HTTP_METHOD_POST);
	struct conn *cn = *req_cls;
	if (!cn) { /* headers only: everything that needs no body is decided here */
		if (rt == R_NONE)
			return send_error(s, mc, MHD_HTTP_NOT_FOUND, "no such endpoint", NULL, "not_found");
		int want_post = rt == R_CHAT || rt == R_TEXT;
		if (want_post != post || (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0))
			return send_error(s, mc, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", NULL, NULL);
		if (rt == R_HEALTH)
			return send_health(s, mc);
		if (!authorized(s, mc))
			return send_error(s, mc, MHD_HTTP_UNAUTHORIZED, "missing or incorrect API key (Authorization: Bearer ...)",
					  NULL, "invalid_api_key");
		if (!atomic_load(&s->ready))
			return send_error(s, mc, MHD_HTTP_SERVICE_UNAVAILABLE, "the model is loading", NULL, NULL);
		if (rt == R_MODELS)
			return send_models(s, mc);
		const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
			char msg[128];
			snprintf(msg, sizeof msg, "request body of %s bytes exceeds the limit of %zu", cl, s->o.max_body);
			return send_error(s, mc, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL, "request_too_large");
		}
		if (!(cn = calloc(1, sizeof *cn)))
			return MHD_NO;
		evh_buf_init(&cn->body, s->o.max_body);
		*req_cls = cn;
		return MHD_YES;
	}
	if (*upload_size) { /* a body piece */
		if (!cn->too_big && evh_buf_add(&cn->body, upload, *upload_size) != EVH_OK)
			cn->too_big = 1;
		if (cn->too_big && (cn->discarded += *upload_size) > 16 * s->o.max_body)
			return MHD_NO; /* a chunked flood: stop reading it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (cn->too_big) {
		char msg[128];
		snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", s->o.max_body);
		return send_error(s, mc, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL, "request_too_large");
	}
	return generate(s, mc, rt == R_CHAT ? EVH_SRV_CHAT : EVH_SRV_TEXT, cn);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls, enum MHD_RequestTerminationCode tc)
{
	(void)cls;
	(void)mc;
	(void)tc;
	struct conn *cn = *req_cls;
	if (!cn)
		return;
	evh_buf_free(&cn->body);
	free(cn);
	*req_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct evh_server *s = cls;
	if (s->o.quiet)
		return;
	fputs("evalh serve: microhttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---- start / stop ---------------------------------------------------------------------------- */

static int map_eng(int code)
{
	return code == ENG_ENOMEM ? EVH_ENOMEM : code == ENG_EIO ? EVH_EIO : code == ENG_EFORMAT ? EVH_EFORMAT
	       : code == ENG_EUNSUPPORTED ? EVH_EUNSUPPORTED : EVH_EENGINE;
}

/* Loads the model's tokenizer (s->tok, s->family) for rendering conversations; its family also
 * decides where a split answer starts (serve_int.h enum evh_srv_phase). -1 on failure. */
static int start_phase_of(struct evh_server *s, const char *dir, struct evh_err *err)
{
	char tj[4096], tc[4096];
	snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
	snprintf(tc, sizeof tc, "%s/tokenizer_config.json", dir);
	struct eng_err ee = {0};
	if (eng_tok_load(tj, access(tc, F_OK) == 0 ? tc : NULL, &s->tok, &ee)) {
		evh_err_fail(err, map_eng(ee.code), dir, "%s", ee.msg);
		return -1;
	}
	int fam = s->family = eng_tok_chat_family(s->tok);
	return fam == ENG_CHAT_DEEPSEEK_R1 ? EVH_SRV_THINK : fam == ENG_CHAT_CHATML ? EVH_SRV_MAYBE_THINK : EVH_SRV_ANSWER;
}

static int resolve(const struct evh_serve_opts *o, char **path, char **id, struct evh_err *err)
{
	struct evh_registry *reg = NULL;
	struct evh_model m = {0};
	int rc = evh_registry_load(o->models_file, evh_cli_datadir(), &reg, err);
	if (!rc)
		rc = evh_registry_resolve(reg, o->model, &m, err);
	if (!rc && (!m.provider || strcmp(m.provider, "engine") != 0 || !m.path))
		rc = evh_err_fail(err, EVH_EMISUSE, "--model", "%s: provider \"%s\"; serve needs an engine model",
				  o->model, m.provider ? m.provider : "?");
	if (!rc) {
		*path = strdup(m.path);
		*id = strdup(o->served_name ? o->served_name : strncmp(o->model, "engine:", 7) ? m.name : m.model_id);
		if (!*path || !*id)
			rc = evh_err_fail(err, EVH_ENOMEM, "--model", "out of memory");
	}
	evh_model_fini(&m);
	evh_registry_free(reg);
	return rc;
}

static struct MHD_Daemon *bind_daemon(struct evh_server *s, struct evh_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", s->o.port);
	int g = getaddrinfo(s->o.host, port, &hints, &ai);
	if (g) {
		evh_err_fail(err, EVH_ENET, "--host", "%s: %s", s->o.host, gai_strerror(g));
		return NULL;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	/* Thread per connection: a connection thread may wait on its generation without holding up
	 * others; the connection limit bounds threads. */
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!d)
		evh_err_fail(err, EVH_ENET, "--port", "cannot listen on %s port %d (in use, or not an address of this host)",
			     s->o.host, s->o.port);
	return d;
}

void evh_serve_stop(struct evh_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	/* Slot callbacks now say stop, so the batch drains at once; connection threads see
	 * `stopping` within 100 ms and end their responses. */
	if (s->d)
		MHD_stop_daemon(s->d);
	eng_batch_free(s->b);
	eng_model_free(s->m);
	eng_tok_free(s->tok);
	if (s->api_key) {
		memset(s->api_key, 0, strlen(s->api_key));
		free(s->api_key);
	}
	free(s->model_id);
	free(s->fingerprint);
	free(s);
}

int evh_serve_start(const struct evh_serve_opts *o, struct evh_server **out, struct evh_err *err)
{
	*out = NULL;
	if (!o->model)
		return evh_err_fail(err, EVH_EMISUSE, "--model", "required (engine:PATH or a registry name)");
	if (o->parallel < 1 || o->parallel > 1024 || o->max_queue < 0 || o->max_queue > 1000000 || o->max_body < 16 ||
	    o->port < 0 || o->port > 65535 || o->threads < 1 || o->threads > 256)
		return evh_err_fail(err, EVH_EMISUSE, "options", "out of range (see evalh serve --help)");
	struct evh_server *s = calloc(1, sizeof *s);
	if (!s)
		return evh_err_fail(err, EVH_ENOMEM, "serve", "out of memory");
	s->o = *o;
	char *path = NULL;
	int rc = EVH_OK;
	if (o->api_key_env) {
		const char *k = getenv(o->api_key_env);
		if (!k || !*k)
			rc = evh_err_fail(err, EVH_EMISUSE, "--api-key-env", "environment variable %s is not set",
					  o->api_key_env);
		else if (!(s->api_key = strdup(k)))
			rc = evh_err_fail(err, EVH_ENOMEM, "serve", "out of memory");
	}
	if (!rc)
		rc = resolve(o, &path, &s->model_id, err);
	if (!rc && asprintf(&s->fingerprint, "evalh-%s", evh_cli_git_revision()) < 0) {
		s->fingerprint = NULL;
		rc = evh_err_fail(err, EVH_ENOMEM, "serve", "out of memory");
	}
	if (!rc && !(s->d = bind_daemon(s, err)))
		rc = err ? err->code : EVH_ENET;
	if (!rc) {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
		s->port = di ? di->port : o->port;
	}
	/* Listening from here on: requests get 503 until the model is ready. */
	struct eng_err ee = {0};
	if (!rc && (s->start_phase = start_phase_of(s, path, err)) < 0)
		rc = err ? err->code : EVH_EFORMAT;
	if (!rc && eng_model_load(path, &s->m, &ee))
		rc = evh_err_fail(err, map_eng(ee.code), path, "%s", ee.msg);
	if (!rc && eng_model_set_threads(s->m, o->threads, &ee))
		rc = evh_err_fail(err, EVH_EMISUSE, "--threads", "%s", ee.msg);
	if (!rc && eng_batch_create(s->m, o->parallel, o->max_queue, &s->b, &ee))
		rc = evh_err_fail(err, map_eng(ee.code), "--parallel", "%s", ee.msg);
	free(path);
	if (rc) {
		evh_serve_stop(s);
		return rc;
	}
	atomic_store(&s->ready, 1);
	*out = s;
	return EVH_OK;
}

int evh_server_port(const struct evh_server *s)
{
	return s->port;
}

/* ---- the subcommand -------------------------------------------------------------------------- */

static const char serve_usage[] =
	"usage: evalh serve --model engine:PATH|NAME [--host ADDR] [--port P] [--api-key-env NAME]\n"
	"                   [--threads n] [--parallel n] [--max-queue n] [--max-body BYTES]\n"
	"                   [--served-model-name ID] [--models FILE] [--quiet]\n"
	"  --host        address to bind (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
	"  --port        TCP port (default 8000; 0 picks a free one, printed at start)\n"
	"  --api-key-env clients must send Authorization: Bearer $NAME\n"
	"  --threads     matmul threads per request slot (default 1)\n"
	"  --parallel    requests generating at once (default: CPU count)\n"
	"  --max-queue   requests waiting for a slot before 429 (default 256)\n"
	"  --max-body    request body limit in bytes before 413 (default 1048576)\n";

int evh_serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},      {"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},       {"api-key-env", required_argument, NULL, 'k'},
		{"threads", required_argument, NULL, 't'},    {"parallel", required_argument, NULL, 'P'},
		{"max-queue", required_argument, NULL, 'q'},  {"max-body", required_argument, NULL, 'b'},
		{"served-model-name", required_argument, NULL, 'n'}, {"models", required_argument, NULL, 'M'},
		{"quiet", no_argument, NULL, 'Q'},            {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct evh_serve_opts o;
	evh_serve_opts_defaults(&o);
	struct evh_err err = {0};
	int c, rc = EVH_OK;
	long v = 0;
	optind = 1;
	while (!rc && (c = getopt_long(argc, argv, "m:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': o.model = optarg; break;
		case 'H': o.host = optarg; break;
		case 'k': o.api_key_env = optarg; break;
		case 'n': o.served_name = optarg; break;
		case 'M': o.models_file = optarg; break;
		case 'Q': o.quiet = 1; break;
		case 'p':
			if (!(rc = evh_cli_long("--port", optarg, 0, 65535, &v, &err)))
				o.port = (int)v;
			break;
		case 't':
			if (!(rc = evh_cli_long("--threads", optarg, 1, 256, &v, &err)))
				o.threads = (int)v;
			break;
		case 'P':
			if (!(rc = evh_cli_long("--parallel", optarg, 1, 1024, &v, &err)))
				o.parallel = (int)v;
			break;
		case 'q':
			if (!(rc = evh_cli_long("--max-queue", optarg, 0, 1000000, &v, &err)))
				o.max_queue = (int)v;
			break;
		case 'b':
			if (!(rc = evh_cli_long("--max-body", optarg, 16, 1L << 30, &v, &err)))
				o.max_body = (size_t)v;
			break;
		case 'h': fputs(serve_usage, stdout); return EVH_EXIT_OK;
		default: fputs(serve_usage, stderr); return EVH_EXIT_USAGE;
		}
	}
	if (rc)
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	if (optind < argc || !o.model) {
		fprintf(stderr, "evalh serve: %s\n%s", o.model ? "unexpected argument" : "--model is required", serve_usage);
		return EVH_EXIT_USAGE;
	}
	/* Signals go to this thread only (sigwait below): every thread started from here inherits
	 * the blocked mask. Writes to a gone client must not kill the server. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	struct evh_server *s = NULL;
	if (evh_serve_start(&o, &s, &err)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	}
	printf("evalh serve: %s on http://%s%s%s:%d/v1 (%d slots, queue %d%s)\n", s->model_id,
	       strchr(o.host, ':') ? "[" : "", o.host, strchr(o.host, ':') ? "]" : "", s->port, o.parallel, o.max_queue,
	       s->api_key ? ", bearer auth" : "");
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "evalh serve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	evh_serve_stop(s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return EVH_EXIT_OK;
}
