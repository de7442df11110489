/* runner.h — runs every (task, item, sample) job through a provider with N workers, scores each
 * answer and appends it to the results as it completes. Knows providers, scorers and packs; the
 * providers know nothing of scorers or packs. */
#ifndef EVH_RUNNER_H
#define EVH_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "harness/provider.h"
#include "harness/registry.h"
#include "harness/results.h"
#include "tasks/pack.h"

struct evh_run_opts {
	int samples;        /* k samples per item, >= 1 */
	double temperature; /* < 0: model default / server default */
	double top_p;       /* < 0: likewise */
	int max_tokens;     /* <= 0: likewise */
	int concurrency;    /* workers, >= 1 */
	size_t limit;       /* first N items of each task; 0 = all */
	uint64_t seed;
	int quiet;          /* no progress output */
	const char *system_prompt; /* overrides the pack's; NULL keeps it */
};
void evh_run_opts_defaults(struct evh_run_opts *o);
/* Names the first bad option in err (EVH_EMISUSE). */
int evh_run_opts_check(const struct evh_run_opts *o, struct evh_err *err);

struct evh_task {
	const char *name;
	const struct pack *pack; /* borrowed */
};

struct evh_run_totals {
	size_t jobs, skipped, done, correct, scored, errors;
	double cost_usd;
	long tokens_out;
	int interrupted;
};

/* Runs all jobs not already done in `res`. Returns EVH_OK when every job ran (some may have
 * recorded errors: see totals.errors), or a code when the run could not go on (results not
 * writable). Stops early, with totals.interrupted set, after evh_provider_cancel_all(). */
int evh_runner_run(const struct evh_run_opts *o, struct evh_provider *prov, const struct evh_model *model,
		   const struct evh_task *tasks, size_t n_tasks, struct evh_results *res, struct evh_run_totals *totals,
		   struct evh_err *err);

#endif
