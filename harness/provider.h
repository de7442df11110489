/* provider.h — what the runner calls to get one completion: a remote OpenAI-compatible API or the
 * built-in engine, behind one small table of functions chosen once per run.
 * Providers never see scorers or packs: a request is messages and sampling, a response is text,
 * reasoning, token counts and timings. */
#ifndef EVH_PROVIDER_H
#define EVH_PROVIDER_H

#include <stdint.h>

#include "harness/util/err.h"

struct evh_request {
	const char *system;  /* may be NULL */
	const char *user;
	double temperature;  /* < 0: leave to the server */
	double top_p;        /* < 0: leave to the server */
	int max_tokens;      /* <= 0: leave to the server */
	uint64_t seed;       /* per request: derived from run seed, item and sample index */
	int has_seed;
};

struct evh_response {
	char *text;            /* final answer text (malloc'd, never NULL after success) */
	char *reasoning;       /* reasoning_content / <think> part, malloc'd or NULL */
	char *finish_reason;   /* "stop", "length", ... malloc'd or NULL */
	char *model;           /* model id the server reported, or NULL */
	long tokens_in;        /* prompt tokens */
	long tokens_out;       /* completion tokens, reasoning included */
	long tokens_reasoning; /* of which reasoning */
	long tokens_cached;    /* prompt tokens served from cache, 0 when unknown */
	int tokens_estimated;  /* 1 when counted locally because the server gave no usage */
	double ttft_s;         /* time to first token (streaming), or total time */
	double total_s;        /* wall time of the successful attempt */
	double gpu_s;          /* engine: compute time billed at the GPU-hour price; 0 for APIs */
	int http_status;       /* last HTTP status, 0 for the engine */
	int attempts;          /* attempts made, 1 when the first succeeded */
};
void evh_response_free(struct evh_response *r); /* NULL allowed; leaves *r zeroed */

/* Retry and timeout policy the providers apply per request. */
struct evh_retry {
	int max_attempts;       /* total attempts, >= 1 */
	double timeout_s;       /* whole-request timeout of one attempt */
	double connect_timeout_s;
	double stall_s;         /* abort an attempt when no byte arrives for this long */
	double backoff_base_s;  /* first wait; doubled each attempt, with full jitter */
	double backoff_max_s;
};
void evh_retry_defaults(struct evh_retry *r);

struct evh_provider {
	const char *name; /* "openai", "engine" */
	/* Performs one request with retries. Thread-safe: the runner calls it from N workers.
	 * On failure returns a code (EVH_EHTTP, EVH_ETIMEOUT, EVH_ENET, EVH_EFORMAT, ...) with err saying
	 * what the server did, and *resp holds attempts/http_status so far. */
	int (*complete)(struct evh_provider *p, const struct evh_request *rq, struct evh_response *resp,
			struct evh_err *err);
	void (*free)(struct evh_provider *p);
	void *ctx;
};

/* Cancels requests in flight and makes further attempts fail fast (SIGINT). Async-signal-safe. */
void evh_provider_cancel_all(void);
int evh_provider_cancelled(void);

#endif
