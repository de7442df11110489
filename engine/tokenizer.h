/* tokenizer.h — byte-level BPE from a Hugging Face tokenizer.json, encoding exactly as HF
 * tokenizers does (added/special tokens matched first, normalizer via utf8proc, pre-tokenizer
 * regexes via PCRE2, byte-level mapping, BPE merges by rank), and the chat templates of the model
 * families the engine runs. Read-only after load; may be shared by threads. */
#ifndef ENG_TOKENIZER_H
#define ENG_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct eng_tokenizer;

/* tokenizer_config.json may be NULL (then no chat template / bos / eos names from it).
 * On failure *out is NULL and err->msg names the file and the field. */
int eng_tok_load(const char *tokenizer_json, const char *tokenizer_config_json, struct eng_tokenizer **out,
		 struct eng_err *err);
void eng_tok_free(struct eng_tokenizer *t);

/* Encodes len bytes of text (special tokens written inline are matched as in HF with
 * add_special_tokens=False). *ids is malloc'd (caller frees), *n its length. */
int eng_tok_encode(const struct eng_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
		   struct eng_err *err);

/* Raw bytes of one token (byte-level mapping undone; may be a partial UTF-8 sequence); NULL for an
 * out-of-range id. Borrowed, valid until eng_tok_free. */
const char *eng_tok_piece(const struct eng_tokenizer *t, int32_t id, size_t *len);

/* Decodes ids to text (malloc'd); skip_special drops added special tokens. */
char *eng_tok_decode(const struct eng_tokenizer *t, const int32_t *ids, size_t n, int skip_special);

int32_t eng_tok_id(const struct eng_tokenizer *t, const char *token); /* -1 when absent */
int32_t eng_tok_bos(const struct eng_tokenizer *t);                   /* -1 when none */
int32_t eng_tok_eos(const struct eng_tokenizer *t);                   /* -1 when none */
size_t eng_tok_vocab_size(const struct eng_tokenizer *t);

enum eng_chat_family {
	ENG_CHAT_DEEPSEEK_R1 = 0, /* <｜begin▁of▁sentence｜>{system}<｜User｜>{u}<｜Assistant｜><think>\n */
	ENG_CHAT_CHATML = 1,      /* Qwen2/Qwen3: <|im_start|>user\n{u}<|im_end|>\n<|im_start|>assistant\n */
	ENG_CHAT_LLAMA3 = 2,
};

/* Picks the family from tokenizer_config.json's chat_template / tokens present. */
int eng_tok_chat_family(const struct eng_tokenizer *t);

/* Renders a single-turn chat (system may be NULL) with the generation prompt, as the model
 * family's template does. *out malloc'd. */
int eng_chat_render(const struct eng_tokenizer *t, int family, const char *system, const char *user, char **out,
		    struct eng_err *err);

/* ---- additions (declarations above are fixed) ---- */

/* eng_tok_decode that also gives the length: decoded bytes may hold NUL or end inside a UTF-8
 * sequence (no U+FFFD replacement is done, so bytes round-trip exactly). NULL when out of memory. */
char *eng_tok_decode_n(const struct eng_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
		       size_t *len /* OUT, may be NULL */);

/* 1 when id is an added token marked special (what skip_special drops), else 0. */
int eng_tok_is_special(const struct eng_tokenizer *t, int32_t id);

enum eng_chat_flag {
	/* Thinking off: ChatML (Qwen3) renders the empty "<think>\n\n</think>\n\n" its template
	 * writes for enable_thinking=false; DeepSeek omits the "<think>\n" generation-prompt opener. */
	ENG_CHAT_NO_THINK = 1,
};

/* eng_chat_render with enum eng_chat_flag bits; eng_chat_render is this with flags 0. */
int eng_chat_render_flags(const struct eng_tokenizer *t, int family, const char *system, const char *user,
			  unsigned flags, char **out, struct eng_err *err);

/* Added (multi-turn chats): renders messages (struct eng_chat_msg, engine.h) with the generation
 * prompt as the family's template does: roles "system", "user", "assistant" in any order (others:
 * ENG_EUNSUPPORTED naming messages[i].role; none: ENG_EMISUSE). Earlier assistant turns lose
 * their reasoning where the template drops it (DeepSeek-R1: what precedes the last </think>;
 * Qwen3: the <think> block, kept only for assistant turns after the last user query).
 * eng_chat_render_flags is this with [system,] user. *out malloc'd, NULL on failure. */
int eng_chat_render_msgs(const struct eng_tokenizer *t, int family, const struct eng_chat_msg *msgs, size_t n,
			 unsigned flags, char **out, struct eng_err *err);

#endif
