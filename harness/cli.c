/* cli.c — helpers shared by the subcommands; see cli.h. */
#include "harness/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef EVALH_DATADIR
#define EVALH_DATADIR "."
#endif
#ifndef EVALH_GIT
#define EVALH_GIT "unknown"
#endif

const char *evh_cli_datadir(void)
{
	const char *d = getenv("EVALH_HOME");
	return d && *d ? d : EVALH_DATADIR;
}

void evh_cli_packs_dir(char *buf, size_t n)
{
	snprintf(buf, n, "%s/build/packs", evh_cli_datadir());
}

const char *evh_cli_git_revision(void)
{
	return EVALH_GIT;
}

int evh_cli_fail(const struct evh_err *err, int code)
{
	char s[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
	fprintf(stderr, "evalh: %s\n", evh_err_str(err, s, sizeof s));
	return code;
}

int evh_cli_double(const char *opt, const char *s, double lo, double hi, double *out, struct evh_err *err)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return evh_err_fail(err, EVH_EMISUSE, opt, "expected a number in [%g, %g], got \"%s\"", lo, hi, s);
	*out = v;
	return EVH_OK;
}

int evh_cli_long(const char *opt, const char *s, long lo, long hi, long *out, struct evh_err *err)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return evh_err_fail(err, EVH_EMISUSE, opt, "expected an integer in [%ld, %ld], got \"%s\"", lo, hi, s);
	*out = v;
	return EVH_OK;
}
