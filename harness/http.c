/* http.c — one POST attempt over a pooled libcurl easy handle; see http.h. */
#include "harness/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "harness/provider.h"

#define POOL_KEEP 256 /* idle handles kept; more than the runner's concurrency is pointless */

struct evh_http_pool {
	pthread_mutex_t mu;
	CURL *idle[POOL_KEEP];
	int n_idle;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* curl_global_init is not thread-safe in every libcurl build: run it exactly once. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

double evh_http_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int evh_http_pool_create(struct evh_http_pool **out, struct evh_err *err)
{
	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return evh_err_fail(err, EVH_EINTERNAL, NULL, "curl_global_init: %s",
				    curl_easy_strerror(global_rc));
	struct evh_http_pool *p = calloc(1, sizeof *p);
	if (!p)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "http pool: out of memory");
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return EVH_OK;
}

void evh_http_pool_free(struct evh_http_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n_idle; i++)
		curl_easy_cleanup(p->idle[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static CURL *acquire(struct evh_http_pool *p)
{
	CURL *h = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n_idle)
		h = p->idle[--p->n_idle];
	pthread_mutex_unlock(&p->mu);
	return h ? h : curl_easy_init();
}

static void release(struct evh_http_pool *p, CURL *h)
{
	/* reset drops every option (our header list and callbacks) but keeps the live connection. */
	curl_easy_reset(h);
	pthread_mutex_lock(&p->mu);
	if (p->n_idle < POOL_KEEP) {
		p->idle[p->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (h)
		curl_easy_cleanup(h);
}

void evh_http_res_init(struct evh_http_res *r)
{
	memset(r, 0, sizeof *r);
	r->retry_after_s = -1;
	r->t_headers = -1;
	evh_buf_init(&r->body, EVH_LIMIT_BODY);
}

void evh_http_res_fini(struct evh_http_res *r)
{
	if (r)
		evh_buf_free(&r->body);
}

/* Per-attempt state the curl callbacks share. */
struct xfer {
	const struct evh_http_req *rq;
	struct evh_http_res *res;
	CURL *h;
	double t0, last_rx;
	int mode;    /* 0 undecided, 1 streamed, 2 buffered */
	int cb_rc;   /* code on_data or the buffer returned */
	int saw_retry_after;
	double ratelimit_reset; /* longest x-ratelimit-reset-* wait, -1 when none */
};

/* OpenAI's x-ratelimit-reset-requests / -tokens: a Go-style duration ("1s", "6m0s", "20ms",
 * "1h2m3.5s"); a bare number is seconds. Returns -1 when unreadable. */
static double parse_duration(const char *p, const char *end)
{
	double total = 0;
	int any = 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (p < end && *p != '\r' && *p != '\n') {
		char *e;
		double v = strtod(p, &e);
		if (e == p || e > end)
			return -1;
		p = e;
		any = 1;
		if (p + 1 < end && p[0] == 'm' && p[1] == 's') {
			total += v / 1000;
			p += 2;
		} else if (p < end && *p == 'h') {
			total += v * 3600;
			p++;
		} else if (p < end && *p == 'm') {
			total += v * 60;
			p++;
		} else if (p < end && *p == 's') {
			total += v;
			p++;
		} else {
			total += v;
			break;
		}
	}
	return any ? total : -1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	x->last_rx = evh_http_now();
	if (len >= 12 && !strncasecmp(p, "retry-after:", 12))
		x->saw_retry_after = 1;
	if (len >= 19 && !strncasecmp(p, "x-ratelimit-reset-", 18)) {
		const char *colon = memchr(p, ':', len);
		double d = colon ? parse_duration(colon + 1, p + len) : -1;
		if (d > x->ratelimit_reset)
			x->ratelimit_reset = d;
	}
	if ((len == 2 && p[0] == '\r') || (len == 1 && p[0] == '\n'))
		x->res->t_headers = x->last_rx - x->t0;
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	x->last_rx = evh_http_now();
	x->res->body_bytes += len;
	if (evh_provider_cancelled()) {
		x->res->cancelled = 1;
		return CURL_WRITEFUNC_ERROR;
	}
	if (!x->mode) {
		/* The headers are complete before the first body byte: decide where the body goes. */
		long status = 0;
		const char *ct = NULL;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
		size_t sl = x->rq->stream_type ? strlen(x->rq->stream_type) : 0;
		int match = ct && sl && !strncasecmp(ct, x->rq->stream_type, sl);
		x->mode = (status / 100 == 2 && x->rq->on_data && match) ? 1 : 2;
		x->res->streamed = x->mode == 1;
	}
	if (x->mode == 1) {
		if ((x->cb_rc = x->rq->on_data(x->rq->ctx, p, len)))
			return CURL_WRITEFUNC_ERROR;
		return len;
	}
	if ((x->cb_rc = evh_buf_add(&x->res->body, p, len)))
		return CURL_WRITEFUNC_ERROR;
	return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;
	if (evh_provider_cancelled()) {
		x->res->cancelled = 1;
		return 1;
	}
	/* Only streamed requests are watched: a non-streamed reply to a reasoning model legitimately
	 * sends nothing for minutes, and is bounded by the whole-attempt timeout instead. */
	if (x->rq->on_data && x->rq->stall_s > 0 && evh_http_now() - x->last_rx > x->rq->stall_s) {
		x->res->stalled = 1;
		return 1;
	}
	return 0;
}

static void wipe_list(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

int evh_http_post(struct evh_http_pool *p, const struct evh_http_req *rq, struct evh_http_res *res,
		  struct evh_err *err)
{
	const char *url = rq->url;
	if (evh_provider_cancelled()) {
		res->cancelled = 1;
		return evh_err_fail(err, EVH_ENET, url, "request cancelled");
	}
	CURL *h = acquire(p);
	if (!h)
		return evh_err_fail(err, EVH_ENOMEM, url, "curl_easy_init failed");
	struct curl_slist *hdrs = NULL, *t;
	int rc = EVH_OK;
	for (const char *const *hp = rq->headers; hp && *hp && !rc; hp++) {
		if ((t = curl_slist_append(hdrs, *hp)))
			hdrs = t;
		else
			rc = EVH_ENOMEM;
	}
	/* No "Expect: 100-continue" round trip before large bodies. */
	if (!rc && (t = curl_slist_append(hdrs, "Expect:")))
		hdrs = t;
	else
		rc = EVH_ENOMEM;
	if (rc) {
		wipe_list(hdrs);
		release(p, h);
		return evh_err_fail(err, rc, url, "out of memory building request headers");
	}

	char ebuf[CURL_ERROR_SIZE] = "";
	struct xfer x = {.rq = rq, .res = res, .h = h, .ratelimit_reset = -1};
	x.t0 = x.last_rx = evh_http_now();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "evalh/0.1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rq->timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(rq->timeout_s * 1000));
	if (rq->connect_timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(rq->connect_timeout_s * 1000));

	/* A peer that closes a TLS connection while OpenSSL writes raises SIGPIPE, which would kill the
	 * run (NOSIGNAL stops curl from ignoring it for us). Block it on this thread for the transfer and
	 * drop what arrived, rather than change the process's dispositions, which children inherit. */
	sigset_t pipe_set, old_mask;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	CURLcode cc = curl_easy_perform(h);
	if (!sigismember(&old_mask, SIGPIPE)) {
		const struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	}
	res->total_s = evh_http_now() - x.t0;
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	res->status = (int)status;
	const char *ct = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(res->content_type, sizeof res->content_type, "%s", ct);
	curl_off_t ra = -1;
	if (x.saw_retry_after && curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0)
		res->retry_after_s = (double)ra; /* curl parses both delta-seconds and HTTP dates */
	/* Without Retry-After, OpenAI-style reset headers say when the limit window reopens. */
	if (res->retry_after_s < 0 && x.ratelimit_reset >= 0 && (status == 429 || status == 503))
		res->retry_after_s = x.ratelimit_reset;
	snprintf(res->detail, sizeof res->detail, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	release(p, h);
	wipe_list(hdrs);

	if (cc == CURLE_OK)
		return EVH_OK;
	if (res->cancelled)
		return evh_err_fail(err, EVH_ENET, url, "request cancelled");
	if (res->stalled)
		return evh_err_fail(err, EVH_ETIMEOUT, url, "stalled: no data for %.3g s (HTTP %ld, %zu bytes received)",
				    rq->stall_s, status, res->body_bytes);
	if (cc == CURLE_WRITE_ERROR && x.cb_rc) {
		if (x.cb_rc == EVH_ELIMIT && !res->streamed)
			return evh_err_fail(err, EVH_ELIMIT, url, "response body larger than %u bytes",
					    (unsigned)EVH_LIMIT_BODY);
		if (x.cb_rc == EVH_ENOMEM)
			return evh_err_fail(err, EVH_ENOMEM, url, "out of memory reading the response");
		return x.cb_rc;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return evh_err_fail(err, EVH_ETIMEOUT, url, "timed out (HTTP %ld, %zu bytes received): %s",
				    status, res->body_bytes, res->detail);
	return evh_err_fail(err, EVH_ENET, url, "%s (HTTP %ld, %zu bytes received)", res->detail, status,
			    res->body_bytes);
}
