/* test_code_pack.c — the bundled code pack (tasks/packs/code-mini) through the code scorer and the
 * sandbox: every canonical solution passes; an empty answer fails; and a bug injected into each
 * solution (the first of a fixed list of operator mutations that applies: `+ 1` -> `+ 2`, `<=` ->
 * `<`, `==` -> `!=`, `return x` -> `return not x`, ...) is caught by the item's tests within the
 * first three mutations tried. Skips with a message when the pack is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "scorers/code.h"

#define PACK "tasks/packs/code-mini/items.jsonl"
/* Shorter than the pack's own 10 s: a mutant that loops forever only has to be stopped. */
#define OPTS "{\"timeout_s\": 3}"

static const char *const muts[][2] = {
	{" + 1", " + 2"}, {" - 1", " - 2"}, {" <= ", " < "}, {" >= ", " > "}, {" < ", " <= "},
	{" > ", " >= "}, {" == ", " != "}, {" + ", " - "}, {" * ", " + "}, {"True", "False"},
	{"return ", "return not "},
};

static int verdict_of(const char *response, const char *tests, char **detail)
{
	struct scr_gold g;
	memset(&g, 0, sizeof g);
	g.tests = tests;
	struct scr_result r;
	struct evh_err e = {0};
	int rc = scr_code_score(OPTS, response, &g, &r, &e);
	if (rc) {
		print_error("scr_code_score: %s: %s\n", e.where, e.msg);
		return -1;
	}
	int v = r.verdict;
	if (detail)
		*detail = r.detail ? strdup(r.detail) : NULL;
	scr_result_free(&r);
	return v;
}

/* s with the first `from` replaced by `to`; NULL when s has no `from`. */
static char *replace_first(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (!at)
		return NULL;
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);
	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static void test_pack_canonical_and_mutants(void **state)
{
	FILE *f = fopen(PACK, "r");
	if (!f) {
		printf("# SKIP: %s not found (bundled code pack not present)\n", PACK);
		skip();
	}
	char *line = NULL;
	size_t cap = 0;
	int items = 0, mutants_caught = 0;
	while (getline(&line, &cap, f) > 0) {
		cJSON *it = cJSON_Parse(line);
		assert_non_null(it);
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));
		const char *sol = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "canonical_solution"));
		const cJSON *tj = cJSON_GetObjectItemCaseSensitive(it, "tests");
		assert_non_null(id);
		assert_non_null(sol);
		char *tests = cJSON_PrintUnformatted(tj);
		const char *style = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tj, "style"));
		int he = style && strcmp(style, "humaneval") == 0;

		char *detail = NULL;
		int v = verdict_of(sol, tests, &detail);
		if (v != SCR_PASS)
			print_error("%s: canonical solution gave %s: %s\n", id, scr_verdict_name(v), detail);
		assert_int_equal(v, SCR_PASS);
		free(detail);

		/* an answer that does nothing */
		v = verdict_of(he ? "    pass\n" : "pass\n", tests, NULL);
		if (v == SCR_PASS)
			print_error("%s: an empty answer passes its tests\n", id);
		assert_true(v != SCR_PASS && v >= 0);

		int tried = 0, caught = 0;
		for (size_t m = 0; m < sizeof muts / sizeof muts[0] && tried < 3 && !caught; m++) {
			char *mut = replace_first(sol, muts[m][0], muts[m][1]);
			if (!mut)
				continue;
			tried++;
			v = verdict_of(mut, tests, NULL);
			assert_true(v >= 0);
			caught = v != SCR_PASS;
			free(mut);
		}
		if (tried > 0 && !caught)
			print_error("%s: none of %d mutants of the canonical solution fails its tests\n", id, tried);
		assert_true(tried == 0 || caught);
		mutants_caught += caught;
		items++;
		free(tests);
		cJSON_Delete(it);
	}
	free(line);
	fclose(f);
	assert_true(items >= 20);
	printf("# %s: %d canonical solutions pass, %d mutants caught\n", PACK, items, mutants_caught);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pack_canonical_and_mutants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
