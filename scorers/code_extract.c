/* code_extract.c — finds the program in a model's answer. Rule as in the common code harnesses
 * (evalplus `sanitize`, LiveCodeBench `extract_code`): the last fenced block of the right language,
 * else the whole answer; reasoning before </think> is never code. */
#include <stdlib.h>
#include <string.h>

#include "scorers/code_int.h"

static int lang_tag(int lang, const char *tag, size_t len)
{
	static const char *const py[] = {"", "python", "py", "python3", "Python", "Python3", NULL};
	static const char *const c[] = {"", "c", "C", "h", NULL};
	for (const char *const *ok = lang == SCR_LANG_C ? c : py; *ok; ok++)
		if (strlen(*ok) == len && strncmp(*ok, tag, len) == 0)
			return 1;
	return 0;
}

/* A fence is ``` at the start of a line (after up to three spaces, as CommonMark allows). */
static const char *next_fence(const char *p, const char *start)
{
	for (const char *f = strstr(p, "```"); f; f = strstr(f + 3, "```")) {
		const char *ls = f;
		while (ls > start && ls[-1] == ' ' && f - ls < 3)
			ls--;
		if (ls == start || ls[-1] == '\n')
			return f;
	}
	return NULL;
}

char *scr_code_extract(const char *response, const char **rule)
{
	return scr_code_extract_lang(response, SCR_LANG_PYTHON, rule);
}

char *scr_code_extract_lang(const char *response, int lang, const char **rule)
{
	const char *text = response ? response : "";
	for (const char *t = strstr(text, "</think>"); t; t = strstr(t + 1, "</think>"))
		text = t + strlen("</think>");
	const char *best = NULL;
	size_t best_len = 0;
	const char *p = text;
	for (;;) {
		const char *open = next_fence(p, text);
		if (!open)
			break;
		const char *tag = open + 3;
		size_t tag_len = strcspn(tag, " \t\r\n");
		const char *nl = strchr(tag, '\n');
		if (!nl)
			break; /* a fence on the last line opens nothing */
		const char *body = nl + 1;
		const char *close = next_fence(body, text);
		size_t len = close ? (size_t)(close - body) : strlen(body);
		if (lang_tag(lang, tag, tag_len)) {
			best = body;
			best_len = len;
		}
		if (!close)
			break;
		p = close + 3;
	}
	if (!best) {
		best = text;
		best_len = strlen(text);
		*rule = "whole";
	} else {
		*rule = "fenced";
	}
	char *s = malloc(best_len + 1);
	if (!s)
		return NULL;
	memcpy(s, best, best_len);
	s[best_len] = 0;
	return s;
}
