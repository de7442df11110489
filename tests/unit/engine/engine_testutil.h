/* engine_testutil.h — what several engine tests need: JSON files in and out, a model folder of
 * links, the relative error of two logit rows, safetensors headers written by hand. Header-only
 * (static inline): the Makefile links only the .c files directly under tests/unit into each test
 * program. Include after <cmocka.h>; scratch files go to testutil.h's scratch folder. */
#ifndef EVH_ENGINE_TESTUTIL_H
#define EVH_ENGINE_TESTUTIL_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tokenizer.h"
#include "tests/unit/testutil.h"

/* The parsed JSON file (cJSON_Delete it); fails the test when it is missing or not JSON. */
static inline cJSON *tu_read_json(const char *path)
{
	size_t n;
	char *s = tu_slurp(path, &n);
	if (!s)
		fail_msg("cannot read %s (the files under build/npm come from tests/fetch-tokenizers.sh)", path);
	cJSON *j = cJSON_ParseWithLength(s, n);
	free(s);
	if (!j)
		fail_msg("%s: invalid JSON", path);
	return j;
}

/* Writes text into the scratch folder as name; returns the path (as tu_path). */
static inline const char *tu_write_text(const char *name, const char *text)
{
	const char *p = tu_put(name, text);
	if (!p)
		fail_msg("cannot write %s", tu_path(name));
	return p;
}

/* The same for j, unformatted. */
static inline const char *tu_write_json(const char *name, const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	const char *p = tu_put(name, s);
	free(s);
	if (!p)
		fail_msg("cannot write %s", tu_path(name));
	return p;
}

/* The tokenizer of tokenizer.json tj and tokenizer_config.json tc (may be NULL); a load error fails
 * the test. */
static inline struct eng_tokenizer *tu_tok_load(const char *tj, const char *tc)
{
	struct eng_tokenizer *t = NULL;
	struct eng_err err = {0};
	int rc = eng_tok_load(tj, tc, &t, &err);
	if (rc)
		fail_msg("eng_tok_load(%s): %d %s", tj, rc, err.msg);
	return t;
}

/* A tokenizer of tokenizer.json tj plus the special tokens added (NULL-ended, may be NULL; ids from
 * 1024), whose tokenizer_config.json names bos, eos and the chat template (each left out when NULL).
 * Both files are written to the scratch folder; a load error fails the test. */
static inline struct eng_tokenizer *tu_tok_with(const char *tj, const char **added, const char *tmpl,
						const char *bos, const char *eos)
{
	if (added) {
		cJSON *j = tu_read_json(tj);
		cJSON *list = cJSON_GetObjectItem(j, "added_tokens");
		for (int i = 0; added[i]; i++) {
			cJSON *a = cJSON_CreateObject();
			cJSON_AddNumberToObject(a, "id", 1024 + i);
			cJSON_AddStringToObject(a, "content", added[i]);
			cJSON_AddBoolToObject(a, "special", 1);
			cJSON_AddItemToArray(list, a);
		}
		tj = tu_write_json("tokenizer.json", j);
		cJSON_Delete(j);
	}
	cJSON *c = cJSON_CreateObject();
	if (bos)
		cJSON_AddStringToObject(c, "bos_token", bos);
	if (eos)
		cJSON_AddStringToObject(c, "eos_token", eos);
	if (tmpl)
		cJSON_AddStringToObject(c, "chat_template", tmpl);
	const char *tc = tu_write_json("tokenizer_config.json", c);
	cJSON_Delete(c);
	return tu_tok_load(tj, tc);
}

/* Makes dir (a mkdtemp template) a model folder of links: config.json and model.safetensors of the
 * fixture folder, the tiny tokenizer's tokenizer.json and tokenizer_config.json. tu_rmtree removes
 * it (the links, not what they point to). */
static inline void tu_link_model(char *dir, const char *fixture)
{
	char cwd[2048], a[4096], l[4200];
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(cwd, sizeof cwd));
	const char *files[][2] = {{fixture, "config.json"},
				  {fixture, "model.safetensors"},
				  {"tests/fixtures/tiny-tokenizer", "tokenizer.json"},
				  {"tests/fixtures/tiny-tokenizer", "tokenizer_config.json"}};
	for (int i = 0; i < 4; i++) {
		snprintf(a, sizeof a, "%s/%s/%s", cwd, files[i][0], files[i][1]);
		snprintf(l, sizeof l, "%s/%s", dir, files[i][1]);
		assert_int_equal(symlink(a, l), 0);
	}
}

/* ||a - b|| / ||b|| over n values (L2). Against an all-zero b: 0 when a is all zeros too, else
 * infinity, never NaN (a NaN would drop out of a `worst = e > worst ? e : worst` maximum). */
static inline double tu_rel_err(const float *a, const float *b, int n)
{
	double d2 = 0, b2 = 0;
	for (int i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		d2 += d * d;
		b2 += (double)b[i] * b[i];
	}
	if (b2 == 0)
		return d2 == 0 ? 0 : INFINITY;
	return sqrt(d2 / b2);
}

/* Adds one tensor's entry to a safetensors header object h: dtype, shape and its bytes
 * [off, off + nbytes) of the data section. */
static inline void tu_st_entry(cJSON *h, const char *name, const char *dtype, const int64_t *shape, int ndim,
			       size_t off, size_t nbytes)
{
	cJSON *e = cJSON_AddObjectToObject(h, name);
	cJSON_AddStringToObject(e, "dtype", dtype);
	cJSON *s = cJSON_AddArrayToObject(e, "shape");
	for (int d = 0; d < ndim; d++)
		cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[d]));
	cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
	cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
	cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nbytes)));
}

/* Writes the start of a safetensors file: the header's length (8 bytes, little-endian), then the
 * header; the data section follows. */
static inline void tu_st_put_header(FILE *f, const char *json)
{
	uint64_t n = strlen(json);
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (8 * i));
	fwrite(len, 1, 8, f);
	fwrite(json, 1, n, f);
}

#endif
