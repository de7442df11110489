/* chat_template.c — the chat templates of the model families the engine runs, written out in C
 * for one system + one user turn with the generation prompt (no Jinja engine: each family's
 * template is short, fixed and checked against its tokenizer_config.json in the tests). The
 * family comes from the tokenizer_config.json chat_template, else from the tokens present. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer.h"
#include "engine/tokenizer_internal.h"

#define DS_BOS "<｜begin▁of▁sentence｜>"
#define LLAMA3_BOS "<|begin_of_text|>"

int eng_tok_chat_family(const struct eng_tokenizer *t)
{
	if (!t)
		return -1;
	static const struct {
		const char *mark;
		int family;
	} marks[] = {
		{"<｜Assistant｜>", ENG_CHAT_DEEPSEEK_R1},
		{"<|im_start|>", ENG_CHAT_CHATML},
		{"<|start_header_id|>", ENG_CHAT_LLAMA3},
	};
	const char *tmpl = t->chat_template;
	for (size_t i = 0; tmpl && i < sizeof marks / sizeof *marks; i++)
		if (strstr(tmpl, marks[i].mark))
			return marks[i].family;
	for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
		if (eng_tok_id(t, marks[i].mark) >= 0)
			return marks[i].family;
	return -1;
}

static int add(struct eng_tok_buf *b, const char *s)
{
	return eng_tok_buf_add(b, s ? s : "", s ? strlen(s) : 0);
}

/* Python str.isspace, what Jinja's |trim strips */
static int py_space(utf8proc_int32_t c)
{
	return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int add_trimmed(struct eng_tok_buf *b, const char *s)
{
	if (!s)
		return ENG_OK;
	size_t len = strlen(s), start = 0, end = 0, i = 0;
	int seen = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		size_t step = k > 0 ? (size_t)k : 1;
		if (k <= 0 || !py_space(cp)) {
			if (!seen)
				start = i;
			seen = 1;
			end = i + step;
		}
		i += step;
	}
	return seen ? eng_tok_buf_add(b, s + start, end - start) : ENG_OK;
}

/* Qwen2 / Qwen2.5 templates write a default system turn when none is given
 * ('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'); Qwen3's does not. The
 * default is the literal text between those markers in the template, when there is one. */
static int chatml_default_system(const char *tmpl, struct eng_tok_buf *b)
{
	/* the newline inside the Jinja string literal is written escaped or as is */
	static const char *const open[] = {"<|im_start|>system\\n", "<|im_start|>system\n"};
	for (size_t k = 0; tmpl && k < 2; k++) {
		size_t n = strlen(open[k]);
		for (const char *p = strstr(tmpl, open[k]); p; p = strstr(p + 1, open[k])) {
			const char *s = p + n, *e = strstr(s, "<|im_end|>");
			if (!e || e == s || strcspn(s, "'\"{}+") < (size_t)(e - s))
				continue;
			return eng_tok_buf_add(b, s, (size_t)(e - s)) ? -1 : 1;
		}
	}
	return 0;
}

static int render_deepseek(const struct eng_tokenizer *t, const char *system, const char *user, unsigned flags,
			   struct eng_tok_buf *b)
{
	/* DeepSeek-R1's template: {{bos_token}}{{system}} then '<｜User｜>' + content, then
	 * '<｜Assistant｜><think>\n'. V3's template has no <think>: the opener follows the template. */
	int think = !(flags & ENG_CHAT_NO_THINK) && (!t->chat_template || strstr(t->chat_template, "<think>"));
	if (add(b, t->bos_text ? t->bos_text : DS_BOS) || add(b, system) || add(b, "<｜User｜>") || add(b, user) ||
	    add(b, "<｜Assistant｜>") || (think && add(b, "<think>\n")))
		return ENG_ENOMEM;
	return ENG_OK;
}

static int render_chatml(const struct eng_tokenizer *t, const char *system, const char *user, unsigned flags,
			 struct eng_tok_buf *b)
{
	if (system) {
		if (add(b, "<|im_start|>system\n") || add(b, system) || add(b, "<|im_end|>\n"))
			return ENG_ENOMEM;
	} else {
		size_t at = b->len;
		if (add(b, "<|im_start|>system\n"))
			return ENG_ENOMEM;
		int found = chatml_default_system(t->chat_template, b);
		if (found < 0)
			return ENG_ENOMEM;
		if (found == 0)
			b->len = at; /* no default system turn */
		else if (add(b, "<|im_end|>\n"))
			return ENG_ENOMEM;
	}
	if (add(b, "<|im_start|>user\n") || add(b, user) || add(b, "<|im_end|>\n") || add(b, "<|im_start|>assistant\n"))
		return ENG_ENOMEM;
	/* Qwen3: {%- if enable_thinking is defined and enable_thinking is false %} */
	if ((flags & ENG_CHAT_NO_THINK) && (!t->chat_template || strstr(t->chat_template, "enable_thinking")) &&
	    add(b, "<think>\n\n</think>\n\n"))
		return ENG_ENOMEM;
	return ENG_OK;
}

static int render_llama3(const struct eng_tokenizer *t, const char *system, const char *user, struct eng_tok_buf *b)
{
	if (add(b, t->bos_text ? t->bos_text : LLAMA3_BOS))
		return ENG_ENOMEM;
	/* Llama 3.1+ always writes a system turn with the knowledge date; date_string's default
	 * "26 Jul 2024" is kept (not today's date) so that prompts are reproducible. */
	if (t->chat_template && strstr(t->chat_template, "Cutting Knowledge Date")) {
		if (add(b, "<|start_header_id|>system<|end_header_id|>\n\n") ||
		    add(b, "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n") ||
		    add_trimmed(b, system) || add(b, "<|eot_id|>"))
			return ENG_ENOMEM;
	} else if (system) {
		if (add(b, "<|start_header_id|>system<|end_header_id|>\n\n") || add_trimmed(b, system) ||
		    add(b, "<|eot_id|>"))
			return ENG_ENOMEM;
	}
	if (add(b, "<|start_header_id|>user<|end_header_id|>\n\n") || add_trimmed(b, user) || add(b, "<|eot_id|>") ||
	    add(b, "<|start_header_id|>assistant<|end_header_id|>\n\n"))
		return ENG_ENOMEM;
	return ENG_OK;
}

int eng_chat_render_flags(const struct eng_tokenizer *t, int family, const char *system, const char *user,
			  unsigned flags, char **out, struct eng_err *err)
{
	*out = NULL;
	if (!t || !user)
		return eng_tok_fail(err, ENG_EMISUSE, "eng_chat_render: NULL tokenizer or user text");
	struct eng_tok_buf b = {0};
	int rc;
	switch (family) {
	case ENG_CHAT_DEEPSEEK_R1: rc = render_deepseek(t, system, user, flags, &b); break;
	case ENG_CHAT_CHATML: rc = render_chatml(t, system, user, flags, &b); break;
	case ENG_CHAT_LLAMA3: rc = render_llama3(t, system, user, &b); break;
	default:
		return eng_tok_fail(err, ENG_EUNSUPPORTED, "chat template: unknown family %d (tokenizer_config.json "
							   "chat_template not recognised)",
				    family);
	}
	if (!rc)
		rc = add(&b, ""); /* NUL-terminated even when empty */
	if (rc) {
		free(b.p);
		return eng_tok_fail(err, rc, "chat template: out of memory");
	}
	*out = b.p;
	return ENG_OK;
}

int eng_chat_render(const struct eng_tokenizer *t, int family, const char *system, const char *user, char **out,
		    struct eng_err *err)
{
	return eng_chat_render_flags(t, family, system, user, 0, out, err);
}
