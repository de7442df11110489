/* code.h — scores a coding answer by running it against the item's tests in the sandbox
 * (scorers/sandbox.h), in Python 3 or C (compiled with gcc inside the same sandbox). Test formats,
 * options and verdict rules: scorers/SANDBOX.md. */
#ifndef SCR_CODE_H
#define SCR_CODE_H

#include <stddef.h>

#include "scorers/sandbox.h"
#include "scorers/scorer.h"

/* Extracts the program from `response` (last fenced block of the language after any </think>:
 * ```python / ```c or untagged; the whole text when there is none), runs it against gold->tests and
 * sets out->verdict to SCR_PASS, SCR_FAIL, SCR_TIMEOUT, SCR_MEMORY, SCR_RUNTIME_ERROR,
 * SCR_COMPILE_ERROR or SCR_OUTPUT_LIMIT, out->extracted to the program and out->detail to the first
 * failing test. Options (JSON object or NULL): language ("python" | "c"; the tests' own "language"
 * field wins), timeout_s, memory_mb, procs, float_tol, python, cc, cflags, compile_timeout_s.
 * An error means no verdict: bad tests or options (EVH_EFORMAT), a missing interpreter or compiler
 * (EVH_ENOTFOUND), the sandbox itself failing (EVH_ESANDBOX: a sandbox error, never the model's
 * failure; the sample is retried). Thread-safe: many workers may call it at once. Release *out with
 * scr_result_free. */
int scr_code_score(const char *options_json, const char *response, const struct scr_gold *gold,
		   struct scr_result *out, struct evh_err *err);

/* One program run without tests (`evalh sandbox run`, `evalh doctor`). */
struct scr_code_run {
	int verdict;          /* SCR_PASS (exited 0), SCR_RUNTIME_ERROR (other status or a signal),
			       * SCR_TIMEOUT, SCR_MEMORY, SCR_OUTPUT_LIMIT, SCR_COMPILE_ERROR */
	struct sbx_result res;/* the program's run; zeroed after a compile error */
	char *compile_log;    /* C: the compiler's messages (malloc'd, NULL when none) */
	double compile_s;     /* C: wall time of the compilation */
};

/* Runs `source` (Python, or C compiled first) in the sandbox with `in` on stdin and the scorer's
 * options (as above: language, timeout_s, memory_mb, procs, python, cc, cflags,
 * compile_timeout_s). Errors as scr_code_score's; *out zeroed on error. Free with
 * scr_code_run_free. Thread-safe. */
int scr_code_run(const char *options_json, const char *source, const char *in, size_t in_len,
		 struct scr_code_run *out, struct evh_err *err);
void scr_code_run_free(struct scr_code_run *r);

#endif
