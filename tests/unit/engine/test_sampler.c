/* test_sampler.c — greedy, seeded reproducibility, top-k and top-p bounds, and that sampled
 * frequencies follow softmax(logits / T) (chi-square-free check: each frequency within 0.02 of its
 * probability over 20000 draws, 5+ standard deviations, with a fixed seed so it never flakes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "engine/sampler.h"

#define V 8
/* probabilities at T = 1: softmax of these logits */
static const float base_logits[V] = {2.0f, 1.0f, 0.5f, 3.0f, -1.0f, 0.0f, 2.5f, -2.0f};

static int draw(struct eng_sampler *s)
{
	float l[V];
	memcpy(l, base_logits, sizeof l);
	return eng_sample(s, l);
}

static void init(struct eng_sampler *s, float t, float p, int k, uint64_t seed)
{
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	o.temperature = t;
	o.top_p = p;
	o.top_k = k;
	o.seed = seed;
	assert_int_equal(eng_sampler_init(s, V, &o, NULL), ENG_OK);
}

static void test_greedy(void **st)
{
	(void)st;
	struct eng_sampler s;
	init(&s, 0.0f, 1.0f, 0, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(draw(&s), 3);
	eng_sampler_fini(&s);
}

static void test_seed_reproducible(void **st)
{
	(void)st;
	int a[200], b[200], c[200];
	struct eng_sampler s;
	uint64_t seeds[3] = {42, 42, 43};
	int *out[3] = {a, b, c};
	for (int r = 0; r < 3; r++) {
		init(&s, 1.0f, 0.95f, 0, seeds[r]);
		for (int i = 0; i < 200; i++)
			out[r][i] = draw(&s);
		eng_sampler_fini(&s);
	}
	assert_memory_equal(a, b, sizeof a);
	assert_memory_not_equal(a, c, sizeof a);
}

static void test_top_k(void **st)
{
	(void)st;
	struct eng_sampler s;
	init(&s, 1.5f, 1.0f, 2, 7);
	int seen[V] = {0};
	for (int i = 0; i < 2000; i++)
		seen[draw(&s)]++;
	/* the two largest logits are ids 3 (3.0) and 6 (2.5) */
	for (int i = 0; i < V; i++)
		if (i != 3 && i != 6)
			assert_int_equal(seen[i], 0);
	assert_true(seen[3] > 0 && seen[6] > 0);
	eng_sampler_fini(&s);
}

static void test_top_p(void **st)
{
	(void)st;
	/* probabilities sorted: id3 .441, id6 .268, id0 .162, id1 .060, ...; top_p 0.8 keeps 3, 6, 0
	 * (.441 + .268 = .709 < .8 <= .871) and nothing else */
	struct eng_sampler s;
	init(&s, 1.0f, 0.8f, 0, 9);
	int seen[V] = {0};
	for (int i = 0; i < 4000; i++)
		seen[draw(&s)]++;
	for (int i = 0; i < V; i++)
		if (i != 3 && i != 6 && i != 0)
			assert_int_equal(seen[i], 0);
	assert_true(seen[0] > 0 && seen[3] > 0 && seen[6] > 0);
	eng_sampler_fini(&s);
}

static void test_frequencies(void **st)
{
	(void)st;
	const float T = 0.8f;
	double p[V], z = 0;
	for (int i = 0; i < V; i++)
		z += p[i] = exp(base_logits[i] / T);
	struct eng_sampler s;
	init(&s, T, 1.0f, 0, 12345);
	int seen[V] = {0}, n = 20000;
	for (int i = 0; i < n; i++)
		seen[draw(&s)]++;
	for (int i = 0; i < V; i++)
		assert_true(fabs((double)seen[i] / n - p[i] / z) < 0.02);
	eng_sampler_fini(&s);
}

static void test_bad_options(void **st)
{
	(void)st;
	struct eng_sampler s;
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	struct eng_err err = {0};
	o.top_p = 0.0f;
	assert_int_equal(eng_sampler_init(&s, V, &o, &err), ENG_EMISUSE);
	assert_non_null(strstr(err.msg, "top_p"));
	eng_sampler_fini(&s);
	eng_gen_opts_defaults(&o);
	o.temperature = -1.0f;
	assert_int_equal(eng_sampler_init(&s, V, &o, NULL), ENG_EMISUSE);
	eng_sampler_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy), cmocka_unit_test(test_seed_reproducible), cmocka_unit_test(test_top_k),
		cmocka_unit_test(test_top_p),  cmocka_unit_test(test_frequencies),       cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
