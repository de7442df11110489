/* pack.h — task packs: an archive (tar, tar.gz, tar.zst, zip) holding pack.json and items.jsonl,
 * read with libarchive in one streaming pass, never extracted to disk. Hostile input is refused with
 * an error naming the pack, the entry and the line (see DESIGN.md "Task packs").
 * A pack is read-only after pack_open and may be shared by threads. */
#ifndef PACK_H
#define PACK_H

#include <stddef.h>

#include "harness/util/err.h"

struct pack_item {
	char *id;        /* unique within the pack */
	char *question;  /* the problem text ("question" or "prompt" in items.jsonl) */
	char *answer;    /* gold answer as text (math, science, letter for mcq); NULL for code */
	char **choices;  /* multiple choice options, NULL when none */
	size_t n_choices;
	char *tests;     /* code: the "tests" value as JSON text; NULL otherwise */
	char *json;      /* the whole item line as compact JSON, for scorers that need more fields */
	size_t line;     /* 1-based line in items.jsonl */
};

struct pack_fewshot {
	char *question;
	char *answer;
};

struct pack_manifest {
	char *name;            /* required; [A-Za-z0-9_.-]+ */
	char *version;         /* required */
	char *domain;          /* required: "math" | "code" | "science" */
	char *scorer;          /* required: scorer name, e.g. "math", "mcq", "code", "exact" */
	char *scorer_options;  /* "scorer_options" object as JSON text, or NULL */
	char *prompt_template; /* with "{question}" (and "{choices}" for mcq); NULL means "{question}" */
	char *system_prompt;   /* optional */
	struct pack_fewshot *fewshot;
	size_t n_fewshot;
	char *license, *source, *description; /* optional */
};

struct pack;

/* Reads and validates the whole pack at `path`. On failure *out is NULL, err names the pack path
 * (err->where = "<path>: <entry>:<line>" where known) and nothing leaks. */
int pack_open(const char *path, struct pack **out, struct evh_err *err);
void pack_close(struct pack *p); /* NULL allowed */

/* Validates and builds a pack from the bytes of pack.json and items.jsonl already in memory: what
 * pack_open does once the archive is read, offered so importers and pack_build check before writing.
 * The bytes are copied. Errors are located as "<origin>: items.jsonl:<line>". */
int pack_open_mem(const char *origin, const char *manifest, size_t manifest_len, const char *items,
		  size_t items_len, struct pack **out, struct evh_err *err);

const struct pack_manifest *pack_manifest(const struct pack *p);
size_t pack_count(const struct pack *p);
const struct pack_item *pack_item_at(const struct pack *p, size_t i);
/* Hex SHA-256-like digest of the archive's pack.json + items.jsonl bytes, so runs record which
 * pack content they used. Borrowed, valid until pack_close. */
const char *pack_digest(const struct pack *p);

/* The user message for an item: the prompt template with {question} (and {choices} rendered as
 * "A. ...\nB. ..." lines) substituted. Caller frees *out with free(). */
int pack_render_prompt(const struct pack *p, const struct pack_item *it, char **out, struct evh_err *err);

/* Writes an archive (format chosen by the extension: .tar, .tar.gz, .tgz, .tar.zst, .zip) from a
 * directory holding pack.json and items.jsonl, after validating it as pack_open would. */
int pack_build(const char *dir, const char *archive_path, struct evh_err *err);

/* Writes the bundled arithmetic pack (a+b, a,b in 0..999; a*b, a in 0..99, b in 0..9; user message
 * exactly "What is A + B?" / "What is A * B?"; gold the integer) with `n` items from `seed` into
 * `dir` as pack.json + items.jsonl. Same seed, same items. */
int pack_gen_arith(const char *dir, unsigned long long seed, size_t n, struct evh_err *err);

/* Finds a pack by name: an existing file path is used as is; otherwise NAME.tar.gz / .tar.zst /
 * .tar / .zip is looked for in $EVALH_PACKS (colon separated), then in `builtin_dir`.
 * Caller frees *path_out. EVH_ENOTFOUND names every place looked at. */
int pack_find(const char *name, const char *builtin_dir, char **path_out, struct evh_err *err);

#endif
