/* test_pack_tools.c — what is done with packs besides opening hostile ones: pack_build round trips
 * in every format (checked with libarchive's reader), the digest against coreutils' sha256sum, the
 * arithmetic generator against the published SplitMix64 outputs and a PCRE2 pattern, prompt
 * rendering, and pack_find's search order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <cmocka.h>

#include "tasks/pack.h"
#include "tests/unit/testutil.h"

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *slurp_n(const char *path, size_t *len)
{
	char *s = tu_slurp(path, len);
	assert_non_null(s);
	return s;
}

static char *slurp(const char *path)
{
	return slurp_n(path, NULL);
}

static struct pack *open_ok(const char *path)
{
	struct evh_err err = {0};
	struct pack *p = NULL;
	int rc = pack_open(path, &p, &err);
	if (rc)
		print_error("%s: %s\n", err.where, err.msg);
	assert_int_equal(rc, EVH_OK);
	return p;
}

static const char MCQ_MANIFEST[] =
	"{\"name\":\"sci\",\"version\":\"2\",\"domain\":\"science\",\"scorer\":\"mcq\",\n"
	" \"scorer_options\":{\"shuffle\":true},\n"
	" \"prompt_template\":\"Q: {question}\\n{choices}\\nAnswer with the letter, e.g. \\\\boxed{A}.\",\n"
	" \"system_prompt\":\"Be brief.\",\n"
	" \"fewshot\":[{\"question\":\"Is ice cold?\",\"answer\":\"A\"}],\n"
	" \"license\":\"CC0-1.0\",\"source\":\"written for evalh\",\"metadata\":{\"anything\":[1,2]}}\n";
static const char MCQ_ITEMS[] =
	"{\"id\":\"s1\",\"question\":\"Which is a noble gas?\",\"choices\":[\"Neon\",\"Iron\",\"Salt\"],\"answer\":\"A\"}\n"
	"{\"id\":\"s2\",\"question\":\"H2O is?\",\"choices\":[\"Acid\",\"Water\"],\"answer\":\"B\"}\n";

/* ---------------------------------------------------------------- pack_build */

/* Names, filter and format of an archive as libarchive's reader sees it. */
static void inspect(const char *path, int *filter, int *format, char *names, size_t n)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	struct archive_entry *e;
	names[0] = '\0';
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		strncat(names, archive_entry_pathname(e), n - strlen(names) - 2);
		strcat(names, " ");
	}
	*filter = archive_filter_code(a, 0);
	*format = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
	archive_read_free(a);
}

static void build_round_trip_every_format(void **state)
{
	(void)state;
	const char *dir = tu_path("src");
	put(dir, "pack.json", MCQ_MANIFEST);
	put(dir, "items.jsonl", MCQ_ITEMS);
	put(dir, "README.md", "A small pack.\n");
	put(dir, "notes.txt", "not packed\n");
	const struct {
		const char *name;
		int filter, format;
	} outs[] = {
		{"o.tar", ARCHIVE_FILTER_NONE, ARCHIVE_FORMAT_TAR},   {"o.tar.gz", ARCHIVE_FILTER_GZIP, ARCHIVE_FORMAT_TAR},
		{"o.tgz", ARCHIVE_FILTER_GZIP, ARCHIVE_FORMAT_TAR},   {"o.tar.zst", ARCHIVE_FILTER_ZSTD, ARCHIVE_FORMAT_TAR},
		{"o.zip", ARCHIVE_FILTER_NONE, ARCHIVE_FORMAT_ZIP},
	};
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
		struct evh_err err = {0};
		const char *out = tu_path(outs[i].name);
		int rc = pack_build(dir, out, &err);
		if (rc)
			print_error("%s: %s\n", err.where, err.msg);
		assert_int_equal(rc, EVH_OK);
		int filter, format;
		char names[256];
		inspect(out, &filter, &format, names, sizeof names);
		assert_int_equal(filter, outs[i].filter);
		assert_int_equal(format, outs[i].format);
		assert_string_equal(names, "pack.json items.jsonl README.md ");

		struct pack *p = open_ok(out);
		const struct pack_manifest *m = pack_manifest(p);
		assert_string_equal(m->name, "sci");
		assert_string_equal(m->version, "2");
		assert_string_equal(m->domain, "science");
		assert_string_equal(m->scorer, "mcq");
		assert_string_equal(m->scorer_options, "{\"shuffle\":true}");
		assert_string_equal(m->system_prompt, "Be brief.");
		assert_string_equal(m->license, "CC0-1.0");
		assert_string_equal(m->source, "written for evalh");
		assert_null(m->description);
		assert_int_equal(m->n_fewshot, 1);
		assert_string_equal(m->fewshot[0].answer, "A");
		assert_int_equal(pack_count(p), 2);
		assert_string_equal(pack_item_at(p, 1)->choices[1], "Water");
		pack_close(p);
	}
	/* the same pack builds to the same bytes */
	struct evh_err err = {0};
	assert_int_equal(pack_build(dir, tu_path("again.tar.gz"), &err), EVH_OK);
	size_t nx, ny;
	char *x = slurp_n(tu_path("o.tar.gz"), &nx), *y = slurp_n(tu_path("again.tar.gz"), &ny);
	assert_int_equal(nx, ny);
	assert_memory_equal(x, y, nx);
	/* gzip's MTIME field (bytes 4..7, RFC 1952) is zero: no build time in the bytes */
	assert_true(nx > 10 && memcmp(x, "\x1f\x8b", 2) == 0);
	assert_memory_equal(x + 4, "\0\0\0\0", 4);
	free(x);
	free(y);
}

static void build_refuses_invalid_and_leaves_nothing(void **state)
{
	(void)state;
	const char *dir = tu_path("bad");
	put(dir, "pack.json", MCQ_MANIFEST);
	put(dir, "items.jsonl", "{\"id\":\"s1\",\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"answer\":\"A\"}\n{\"id\":\"s1\"\n");
	struct evh_err err = {0};
	const char *out = tu_path("bad.tar.gz");
	assert_int_equal(pack_build(dir, out, &err), EVH_EFORMAT);
	char want[300];
	snprintf(want, sizeof want, "%s: items.jsonl:2", dir);
	assert_string_equal(err.where, want);
	struct stat st;
	assert_int_not_equal(stat(out, &st), 0);

	evh_err_clear(&err);
	assert_int_equal(pack_build(tu_path("src"), tu_path("o.rar"), &err), EVH_EUNSUPPORTED);
	assert_int_not_equal(stat(tu_path("o.rar"), &st), 0);
	evh_err_clear(&err);
	assert_int_equal(pack_build(tu_path("nowhere"), tu_path("n.tar"), &err), EVH_ENOTFOUND);
	assert_non_null(strstr(err.where, "nowhere/pack.json"));
}

/* ---------------------------------------------------------------- digest */

static void digest_is_sha256sum_listing(void **state)
{
	(void)state;
	/* A digest anyone can recompute from the unpacked files with coreutils. */
	const char *dir = tu_path("src");
	char cmd[512], ref[128] = "";
	snprintf(cmd, sizeof cmd, "cd '%s' && sha256sum pack.json items.jsonl | sha256sum", dir);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(ref, sizeof ref, f));
	assert_int_equal(pclose(f), 0);
	ref[64] = '\0';
	struct pack *p = open_ok(tu_path("o.zip"));
	assert_string_equal(pack_digest(p), ref);
	pack_close(p);

	/* one changed byte, another digest */
	const char *d2 = tu_path("src2");
	put(d2, "pack.json", MCQ_MANIFEST);
	char items[sizeof MCQ_ITEMS];
	memcpy(items, MCQ_ITEMS, sizeof items);
	*strstr(items, "H2O") = 'h';
	put(d2, "items.jsonl", items);
	struct evh_err err = {0};
	assert_int_equal(pack_build(d2, tu_path("o2.tar"), &err), EVH_OK);
	p = open_ok(tu_path("o2.tar"));
	assert_string_not_equal(pack_digest(p), ref);
	pack_close(p);
}

/* ---------------------------------------------------------------- render */

static void render_with_choices_and_fewshot(void **state)
{
	(void)state;
	struct pack *p = open_ok(tu_path("o.tar"));
	char *s = NULL;
	struct evh_err err = {0};
	assert_int_equal(pack_render_prompt(p, pack_item_at(p, 0), &s, &err), EVH_OK);
	assert_string_equal(s, "Q: Is ice cold?\n\nAnswer with the letter, e.g. \\boxed{A}.\nA\n\n"
			       "Q: Which is a noble gas?\nA. Neon\nB. Iron\nC. Salt\nAnswer with the letter, e.g. \\boxed{A}.");
	free(s);
	pack_close(p);

	/* no template: the question as is */
	const char *dir = tu_path("plain");
	put(dir, "pack.json", "{\"name\":\"p\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\"}");
	put(dir, "items.jsonl", "{\"id\":\"1\",\"question\":\"What is {x} + 1?\",\"answer\":\"2\"}\n");
	assert_int_equal(pack_build(dir, tu_path("plain.tar"), &err), EVH_OK);
	p = open_ok(tu_path("plain.tar"));
	assert_int_equal(pack_render_prompt(p, pack_item_at(p, 0), &s, &err), EVH_OK);
	assert_string_equal(s, "What is {x} + 1?");
	free(s);
	pack_close(p);
}

/* ---------------------------------------------------------------- arith */

/* Published first outputs of splitmix64 from state 0 (Vigna's splitmix64.c, Java SplittableRandom). */
static const uint64_t SPLITMIX0[] = {0xE220A8397B1DCDAFull, 0x6E789E6AA1B965F4ull, 0x06C45D188009454Full,
				     0xF88BB8A8724C81ECull};

static void gen_arith_format_and_reference(void **state)
{
	(void)state;
	struct evh_err err = {0};
	const char *dir = tu_path("arith0");
	assert_int_equal(pack_gen_arith(dir, 0, 400, &err), EVH_OK);
	char out[300];
	snprintf(out, sizeof out, "%s.tar.gz", dir);
	assert_int_equal(pack_build(dir, out, &err), EVH_OK);
	struct pack *p = open_ok(out);
	const struct pack_manifest *m = pack_manifest(p);
	assert_string_equal(m->name, "arith");
	assert_string_equal(m->domain, "math");
	assert_string_equal(m->scorer, "math");
	assert_string_equal(m->prompt_template, "{question}");
	assert_int_equal(pack_count(p), 400);

	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR) "^What is (0|[1-9][0-9]*) ([+*]) (0|[1-9][0-9]*)\\?$",
				       PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
	assert_non_null(re);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	size_t n_add = 0, n_mul = 0;
	for (size_t i = 0; i < pack_count(p); i++) {
		const struct pack_item *it = pack_item_at(p, i);
		char id[32];
		snprintf(id, sizeof id, "arith-%04zu", i + 1);
		assert_string_equal(it->id, id);
		assert_int_equal(pcre2_match(re, (PCRE2_SPTR)it->question, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL), 4);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		long a = strtol(it->question + ov[2], NULL, 10), b = strtol(it->question + ov[6], NULL, 10);
		char op = it->question[ov[4]];
		assert_int_equal(op, i % 2 ? '*' : '+'); /* interleaved, sum first */
		if (op == '+') {
			assert_true(a <= 999 && b <= 999);
			n_add++;
		} else {
			assert_true(a <= 99 && b <= 9);
			n_mul++;
		}
		char ans[16];
		snprintf(ans, sizeof ans, "%ld", op == '+' ? a + b : a * b);
		assert_string_equal(it->answer, ans);
		char *s = NULL;
		assert_int_equal(pack_render_prompt(p, it, &s, &err), EVH_OK);
		assert_string_equal(s, it->question); /* the exact message the tiny model was trained on */
		free(s);
	}
	assert_int_equal(n_add, 200);
	assert_int_equal(n_mul, 200);
	pcre2_match_data_free(md);
	pcre2_code_free(re);

	/* the first two items from the published SplitMix64 outputs for seed 0 */
	char q[64];
	snprintf(q, sizeof q, "What is %u + %u?", (unsigned)(SPLITMIX0[0] % 1000), (unsigned)(SPLITMIX0[1] % 1000));
	assert_string_equal(pack_item_at(p, 0)->question, q);
	snprintf(q, sizeof q, "What is %u * %u?", (unsigned)(SPLITMIX0[2] % 100), (unsigned)(SPLITMIX0[3] % 10));
	assert_string_equal(pack_item_at(p, 1)->question, q);
	pack_close(p);
}

static void gen_arith_is_deterministic(void **state)
{
	(void)state;
	struct evh_err err = {0};
	assert_int_equal(pack_gen_arith(tu_path("g1"), 20250120, 50, &err), EVH_OK);
	assert_int_equal(pack_gen_arith(tu_path("g2"), 20250120, 50, &err), EVH_OK);
	assert_int_equal(pack_gen_arith(tu_path("g3"), 20250121, 50, &err), EVH_OK);
	char p1[300], p2[300], p3[300];
	snprintf(p1, sizeof p1, "%s/items.jsonl", tu_path("g1"));
	snprintf(p2, sizeof p2, "%s/items.jsonl", tu_path("g2"));
	snprintf(p3, sizeof p3, "%s/items.jsonl", tu_path("g3"));
	char *a = slurp(p1), *b = slurp(p2), *c = slurp(p3);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	free(a);
	free(b);
	free(c);
	snprintf(p1, sizeof p1, "%s/pack.json", tu_path("g1"));
	snprintf(p2, sizeof p2, "%s/pack.json", tu_path("g2"));
	a = slurp(p1);
	b = slurp(p2);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"20250120\"")); /* the seed is recorded */
	free(a);
	free(b);
	assert_int_equal(pack_gen_arith(tu_path("g4"), 1, 0, &err), EVH_EMISUSE);
}

/* ---------------------------------------------------------------- find */

static void find_search_order(void **state)
{
	(void)state;
	const char *d1 = tu_path("f1"), *d2 = tu_path("f2"), *bi = tu_path("fb");
	char p[512], env[600];
	put(d1, "x.zip", "");
	put(d2, "x.tar.gz", "");
	put(d2, "y.tar", "");
	put(d2, "y.tar.zst", "");
	put(bi, "z.tar.zst", "");
	snprintf(env, sizeof env, "%s::%s", d1, d2);
	setenv("EVALH_PACKS", env, 1);
	struct evh_err err = {0};
	char *out = NULL;
	assert_int_equal(pack_find("x", bi, &out, &err), EVH_OK);
	snprintf(p, sizeof p, "%s/x.zip", d1); /* earlier directory wins over a preferred extension */
	assert_string_equal(out, p);
	free(out);
	assert_int_equal(pack_find("y", bi, &out, &err), EVH_OK);
	snprintf(p, sizeof p, "%s/y.tar.zst", d2); /* .tar.zst is preferred to .tar */
	assert_string_equal(out, p);
	free(out);
	assert_int_equal(pack_find("z", bi, &out, &err), EVH_OK);
	snprintf(p, sizeof p, "%s/z.tar.zst", bi);
	assert_string_equal(out, p);
	free(out);
	snprintf(p, sizeof p, "%s/y.tar", d2); /* a path is used as is */
	assert_int_equal(pack_find(p, bi, &out, &err), EVH_OK);
	assert_string_equal(out, p);
	free(out);

	assert_int_equal(pack_find("nope", bi, &out, &err), EVH_ENOTFOUND);
	assert_null(out);
	assert_string_equal(err.where, "nope");
	assert_non_null(strstr(err.msg, d1));
	assert_non_null(strstr(err.msg, d2));
	assert_non_null(strstr(err.msg, bi));
	evh_err_clear(&err);
	/* a relative path that does not exist is not searched for inside the directories */
	assert_int_equal(pack_find("../fb/z", bi, &out, &err), EVH_ENOTFOUND);
	assert_null(strstr(err.msg, d1));
	unsetenv("EVALH_PACKS");
}

int main(void)
{
	/* in order: later tests read what build_round_trip_every_format wrote */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(build_round_trip_every_format),
		cmocka_unit_test(build_refuses_invalid_and_leaves_nothing),
		cmocka_unit_test(digest_is_sha256sum_listing),
		cmocka_unit_test(render_with_choices_and_fewshot),
		cmocka_unit_test(gen_arith_format_and_reference),
		cmocka_unit_test(gen_arith_is_deterministic),
		cmocka_unit_test(find_search_order),
	};
	return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
