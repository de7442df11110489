/* tokenizer_bpe.c — the BPE model on one pre-tokenized piece, as tokenizers/src/models/bpe does it
 * (model.rs: tokenize_with_cache, merge_word; word.rs: Word::merge_all): symbols start as the
 * piece's chars, then the lowest-ranked adjacent pair is merged (leftmost first on ties) until no
 * pair has a merge. A heap of candidate merges with lazy invalidation keeps long pieces
 * O(n log n) instead of rescanning all pairs after each merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer_internal.h"

struct eng_tok_sym {
	int32_t c;          /* token id */
	int32_t prev, next; /* neighbours in the word, -1 at the ends */
	uint32_t len;       /* 0 once merged into its left neighbour */
};

struct eng_tok_merge {
	int32_t rank, pos, id;
};

/* word.rs Merge::cmp: lower rank first, then lower position. */
static int before(const struct eng_tok_merge *a, const struct eng_tok_merge *b)
{
	return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct eng_tok_merge *h, size_t *n, struct eng_tok_merge m)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&m, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = m;
}

static struct eng_tok_merge heap_pop(struct eng_tok_merge *h, size_t *n)
{
	struct eng_tok_merge top = h[0], last = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && before(&h[c + 1], &h[c]))
			c++;
		if (!before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

static int add_sym(struct eng_tok_bpe_scratch *sc, size_t *n, int32_t id, uint32_t len)
{
	if (*n == sc->sym_cap) {
		size_t c = sc->sym_cap ? sc->sym_cap * 2 : 64;
		struct eng_tok_sym *v = realloc(sc->sym, c * sizeof *v);
		if (!v)
			return ENG_ENOMEM;
		sc->sym = v;
		sc->sym_cap = c;
	}
	sc->sym[*n] = (struct eng_tok_sym){id, (int32_t)*n - 1, (int32_t)*n + 1, len};
	(*n)++;
	return ENG_OK;
}

/* model.rs merge_word: one symbol per char; a char missing from the vocab becomes <0xXX> byte
 * tokens (byte_fallback), else unk (fused when fuse_unk), else is dropped as HF drops it. */
static int initial_symbols(const struct eng_tokenizer *t, const char *s, size_t len, struct eng_tok_bpe_scratch *sc,
			   size_t *n)
{
	int32_t unk = -1;
	uint32_t unk_len = 0;
	size_t i = 0;
	while (i < len) {
		size_t k = 1;
		int32_t id;
		if (t->byte_level) {
			id = t->byte_id[(uint8_t)s[i]];
		} else {
			utf8proc_int32_t cp;
			utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
			k = r > 0 ? (size_t)r : 1;
			id = eng_tok_strmap_get(&t->vocab, s + i, k);
		}
		if (id >= 0) {
			if (unk >= 0 && add_sym(sc, n, unk, unk_len))
				return ENG_ENOMEM;
			unk = -1;
			if (add_sym(sc, n, id, (uint32_t)k))
				return ENG_ENOMEM;
			i += k;
			continue;
		}
		if (t->byte_fallback) {
			int32_t b[4];
			size_t j = 0;
			for (; j < k; j++) {
				char code[8];
				snprintf(code, sizeof code, "<0x%02X>", (unsigned)(uint8_t)s[i + j]);
				if ((b[j] = eng_tok_strmap_get(&t->vocab, code, 6)) < 0)
					break;
			}
			if (j == k) {
				for (j = 0; j < k; j++)
					if (add_sym(sc, n, b[j], 1))
						return ENG_ENOMEM;
				i += k;
				continue;
			}
		}
		if (t->unk_id >= 0) {
			if (unk >= 0 && t->fuse_unk) {
				unk_len += (uint32_t)k;
			} else {
				if (unk >= 0 && add_sym(sc, n, unk, unk_len))
					return ENG_ENOMEM;
				unk = t->unk_id;
				unk_len = (uint32_t)k;
			}
		}
		i += k;
	}
	if (unk >= 0 && add_sym(sc, n, unk, unk_len))
		return ENG_ENOMEM;
	if (*n)
		sc->sym[*n - 1].next = -1;
	return ENG_OK;
}

static int push_pair(const struct eng_tokenizer *t, struct eng_tok_bpe_scratch *sc, size_t *hn, int32_t pos)
{
	struct eng_tok_sym *a = &sc->sym[pos];
	if (a->next < 0)
		return ENG_OK;
	const struct eng_tok_pairslot *m = eng_tok_pairmap_get(&t->merges, a->c, sc->sym[a->next].c);
	if (!m)
		return ENG_OK;
	/* the heap never holds more than one entry per symbol pair alive plus stale ones; it is
	 * sized for all of them up front (at most 3 pushes per merge, n - 1 merges) */
	heap_push(sc->heap, hn, (struct eng_tok_merge){m->rank, pos, m->id});
	return ENG_OK;
}

int eng_tok_bpe(const struct eng_tokenizer *t, const char *s, size_t len, struct eng_tok_bpe_scratch *sc,
		struct eng_tok_ids *out)
{
	if (len == 0)
		return ENG_OK;
	if (t->ignore_merges) {
		/* model.rs tokenize_with_cache: a whole piece found in the model's vocab is one token */
		const char *w = s;
		size_t wl = len;
		if (t->byte_level) {
			sc->word.len = 0;
			for (size_t i = 0; i < len; i++) {
				utf8proc_uint8_t enc[4];
				utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)eng_tok_byte_char((uint8_t)s[i]), enc);
				if (eng_tok_buf_add(&sc->word, enc, (size_t)k))
					return ENG_ENOMEM;
			}
			w = sc->word.p;
			wl = sc->word.len;
		}
		int32_t id = eng_tok_strmap_get(&t->vocab, w, wl);
		if (id >= 0 && (t->flags[id] & ENG_TOK_F_MODEL))
			return eng_tok_ids_add(out, id);
	}
	size_t n = 0;
	int rc = initial_symbols(t, s, len, sc, &n);
	if (rc)
		return rc;
	size_t need = 3 * n + 1;
	if (need > sc->heap_cap) {
		struct eng_tok_merge *h = realloc(sc->heap, need * sizeof *h);
		if (!h)
			return ENG_ENOMEM;
		sc->heap = h;
		sc->heap_cap = need;
	}
	size_t hn = 0;
	for (size_t i = 0; i + 1 < n; i++)
		push_pair(t, sc, &hn, (int32_t)i);

	struct eng_tok_sym *sym = sc->sym;
	while (hn) {
		struct eng_tok_merge top = heap_pop(sc->heap, &hn);
		struct eng_tok_sym *a = &sym[top.pos];
		if (a->len == 0 || a->next < 0)
			continue;
		struct eng_tok_sym *b = &sym[a->next];
		/* stale entry: the pair at pos changed since it was pushed */
		const struct eng_tok_pairslot *m = eng_tok_pairmap_get(&t->merges, a->c, b->c);
		if (!m || m->id != top.id)
			continue;
		a->c = top.id;
		a->len += b->len;
		b->len = 0;
		a->next = b->next;
		if (a->next >= 0)
			sym[a->next].prev = top.pos;
		if (a->prev >= 0)
			push_pair(t, sc, &hn, a->prev);
		push_pair(t, sc, &hn, top.pos);
	}
	for (size_t i = 0; i < n; i++)
		if (sym[i].len && eng_tok_ids_add(out, sym[i].c))
			return ENG_ENOMEM;
	return ENG_OK;
}

void eng_tok_bpe_scratch_fini(struct eng_tok_bpe_scratch *sc)
{
	free(sc->sym);
	free(sc->heap);
	free(sc->word.p);
	memset(sc, 0, sizeof *sc);
}
