/* gate_stats.c — McNemar exact, paired bootstrap, Holm; see gate_stats.h.
 * The binomial tail is summed here rather than taken from a library because the Makefile links no
 * statistics library (GSL would be the one); the terms are computed in log space with lgammal so
 * that b + c in the millions neither overflows nor underflows before the sum. */
#include "harness/gate_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double evh_stats_mcnemar_exact(unsigned long b, unsigned long c)
{
	unsigned long n = b + c, k = b < c ? b : c;
	if (n == 0)
		return 1.0;
	/* P(X <= k) for X ~ Binomial(n, 1/2): sum of C(n, i) / 2^n, largest term last for accuracy. */
	long double lg_n1 = lgammal((long double)n + 1), l2 = (long double)n * logl(2.0L);
	long double sum = 0;
	for (unsigned long i = 0; i <= k; i++)
		sum += expl(lg_n1 - lgammal((long double)i + 1) - lgammal((long double)(n - i) + 1) - l2);
	long double p = 2 * sum;
	return p > 1 ? 1.0 : (double)p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The p-value resamples the differences shifted to mean 0 (the null hypothesis made true, Efron &
 * Tibshirani 1993, sec. 16.4) and counts resampled means at least as far from 0 as the observed
 * one, with the +1 correction so that p is never exactly 0 (Davison & Hinkley 1997, eq. 4.11).
 * Both statistics come from the same draws of item indices. */
int evh_stats_paired_bootstrap(const double *d, size_t n, unsigned resamples, unsigned long seed,
			       struct evh_boot *out)
{
	if (n == 0 || resamples == 0)
		return -1;
	double *means = malloc(resamples * sizeof *means);
	if (!means)
		return -1;
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += d[i];
	mean /= (double)n;
	unsigned short xs[3] = {(unsigned short)(seed & 0xffff), (unsigned short)((seed >> 16) & 0xffff),
				(unsigned short)((seed >> 32) & 0xffff)};
	/* Counted with a tolerance: sums of the same values in another order differ in the last bits,
	 * and a resample equal to the observed extreme must count as "at least as far". */
	double tol = 1e-12 * (1 + fabs(mean));
	unsigned long extreme = 0;
	for (unsigned r = 0; r < resamples; r++) {
		double s = 0;
		for (size_t i = 0; i < n; i++) {
			size_t j = (size_t)(erand48(xs) * (double)n);
			if (j >= n)
				j = n - 1;
			s += d[j];
		}
		s /= (double)n;
		means[r] = s;
		if (fabs(s - mean) >= fabs(mean) - tol)
			extreme++;
	}
	qsort(means, resamples, sizeof *means, cmp_double);
	/* Percentile interval: the 2.5% and 97.5% order statistics (type-1 quantile). */
	size_t lo = (size_t)floor(0.025 * (resamples - 1) + 0.5), hi = (size_t)floor(0.975 * (resamples - 1) + 0.5);
	out->mean = mean;
	out->ci_lo = means[lo];
	out->ci_hi = means[hi];
	out->p = (double)(extreme + 1) / (double)(resamples + 1);
	if (out->p > 1)
		out->p = 1;
	free(means);
	return 0;
}

void evh_stats_holm(double *p, size_t n)
{
	if (n < 2)
		return;
	size_t *ord = malloc(n * sizeof *ord);
	double *adj = malloc(n * sizeof *adj);
	if (!ord || !adj) {
		/* Bonferroni is the conservative fallback when Holm cannot order the p-values. */
		for (size_t i = 0; i < n; i++)
			p[i] = p[i] * (double)n > 1 ? 1 : p[i] * (double)n;
		free(ord);
		free(adj);
		return;
	}
	for (size_t i = 0; i < n; i++)
		ord[i] = i;
	/* Insertion sort by p: the number of tasks is small. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && p[ord[j - 1]] > p[ord[j]]; j--) {
			size_t t = ord[j];
			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
	double run = 0;
	for (size_t r = 0; r < n; r++) {
		double v = p[ord[r]] * (double)(n - r);
		if (v > 1)
			v = 1;
		if (v < run)
			v = run; /* adjusted p-values are monotone in the order of the raw ones */
		run = v;
		adj[ord[r]] = v;
	}
	memcpy(p, adj, n * sizeof *p);
	free(ord);
	free(adj);
}
