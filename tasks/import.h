/* import.h — turns the files public benchmarks publish (GSM8K, MATH/MATH-500, AIME, GPQA, HumanEval,
 * MBPP, LiveCodeBench, ARC/MMLU) into evalh packs. Formats, fields and templates:
 * tasks/packs/README.md. The result is validated with pack_open_mem and written through pack_build,
 * so an import either leaves a pack that opens or leaves nothing. */
#ifndef PACK_IMPORT_H
#define PACK_IMPORT_H

#include <stddef.h>

#include "harness/util/err.h"

struct pack_import_opts {
	const char *name;        /* pack name; NULL: the format's name */
	const char *version;     /* NULL: "1" */
	const char *password;    /* for encrypted zip inputs (GPQA's dataset.zip) */
	const char *member;      /* the entry to read inside a zip; NULL: the format's default or the
				  * only data file in it */
	unsigned long long seed; /* option order for GPQA (its csv lists the correct answer first) */
	const char *source;      /* recorded in pack.json; NULL: the input file names */
	const char *license;     /* recorded in pack.json when set */
	const char *fewshot_file;/* items of this file (same format) become few-shot examples */
	size_t n_fewshot;        /* how many of them (0 with a file: up to 8) */
};

/* Reads `files` (all in `format`, items concatenated in order; .gz/.bz2/.xz/.zst compressed or a zip
 * are read through libarchive) and writes the pack archive `out_path` (extension as pack_build).
 * Errors name the input as "<file>:<line>" and the field. On failure nothing is left at out_path.
 * `o` may be NULL. Thread-compatible (no shared state). */
int pack_import(const char *format, const char *const *files, size_t n_files, const struct pack_import_opts *o,
		const char *out_path, struct evh_err *err);

/* The format names pack_import accepts, comma separated, for usage texts. Static. */
const char *pack_import_formats(void);

#endif
