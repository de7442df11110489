/* http.h — one HTTP POST attempt over libcurl, with the timeouts, stall detection and cancel check
 * every remote provider needs. No retry policy and no JSON here: the provider decides what an
 * outcome means. Easy handles are pooled so that keep-alive connections survive between requests. */
#ifndef EVH_HTTP_H
#define EVH_HTTP_H

#include <stddef.h>

#include "harness/util/buf.h"

/* A thread-safe pool of curl easy handles (each keeps its own connection cache). */
struct evh_http_pool;
/* Also performs curl_global_init once per process. *out is NULL on failure. */
int evh_http_pool_create(struct evh_http_pool **out, struct evh_err *err);
void evh_http_pool_free(struct evh_http_pool *p); /* NULL allowed; no request may be in flight */

struct evh_http_req {
	const char *url;
	const char *body; /* kept during the call */
	size_t body_len;
	/* "Name: value" lines, NULL-terminated. They may carry secrets: curl's copies are wiped before
	 * they are freed, and CURLOPT_VERBOSE is never set. */
	const char *const *headers;
	double timeout_s;         /* whole attempt; <= 0 none */
	double connect_timeout_s; /* <= 0: curl's default */
	double stall_s;           /* streamed responses only: abort when no byte came for this long */
	/* A 2xx response whose Content-Type starts with stream_type goes to on_data chunk by chunk;
	 * anything else (errors, other types) is collected in evh_http_res.body. on_data returns 0 to go
	 * on or a code to abort the transfer (that code is then returned by evh_http_post). */
	const char *stream_type;
	int (*on_data)(void *ctx, const char *p, size_t n);
	void *ctx;
};

struct evh_http_res {
	int status;                /* HTTP status, 0 when none arrived */
	char content_type[128];    /* as sent, "" when absent */
	double retry_after_s;      /* Retry-After (seconds or HTTP date), -1 when absent */
	int streamed;              /* the body went to on_data */
	struct evh_buf body;       /* the body when not streamed (limit EVH_LIMIT_BODY) */
	size_t body_bytes;         /* bytes received, streamed or not */
	double t_headers;          /* seconds from start to the end of the headers, -1 if none */
	double total_s;            /* seconds the attempt took */
	int stalled, cancelled;    /* why a transfer was aborted */
	char detail[256];          /* curl's own error text for transport failures */
};
void evh_http_res_init(struct evh_http_res *r);
void evh_http_res_fini(struct evh_http_res *r); /* NULL allowed */

/* Performs one POST. Returns EVH_OK when a complete HTTP response arrived (whatever its status),
 * EVH_ETIMEOUT (timeout or stall), EVH_ENET (connection refused/reset/closed early, cancelled),
 * EVH_ELIMIT (body too large), or the code on_data returned. err names the URL and what happened,
 * in curl's words. Thread-safe on a shared pool. */
int evh_http_post(struct evh_http_pool *p, const struct evh_http_req *rq, struct evh_http_res *res,
		  struct evh_err *err);

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double evh_http_now(void);

#endif
