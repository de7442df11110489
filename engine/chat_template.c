/* chat_template.c — the chat templates of the model families the engine runs, written out in C
 * for a list of system / user / assistant messages with the generation prompt (no Jinja engine:
 * each family's template is short, fixed and checked against its tokenizer_config.json in the
 * tests; tool calls are not rendered). The family comes from the tokenizer_config.json
 * chat_template, else from the tokens present; variants inside a family (R1 vs V3, Qwen3 vs
 * Qwen2.5, Llama 3.1 vs 3.0) from marks in the template text. */
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

static int addn(struct eng_tok_buf *b, const char *s, size_t n)
{
	return eng_tok_buf_add(b, s, n);
}

enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

static int role_of(const char *r)
{
	return !strcmp(r, "system") ? ROLE_SYSTEM : !strcmp(r, "user") ? ROLE_USER : !strcmp(r, "assistant") ? ROLE_ASSISTANT : -1;
}

/* Python's str.split(sep)[-1]: what follows the last sep (s itself when there is none). */
static const char *after_last(const char *s, const char *sep)
{
	const char *at = s;
	for (const char *p = strstr(s, sep); p; p = strstr(p + 1, sep))
		at = p + strlen(sep);
	return at;
}

/* [s, e) with Python's strip('\n') sides: lead / trail say which. */
static void strip_nl(const char **s, const char **e, int lead, int trail)
{
	while (lead && *s < *e && **s == '\n')
		(*s)++;
	while (trail && *e > *s && (*e)[-1] == '\n')
		(*e)--;
}

static int tmpl_has(const struct eng_tokenizer *t, const char *what)
{
	return t->chat_template && strstr(t->chat_template, what);
}

/* DeepSeek-R1 / V3: {{bos_token}} + the system messages joined by "\n\n" (R1 and V3 join them;
 * the older R1-Distill template keeps only the last, which it writes as `set ns.system_prompt =
 * message['content']` without `is_first_sp`), then per message '<｜User｜>' + content or
 * '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>', then the generation prompt
 * '<｜Assistant｜>' (R1: '<｜Assistant｜><think>\n'). R1's template drops an earlier assistant
 * turn's reasoning: `{% if '</think>' in content %}{% set content = content.split('</think>')[-1]
 * %}`; V3's and templates without "</think>" (tiny-arith's) keep the content as is. */
static int render_deepseek(const struct eng_tokenizer *t, const struct eng_chat_msg *msgs, const int *roles, size_t n,
			   unsigned flags, struct eng_tok_buf *b)
{
	int think = !(flags & ENG_CHAT_NO_THINK) && (!t->chat_template || tmpl_has(t, "<think>"));
	int drop_reasoning = !t->chat_template || tmpl_has(t, "</think>");
	int last_system_only = tmpl_has(t, "system_prompt") && !tmpl_has(t, "is_first_sp");
	if (add(b, t->bos_text ? t->bos_text : DS_BOS))
		return ENG_ENOMEM;
	size_t last_sys = n;
	for (size_t i = 0; i < n; i++)
		if (roles[i] == ROLE_SYSTEM)
			last_sys = i;
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (roles[i] != ROLE_SYSTEM || (last_system_only && i != last_sys))
			continue;
		if ((!first && add(b, "\n\n")) || add(b, msgs[i].content))
			return ENG_ENOMEM;
		first = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const char *c = msgs[i].content;
		if (roles[i] == ROLE_USER && (add(b, "<｜User｜>") || add(b, c)))
			return ENG_ENOMEM;
		if (roles[i] == ROLE_ASSISTANT &&
		    (add(b, "<｜Assistant｜>") || add(b, drop_reasoning ? after_last(c, "</think>") : c) ||
		     add(b, "<｜end▁of▁sentence｜>")))
			return ENG_ENOMEM;
	}
	if (add(b, "<｜Assistant｜>") || (think && add(b, "<think>\n")))
		return ENG_ENOMEM;
	return ENG_OK;
}

/* Qwen3's template (the assistant branch): reasoning is written back only for assistant turns
 * after the last user query (a tool-calling loop, or a final assistant turn being continued);
 * earlier ones keep only what follows </think>:
 *   content = message.content.split('</think>')[-1].lstrip('\n')
 *   reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
 *   after the last query, when loop.last or reasoning_content:
 *     '<|im_start|>assistant\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n')
 *   else '<|im_start|>assistant\n' + content; then '<|im_end|>\n'. */
static int qwen3_assistant(const char *c, int after_query, int last, struct eng_tok_buf *b)
{
	const char *close = strstr(c, "</think>");
	const char *cs = c, *ce = c + strlen(c), *rs = c, *re = c; /* content, reasoning_content */
	if (close) {
		cs = after_last(c, "</think>");
		strip_nl(&cs, &ce, 1, 0);
		re = close;
		strip_nl(&rs, &re, 0, 1);
		for (const char *p = rs; (p = memmem(p, (size_t)(re - p), "<think>", 7)); p += 7)
			rs = p + 7;
		strip_nl(&rs, &re, 1, 1); /* lstrip('\n'), then strip('\n') where it is written */
	}
	if (add(b, "<|im_start|>assistant\n"))
		return ENG_ENOMEM;
	if (after_query && (last || re > rs)) {
		strip_nl(&cs, &ce, 1, 0); /* content.lstrip('\n') */
		if (add(b, "<think>\n") || addn(b, rs, (size_t)(re - rs)) || add(b, "\n</think>\n\n"))
			return ENG_ENOMEM;
	}
	if (addn(b, cs, (size_t)(ce - cs)) || add(b, "<|im_end|>\n"))
		return ENG_ENOMEM;
	return ENG_OK;
}

/* Qwen3's `startswith('<tool_response>') and endswith('</tool_response>')`: a tool result sent as
 * a user turn is no query. */
static int tool_response(const char *c)
{
	size_t n = strlen(c), k = strlen("</tool_response>");
	return !strncmp(c, "<tool_response>", strlen("<tool_response>")) && n >= k && !strcmp(c + n - k, "</tool_response>");
}

/* ChatML (Qwen2, Qwen2.5, Qwen3): messages[0] when a system message opens the turns, else the
 * template's default system turn (Qwen2/2.5) or none (Qwen3); then '<|im_start|>' + role + '\n'
 * + content + '<|im_end|>\n' per message (a later system message in place), the assistant turns
 * through Qwen3's reasoning rule when the template has one, and '<|im_start|>assistant\n'. */
static int render_chatml(const struct eng_tokenizer *t, const struct eng_chat_msg *msgs, const int *roles, size_t n,
			 unsigned flags, struct eng_tok_buf *b)
{
	size_t i = 0;
	if (n && roles[0] == ROLE_SYSTEM) {
		if (add(b, "<|im_start|>system\n") || add(b, msgs[0].content) || add(b, "<|im_end|>\n"))
			return ENG_ENOMEM;
		i = 1;
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
	int qwen3 = tmpl_has(t, "</think>");
	size_t last_query = n ? n - 1 : 0; /* ns.last_query_index */
	for (size_t k = n; k-- > 0;)
		if (roles[k] == ROLE_USER && !tool_response(msgs[k].content)) {
			last_query = k;
			break;
		}
	for (; i < n; i++) {
		const char *c = msgs[i].content;
		if (roles[i] == ROLE_ASSISTANT) {
			int rc = qwen3 ? qwen3_assistant(c, i > last_query, i + 1 == n, b)
				       : add(b, "<|im_start|>assistant\n") || add(b, c) || add(b, "<|im_end|>\n");
			if (rc)
				return ENG_ENOMEM;
		} else if (add(b, "<|im_start|>") || add(b, msgs[i].role) || add(b, "\n") || add(b, c) ||
			   add(b, "<|im_end|>\n")) {
			return ENG_ENOMEM;
		}
	}
	if (add(b, "<|im_start|>assistant\n"))
		return ENG_ENOMEM;
	/* Qwen3: {%- if enable_thinking is defined and enable_thinking is false %} */
	if ((flags & ENG_CHAT_NO_THINK) && (!t->chat_template || tmpl_has(t, "enable_thinking")) &&
	    add(b, "<think>\n\n</think>\n\n"))
		return ENG_ENOMEM;
	return ENG_OK;
}

/* Llama 3.0: bos, then '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content|trim +
 * '<|eot_id|>' per message, then the assistant header. Llama 3.1+ takes messages[0] out when it
 * is a system message and always writes a system turn with the knowledge date lines before it;
 * a later system message is a turn in place as in 3.0. */
static int render_llama3(const struct eng_tokenizer *t, const struct eng_chat_msg *msgs, const int *roles, size_t n,
			 struct eng_tok_buf *b)
{
	if (add(b, t->bos_text ? t->bos_text : LLAMA3_BOS))
		return ENG_ENOMEM;
	size_t i = 0;
	/* Llama 3.1+ always writes a system turn with the knowledge date; date_string's default
	 * "26 Jul 2024" is kept (not today's date) so that prompts are reproducible. */
	if (tmpl_has(t, "Cutting Knowledge Date")) {
		if (add(b, "<|start_header_id|>system<|end_header_id|>\n\n") ||
		    add(b, "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n") ||
		    (n && roles[0] == ROLE_SYSTEM && add_trimmed(b, msgs[0].content)) || add(b, "<|eot_id|>"))
			return ENG_ENOMEM;
		i = n && roles[0] == ROLE_SYSTEM;
	}
	for (; i < n; i++)
		if (add(b, "<|start_header_id|>") || add(b, msgs[i].role) || add(b, "<|end_header_id|>\n\n") ||
		    add_trimmed(b, msgs[i].content) || add(b, "<|eot_id|>"))
			return ENG_ENOMEM;
	if (add(b, "<|start_header_id|>assistant<|end_header_id|>\n\n"))
		return ENG_ENOMEM;
	return ENG_OK;
}

int eng_chat_render_msgs(const struct eng_tokenizer *t, int family, const struct eng_chat_msg *msgs, size_t n,
			 unsigned flags, char **out, struct eng_err *err)
{
	*out = NULL;
	if (!t || (n && !msgs))
		return eng_errf(err, ENG_EMISUSE, "eng_chat_render_msgs: NULL tokenizer or messages");
	if (n == 0)
		return eng_errf(err, ENG_EMISUSE, "chat: no messages");
	if (family < ENG_CHAT_DEEPSEEK_R1 || family > ENG_CHAT_LLAMA3)
		return eng_errf(err, ENG_EUNSUPPORTED, "chat template: unknown family %d (tokenizer_config.json "
							   "chat_template not recognised)",
				    family);
	int *roles = malloc(n * sizeof *roles);
	if (!roles)
		return eng_errf(err, ENG_ENOMEM, "chat template: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!msgs[i].role || !msgs[i].content) {
			free(roles);
			return eng_errf(err, ENG_EMISUSE, "messages[%zu]: NULL %s", i, msgs[i].role ? "content" : "role");
		}
		if ((roles[i] = role_of(msgs[i].role)) < 0) {
			free(roles);
			return eng_errf(err, ENG_EUNSUPPORTED,
					    "messages[%zu].role \"%.40s\": expected system, user or assistant", i, msgs[i].role);
		}
	}
	struct eng_tok_buf b = {0};
	int rc;
	switch (family) {
	case ENG_CHAT_DEEPSEEK_R1: rc = render_deepseek(t, msgs, roles, n, flags, &b); break;
	case ENG_CHAT_CHATML: rc = render_chatml(t, msgs, roles, n, flags, &b); break;
	default: rc = render_llama3(t, msgs, roles, n, &b); break;
	}
	free(roles);
	if (!rc)
		rc = add(&b, ""); /* NUL-terminated even when empty */
	if (rc) {
		free(b.p);
		return eng_errf(err, rc, "chat template: out of memory");
	}
	*out = b.p;
	return ENG_OK;
}

int eng_chat_render_flags(const struct eng_tokenizer *t, int family, const char *system, const char *user,
			  unsigned flags, char **out, struct eng_err *err)
{
	*out = NULL;
	if (!t || !user)
		return eng_errf(err, ENG_EMISUSE, "eng_chat_render: NULL tokenizer or user text");
	struct eng_chat_msg m[2] = {{"system", system}, {"user", user}};
	return system ? eng_chat_render_msgs(t, family, m, 2, flags, out, err)
		      : eng_chat_render_msgs(t, family, m + 1, 1, flags, out, err);
}

int eng_chat_render(const struct eng_tokenizer *t, int family, const char *system, const char *user, char **out,
		    struct eng_err *err)
{
	return eng_chat_render_flags(t, family, system, user, 0, out, err);
}
