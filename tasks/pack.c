/* pack.c — the pack object: pack.json and items.jsonl bytes turned into a validated, read-only
 * struct pack (pack_open_mem), its accessors and its digest. Reading archives is pack_archive.c;
 * this file never touches a file. */
#include "tasks/pack.h"

#include <cJSON.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "harness/util/buf.h"
#include "harness/util/json.h"

struct pack {
	struct pack_manifest m;
	struct pack_item *items;
	size_t n_items;
	char digest[65];
};

/* ---------------------------------------------------------------- errors and small helpers */

/* Where a failure sits: "<origin>: <entry>:<line>", the line left out when 0. */
static int fail_at(struct evh_err *err, int code, const char *origin, const char *entry, size_t line,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail_at(struct evh_err *err, int code, const char *origin, const char *entry, size_t line,
		   const char *fmt, ...)
{
	char where[EVH_ERR_WHERE];
	if (line)
		snprintf(where, sizeof where, "%s: %s:%zu", origin, entry, line);
	else
		snprintf(where, sizeof where, "%s: %s", origin, entry);
	va_list ap;
	va_start(ap, fmt);
	evh_err_failv(err, code, where, fmt, ap);
	va_end(ap);
	return code;
}

/* 1-based line of byte `off` in text (for errors inside the multi-line pack.json). */
static size_t line_of(const char *text, size_t off)
{
	size_t line = 1;
	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* Refuses bytes that are not UTF-8 or hold a NUL: every string ends up in JSON records and prompts,
 * and cJSON accepts both silently (a NUL would cut a string short without a word). Returns the
 * offset of the first bad byte, or len when all is well. */
static size_t bad_utf8_at(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0 || cp == 0)
			return i;
		i += (size_t)n;
	}
	return len;
}

/* A UTF-8 byte order mark is tolerated at the start of either file (Windows editors write one). */
static size_t skip_bom(const char *s, size_t len)
{
	return len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

struct loc {
	const char *origin, *entry;
	size_t line;
};

/* Copies the string member `key` of `obj` into *out. Absent: NULL, or an error when required.
 * Present but not a string, or empty: an error naming the field and what was found. */
static int get_str(const cJSON *obj, const char *key, bool required, char **out, const struct loc *at,
		   struct evh_err *err)
{
	*out = NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v) {
		if (required)
			return fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line, "missing required field \"%s\"", key);
		return EVH_OK;
	}
	if (!cJSON_IsString(v))
		return fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line, "field \"%s\" must be a string, got %s",
			       key, evh_json_type_name(v));
	if (!v->valuestring[0])
		return fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line, "field \"%s\" is empty", key);
	*out = strdup(v->valuestring);
	return *out ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, at->origin, "out of memory");
}

/* Parses exactly one JSON value from [s, s+len), refusing trailing garbage. */
static int parse_json(const char *s, size_t len, cJSON **out, const struct loc *at, bool multiline,
		      struct evh_err *err)
{
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (v && end) {
		while (end < s + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
			end++;
		if (end < s + len) {
			cJSON_Delete(v);
			v = NULL;
		}
	}
	if (!v) {
		size_t off = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
		size_t line = multiline ? line_of(s, off) : at->line;
		if (!end && !multiline)
			return fail_at(err, EVH_EFORMAT, at->origin, at->entry, line, "invalid JSON");
		return fail_at(err, EVH_EFORMAT, at->origin, at->entry, line, "invalid JSON at byte %zu of the %s", off + 1,
			       multiline ? "file" : "line");
	}
	*out = v;
	return EVH_OK;
}

/* ---------------------------------------------------------------- manifest */

static const char *const manifest_keys[] = {
	"name", "version", "domain", "scorer", "scorer_options", "prompt_template", "system_prompt",
	"fewshot", "license", "source", "description", "metadata", NULL,
};

static bool name_ok(const char *s)
{
	for (const char *c = s; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '.' || *c == '-'))
			return false;
	return s[0] != '\0';
}

static int parse_fewshot(const cJSON *arr, struct pack_manifest *m, const struct loc *at, struct evh_err *err)
{
	if (!cJSON_IsArray(arr))
		return fail_at(err, EVH_EFORMAT, at->origin, at->entry, 0, "field \"fewshot\" must be an array, got %s",
			       evh_json_type_name(arr));
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!n)
		return EVH_OK;
	m->fewshot = calloc(n, sizeof *m->fewshot);
	if (!m->fewshot)
		return evh_err_fail(err, EVH_ENOMEM, at->origin, "out of memory");
	const cJSON *ex;
	cJSON_ArrayForEach(ex, arr)
	{
		struct pack_fewshot *f = &m->fewshot[m->n_fewshot++];
		char field[64];
		snprintf(field, sizeof field, "fewshot[%zu]", m->n_fewshot - 1);
		if (!cJSON_IsObject(ex))
			return fail_at(err, EVH_EFORMAT, at->origin, at->entry, 0, "%s must be an object, got %s", field,
				       evh_json_type_name(ex));
		int rc = get_str(ex, "question", true, &f->question, at, err);
		if (!rc)
			rc = get_str(ex, "answer", true, &f->answer, at, err);
		if (rc) {
			evh_err_prefix(err, "%s: ", field);
			return rc;
		}
	}
	return EVH_OK;
}

static int parse_manifest(const char *origin, const char *text, size_t len, struct pack_manifest *m,
			  struct evh_err *err)
{
	struct loc at = {origin, "pack.json", 0};
	size_t bom = skip_bom(text, len);
	size_t bad = bad_utf8_at(text + bom, len - bom);
	if (bad < len - bom)
		return fail_at(err, EVH_EFORMAT, origin, "pack.json", line_of(text, bom + bad),
			       "invalid UTF-8 or NUL byte at byte %zu", bom + bad + 1);
	cJSON *j = NULL;
	int rc = parse_json(text + bom, len - bom, &j, &at, true, err);
	if (rc)
		return rc;
	if (!cJSON_IsObject(j)) {
		rc = fail_at(err, EVH_EFORMAT, origin, "pack.json", 0, "must be a JSON object, got %s", evh_json_type_name(j));
		goto out;
	}
	/* Unknown keys are refused: a misspelt "prompt_tempalte" would otherwise silently change every
	 * prompt of a run. Free-form additions go under "metadata". */
	const cJSON *kv;
	cJSON_ArrayForEach(kv, j)
	{
		bool known = false;
		for (const char *const *k = manifest_keys; *k && !known; k++)
			known = strcmp(*k, kv->string) == 0;
		if (!known) {
			rc = fail_at(err, EVH_EFORMAT, origin, "pack.json", 0,
				     "unknown field \"%s\" (free-form data goes under \"metadata\")", kv->string);
			goto out;
		}
	}
	if ((rc = get_str(j, "name", true, &m->name, &at, err)) || (rc = get_str(j, "version", true, &m->version, &at, err)) ||
	    (rc = get_str(j, "domain", true, &m->domain, &at, err)) || (rc = get_str(j, "scorer", true, &m->scorer, &at, err)) ||
	    (rc = get_str(j, "prompt_template", false, &m->prompt_template, &at, err)) ||
	    (rc = get_str(j, "system_prompt", false, &m->system_prompt, &at, err)) ||
	    (rc = get_str(j, "license", false, &m->license, &at, err)) ||
	    (rc = get_str(j, "source", false, &m->source, &at, err)) ||
	    (rc = get_str(j, "description", false, &m->description, &at, err)))
		goto out;
	if (!name_ok(m->name)) {
		rc = fail_at(err, EVH_EFORMAT, origin, "pack.json", 0, "field \"name\" must match [A-Za-z0-9_.-]+, got \"%s\"",
			     m->name);
		goto out;
	}
	if (strcmp(m->domain, "math") && strcmp(m->domain, "code") && strcmp(m->domain, "science")) {
		rc = fail_at(err, EVH_EFORMAT, origin, "pack.json", 0,
			     "field \"domain\" must be \"math\", \"code\" or \"science\", got \"%s\"", m->domain);
		goto out;
	}
	if (m->prompt_template && !strstr(m->prompt_template, "{question}")) {
		rc = fail_at(err, EVH_EFORMAT, origin, "pack.json", 0, "field \"prompt_template\" has no {question}");
		goto out;
	}
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(j, "scorer_options");
	if (opts) {
		if (!cJSON_IsObject(opts)) {
			rc = fail_at(err, EVH_EFORMAT, origin, "pack.json", 0, "field \"scorer_options\" must be an object, got %s",
				     evh_json_type_name(opts));
			goto out;
		}
		m->scorer_options = cJSON_PrintUnformatted(opts);
		if (!m->scorer_options) {
			rc = evh_err_fail(err, EVH_ENOMEM, origin, "out of memory");
			goto out;
		}
	}
	const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "fewshot");
	if (fs && (rc = parse_fewshot(fs, m, &at, err)))
		goto out;
out:
	cJSON_Delete(j);
	return rc;
}

static void manifest_free(struct pack_manifest *m)
{
	free(m->name);
	free(m->version);
	free(m->domain);
	free(m->scorer);
	free(m->scorer_options);
	free(m->prompt_template);
	free(m->system_prompt);
	for (size_t i = 0; i < m->n_fewshot; i++) {
		free(m->fewshot[i].question);
		free(m->fewshot[i].answer);
	}
	free(m->fewshot);
	free(m->license);
	free(m->source);
	free(m->description);
}

/* ---------------------------------------------------------------- items */

static void item_free(struct pack_item *it)
{
	free(it->id);
	free(it->question);
	free(it->answer);
	for (size_t i = 0; i < it->n_choices; i++)
		free(it->choices[i]);
	free(it->choices);
	free(it->tests);
	free(it->json);
}

/* Multiple choice is lettered A..Z, so at most 26 options. */
#define MAX_CHOICES 26

static int parse_choices(const cJSON *arr, struct pack_item *it, const struct loc *at, struct evh_err *err)
{
	if (!cJSON_IsArray(arr))
		return fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line, "field \"choices\" must be an array, got %s",
			       evh_json_type_name(arr));
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (n < 2 || n > MAX_CHOICES)
		return fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line,
			       "field \"choices\" must hold 2 to %d options, got %zu", MAX_CHOICES, n);
	it->choices = calloc(n, sizeof *it->choices);
	if (!it->choices)
		return evh_err_fail(err, EVH_ENOMEM, at->origin, "out of memory");
	const cJSON *c;
	cJSON_ArrayForEach(c, arr)
	{
		if (!cJSON_IsString(c) || !c->valuestring[0])
			return fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line,
				       "choices[%zu] must be a non-empty string, got %s", it->n_choices,
				       cJSON_IsString(c) ? "an empty string" : evh_json_type_name(c));
		it->choices[it->n_choices] = strdup(c->valuestring);
		if (!it->choices[it->n_choices])
			return evh_err_fail(err, EVH_ENOMEM, at->origin, "out of memory");
		it->n_choices++;
	}
	return EVH_OK;
}

static int parse_item(const char *line, size_t len, bool code, struct pack_item *it, const struct loc *at,
		      struct evh_err *err)
{
	it->line = at->line;
	cJSON *j = NULL;
	int rc = parse_json(line, len, &j, at, false, err);
	if (rc)
		return rc;
	if (!cJSON_IsObject(j)) {
		rc = fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line, "an item must be a JSON object, got %s",
			     evh_json_type_name(j));
		goto out;
	}
	if ((rc = get_str(j, "id", true, &it->id, at, err)))
		goto out;
	const bool has_q = cJSON_GetObjectItemCaseSensitive(j, "question") != NULL;
	const bool has_p = cJSON_GetObjectItemCaseSensitive(j, "prompt") != NULL;
	if (has_q && has_p) {
		rc = fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line,
			     "item \"%s\" has both \"question\" and \"prompt\"; keep one", it->id);
		goto out;
	}
	if (!has_q && !has_p) {
		rc = fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line,
			     "missing required field \"question\" (or \"prompt\") in item \"%s\"", it->id);
		goto out;
	}
	if ((rc = get_str(j, has_q ? "question" : "prompt", true, &it->question, at, err)) ||
	    (rc = get_str(j, "answer", !code, &it->answer, at, err)))
		goto out;
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "choices");
	if (ch && (rc = parse_choices(ch, it, at, err)))
		goto out;
	/* A multiple-choice gold is the letter (header contract), so a gold that is not one of the
	 * offered letters could never be scored right: refuse it here rather than at scoring time. */
	if (it->n_choices && it->answer &&
	    (strlen(it->answer) != 1 || it->answer[0] < 'A' || it->answer[0] >= 'A' + (int)it->n_choices)) {
		rc = fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line,
			     "field \"answer\" must be a letter A-%c for %zu choices, got \"%s\"", 'A' + (int)it->n_choices - 1,
			     it->n_choices, it->answer);
		goto out;
	}
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(j, "tests");
	if (tests && cJSON_IsNull(tests))
		tests = NULL;
	if (code && !tests) {
		rc = fail_at(err, EVH_EFORMAT, at->origin, at->entry, at->line,
			     "missing required field \"tests\" in item \"%s\" of a code pack", it->id);
		goto out;
	}
	if (tests && !(it->tests = cJSON_PrintUnformatted(tests))) {
		rc = evh_err_fail(err, EVH_ENOMEM, at->origin, "out of memory");
		goto out;
	}
	if (!(it->json = cJSON_PrintUnformatted(j)))
		rc = evh_err_fail(err, EVH_ENOMEM, at->origin, "out of memory");
out:
	cJSON_Delete(j);
	return rc;
}

static int cmp_item_id(const void *a, const void *b)
{
	const struct pack_item *x = *(const struct pack_item *const *)a, *y = *(const struct pack_item *const *)b;
	int c = strcmp(x->id, y->id);
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Duplicate ids would merge two items' samples in results: sort a view by (id, line) and report the
 * pair whose second occurrence comes first in the file, naming both lines. */
static int check_unique_ids(struct pack *p, const char *origin, struct evh_err *err)
{
	if (p->n_items < 2)
		return EVH_OK;
	const struct pack_item **v = malloc(p->n_items * sizeof *v);
	if (!v)
		return evh_err_fail(err, EVH_ENOMEM, origin, "out of memory");
	for (size_t i = 0; i < p->n_items; i++)
		v[i] = &p->items[i];
	qsort(v, p->n_items, sizeof *v, cmp_item_id);
	const struct pack_item *first = NULL, *second = NULL;
	for (size_t i = 1; i < p->n_items; i++)
		if (strcmp(v[i - 1]->id, v[i]->id) == 0 && (!second || v[i]->line < second->line)) {
			first = v[i - 1];
			second = v[i];
		}
	/* The earliest of a run of equal ids is the first occurrence, not the neighbour. */
	if (second)
		for (size_t i = 0; i < p->n_items; i++)
			if (v[i] == first) {
				while (i > 0 && strcmp(v[i - 1]->id, first->id) == 0)
					i--;
				first = v[i];
				break;
			}
	int rc = EVH_OK;
	if (second)
		rc = fail_at(err, EVH_EFORMAT, origin, "items.jsonl", second->line, "duplicate id \"%s\" (first on line %zu)",
			     second->id, first->line);
	free(v);
	return rc;
}

static int parse_items(struct pack *p, const char *origin, const char *text, size_t len, struct evh_err *err)
{
	const bool code = strcmp(p->m.domain, "code") == 0;
	size_t cap = 0, pos = skip_bom(text, len), lineno = 0;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		lineno++;
		if (n && s[n - 1] == '\r') /* CRLF files are common and harmless */
			n--;
		if (n > EVH_LIMIT_LINE)
			return fail_at(err, EVH_ELIMIT, origin, "items.jsonl", lineno, "line longer than %u bytes",
				       (unsigned)EVH_LIMIT_LINE);
		size_t bad = bad_utf8_at(s, n);
		if (bad < n)
			return fail_at(err, EVH_EFORMAT, origin, "items.jsonl", lineno, "invalid UTF-8 or NUL byte at byte %zu",
				       bad + 1);
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == n) /* blank lines are skipped (trailing newlines, hand-edited files) */
			continue;
		if (p->n_items == EVH_LIMIT_ITEMS)
			return fail_at(err, EVH_ELIMIT, origin, "items.jsonl", lineno, "more than %d items", EVH_LIMIT_ITEMS);
		if (p->n_items == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct pack_item *ni = realloc(p->items, nc * sizeof *ni);
			if (!ni)
				return evh_err_fail(err, EVH_ENOMEM, origin, "out of memory");
			p->items = ni;
			cap = nc;
		}
		struct pack_item *it = &p->items[p->n_items++];
		memset(it, 0, sizeof *it);
		struct loc at = {origin, "items.jsonl", lineno};
		int rc = parse_item(s, n, code, it, &at, err);
		if (rc)
			return rc;
	}
	if (!p->n_items)
		return fail_at(err, EVH_EFORMAT, origin, "items.jsonl", 0, "no items");
	return check_unique_ids(p, origin, err);
}

/* The template must show the options to the model when items have them, and must not promise
 * options that an item lacks. */
static int check_template(const struct pack *p, const char *origin, struct evh_err *err)
{
	const bool uses = p->m.prompt_template && strstr(p->m.prompt_template, "{choices}");
	for (size_t i = 0; i < p->n_items; i++) {
		const struct pack_item *it = &p->items[i];
		if (it->n_choices && !uses)
			return fail_at(err, EVH_EFORMAT, origin, "items.jsonl", it->line,
				       "item \"%s\" has choices but pack.json's prompt_template has no {choices}", it->id);
		if (!it->n_choices && uses)
			return fail_at(err, EVH_EFORMAT, origin, "items.jsonl", it->line,
				       "item \"%s\" has no choices but pack.json's prompt_template uses {choices}", it->id);
	}
	return EVH_OK;
}

/* ---------------------------------------------------------------- digest */

/* Lowercase hex of SHA-256(data) into hex[65], with nettle (the crypto library libarchive itself
 * uses on Debian; fetch.c hashes downloads with it too). Cannot fail. */
static void sha256_hex(const char *data, size_t len, char hex[65])
{
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)data);
	sha256_digest(&ctx, sizeof d, d);
	for (size_t i = 0; i < sizeof d; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The digest is the SHA-256 of sha256sum's listing of the two files, so anyone can recompute it
 * from an unpacked pack: `sha256sum pack.json items.jsonl | sha256sum`. Hashing the listing
 * rather than the concatenation keeps the boundary between the files in the digest. */
static void pack_digest_compute(struct pack *p, const char *mj, size_t mlen, const char *items, size_t ilen)
{
	char hm[65], hi[65], listing[2 * 64 + 32];
	sha256_hex(mj, mlen, hm);
	sha256_hex(items, ilen, hi);
	int n = snprintf(listing, sizeof listing, "%s  pack.json\n%s  items.jsonl\n", hm, hi);
	sha256_hex(listing, (size_t)n, p->digest);
}

/* ---------------------------------------------------------------- public */

int pack_open_mem(const char *origin, const char *manifest, size_t manifest_len, const char *items,
		  size_t items_len, struct pack **out, struct evh_err *err)
{
	*out = NULL;
	struct pack *p = calloc(1, sizeof *p);
	if (!p)
		return evh_err_fail(err, EVH_ENOMEM, origin, "out of memory");
	int rc = parse_manifest(origin, manifest, manifest_len, &p->m, err);
	if (!rc)
		rc = parse_items(p, origin, items, items_len, err);
	if (!rc)
		rc = check_template(p, origin, err);
	if (!rc)
		pack_digest_compute(p, manifest, manifest_len, items, items_len);
	if (rc) {
		pack_close(p);
		return rc;
	}
	*out = p;
	return EVH_OK;
}

void pack_close(struct pack *p)
{
	if (!p)
		return;
	manifest_free(&p->m);
	for (size_t i = 0; i < p->n_items; i++)
		item_free(&p->items[i]);
	free(p->items);
	free(p);
}

const struct pack_manifest *pack_manifest(const struct pack *p)
{
	return &p->m;
}

size_t pack_count(const struct pack *p)
{
	return p->n_items;
}

const struct pack_item *pack_item_at(const struct pack *p, size_t i)
{
	return i < p->n_items ? &p->items[i] : NULL;
}

const char *pack_digest(const struct pack *p)
{
	return p->digest;
}

#ifdef EVH_FUZZ
/* libFuzzer entry for the manifest and items parsers (build with -DEVH_FUZZ -fsanitize=fuzzer):
 * the input is pack.json, a NUL byte, then items.jsonl. Archive handling is libarchive's own. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data, *z = memchr(s, 0, size);
	size_t m = z ? (size_t)(z - s) : size;
	struct pack *p = NULL;
	if (pack_open_mem("fuzz", s, m, z ? z + 1 : "", z ? size - m - 1 : 0, &p, NULL) == EVH_OK)
		pack_close(p);
	return 0;
}
#endif
