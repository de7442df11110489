/* tokenizer.c — the public tokenizer API: load/free, encode (the HF pipeline order of
 * tokenizers/src/tokenizer/mod.rs encode_single_sequence: added tokens on raw text, normalizer,
 * added tokens on normalized text, pre-tokenizer, BPE model), decode and lookups. Parsing lives in
 * tokenizer_load.c, the steps in tokenizer_{added,norm,pre,bpe}.c, chat templates in
 * chat_template.c. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"
#include "engine/tokenizer_internal.h"

void eng_tok_free(struct eng_tokenizer *t)
{
	if (!t)
		return;
	free(t->tok_off);
	free(t->tok_len);
	free(t->piece_off);
	free(t->piece_len);
	free(t->flags);
	free(t->pool);
	eng_tok_strmap_fini(&t->vocab);
	eng_tok_pairmap_fini(&t->merges);
	free(t->norm);
	for (size_t i = 0; i < t->n_pre; i++)
		pcre2_code_free(t->pre[i].re);
	free(t->pre);
	for (size_t i = 0; i < t->n_added; i++)
		free(t->added[i].owned);
	free(t->added);
	eng_tok_matcher_fini(&t->raw_match);
	eng_tok_matcher_fini(&t->norm_match);
	free(t->bos_text);
	free(t->eos_text);
	free(t->chat_template);
	free(t);
}

int eng_tok_load(const char *tokenizer_json, const char *tokenizer_config_json, struct eng_tokenizer **out,
		 struct eng_err *err)
{
	*out = NULL;
	if (!tokenizer_json)
		return eng_errf(err, ENG_EMISUSE, "eng_tok_load: tokenizer.json path is NULL");
	struct eng_tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", tokenizer_json);
	t->bos = t->eos = t->unk_id = -1;
	int rc = eng_tok_load_json(t, tokenizer_json, err);
	if (!rc && tokenizer_config_json)
		rc = eng_tok_load_config(t, tokenizer_config_json, err);
	if (rc) {
		eng_tok_free(t);
		return rc;
	}
	if (t->bos_text)
		t->bos = eng_tok_id(t, t->bos_text);
	if (t->eos_text)
		t->eos = eng_tok_id(t, t->eos_text);
	if ((t->bos_text && t->bos < 0) || (t->eos_text && t->eos < 0)) {
		rc = eng_errf(err, ENG_EFORMAT, "%s: %s: \"%.60s\" is not a token of %s", tokenizer_config_json,
				  t->bos < 0 && t->bos_text ? "bos_token" : "eos_token",
				  t->bos < 0 && t->bos_text ? t->bos_text : t->eos_text, tokenizer_json);
		eng_tok_free(t);
		return rc;
	}
	*out = t;
	return ENG_OK;
}

/* The scratch of one encode call: kept together so that one cleanup frees it. */
struct work {
	struct eng_tok_segs raw, norm;
	struct eng_tok_buf buf;
	struct eng_tok_spans spans;
	struct eng_tok_bpe_scratch bpe;
};

static void work_fini(struct work *w)
{
	free(w->raw.v);
	free(w->norm.v);
	free(w->buf.p);
	free(w->spans.v);
	eng_tok_bpe_scratch_fini(&w->bpe);
}

/* Everything between two raw-text added tokens: normalize, then the normalized added tokens, then
 * pre-tokenize and BPE each remaining piece. */
static int encode_text(const struct eng_tokenizer *t, const char *s, size_t len, struct work *w,
		       struct eng_tok_ids *out)
{
	w->buf.len = 0;
	int rc = eng_tok_normalize(t->norm, t->n_norm, s, len, &w->buf);
	if (rc)
		return rc;
	w->norm.n = 0;
	if ((rc = eng_tok_added_split(&t->norm_match, w->buf.p, w->buf.len, &w->norm)))
		return rc;
	for (size_t i = 0; i < w->norm.n; i++) {
		struct eng_tok_seg g = w->norm.v[i];
		if (g.id >= 0) {
			if ((rc = eng_tok_ids_add(out, g.id)))
				return rc;
			continue;
		}
		w->spans.n = 0;
		if ((rc = eng_tok_pretokenize(t->pre, t->n_pre, &w->buf, (struct eng_tok_span){g.off, g.len}, &w->spans)))
			return rc;
		for (size_t k = 0; k < w->spans.n; k++)
			if ((rc = eng_tok_bpe(t, w->buf.p + w->spans.v[k].off, w->spans.v[k].len, &w->bpe, out)))
				return rc;
	}
	return ENG_OK;
}

int eng_tok_encode(const struct eng_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
		   struct eng_err *err)
{
	*ids = NULL;
	*n = 0;
	if (!t || (!text && len))
		return eng_errf(err, ENG_EMISUSE, "eng_tok_encode: NULL tokenizer or text");
	struct work w = {0};
	struct eng_tok_ids out = {0};
	int rc = eng_tok_added_split(&t->raw_match, text, len, &w.raw);
	for (size_t i = 0; !rc && i < w.raw.n; i++) {
		struct eng_tok_seg g = w.raw.v[i];
		rc = g.id >= 0 ? eng_tok_ids_add(&out, g.id) : encode_text(t, text + g.off, g.len, &w, &out);
	}
	if (!rc && !out.v)
		rc = (out.v = malloc(sizeof *out.v)) ? ENG_OK : ENG_ENOMEM; /* callers may always free *ids */
	work_fini(&w);
	if (rc) {
		free(out.v);
		return eng_errf(err, rc, "tokenizer: encoding %zu bytes failed: %s", len,
				    rc == ENG_ENOMEM ? "out of memory" : "regex match error");
	}
	*ids = out.v;
	*n = out.n;
	return ENG_OK;
}

const char *eng_tok_piece(const struct eng_tokenizer *t, int32_t id, size_t *len)
{
	if (!t || id < 0 || (size_t)id >= t->n_ids || !(t->flags[id] & ENG_TOK_F_PRESENT)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = t->piece_len[id];
	return t->pool + t->piece_off[id];
}

char *eng_tok_decode_n(const struct eng_tokenizer *t, const int32_t *ids, size_t n, int skip_special, size_t *len)
{
	struct eng_tok_buf b = {0};
	if (eng_tok_buf_add(&b, "", 0))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t k;
		const char *p = eng_tok_piece(t, ids[i], &k);
		/* unknown ids are dropped, as HF's id_to_token filter_map does */
		if (!p || (skip_special && (t->flags[ids[i]] & ENG_TOK_F_SPECIAL)))
			continue;
		if (eng_tok_buf_add(&b, p, k)) {
			free(b.p);
			return NULL;
		}
	}
	if (len)
		*len = b.len;
	return b.p;
}

char *eng_tok_decode(const struct eng_tokenizer *t, const int32_t *ids, size_t n, int skip_special)
{
	return eng_tok_decode_n(t, ids, n, skip_special, NULL);
}

int32_t eng_tok_id(const struct eng_tokenizer *t, const char *token)
{
	if (!t || !token)
		return -1;
	return eng_tok_strmap_get(&t->vocab, token, strlen(token));
}

int32_t eng_tok_bos(const struct eng_tokenizer *t)
{
	return t ? t->bos : -1;
}

int32_t eng_tok_eos(const struct eng_tokenizer *t)
{
	return t ? t->eos : -1;
}

size_t eng_tok_vocab_size(const struct eng_tokenizer *t)
{
	return t ? t->n_ids : 0;
}

int eng_tok_is_special(const struct eng_tokenizer *t, int32_t id)
{
	return t && id >= 0 && (size_t)id < t->n_ids && (t->flags[id] & ENG_TOK_F_SPECIAL);
}
