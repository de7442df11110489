/* test_passk.c — pass@k against the definition 1 - C(n-c,k)/C(n,k), with the binomials formed
 * directly in long double (the form the stable product avoids), and against exact small cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "scorers/passk.h"

static long double binom(int n, int k)
{
	if (k < 0 || k > n)
		return 0.0L;
	long double r = 1.0L;
	for (int i = 1; i <= k; i++)
		r = r * (long double)(n - k + i) / (long double)i;
	return r;
}

static double reference(int n, int c, int k)
{
	return (double)(1.0L - binom(n - c, k) / binom(n, k));
}

static void test_against_binomials(void **state)
{
	static const int cases[][3] = {{10, 3, 1},  {10, 3, 2},   {10, 3, 5},   {10, 3, 7},  {20, 1, 10},
				       {16, 8, 4},  {100, 5, 10}, {200, 37, 1}, {200, 37, 10},
				       {200, 37, 100}, {200, 1, 199}, {64, 63, 2}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int n = cases[i][0], c = cases[i][1], k = cases[i][2];
		double want = reference(n, c, k), got = scr_pass_at_k(n, c, k);
		assert_true(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)));
	}
}

static void test_exact_values(void **state)
{
	/* pass@1 is the fraction correct; 1 of 2 with k=2 is certain; 1 of 3 with k=2 is 2/3 */
	assert_true(fabs(scr_pass_at_k(10, 3, 1) - 0.3) < 1e-15);
	assert_true(scr_pass_at_k(2, 1, 2) == 1.0);
	assert_true(fabs(scr_pass_at_k(3, 1, 2) - 2.0 / 3.0) < 1e-15);
	assert_true(scr_pass_at_k(5, 0, 3) == 0.0);
	assert_true(scr_pass_at_k(5, 5, 1) == 1.0);
}

static void test_bad_input(void **state)
{
	assert_true(isnan(scr_pass_at_k(5, 6, 1)));
	assert_true(isnan(scr_pass_at_k(5, 2, 6)));
	assert_true(isnan(scr_pass_at_k(5, 2, 0)));
	assert_true(isnan(scr_pass_at_k(0, 0, 1)));
	assert_true(isnan(scr_pass_at_k(5, -1, 1)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_binomials),
		cmocka_unit_test(test_exact_values),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
