/* sampler.c — greedy / temperature / top-k / top-p sampling (llama2.c sample, with top-k added).
 * Order as in HF generate's warpers: temperature, then top-k, then top-p on what is left. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/err.h"
#include "engine/ops.h"
#include "engine/sampler.h"

/* splitmix64 to spread any seed (0 included) over the state, then xorshift64* (llama2.c random_u32). */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static uint32_t random_u32(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float random_f32(uint64_t *state) /* [0, 1) */
{
	return (float)(random_u32(state) >> 8) / 16777216.0f;
}

void eng_gen_opts_defaults(struct eng_gen_opts *o)
{
	o->temperature = 0.0f;
	o->top_p = 1.0f;
	o->top_k = 0;
	o->max_tokens = 512;
	o->seed = 0;
}

int eng_sampler_init(struct eng_sampler *s, int vocab_size, const struct eng_gen_opts *o, struct eng_err *err)
{
	memset(s, 0, sizeof *s);
	if (!(o->temperature >= 0.0f) || !isfinite(o->temperature))
		return eng_errf(err, ENG_EMISUSE, "temperature %g: must be >= 0", (double)o->temperature);
	if (!(o->top_p > 0.0f && o->top_p <= 1.0f))
		return eng_errf(err, ENG_EMISUSE, "top_p %g: must be in (0, 1]", (double)o->top_p);
	if (o->top_k < 0)
		return eng_errf(err, ENG_EMISUSE, "top_k %d: must be >= 0", o->top_k);
	s->vocab_size = vocab_size;
	s->temperature = o->temperature;
	s->top_p = o->top_p;
	s->top_k = o->top_k;
	s->rng_state = splitmix64(o->seed);
	if (s->rng_state == 0) /* xorshift's one fixed point */
		s->rng_state = 1;
	s->probindex = malloc((size_t)vocab_size * sizeof *s->probindex);
	if (!s->probindex)
		return eng_errf(err, ENG_ENOMEM, "out of memory for the sampler");
	return ENG_OK;
}

void eng_sampler_fini(struct eng_sampler *s)
{
	free(s->probindex);
	s->probindex = NULL;
}

static int by_prob_desc(const void *a, const void *b)
{
	const struct eng_prob_index *x = a, *y = b;
	if (x->prob != y->prob)
		return x->prob > y->prob ? -1 : 1;
	return x->index - y->index; /* ties: lower id first, so the order is deterministic */
}

int eng_sample(struct eng_sampler *s, float *logits)
{
	const int n = s->vocab_size;
	if (s->temperature == 0.0f) { /* greedy: argmax, lowest id on ties */
		int best = 0;
		for (int i = 1; i < n; i++)
			if (logits[i] > logits[best])
				best = i;
		return best;
	}
	for (int i = 0; i < n; i++)
		logits[i] /= s->temperature;
	eng_softmax(logits, n);
	float coin = random_f32(&s->rng_state);
	if (s->top_k == 0 && s->top_p >= 1.0f) { /* plain multinomial */
		float cdf = 0.0f;
		for (int i = 0; i < n; i++) {
			cdf += logits[i];
			if (coin < cdf)
				return i;
		}
		return n - 1; /* rounding */
	}
	for (int i = 0; i < n; i++) {
		s->probindex[i].prob = logits[i];
		s->probindex[i].index = i;
	}
	qsort(s->probindex, (size_t)n, sizeof *s->probindex, by_prob_desc);
	int keep = s->top_k > 0 && s->top_k < n ? s->top_k : n;
	/* top-p: the smallest prefix whose mass reaches top_p (of the mass top-k left) */
	float kept_mass = 0.0f;
	for (int i = 0; i < keep; i++)
		kept_mass += s->probindex[i].prob;
	float cum = 0.0f;
	for (int i = 0; i < keep; i++) {
		cum += s->probindex[i].prob;
		if (cum >= s->top_p * kept_mass) {
			keep = i + 1;
			break;
		}
	}
	float mass = 0.0f;
	for (int i = 0; i < keep; i++)
		mass += s->probindex[i].prob;
	float r = coin * mass, cdf = 0.0f;
	for (int i = 0; i < keep; i++) {
		cdf += s->probindex[i].prob;
		if (r < cdf)
			return s->probindex[i].index;
	}
	return s->probindex[keep - 1].index;
}
