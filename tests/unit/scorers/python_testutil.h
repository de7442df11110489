/* python_testutil.h — the interpreter the sandbox tests and tests/bench/sandbox_bench.c run.
 * Header-only (static inline): the Makefile links no per-module helper file into the tests, and the
 * bench is built from its one .c by tests/bench/bench_sandbox.sh. */
#ifndef EVH_PYTHON_TESTUTIL_H
#define EVH_PYTHON_TESTUTIL_H

#include <stdio.h>
#include <string.h>

#include "scorers/code_int.h"

/* The real interpreter behind python3, as the code scorer resolves it (scr_prog_python): PATH may
 * hold a pyenv shim that needs our environment. Fills exe and prefix (the folder to make visible,
 * left empty when it lives under /usr), each n bytes. Returns 0, or -1 when there is none. */
static inline int tu_find_python(char *exe, char *prefix, size_t n)
{
	struct scr_code_opts o;
	struct scr_prog p;
	memset(&o, 0, sizeof o);
	snprintf(o.python, sizeof o.python, "python3");
	if (scr_prog_python(&o, &p, NULL) != 0)
		return -1;
	snprintf(exe, n, "%s", p.exe);
	snprintf(prefix, n, "%s", p.prefix[0]);
	return 0;
}

#endif
