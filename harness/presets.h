/* presets.h — named evaluation protocols: one flag sets the sampling, the samples per item, the
 * prompt and the token cap a published evaluation used, so that its numbers can be reproduced.
 * Flags given on the command line override a preset's values (run.json records both). */
#ifndef EVH_PRESETS_H
#define EVH_PRESETS_H

#include <stddef.h>
#include <stdio.h>

struct evh_preset {
	const char *name;
	const char *description;
	const char *source;       /* where the protocol is published */
	double temperature;       /* < 0: not set */
	double top_p;             /* < 0: not set */
	int max_tokens;           /* <= 0: not set */
	int samples;              /* > 0: fixed k; 0: by pack size (samples_rule) */
	int reasoning_budget;     /* thinking tokens for providers with a budget (Anthropic); 0: not set */
	int no_system;            /* 1: send no system prompt, not even the pack's */
	const char *math_instruction; /* appended to math prompts; NULL: none */
	int think_prefix;         /* 1: start the assistant turn with "<think>\n" where the provider can */
};

size_t evh_preset_count(void);
const struct evh_preset *evh_preset_at(size_t i);
/* NULL when there is no preset of that name. */
const struct evh_preset *evh_preset_find(const char *name);

/* k for a pack of n items: the fixed k, or the size rule (r1: 64 under 100 items, 8 under 500, 4
 * otherwise). */
int evh_preset_samples(const struct evh_preset *p, size_t n_items);
/* The size rule in words, for listings: "64 (<100 items), 8 (<500), 4". */
const char *evh_preset_samples_rule(const struct evh_preset *p);

/* `evalh list presets`: one line per preset with every value it sets. */
void evh_presets_print(FILE *out);

#endif
