/* test_fuzz_corpus.c — replays the corpus the scorer fuzzers found (tests/fuzz/corpus/, kept by
 * tests/fuzz/run.sh) through the same entry bodies, under ASan/UBSan in `make test`: an input that
 * once crashed, hung or leaked stays fixed. The fuzz files are included with FUZZ_NO_ENTRY so the
 * bodies are the fuzzers' own, not a copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NO_ENTRY
#include "tests/fuzz/fuzz_extract.c"
#include "tests/fuzz/fuzz_latex.c"

/* Runs every file of `dir` through `one`; returns how many. */
static size_t replay(const char *dir, int (*one)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s (run from the repository root)", dir);
	size_t count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		uint8_t buf[1 << 16];
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		one(buf, n);
		count++;
	}
	closedir(d);
	return count;
}

static void latex_corpus(void **state)
{
	(void)state;
	size_t n = replay("tests/fuzz/corpus/latex", fuzz_latex_one);
	print_message("latex: %zu corpus inputs replayed\n", n);
	assert_true(n >= 100);
}

static void extract_corpus(void **state)
{
	(void)state;
	size_t n = replay("tests/fuzz/corpus/extract", fuzz_extract_one);
	print_message("extract: %zu corpus inputs replayed\n", n);
	assert_true(n >= 100);
}

/* What the fuzzers found, kept by name whatever a later merge keeps: the gold letter reader read
 * past the end of "" and "(" (mcq.c scr_mcq_gold, found by fuzz_extract). */
static void found_inputs(void **state)
{
	(void)state;
	static const char *const inputs[] = {"", "(", "  ((", "\\;", " "};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		fuzz_extract_one((const uint8_t *)inputs[i], strlen(inputs[i]));
		fuzz_latex_one((const uint8_t *)inputs[i], strlen(inputs[i]));
	}
	assert_int_equal(scr_mcq_gold("", NULL, 0), -1);
	assert_int_equal(scr_mcq_gold("(", NULL, 0), -1);
	assert_int_equal(scr_mcq_gold("(c)", NULL, 0), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(latex_corpus),
		cmocka_unit_test(extract_corpus),
		cmocka_unit_test(found_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
