/* gate_stats.h — the paired tests behind `evalh gate`: McNemar's exact test, a seeded paired
 * bootstrap over items, and Holm's step-down adjustment. Pure functions, no I/O, thread-safe. */
#ifndef EVH_GATE_STATS_H
#define EVH_GATE_STATS_H

#include <stddef.h>

/* Two-sided exact McNemar p-value for b and c discordant pairs (b: baseline right, candidate wrong;
 * c: the reverse): the binomial test of b against Binomial(b + c, 1/2),
 * p = min(1, 2 * P(X <= min(b, c))). Returns 1 when b + c == 0. Exact for any b + c (log space). */
double evh_stats_mcnemar_exact(unsigned long b, unsigned long c);

struct evh_boot {
	double mean;         /* observed mean of the paired differences */
	double ci_lo, ci_hi; /* percentile 95% interval of the resampled means */
	double p;            /* two-sided p for "mean difference is 0" (see gate_stats.c) */
};

/* Paired bootstrap over n per-item differences d[i] (candidate minus baseline), `resamples` draws
 * of n items with replacement from a generator seeded with `seed` (same inputs, same output on any
 * POSIX libc: erand48's sequence is fixed by the standard). Returns 0, or -1 when n == 0 or
 * resamples == 0 or memory runs out (out untouched). */
int evh_stats_paired_bootstrap(const double *d, size_t n, unsigned resamples, unsigned long seed,
			       struct evh_boot *out);

/* Holm's step-down adjustment of n p-values in place (family-wise error control over tasks). */
void evh_stats_holm(double *p, size_t n);

#endif
