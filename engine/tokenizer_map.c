/* tokenizer_map.c — the tokenizer's plumbing: growable scratch buffers, the two
 * open-addressing hash maps (token string -> id, merge pair -> rank) and GPT-2's byte <-> char
 * table. Open addressing with linear probing keeps a 150k vocab in two flat arrays. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer_internal.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return ENG_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return ENG_ENOMEM;
	*p = q;
	*cap = c;
	return ENG_OK;
}

int eng_tok_buf_add(struct eng_tok_buf *b, const void *s, size_t n)
{
	if (grow((void **)&b->p, &b->cap, b->len + n + 1, 1))
		return ENG_ENOMEM;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return ENG_OK;
}

int eng_tok_spans_add(struct eng_tok_spans *s, size_t off, size_t len)
{
	if (grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v))
		return ENG_ENOMEM;
	s->v[s->n++] = (struct eng_tok_span){off, len};
	return ENG_OK;
}

int eng_tok_ids_add(struct eng_tok_ids *ids, int32_t id)
{
	if (grow((void **)&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v))
		return ENG_ENOMEM;
	ids->v[ids->n++] = id;
	return ENG_OK;
}

/* FNV-1a: token strings are short, so a simple byte hash is as fast as anything here. */
static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x) /* splitmix64 finalizer */
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t capacity_for(size_t expect)
{
	size_t c = 16;
	while (c < expect * 2) /* load factor at most 1/2 */
		c *= 2;
	return c;
}

int eng_tok_strmap_init(struct eng_tok_strmap *m, size_t expect)
{
	size_t cap = capacity_for(expect);
	m->slots = calloc(cap, sizeof *m->slots);
	m->mask = cap - 1;
	m->n = 0;
	return m->slots ? ENG_OK : ENG_ENOMEM;
}

static int strmap_rehash(struct eng_tok_strmap *m)
{
	struct eng_tok_strmap bigger;
	if (eng_tok_strmap_init(&bigger, (m->mask + 1)))
		return ENG_ENOMEM;
	for (size_t i = 0; i <= m->mask; i++)
		if (m->slots[i].key)
			eng_tok_strmap_put(&bigger, m->slots[i].key, m->slots[i].len, m->slots[i].val);
	free(m->slots);
	*m = bigger;
	return ENG_OK;
}

int eng_tok_strmap_put(struct eng_tok_strmap *m, const char *key, size_t len, int32_t val)
{
	if ((m->n + 1) * 2 > m->mask + 1 && strmap_rehash(m))
		return ENG_ENOMEM;
	size_t i = hash_str(key, len) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		struct eng_tok_strslot *s = &m->slots[i];
		if (!s->key) {
			*s = (struct eng_tok_strslot){key, (uint32_t)len, val};
			m->n++;
			return ENG_OK;
		}
		if (s->len == len && memcmp(s->key, key, len) == 0) {
			s->val = val;
			return ENG_OK;
		}
	}
}

int32_t eng_tok_strmap_get(const struct eng_tok_strmap *m, const char *key, size_t len)
{
	if (!m->slots)
		return -1;
	size_t i = hash_str(key, len) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		const struct eng_tok_strslot *s = &m->slots[i];
		if (!s->key)
			return -1;
		if (s->len == len && memcmp(s->key, key, len) == 0)
			return s->val;
	}
}

void eng_tok_strmap_fini(struct eng_tok_strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n = m->mask = 0;
}

static uint64_t pair_key(int32_t a, int32_t b)
{
	return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

int eng_tok_pairmap_init(struct eng_tok_pairmap *m, size_t expect)
{
	size_t cap = capacity_for(expect);
	m->slots = malloc(cap * sizeof *m->slots);
	if (!m->slots)
		return ENG_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		m->slots[i].key = UINT64_MAX;
	m->mask = cap - 1;
	m->n = 0;
	return ENG_OK;
}

int eng_tok_pairmap_put(struct eng_tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id)
{
	if ((m->n + 1) * 2 > m->mask + 1) {
		struct eng_tok_pairmap bigger;
		if (eng_tok_pairmap_init(&bigger, m->mask + 1))
			return ENG_ENOMEM;
		for (size_t i = 0; i <= m->mask; i++)
			if (m->slots[i].key != UINT64_MAX)
				eng_tok_pairmap_put(&bigger, (int32_t)(m->slots[i].key >> 32),
						    (int32_t)(uint32_t)m->slots[i].key, m->slots[i].rank, m->slots[i].id);
		free(m->slots);
		*m = bigger;
	}
	uint64_t k = pair_key(a, b);
	size_t i = hash_u64(k) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		struct eng_tok_pairslot *s = &m->slots[i];
		if (s->key == UINT64_MAX) {
			*s = (struct eng_tok_pairslot){k, rank, id};
			m->n++;
			return ENG_OK;
		}
		if (s->key == k)
			return ENG_OK;
	}
}

const struct eng_tok_pairslot *eng_tok_pairmap_get(const struct eng_tok_pairmap *m, int32_t a, int32_t b)
{
	if (!m->slots)
		return NULL;
	uint64_t k = pair_key(a, b);
	size_t i = hash_u64(k) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		const struct eng_tok_pairslot *s = &m->slots[i];
		if (s->key == UINT64_MAX)
			return NULL;
		if (s->key == k)
			return s;
	}
}

void eng_tok_pairmap_fini(struct eng_tok_pairmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n = m->mask = 0;
}

/* bytes_char() of byte_level.rs (GPT-2's bytes_to_unicode): printable Latin-1 bytes stand for
 * themselves, the other 68 are moved to U+0100.. in byte order. */
uint32_t eng_tok_byte_char(uint8_t b)
{
	static uint32_t table[256];
	static int ready; /* benign: every thread computes the same table */
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		uint32_t n = 0;
		uint32_t tmp[256];
		for (int c = 0; c < 256; c++) {
			int keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
			tmp[c] = keep ? (uint32_t)c : 256 + n++;
		}
		for (int c = 0; c < 256; c++)
			__atomic_store_n(&table[c], tmp[c], __ATOMIC_RELAXED);
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&table[b], __ATOMIC_RELAXED);
}

int eng_tok_char_byte(uint32_t cp)
{
	if (cp < 256) {
		int keep = (cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF);
		return keep ? (int)cp : -1;
	}
	if (cp >= 256 + 68)
		return -1;
	for (int c = 0; c < 256; c++)
		if (eng_tok_byte_char((uint8_t)c) == cp)
			return c;
	return -1;
}
