/* code.c — the code scorer: extracts the program, turns the item's tests (HumanEval, MBPP-style
 * asserts, stdin/stdout cases, function calls; formats in scorers/SANDBOX.md) into a driver run in
 * the sandbox (Python) or a compiled program (C, code_lang.c), and maps the sandbox's outcome to a
 * verdict with the first failing test. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cjson/cJSON.h>

#include "harness/util/buf.h"
#include "scorers/code.h"
#include "scorers/code_int.h"
#include "scorers/sandbox.h"

#define DETAIL_LIMIT (8u << 10)
#define SHOW 300 /* bytes of an input/expected/got shown in a detail */

/* ---- one driver run --------------------------------------------------------------------------- */

struct report {
	int found;
	char status[16];
	int index;
	char info[320];
	size_t err_len;       /* bytes of stderr before the report line */
};

static void parse_report(const struct sbx_result *r, const char *nonce, struct report *rep)
{
	char key[64];
	memset(rep, 0, sizeof *rep);
	rep->index = -1;
	rep->err_len = r->err_len;
	snprintf(key, sizeof key, "\nEVALH %s ", nonce);
	const char *hit = NULL;
	for (const char *p = strstr(r->err, key); p; p = strstr(p + 1, key))
		hit = p;
	if (!hit)
		return;
	rep->err_len = (size_t)(hit - r->err);
	const char *s = hit + strlen(key);
	size_t n = strcspn(s, " \n");
	if (n == 0 || n >= sizeof rep->status)
		return;
	memcpy(rep->status, s, n);
	s += n;
	if (*s == ' ')
		s++;
	char *end;
	long idx = strtol(s, &end, 10);
	rep->index = (int)idx;
	s = end;
	if (*s == ' ')
		s++;
	n = strcspn(s, "\n");
	if (n >= sizeof rep->info)
		n = sizeof rep->info - 1;
	memcpy(rep->info, s, n);
	rep->found = 1;
}

/* One run of the program: Python under the driver (tests_json says what to run), or the C binary
 * alone (rep stays "not found": a C program reports by its exit status). */
static int run_prog(const struct scr_prog *p, const struct scr_code_opts *o, const char *solution,
		    const char *tests_json, const char *in, size_t in_len, struct sbx_result *r,
		    struct report *rep, struct evh_err *err)
{
	if (p->lang == SCR_LANG_C) {
		int rc = scr_prog_run(p, o, NULL, NULL, 0, NULL, in, in_len, r, err);
		memset(rep, 0, sizeof *rep);
		rep->index = -1;
		rep->err_len = rc ? 0 : r->err_len;
		return rc;
	}
	unsigned char raw[16];
	char nonce[33], env_nonce[48];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return evh_err_fail(err, EVH_ESANDBOX, "code scorer", "getrandom: %s", strerror(errno));
	for (int i = 0; i < 16; i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	snprintf(env_nonce, sizeof env_nonce, "EVALH_NONCE=%s", nonce);

	const char *env[] = {env_nonce, NULL};
	struct sbx_file files[] = {
		{"_evalh_driver.py", scr_code_driver, strlen(scr_code_driver), 0},
		{"solution.py", solution, strlen(solution), 0},
		{"_evalh_tests.json", tests_json, strlen(tests_json), 0},
	};
	int rc = scr_prog_run(p, o, "_evalh_driver.py", files, 3, env, in, in_len, r, err);
	if (rc == 0)
		parse_report(r, nonce, rep);
	return rc;
}

/* ---- details ---------------------------------------------------------------------------------- */

/* Appends at most `max` bytes of s (its head), marking a cut. */
static void add_trim(struct evh_buf *b, const char *s, size_t len, size_t max)
{
	if (len <= max) {
		evh_buf_add(b, s, len);
		return;
	}
	evh_buf_add(b, s, max);
	evh_buf_printf(b, "...[%zu more bytes]", len - max);
}

/* The last lines of stderr before the report line: the traceback's useful end. */
static void add_stderr_tail(struct evh_buf *b, const struct sbx_result *r, const struct report *rep)
{
	size_t n = rep->err_len;
	while (n > 0 && (r->err[n - 1] == '\n' || r->err[n - 1] == ' '))
		n--;
	if (n == 0)
		return;
	size_t start = n > 1500 ? n - 1500 : 0;
	evh_buf_adds(b, "\nstderr:\n");
	if (start > 0)
		evh_buf_adds(b, "...");
	evh_buf_add(b, r->err + start, n - start);
}

/* A run that ended without the driver's report line: a signal, os._exit, a crash. */
static void describe_end(struct evh_buf *d, const struct sbx_result *r)
{
	if (r->signal)
		evh_buf_printf(d, "killed by signal %d", r->signal);
	else
		evh_buf_printf(d, "exited with status %d", r->exit_status);
}

static int verdict_from_report(const struct report *rep)
{
	if (strcmp(rep->status, "compile") == 0)
		return SCR_COMPILE_ERROR;
	if (strcmp(rep->status, "memory") == 0)
		return SCR_MEMORY;
	if (strcmp(rep->status, "pass") == 0)
		return SCR_PASS;
	if (strcmp(rep->status, "fail") == 0)
		return SCR_FAIL;
	return SCR_RUNTIME_ERROR;
}

/* ---- test styles ------------------------------------------------------------------------------ */

/* How a one-run style ends: a run still without a verdict is a runtime error described by the way
 * it ended; anything but a pass gets stderr's tail. Frees r; returns 0. */
static int settle(int v, struct sbx_result *r, const struct report *rep, struct evh_buf *d, struct scr_result *out)
{
	if (v < 0) {
		v = SCR_RUNTIME_ERROR;
		describe_end(d, r);
	}
	if (v != SCR_PASS)
		add_stderr_tail(d, r, rep);
	out->verdict = v;
	sbx_result_free(r);
	return 0;
}

static const char *str_field(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* HumanEval, MBPP and function calls: one run of the whole test program. */
static int score_once(const struct scr_prog *py, const struct scr_code_opts *o, const char *solution, cJSON *driver_tests,
		      const cJSON *shown_tests, struct scr_result *out, struct evh_buf *d,
		      struct evh_err *err)
{
	char *tj = cJSON_PrintUnformatted(driver_tests);
	if (!tj)
		return evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
	struct sbx_result r;
	struct report rep;
	int rc = run_prog(py, o, solution, tj, NULL, 0, &r, &rep, err);
	free(tj);
	if (rc)
		return rc;
	int v = scr_code_limit_verdict(&r, d);
	if (v < 0 && rep.found) {
		v = verdict_from_report(&rep);
		if (v != SCR_PASS) {
			const cJSON *t = rep.index >= 0 ? cJSON_GetArrayItem(shown_tests, rep.index) : NULL;
			if (t) {
				/* a test as written (a string) or as data (a call's arguments and result) */
				char *ts = cJSON_IsString(t) ? NULL : cJSON_PrintUnformatted(t);
				const char *show = cJSON_IsString(t) ? t->valuestring : ts;
				evh_buf_printf(d, "test %d: ", rep.index);
				if (show)
					add_trim(d, show, strlen(show), SHOW);
				evh_buf_adds(d, "\n");
				free(ts);
			}
			evh_buf_adds(d, rep.info);
		}
	}
	return settle(v, &r, &rep, d, out);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Whitespace-separated tokens equal; numeric tokens within tol (absolute or relative) when tol > 0,
 * as Codeforces checkers compare real numbers. */
static int output_matches(const char *got, size_t got_len, const char *want, double tol)
{
	const char *g = got, *ge = got + got_len, *w = want;
	for (;;) {
		while (g < ge && is_space(*g))
			g++;
		while (*w && is_space(*w))
			w++;
		if (g == ge || !*w)
			return g == ge && !*w;
		const char *gs = g, *ws = w;
		while (g < ge && !is_space(*g))
			g++;
		while (*w && !is_space(*w))
			w++;
		size_t gl = (size_t)(g - gs), wl = (size_t)(w - ws);
		if (gl == wl && memcmp(gs, ws, gl) == 0)
			continue;
		if (tol <= 0 || gl > 60 || wl > 60)
			return 0;
		char a[64], b[64], *ea, *eb;
		memcpy(a, gs, gl);
		a[gl] = 0;
		memcpy(b, ws, wl);
		b[wl] = 0;
		double x = strtod(a, &ea), y = strtod(b, &eb);
		if (*ea || *eb || ea == a || eb == b || !isfinite(x) || !isfinite(y))
			return 0;
		if (fabs(x - y) > tol * fmax(1.0, fabs(y)))
			return 0;
	}
}

/* stdin/stdout cases, one sandbox run each, in Python (under the driver) or C. */
static int score_stdio(const struct scr_prog *p, const struct scr_code_opts *o, const char *solution,
		       const cJSON *tests, struct scr_result *out, struct evh_buf *d, struct evh_err *err)
{
	const cJSON *cases = cJSON_GetObjectItemCaseSensitive(tests, "cases");
	struct scr_code_opts oc = *o;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(tests, "float_tol");
	if (cJSON_IsNumber(v))
		oc.float_tol = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(tests, "timeout_s");
	if (cJSON_IsNumber(v) && v->valuedouble > 0)
		oc.timeout_s = v->valuedouble;
	int i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cases) {
		const char *in = str_field(c, "input"), *want = str_field(c, "output");
		if (!in || !want)
			return evh_err_fail(err, EVH_EFORMAT, "code tests: cases", "case %d: string fields "
					    "\"input\" and \"output\" are expected", i);
		i++;
	}
	if (!cJSON_IsArray(cases) || i == 0)
		return evh_err_fail(err, EVH_EFORMAT, "code tests: cases", "a non-empty array is expected");
	i = 0;
	cJSON_ArrayForEach(c, cases) {
		const char *in = str_field(c, "input"), *want = str_field(c, "output");
		struct sbx_result r;
		struct report rep;
		int rc = run_prog(p, &oc, solution, "{\"mode\":\"stdio\"}", in, strlen(in), &r, &rep, err);
		if (rc) {
			evh_err_prefix(err, "case %d: ", i);
			return rc;
		}
		int verdict = scr_code_limit_verdict(&r, d);
		if (verdict < 0 && rep.found && strcmp(rep.status, "ok") != 0) {
			verdict = verdict_from_report(&rep);
			evh_buf_adds(d, rep.info);
		} else if (verdict < 0 && !rep.found && (r.signal || r.exit_status != 0)) {
			verdict = SCR_RUNTIME_ERROR;
			describe_end(d, &r);
		} else if (verdict < 0 && !output_matches(r.out, r.out_len, want, oc.float_tol)) {
			verdict = SCR_FAIL;
			evh_buf_adds(d, "wrong answer");
		}
		if (verdict >= 0) {
			if (verdict != SCR_COMPILE_ERROR) {
				evh_buf_printf(d, "\ncase %d input: ", i);
				add_trim(d, in, strlen(in), SHOW);
				evh_buf_adds(d, "\nexpected: ");
				add_trim(d, want, strlen(want), SHOW);
				evh_buf_adds(d, "\ngot: ");
				add_trim(d, r.out, r.out_len, SHOW);
			}
			add_stderr_tail(d, &r, &rep);
			out->verdict = verdict;
			sbx_result_free(&r);
			return 0;
		}
		sbx_result_free(&r);
		i++;
	}
	out->verdict = SCR_PASS;
	return 0;
}

/* C HumanEval style (HumanEval-X, MultiPL-E): the test part holds a main() whose assert()s check
 * the function; exit 0 passes, an abort or a non-zero exit is a failed test. */
static int score_c_exit(const struct scr_prog *p, const struct scr_code_opts *o, const char *entry,
			struct scr_result *out, struct evh_buf *d, struct evh_err *err)
{
	struct sbx_result r;
	struct report rep;
	int rc = run_prog(p, o, NULL, NULL, NULL, 0, &r, &rep, err);
	if (rc)
		return rc;
	int v = scr_code_limit_verdict(&r, d);
	if (v < 0 && r.exited && r.exit_status == 0) {
		v = SCR_PASS;
	} else if (v < 0 && (r.signal == SIGABRT || (r.exited && r.exit_status != 0))) {
		v = SCR_FAIL;
		evh_buf_printf(d, "test 0: check of %s failed (", entry);
		describe_end(d, &r);
		evh_buf_adds(d, ")");
	}
	return settle(v, &r, &rep, d, out);
}

/* ---- entry point ------------------------------------------------------------------------------ */

/* 1 when code defines `name`: the name, its parameter list, then '{' (C) or "def name" (Python). */
static int defines(int lang, const char *code, const char *name)
{
	size_t n = strlen(name);
	if (lang == SCR_LANG_PYTHON) {
		for (const char *p = strstr(code, "def "); p; p = strstr(p + 4, "def ")) {
			const char *q = p + 4;
			while (*q == ' ')
				q++;
			if (strncmp(q, name, n) == 0 && (q[n] == '(' || q[n] == ' '))
				return 1;
		}
		return 0;
	}
	for (const char *p = strstr(code, name); p; p = strstr(p + 1, name)) {
		if (p > code && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		const char *q = p + n;
		while (isspace((unsigned char)*q))
			q++;
		if (*q != '(')
			continue;
		q = strchr(q, ')');
		if (!q)
			return 0;
		q++;
		while (isspace((unsigned char)*q))
			q++;
		if (*q == '{')
			return 1;
	}
	return 0;
}

/* HumanEval: the model may answer with the whole function or only its body. A body continues the
 * prompt. A whole definition in Python is appended after the prompt (the stub is redefined, its
 * imports stay), as evalplus does; in C a second definition would not compile, so it comes after
 * the prompt's preprocessor lines only. C adds the test's main() at the end. */
static char *humaneval_program(int lang, const char *prompt, const char *code, const char *entry,
			       const char *c_test)
{
	struct evh_buf b;
	evh_buf_init(&b, EVH_LIMIT_TEXT * 2);
	int whole = defines(lang, code, entry);
	if (lang == SCR_LANG_C && whole) {
		for (const char *l = prompt; *l;) {
			size_t n = strcspn(l, "\n");
			const char *t = l;
			while (*t == ' ' || *t == '\t')
				t++;
			if (*t == '#') {
				evh_buf_add(&b, l, n);
				evh_buf_adds(&b, "\n");
			}
			l += n + (l[n] == '\n');
		}
	} else {
		evh_buf_adds(&b, prompt);
		if (whole)
			evh_buf_adds(&b, "\n\n");
	}
	evh_buf_adds(&b, code);
	evh_buf_adds(&b, "\n");
	if (c_test) {
		evh_buf_adds(&b, c_test);
		evh_buf_adds(&b, "\n");
	}
	return evh_buf_take(&b);
}

/* C: compiles, then runs the stdio cases or the HumanEval-style main(). */
static int score_c(const struct scr_code_opts *o, const char *style, const cJSON *t, struct scr_result *out,
		   struct evh_buf *d, struct evh_err *err)
{
	char *program = NULL;
	const char *entry = NULL;
	if (strcmp(style, "humaneval") == 0) {
		const char *prompt = str_field(t, "prompt"), *test = str_field(t, "test");
		entry = str_field(t, "entry_point");
		if (!prompt || !test || !entry || strlen(entry) > 200)
			return evh_err_fail(err, EVH_EFORMAT, "code tests", "humaneval: string fields \"prompt\", "
					    "\"test\" and \"entry_point\" are expected");
		program = humaneval_program(SCR_LANG_C, prompt, out->extracted, entry, test);
		if (!program)
			return evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
	} else if (strcmp(style, "stdio") != 0) {
		return evh_err_fail(err, EVH_EFORMAT, "code tests: style", "\"%s\" runs Python only; C items use "
				    "\"stdio\" or \"humaneval\"", style);
	}
	struct scr_prog p;
	int failed;
	double secs;
	int rc = scr_prog_c(o, program ? program : out->extracted, &p, d, &failed, &secs, err);
	free(program);
	if (rc)
		return rc;
	if (failed) {
		out->verdict = SCR_COMPILE_ERROR;
		return 0;
	}
	if (entry)
		rc = score_c_exit(&p, o, entry, out, d, err);
	else
		rc = score_stdio(&p, o, NULL, t, out, d, err);
	scr_prog_free(&p);
	return rc;
}

int scr_code_score(const char *options_json, const char *response, const struct scr_gold *gold,
		   struct scr_result *out, struct evh_err *err)
{
	struct scr_code_opts o;
	struct scr_prog py;
	memset(out, 0, sizeof *out);
	int rc = scr_code_opts_parse(options_json, &o, err);
	if (rc)
		return rc;
	if (!gold || !gold->tests)
		return evh_err_fail(err, EVH_EFORMAT, "code tests", "the item has no tests");
	cJSON *t = cJSON_Parse(gold->tests);
	if (!t)
		return evh_err_fail(err, EVH_EFORMAT, "code tests", "not valid JSON");
	cJSON *dt = NULL;
	char *program = NULL;
	struct evh_buf d;
	evh_buf_init(&d, DETAIL_LIMIT);

	/* A bare array is an MBPP-style assert list. */
	const char *style = cJSON_IsArray(t) ? "assert" : str_field(t, "style");
	const cJSON *lang = cJSON_IsArray(t) ? NULL : cJSON_GetObjectItemCaseSensitive(t, "language");
	if (lang && (o.lang = scr_code_lang(cJSON_GetStringValue(lang))) < 0) {
		rc = evh_err_fail(err, EVH_EFORMAT, "code tests: language", "\"python\" or \"c\" is expected");
		goto out;
	}
	if (!style) {
		rc = evh_err_fail(err, EVH_EFORMAT, "code tests: style", "\"humaneval\", \"assert\", "
				  "\"stdio\" or \"call\" is expected");
		goto out;
	}
	out->extracted = scr_code_extract_lang(response, o.lang, &out->rule);
	if (!out->extracted) {
		rc = evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
		goto out;
	}
	if (o.lang == SCR_LANG_C) {
		rc = score_c(&o, style, t, out, &d, err);
		goto out;
	}
	rc = scr_prog_python(&o, &py, err);
	if (rc)
		goto out;
	if (strcmp(style, "stdio") == 0) {
		rc = score_stdio(&py, &o, out->extracted, t, out, &d, err);
		goto out;
	}
	dt = cJSON_CreateObject();
	if (!dt) {
		rc = evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
		goto out;
	}
	const cJSON *shown = NULL;
	if (strcmp(style, "humaneval") == 0) {
		const char *prompt = str_field(t, "prompt"), *test = str_field(t, "test"),
			   *entry = str_field(t, "entry_point");
		if (!prompt || !test || !entry || strlen(entry) > 200) {
			rc = evh_err_fail(err, EVH_EFORMAT, "code tests", "humaneval: string fields \"prompt\", "
					  "\"test\" and \"entry_point\" are expected");
			goto out;
		}
		program = humaneval_program(SCR_LANG_PYTHON, prompt, out->extracted, entry, NULL);
		struct evh_buf tb;
		evh_buf_init(&tb, EVH_LIMIT_TEXT);
		evh_buf_printf(&tb, "%s\n\ncheck(%s)\n", test, entry);
		char *one = evh_buf_take(&tb);
		cJSON *arr = cJSON_AddArrayToObject(dt, "tests");
		if (!program || !one || !arr || !cJSON_AddItemToArray(arr, cJSON_CreateString(one))) {
			free(one);
			rc = evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
			goto out;
		}
		free(one);
		cJSON_AddStringToObject(dt, "mode", "assert");
		char chk[300];
		snprintf(chk, sizeof chk, "check(%s)", entry);
		cJSON *sh = cJSON_CreateArray();
		cJSON_AddItemToArray(sh, cJSON_CreateString(chk));
		cJSON_AddItemToObject(dt, "shown", sh);
		shown = sh;
	} else if (strcmp(style, "assert") == 0) {
		const cJSON *asserts = cJSON_IsArray(t) ? t : cJSON_GetObjectItemCaseSensitive(t, "asserts");
		const char *setup = cJSON_IsArray(t) ? NULL : str_field(t, "setup");
		const cJSON *a;
		int n = 0;
		cJSON_ArrayForEach(a, asserts) {
			if (!cJSON_IsString(a)) {
				rc = evh_err_fail(err, EVH_EFORMAT, "code tests: asserts", "item %d: a string "
						  "is expected", n);
				goto out;
			}
			n++;
		}
		if (!cJSON_IsArray(asserts) || n == 0) {
			rc = evh_err_fail(err, EVH_EFORMAT, "code tests: asserts", "a non-empty array of "
					  "strings is expected");
			goto out;
		}
		struct evh_buf pb;
		evh_buf_init(&pb, EVH_LIMIT_TEXT * 2);
		if (setup) {
			evh_buf_adds(&pb, setup);
			evh_buf_adds(&pb, "\n");
		}
		evh_buf_adds(&pb, out->extracted);
		evh_buf_adds(&pb, "\n");
		program = evh_buf_take(&pb);
		cJSON_AddStringToObject(dt, "mode", "assert");
		cJSON_AddItemToObject(dt, "tests", cJSON_Duplicate(asserts, 1));
		shown = asserts;
	} else if (strcmp(style, "call") == 0) {
		const char *fn = str_field(t, "fn_name");
		const cJSON *cases = cJSON_GetObjectItemCaseSensitive(t, "cases"), *c;
		int n = 0;
		cJSON_ArrayForEach(c, cases) {
			if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(c, "input")) ||
			    !cJSON_GetObjectItemCaseSensitive(c, "output")) {
				rc = evh_err_fail(err, EVH_EFORMAT, "code tests: cases", "case %d: \"input\" "
						  "(array of arguments) and \"output\" are expected", n);
				goto out;
			}
			n++;
		}
		if (!fn || !cJSON_IsArray(cases) || n == 0) {
			rc = evh_err_fail(err, EVH_EFORMAT, "code tests", "call: \"fn_name\" and a non-empty "
					  "\"cases\" array are expected");
			goto out;
		}
		program = strdup(out->extracted);
		cJSON_AddStringToObject(dt, "mode", "call");
		cJSON_AddStringToObject(dt, "fn_name", fn);
		cJSON_AddItemToObject(dt, "cases", cJSON_Duplicate(cases, 1));
		shown = cases;
	} else {
		rc = evh_err_fail(err, EVH_EFORMAT, "code tests: style", "\"humaneval\", \"assert\", "
				  "\"stdio\" or \"call\" is expected, found \"%s\"", style);
		goto out;
	}
	if (!program) {
		rc = evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
		goto out;
	}
	rc = score_once(&py, &o, program, dt, shown, out, &d, err);
out:
	if (rc == 0 && out->verdict != SCR_PASS && d.len > 0)
		out->detail = evh_buf_take(&d);
	evh_buf_free(&d);
	free(program);
	cJSON_Delete(dt);
	cJSON_Delete(t);
	if (rc) {
		free(out->extracted);
		free(out->detail);
		memset(out, 0, sizeof *out);
	}
	return rc;
}
