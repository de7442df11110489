/* cli.h — what the evalh subcommands share: exit codes, data folders, option parsing, error
 * printing. Each subcommand lives in its own harness/cmd_*.c and returns an exit code; only main()
 * exits. */
#ifndef EVH_CLI_H
#define EVH_CLI_H

#include <stddef.h>

#include "harness/util/err.h"

#define EVALH_VERSION "0.1.0"

/* Exit codes, decided by the commands and returned from main (jq's rule). */
enum {
	EVH_EXIT_OK = 0,
	EVH_EXIT_FAILED = 1,     /* the command ran and found a failure (gate: regression) */
	EVH_EXIT_USAGE = 2,      /* bad arguments, unreadable input */
	EVH_EXIT_INCOMPLETE = 3, /* a run finished with samples in error: --resume retries them */
	EVH_EXIT_INTERRUPTED = 130,
};

/* Where built-in models, packs and plot scripts live: $EVALH_HOME, else the source tree. */
const char *evh_cli_datadir(void);
void evh_cli_packs_dir(char *buf, size_t n);
const char *evh_cli_git_revision(void);

/* Prints "evalh: <where>: <msg>" to stderr and returns `code`. */
int evh_cli_fail(const struct evh_err *err, int code);

/* strtod/strtol with the full checks; errors name the option and the range. */
int evh_cli_double(const char *opt, const char *s, double lo, double hi, double *out, struct evh_err *err);
int evh_cli_long(const char *opt, const char *s, long lo, long hi, long *out, struct evh_err *err);

/* Subcommands: argv[0] is the subcommand name. */
int evh_cmd_run(int argc, char **argv);
int evh_cmd_list(int argc, char **argv);
int evh_cmd_pack(int argc, char **argv);
int evh_cmd_tokenize(int argc, char **argv);
int evh_cmd_generate(int argc, char **argv);

#endif
