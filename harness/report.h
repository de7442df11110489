/* report.h — `evalh report`: Markdown and a self-contained HTML page comparing one or more runs
 * (one per model) on accuracy, latency and cost, with the gnuplot charts of report_plot.h. */
#ifndef EVH_REPORT_H
#define EVH_REPORT_H

#include <stddef.h>

#include "harness/report_run.h"
#include "harness/util/err.h"

enum evh_report_format { EVH_REPORT_MD = 1, EVH_REPORT_HTML = 2 };

/* Writes OUT_DIR/report.md and/or OUT_DIR/report.html (formats: a mask of enum
 * evh_report_format) for runs that each have summary.json, plus the charts and their data files.
 * Creates OUT_DIR (one level). Charts that cannot be drawn leave a note in the report and on
 * stderr, not an error. Every string from the runs is escaped for the format it lands in. */
int evh_report_write(const struct evh_run *runs, size_t n, const char *out_dir, int formats, struct evh_err *err);

/* `evalh report RUN_DIR... -o OUT_DIR [--format md,html]`. argv[0] is the subcommand name
 * ("report"), as main.c passes argc - 1, argv + 1. Returns the process exit code: 0 written (charts
 * may be missing, with a note), 2 error (usage, unreadable run, unwritable output). */
int evh_report_main(int argc, char **argv);

#endif
