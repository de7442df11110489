/* test_tokenizer.c — the tiny tokenizer against the tiny-arith reference ids (read from
 * tests/fixtures/tiny-arith/reference.safetensors, made with HF), the chat templates of each family,
 * the Split behaviours and Digits of HF's pre-tokenizers, and malformed tokenizer.json /
 * tokenizer_config.json files whose errors must name the file and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tokenizer.h"
#include "tests/unit/engine/engine_testutil.h"

#define TINY_JSON "tests/fixtures/tiny-tokenizer/tokenizer.json"
#define TINY_CONFIG "tests/fixtures/tiny-tokenizer/tokenizer_config.json"
#define MODEL_JSON "engine/models/tiny-arith/tokenizer.json"
#define MODEL_CONFIG "engine/models/tiny-arith/tokenizer_config.json"
#define REFERENCE "tests/fixtures/tiny-arith/reference.safetensors"
#define BOS "<｜begin▁of▁sentence｜>"

/* ---- helpers ---- */
static char *slurp(const char *path, size_t *len)
{
	char *s = tu_slurp(path, len);
	if (!s)
		fail_msg("cannot read %s", path);
	return s;
}

/* The int32 tensor `name` of a safetensors file: 8-byte little-endian header size, JSON header
 * (dtype, shape, data_offsets relative to the data block), data. */
static int32_t *safetensors_i32(const char *path, const char *name, size_t *n)
{
	size_t len;
	char *file = slurp(path, &len);
	assert_true(len >= 8);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | (uint8_t)file[i];
	assert_true(hl <= len - 8);
	cJSON *h = cJSON_ParseWithLength(file + 8, (size_t)hl);
	assert_non_null(h);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(h, name);
	assert_non_null(e);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring, "I32");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	size_t a = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, b = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
	assert_true(a <= b && 8 + hl + b <= len && (b - a) % 4 == 0);
	*n = (b - a) / 4;
	int32_t *v = malloc(*n * sizeof *v + 1);
	const uint8_t *d = (const uint8_t *)file + 8 + hl + a;
	for (size_t i = 0; i < *n; i++)
		v[i] = (int32_t)((uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
				 (uint32_t)d[4 * i + 3] << 24);
	cJSON_Delete(h);
	free(file);
	return v;
}

static void assert_ids(const int32_t *got, size_t n_got, const int32_t *want, size_t n_want)
{
	int same = n_got == n_want;
	for (size_t i = 0; same && i < n_got; i++)
		same = got[i] == want[i];
	if (!same) {
		printf("# got ");
		for (size_t i = 0; i < n_got; i++)
			printf(" %d", got[i]);
		printf("\n# want");
		for (size_t i = 0; i < n_want; i++)
			printf(" %d", want[i]);
		printf("\n");
	}
	assert_true(same);
}

/* ---- tiny tokenizer vs the tiny-arith reference ---- */
static void tiny_prompts_match_reference(const char *tj, const char *tc)
{
	/* the questions of the three reference prompts; their ids come from the fixture file */
	static const char *questions[] = {"What is 94 * 5?", "What is 94 * 8?", "What is 476 + 794?"};
	struct eng_tokenizer *t = tu_tok_load(tj, tc);
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_DEEPSEEK_R1);
	for (int p = 0; p < 3; p++) {
		char name[32];
		snprintf(name, sizeof name, "prompt%d_ids", p);
		size_t n_want;
		int32_t *want = safetensors_i32(REFERENCE, name, &n_want);
		char *prompt;
		assert_int_equal(eng_chat_render(t, ENG_CHAT_DEEPSEEK_R1, NULL, questions[p], &prompt, NULL), ENG_OK);
		int32_t *ids;
		size_t n;
		assert_int_equal(eng_tok_encode(t, prompt, strlen(prompt), &ids, &n, NULL), ENG_OK);
		assert_ids(ids, n, want, n_want);
		char *back = eng_tok_decode(t, want, n_want, 0);
		assert_string_equal(back, prompt);
		free(back);
		back = eng_tok_decode(t, want, n_want, 1); /* specials dropped */
		char expect[64];
		snprintf(expect, sizeof expect, "%s\n", questions[p]);
		assert_string_equal(back, expect);
		free(back);
		free(ids);
		free(prompt);
		free(want);
	}
	eng_tok_free(t);
}

static void tiny_fixture_reference(void **state)
{
	(void)state;
	tiny_prompts_match_reference(TINY_JSON, TINY_CONFIG);
}

static void shipped_model_reference(void **state)
{
	(void)state;
	tiny_prompts_match_reference(MODEL_JSON, MODEL_CONFIG);
}

static void tiny_lookups(void **state)
{
	(void)state;
	struct eng_tokenizer *t = tu_tok_load(TINY_JSON, TINY_CONFIG);
	assert_int_equal(eng_tok_vocab_size(t), 1024);
	assert_int_equal(eng_tok_bos(t), 0); /* fixture README: bos=0, eos=1, pad=2 */
	assert_int_equal(eng_tok_eos(t), 1);
	assert_int_equal(eng_tok_id(t, "<｜▁pad▁｜>"), 2);
	assert_true(eng_tok_id(t, "<think>") > 2);
	assert_true(eng_tok_id(t, "</think>") > 2);
	assert_int_equal(eng_tok_id(t, "no such token"), -1);
	size_t len;
	const char *p = eng_tok_piece(t, 0, &len);
	assert_int_equal(len, strlen(BOS));
	assert_memory_equal(p, BOS, len);
	assert_true(eng_tok_is_special(t, 0));
	/* a byte-level token decodes to its bytes: Ġ is the space, Ċ the newline */
	int32_t nl = eng_tok_id(t, "Ċ");
	assert_true(nl >= 0);
	p = eng_tok_piece(t, nl, &len);
	assert_int_equal(len, 1);
	assert_int_equal(p[0], '\n');
	assert_false(eng_tok_is_special(t, nl));
	assert_null(eng_tok_piece(t, 1024, &len));
	assert_null(eng_tok_piece(t, -1, &len));
	int32_t odd[] = {-5, 5000, nl};
	char *s = eng_tok_decode(t, odd, 3, 0); /* unknown ids are dropped, as HF does */
	assert_string_equal(s, "\n");
	free(s);
	int32_t *ids;
	size_t n;
	assert_int_equal(eng_tok_encode(t, "", 0, &ids, &n, NULL), ENG_OK);
	assert_int_equal(n, 0);
	free(ids);
	eng_tok_free(t);
}

/* ---- chat templates ---- */
static void deepseek_chat(void **state)
{
	(void)state;
	struct eng_tokenizer *t = tu_tok_load(TINY_JSON, TINY_CONFIG);
	char *s;
	/* the fixture README's prompt, exactly */
	assert_int_equal(eng_chat_render(t, ENG_CHAT_DEEPSEEK_R1, NULL, "What is 347 + 85?", &s, NULL), ENG_OK);
	assert_string_equal(s, "<｜begin▁of▁sentence｜><｜User｜>What is 347 + 85?<｜Assistant｜><think>\n");
	free(s);
	assert_int_equal(eng_chat_render(t, ENG_CHAT_DEEPSEEK_R1, "Be brief.", "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, BOS "Be brief.<｜User｜>hi<｜Assistant｜><think>\n");
	free(s);
	assert_int_equal(eng_chat_render_flags(t, ENG_CHAT_DEEPSEEK_R1, NULL, "hi", ENG_CHAT_NO_THINK, &s, NULL), ENG_OK);
	assert_string_equal(s, BOS "<｜User｜>hi<｜Assistant｜>");
	free(s);
	struct eng_err err = {0};
	assert_int_equal(eng_chat_render(t, 42, NULL, "hi", &s, &err), ENG_EUNSUPPORTED);
	assert_null(s);
	assert_non_null(strstr(err.msg, "family"));
	eng_tok_free(t);
}

static void llama3_chat(void **state)
{
	(void)state;
	static const char *added[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL};
	/* Llama 3.0 (Meta-Llama-3-8B-Instruct): '<|start_header_id|>' + role + '<|end_header_id|>\n\n' +
	 * content|trim + '<|eot_id|>', bos before the first, then the assistant header. */
	const char *v30 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
			  "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim "
			  "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ "
			  "content }}{% endfor %}{% if add_generation_prompt %}{{ "
			  "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
	struct eng_tokenizer *t = tu_tok_with(TINY_JSON, added, v30, "<|begin_of_text|>", "<|eot_id|>");
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_LLAMA3);
	assert_int_equal(eng_tok_bos(t), 1024);
	assert_int_equal(eng_tok_eos(t), 1027);
	char *s;
	assert_int_equal(eng_chat_render(t, ENG_CHAT_LLAMA3, " Sys. ", "\n hi \n", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nSys.<|eot_id|>"
			       "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
			       "<|start_header_id|>assistant<|end_header_id|>\n\n");
	free(s);
	assert_int_equal(eng_chat_render(t, ENG_CHAT_LLAMA3, NULL, "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
			       "<|start_header_id|>assistant<|end_header_id|>\n\n");
	/* the rendered header tokens are matched as added tokens */
	int32_t *ids;
	size_t n;
	assert_int_equal(eng_tok_encode(t, s, strlen(s), &ids, &n, NULL), ENG_OK);
	assert_int_equal(ids[0], 1024);
	assert_int_equal(ids[1], 1025);
	int headers = 0, ends = 0, eots = 0;
	for (size_t i = 0; i < n; i++) {
		headers += ids[i] == 1025;
		ends += ids[i] == 1026;
		eots += ids[i] == 1027;
	}
	assert_int_equal(headers, 2);
	assert_int_equal(ends, 2);
	assert_int_equal(eots, 1);
	free(ids);
	free(s);
	eng_tok_free(t);

	/* Llama 3.1+: a system turn always, with the knowledge date lines (date_string default) */
	const char *v31 = "{{- bos_token }}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting "
			  "Knowledge Date: December 2023\\n\" }}{{- \"Today Date: \" + date_string + \"\\n\\n\" }}";
	t = tu_tok_with(TINY_JSON, added, v31, "<|begin_of_text|>", "<|eot_id|>");
	assert_int_equal(eng_chat_render(t, eng_tok_chat_family(t), NULL, "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
			       "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
			       "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
			       "<|start_header_id|>assistant<|end_header_id|>\n\n");
	free(s);
	eng_tok_free(t);
}

static void chatml_chat(void **state)
{
	(void)state;
	static const char *added[] = {"<|im_start|>", "<|im_end|>", NULL};
	/* Qwen2.5's template: a default system turn when the messages have none */
	const char *q25 = "{%- else %}{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
			  "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are "
			  "Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}";
	struct eng_tokenizer *t = tu_tok_with(TINY_JSON, added, q25, NULL, "<|im_end|>");
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_CHATML);
	assert_int_equal(eng_tok_bos(t), -1);
	char *s;
	assert_int_equal(eng_chat_render(t, ENG_CHAT_CHATML, NULL, "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
			       "assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
	free(s);
	assert_int_equal(eng_chat_render(t, ENG_CHAT_CHATML, "S", "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
			       "<|im_start|>assistant\n");
	free(s);
	eng_tok_free(t);
	/* no template at all: no default system turn */
	t = tu_tok_with(TINY_JSON, added, NULL, NULL, NULL);
	assert_int_equal(eng_chat_render(t, ENG_CHAT_CHATML, NULL, "hi", &s, NULL), ENG_OK);
	assert_string_equal(s, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
	free(s);
	eng_tok_free(t);
}

static void no_family(void **state)
{
	(void)state;
	static const char *none[] = {NULL};
	struct eng_tokenizer *t = tu_tok_with(TINY_JSON, none, "{{ messages }}", NULL, NULL);
	/* the tiny vocab has <｜Assistant｜>: found through the tokens although the template is odd */
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_DEEPSEEK_R1);
	eng_tok_free(t);
	t = tu_tok_load(TINY_JSON, NULL); /* no config: no bos/eos names, DeepSeek R1 defaults */
	assert_int_equal(eng_tok_bos(t), -1);
	char *s;
	assert_int_equal(eng_chat_render(t, eng_tok_chat_family(t), NULL, "x", &s, NULL), ENG_OK);
	assert_string_equal(s, BOS "<｜User｜>x<｜Assistant｜><think>\n");
	free(s);
	eng_tok_free(t);
}

/* ---- pre-tokenizer behaviours (tokenizers' SplitDelimiterBehavior docs: "the-final--countdown"
 * split on "-") seen through a vocab of whole pieces and ignore_merges ---- */
static char *pieces_of(const char *pre_tokenizer, const char *text)
{
	static const char *vocab[] = {"t", "h", "e", "f", "i", "n", "a", "l", "c", "o", "u", "w", "d", "-", "1",
				      "2", "3", "x", "the", "final", "countdown", "the-", "final-", "-final",
				      "-countdown", "--", "123", "thefinalcountdown", NULL};
	cJSON *j = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(j, "model"), *v = cJSON_AddObjectToObject(m, "vocab");
	cJSON_AddStringToObject(m, "type", "BPE");
	cJSON_AddBoolToObject(m, "ignore_merges", 1);
	cJSON_AddArrayToObject(m, "merges");
	for (int i = 0; vocab[i]; i++)
		cJSON_AddNumberToObject(v, vocab[i], i);
	cJSON_AddItemToObject(j, "pre_tokenizer", cJSON_Parse(pre_tokenizer));
	const char *tj = tu_write_json("pieces.json", j);
	cJSON_Delete(j);
	struct eng_tokenizer *t = tu_tok_load(tj, NULL);
	int32_t *ids;
	size_t n;
	assert_int_equal(eng_tok_encode(t, text, strlen(text), &ids, &n, NULL), ENG_OK);
	char *out = calloc(1, 256);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *p = eng_tok_piece(t, ids[i], &len);
		strcat(out, i ? "|" : "");
		strncat(out, p, len);
	}
	free(ids);
	eng_tok_free(t);
	return out;
}

static void split_behaviours(void **state)
{
	(void)state;
	static const struct {
		const char *pre, *want;
	} cases[] = {
		{"{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"Removed\",\"invert\":false}",
		 "the|final|countdown"},
		{"{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"Isolated\",\"invert\":false}",
		 "the|-|final|-|-|countdown"},
		{"{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"MergedWithPrevious\",\"invert\":false}",
		 "the-|final-|-|countdown"},
		{"{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"MergedWithNext\",\"invert\":false}",
		 "the|-final|-|-countdown"},
		{"{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"Contiguous\",\"invert\":false}",
		 "the|-|final|--|countdown"},
		/* invert: the non-delimiter runs are the matches, so Removed keeps the dashes */
		{"{\"type\":\"Split\",\"pattern\":{\"Regex\":\"-\"},\"behavior\":\"Removed\",\"invert\":true}", "-|-|-"},
		/* no pre-tokenizer step: one word, not in the vocab, no merges: one token per char */
		{"{\"type\":\"Sequence\",\"pretokenizers\":[]}", "t|h|e|-|f|i|n|a|l|-|-|c|o|u|n|t|d|o|w|n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *got = pieces_of(cases[i].pre, "the-final--countdown");
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, got, cases[i].want);
		free(got);
	}
	char *got = pieces_of("{\"type\":\"Sequence\",\"pretokenizers\":[]}", "thefinalcountdown");
	assert_string_equal(got, "thefinalcountdown"); /* ignore_merges: the whole word is in the vocab */
	free(got);
	got = pieces_of("{\"type\":\"Digits\",\"individual_digits\":true}", "x123x");
	assert_string_equal(got, "x|1|2|3|x");
	free(got);
	got = pieces_of("{\"type\":\"Digits\",\"individual_digits\":false}", "x123x");
	assert_string_equal(got, "x|123|x");
	free(got);
}

/* ---- malformed files: the error names the file and the field ---- */
struct bad_case {
	const char *what;
	void (*mutate)(cJSON *j);
	int code;
	const char *field;
};

static cJSON *model_of(cJSON *j)
{
	return cJSON_GetObjectItem(j, "model");
}
static void m_merge_number(cJSON *j)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(model_of(j), "merges"), 3, cJSON_CreateNumber(7));
}
static void m_merge_unknown(cJSON *j)
{
	cJSON *pair = cJSON_CreateArray();
	cJSON_AddItemToArray(pair, cJSON_CreateString("zzz_not_a_token"));
	cJSON_AddItemToArray(pair, cJSON_CreateString("a"));
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(model_of(j), "merges"), 0, pair);
}
static void m_merge_string_bad(cJSON *j)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(model_of(j), "merges"), 2, cJSON_CreateString("nospace"));
}
static void m_vocab_id(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(model_of(j), "vocab"), "a", cJSON_CreateString("x"));
}
static void m_no_vocab(cJSON *j)
{
	cJSON_DeleteItemFromObject(model_of(j), "vocab");
}
static void m_no_merges(cJSON *j)
{
	cJSON_DeleteItemFromObject(model_of(j), "merges");
}
static void m_added_content(cJSON *j)
{
	cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "added_tokens"), 1), "content");
}
static void m_added_id(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "added_tokens"), 2), "id",
				  cJSON_CreateNumber(-3));
}
static void m_added_flag(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "added_tokens"), 0), "lstrip",
				  cJSON_CreateString("yes"));
}
static cJSON *pre_step(cJSON *j, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "pre_tokenizer"), "pretokenizers"), i);
}
static void m_bad_regex(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(pre_step(j, 2), "pattern"), "Regex", cJSON_CreateString("(\\p{L}+"));
}
static void m_bad_behavior(cJSON *j)
{
	cJSON_ReplaceItemInObject(pre_step(j, 1), "behavior", cJSON_CreateString("Sideways"));
}
static void m_bad_pattern(cJSON *j)
{
	cJSON_ReplaceItemInObject(pre_step(j, 0), "pattern", cJSON_CreateString("\\d+"));
}
static void m_unknown_pre(cJSON *j)
{
	cJSON_ReplaceItemInObject(pre_step(j, 3), "type", cJSON_CreateString("Metaspace"));
}
static void m_unknown_norm(cJSON *j)
{
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "type", "Sequence");
	cJSON *list = cJSON_AddArrayToObject(n, "normalizers");
	cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "type", "NFC");
	cJSON_AddStringToObject(b, "type", "Precompiled");
	cJSON_AddItemToArray(list, a);
	cJSON_AddItemToArray(list, b);
	cJSON_ReplaceItemInObject(j, "normalizer", n);
}
static void m_norm_no_type(cJSON *j)
{
	cJSON_ReplaceItemInObject(j, "normalizer", cJSON_CreateNumber(1));
}
static void m_model_type(cJSON *j)
{
	cJSON_ReplaceItemInObject(model_of(j), "type", cJSON_CreateString("WordPiece"));
}
static void m_decoder(cJSON *j)
{
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "decoder"), "type", cJSON_CreateString("Metaspace"));
}
static void m_unk(cJSON *j)
{
	cJSON_ReplaceItemInObject(model_of(j), "unk_token", cJSON_CreateString("<unk>"));
}

static void malformed_tokenizer_json(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{"merge entry not a string", m_merge_number, ENG_EFORMAT, "model.merges[3]"},
		{"merge of an unknown token", m_merge_unknown, ENG_EFORMAT, "model.merges[0]: token \"zzz_not_a_token\""},
		{"merge string without a space", m_merge_string_bad, ENG_EFORMAT, "model.merges[2]"},
		{"vocab id not a number", m_vocab_id, ENG_EFORMAT, "model.vocab["},
		{"no vocab", m_no_vocab, ENG_EFORMAT, "model.vocab"},
		{"no merges", m_no_merges, ENG_EFORMAT, "model.merges"},
		{"added token without content", m_added_content, ENG_EFORMAT, "added_tokens[1].content"},
		{"added token negative id", m_added_id, ENG_EFORMAT, "added_tokens[2].id"},
		{"added token flag not a bool", m_added_flag, ENG_EFORMAT, "added_tokens[0].lstrip"},
		{"regex does not compile", m_bad_regex, ENG_EFORMAT, "pre_tokenizer.pretokenizers[2].pattern.Regex"},
		{"unknown behavior", m_bad_behavior, ENG_EFORMAT, "pre_tokenizer.pretokenizers[1].behavior"},
		{"pattern not an object", m_bad_pattern, ENG_EFORMAT, "pre_tokenizer.pretokenizers[0].pattern"},
		{"unsupported pre-tokenizer", m_unknown_pre, ENG_EUNSUPPORTED, "pre_tokenizer.pretokenizers[3].type"},
		{"unsupported normalizer", m_unknown_norm, ENG_EUNSUPPORTED, "normalizer.normalizers[1].type"},
		{"normalizer not an object", m_norm_no_type, ENG_EFORMAT, "normalizer.type"},
		{"model not BPE", m_model_type, ENG_EUNSUPPORTED, "model.type"},
		{"decoder not ByteLevel", m_decoder, ENG_EUNSUPPORTED, "decoder.type"},
		{"unk token absent", m_unk, ENG_EFORMAT, "model.unk_token"},
	};
	char *text = slurp(TINY_JSON, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		cJSON *j = cJSON_Parse(text);
		cases[i].mutate(j);
		const char *path = tu_write_json("bad.json", j);
		cJSON_Delete(j);
		struct eng_tokenizer *t = (struct eng_tokenizer *)&t;
		struct eng_err err = {0};
		int rc = eng_tok_load(path, NULL, &t, &err);
		if (rc != cases[i].code || !strstr(err.msg, path) || !strstr(err.msg, cases[i].field))
			fail_msg("%s: rc %d (want %d), msg \"%s\" should name %s and %s", cases[i].what, rc, cases[i].code,
				 err.msg, path, cases[i].field);
		assert_null(t);
		assert_int_equal(err.code, rc);
	}
	free(text);
}

static void malformed_files(void **state)
{
	(void)state;
	struct eng_tokenizer *t;
	struct eng_err err = {0};
	/* not JSON: the line of the error */
	const char *p = tu_write_text("broken.json", "{\n  \"model\": {\n    \"vocab\": {\"a\": 0,,}\n}");
	assert_int_equal(eng_tok_load(p, NULL, &t, &err), ENG_EFORMAT);
	assert_null(t);
	assert_non_null(strstr(err.msg, p));
	assert_non_null(strstr(err.msg, ":3: invalid JSON"));
	/* truncated: the real file cut in half */
	size_t len;
	char *text = slurp(TINY_JSON, &len);
	text[len / 2] = 0;
	p = tu_write_text("half.json", text);
	free(text);
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_tok_load(p, NULL, &t, &err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "invalid JSON"));
	/* not an object */
	p = tu_write_text("array.json", "[1, 2]");
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_tok_load(p, NULL, &t, &err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "object"));
	/* missing */
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_tok_load("tests/fixtures/no-such/tokenizer.json", NULL, &t, &err), ENG_EIO);
	assert_non_null(strstr(err.msg, "tests/fixtures/no-such/tokenizer.json"));
	/* config: bos names no token; bos of the wrong type; template of the wrong type */
	static const struct {
		const char *config, *field;
	} cfg[] = {
		{"{\"bos_token\": \"<nope>\"}", "bos_token"},
		{"{\"eos_token\": 5}", "eos_token"},
		{"{\"chat_template\": 5}", "chat_template"},
		{"{\"chat_template\": [{\"name\": \"default\"}]}", "chat_template"},
		{"{\"bos_token\": ", "invalid JSON"},
	};
	for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
		p = tu_write_text("tokenizer_config.json", cfg[i].config);
		memset(&err, 0, sizeof err);
		t = (struct eng_tokenizer *)&t;
		assert_int_equal(eng_tok_load(TINY_JSON, p, &t, &err), ENG_EFORMAT);
		assert_null(t);
		if (!strstr(err.msg, p) || !strstr(err.msg, cfg[i].field))
			fail_msg("config %zu: \"%s\" should name %s", i, err.msg, cfg[i].field);
	}
	/* a list of templates: the "default" one is used */
	p = tu_write_text("tokenizer_config.json", "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"<|im_start|>\"},"
					       "{\"name\": \"default\", \"template\": \"<|start_header_id|>\"}]}");
	t = tu_tok_load(TINY_JSON, p);
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_LLAMA3);
	eng_tok_free(t);
	eng_tok_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tiny_fixture_reference),
		cmocka_unit_test(shipped_model_reference),
		cmocka_unit_test(tiny_lookups),
		cmocka_unit_test(deepseek_chat),
		cmocka_unit_test(llama3_chat),
		cmocka_unit_test(chatml_chat),
		cmocka_unit_test(no_family),
		cmocka_unit_test(split_behaviours),
		cmocka_unit_test(malformed_tokenizer_json),
		cmocka_unit_test(malformed_files),
	};
	return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
