/* test_str.c — suffix tests: a name must be longer than its suffix, and the list stops at NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/util/str.h"

static void ends_with_needs_more_than_the_suffix(void **state)
{
	(void)state;
	assert_true(evh_str_ends_with("gsm8k.tar.gz", ".tar.gz"));
	assert_true(evh_str_ends_with("a.zip", ".zip"));
	assert_false(evh_str_ends_with(".zip", ".zip"));
	assert_false(evh_str_ends_with("zip", ".zip"));
	assert_false(evh_str_ends_with("a.zip.bak", ".zip"));
	assert_false(evh_str_ends_with("a.tar", ".tar.gz"));
}

static void ends_with_any_checks_every_suffix(void **state)
{
	(void)state;
	static const char *const ext[] = {".csv", ".jsonl", ".json", NULL};
	assert_true(evh_str_ends_with_any("x.csv", ext));
	assert_true(evh_str_ends_with_any("x.jsonl", ext));
	assert_true(evh_str_ends_with_any("x.json", ext));
	assert_false(evh_str_ends_with_any("x.txt", ext));
	assert_false(evh_str_ends_with_any(".json", ext));
	static const char *const none[] = {NULL};
	assert_false(evh_str_ends_with_any("x.csv", none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ends_with_needs_more_than_the_suffix),
		cmocka_unit_test(ends_with_any_checks_every_suffix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
