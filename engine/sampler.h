/* sampler.h — next-token choice from logits: greedy, temperature, top-k, top-p, with the RNG state
 * inside the struct so that a seed reproduces a run (llama2.c Sampler). Internal to engine/. */
#ifndef ENG_SAMPLER_H
#define ENG_SAMPLER_H

#include <stdint.h>

#include "engine/engine.h"

struct eng_prob_index {
	float prob;
	int index;
};

struct eng_sampler {
	int vocab_size;
	float temperature; /* 0: greedy */
	float top_p;       /* >= 1: off */
	int top_k;         /* 0: off */
	uint64_t rng_state;
	struct eng_prob_index *probindex; /* (vocab_size) scratch, allocated once */
};

/* ENG_EMISUSE naming the option for temperature < 0, top_p outside (0, 1], top_k < 0. */
int eng_sampler_init(struct eng_sampler *s, int vocab_size, const struct eng_gen_opts *o, struct eng_err *err);
void eng_sampler_fini(struct eng_sampler *s); /* zeroed struct allowed */

/* Picks a token from logits (vocab_size,); logits are modified (scaled, softmaxed). */
int eng_sample(struct eng_sampler *s, float *logits);

#endif
