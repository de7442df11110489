/* tokenizer_load.c — reads tokenizer.json (model, added_tokens, normalizer, pre_tokenizer,
 * decoder) and tokenizer_config.json (bos/eos names, chat_template) into struct eng_tokenizer.
 * Anything malformed is ENG_EFORMAT naming the file and the JSON field; a well-formed feature we do
 * not implement is ENG_EUNSUPPORTED, never silently different ids. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer_internal.h"

#define MAX_IDS (1u << 24) /* 16M ids: far above any vocab, low enough to catch garbage */

static int read_file(const char *path, char **out, size_t *n, struct eng_err *err)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return eng_errf(err, ENG_EIO, "%s: cannot open: %s", path, strerror(errno));
	struct eng_tok_buf b = {0};
	char chunk[65536];
	size_t k;
	while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (eng_tok_buf_add(&b, chunk, k)) {
			fclose(f);
			free(b.p);
			return eng_errf(err, ENG_ENOMEM, "%s: out of memory reading it", path);
		}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b.p);
		return eng_errf(err, ENG_EIO, "%s: read error", path);
	}
	if (eng_tok_buf_add(&b, "", 0)) { /* an empty file still gets a buffer */
		free(b.p);
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory reading it", path);
	}
	*out = b.p;
	*n = b.len;
	return ENG_OK;
}

static int parse_json(const char *path, cJSON **out, struct eng_err *err)
{
	char *text;
	size_t n;
	int rc = read_file(path, &text, &n, err);
	if (rc)
		return rc;
	const char *end = NULL;
	*out = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (!*out) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0, line = 1;
		for (size_t i = 0; i < at && i < n; i++)
			line += text[i] == '\n';
		free(text);
		return eng_errf(err, ENG_EFORMAT, "%s:%zu: invalid JSON (byte %zu)", path, line, at);
	}
	free(text);
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return eng_errf(err, ENG_EFORMAT, "%s: expected a JSON object at the top level", path);
	}
	return ENG_OK;
}

/* ---- small typed getters: each names the field when it is the wrong type ---- */
struct ctx {
	const char *file;
	struct eng_err *err;
};

static int get_bool(struct ctx *c, const cJSON *obj, const char *field, const char *key, int dflt, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v)) {
		*out = dflt;
		return ENG_OK;
	}
	if (!cJSON_IsBool(v))
		return eng_errf(c->err, ENG_EFORMAT, "%s: %s.%s: expected true or false", c->file, field, key);
	*out = cJSON_IsTrue(v);
	return ENG_OK;
}

static int get_id(struct ctx *c, const cJSON *v, const char *field, int32_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= MAX_IDS ||
	    v->valuedouble != (double)(int32_t)v->valuedouble)
		return eng_errf(c->err, ENG_EFORMAT, "%s: %s: expected a token id (integer 0..%u)", c->file, field,
				    MAX_IDS - 1);
	*out = (int32_t)v->valuedouble;
	return ENG_OK;
}

static const char *type_of(struct ctx *c, const cJSON *obj, const char *field)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
	if (!cJSON_IsObject(obj) || !cJSON_IsString(t)) {
		eng_errf(c->err, ENG_EFORMAT, "%s: %s.type: expected an object with a string \"type\"", c->file, field);
		return NULL;
	}
	return t->valuestring;
}

/* ---- normalizer ---- */
static int parse_normalizer(struct ctx *c, struct eng_tokenizer *t, const cJSON *n, const char *field, int depth)
{
	if (!n || cJSON_IsNull(n))
		return ENG_OK;
	const char *type = type_of(c, n, field);
	if (!type)
		return ENG_EFORMAT;
	static const struct {
		const char *name;
		int kind;
	} simple[] = {{"NFC", ENG_TOK_NFC}, {"NFD", ENG_TOK_NFD}, {"NFKC", ENG_TOK_NFKC}, {"NFKD", ENG_TOK_NFKD},
		      {"Lowercase", ENG_TOK_LOWERCASE}};
	for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
		if (strcmp(type, simple[i].name) == 0) {
			int *v = realloc(t->norm, (t->n_norm + 1) * sizeof *v);
			if (!v)
				return eng_errf(c->err, ENG_ENOMEM, "%s: %s: out of memory", c->file, field);
			t->norm = v;
			t->norm[t->n_norm++] = simple[i].kind;
			return ENG_OK;
		}
	if (strcmp(type, "Sequence") == 0 && depth < 8) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
		if (!cJSON_IsArray(list))
			return eng_errf(c->err, ENG_EFORMAT, "%s: %s.normalizers: expected an array", c->file, field);
		int i = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, list)
		{
			char sub[200];
			snprintf(sub, sizeof sub, "%s.normalizers[%d]", field, i++);
			int rc = parse_normalizer(c, t, e, sub, depth + 1);
			if (rc)
				return rc;
		}
		return ENG_OK;
	}
	return eng_errf(c->err, ENG_EUNSUPPORTED, "%s: %s.type: normalizer \"%s\" not supported", c->file, field,
			    type);
}

/* ---- pre-tokenizer ---- */
static int add_step(struct ctx *c, struct eng_tokenizer *t, struct eng_tok_pre st, const char *field)
{
	struct eng_tok_pre *v = realloc(t->pre, (t->n_pre + 1) * sizeof *v);
	if (!v) {
		pcre2_code_free(st.re);
		return eng_errf(c->err, ENG_ENOMEM, "%s: %s: out of memory", c->file, field);
	}
	t->pre = v;
	t->pre[t->n_pre++] = st;
	return ENG_OK;
}

static int parse_split(struct ctx *c, struct eng_tokenizer *t, const cJSON *p, const char *field)
{
	struct eng_tok_pre st = {.kind = ENG_TOK_SPLIT};
	const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
	const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
	const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
	if (!cJSON_IsObject(pat) || !(cJSON_IsString(re) || cJSON_IsString(str)))
		return eng_errf(c->err, ENG_EFORMAT, "%s: %s.pattern: expected {\"Regex\": ...} or {\"String\": ...}",
				    c->file, field);
	static const char *names[] = {[ENG_TOK_REMOVED] = "Removed",
				      [ENG_TOK_ISOLATED] = "Isolated",
				      [ENG_TOK_MERGED_PREV] = "MergedWithPrevious",
				      [ENG_TOK_MERGED_NEXT] = "MergedWithNext",
				      [ENG_TOK_CONTIGUOUS] = "Contiguous"};
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "behavior");
	st.behavior = -1;
	for (int i = 0; cJSON_IsString(b) && i < (int)(sizeof names / sizeof *names); i++)
		if (strcmp(b->valuestring, names[i]) == 0)
			st.behavior = i;
	if (st.behavior < 0)
		return eng_errf(c->err, ENG_EFORMAT,
				    "%s: %s.behavior: expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
				    "Contiguous",
				    c->file, field);
	int rc = get_bool(c, p, field, "invert", 0, &st.invert);
	if (rc)
		return rc;
	char sub[220];
	snprintf(sub, sizeof sub, "%s.pattern.%s", field, re ? "Regex" : "String");
	rc = eng_tok_regex_compile(c->file, sub, re ? re->valuestring : str->valuestring, !re, &st.re, c->err);
	return rc ? rc : add_step(c, t, st, field);
}

static int parse_pre(struct ctx *c, struct eng_tokenizer *t, const cJSON *p, const char *field, int depth)
{
	if (!p || cJSON_IsNull(p))
		return ENG_OK;
	const char *type = type_of(c, p, field);
	if (!type)
		return ENG_EFORMAT;
	int rc;
	if (strcmp(type, "Split") == 0)
		return parse_split(c, t, p, field);
	if (strcmp(type, "ByteLevel") == 0) {
		struct eng_tok_pre st = {.kind = ENG_TOK_BYTELEVEL};
		int use_regex;
		if ((rc = get_bool(c, p, field, "add_prefix_space", 1, &st.add_prefix_space)) ||
		    (rc = get_bool(c, p, field, "use_regex", 1, &use_regex)))
			return rc;
		if (use_regex && (rc = eng_tok_regex_compile(c->file, field, eng_tok_gpt2_pattern, 0, &st.re, c->err)))
			return rc;
		t->byte_level = 1;
		return add_step(c, t, st, field);
	}
	if (strcmp(type, "Digits") == 0) {
		struct eng_tok_pre st = {.kind = ENG_TOK_DIGITS};
		if ((rc = get_bool(c, p, field, "individual_digits", 0, &st.individual)))
			return rc;
		return add_step(c, t, st, field);
	}
	if (strcmp(type, "Sequence") == 0 && depth < 8) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
		if (!cJSON_IsArray(list))
			return eng_errf(c->err, ENG_EFORMAT, "%s: %s.pretokenizers: expected an array", c->file, field);
		int i = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, list)
		{
			char sub[200];
			snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", field, i++);
			if ((rc = parse_pre(c, t, e, sub, depth + 1)))
				return rc;
		}
		return ENG_OK;
	}
	return eng_errf(c->err, ENG_EUNSUPPORTED, "%s: %s.type: pre-tokenizer \"%s\" not supported", c->file,
			    field, type);
}

/* ---- model: vocab, merges ---- */
static int check_model(struct ctx *c, struct eng_tokenizer *t, const cJSON *m)
{
	if (!cJSON_IsObject(m))
		return eng_errf(c->err, ENG_EFORMAT, "%s: model: expected an object", c->file);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
	if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "BPE") == 0))
		return eng_errf(c->err, ENG_EUNSUPPORTED, "%s: model.type: only \"BPE\" is supported, found %s", c->file,
				    cJSON_IsString(type) ? type->valuestring : "a non-string");
	static const char *empty_only[] = {"continuing_subword_prefix", "end_of_word_suffix"};
	for (size_t i = 0; i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, empty_only[i]);
		if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !*v->valuestring))
			return eng_errf(c->err, ENG_EUNSUPPORTED, "%s: model.%s: only null or \"\" is supported", c->file,
					    empty_only[i]);
	}
	const cJSON *drop = cJSON_GetObjectItemCaseSensitive(m, "dropout");
	if (drop && !cJSON_IsNull(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0))
		return eng_errf(c->err, ENG_EUNSUPPORTED, "%s: model.dropout: only null is supported", c->file);
	int rc;
	if ((rc = get_bool(c, m, "model", "ignore_merges", 0, &t->ignore_merges)) ||
	    (rc = get_bool(c, m, "model", "byte_fallback", 0, &t->byte_fallback)) ||
	    (rc = get_bool(c, m, "model", "fuse_unk", 0, &t->fuse_unk)))
		return rc;
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "vocab")))
		return eng_errf(c->err, ENG_EFORMAT, "%s: model.vocab: expected an object of token: id", c->file);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "merges")))
		return eng_errf(c->err, ENG_EFORMAT, "%s: model.merges: expected an array", c->file);
	return ENG_OK;
}

static int store(struct eng_tokenizer *t, size_t *used, const char *s, size_t n, uint32_t *off)
{
	*off = (uint32_t)*used;
	memcpy(t->pool + *used, s, n);
	t->pool[*used + n] = 0;
	*used += n + 1;
	return ENG_OK;
}

/* Sizes everything first, so the pool is one allocation whose strings never move: the hash map
 * keys point into it. */
static int load_vocab(struct ctx *c, struct eng_tokenizer *t, const cJSON *model, const cJSON *added)
{
	const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	size_t bytes = 0, n_vocab = 0, n_added = 0;
	int32_t max_id = -1, id;
	const cJSON *e;
	cJSON_ArrayForEach(e, vocab)
	{
		char field[64];
		snprintf(field, sizeof field, "model.vocab[%zu]", n_vocab);
		if (get_id(c, e, field, &id))
			return ENG_EFORMAT;
		max_id = id > max_id ? id : max_id;
		bytes += strlen(e->string) + 1;
		n_vocab++;
	}
	if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
		return eng_errf(c->err, ENG_EFORMAT, "%s: added_tokens: expected an array", c->file);
	cJSON_ArrayForEach(e, added)
	{
		char field[64];
		snprintf(field, sizeof field, "added_tokens[%zu]", n_added);
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
		if (!cJSON_IsString(content))
			return eng_errf(c->err, ENG_EFORMAT, "%s: %s.content: expected a string", c->file, field);
		strcat(field, ".id");
		if (get_id(c, cJSON_GetObjectItemCaseSensitive(e, "id"), field, &id))
			return ENG_EFORMAT;
		max_id = id > max_id ? id : max_id;
		bytes += strlen(content->valuestring) + 1;
		n_added++;
	}
	if (max_id < 0)
		return eng_errf(c->err, ENG_EFORMAT, "%s: model.vocab: empty vocabulary", c->file);
	t->n_ids = (size_t)max_id + 1;
	t->pool = malloc(2 * bytes + 1); /* token strings, then their decoded bytes (never longer) */
	t->tok_off = calloc(t->n_ids, sizeof *t->tok_off);
	t->tok_len = calloc(t->n_ids, sizeof *t->tok_len);
	t->piece_off = calloc(t->n_ids, sizeof *t->piece_off);
	t->piece_len = calloc(t->n_ids, sizeof *t->piece_len);
	t->flags = calloc(t->n_ids, 1);
	t->added = calloc(n_added ? n_added : 1, sizeof *t->added);
	if (!t->pool || !t->tok_off || !t->tok_len || !t->piece_off || !t->piece_len || !t->flags || !t->added ||
	    eng_tok_strmap_init(&t->vocab, n_vocab + n_added))
		return eng_errf(c->err, ENG_ENOMEM, "%s: out of memory for %zu tokens", c->file, t->n_ids);
	size_t used = 0;
	cJSON_ArrayForEach(e, vocab)
	{
		id = (int32_t)e->valuedouble;
		size_t n = strlen(e->string);
		store(t, &used, e->string, n, &t->tok_off[id]);
		t->tok_len[id] = (uint32_t)n;
		t->flags[id] |= ENG_TOK_F_PRESENT | ENG_TOK_F_MODEL;
		if (eng_tok_strmap_put(&t->vocab, t->pool + t->tok_off[id], n, id))
			return eng_errf(c->err, ENG_ENOMEM, "%s: out of memory", c->file);
	}
	cJSON_ArrayForEach(e, added)
	{
		struct eng_tok_added *a = &t->added[t->n_added];
		const char *s = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
		char field[64];
		snprintf(field, sizeof field, "added_tokens[%zu]", t->n_added);
		int special, lstrip, rstrip, single, normalized;
		if (get_bool(c, e, field, "special", 0, &special) || get_bool(c, e, field, "lstrip", 0, &lstrip) ||
		    get_bool(c, e, field, "rstrip", 0, &rstrip) || get_bool(c, e, field, "single_word", 0, &single) ||
		    get_bool(c, e, field, "normalized", !special, &normalized))
			return ENG_EFORMAT;
		id = (int32_t)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
		size_t n = strlen(s);
		uint32_t off;
		store(t, &used, s, n, &off);
		*a = (struct eng_tok_added){.content = t->pool + off,
					    .len = (uint32_t)n,
					    .id = id,
					    .special = (unsigned)special,
					    .lstrip = (unsigned)lstrip,
					    .rstrip = (unsigned)rstrip,
					    .single_word = (unsigned)single,
					    .normalized = (unsigned)normalized};
		t->n_added++;
		/* added_vocabulary.rs simple_id_to_token: the added content wins for its id */
		t->tok_off[id] = off;
		t->tok_len[id] = (uint32_t)n;
		t->flags[id] |= ENG_TOK_F_PRESENT | ENG_TOK_F_ADDED | (special ? ENG_TOK_F_SPECIAL : 0);
		if (eng_tok_strmap_put(&t->vocab, a->content, n, id))
			return eng_errf(c->err, ENG_ENOMEM, "%s: out of memory", c->file);
	}
	t->pool_len = used;
	return ENG_OK;
}

/* Decoded bytes of every id: the ByteLevel decoder (byte_level.rs decode_chain) maps each char
 * back to its byte; a token holding any char outside the 256 is kept as its UTF-8 text. */
static void make_pieces(struct eng_tokenizer *t, int byte_level_decoder)
{
	size_t used = t->pool_len;
	for (size_t id = 0; id < t->n_ids; id++) {
		if (!(t->flags[id] & ENG_TOK_F_PRESENT))
			continue;
		const char *s = t->pool + t->tok_off[id];
		size_t n = t->tok_len[id], out = 0;
		char *dst = t->pool + used;
		int ok = byte_level_decoder;
		for (size_t i = 0; ok && i < n;) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
			int b = k > 0 ? eng_tok_char_byte((uint32_t)cp) : -1;
			if (b < 0)
				ok = 0;
			else
				dst[out++] = (char)b;
			i += k > 0 ? (size_t)k : 1;
		}
		if (!ok) {
			memcpy(dst, s, n);
			out = n;
		}
		t->piece_off[id] = (uint32_t)used;
		t->piece_len[id] = (uint32_t)out;
		used += out;
	}
	t->pool_len = used;
}

static int load_merges(struct ctx *c, struct eng_tokenizer *t, const cJSON *merges)
{
	if (eng_tok_pairmap_init(&t->merges, (size_t)cJSON_GetArraySize(merges)))
		return eng_errf(c->err, ENG_ENOMEM, "%s: out of memory for merges", c->file);
	int32_t rank = 0;
	const cJSON *e;
	char both[1024];
	cJSON_ArrayForEach(e, merges)
	{
		const char *a, *b;
		size_t la, lb;
		if (cJSON_IsString(e)) { /* "a b" (models/bpe/serialization.rs: split on the space) */
			const char *sp = strchr(e->valuestring, ' ');
			if (!sp || strchr(sp + 1, ' '))
				return eng_errf(c->err, ENG_EFORMAT, "%s: model.merges[%d]: expected \"left right\", found \"%.60s\"",
						    c->file, rank, e->valuestring);
			a = e->valuestring;
			la = (size_t)(sp - a);
			b = sp + 1;
			lb = strlen(b);
		} else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
			   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
			a = cJSON_GetArrayItem(e, 0)->valuestring;
			b = cJSON_GetArrayItem(e, 1)->valuestring;
			la = strlen(a);
			lb = strlen(b);
		} else {
			return eng_errf(c->err, ENG_EFORMAT,
					    "%s: model.merges[%d]: expected a \"left right\" string or a [left, right] array",
					    c->file, rank);
		}
		int32_t ia = eng_tok_strmap_get(&t->vocab, a, la), ib = eng_tok_strmap_get(&t->vocab, b, lb);
		if (la + lb >= sizeof both)
			return eng_errf(c->err, ENG_EFORMAT, "%s: model.merges[%d]: merged token longer than %zu bytes",
					    c->file, rank, sizeof both - 1);
		memcpy(both, a, la);
		memcpy(both + la, b, lb);
		int32_t im = eng_tok_strmap_get(&t->vocab, both, la + lb);
		if (ia < 0 || ib < 0 || im < 0)
			return eng_errf(c->err, ENG_EFORMAT, "%s: model.merges[%d]: token \"%.*s\" is not in model.vocab",
					    c->file, rank, (int)(ia < 0 ? la : ib < 0 ? lb : la + lb),
					    ia < 0 ? a : ib < 0 ? b : both);
		if (eng_tok_pairmap_put(&t->merges, ia, ib, rank, im))
			return eng_errf(c->err, ENG_ENOMEM, "%s: out of memory for merges", c->file);
		rank++;
	}
	return ENG_OK;
}

static int parse_decoder(struct ctx *c, const cJSON *d, int *byte_level)
{
	*byte_level = 0;
	if (!d || cJSON_IsNull(d))
		return ENG_OK;
	const char *type = type_of(c, d, "decoder");
	if (!type)
		return ENG_EFORMAT;
	if (strcmp(type, "ByteLevel") != 0)
		return eng_errf(c->err, ENG_EUNSUPPORTED, "%s: decoder.type: decoder \"%s\" not supported (ByteLevel only)",
				    c->file, type);
	*byte_level = 1;
	return ENG_OK;
}

int eng_tok_load_json(struct eng_tokenizer *t, const char *path, struct eng_err *err)
{
	cJSON *root;
	int rc = parse_json(path, &root, err);
	if (rc)
		return rc;
	struct ctx c = {path, err};
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	int byte_level_decoder;
	if ((rc = check_model(&c, t, model)) ||
	    (rc = load_vocab(&c, t, model, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"))) ||
	    (rc = load_merges(&c, t, cJSON_GetObjectItemCaseSensitive(model, "merges"))) ||
	    (rc = parse_normalizer(&c, t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer", 0)) ||
	    (rc = parse_pre(&c, t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer", 0)) ||
	    (rc = parse_decoder(&c, cJSON_GetObjectItemCaseSensitive(root, "decoder"), &byte_level_decoder)))
		goto out;
	/* no decoder on a byte-level model: undo the byte mapping anyway, the only sensible text */
	make_pieces(t, byte_level_decoder || t->byte_level);

	const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
	t->unk_id = -1;
	if (cJSON_IsString(unk) && (t->unk_id = eng_tok_strmap_get(&t->vocab, unk->valuestring, strlen(unk->valuestring))) < 0) {
		rc = eng_errf(err, ENG_EFORMAT, "%s: model.unk_token: \"%.60s\" is not in model.vocab", path,
				  unk->valuestring);
		goto out;
	}
	for (int b = 0; b < 256; b++) {
		utf8proc_uint8_t enc[4];
		utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)eng_tok_byte_char((uint8_t)b), enc);
		int32_t id = eng_tok_strmap_get(&t->vocab, (const char *)enc, (size_t)k);
		t->byte_id[b] = id >= 0 && (t->flags[id] & ENG_TOK_F_MODEL) ? id : -1;
	}

	/* added tokens: the ones with normalized=false match raw text, the others normalized text
	 * (added_vocabulary.rs refresh_added_tokens); the latter are normalized like the text is */
	const struct eng_tok_added **raw = calloc(t->n_added + 1, sizeof *raw);
	const struct eng_tok_added **norm = calloc(t->n_added + 1, sizeof *norm);
	size_t n_raw = 0, n_norm = 0;
	if (!raw || !norm) {
		free(raw);
		free(norm);
		rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < t->n_added; i++) {
		struct eng_tok_added *a = &t->added[i];
		if (a->normalized && t->n_norm) {
			struct eng_tok_buf nb = {0};
			rc = eng_tok_normalize(t->norm, t->n_norm, a->content, a->len, &nb);
			if (!rc && (nb.len != a->len || (nb.len && memcmp(nb.p, a->content, nb.len) != 0))) {
				a->owned = nb.p;
				a->content = nb.p;
				a->len = (uint32_t)nb.len;
			} else {
				free(nb.p);
			}
			if (rc) {
				free(raw);
				free(norm);
				rc = eng_errf(err, rc, "%s: added_tokens[%zu]: normalizing the content failed", path, i);
				goto out;
			}
		}
		if (a->normalized)
			norm[n_norm++] = a;
		else
			raw[n_raw++] = a;
	}
	if (eng_tok_matcher_build(&t->raw_match, raw, n_raw)) {
		free(norm);
		rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
	} else if (eng_tok_matcher_build(&t->norm_match, norm, n_norm)) {
		rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
	}
out:
	cJSON_Delete(root);
	return rc;
}

/* bos_token / eos_token: a string, or an AddedToken object {"content": ...}, or null. */
static int config_token(struct ctx *c, const cJSON *root, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!v || cJSON_IsNull(v))
		return ENG_OK;
	if (cJSON_IsObject(v))
		v = cJSON_GetObjectItemCaseSensitive(v, "content");
	if (!cJSON_IsString(v))
		return eng_errf(c->err, ENG_EFORMAT, "%s: %s: expected a string or {\"content\": string}", c->file, key);
	if (!(*out = strdup(v->valuestring)))
		return eng_errf(c->err, ENG_ENOMEM, "%s: out of memory", c->file);
	return ENG_OK;
}

int eng_tok_load_config(struct eng_tokenizer *t, const char *path, struct eng_err *err)
{
	cJSON *root;
	int rc = parse_json(path, &root, err);
	if (rc)
		return rc;
	struct ctx c = {path, err};
	if ((rc = config_token(&c, root, "bos_token", &t->bos_text)) ||
	    (rc = config_token(&c, root, "eos_token", &t->eos_text)))
		goto out;
	/* chat_template: a string, or a list of {"name", "template"} where "default" is the one
	 * transformers uses without a name */
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
	const char *tmpl = NULL;
	if (cJSON_IsString(ct)) {
		tmpl = ct->valuestring;
	} else if (cJSON_IsArray(ct)) {
		const cJSON *e;
		cJSON_ArrayForEach(e, ct)
		{
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
			const cJSON *tt = cJSON_GetObjectItemCaseSensitive(e, "template");
			if (!cJSON_IsString(tt)) {
				rc = eng_errf(err, ENG_EFORMAT, "%s: chat_template[]: expected {\"name\", \"template\"}", path);
				goto out;
			}
			if (!tmpl || (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0))
				tmpl = tt->valuestring;
		}
	} else if (ct && !cJSON_IsNull(ct)) {
		rc = eng_errf(err, ENG_EFORMAT, "%s: chat_template: expected a string or a list of templates", path);
		goto out;
	}
	if (tmpl && !(t->chat_template = strdup(tmpl)))
		rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
out:
	cJSON_Delete(root);
	return rc;
}
