/* provider_remote.c — the API key header and the retry loop the HTTP providers share; see
 * provider_remote.h. */
#include "harness/provider_remote.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/aimd.h"

int evh_remote_key(const char *key_env, const char *header_fmt, const char *url, const char **key,
		   char **header, struct evh_err *err)
{
	*key = NULL;
	*header = NULL;
	if (!key_env)
		return EVH_OK;
	const char *k = getenv(key_env);
	if (!k || !*k)
		return evh_err_fail(err, EVH_EMISUSE, key_env, "API key variable %s is not set in the environment",
				    key_env);
	if (asprintf(header, header_fmt, k) < 0) {
		*header = NULL;
		return evh_err_fail(err, EVH_ENOMEM, url, "out of memory building the request");
	}
	*key = k;
	return EVH_OK;
}

void evh_remote_key_free(char *header)
{
	if (!header)
		return;
	explicit_bzero(header, strlen(header));
	free(header);
}

/* Full jitter (AWS "Exponential Backoff and Jitter"): uniform in [0, min(max, base * 2^k)], so that
 * workers that failed together do not retry together. */
static double backoff(const struct evh_retry *r, int k)
{
	static _Thread_local uint64_t s;
	if (!s)
		s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15u;
	s += 0x9e3779b97f4a7c15u; /* splitmix64 */
	uint64_t z = s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	z ^= z >> 31;
	double cap = fmin(r->backoff_max_s, r->backoff_base_s * ldexp(1.0, k < 60 ? k : 60));
	return cap * (double)(z >> 11) * 0x1p-53;
}

/* Sleeps in short slices so that a cancel ends the wait at once. Returns 0, or 1 when cancelled. */
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

/* Blanks every occurrence of the key so that no message built from curl or the server's reply
 * (some servers echo the key they refused) carries it. */
static void scrub(char *s, const char *key)
{
	size_t kl = key ? strlen(key) : 0;
	if (kl < 3)
		return;
	for (char *p = s; (p = strstr(p, key)); p += kl)
		memset(p, '*', kl);
}

int evh_remote_run(const struct evh_remote_call *c, struct evh_response *resp, struct evh_err *err)
{
	int rc = EVH_OK;
	struct evh_err last = {0};
	for (int k = 1;; k++) {
		struct evh_http_res res;
		evh_http_res_init(&res);
		evh_err_clear(&last);
		double t0 = evh_http_now();
		/* The endpoint's adaptive limit counts attempts, not requests: one waiting out a backoff
		 * holds no slot. */
		int slot = evh_aimd_acquire(c->limiter);
		enum evh_attempt v = c->attempt(c->ctx, t0, &res, resp, &last);
		if (v == EVH_ATTEMPT_DONE) {
			/* One clock for both, so that ttft <= total holds exactly. */
			resp->total_s = evh_http_now() - t0;
			resp->ttft_s = res.streamed && resp->ttft_s >= 0 ? resp->ttft_s : resp->total_s;
		}
		evh_aimd_release(slot, res.status, res.retry_after_s);
		resp->attempts = k;
		resp->http_status = res.status;
		double wait = -1;
		if (v == EVH_ATTEMPT_RETRY && k < c->retry->max_attempts) {
			wait = backoff(c->retry, k - 1);
			int s = res.status;
			if (res.retry_after_s >= 0 &&
			    (s == 429 || s == 503 || (c->overloaded_status && s == c->overloaded_status)))
				wait = fmin(res.retry_after_s, c->retry->backoff_max_s);
		}
		evh_http_res_fini(&res);
		if (v == EVH_ATTEMPT_DONE) {
			rc = EVH_OK; /* an earlier attempt's failure no longer counts */
			break;
		}
		rc = last.code ? last.code : EVH_EINTERNAL;
		if (wait < 0)
			break;
		if (nap(wait)) {
			evh_err_clear(&last);
			rc = evh_err_fail(&last, EVH_ENET, c->url, "request cancelled while waiting to retry");
			break;
		}
	}
	if (rc && resp->attempts > 1)
		evh_err_prefix(&last, "gave up after %d attempts: ", resp->attempts);
	if (rc) {
		scrub(last.msg, c->key);
		scrub(last.where, c->key);
		evh_err_fail(err, last.code, last.where, "%s", last.msg);
		int attempts = resp->attempts, status = resp->http_status;
		evh_response_free(resp);
		resp->attempts = attempts;
		resp->http_status = status;
	}
	return rc;
}
