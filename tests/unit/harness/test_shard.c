/* test_shard.c — `--shard I/N`: the spec parser, every item in exactly one shard, shards of about
 * equal size, the slice independent of item order and of --limit, and the assignment equal to the
 * formula results/README.md documents (values computed by a separate Python implementation of it:
 * FNV-1a 64 of "task/item", xor 0x5348415244, splitmix64's finaliser, mod N, plus 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/shard.h"

static void parse_accepts_i_of_n(void **state)
{
	(void)state;
	struct evh_shard s;
	assert_int_equal(evh_shard_parse("1/3", &s, NULL), 0);
	assert_int_equal(s.index, 1);
	assert_int_equal(s.count, 3);
	assert_int_equal(evh_shard_parse("3/3", &s, NULL), 0);
	assert_int_equal(s.index, 3);
	assert_int_equal(evh_shard_parse("1/1", &s, NULL), 0);
	assert_int_equal(evh_shard_parse("65536/65536", &s, NULL), 0);
	assert_int_equal(s.count, 65536);
}

static void parse_refuses_the_rest(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "3", "0/3", "4/3", "1/0", "-1/3", "1/-3", "1/+3", " 1/3", "1/3 ",
					  "1/3x", "a/b", "1//3", "1/65537", "99999999999999999999/3", "/3", "1/"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct evh_shard s = {7, 7};
		struct evh_err err = {0};
		assert_int_equal(evh_shard_parse(bad[i], &s, &err), EVH_EMISUSE);
		assert_int_equal(s.count, 0); /* zeroed: not sharded */
		assert_string_equal(err.where, "--shard");
		assert_non_null(strstr(err.msg, "I/N"));
	}
	struct evh_err err = {0};
	assert_int_equal(evh_shard_parse(NULL, &(struct evh_shard){0}, &err), EVH_EMISUSE);
}

static void matches_the_documented_formula(void **state)
{
	(void)state;
	static const struct {
		const char *task, *item;
		unsigned n, want;
	} ref[] = {
		{"arith", "arith-0001", 3, 3},
		{"arith", "arith-0002", 3, 1},
		{"arith", "arith-0003", 3, 3},
		{"arith", "arith-0004", 8, 3},
		{"gpqa", "rec06pnAkLOr2t2mp", 5, 1},
		{"math-500", "test/algebra/1004.json", 7, 6},
		{"x", "\xc3\xa9", 2, 1},
		{"arith", "arith-0500", 65536, 9660},
	};
	for (size_t i = 0; i < sizeof ref / sizeof *ref; i++) {
		assert_int_equal(evh_shard_of(ref[i].n, ref[i].task, ref[i].item), ref[i].want);
		struct evh_shard s = {ref[i].want, ref[i].n};
		assert_true(evh_shard_has(&s, ref[i].task, ref[i].item));
		s.index = ref[i].want == 1 ? 2 : 1;
		assert_false(evh_shard_has(&s, ref[i].task, ref[i].item));
	}
}

static void each_item_in_one_shard_of_about_equal_size(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 8; n++) {
		size_t size[9] = {0};
		for (int i = 0; i < 3000; i++) {
			char id[32];
			snprintf(id, sizeof id, "item-%04d", i);
			unsigned owners = 0;
			for (unsigned k = 1; k <= n; k++)
				owners += (unsigned)evh_shard_has(&(struct evh_shard){k, n}, "t", id);
			assert_int_equal(owners, 1);
			size[evh_shard_of(n, "t", id)]++;
		}
		/* 3000/n each; a hash whose low bits were poorly mixed would miss by far more. */
		for (unsigned k = 1; k <= n; k++) {
			double e = 3000.0 / n;
			assert_true(size[k] > 0.85 * e && size[k] < 1.15 * e);
		}
	}
	/* Not sharded: every item. */
	assert_true(evh_shard_has(&(struct evh_shard){0, 0}, "t", "x"));
	assert_true(evh_shard_has(NULL, "t", "x"));
}

static const char manifest[] = "{\"name\":\"s\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\"}";

static struct pack *make(int reverse)
{
	static char items[16384];
	size_t n = 0;
	for (int k = 0; k < 60; k++) {
		int i = reverse ? 59 - k : k;
		n += (size_t)snprintf(items + n, sizeof items - n, "{\"id\":\"q%02d\",\"question\":\"x\",\"answer\":\"1\"}\n", i);
	}
	struct pack *p = NULL;
	assert_int_equal(pack_open_mem("t", manifest, strlen(manifest), items, n, &p, NULL), 0);
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ids of t's items, sorted, joined by spaces. */
static void id_list(const struct evh_task *t, char *out, size_t cap)
{
	const char *v[64];
	for (size_t j = 0; j < t->n_items; j++)
		v[j] = pack_item_at(t->pack, t->items[j])->id;
	qsort(v, t->n_items, sizeof *v, cmp_str);
	out[0] = 0;
	for (size_t j = 0; j < t->n_items; j++)
		snprintf(out + strlen(out), cap - strlen(out), "%s ", v[j]);
}

static void filter_is_order_and_limit_free(void **state)
{
	(void)state;
	struct pack *a = make(0), *b = make(1);
	struct evh_shard s = {2, 3};
	struct evh_task ta = {.name = "s", .pack = a}, tb = {.name = "s", .pack = b};
	size_t *oa = NULL, *ob = NULL;
	assert_int_equal(evh_shard_filter(&s, &ta, &oa, NULL), 0);
	assert_int_equal(evh_shard_filter(&s, &tb, &ob, NULL), 0);
	assert_ptr_equal(ta.items, oa);
	assert_true(ta.n_items > 10 && ta.n_items < 30);
	char la[1024], lb[1024];
	id_list(&ta, la, sizeof la);
	id_list(&tb, lb, sizeof lb);
	assert_string_equal(la, lb); /* the same items whatever the order of the pack */
	for (size_t j = 0; j < ta.n_items; j++) {
		assert_true(evh_shard_has(&s, "s", pack_item_at(a, ta.items[j])->id));
		if (j)
			assert_true(ta.items[j - 1] < ta.items[j]); /* order kept */
	}

	/* A --limit subset (even indices) then the shard: the shard's items among the subset. */
	size_t *sub = malloc(30 * sizeof *sub);
	assert_non_null(sub);
	for (size_t j = 0; j < 30; j++)
		sub[j] = 2 * j;
	struct evh_task tl = {.name = "s", .pack = a, .items = sub, .n_items = 30};
	assert_int_equal(evh_shard_filter(&s, &tl, &sub, NULL), 0); /* frees the old subset */
	size_t m = 0;
	for (size_t j = 0; j < ta.n_items; j++)
		if (ta.items[j] % 2 == 0) {
			assert_true(m < tl.n_items);
			assert_int_equal(tl.items[m++], ta.items[j]);
		}
	assert_int_equal(m, tl.n_items);

	/* Not sharded: the selection is left alone. */
	struct evh_task tn = {.name = "s", .pack = a};
	size_t *on = NULL;
	assert_int_equal(evh_shard_filter(&(struct evh_shard){0, 0}, &tn, &on, NULL), 0);
	assert_null(tn.items);
	assert_null(on);
	free(oa);
	free(ob);
	free(sub);
	pack_close(a);
	pack_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_i_of_n),
		cmocka_unit_test(parse_refuses_the_rest),
		cmocka_unit_test(matches_the_documented_formula),
		cmocka_unit_test(each_item_in_one_shard_of_about_equal_size),
		cmocka_unit_test(filter_is_order_and_limit_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
