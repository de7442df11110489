/* report_plot.h — the charts of `evalh report`: data files written into the report folder and
 * gnuplot run on the scripts of plots/ (one child process per chart, arguments as argv, never a
 * shell; model and task names travel only inside data files). */
#ifndef EVH_REPORT_PLOT_H
#define EVH_REPORT_PLOT_H

#include <stddef.h>

#include "harness/report_run.h"
#include "harness/util/err.h"

#define EVH_CHARTS_MAX 8

struct evh_chart {
	const char *base;  /* file name without extension: BASE.svg (and BASE.png when gnuplot has cairo) */
	const char *title;
	int ok;            /* BASE.svg was written and is not empty */
	int png;           /* BASE.png too */
};

struct evh_plots {
	struct evh_chart charts[EVH_CHARTS_MAX];
	size_t n;
	char note[1024];   /* why some or all charts are missing ("gnuplot not found ..."); "" if none */
};

/* Writes the data files and runs gnuplot for every chart. gnuplot is `$EVALH_GNUPLOT` or "gnuplot"
 * on PATH; the scripts come from `$EVALH_PLOTS_DIR`, else the source tree's plots/, else ./plots.
 * A missing gnuplot or a failing chart is not an error: the chart has ok = 0 and `note` says why
 * (gnuplot's messages go to OUT_DIR/gnuplot.log). Returns an error only when the data files cannot
 * be written. */
int evh_report_plots(const struct evh_run *runs, size_t n, const char *out_dir, struct evh_plots *out,
		     struct evh_err *err);

/* Sorted unique task names over the runs' summary.json "tasks" objects; *names is malloc'd (free
 * it), the strings are borrowed from the runs. Returns the count, or (size_t)-1 on ENOMEM. */
size_t evh_report_task_names(const struct evh_run *runs, size_t n, const char ***names);

#endif
