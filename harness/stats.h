/* stats.h — summary.json from samples.jsonl: accuracy with its 95% interval, pass@k, cons@k,
 * latency percentiles, tokens, cost. Computed from the file alone, so a resumed run and an
 * uninterrupted one give the same summary. */
#ifndef EVH_STATS_H
#define EVH_STATS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "harness/util/err.h"

/* Wilson score interval for c successes out of n at z (1.96 for 95%). n = 0 gives [0, 1]. */
void evh_wilson(double c, double n, double z, double *lo, double *hi);

/* Linear-interpolated percentile (numpy's default) of n sorted values; q in [0, 100]. */
double evh_percentile(const double *sorted, size_t n, double q);

/* The order of sample keys: task, then item (strcmp), then n (the sample index). merge.c sorts its
 * lines by it too, so "the last line of each sample wins" picks the same line in both. */
int evh_sample_cmp(const char *task_a, const char *item_a, long n_a, const char *task_b, const char *item_b,
		   long n_b);

/* Keeps the last of each run of equal keys, as a resumed run's retried sample replaces its first
 * line: sorts v[0..n) (elements of `size` bytes) by `by_pos` (key, then file position), passes every
 * element followed by one with an equal key (`by_key`) to `drop` and packs the rest to the front.
 * Returns how many are kept; they stay sorted by key. Shared by summary and merge (one rule). */
size_t evh_keep_last(void *v, size_t n, size_t size, int (*by_pos)(const void *, const void *),
		     int (*by_key)(const void *, const void *), void (*drop)(void *));

/* Reads samples.jsonl at `samples_path` (last line per (task, item, sample) wins; a cut last line is
 * ignored) and builds the summary object of results/README.md. *out freed with cJSON_Delete. */
int evh_summary_compute(const char *samples_path, const char *run_id, const char *model, cJSON **out,
			struct evh_err *err);

#endif
