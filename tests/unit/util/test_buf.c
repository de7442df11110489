/* test_buf.c — the growable buffer keeps its ceiling and the error struct keeps the root cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness/util/buf.h"
#include "harness/util/err.h"

static void buf_grows_until_limit(void **state)
{
	(void)state;
	struct evh_buf b;
	evh_buf_init(&b, 10);
	assert_int_equal(evh_buf_adds(&b, "hello"), EVH_OK);
	assert_int_equal(evh_buf_printf(&b, "%d", 1234), EVH_OK);
	assert_string_equal(evh_buf_str(&b), "hello1234");
	assert_int_equal(evh_buf_adds(&b, "xy"), EVH_ELIMIT);
	assert_string_equal(evh_buf_str(&b), "hello1234"); /* unchanged after refusal */
	assert_int_equal(evh_buf_adds(&b, "z"), EVH_OK);
	char *s = evh_buf_take(&b);
	assert_string_equal(s, "hello1234z");
	free(s);
	assert_string_equal(evh_buf_str(&b), "");
	evh_buf_free(&b);
}

static void buf_printf_longer_than_stack(void **state)
{
	(void)state;
	struct evh_buf b;
	evh_buf_init(&b, 1 << 20);
	char big[2000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(evh_buf_printf(&b, "<%s>", big), EVH_OK);
	assert_int_equal(b.len, 2001);
	assert_int_equal(b.data[2000], '>');
	evh_buf_free(&b);
}

static void err_first_failure_wins(void **state)
{
	(void)state;
	struct evh_err e = {0};
	assert_int_equal(evh_err_fail(&e, EVH_EFORMAT, "p.tar: items.jsonl:3", "bad\nJSON"), EVH_EFORMAT);
	assert_int_equal(evh_err_fail(&e, EVH_EIO, "later", "ignored"), EVH_EIO);
	assert_int_equal(e.code, EVH_EFORMAT);
	assert_string_equal(e.msg, "bad JSON");
	evh_err_prefix(&e, "pack %s: ", "arith");
	char s[600];
	assert_string_equal(evh_err_str(&e, s, sizeof s), "p.tar: items.jsonl:3: pack arith: bad JSON");
	assert_string_equal(evh_code_name(EVH_ETIMEOUT), "timeout");
	assert_int_equal(evh_err_fail(NULL, EVH_ENOMEM, NULL, "x"), EVH_ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_grows_until_limit),
		cmocka_unit_test(buf_printf_longer_than_stack),
		cmocka_unit_test(err_first_failure_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
