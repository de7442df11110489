/* tokenizer_norm.c — the normalizers a byte-level BPE tokenizer.json uses (tokenizers/src/
 * normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Sequence), done by utf8proc. Offsets are not
 * tracked: the engine needs ids, not alignments. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer_internal.h"

static int map_run(int kind, const char *s, size_t len, struct eng_tok_buf *out)
{
	if (len == 0)
		return ENG_OK;
	if (kind == ENG_TOK_LOWERCASE) {
		/* Per code point simple lowercase; Rust's str::to_lowercase also has the few
		 * one-to-many and final-sigma rules, which no byte-level tokenizer we load relies on. */
		utf8proc_ssize_t i = 0;
		while ((size_t)i < len) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)len - i, &cp);
			if (k <= 0)
				return ENG_EINTERNAL; /* map_run only sees valid runs */
			utf8proc_uint8_t enc[4];
			utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
			if (eng_tok_buf_add(out, enc, (size_t)m))
				return ENG_ENOMEM;
			i += k;
		}
		return ENG_OK;
	}
	int opt = UTF8PROC_STABLE;
	switch (kind) {
	case ENG_TOK_NFC: opt |= UTF8PROC_COMPOSE; break;
	case ENG_TOK_NFD: opt |= UTF8PROC_DECOMPOSE; break;
	case ENG_TOK_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
	case ENG_TOK_NFKD: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
	default: return ENG_EINTERNAL;
	}
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, opt);
	if (m < 0)
		return m == UTF8PROC_ERROR_NOMEM ? ENG_ENOMEM : ENG_EINTERNAL;
	int rc = eng_tok_buf_add(out, dst, (size_t)m);
	free(dst);
	return rc;
}

/* One normalizer over a byte string: valid UTF-8 runs normalized, stray bytes copied. */
static int normalize_one(int kind, const char *s, size_t len, struct eng_tok_buf *out)
{
	size_t run = 0, i = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k > 0) {
			i += (size_t)k;
			continue;
		}
		int rc = map_run(kind, s + run, i - run, out);
		if (rc || eng_tok_buf_add(out, s + i, 1))
			return rc ? rc : ENG_ENOMEM;
		run = ++i;
	}
	return map_run(kind, s + run, len - run, out);
}

int eng_tok_normalize(const int *kinds, size_t n_kinds, const char *s, size_t len, struct eng_tok_buf *out)
{
	if (n_kinds == 0)
		return eng_tok_buf_add(out, s, len);
	if (n_kinds == 1)
		return normalize_one(kinds[0], s, len, out);
	/* A Sequence: each step reads the previous one's output. */
	struct eng_tok_buf a = {0}, b = {0};
	int rc = normalize_one(kinds[0], s, len, &a);
	for (size_t k = 1; !rc && k < n_kinds; k++) {
		b.len = 0;
		rc = normalize_one(kinds[k], a.p ? a.p : "", a.len, &b);
		struct eng_tok_buf t = a;
		a = b;
		b = t;
	}
	if (!rc)
		rc = eng_tok_buf_add(out, a.p ? a.p : "", a.len);
	free(a.p);
	free(b.p);
	return rc;
}
