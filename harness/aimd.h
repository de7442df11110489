/* aimd.h — adaptive concurrency per endpoint (additive-increase / multiplicative-decrease, as TCP
 * congestion control): the limit on requests in flight to one endpoint is cut (x0.8, at most once
 * per cooldown) when the endpoint answers 429, and grows back slowly (+5% per round of clean
 * answers, once no 429 has come for a cooldown) up to a ceiling. 5xx and timeouts are not congestion signals and leave it alone.
 *
 * Limiters are process-wide and keyed by endpoint (the base URL), because the server's rate limit is
 * per endpoint and key, not per provider object: the runner sets one up, the providers acquire and
 * release around every HTTP attempt. An endpoint without a limiter is not limited. Thread-safe. */
#ifndef EVH_AIMD_H
#define EVH_AIMD_H

struct evh_aimd_cfg {
	int start;          /* requests in flight at first, >= 1 */
	int max;            /* ceiling, >= start */
	double cut;         /* factor on a 429 burst, 0.8 */
	double grow;        /* factor per clean round, 1.05 */
	double cooldown_s;  /* at most one cut per this many seconds, 2 */
};
void evh_aimd_cfg_defaults(struct evh_aimd_cfg *c, int start, int max);

/* Sets up (or resets) the limiter of endpoint `key`. Returns 0, EVH_EMISUSE (bad values) or
 * EVH_ELIMIT (too many endpoints). */
int evh_aimd_setup(const char *key, const struct evh_aimd_cfg *c);
/* Removes every limiter (end of run); waiters, if any, are released. */
void evh_aimd_reset_all(void);

/* Waits until a request to `key` may start (fewer than the limit in flight and no pause running).
 * Returns a slot for evh_aimd_release, or -1 when `key` has no limiter or the run was cancelled
 * (release ignores -1). */
int evh_aimd_acquire(const char *key);
/* Ends the attempt started with `slot`: `status` is its HTTP status (0: no response).
 * `retry_after_s` >= 0 on a 429 pauses new attempts to that endpoint for that long. */
void evh_aimd_release(int slot, int status, double retry_after_s);

/* The current limit of `key`, 0 when it has none; and the number of 429s it has seen. */
int evh_aimd_limit(const char *key);
long evh_aimd_throttled(const char *key);

#endif
