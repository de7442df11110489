/* test_subsample.c — --limit's subset: stratified shares, the same ids whatever the item order,
 * another seed another subset, all items when the limit is the pack size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/runner.h"

static const char manifest[] = "{\"name\":\"s\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\"}";

/* 30 algebra items then 10 geometry ones (geometry first when `reverse`). */
static struct pack *make(int reverse)
{
	static char items[8192];
	size_t n = 0;
	for (int k = 0; k < 40; k++) {
		int i = reverse ? 39 - k : k;
		n += (size_t)snprintf(items + n, sizeof items - n,
				      "{\"id\":\"q%02d\",\"question\":\"x\",\"answer\":\"1\",\"subject\":\"%s\"}\n", i,
				      i < 30 ? "algebra" : "geometry");
	}
	struct pack *p = NULL;
	assert_int_equal(pack_open_mem("t", manifest, strlen(manifest), items, n, &p, NULL), 0);
	return p;
}

static void ids(const struct pack *p, const size_t *v, size_t n, char out[][8])
{
	for (size_t i = 0; i < n; i++)
		snprintf(out[i], 8, "%s", pack_item_at(p, v[i])->id);
	qsort(out, n, 8, (int (*)(const void *, const void *))strcmp);
}

static void stratified_and_order_free(void **state)
{
	(void)state;
	struct pack *a = make(0), *b = make(1);
	size_t *va, *vb, na, nb;
	assert_int_equal(evh_subsample(a, 8, 42, &va, &na, NULL), 0);
	assert_int_equal(evh_subsample(b, 8, 42, &vb, &nb, NULL), 0);
	assert_int_equal(na, 8);
	assert_int_equal(nb, 8);
	char ia[8][8], ib[8][8];
	ids(a, va, na, ia);
	ids(b, vb, nb, ib);
	int geo = 0;
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(ia[i], ib[i]);
		geo += atoi(ia[i] + 1) >= 30;
	}
	assert_int_equal(geo, 2); /* 8 x 10/40 */
	for (size_t i = 1; i < na; i++)
		assert_true(va[i - 1] < va[i]);
	free(va);
	free(vb);
	pack_close(a);
	pack_close(b);
}

static void seed_changes_subset_and_full_limit_takes_all(void **state)
{
	(void)state;
	struct pack *a = make(0);
	size_t *v1, *v2, *v3, n1, n2, n3;
	assert_int_equal(evh_subsample(a, 8, 1, &v1, &n1, NULL), 0);
	assert_int_equal(evh_subsample(a, 8, 2, &v2, &n2, NULL), 0);
	assert_true(memcmp(v1, v2, 8 * sizeof *v1) != 0);
	assert_int_equal(evh_subsample(a, 40, 1, &v3, &n3, NULL), 0);
	assert_int_equal(n3, 40);
	for (size_t i = 0; i < 40; i++)
		assert_int_equal(v3[i], i);
	free(v1);
	free(v2);
	free(v3);
	pack_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stratified_and_order_free),
		cmocka_unit_test(seed_changes_subset_and_full_limit_takes_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
