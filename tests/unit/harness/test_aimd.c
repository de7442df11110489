/* test_aimd.c — the adaptive limit: one cut per 429 burst (x0.8), 5xx leaves it alone, slow growth
 * (+5% per clean round, none within the cooldown of a 429) up to the ceiling, Retry-After pauses, and no limiter means no limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/aimd.h"

static const char *key = "http://127.0.0.1:1/v1";

static void fill(int n, int *slots)
{
	for (int i = 0; i < n; i++)
		assert_int_not_equal(slots[i] = evh_aimd_acquire(key), -1);
}

static void burst_cuts_once(void **state)
{
	(void)state;
	struct evh_aimd_cfg c;
	evh_aimd_cfg_defaults(&c, 8, 10);
	c.cooldown_s = 1000;
	assert_int_equal(evh_aimd_setup(key, &c), 0);
	int s[8];
	fill(8, s);
	for (int i = 0; i < 8; i++)
		evh_aimd_release(s[i], 429, -1);
	assert_int_equal(evh_aimd_limit(key), 6); /* floor(8 * 0.8), once for the whole burst */
	assert_int_equal(evh_aimd_throttled(key), 8);
	fill(6, s);
	for (int i = 0; i < 6; i++)
		evh_aimd_release(s[i], 503, -1);
	assert_int_equal(evh_aimd_limit(key), 6); /* 5xx is no congestion signal */
	evh_aimd_reset_all();
}

static void cuts_each_time_without_cooldown_down_to_one(void **state)
{
	(void)state;
	struct evh_aimd_cfg c;
	evh_aimd_cfg_defaults(&c, 8, 8);
	c.cooldown_s = 0;
	assert_int_equal(evh_aimd_setup(key, &c), 0);
	int expect[] = {6, 4, 3, 2, 1, 1};
	for (int i = 0; i < 6; i++) {
		int s = evh_aimd_acquire(key);
		evh_aimd_release(s, 429, -1);
		assert_int_equal(evh_aimd_limit(key), expect[i]);
	}
	evh_aimd_reset_all();
}

static void grows_slowly_to_the_ceiling(void **state)
{
	(void)state;
	struct evh_aimd_cfg c;
	evh_aimd_cfg_defaults(&c, 4, 6);
	assert_int_equal(evh_aimd_setup(key, &c), 0);
	/* 4 -> 4.2 -> 4.41 -> 4.63 -> 4.86 -> 5.1: five clean rounds of 4 before the limit is 5. */
	for (int round = 0; round < 4; round++) {
		int s[4];
		fill(4, s);
		for (int i = 0; i < 4; i++)
			evh_aimd_release(s[i], 200, -1);
		assert_int_equal(evh_aimd_limit(key), 4);
	}
	int s[8];
	fill(4, s);
	for (int i = 0; i < 4; i++)
		evh_aimd_release(s[i], 200, -1);
	assert_int_equal(evh_aimd_limit(key), 5);
	for (int round = 0; round < 50; round++) {
		int n = evh_aimd_limit(key);
		fill(n, s);
		for (int i = 0; i < n; i++)
			evh_aimd_release(s[i], 200, -1);
	}
	assert_int_equal(evh_aimd_limit(key), 6);
	evh_aimd_reset_all();
}

static void no_growth_within_the_cooldown_of_a_429(void **state)
{
	(void)state;
	struct evh_aimd_cfg c;
	evh_aimd_cfg_defaults(&c, 4, 8);
	c.cooldown_s = 1000;
	assert_int_equal(evh_aimd_setup(key, &c), 0);
	int s[4];
	fill(1, s);
	evh_aimd_release(s[0], 429, -1);
	assert_int_equal(evh_aimd_limit(key), 3);
	/* Fifty clean rounds would take 3 to the ceiling; all come within the cooldown of the 429. */
	for (int round = 0; round < 50; round++) {
		fill(3, s);
		for (int i = 0; i < 3; i++)
			evh_aimd_release(s[i], 200, -1);
	}
	assert_int_equal(evh_aimd_limit(key), 3);
	evh_aimd_reset_all();
}

static void no_limiter_no_limit(void **state)
{
	(void)state;
	assert_int_equal(evh_aimd_acquire("http://other"), -1);
	evh_aimd_release(-1, 429, 5); /* ignored */
	assert_int_equal(evh_aimd_limit("http://other"), 0);
	struct evh_aimd_cfg c;
	evh_aimd_cfg_defaults(&c, 4, 2);
	assert_int_not_equal(evh_aimd_setup(key, &c), 0); /* ceiling below the start */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_cuts_once),
		cmocka_unit_test(cuts_each_time_without_cooldown_down_to_one),
		cmocka_unit_test(grows_slowly_to_the_ceiling),
		cmocka_unit_test(no_growth_within_the_cooldown_of_a_429),
		cmocka_unit_test(no_limiter_no_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
