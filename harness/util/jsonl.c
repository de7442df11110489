/* jsonl.c — JSON-lines reading shared by the run-folder readers; see jsonl.h. */
#include "harness/util/jsonl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/util/buf.h"

int evh_jsonl_each(const char *path, evh_jsonl_fn fn, void *ctx, struct evh_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return evh_err_fail(err, errno == ENOENT ? EVH_ENOTFOUND : EVH_EIO, path, "cannot open: %s",
				    strerror(errno));
	char *line = NULL, where[EVH_ERR_WHERE];
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = EVH_OK;
	while (!rc && (len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n')
			break; /* cut by a kill: not a finished record */
		line[--len] = '\0';
		snprintf(where, sizeof where, "%s:%zu", path, lineno);
		if ((size_t)len > EVH_LIMIT_LINE) {
			rc = evh_err_fail(err, EVH_ELIMIT, where, "line longer than %u bytes", EVH_LIMIT_LINE);
			break;
		}
		if (strspn(line, " \t\r") == (size_t)len)
			continue; /* blank lines carry nothing */
		const char *end = NULL;
		cJSON *o = cJSON_ParseWithLengthOpts(line, (size_t)len, &end, 0);
		if (!o) {
			size_t col = end && end >= line ? (size_t)(end - line) + 1 : 1;
			rc = evh_err_fail(err, EVH_EFORMAT, where, "malformed JSON near column %zu", col);
			break;
		}
		rc = fn(ctx, &o, line, (size_t)len, where, lineno, err);
		cJSON_Delete(o);
	}
	free(line);
	fclose(f);
	return rc;
}
