/* results.h — the run folder: samples.jsonl appended and flushed one line per finished sample,
 * read back on --resume. Format: results/README.md. */
#ifndef EVH_RESULTS_H
#define EVH_RESULTS_H

#include <stddef.h>

#include "harness/util/err.h"

/* One finished sample, field for field one JSON line of samples.jsonl. Strings are borrowed. */
struct evh_sample {
	const char *task, *item_id;
	int sample;
	char prompt_hash[17];
	const char *gold, *response, *reasoning, *extracted, *rule, *finish_reason, *detail;
	const char *verdict;    /* scorer verdict name; NULL when the request failed */
	const char *state;      /* evh_sample_state(); NULL: derived from error_code and finish_reason */
	int correct;            /* 1, 0; -1 when not scored */
	long tokens_in, tokens_out, tokens_reasoning, tokens_cached;
	int tokens_estimated;
	double ttft_s, total_s, cost_usd;
	int http_status, attempts;
	int error_code;         /* enum evh_code; 0 when the request succeeded */
	const char *error_msg;
};

struct evh_results;

/* Opens DIR/samples.jsonl for appending, creating DIR. Without `resume`, an existing non-empty
 * samples.jsonl is refused (EVH_EMISUSE: use --resume or another --out) so no run is overwritten.
 * With `resume`, finished samples are loaded, and a last line cut short by a kill is cut off the
 * file before anything is appended. */
int evh_results_open(const char *dir, int resume, struct evh_results **out, struct evh_err *err);
void evh_results_close(struct evh_results *r);

/* 1 when (task, item, sample) already has a scored line (an errored one does not count, so it is
 * retried). */
int evh_results_done(const struct evh_results *r, const char *task, const char *item_id, int sample);
/* Number of finished samples loaded at open. */
size_t evh_results_loaded(const struct evh_results *r);

/* Appends one line and flushes it to the kernel before returning. Thread-safe. */
int evh_results_append(struct evh_results *r, const struct evh_sample *s, struct evh_err *err);

/* The state of a finished sample, one of "ok", "truncated" (the token cap ended it: finish reason
 * "length" or Anthropic's "max_tokens"; still scored, and flagged), "refused" ("content_filter",
 * "refusal"; scored as it stands), "error" (no usable response after retries), "timeout" (likewise,
 * ended by a timeout or stall). Static strings. */
const char *evh_sample_state(int error_code, const char *finish_reason);

/* 64-bit FNV-1a as 16 hex digits: identifies prompts in records (not a security hash). */
void evh_hash_hex(const char *s, char out[17]);
unsigned long long evh_hash64(const void *p, size_t n, unsigned long long h);

#endif
