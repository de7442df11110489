/* code.h — scores a coding answer by running it against the item's tests in the sandbox
 * (scorers/sandbox.h). Test formats and verdict rules: scorers/SANDBOX.md. */
#ifndef SCR_CODE_H
#define SCR_CODE_H

#include "scorers/scorer.h"

/* Extracts the program from `response` (last ```python / ``` fenced block after any </think>; the
 * whole text when there is none), runs it against gold->tests and sets out->verdict to SCR_PASS,
 * SCR_FAIL, SCR_TIMEOUT, SCR_MEMORY, SCR_RUNTIME_ERROR or SCR_COMPILE_ERROR, out->extracted to the
 * program and out->detail to the first failing test. An error (bad tests JSON, sandbox failure) means
 * no verdict. Thread-safe: many workers may call it at once. Release *out with scr_result_free. */
int scr_code_score(const char *options_json, const char *response, const struct scr_gold *gold,
		   struct scr_result *out, struct evh_err *err);

#endif
