/* gate.h — `evalh gate`: compares a candidate run with a baseline item by item and decides whether
 * the candidate regressed. Exit codes: 0 no significant regression, 1 regression, 2 error or runs
 * not comparable. The semantics of every option are written down in gate.c's top comment. */
#ifndef EVH_GATE_H
#define EVH_GATE_H

#include <stddef.h>

#include "harness/report_run.h"
#include "harness/util/buf.h"
#include "harness/util/err.h"

enum evh_gate_exit { EVH_GATE_PASS = 0, EVH_GATE_REGRESSION = 1, EVH_GATE_ERROR = 2 };

struct evh_gate_opts {
	double alpha;           /* significance level, default 0.05 */
	double max_drop;        /* percentage points a significant drop must exceed to fail; default 0 */
	const char *const *tasks; /* only these tasks (NULL: every task of the runs) */
	size_t n_tasks;
	int force;              /* compare despite different pack digests/versions or sampling options */
	unsigned resamples;     /* bootstrap resamples, default 10000 */
	unsigned long seed;     /* bootstrap seed, default 20261201 */
};

void evh_gate_opts_defaults(struct evh_gate_opts *o);

enum evh_gate_verdict {
	EVH_GATE_OK = 0,        /* no significant change */
	EVH_GATE_IMPROVED,      /* significant gain */
	EVH_GATE_SMALL_DROP,    /* significant drop not larger than max_drop */
	EVH_GATE_REGRESSED,     /* significant drop larger than max_drop */
};

struct evh_gate_row {
	char *task;             /* "overall" for the pooled row */
	size_t items;
	int k_base, k_cand;     /* samples per item (largest seen) */
	double base_acc, cand_acc; /* mean over items of the per-item fraction correct */
	double delta;           /* cand_acc - base_acc, as a fraction */
	double ci_lo, ci_hi;    /* bootstrap 95% interval of delta */
	double p;               /* p-value of the test, Holm-adjusted over tasks when several */
	double p_raw;           /* before adjustment */
	int exact;              /* 1: McNemar exact (one sample each), 0: paired bootstrap */
	unsigned long b, c;     /* McNemar discordant pairs: base right & cand wrong, and the reverse */
	enum evh_gate_verdict verdict;
};

struct evh_gate_result {
	struct evh_gate_row *rows; /* one per task in name order, then "overall" when > 1 task */
	size_t n;
	int regression;         /* any row EVH_GATE_REGRESSED */
	char notes[1024];       /* warnings the table should carry (forced comparisons) */
};

/* Pairs the samples of the two runs and tests each task. Runs that cannot be compared (a task or
 * item in one run only, different pack digests/versions or sampling without force, unscored
 * samples) are EVH_EUNSUPPORTED with a message naming the first difference; *out is then empty. */
int evh_gate_compare(const struct evh_run *base, const struct evh_run *cand, const struct evh_gate_opts *o,
		     struct evh_gate_result *out, struct evh_err *err);

void evh_gate_result_free(struct evh_gate_result *r);

/* Appends the Markdown table (a CI comment) for a result. */
int evh_gate_markdown(const struct evh_run *base, const struct evh_run *cand, const struct evh_gate_opts *o,
		      const struct evh_gate_result *r, struct evh_buf *out);

/* `evalh gate --baseline RUN --candidate RUN [--alpha A] [--max-drop PTS] [--tasks T,..] [--task T]
 * [--force] [--resamples N] [--seed S]`; argv[0] is the subcommand name ("gate"), as main.c passes
 * argc - 1, argv + 1. Returns the exit
 * code (enum evh_gate_exit); the table goes to stdout, errors to stderr. */
int evh_gate_main(int argc, char **argv);

#endif
