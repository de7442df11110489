/* tokenizer_internal.h — the pieces of the tokenizer shared by its own files (tokenizer*.c,
 * chat_template.c): the loaded struct, the hash maps, the normalizer / pre-tokenizer / BPE steps.
 * Nothing outside engine/tokenizer* includes this; the public API is engine/tokenizer.h. */
#ifndef ENG_TOKENIZER_INTERNAL_H
#define ENG_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/err.h" /* eng_errf: failures are reported as everywhere in the engine */

/* ---- growable scratch: bytes, spans, ids (grown by doubling; ENG_ENOMEM on failure) ---- */
struct eng_tok_buf {
	char *p;
	size_t len, cap;
};
struct eng_tok_span {
	size_t off, len; /* into an eng_tok_buf, never a pointer: the buffer may move when it grows */
};
struct eng_tok_spans {
	struct eng_tok_span *v;
	size_t n, cap;
};
struct eng_tok_ids {
	int32_t *v;
	size_t n, cap;
};
int eng_tok_buf_add(struct eng_tok_buf *b, const void *s, size_t n);
int eng_tok_spans_add(struct eng_tok_spans *s, size_t off, size_t len);
int eng_tok_ids_add(struct eng_tok_ids *ids, int32_t id);

/* ---- hash maps ---- */
/* String -> int32. Keys are borrowed (pointer + length) and must outlive the map. */
struct eng_tok_strmap {
	struct eng_tok_strslot *slots;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t n;
};
struct eng_tok_strslot {
	const char *key; /* NULL: empty slot */
	uint32_t len;
	int32_t val;
};
int eng_tok_strmap_init(struct eng_tok_strmap *m, size_t expect);
/* Inserts or overwrites. */
int eng_tok_strmap_put(struct eng_tok_strmap *m, const char *key, size_t len, int32_t val);
int32_t eng_tok_strmap_get(const struct eng_tok_strmap *m, const char *key, size_t len); /* -1 absent */
void eng_tok_strmap_fini(struct eng_tok_strmap *m);

/* Merge pair (left id, right id) -> (rank, merged id). */
struct eng_tok_pairslot {
	uint64_t key; /* UINT64_MAX: empty */
	int32_t rank, id;
};
struct eng_tok_pairmap {
	struct eng_tok_pairslot *slots;
	size_t mask, n;
};
int eng_tok_pairmap_init(struct eng_tok_pairmap *m, size_t expect);
/* Keeps the first rank put for a pair (a later duplicate line in merges never wins in HF either:
 * the lower rank is popped first). */
int eng_tok_pairmap_put(struct eng_tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id);
const struct eng_tok_pairslot *eng_tok_pairmap_get(const struct eng_tok_pairmap *m, int32_t a, int32_t b);
void eng_tok_pairmap_fini(struct eng_tok_pairmap *m);

/* ---- normalizers (tokenizers/src/normalizers), a Sequence flattened ---- */
enum eng_tok_norm_kind { ENG_TOK_NFC, ENG_TOK_NFD, ENG_TOK_NFKC, ENG_TOK_NFKD, ENG_TOK_LOWERCASE };

/* Appends the normalization of s[0..len) to out. Invalid UTF-8 bytes are kept as they are and
 * the valid runs between them normalized, so that any byte string survives (HF only ever sees
 * valid UTF-8, where this is the same). */
int eng_tok_normalize(const int *kinds, size_t n_kinds, const char *s, size_t len, struct eng_tok_buf *out);

/* ---- pre-tokenizers (tokenizers/src/pre_tokenizers), a Sequence flattened ---- */
enum eng_tok_pre_kind { ENG_TOK_SPLIT, ENG_TOK_BYTELEVEL, ENG_TOK_DIGITS };
/* SplitDelimiterBehavior of tokenizers/src/tokenizer/normalizer.rs */
enum eng_tok_behavior {
	ENG_TOK_REMOVED,
	ENG_TOK_ISOLATED,
	ENG_TOK_MERGED_PREV,
	ENG_TOK_MERGED_NEXT,
	ENG_TOK_CONTIGUOUS,
};
struct eng_tok_pre {
	int kind;
	pcre2_code *re; /* SPLIT: the pattern; BYTELEVEL with use_regex: the GPT-2 pattern */
	int behavior;   /* SPLIT */
	int invert;     /* SPLIT */
	int add_prefix_space; /* BYTELEVEL */
	int individual;       /* DIGITS: individual_digits */
};

/* Compiles a tokenizer.json regex with PCRE2 (UTF, UCP, invalid UTF-8 tolerated). literal: a
 * Split {"String": ...} pattern. On failure err names `field`. */
int eng_tok_regex_compile(const char *file, const char *field, const char *pattern, int literal, pcre2_code **out,
			  struct eng_err *err);
extern const char eng_tok_gpt2_pattern[];

/* Runs the steps over the span `in` of buf; the resulting pieces are appended to out (buf may grow:
 * ByteLevel's prefix space writes new bytes). */
int eng_tok_pretokenize(const struct eng_tok_pre *steps, size_t n_steps, struct eng_tok_buf *buf,
			struct eng_tok_span in, struct eng_tok_spans *out);

/* ---- added tokens (tokenizers/src/tokenizer/added_vocabulary.rs) ---- */
struct eng_tok_added {
	const char *content; /* in the tokenizer's pool, or `owned` */
	char *owned;         /* normalized content when normalizing changed it (normalized=true) */
	uint32_t len;
	int32_t id;
	unsigned special : 1, lstrip : 1, rstrip : 1, single_word : 1, normalized : 1;
};
/* One matcher: the tokens matched on raw text (normalized=false) or on normalized text. */
struct eng_tok_matcher {
	const struct eng_tok_added **tok; /* owned array of borrowed tokens */
	size_t n;
	struct eng_tok_strmap map; /* content -> index into tok */
	uint32_t *lens;            /* distinct content lengths, longest first */
	size_t n_lens;
	uint8_t first[256]; /* first bytes that start some token */
};
/* Takes ownership of the array tok (freed by eng_tok_matcher_fini, also after a failure). */
int eng_tok_matcher_build(struct eng_tok_matcher *m, const struct eng_tok_added **tok, size_t n);
void eng_tok_matcher_fini(struct eng_tok_matcher *m);
/* Splits s[0..len) at added tokens, leftmost-longest as HF's Aho-Corasick; appends to out pairs
 * of spans: spans with id >= 0 are tokens, id -1 plain text. */
struct eng_tok_seg {
	size_t off, len;
	int32_t id;
};
struct eng_tok_segs {
	struct eng_tok_seg *v;
	size_t n, cap;
};
int eng_tok_added_split(const struct eng_tok_matcher *m, const char *s, size_t len, struct eng_tok_segs *out);

/* ---- the loaded tokenizer ---- */
enum { ENG_TOK_F_PRESENT = 1, ENG_TOK_F_ADDED = 2, ENG_TOK_F_SPECIAL = 4, ENG_TOK_F_MODEL = 8 };

struct eng_tokenizer {
	size_t n_ids;        /* largest id + 1 */
	uint32_t *tok_off;   /* [n_ids] token string as written in tokenizer.json, in pool */
	uint32_t *tok_len;   /* [n_ids] */
	uint32_t *piece_off; /* [n_ids] decoded bytes (ByteLevel decoder undone), in pool */
	uint32_t *piece_len; /* [n_ids] */
	uint8_t *flags;      /* [n_ids] ENG_TOK_F_* */
	char *pool;
	size_t pool_len;

	struct eng_tok_strmap vocab;   /* token string -> id (model vocab, then added tokens) */
	struct eng_tok_pairmap merges; /* (left id, right id) -> rank, merged id */

	/* BPE model options (tokenizers/src/models/bpe/model.rs) */
	int ignore_merges, byte_fallback, fuse_unk;
	int32_t unk_id;
	int byte_level;        /* a ByteLevel pre-tokenizer maps bytes to the 256-char alphabet */
	int32_t byte_id[256];  /* id of each byte's ByteLevel char; -1 when absent */

	int *norm; /* enum eng_tok_norm_kind */
	size_t n_norm;
	struct eng_tok_pre *pre;
	size_t n_pre;

	struct eng_tok_added *added;
	size_t n_added;
	struct eng_tok_matcher raw_match, norm_match;

	int32_t bos, eos;
	char *bos_text, *eos_text; /* token strings from tokenizer_config.json, may be NULL */
	char *chat_template;       /* may be NULL */
};

/* GPT-2's byte <-> printable char table (tokenizers/src/pre_tokenizers/byte_level.rs bytes_char) */
uint32_t eng_tok_byte_char(uint8_t b);
int eng_tok_char_byte(uint32_t cp); /* -1 when cp is not one of the 256 */

/* Appends the ids of one pre-tokenized piece (raw bytes) through the BPE model. */
struct eng_tok_bpe_scratch {
	struct eng_tok_sym *sym;
	size_t sym_cap;
	struct eng_tok_merge *heap;
	size_t heap_cap;
	struct eng_tok_buf word;
};
int eng_tok_bpe(const struct eng_tokenizer *t, const char *s, size_t len, struct eng_tok_bpe_scratch *sc,
		struct eng_tok_ids *out);
void eng_tok_bpe_scratch_fini(struct eng_tok_bpe_scratch *sc);

/* tokenizer_load.c: fills t from the two files. */
int eng_tok_load_json(struct eng_tokenizer *t, const char *path, struct eng_err *err);
int eng_tok_load_config(struct eng_tokenizer *t, const char *path, struct eng_err *err);

#endif
