/* diff.h — `evalh diff RUN_A RUN_B`: per task, the items whose verdict flipped between two runs
 * (regressions first, then improvements), with both extracted answers, the gold answer and links
 * to the lines of both runs' samples.jsonl. Reads the run folders only (results/README.md). */
#ifndef EVH_DIFF_H
#define EVH_DIFF_H

#include "harness/util/buf.h"
#include "harness/util/err.h"

/* Appends the Markdown of the flips from run folder a to run folder b to out. An item's verdict is
 * the majority of its scored samples (correct when more than half are); items missing or unscored in
 * either run are not compared. Links are `DIR/samples.jsonl#Lline` of the item's first sample line.
 * Errors name the file and line (EVH_ENOTFOUND, EVH_EFORMAT). */
int evh_diff_markdown(const char *run_a, const char *run_b, struct evh_buf *out, struct evh_err *err);

/* The subcommand: argv[0] is "diff". Prints the Markdown on stdout; exit 0, or 2 on bad input. */
int evh_diff_main(int argc, char **argv);

#endif
