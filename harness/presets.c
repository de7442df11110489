/* presets.c — the built-in protocols; see presets.h. */
#include "harness/presets.h"

#include <stdio.h>
#include <string.h>

/* DeepSeek-R1 (arXiv:2501.12948, "Evaluation Setup" and the model card's "Usage
 * Recommendations"): 32,768 generated tokens at most, temperature 0.6, top-p 0.95, pass@1 over k
 * samples, no system prompt, the boxed-answer instruction for math, and the response forced to
 * start with "<think>\n". The reasoning budget (for providers that take one) leaves 4,096 of the
 * 32,768 tokens to the answer: our choice, the paper has no budget. */
static const struct evh_preset presets[] = {
	{"r1", "DeepSeek-R1 evaluation protocol", "arXiv:2501.12948; DeepSeek-R1 model card", 0.6, 0.95, 32768, 0,
	 28672, 1, "Please reason step by step, and put your final answer within \\boxed{}.", 1},
	{"greedy", "one greedy sample per item, for quick checks", "", 0.0, -1, 0, 1, 0, 0, NULL, 0},
};

size_t evh_preset_count(void)
{
	return sizeof presets / sizeof presets[0];
}

const struct evh_preset *evh_preset_at(size_t i)
{
	return i < evh_preset_count() ? &presets[i] : NULL;
}

const struct evh_preset *evh_preset_find(const char *name)
{
	for (size_t i = 0; name && i < evh_preset_count(); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

int evh_preset_samples(const struct evh_preset *p, size_t n_items)
{
	if (p->samples > 0)
		return p->samples;
	return n_items < 100 ? 64 : n_items < 500 ? 8 : 4;
}

const char *evh_preset_samples_rule(const struct evh_preset *p)
{
	return p->samples > 0 ? NULL : "64 (<100 items), 8 (<500 items), else 4";
}

void evh_presets_print(FILE *out)
{
	fprintf(out, "%-8s %-11s %-6s %-10s %-40s %-9s %-6s %s\n", "name", "temperature", "top_p", "max_tokens",
		"samples", "system", "think", "math instruction");
	for (size_t i = 0; i < evh_preset_count(); i++) {
		const struct evh_preset *p = &presets[i];
		char t[16] = "-", tp[16] = "-", mt[16] = "-", k[48];
		if (p->temperature >= 0)
			snprintf(t, sizeof t, "%g", p->temperature);
		if (p->top_p >= 0)
			snprintf(tp, sizeof tp, "%g", p->top_p);
		if (p->max_tokens > 0)
			snprintf(mt, sizeof mt, "%d", p->max_tokens);
		if (p->samples > 0)
			snprintf(k, sizeof k, "%d", p->samples);
		else
			snprintf(k, sizeof k, "%s", evh_preset_samples_rule(p));
		fprintf(out, "%-8s %-11s %-6s %-10s %-40s %-9s %-6s %s\n", p->name, t, tp, mt, k,
			p->no_system ? "none" : "pack's", p->think_prefix ? "<think>" : "-",
			p->math_instruction ? p->math_instruction : "-");
		fprintf(out, "         %s%s%s", p->description, p->source[0] ? "; " : "", p->source);
		if (p->reasoning_budget > 0)
			fprintf(out, "; reasoning budget %d tokens", p->reasoning_budget);
		fputc('\n', out);
	}
}
