/* json.h — small cJSON helpers shared by the harness: typed field reads whose errors name the file
 * and the field, and whole-file loading with a size ceiling. */
#ifndef EVH_JSON_H
#define EVH_JSON_H

#include <cjson/cJSON.h>

#include "harness/util/err.h"

/* Parses the file at path (at most EVH_LIMIT_BODY bytes). On a syntax error the message gives the
 * line and column. *out freed with cJSON_Delete. */
int evh_json_load_file(const char *path, cJSON **out, struct evh_err *err);

/* Parses len bytes; `where` names the input in errors (line/column are appended). */
int evh_json_parse(const char *text, size_t len, const char *where, cJSON **out, struct evh_err *err);

/* Copies the string field `key` into *out (malloc'd). Absent: EVH_EFORMAT when required, else
 * leaves *out untouched. Present with another type: EVH_EFORMAT naming where.key. */
int evh_json_str(const cJSON *obj, const char *key, int required, char **out, const char *where,
		 struct evh_err *err);

/* Reads the number field `key` into *out; absent leaves *out untouched; another type is EVH_EFORMAT. */
int evh_json_num(const cJSON *obj, const char *key, double *out, const char *where, struct evh_err *err);

/* The kind of a value as error messages say it: "a string", "a number", "a boolean", "null",
 * "an array", "an object"; "nothing" for NULL (an absent field). Never NULL. */
const char *evh_json_type_name(const cJSON *v);

/* Writes `root` to path atomically (temp file + fsync + rename) so a kill never leaves half a file. */
int evh_json_write_file(const char *path, const cJSON *root, struct evh_err *err);

#endif
