/* pack_render.c — an item's user message from the pack's prompt template. Only the two
 * placeholders {question} and {choices} are substituted; every other brace is literal, since math
 * templates are full of them ("put your final answer within \boxed{}"). */
#include "tasks/pack.h"

#include <stdlib.h>
#include <string.h>

#include "harness/util/buf.h"

/* "A. first\nB. second": the lettering the mcq scorer's letter extraction expects. */
static int add_choices(struct evh_buf *b, char *const *choices, size_t n)
{
	int rc = EVH_OK;
	for (size_t i = 0; !rc && i < n; i++)
		rc = evh_buf_printf(b, "%s%c. %s", i ? "\n" : "", 'A' + (int)i, choices[i]);
	return rc;
}

static int add_template(struct evh_buf *b, const char *tpl, const char *question, char *const *choices,
			size_t n_choices)
{
	int rc = EVH_OK;
	const char *s = tpl;
	while (!rc && *s) {
		const char *q = strstr(s, "{question}"), *c = strstr(s, "{choices}");
		const char *next = q && (!c || q < c) ? q : c;
		if (!next)
			return evh_buf_adds(b, s);
		rc = evh_buf_add(b, s, (size_t)(next - s));
		if (rc)
			break;
		if (next == q) {
			rc = evh_buf_adds(b, question);
			s = next + strlen("{question}");
		} else {
			rc = add_choices(b, choices, n_choices);
			s = next + strlen("{choices}");
		}
	}
	return rc;
}

int pack_render_prompt(const struct pack *p, const struct pack_item *it, char **out, struct evh_err *err)
{
	*out = NULL;
	if (!p || !it)
		return evh_err_fail(err, EVH_EMISUSE, NULL, "pack_render_prompt: NULL pack or item");
	const struct pack_manifest *m = pack_manifest(p);
	const char *tpl = m->prompt_template ? m->prompt_template : "{question}";
	struct evh_buf b;
	evh_buf_init(&b, EVH_LIMIT_ENTRY);
	int rc = EVH_OK;
	/* Few-shot examples come first, each through the same template followed by its answer (the
	 * lm-evaluation-harness layout); they carry no options, so {choices} renders empty in them. */
	for (size_t i = 0; !rc && i < m->n_fewshot; i++) {
		rc = add_template(&b, tpl, m->fewshot[i].question, NULL, 0);
		if (!rc)
			rc = evh_buf_printf(&b, "\n%s\n\n", m->fewshot[i].answer);
	}
	if (!rc)
		rc = add_template(&b, tpl, it->question, it->choices, it->n_choices);
	if (!rc && !(*out = evh_buf_take(&b)))
		rc = EVH_ENOMEM;
	evh_buf_free(&b);
	if (rc)
		return evh_err_fail(err, rc, it->id, "rendering the prompt: %s", evh_strerror(rc));
	return EVH_OK;
}
