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

/* Reads samples.jsonl at `samples_path` (last line per (task, item, sample) wins; a cut last line is
 * ignored) and builds the summary object of results/README.md. *out freed with cJSON_Delete. */
int evh_summary_compute(const char *samples_path, const char *run_id, const char *model, cJSON **out,
			struct evh_err *err);

#endif
