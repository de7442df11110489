/* tokenizer_added.c — finding added tokens in text before anything else splits it, as
 * tokenizers/src/tokenizer/added_vocabulary.rs does (find_matches, split_with_indices): matches are
 * leftmost-longest like its Aho-Corasick automaton, with the single_word / lstrip / rstrip rules.
 * Instead of an automaton: a first-byte filter, then one hash probe per distinct token length,
 * longest first (a tokenizer has a few dozen lengths at most). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer_internal.h"

static int cmp_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

int eng_tok_matcher_build(struct eng_tok_matcher *m, const struct eng_tok_added **tok, size_t n)
{
	memset(m, 0, sizeof *m);
	m->tok = tok;
	m->n = n;
	if (eng_tok_strmap_init(&m->map, n))
		return ENG_ENOMEM;
	m->lens = malloc((n ? n : 1) * sizeof *m->lens);
	if (!m->lens)
		return ENG_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (tok[i]->len == 0)
			continue; /* an empty token never matches (Aho-Corasick would loop on it) */
		if (eng_tok_strmap_get(&m->map, tok[i]->content, tok[i]->len) < 0 &&
		    eng_tok_strmap_put(&m->map, tok[i]->content, tok[i]->len, (int32_t)i))
			return ENG_ENOMEM;
		m->first[(uint8_t)tok[i]->content[0]] = 1;
		m->lens[m->n_lens++] = tok[i]->len;
	}
	qsort(m->lens, m->n_lens, sizeof *m->lens, cmp_desc);
	size_t u = 0;
	for (size_t i = 0; i < m->n_lens; i++)
		if (u == 0 || m->lens[u - 1] != m->lens[i])
			m->lens[u++] = m->lens[i];
	m->n_lens = u;
	return ENG_OK;
}

void eng_tok_matcher_fini(struct eng_tok_matcher *m)
{
	eng_tok_strmap_fini(&m->map);
	free(m->lens);
	free((void *)m->tok);
	memset(m, 0, sizeof *m);
}

static int seg_add(struct eng_tok_segs *s, size_t off, size_t len, int32_t id)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 16;
		struct eng_tok_seg *v = realloc(s->v, c * sizeof *v);
		if (!v)
			return ENG_ENOMEM;
		s->v = v;
		s->cap = c;
	}
	s->v[s->n++] = (struct eng_tok_seg){off, len, id};
	return ENG_OK;
}

/* Rust char::is_whitespace: the Unicode White_Space property. */
static int is_ws(utf8proc_int32_t c)
{
	return (c >= 9 && c <= 13) || c == ' ' || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* added_vocabulary.rs is_word_char: alphanumeric or '_' */
static int is_word(utf8proc_int32_t c)
{
	if (c == '_')
		return 1;
	utf8proc_category_t k = utf8proc_category(c);
	return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
	       (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

/* The char ending at s[end] (start in *at); -1 when none or not valid UTF-8. */
static utf8proc_int32_t char_before(const char *s, size_t end, size_t *at)
{
	size_t i = end;
	while (i > 0 && end - i < 4) {
		i--;
		if (((uint8_t)s[i] & 0xC0) != 0x80)
			break;
	}
	*at = i;
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(end - i), &cp);
	return k > 0 && (size_t)k == end - i ? cp : -1;
}

static utf8proc_int32_t char_at(const char *s, size_t len, size_t *k)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp);
	*k = r > 0 ? (size_t)r : 1;
	return r > 0 ? cp : -1;
}

int eng_tok_added_split(const struct eng_tok_matcher *m, const char *s, size_t len, struct eng_tok_segs *out)
{
	size_t p = 0, text = 0, start_offset = 0;
	while (p < len) {
		if (!m->first[(uint8_t)s[p]]) {
			p++;
			continue;
		}
		int32_t found = -1;
		size_t L = 0;
		for (size_t i = 0; i < m->n_lens && found < 0; i++) {
			L = m->lens[i];
			if (L <= len - p)
				found = eng_tok_strmap_get(&m->map, s + p, L);
		}
		if (found < 0) {
			p++;
			continue;
		}
		const struct eng_tok_added *tok = m->tok[found];
		size_t start = p, stop = p + L, k, at;
		if (tok->single_word) {
			utf8proc_int32_t before = start ? char_before(s, start, &at) : -1;
			utf8proc_int32_t after = stop < len ? char_at(s + stop, len - stop, &k) : -1;
			if ((before >= 0 && is_word(before)) || (after >= 0 && is_word(after))) {
				p = stop; /* the automaton has consumed it: resume after it */
				continue;
			}
		}
		if (tok->lstrip) {
			size_t ns = start;
			utf8proc_int32_t c;
			while (ns > 0 && (c = char_before(s, ns, &at)) >= 0 && is_ws(c))
				ns = at;
			start = ns > start_offset ? ns : start_offset;
		}
		if (tok->rstrip) {
			utf8proc_int32_t c;
			while (stop < len && (c = char_at(s + stop, len - stop, &k)) >= 0 && is_ws(c))
				stop += k;
		}
		if (start < text)
			start = text; /* never re-emit bytes a previous (rstrip-extended) token took */
		start_offset = stop;
		if (start > text && seg_add(out, text, start - text, -1))
			return ENG_ENOMEM;
		if (seg_add(out, start, stop - start, tok->id))
			return ENG_ENOMEM;
		text = p = stop;
	}
	if (text < len && seg_add(out, text, len - text, -1))
		return ENG_ENOMEM;
	return ENG_OK;
}
