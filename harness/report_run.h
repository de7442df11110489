/* report_run.h — reading a finished run folder (results/README.md: run.json, samples.jsonl,
 * summary.json) for `evalh report` and `evalh gate`. Read-only: this is not the writer the runner
 * uses, and it never recomputes summary.json (harness/stats does that). */
#ifndef EVH_REPORT_RUN_H
#define EVH_REPORT_RUN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/util/err.h"

/* One sample record, the fields report and gate use. Strings are owned by the run; absent or null
 * JSON strings are NULL; absent numbers are NAN. */
struct evh_rsample {
	char *task;
	char *item_id;
	int sample;      /* sample index within the item */
	int correct;     /* 1 correct, 0 wrong, -1 not scored (the request failed: see error) */
	char *verdict;   /* "correct", "wrong", "no_answer", ... or NULL */
	char *gold;
	char *extracted;
	char *rule;
	char *response;
	char *error;     /* error.code when the request never succeeded, else NULL */
	double tokens_in, tokens_out, tokens_reasoning;
	double ttft_s, total_s, cost_usd;
};

struct evh_run {
	char *dir;                 /* as given */
	cJSON *run;                /* run.json */
	cJSON *summary;            /* summary.json, NULL when the file does not exist */
	struct evh_rsample *s;     /* deduplicated (last line per key wins), sorted by task, item, sample */
	size_t n;
	const char *run_id;        /* borrowed from run.json, "" when absent */
	const char *model;         /* run.json model.name, else summary model, else "" */
};

/* Loads DIR/run.json and DIR/samples.jsonl (required) and DIR/summary.json (optional).
 * Malformed JSON or a field of the wrong type is EVH_EFORMAT with err->where "DIR/FILE:LINE";
 * a missing file is EVH_ENOTFOUND. On failure *out is zeroed and nothing leaks. */
int evh_run_load(const char *dir, struct evh_run *out, struct evh_err *err);

/* Frees everything the run holds; accepts a zeroed run. */
void evh_run_free(struct evh_run *r);

/* The entry of run.json "tasks" whose "name" is `task`, or NULL. Borrowed from the run. */
const cJSON *evh_run_task_info(const struct evh_run *r, const char *task);

/* A number at a dotted path under `root` ("latency.total_p50"), or NAN when absent / not a number.
 * (Lenient views for display; harness/util/json.h has the strict typed reads.) */
double evh_run_num(const cJSON *root, const char *path);

/* A string at a dotted path under `root`, or NULL. Borrowed. */
const char *evh_run_str(const cJSON *root, const char *path);

#endif
