/* import_int.h — shared by the importers' own files (import.c, import_csv.c, import_math.c,
 * import_mcq.c, import_code.c). Not for other modules: they use tasks/import.h. */
#ifndef PACK_IMPORT_INT_H
#define PACK_IMPORT_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "harness/util/err.h"
#include "tasks/import.h"

/* Largest input file read into memory (a decompressed benchmark file). */
#define IMP_LIMIT_INPUT (1024u << 20)

struct imp_ctx;

struct imp_format {
	const char *name;
	const char *domain, *scorer;
	const char *scorer_options;  /* JSON object text or NULL */
	const char *prompt_template; /* stored in pack.json */
	const char *system_prompt;   /* or NULL */
	const char *description;
	const char *default_member;  /* inside a zip, e.g. GPQA's gpqa_diamond.csv */
	/* One input record (a JSONL object, a CSV row as an object keyed by the normalised header, or
	 * a header-less CSV row as an array of strings) to one item. *item is NULL on failure. */
	int (*convert)(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
};

struct imp_ctx {
	const struct imp_format *f;
	const struct pack_import_opts *o;
	const char *pack_name;
	const char *file;   /* the input being read, for errors ("f.zip: a.csv") */
	const char *path;   /* the caller's name of that input (outlives the import) */
	size_t n_items;     /* items made so far, for generated ids */
	char subject[128];  /* MMLU header-less csv: the subject from the file name ("" when none) */
};

/* Records "<file>:<line>: field \"<field>\": <message>" (field may be NULL) and returns code. */
int imp_fail(struct imp_ctx *c, struct evh_err *err, size_t line, const char *field, int code, const char *fmt,
	     ...) __attribute__((format(printf, 6, 7)));

/* The first present of the '|'-separated keys (case-insensitive, as CSV headers vary) as text:
 * strings as they are, integers in decimal, other numbers with %.17g. Absent, null or empty:
 * EVH_EFORMAT naming the keys when `required`, else *out = NULL and 0. Other types: EVH_EFORMAT.
 * *out is malloc'd. */
int imp_text(struct imp_ctx *c, const cJSON *rec, size_t line, const char *keys, int required, char **out,
	     struct evh_err *err);
/* The first present of the keys, any type, or NULL. */
const cJSON *imp_get(const cJSON *rec, const char *keys);

/* A new item {"id": id}; a NULL id makes "<pack name>-NNNN" from the item count. */
int imp_item_new(struct imp_ctx *c, size_t line, const char *id, cJSON **out, struct evh_err *err);
/* Adds a string (copied) / a value (taken, also on failure) to obj; EVH_ENOMEM on failure. */
int imp_add_str(struct imp_ctx *c, size_t line, cJSON *obj, const char *key, const char *val, struct evh_err *err);
int imp_add(struct imp_ctx *c, size_t line, cJSON *obj, const char *key, cJSON *val, struct evh_err *err);

/* Trims ASCII white space at both ends in place; returns s. */
char *imp_trim(char *s);

/* Calls rec_cb for every row of the CSV text (RFC 4180: quoted fields may hold commas, quotes and
 * newlines; parsed by libcsv in strict mode). With `header`, the first row names the fields
 * (lower-cased, trimmed, spaces as '_') and each row is an object; without, rows are arrays of
 * strings. `line` is where the row starts. A malformed file or a row whose field count differs from
 * the header is EVH_EFORMAT naming the line. */
int imp_csv_each(struct imp_ctx *c, const char *data, size_t len, int header,
		 int (*rec_cb)(struct imp_ctx *c, const cJSON *rec, size_t line, void *arg, struct evh_err *err),
		 void *arg, struct evh_err *err);
/* 1 when the first CSV row of data looks like a header (its last field is not one answer letter). */
int imp_csv_first_is_header(const char *data, size_t len);

/* Converters, one per format family. */
int imp_gsm8k(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_math(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_aime(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_gpqa(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_mcq(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_humaneval(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_mbpp(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);
int imp_lcb(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err);

/* LiveCodeBench's private tests: JSON text, or base64 of zlib of a pickled str holding the JSON (as
 * its loader `json.loads(pickle.loads(zlib.decompress(base64.b64decode(s))))`). *out is the parsed
 * JSON. Exposed for the tests. */
int imp_lcb_private(struct imp_ctx *c, size_t line, const char *s, cJSON **out, struct evh_err *err);

#endif
