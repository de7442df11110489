/* runner.h — runs every (task, item, sample) job through a provider with N workers, scores each
 * answer and appends it to the results as it completes. Knows providers, scorers and packs; the
 * providers know nothing of scorers or packs. Also chooses the seeded, stratified subset --limit
 * takes, so that every model limited the same way sees the same items. */
#ifndef EVH_RUNNER_H
#define EVH_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "harness/provider.h"
#include "harness/registry.h"
#include "harness/results.h"
#include "tasks/pack.h"

struct evh_run_opts {
	int samples;        /* k samples per item, >= 1 (a task's own `samples` wins) */
	double temperature; /* < 0: model default / server default */
	double top_p;       /* < 0: likewise */
	int max_tokens;     /* <= 0: likewise */
	int concurrency;    /* requests in flight at the start, >= 1 */
	int max_concurrency; /* ceiling of the adaptive limit (aimd.h); <= concurrency: fixed */
	size_t limit;       /* N items of each task (evh_subsample); 0 = all */
	uint64_t subsample_seed;
	uint64_t seed;
	int quiet;          /* no progress output */
	const char *system_prompt;    /* overrides the pack's; "" sends none; NULL keeps the pack's */
	const char *math_instruction; /* appended on a new line to the prompts of math packs; NULL: none */
	double max_cost_usd; /* stop taking jobs once this invocation spent this much; 0: no budget */
	double max_time_s;   /* stop taking jobs after this long; 0: no budget */
	const char *endpoint; /* key of the endpoint's adaptive limiter (its base URL); NULL: none */
};
void evh_run_opts_defaults(struct evh_run_opts *o);
/* Names the first bad option in err (EVH_EMISUSE). */
int evh_run_opts_check(const struct evh_run_opts *o, struct evh_err *err);

struct evh_task {
	const char *name;
	const struct pack *pack; /* borrowed */
	int samples;             /* k for this task; 0: the options' */
	const size_t *items;     /* indices of the items to run, ascending (borrowed); NULL: all */
	size_t n_items;
};

/* Why a run stopped before every job ran. */
enum evh_stop {
	EVH_STOP_NONE = 0,
	EVH_STOP_CANCELLED,  /* SIGINT / SIGTERM */
	EVH_STOP_FATAL,      /* a status no retry fixes (400, 401, 402, 403, 404, 422) or no API key */
	EVH_STOP_COST,       /* --max-cost reached */
	EVH_STOP_TIME,       /* --max-time reached */
};

struct evh_run_totals {
	size_t jobs, skipped, done, correct, scored, errors, truncated;
	double cost_usd;
	long tokens_out;
	int interrupted;  /* some jobs did not run: see stop */
	int stop;         /* enum evh_stop */
	char stop_msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4]; /* EVH_STOP_FATAL: the status and the server's words */
};

/* 1 for the HTTP statuses that retrying cannot fix and that stop a run at once: 400, 401, 402
 * (DeepSeek's "insufficient balance"), 403, 404, 422. */
int evh_status_is_fatal(int status);

/* Runs all jobs not already done in `res`. Returns EVH_OK when the run ended in order (every job
 * ran, some perhaps with errors: see totals.errors; or it stopped early for a reason in
 * totals.stop, having recorded every sample that finished), or a code when the run could not go on
 * (results not writable). */
int evh_runner_run(const struct evh_run_opts *o, struct evh_provider *prov, const struct evh_model *model,
		   const struct evh_task *tasks, size_t n_tasks, struct evh_results *res, struct evh_run_totals *totals,
		   struct evh_err *err);

/* The user message and system prompt the runner sends for item `it` of `task`: the pack's rendered
 * prompt plus the options' math instruction; *system is borrowed (options or pack), NULL or "" for
 * none. *user is malloc'd (caller frees). */
int evh_runner_prompt(const struct evh_run_opts *o, const struct evh_task *task, const struct pack_item *it,
		      char **user, const char **system, struct evh_err *err);

/* The items --limit runs: `limit` of the pack's items (all when 0 or >= its size), stratified by
 * the item fields "subject", "level", "domain", "difficulty" (top level or under "metadata") where
 * the pack has them, each stratum given its share by largest remainders and its items chosen by a
 * seeded hash of their ids. The choice depends on the pack's items and the seed alone, never on the
 * model or on item order. *out (malloc'd, caller frees) holds ascending indices. */
int evh_subsample(const struct pack *p, size_t limit, uint64_t seed, size_t **out, size_t *n_out,
		  struct evh_err *err);

#endif
