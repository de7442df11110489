/* jsonl.h — reading a JSON-lines file the way every reader of samples.jsonl must: one parsed
 * object per complete line, errors naming "FILE:LINE", and a last line without its '\n' (cut by a
 * kill mid-write) skipped, as `--resume` cuts it (results/README.md). */
#ifndef EVH_JSONL_H
#define EVH_JSONL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "harness/util/err.h"

/* Called once per line. *obj is the parsed line; set it to NULL to keep it (the caller then owns
 * it), else it is deleted after the call. line/len are the raw bytes without the '\n'; where is
 * "FILE:LINE" and lineno the 1-based line. A nonzero return stops the reading with that code
 * (record the message in err yourself). */
typedef int (*evh_jsonl_fn)(void *ctx, cJSON **obj, const char *line, size_t len, const char *where,
			    size_t lineno, struct evh_err *err);

/* Reads path line by line. Blank lines are skipped; a line longer than EVH_LIMIT_LINE is
 * EVH_ELIMIT and one that is not JSON EVH_EFORMAT ("malformed JSON near column N"), both with
 * where "FILE:LINE"; a missing file is EVH_ENOTFOUND. */
int evh_jsonl_each(const char *path, evh_jsonl_fn fn, void *ctx, struct evh_err *err);

#endif
