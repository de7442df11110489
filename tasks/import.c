/* import.c — pack_import: reads benchmark files (plain, compressed, or inside a zip, possibly
 * encrypted) through libarchive, hands each JSONL line or CSV row to the format's converter, and
 * writes the pack through pack_build. The converters live in import_{math,mcq,code}.c. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <utf8proc.h>

#include "harness/util/buf.h"
#include "harness/util/json.h"
#include "harness/util/str.h"
#include "tasks/import_int.h"
#include "tasks/pack.h"

/* ---- formats --------------------------------------------------------------------------------- */

/* The DeepSeek-R1 evaluation wording for math (its paper, "Evaluation Setup"). */
#define TPL_MATH "{question}\nPlease reason step by step, and put your final answer within \\boxed{}."
/* The answer-letter instruction of OpenAI simple-evals (GPQA, MMLU), which DeepSeek-R1 reports use. */
#define TPL_MCQ4                                                                                           \
	"Answer the following multiple choice question. The last line of your response should be of the " \
	"following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by "  \
	"step before answering.\n\n{question}\n\n{choices}"
#define TPL_MCQ                                                                                            \
	"Answer the following multiple choice question. The last line of your response should be of the " \
	"following format: 'Answer: $LETTER' (without quotes) where LETTER is the letter of one of the "   \
	"options. Think step by step before answering.\n\n{question}\n\n{choices}"
#define TPL_HUMANEVAL                                                                                      \
	"Complete the following Python function. Answer with the whole function in one ```python code "   \
	"block.\n\n```python\n{question}\n```"
/* MBPP's own prompt (Austin et al. 2021, section 2.1) plus where to put the code. */
#define TPL_MBPP                                                                                           \
	"You are an expert Python programmer, and here is your task: {question}\n\nAnswer with the "      \
	"program in one ```python code block."

static const struct imp_format formats[] = {
	{"gsm8k", "math", "math", NULL, TPL_MATH, NULL, "GSM8K grade-school math word problems", NULL,
	 imp_gsm8k},
	{"math", "math", "math", NULL, TPL_MATH, NULL, "MATH competition problems (MATH-500 compatible)", NULL,
	 imp_math},
	{"aime", "math", "math", NULL, TPL_MATH, NULL, "AIME problems (integer answers 0-999)", NULL, imp_aime},
	{"gpqa", "science", "mcq", NULL, TPL_MCQ4, NULL, "GPQA graduate-level science multiple choice",
	 "gpqa_diamond.csv", imp_gpqa},
	{"mmlu", "science", "mcq", NULL, TPL_MCQ4, NULL, "MMLU-style multiple choice", NULL, imp_mcq},
	{"arc", "science", "mcq", NULL, TPL_MCQ, NULL, "ARC-style multiple choice", NULL, imp_mcq},
	{"mcq", "science", "mcq", NULL, TPL_MCQ, NULL, "multiple choice", NULL, imp_mcq},
	{"humaneval", "code", "code", NULL, TPL_HUMANEVAL, NULL, "HumanEval Python function completion", NULL,
	 imp_humaneval},
	{"mbpp", "code", "code", NULL, TPL_MBPP, NULL, "MBPP Python programming problems", NULL, imp_mbpp},
	{"livecodebench", "code", "code", NULL, "{question}", NULL, "LiveCodeBench code generation", NULL,
	 imp_lcb},
};

const char *pack_import_formats(void)
{
	return "gsm8k, math, aime, gpqa, mmlu, arc, mcq, humaneval, mbpp, livecodebench";
}

static const struct imp_format *format_find(const char *name)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	if (strcmp(name, "math500") == 0 || strcmp(name, "math-500") == 0)
		return format_find("math");
	if (strcmp(name, "lcb") == 0)
		return format_find("livecodebench");
	return NULL;
}

/* ---- helpers for the converters --------------------------------------------------------------- */

int imp_fail(struct imp_ctx *c, struct evh_err *err, size_t line, const char *field, int code, const char *fmt,
	     ...)
{
	char where[EVH_ERR_WHERE], msg[EVH_ERR_MSG];
	if (line)
		snprintf(where, sizeof where, "%s:%zu", c->file, line);
	else
		snprintf(where, sizeof where, "%s", c->file);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (field)
		return evh_err_fail(err, code, where, "field \"%s\": %s", field, msg);
	return evh_err_fail(err, code, where, "%s", msg);
}

const cJSON *imp_get(const cJSON *rec, const char *keys)
{
	char k[128];
	for (const char *p = keys; *p;) {
		size_t n = strcspn(p, "|");
		if (n < sizeof k) {
			memcpy(k, p, n);
			k[n] = 0;
			/* cJSON_GetObjectItem compares case-insensitively: "Question" and "question" alike. */
			const cJSON *v = cJSON_GetObjectItem(rec, k);
			if (v && !cJSON_IsNull(v))
				return v;
		}
		p += n;
		if (*p == '|')
			p++;
	}
	return NULL;
}

int imp_text(struct imp_ctx *c, const cJSON *rec, size_t line, const char *keys, int required, char **out,
	     struct evh_err *err)
{
	*out = NULL;
	const cJSON *v = imp_get(rec, keys);
	char num[64];
	const char *s = NULL;
	if (cJSON_IsString(v)) {
		s = v->valuestring;
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == (double)(long long)d && d > -1e15 && d < 1e15)
			snprintf(num, sizeof num, "%lld", (long long)d);
		else
			snprintf(num, sizeof num, "%.17g", d);
		s = num;
	} else if (v) {
		return imp_fail(c, err, line, keys, EVH_EFORMAT, "a string is expected, found %s",
				evh_json_type_name(v));
	}
	if (!s || !s[strspn(s, " \t\r\n")]) {
		if (required)
			return imp_fail(c, err, line, keys, EVH_EFORMAT, "missing or empty");
		return 0;
	}
	if (!(*out = strdup(s)))
		return imp_fail(c, err, line, keys, EVH_ENOMEM, "out of memory");
	return 0;
}

int imp_add(struct imp_ctx *c, size_t line, cJSON *obj, const char *key, cJSON *val, struct evh_err *err)
{
	if (!val || !cJSON_AddItemToObject(obj, key, val)) {
		cJSON_Delete(val);
		return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	return 0;
}

int imp_add_str(struct imp_ctx *c, size_t line, cJSON *obj, const char *key, const char *val, struct evh_err *err)
{
	return imp_add(c, line, obj, key, cJSON_CreateString(val), err);
}

int imp_item_new(struct imp_ctx *c, size_t line, const char *id, cJSON **out, struct evh_err *err)
{
	char gen[160];
	if (!id) {
		snprintf(gen, sizeof gen, "%s-%04zu", c->pack_name, c->n_items + 1);
		id = gen;
	}
	*out = cJSON_CreateObject();
	if (!*out)
		return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	int rc = imp_add_str(c, line, *out, "id", id, err);
	if (rc) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

char *imp_trim(char *s)
{
	size_t n = strlen(s), a = 0;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	while (a < n && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r' || s[a] == '\n'))
		a++;
	memmove(s, s + a, n - a);
	s[n - a] = 0;
	return s;
}

/* ---- reading an input file ------------------------------------------------------------------- */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int is_data_name(const char *n)
{
	static const char *const ext[] = {".csv", ".jsonl", ".json", NULL};
	return evh_str_ends_with_any(n, ext);
}

static int read_data(struct archive *a, const char *where, struct evh_buf *out, struct evh_err *err)
{
	char block[65536];
	for (;;) {
		la_ssize_t n = archive_read_data(a, block, sizeof block);
		if (n == 0)
			return 0;
		if (n < 0)
			return evh_err_fail(err, EVH_EFORMAT, where, "cannot read: %s", archive_error_string(a));
		int rc = evh_buf_add(out, block, (size_t)n);
		if (rc)
			return evh_err_fail(err, rc, where, rc == EVH_ELIMIT ? "larger than %u MiB unpacked" : "out of memory",
					    IMP_LIMIT_INPUT >> 20);
	}
}

/* The bytes of `path`: the file itself, decompressed (gzip, bzip2, xz, zstd), or one entry of a zip
 * (`member`, else `def_member`, else the only .csv/.jsonl/.json in it). Only these filters: the
 * external-program ones (lrzip, lzop, grzip) are never enabled, as in pack_archive.c. */
static int read_input(const char *path, const char *member, const char *def_member, const char *password,
		      struct evh_buf *out, char *chosen, size_t chosen_n, struct evh_err *err)
{
	struct archive *a = archive_read_new();
	if (!a)
		return evh_err_fail(err, EVH_ENOMEM, path, "out of memory");
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_raw(a);
	if (password)
		archive_read_add_passphrase(a, password);
	struct evh_buf other; /* the only data file so far, when looking for a default member */
	evh_buf_init(&other, IMP_LIMIT_INPUT);
	char other_name[256] = "", names[512] = "";
	int n_data = 0, found = 0, rc = 0;
	snprintf(chosen, chosen_n, "%s", path);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		rc = evh_err_fail(err, errno == ENOENT ? EVH_ENOTFOUND : EVH_EIO, path, "cannot open: %s",
				  archive_error_string(a));
		goto out;
	}
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (archive_format(a) == ARCHIVE_FORMAT_RAW) {
			rc = read_data(a, path, out, err);
			found = 1;
			break;
		}
		const char *name = archive_entry_pathname(e);
		if (!name || archive_entry_filetype(e) != AE_IFREG)
			continue;
		const char *bn = base_name(name);
		const char *want = member ? member : def_member;
		int take = want && (strcmp(bn, want) == 0 || strcmp(name, want) == 0);
		int data = is_data_name(bn);
		if (data) {
			size_t l = strlen(names);
			snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", name);
		}
		if (!take && (member || !data))
			continue;
		if (!take && n_data++ > 0)
			continue; /* a second candidate: only worth knowing for the error */
		if (archive_entry_is_encrypted(e) && !password) {
			rc = evh_err_fail(err, EVH_EUNSUPPORTED, path, "%s is encrypted: give its password (--password)",
					  name);
			goto out;
		}
		char where[EVH_ERR_WHERE];
		snprintf(where, sizeof where, "%s: %s", path, name);
		rc = read_data(a, where, take ? out : &other, err);
		if (rc)
			goto out;
		if (take) {
			snprintf(chosen, chosen_n, "%s: %s", path, name);
			found = 1;
			break;
		}
		snprintf(other_name, sizeof other_name, "%s", name);
	}
	if (rc)
		goto out;
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF && !found) {
		rc = evh_err_fail(err, EVH_EFORMAT, path, "unreadable: %s", archive_error_string(a));
		goto out;
	}
	if (!found && member) {
		rc = evh_err_fail(err, EVH_ENOTFOUND, path, "no entry \"%s\" in the archive (data files: %s)", member,
				  names[0] ? names : "none");
	} else if (!found && n_data == 1) {
		evh_buf_free(out);
		*out = other;
		evh_buf_init(&other, IMP_LIMIT_INPUT);
		snprintf(chosen, chosen_n, "%s: %s", path, other_name);
	} else if (!found) {
		rc = evh_err_fail(err, EVH_EFORMAT, path, n_data ? "several data files (%s): choose one with --member"
							  : "no .csv, .jsonl or .json file inside%s",
				  names);
	}
out:
	evh_buf_free(&other);
	archive_read_free(a);
	return rc;
}

/* UTF-8 and no NUL, checked before parsing so the error names the line (utf8proc decodes). */
static int check_text(struct imp_ctx *c, const char *s, size_t len, struct evh_err *err)
{
	size_t line = 1, ls = 0;
	for (size_t i = 0; i < len;) {
		unsigned char b = (unsigned char)s[i];
		if (b == '\n') {
			line++;
			ls = ++i;
			continue;
		}
		if (b == 0)
			return imp_fail(c, err, line, NULL, EVH_EFORMAT, "NUL byte at byte %zu of the line", i - ls + 1);
		if (b < 0x80) {
			i++;
			continue;
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0)
			return imp_fail(c, err, line, NULL, EVH_EFORMAT, "invalid UTF-8 at byte %zu of the line",
					i - ls + 1);
		i += (size_t)n;
	}
	return 0;
}

/* ---- records to items ------------------------------------------------------------------------ */

struct sink {
	cJSON *items;       /* array of items */
	size_t *lines;      /* input line of each item, to name it when the pack check fails */
	const char **files; /* input file of each item (borrowed from the caller's list) */
	size_t cap;
	size_t limit;       /* 0: no limit */
};

static int sink_rec(struct imp_ctx *c, const cJSON *rec, size_t line, void *arg, struct evh_err *err)
{
	struct sink *s = arg;
	if (s->limit && c->n_items >= s->limit)
		return 0;
	cJSON *item = NULL;
	int rc = c->f->convert(c, rec, line, &item, err);
	if (rc)
		return rc;
	if (c->n_items == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		size_t *l = realloc(s->lines, cap * sizeof *l);
		if (l)
			s->lines = l;
		const char **f = l ? realloc(s->files, cap * sizeof *f) : NULL;
		if (f)
			s->files = f;
		if (!l || !f) {
			cJSON_Delete(item);
			return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
		}
		s->cap = cap;
	}
	if (!cJSON_AddItemToArray(s->items, item)) {
		cJSON_Delete(item);
		return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	s->lines[c->n_items] = line;
	s->files[c->n_items] = c->path;
	c->n_items++;
	return 0;
}

static int jsonl_each(struct imp_ctx *c, const char *data, size_t len, struct sink *s, struct evh_err *err)
{
	size_t line = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t stop = nl ? (size_t)(nl - data) : len, n = stop - pos;
		const char *l = data + pos;
		pos = stop + 1;
		line++;
		if (line == 1 && n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0)
			l += 3, n -= 3;
		if (strspn(l, " \t\r") >= n)
			continue; /* blank lines are skipped but counted, so numbers match an editor's */
		const char *end = NULL;
		cJSON *rec = cJSON_ParseWithLengthOpts(l, n, &end, 0);
		size_t off = end && end >= l ? (size_t)(end - l) : 0;
		if (!rec)
			return imp_fail(c, err, line, NULL, EVH_EFORMAT, "invalid JSON at column %zu", off + 1);
		if (off < n && off + strspn(end, " \t\r") < n) {
			cJSON_Delete(rec);
			return imp_fail(c, err, line, NULL, EVH_EFORMAT, "text after the JSON value at column %zu",
					off + 1 + strspn(end, " \t\r"));
		}
		if (!cJSON_IsObject(rec)) {
			cJSON_Delete(rec);
			return imp_fail(c, err, line, NULL, EVH_EFORMAT, "a JSON object is expected on each line");
		}
		int rc = sink_rec(c, rec, line, s, err);
		cJSON_Delete(rec);
		if (rc)
			return rc;
	}
	return 0;
}

/* MMLU's csv files carry no subject column: it is in the name ("anatomy_test.csv"). */
static void subject_from_name(struct imp_ctx *c, const char *path)
{
	const char *bn = base_name(path);
	size_t n = strcspn(bn, ".");
	static const char *const suf[] = {"_test", "_dev", "_val"};
	for (size_t i = 0; i < sizeof suf / sizeof suf[0]; i++) {
		size_t ls = strlen(suf[i]);
		if (n > ls && strncmp(bn + n - ls, suf[i], ls) == 0) {
			n -= ls;
			break;
		}
	}
	snprintf(c->subject, sizeof c->subject, "%.*s", (int)n, bn);
}

static int csv_rec(struct imp_ctx *c, const cJSON *rec, size_t line, void *arg, struct evh_err *err)
{
	return sink_rec(c, rec, line, arg, err);
}

/* The bytes of one input (already decompressed or taken out of its zip) into s->items. */
static int import_bytes(struct imp_ctx *c, const char *d, size_t len, struct sink *s, struct evh_err *err)
{
	int rc = check_text(c, d, len, err);
	if (rc)
		return rc;
	size_t skip = len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	size_t first = skip + strspn(d + skip, " \t\r\n");
	if (first >= len)
		return imp_fail(c, err, 0, NULL, EVH_EFORMAT, "empty file");
	/* JSON lines start with an object (an array is refused there, by line); anything else is CSV. */
	if (d[first] == '{' || d[first] == '[')
		return jsonl_each(c, d, len, s, err);
	return imp_csv_each(c, d + skip, len - skip, imp_csv_first_is_header(d + skip, len - skip), csv_rec, s, err);
}

/* One input file into s->items. */
static int import_file(struct imp_ctx *c, const char *path, struct sink *s, struct evh_err *err)
{
	struct evh_buf data;
	evh_buf_init(&data, IMP_LIMIT_INPUT);
	char chosen[EVH_ERR_WHERE];
	int rc = read_input(path, c->o->member, c->f->default_member, c->o->password, &data, chosen, sizeof chosen,
			    err);
	if (!rc) {
		c->file = chosen;
		c->path = path;
		subject_from_name(c, strrchr(chosen, ' ') ? strrchr(chosen, ' ') + 1 : chosen);
		rc = import_bytes(c, evh_buf_str(&data), data.len, s, err);
	}
	c->file = path;
	evh_buf_free(&data);
	return rc;
}

/* ---- writing --------------------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *data, size_t len, struct evh_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return evh_err_fail(err, EVH_EIO, path, "cannot create: %s", strerror(errno));
	size_t w = fwrite(data, 1, len, f);
	int bad = fclose(f) != 0 || w != len;
	return bad ? evh_err_fail(err, EVH_EIO, path, "cannot write: %s", strerror(errno)) : 0;
}

/* A few-shot answer shows what the template asks for: the worked solution (GSM8K, MATH) ending in
 * the boxed gold for math, "Answer: X" for multiple choice, the fenced program for code. Options go
 * into the question, since few-shot examples are rendered without {choices}. */
static int fewshot_one(cJSON *fs, const cJSON *it, const char *domain)
{
	const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "question"));
	const char *sol = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "solution"));
	const char *gold = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "answer"));
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "canonical_solution"));
	if (!q)
		q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "prompt"));
	if (!q || (!gold && !code))
		return 0; /* nothing to show (a code item without a reference solution) */
	struct evh_buf bq, ba;
	evh_buf_init(&bq, EVH_LIMIT_LINE);
	evh_buf_init(&ba, EVH_LIMIT_LINE);
	evh_buf_adds(&bq, q);
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(it, "choices"), *o;
	char letter = 'A';
	if (cJSON_IsArray(ch))
		evh_buf_adds(&bq, "\n");
	cJSON_ArrayForEach(o, ch) evh_buf_printf(&bq, "\n%c. %s", letter++, cJSON_GetStringValue(o));
	if (strcmp(domain, "code") == 0 && code)
		evh_buf_printf(&ba, "```python\n%s\n```", code);
	else if (ch)
		evh_buf_printf(&ba, "Answer: %s", gold);
	else if (sol && sol[0] && strstr(sol, "\\boxed"))
		evh_buf_adds(&ba, sol);
	else
		evh_buf_printf(&ba, "%s%sThe answer is \\boxed{%s}.", sol ? sol : "", sol && sol[0] ? "\n" : "", gold);
	cJSON *e = cJSON_CreateObject();
	int bad = !e || !cJSON_AddStringToObject(e, "question", evh_buf_str(&bq)) ||
		  !cJSON_AddStringToObject(e, "answer", evh_buf_str(&ba)) || !cJSON_AddItemToArray(fs, e);
	if (bad)
		cJSON_Delete(e);
	evh_buf_free(&bq);
	evh_buf_free(&ba);
	return bad ? EVH_ENOMEM : 0;
}

static int add_fewshot(cJSON *manifest, const cJSON *items, size_t n, const char *domain)
{
	cJSON *fs = cJSON_AddArrayToObject(manifest, "fewshot");
	if (!fs)
		return EVH_ENOMEM;
	const cJSON *it;
	size_t i = 0;
	cJSON_ArrayForEach(it, items) {
		if (i++ >= n)
			break;
		if (fewshot_one(fs, it, domain))
			return EVH_ENOMEM;
	}
	return 0;
}

static cJSON *make_manifest(const struct imp_format *f, const struct pack_import_opts *o, const char *name,
			    const char *const *files, size_t n_files)
{
	cJSON *m = cJSON_CreateObject();
	if (!m)
		return NULL;
	struct evh_buf src;
	evh_buf_init(&src, 4096);
	for (size_t i = 0; i < n_files; i++)
		evh_buf_printf(&src, "%s%s", i ? ", " : "", base_name(files[i]));
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "version", o->version ? o->version : "1");
	cJSON_AddStringToObject(m, "domain", f->domain);
	cJSON_AddStringToObject(m, "scorer", f->scorer);
	if (f->scorer_options)
		cJSON_AddRawToObject(m, "scorer_options", f->scorer_options);
	cJSON_AddStringToObject(m, "prompt_template", f->prompt_template);
	if (f->system_prompt)
		cJSON_AddStringToObject(m, "system_prompt", f->system_prompt);
	cJSON_AddStringToObject(m, "description", f->description);
	cJSON_AddStringToObject(m, "source", o->source ? o->source : evh_buf_str(&src));
	if (o->license)
		cJSON_AddStringToObject(m, "license", o->license);
	cJSON *md = cJSON_AddObjectToObject(m, "metadata");
	cJSON_AddStringToObject(md, "imported_format", f->name);
	cJSON_AddStringToObject(md, "imported_files", evh_buf_str(&src));
	if (strcmp(f->name, "gpqa") == 0)
		cJSON_AddNumberToObject(md, "choice_seed", (double)o->seed);
	evh_buf_free(&src);
	return m;
}

/* A pack-check error names "items.jsonl:N"; say which input line that item came from. */
static void locate_item(struct evh_err *err, const struct sink *s)
{
	const char *p = err ? strstr(err->where, "items.jsonl:") : NULL;
	if (!p)
		return;
	size_t n = strtoul(p + strlen("items.jsonl:"), NULL, 10);
	if (n >= 1 && n <= cJSON_GetArraySize(s->items) + 0u) {
		char w[EVH_ERR_WHERE];
		snprintf(w, sizeof w, "%s:%zu", s->files[n - 1], s->lines[n - 1]);
		snprintf(err->where, sizeof err->where, "%s", w);
	}
}

static int write_pack(const char *out_path, const char *manifest, const char *items, struct evh_err *err)
{
	const char *tmpdir = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/evalh-import-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	if (!mkdtemp(dir))
		return evh_err_fail(err, EVH_EIO, dir, "cannot make a temporary folder: %s", strerror(errno));
	int rc = write_file(dir, "pack.json", manifest, strlen(manifest), err);
	if (!rc)
		rc = write_file(dir, "items.jsonl", items, strlen(items), err);
	if (!rc)
		rc = pack_build(dir, out_path, err);
	char path[4200];
	snprintf(path, sizeof path, "%s/pack.json", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/items.jsonl", dir);
	unlink(path);
	rmdir(dir);
	return rc;
}

int pack_import(const char *format, const char *const *files, size_t n_files, const struct pack_import_opts *o,
		const char *out_path, struct evh_err *err)
{
	static const struct pack_import_opts none;
	if (!o)
		o = &none;
	const struct imp_format *f = format ? format_find(format) : NULL;
	if (!f)
		return evh_err_fail(err, EVH_EUNSUPPORTED, format, "unknown import format (known: %s)",
				    pack_import_formats());
	if (!n_files)
		return evh_err_fail(err, EVH_EMISUSE, format, "no input file");
	const char *name = o->name ? o->name : f->name;
	struct sink s = {.items = cJSON_CreateArray()}, fs = {.items = cJSON_CreateArray()};
	cJSON *manifest = NULL;
	char *mtext = NULL;
	struct evh_buf items;
	evh_buf_init(&items, EVH_LIMIT_ENTRY);
	struct pack *p = NULL;
	int rc = 0;
	if (!s.items || !fs.items) {
		rc = evh_err_fail(err, EVH_ENOMEM, format, "out of memory");
		goto out;
	}
	struct imp_ctx c = {.f = f, .o = o, .pack_name = name};
	for (size_t i = 0; !rc && i < n_files; i++) {
		c.file = files[i];
		rc = import_file(&c, files[i], &s, err);
	}
	if (!rc && o->fewshot_file) {
		struct imp_ctx fc = {.f = f, .o = o, .pack_name = name, .file = o->fewshot_file};
		fs.limit = o->n_fewshot ? o->n_fewshot : 8;
		rc = import_file(&fc, o->fewshot_file, &fs, err);
		if (rc)
			evh_err_prefix(err, "few-shot file: ");
	}
	if (rc)
		goto out;
	manifest = make_manifest(f, o, name, files, n_files);
	if (!manifest || (o->fewshot_file && add_fewshot(manifest, fs.items, fs.limit, f->domain)) ||
	    !(mtext = cJSON_Print(manifest))) {
		rc = evh_err_fail(err, EVH_ENOMEM, format, "out of memory");
		goto out;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, s.items) {
		char *line = cJSON_PrintUnformatted(it);
		rc = line ? evh_buf_adds(&items, line) : EVH_ENOMEM;
		if (!rc)
			rc = evh_buf_adds(&items, "\n");
		free(line);
		if (rc) {
			rc = evh_err_fail(err, rc, out_path, rc == EVH_ELIMIT ? "items.jsonl would pass %u MiB (a pack "
				"entry's limit): import fewer files" : "out of memory", EVH_LIMIT_ENTRY >> 20);
			goto out;
		}
	}
	size_t ml = strlen(mtext);
	if (ml && mtext[ml - 1] != '\n') {
		char *t = realloc(mtext, ml + 2);
		if (!t) {
			rc = evh_err_fail(err, EVH_ENOMEM, format, "out of memory");
			goto out;
		}
		mtext = t;
		memcpy(mtext + ml, "\n", 2);
	}
	/* The same check pack_build and pack_open make, here so an error names the input line. */
	rc = pack_open_mem(out_path, mtext, strlen(mtext), evh_buf_str(&items), items.len, &p, err);
	if (rc) {
		locate_item(err, &s);
		goto out;
	}
	rc = write_pack(out_path, mtext, evh_buf_str(&items), err);
out:
	pack_close(p);
	cJSON_Delete(manifest);
	free(mtext);
	evh_buf_free(&items);
	cJSON_Delete(s.items);
	cJSON_Delete(fs.items);
	free(s.lines);
	free(s.files);
	free(fs.lines);
	free(fs.files);
	return rc;
}

#ifdef EVH_FUZZ_IMPORT
/* libFuzzer entry for the importers' parsers (build with -DEVH_FUZZ_IMPORT -fsanitize=fuzzer; a
 * flag of its own because pack.c's EVH_FUZZ entry has the same name): the first byte picks the
 * format, the rest is the file's content (JSONL or CSV). */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const struct pack_import_opts o;
	if (size < 1)
		return 0;
	const struct imp_format *f = &formats[data[0] % (sizeof formats / sizeof formats[0])];
	struct imp_ctx c = {.f = f, .o = &o, .pack_name = f->name, .file = "fuzz", .path = "fuzz"};
	struct sink s = {.items = cJSON_CreateArray()};
	char *copy = malloc(size); /* NUL-terminated, as read_input's buffer is */
	if (s.items && copy) {
		memcpy(copy, data + 1, size - 1);
		copy[size - 1] = 0;
		import_bytes(&c, copy, size - 1, &s, NULL);
	}
	free(copy);
	cJSON_Delete(s.items);
	free(s.lines);
	free(s.files);
	return 0;
}
#endif
