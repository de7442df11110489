/* provider_remote.h — what the HTTP providers (provider_openai.c, provider_anthropic.c) share: the
 * API key header and the retry loop around one attempt (backoff with full jitter, Retry-After, the
 * endpoint's adaptive limit, cancel, keys blanked out of errors). The provider keeps what differs:
 * the request body, the parsing of events and bodies, and how a response is assembled. */
#ifndef EVH_PROVIDER_REMOTE_H
#define EVH_PROVIDER_REMOTE_H

#include "harness/http.h"
#include "harness/provider.h"

/* What one attempt came to. */
enum evh_attempt { EVH_ATTEMPT_DONE, EVH_ATTEMPT_RETRY, EVH_ATTEMPT_FAIL };

struct evh_remote_call {
	const char *url;                /* named in the loop's own errors */
	const char *limiter;            /* key of the endpoint's adaptive limit (aimd.h) */
	const struct evh_retry *retry;
	const char *key;                /* blanked out of the error; NULL when none */
	int overloaded_status;          /* honours Retry-After on this status too (besides 429, 503); 0 none */
	/* One attempt on fresh per-attempt state: post, parse and, on DONE, fill resp's text, reasoning,
	 * finish_reason, model and tokens, and set resp->ttft_s to the seconds from t0 (taken before
	 * waiting for a slot of the adaptive limit) to the first token, < 0 when none came. A response
	 * that cannot be filled is FAIL with err set. err starts cleared; res is initialised and
	 * finalised by the loop. */
	enum evh_attempt (*attempt)(void *ctx, double t0, struct evh_http_res *res, struct evh_response *resp,
				    struct evh_err *err);
	void *ctx;
};

/* Runs attempts until one is DONE or FAIL, max_attempts are spent, or the run is cancelled while
 * waiting. Sets resp->attempts and resp->http_status, and on success total_s and ttft_s (total_s
 * when the response was not streamed or had no token); on failure returns the last attempt's code
 * with its message ("gave up after N attempts: " when more than one), and resp holds only those
 * two fields. */
int evh_remote_run(const struct evh_remote_call *c, struct evh_response *resp, struct evh_err *err);

/* Reads the API key from the environment variable key_env and formats the header that carries it
 * (header_fmt has one %s). key_env NULL: no key, *key and *header are NULL. Fails with EVH_EMISUSE
 * when the variable is unset or empty. *header is freed with evh_remote_key_free. */
int evh_remote_key(const char *key_env, const char *header_fmt, const char *url, const char **key,
		   char **header, struct evh_err *err);
void evh_remote_key_free(char *header); /* wipes, then frees; NULL allowed */

#endif
