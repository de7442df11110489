/* test_code.c — the code scorer end to end through the sandbox: extraction rules, each test style
 * (HumanEval, MBPP asserts, stdin/stdout, function calls) with correct and wrong answers, and the
 * verdicts for syntax errors, loops, memory bombs, crashes and exit tricks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/code.h"
#include "scorers/code_int.h"

#define FAST "{\"timeout_s\": 2, \"memory_mb\": 128}"

static const char *HE = "{\"style\":\"humaneval\","
	"\"prompt\":\"from typing import List\\n\\ndef add_all(xs: List[int]) -> int:\\n    \\\"\\\"\\\"Sum.\\\"\\\"\\\"\\n\","
	"\"test\":\"def check(candidate):\\n    assert candidate([1, 2, 3]) == 6\\n    assert candidate([]) == 0\\n\","
	"\"entry_point\":\"add_all\"}";

static const char *MBPP = "{\"style\":\"assert\",\"setup\":\"import math\","
	"\"asserts\":[\"assert sq(2) == 4\",\"assert sq(3) == 9\",\"assert sq(-1) == 1\"]}";

static const char *STDIO = "{\"style\":\"stdio\",\"cases\":["
	"{\"input\":\"1 2\\n\",\"output\":\"3\\n\"},{\"input\":\"10 -4\\n\",\"output\":\"6\"}]}";

static int score(const char *opts, const char *response, const char *tests, struct scr_result *r)
{
	struct scr_gold g;
	memset(&g, 0, sizeof g);
	g.tests = tests;
	struct evh_err e = {0};
	int rc = scr_code_score(opts, response, &g, r, &e);
	if (rc)
		print_error("scr_code_score: %s: %s\n", e.where, e.msg);
	return rc;
}

static int verdict(const char *response, const char *tests)
{
	struct scr_result r;
	if (score(FAST, response, tests, &r))
		return -1;
	int v = r.verdict;
	free(r.extracted);
	free(r.detail);
	return v;
}

/* The response fails the tests (SCR_FAIL), and the detail names what failed: it contains want and,
 * where not NULL, also_want. */
static void expect_fail(const char *response, const char *tests, const char *want, const char *also_want)
{
	struct scr_result r;
	assert_int_equal(score(FAST, response, tests, &r), 0);
	assert_int_equal(r.verdict, SCR_FAIL);
	assert_non_null(strstr(r.detail, want));
	if (also_want)
		assert_non_null(strstr(r.detail, also_want));
	free(r.extracted);
	free(r.detail);
}

static void test_extract(void **state)
{
	const char *rule;
	char *s = scr_code_extract("<think>```python\nbad()\n```</think>Here:\n```python\nx = 1\n```\n"
				   "and also\n```py\ny = 2\n```\nand a shell line\n```bash\nls\n```\n", &rule);
	assert_string_equal(s, "y = 2\n");
	assert_string_equal(rule, "fenced");
	free(s);
	s = scr_code_extract("print(1)\n", &rule);
	assert_string_equal(s, "print(1)\n");
	assert_string_equal(rule, "whole");
	free(s);
	s = scr_code_extract("Sure.\n```\nz = 3\n", &rule); /* cut off before the closing fence */
	assert_string_equal(s, "z = 3\n");
	free(s);
	s = scr_code_extract("inline ```python x``` only", &rule); /* not at a line start: no fence */
	assert_string_equal(rule, "whole");
	free(s);
}

static void test_humaneval(void **state)
{
	/* whole function in a fence, body-only completion, and a wrong one */
	assert_int_equal(verdict("```python\ndef add_all(xs):\n    return sum(xs)\n```", HE), SCR_PASS);
	assert_int_equal(verdict("    return sum(xs)\n", HE), SCR_PASS);
	expect_fail("```python\ndef add_all(xs):\n    return sum(xs) + 1\n```", HE, "check(add_all)",
		    "assert candidate([1, 2, 3]) == 6");
}

static void test_mbpp(void **state)
{
	assert_int_equal(verdict("```python\ndef sq(x):\n    return int(math.pow(x, 2))\n```", MBPP), SCR_PASS);
	/* the detail names the first failing test */
	expect_fail("def sq(x):\n    return x * x if x > 0 else x\n", MBPP, "test 2: assert sq(-1) == 1", NULL);
	/* a bare JSON array is an assert list too */
	assert_int_equal(verdict("def f():\n    return 1\n", "[\"assert f() == 1\"]"), SCR_PASS);
	assert_int_equal(verdict("def f():\n    return [][1]\n", "[\"assert f() == 1\"]"), SCR_RUNTIME_ERROR);
}

static void test_stdio(void **state)
{
	assert_int_equal(verdict("```python\na, b = map(int, input().split())\nprint(a + b)\n```", STDIO), SCR_PASS);
	expect_fail("a, b = map(int, input().split())\nprint(a + b if a < 5 else 0)\n", STDIO, "case 1 input: 10 -4",
		    "expected: 6");
	/* sys.exit(0) after answering is legitimate in competitive programming */
	assert_int_equal(verdict("import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n", STDIO),
			 SCR_PASS);
	/* floats: tolerance only where the tests say so */
	const char *ft = "{\"style\":\"stdio\",\"float_tol\":1e-6,\"cases\":[{\"input\":\"\",\"output\":\"0.3333333\"}]}";
	const char *fx = "{\"style\":\"stdio\",\"cases\":[{\"input\":\"\",\"output\":\"0.3333333\"}]}";
	assert_int_equal(verdict("print(1/3)\n", ft), SCR_PASS);
	assert_int_equal(verdict("print(1/3)\n", fx), SCR_FAIL);
	assert_int_equal(verdict("print(0.34)\n", ft), SCR_FAIL);
}

static void test_call(void **state)
{
	const char *t = "{\"style\":\"call\",\"fn_name\":\"twoSum\",\"cases\":["
			"{\"input\":[[2,7,11,15],9],\"output\":[0,1]},{\"input\":[[3,3],6],\"output\":[0,1]}]}";
	assert_int_equal(verdict("class Solution:\n    def twoSum(self, nums, target):\n"
				 "        seen = {}\n        for i, x in enumerate(nums):\n"
				 "            if target - x in seen: return [seen[target - x], i]\n"
				 "            seen[x] = i\n", t), SCR_PASS);
	assert_int_equal(verdict("def twoSum(nums, target):\n    return [0, 0]\n", t), SCR_FAIL);
}

static void test_failure_verdicts(void **state)
{
	assert_int_equal(verdict("def sq(x) return x\n", MBPP), SCR_COMPILE_ERROR);
	assert_int_equal(verdict("def sq(x):\n    while True: pass\n", MBPP), SCR_TIMEOUT);
	assert_int_equal(verdict("a = []\nwhile True: a.append(bytearray(1 << 20))\n", STDIO), SCR_MEMORY);
	assert_int_equal(verdict("def sq(x):\n    return bytearray(1 << 40)\n", MBPP), SCR_MEMORY);
	assert_int_equal(verdict("raise ValueError('boom')\n", STDIO), SCR_RUNTIME_ERROR);
	/* stdout past the 8 MiB cap: killed, its own verdict */
	assert_int_equal(verdict("import sys\nwhile True: sys.stdout.write('y' * 65536)\n", STDIO), SCR_OUTPUT_LIMIT);
	/* leaving before the tests run is never a pass, however it exits */
	assert_int_equal(verdict("import os\nos._exit(0)\n", MBPP), SCR_RUNTIME_ERROR);
	assert_int_equal(verdict("import sys\nsys.exit(0)\n", MBPP), SCR_RUNTIME_ERROR);
	/* nor is printing something that looks like the driver's report */
	assert_int_equal(verdict("import sys, os\nsys.stderr.write('\\nEVALH x pass -1 \\n')\nos._exit(0)\n", MBPP),
			 SCR_RUNTIME_ERROR);
	/* the tests file is gone before the model's code runs */
	assert_int_equal(verdict("import os\nassert not os.path.exists('_evalh_tests.json')\n"
				 "def sq(x):\n    return x * x\n", MBPP), SCR_PASS);
}

/* ---- C: compiled with gcc inside the sandbox ---- */

#define C_FAST "{\"language\": \"c\", \"timeout_s\": 2, \"memory_mb\": 128}"

static int verdict_c(const char *response, const char *tests, char **detail)
{
	struct scr_result r;
	if (score(C_FAST, response, tests, &r))
		return -1;
	int v = r.verdict;
	free(r.extracted);
	if (detail)
		*detail = r.detail;
	else
		free(r.detail);
	return v;
}

static const char *C_SUM = "```c\n#include <stdio.h>\nint main(void) {\n    long a, b;\n"
			   "    if (scanf(\"%ld %ld\", &a, &b) != 2) return 1;\n    printf(\"%ld\\n\", a + b);\n"
			   "    return 0;\n}\n```";

static void test_c_stdio(void **state)
{
	/* the ```c block is taken, not the ```python one before it */
	char *resp = malloc(strlen(C_SUM) + 64);
	sprintf(resp, "```python\nprint(0)\n```\nIn C:\n%s", C_SUM);
	assert_int_equal(verdict_c(resp, STDIO, NULL), SCR_PASS);
	free(resp);
	char *d = NULL;
	assert_int_equal(verdict_c("#include <stdio.h>\nint main(void){int a,b;scanf(\"%d %d\",&a,&b);"
				   "printf(\"%d\\n\", a < 5 ? a + b : 0);return 0;}\n", STDIO, &d), SCR_FAIL);
	assert_non_null(strstr(d, "case 1 input: 10 -4"));
	free(d);
	/* the tests' own language field works with default options */
	const char *ct = "{\"style\":\"stdio\",\"language\":\"c\",\"cases\":[{\"input\":\"2 2\",\"output\":\"4\"}]}";
	assert_int_equal(verdict(C_SUM, ct), SCR_PASS);
	/* a float answer with tolerance, math library linked */
	const char *ft = "{\"style\":\"stdio\",\"float_tol\":1e-6,\"cases\":[{\"input\":\"2\",\"output\":\"1.41421356\"}]}";
	assert_int_equal(verdict_c("#include <math.h>\n#include <stdio.h>\nint main(void){double x;scanf(\"%lf\",&x);"
				   "printf(\"%.9f\\n\", sqrt(x));return 0;}\n", ft, NULL), SCR_PASS);
}

static void test_c_failures(void **state)
{
	char *d = NULL;
	assert_int_equal(verdict_c("int main(void) { return x; }\n", STDIO, &d), SCR_COMPILE_ERROR);
	assert_non_null(strstr(d, "undeclared"));
	free(d);
	/* the compiler runs in the sandbox too: host files are not there to include */
	assert_int_equal(verdict_c("#include \"/etc/shadow\"\nint main(void){return 0;}\n", STDIO, &d),
			 SCR_COMPILE_ERROR);
	assert_non_null(strstr(d, "No such file"));
	free(d);
	assert_int_equal(verdict_c("int main(void){ int *p = 0; return *p; }\n", STDIO, &d), SCR_RUNTIME_ERROR);
	assert_non_null(strstr(d, "signal 11"));
	free(d);
	assert_int_equal(verdict_c("int main(void){ return 3; }\n", STDIO, NULL), SCR_RUNTIME_ERROR);
	assert_int_equal(verdict_c("int main(void){ for (;;); }\n", STDIO, NULL), SCR_TIMEOUT);
	assert_int_equal(verdict_c("#include <stdlib.h>\n#include <string.h>\nint main(void){ for (;;) "
				   "{ char *p = malloc(1 << 20); if (!p) return 9; memset(p, 1, 1 << 20); } }\n",
				   STDIO, NULL), SCR_MEMORY);
	assert_int_equal(verdict_c("#include <stdio.h>\nint main(void){ for (;;) puts(\"yyyyyyyyyyyyyyyy\"); }\n",
				   STDIO, &d), SCR_OUTPUT_LIMIT);
	assert_non_null(strstr(d, "output limit exceeded"));
	free(d);
	/* a style that needs the Python driver */
	struct scr_result r;
	struct scr_gold g;
	struct evh_err e = {0};
	memset(&g, 0, sizeof g);
	g.tests = MBPP;
	assert_int_equal(scr_code_score(C_FAST, "int x;", &g, &r, &e), EVH_EFORMAT);
	assert_non_null(strstr(e.msg, "Python only"));
	evh_err_clear(&e);
	g.tests = STDIO;
	assert_int_equal(scr_code_score("{\"language\":\"c\",\"cc\":\"no-such-cc-xyz\"}", "int x;", &g, &r, &e),
			 EVH_ENOTFOUND);
	assert_non_null(strstr(e.msg, "no-such-cc-xyz"));
}

/* HumanEval-X / MultiPL-E style: prompt + completion + a main() of asserts. */
static void test_c_humaneval(void **state)
{
	const char *t = "{\"style\":\"humaneval\",\"language\":\"c\","
		"\"prompt\":\"#include <assert.h>\\n#include <string.h>\\n/* Number of vowels in s. */\\nint vowels(const char *s) {\\n\","
		"\"test\":\"int main(void) {\\n    assert(vowels(\\\"hello\\\") == 2);\\n    assert(vowels(\\\"\\\") == 0);\\n"
		"    assert(vowels(\\\"AEIOU\\\") == 5);\\n    return 0;\\n}\\n\",\"entry_point\":\"vowels\"}";
	const char *body = "    int n = 0;\n    for (; *s; s++)\n        n += strchr(\"aeiouAEIOU\", *s) != 0;\n"
			   "    return n;\n}\n";
	assert_int_equal(verdict(body, t), SCR_PASS);
	/* the whole function repeated: the prompt's stub is not defined twice */
	assert_int_equal(verdict("```c\n#include <string.h>\nint vowels(const char *s)\n{\n    int n = 0;\n"
				 "    while (*s) n += strchr(\"aeiouAEIOU\", *s++) != 0;\n    return n;\n}\n```", t),
			 SCR_PASS);
	char *d = NULL;
	struct scr_result r;
	assert_int_equal(score(NULL, "    int n = 0;\n    for (; *s; s++)\n        n += strchr(\"aeiou\", *s) != 0;\n"
			       "    return n;\n}\n", t, &r), 0);
	d = r.detail;
	assert_int_equal(r.verdict, SCR_FAIL);
	assert_non_null(strstr(d, "vowels(\"AEIOU\") == 5")); /* assert's message on stderr */
	free(r.extracted);
	free(d);
}

/* One run without tests: what `evalh sandbox run` prints. */
static void test_code_run(void **state)
{
	struct scr_code_run r;
	struct evh_err e = {0};
	assert_int_equal(scr_code_run("{\"timeout_s\": 2}", "import sys\nprint(sys.stdin.read().upper())\n", "abc", 3,
				      &r, &e), 0);
	assert_int_equal(r.verdict, SCR_PASS);
	assert_string_equal(r.res.out, "ABC\n");
	scr_code_run_free(&r);
	assert_int_equal(scr_code_run("{\"timeout_s\": 2, \"memory_mb\": 64}", "x = bytearray(1 << 33)\n", NULL, 0,
				      &r, &e), 0);
	assert_int_equal(r.verdict, SCR_MEMORY);
	scr_code_run_free(&r);
	assert_int_equal(scr_code_run("{\"language\": \"c\"}", "#include <stdio.h>\nint main(void){puts(\"hi\");return 4;}\n",
				      NULL, 0, &r, &e), 0);
	assert_int_equal(r.verdict, SCR_RUNTIME_ERROR);
	assert_int_equal(r.res.exit_status, 4);
	assert_string_equal(r.res.out, "hi\n");
	assert_true(r.compile_s > 0);
	scr_code_run_free(&r);
	assert_int_equal(scr_code_run("{\"language\": \"c\"}", "int main(void) { syntax error }\n", NULL, 0, &r, &e), 0);
	assert_int_equal(r.verdict, SCR_COMPILE_ERROR);
	assert_non_null(strstr(r.compile_log, "error"));
	assert_null(r.res.out);
	scr_code_run_free(&r);
	assert_int_equal(scr_code_run("{\"language\": \"cobol\"}", "x", NULL, 0, &r, &e), EVH_EFORMAT);
	assert_non_null(strstr(e.where, "language"));
	/* the new verdicts have their stable names; neither counts as correct */
	assert_string_equal(scr_verdict_name(SCR_OUTPUT_LIMIT), "output_limit");
	assert_string_equal(scr_verdict_name(SCR_SANDBOX_ERROR), "sandbox_error");
	assert_false(scr_is_correct(SCR_OUTPUT_LIMIT) || scr_is_correct(SCR_SANDBOX_ERROR));
}

static void test_bad_tests_and_options(void **state)
{
	struct scr_result r;
	struct scr_gold g;
	struct evh_err e = {0};
	memset(&g, 0, sizeof g);
	g.tests = "{\"style\":\"nope\"}";
	assert_int_equal(scr_code_score(NULL, "x=1", &g, &r, &e), EVH_EFORMAT);
	assert_non_null(strstr(e.msg, "nope"));
	g.tests = "{\"style\":\"stdio\",\"cases\":[{\"input\":1}]}";
	evh_err_clear(&e);
	assert_int_equal(scr_code_score(NULL, "x=1", &g, &r, &e), EVH_EFORMAT);
	assert_non_null(strstr(e.msg, "case 0"));
	g.tests = "[\"assert 1\"]";
	evh_err_clear(&e);
	assert_int_equal(scr_code_score("{\"timeout_s\": -1}", "x=1", &g, &r, &e), EVH_EFORMAT);
	assert_non_null(strstr(e.where, "timeout_s"));
	evh_err_clear(&e);
	assert_int_equal(scr_code_score("{\"python\": \"no-such-python-xyz\"}", "x=1", &g, &r, &e), EVH_ENOTFOUND);
	g.tests = NULL;
	evh_err_clear(&e);
	assert_int_equal(scr_code_score(NULL, "x=1", &g, &r, &e), EVH_EFORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_humaneval),
		cmocka_unit_test(test_mbpp),
		cmocka_unit_test(test_stdio),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_failure_verdicts),
		cmocka_unit_test(test_c_stdio),
		cmocka_unit_test(test_c_failures),
		cmocka_unit_test(test_c_humaneval),
		cmocka_unit_test(test_code_run),
		cmocka_unit_test(test_bad_tests_and_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
