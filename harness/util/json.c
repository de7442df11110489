/* json.c — cJSON helpers; see json.h. */
#include "harness/util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/util/buf.h"

const char *evh_json_type_name(const cJSON *v)
{
	if (!v)
		return "nothing";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "an invalid value";
}

int evh_json_parse(const char *text, size_t len, const char *where, cJSON **out, struct evh_err *err)
{
	const char *end = NULL;
	*out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (*out)
		return EVH_OK;
	/* cJSON reports the byte where parsing stopped; turn it into line:column for humans. */
	size_t off = end && end >= text ? (size_t)(end - text) : 0, line = 1, col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return evh_err_fail(err, EVH_EFORMAT, where, "invalid JSON at line %zu, column %zu", line, col);
}

int evh_json_load_file(const char *path, cJSON **out, struct evh_err *err)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return evh_err_fail(err, errno == ENOENT ? EVH_ENOTFOUND : EVH_EIO, path, "cannot open: %s",
				    strerror(errno));
	struct evh_buf b;
	evh_buf_init(&b, EVH_LIMIT_BODY);
	char chunk[65536];
	size_t n;
	int rc = EVH_OK;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if ((rc = evh_buf_add(&b, chunk, n)))
			break;
	if (!rc && ferror(f))
		rc = EVH_EIO;
	fclose(f);
	if (rc) {
		evh_buf_free(&b);
		if (rc == EVH_ELIMIT)
			return evh_err_fail(err, rc, path, "file larger than %u bytes", EVH_LIMIT_BODY);
		return evh_err_fail(err, rc, path, "read failed");
	}
	rc = evh_json_parse(evh_buf_str(&b), b.len, path, out, err);
	evh_buf_free(&b);
	return rc;
}

int evh_json_str(const cJSON *obj, const char *key, int required, char **out, const char *where,
		 struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v)) {
		if (required)
			return evh_err_fail(err, EVH_EFORMAT, where, "missing required field \"%s\"", key);
		return EVH_OK;
	}
	if (!cJSON_IsString(v))
		return evh_err_fail(err, EVH_EFORMAT, where, "field \"%s\": expected a string", key);
	char *s = strdup(v->valuestring);
	if (!s)
		return evh_err_fail(err, EVH_ENOMEM, where, "field \"%s\"", key);
	free(*out);
	*out = s;
	return EVH_OK;
}

int evh_json_num(const cJSON *obj, const char *key, double *out, const char *where, struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		return EVH_OK;
	if (!cJSON_IsNumber(v))
		return evh_err_fail(err, EVH_EFORMAT, where, "field \"%s\": expected a number", key);
	*out = v->valuedouble;
	return EVH_OK;
}

int evh_json_write_file(const char *path, const cJSON *root, struct evh_err *err)
{
	char *text = cJSON_Print(root);
	if (!text)
		return evh_err_fail(err, EVH_ENOMEM, path, "serialising JSON");
	size_t np = strlen(path) + 16;
	char *tmp = malloc(np);
	if (!tmp) {
		free(text);
		return evh_err_fail(err, EVH_ENOMEM, path, "temp name");
	}
	snprintf(tmp, np, "%s.tmp", path);
	int rc = EVH_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = evh_err_fail(err, EVH_EIO, tmp, "cannot create: %s", strerror(errno));
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = evh_err_fail(err, EVH_EIO, tmp, "write failed: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (!rc && (write(fd, "\n", 1) != 1 || fsync(fd) != 0))
		rc = evh_err_fail(err, EVH_EIO, tmp, "write failed: %s", strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = evh_err_fail(err, EVH_EIO, path, "rename failed: %s", strerror(errno));
	if (rc)
		unlink(tmp);
out:
	free(tmp);
	free(text);
	return rc;
}
