/* tokenizer_pre.c — the pre-tokenizers of a byte-level BPE tokenizer.json (tokenizers/src/
 * pre_tokenizers: Split, ByteLevel, Digits; a Sequence is flattened by the loader), with HF's
 * splitting rules (tokenizers/src/tokenizer/normalizer.rs: NormalizedString::split) and its regex
 * iteration (onig's find_iter) reproduced over PCRE2. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer_internal.h"

/* byte_level.rs: the GPT-2 split used when ByteLevel has use_regex. */
const char eng_tok_gpt2_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Oniguruma's \s (HF compiles with onig) is Unicode White_Space, which has U+0085 (NEL); PCRE2's
 * \s under UCP does not. Rewrites \s and \S so both engines split alike. \S inside a class has no
 * short equivalent and is left alone (no known tokenizer uses it). */
static int translate(const char *p, struct eng_tok_buf *out)
{
	int in_class = 0;
	for (size_t i = 0; p[i]; i++) {
		char c = p[i];
		int rc = ENG_OK;
		if (c == '\\' && p[i + 1]) {
			char d = p[++i];
			if (d == 's')
				rc = eng_tok_buf_add(out, in_class ? "\\s\\x{85}" : "[\\s\\x{85}]", in_class ? 8 : 10);
			else if (d == 'S' && !in_class)
				rc = eng_tok_buf_add(out, "[^\\s\\x{85}]", 11);
			else {
				char two[2] = {c, d};
				rc = eng_tok_buf_add(out, two, 2);
			}
		} else if (c == '[' && !in_class) {
			in_class = 1;
			rc = eng_tok_buf_add(out, "[", 1);
			/* a ']' right after '[' or '[^' is a literal, not the end of the class */
			if (p[i + 1] == '^') {
				rc = rc ? rc : eng_tok_buf_add(out, "^", 1);
				i++;
			}
			if (p[i + 1] == ']') {
				rc = rc ? rc : eng_tok_buf_add(out, "]", 1);
				i++;
			}
		} else if (c == '[' && in_class && p[i + 1] == ':') {
			const char *end = strstr(p + i, ":]"); /* POSIX class [:alpha:] */
			size_t n = end ? (size_t)(end - (p + i)) + 2 : 1;
			rc = eng_tok_buf_add(out, p + i, n);
			i += n - 1;
		} else {
			if (c == ']')
				in_class = 0;
			rc = eng_tok_buf_add(out, &c, 1);
		}
		if (rc)
			return rc;
	}
	return eng_tok_buf_add(out, "", 0);
}

int eng_tok_regex_compile(const char *file, const char *field, const char *pattern, int literal, pcre2_code **out,
			  struct eng_err *err)
{
	*out = NULL;
	struct eng_tok_buf pat = {0};
	int rc = literal ? eng_tok_buf_add(&pat, pattern, strlen(pattern)) : translate(pattern, &pat);
	if (rc)
		return eng_errf(err, rc, "%s: %s: out of memory", file, field);
	int ecode;
	PCRE2_SIZE eoff;
	/* PCRE2_LITERAL refuses UCP, which a literal does not need */
	uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.p, pat.len, opt, &ecode, &eoff, NULL);
	free(pat.p);
	if (!re) {
		PCRE2_UCHAR msg[120];
		pcre2_get_error_message(ecode, msg, sizeof msg);
		return eng_errf(err, ENG_EFORMAT, "%s: %s: regex does not compile at offset %zu: %s", file, field,
				    (size_t)eoff, (const char *)msg);
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* a failure only means the slower interpreter */
	*out = re;
	return ENG_OK;
}

/* One (start, end, is_match) of a piece, as find_matches() returns them. */
struct mt {
	size_t s, e;
	int m;
};
struct mts {
	struct mt *v;
	size_t n, cap;
};

static int mts_add(struct mts *a, size_t s, size_t e, int m)
{
	if (a->n == a->cap) {
		size_t c = a->cap ? a->cap * 2 : 32;
		struct mt *v = realloc(a->v, c * sizeof *v);
		if (!v)
			return ENG_ENOMEM;
		a->v = v;
		a->cap = c;
	}
	a->v[a->n++] = (struct mt){s, e, m};
	return ENG_OK;
}

static size_t char_len(const char *s, size_t len)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp);
	return k > 0 ? (size_t)k : 1;
}

/* Pattern::find_matches for a regex (tokenizers/src/utils/onig.rs) over onig's FindMatches, which
 * refuses an empty match right where the previous match ended and steps one char instead. */
static int regex_matches(const pcre2_code *re, const char *s, size_t len, struct mts *out)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md)
		return ENG_ENOMEM;
	int rc = ENG_OK;
	size_t last_end = 0, prev = 0, last_match_end = 0;
	int have_last = 0;
	while (last_end <= len) {
		int r = pcre2_match(re, (PCRE2_SPTR)s, len, last_end, 0, md, NULL);
		if (r == PCRE2_ERROR_NOMATCH)
			break;
		if (r < 0) {
			rc = ENG_EINTERNAL; /* match/depth limit: never with the tokenizer patterns */
			break;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t ms = ov[0], me = ov[1];
		if (ms == me && have_last && last_match_end == me) {
			last_end += last_end < len ? char_len(s + last_end, len - last_end) : 1;
			continue;
		}
		last_end = last_match_end = me;
		have_last = 1;
		if (prev != ms && (rc = mts_add(out, prev, ms, 0)))
			break;
		if ((rc = mts_add(out, ms, me, 1)))
			break;
		prev = me;
	}
	pcre2_match_data_free(md);
	if (!rc && prev != len)
		rc = mts_add(out, prev, len, 0);
	return rc;
}

/* Pattern::find_matches for a char predicate (Digits): each numeric char is its own match. */
static int is_numeric(const char *s, size_t len, size_t *k)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp);
	if (n <= 0) {
		*k = 1;
		return 0;
	}
	*k = (size_t)n;
	utf8proc_category_t c = utf8proc_category(cp); /* Rust char::is_numeric: Nd, Nl, No */
	return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

static int digit_matches(const char *s, size_t len, struct mts *out)
{
	size_t last = 0, i = 0, k;
	while (i < len) {
		int num = is_numeric(s + i, len - i, &k);
		if (num) {
			if (last < i && mts_add(out, last, i, 0))
				return ENG_ENOMEM;
			if (mts_add(out, i, i + k, 1))
				return ENG_ENOMEM;
			last = i + k;
		}
		i += k;
	}
	if (last < len && mts_add(out, last, len, 0))
		return ENG_ENOMEM;
	return ENG_OK;
}

/* NormalizedString::split: turns the matches into pieces by behavior; empty pieces dropped. */
static int apply_behavior(struct mts *m, int behavior, size_t base, struct eng_tok_spans *out)
{
	struct mt *v = m->v;
	size_t n = 0; /* pieces kept, compacted in place; .m now means "remove" */
	int prev_match = 0;
	switch (behavior) {
	case ENG_TOK_ISOLATED:
		for (size_t i = 0; i < m->n; i++)
			v[i].m = 0;
		n = m->n;
		break;
	case ENG_TOK_REMOVED:
		n = m->n;
		break;
	case ENG_TOK_CONTIGUOUS:
	case ENG_TOK_MERGED_PREV:
		for (size_t i = 0; i < m->n; i++) {
			int is_match = v[i].m;
			int merge = behavior == ENG_TOK_CONTIGUOUS ? is_match == prev_match : is_match && !prev_match;
			if (merge && n > 0)
				v[n - 1].e = v[i].e;
			else
				v[n++] = (struct mt){v[i].s, v[i].e, 0};
			prev_match = is_match;
		}
		break;
	case ENG_TOK_MERGED_NEXT: {
		/* walked from the end, as HF folds the reversed list */
		size_t w = m->n;
		for (size_t i = m->n; i-- > 0;) {
			int is_match = v[i].m;
			if (is_match && !prev_match && w < m->n)
				v[w].s = v[i].s;
			else
				v[--w] = (struct mt){v[i].s, v[i].e, 0};
			prev_match = is_match;
		}
		memmove(v, v + w, (m->n - w) * sizeof *v);
		n = m->n - w;
		break;
	}
	default: return ENG_EINTERNAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i].m && v[i].e > v[i].s && eng_tok_spans_add(out, base + v[i].s, v[i].e - v[i].s))
			return ENG_ENOMEM;
	return ENG_OK;
}

static int split_piece(const struct eng_tok_pre *st, struct eng_tok_buf *buf, struct eng_tok_span in,
		       struct eng_tok_spans *out, struct mts *m)
{
	m->n = 0;
	int rc;
	if (st->kind == ENG_TOK_DIGITS) {
		rc = digit_matches(buf->p + in.off, in.len, m);
		if (!rc)
			rc = apply_behavior(m, st->individual ? ENG_TOK_ISOLATED : ENG_TOK_CONTIGUOUS, in.off, out);
		return rc;
	}
	if (st->kind == ENG_TOK_BYTELEVEL) {
		if (st->add_prefix_space && (in.len == 0 || buf->p[in.off] != ' ')) {
			size_t off = buf->len;
			if (eng_tok_buf_add(buf, " ", 1) || eng_tok_buf_add(buf, buf->p + in.off, in.len))
				return ENG_ENOMEM;
			in = (struct eng_tok_span){off, in.len + 1};
		}
		if (!st->re)
			return eng_tok_spans_add(out, in.off, in.len);
	}
	rc = regex_matches(st->re, buf->p + in.off, in.len, m);
	if (rc)
		return rc;
	if (st->kind == ENG_TOK_SPLIT && st->invert)
		for (size_t i = 0; i < m->n; i++)
			m->v[i].m = !m->v[i].m;
	return apply_behavior(m, st->kind == ENG_TOK_SPLIT ? st->behavior : ENG_TOK_ISOLATED, in.off, out);
}

int eng_tok_pretokenize(const struct eng_tok_pre *steps, size_t n_steps, struct eng_tok_buf *buf,
			struct eng_tok_span in, struct eng_tok_spans *out)
{
	if (n_steps == 0)
		return in.len ? eng_tok_spans_add(out, in.off, in.len) : ENG_OK;
	struct eng_tok_spans a = {0}, b = {0};
	struct mts m = {0};
	int rc = in.len ? eng_tok_spans_add(&a, in.off, in.len) : ENG_OK;
	for (size_t k = 0; !rc && k < n_steps; k++) {
		struct eng_tok_spans *dst = k + 1 == n_steps ? out : &b;
		b.n = 0;
		for (size_t i = 0; !rc && i < a.n; i++)
			rc = split_piece(&steps[k], buf, a.v[i], dst, &m);
		struct eng_tok_spans t = a;
		a = b;
		b = t;
	}
	free(a.v);
	free(b.v);
	free(m.v);
	return rc;
}
