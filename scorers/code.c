/* code.c — the code scorer: extracts the program, turns the item's tests (HumanEval, MBPP-style
 * asserts, stdin/stdout cases, function calls; formats in scorers/SANDBOX.md) into a driver run in
 * the sandbox, and maps the sandbox's outcome to a verdict with the first failing test. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
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

struct opts {
	double timeout_s;     /* per run: the whole test program, or one stdin/stdout case */
	size_t memory;
	int procs;
	double float_tol;     /* stdio: relative/absolute tolerance on numeric tokens, 0 = exact */
	char python[1024];    /* interpreter name or path */
};

static int parse_opts(const char *json, struct opts *o, struct evh_err *err)
{
	o->timeout_s = 10;
	o->memory = 512u << 20;
	o->procs = 64;
	o->float_tol = 0;
	snprintf(o->python, sizeof o->python, "python3");
	if (!json || !json[0])
		return 0;
	cJSON *j = cJSON_Parse(json);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return evh_err_fail(err, EVH_EFORMAT, "code scorer options", "a JSON object is expected");
	}
	int rc = 0;
	const cJSON *v;
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "timeout_s"))) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 3600)
			rc = evh_err_fail(err, EVH_EFORMAT, "code scorer options: timeout_s",
					  "a number of seconds in (0, 3600] is expected");
		else
			o->timeout_s = v->valuedouble;
	}
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(j, "memory_mb"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 16 || v->valuedouble > 1 << 20)
			rc = evh_err_fail(err, EVH_EFORMAT, "code scorer options: memory_mb",
					  "a number of MiB in [16, 1048576] is expected");
		else
			o->memory = (size_t)v->valuedouble << 20;
	}
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(j, "procs"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 4096)
			rc = evh_err_fail(err, EVH_EFORMAT, "code scorer options: procs",
					  "a number in [1, 4096] is expected");
		else
			o->procs = (int)v->valuedouble;
	}
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(j, "float_tol"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 1)
			rc = evh_err_fail(err, EVH_EFORMAT, "code scorer options: float_tol",
					  "a number in [0, 1) is expected");
		else
			o->float_tol = v->valuedouble;
	}
	if (!rc && (v = cJSON_GetObjectItemCaseSensitive(j, "python"))) {
		if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= sizeof o->python)
			rc = evh_err_fail(err, EVH_EFORMAT, "code scorer options: python",
					  "an interpreter name or path is expected");
		else
			snprintf(o->python, sizeof o->python, "%s", v->valuestring);
	}
	cJSON_Delete(j);
	return rc;
}

/* ---- the interpreter ------------------------------------------------------------------------- */

/* The real interpreter behind a name: PATH may hold a wrapper (pyenv shims are shell scripts that
 * need the very environment the sandbox removes), so ask it for sys.executable and the folders
 * its standard library lives in, once per name. */
struct py {
	char name[1024];
	char exe[1024];
	char prefix[2][1024]; /* made visible read-only in the sandbox unless under /usr */
};

static pthread_mutex_t py_lock = PTHREAD_MUTEX_INITIALIZER;
static struct py py_cache;

static int python_resolve(const char *name, struct py *out, struct evh_err *err)
{
	pthread_mutex_lock(&py_lock);
	if (strcmp(py_cache.name, name) == 0 && py_cache.exe[0]) {
		*out = py_cache;
		pthread_mutex_unlock(&py_lock);
		return 0;
	}
	int rc = 0;
	struct py p;
	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "%s", name);
	char *path = sbx_which(name);
	if (!path || strchr(path, '\'')) {
		rc = evh_err_fail(err, EVH_ENOTFOUND, "code scorer", "interpreter \"%s\" not found on PATH", name);
		goto out;
	}
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "'%s' -c 'import os,sys;print(os.path.realpath(sys.executable));"
		 "print(os.path.realpath(sys.base_prefix));print(os.path.realpath(sys.prefix))'", path);
	FILE *f = popen(cmd, "r");
	char lines[3][1024] = {"", "", ""};
	for (int i = 0; f && i < 3 && fgets(lines[i], sizeof lines[i], f); i++)
		lines[i][strcspn(lines[i], "\n")] = 0;
	int st = f ? pclose(f) : -1;
	if (st != 0 || lines[0][0] != '/' || lines[1][0] != '/' || lines[2][0] != '/') {
		rc = evh_err_fail(err, EVH_ENOTFOUND, "code scorer", "interpreter %s did not report its "
				  "executable and prefix", path);
		goto out;
	}
	snprintf(p.exe, sizeof p.exe, "%s", lines[0]);
	for (int i = 0; i < 2; i++)
		if (strncmp(lines[1 + i], "/usr/", 5) != 0 && strcmp(lines[1 + i], "/usr") != 0)
			snprintf(p.prefix[i], sizeof p.prefix[i], "%s", lines[1 + i]);
	if (strcmp(p.prefix[0], p.prefix[1]) == 0)
		p.prefix[1][0] = 0;
	py_cache = p;
	*out = p;
out:
	free(path);
	pthread_mutex_unlock(&py_lock);
	return rc;
}

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

static int run_driver(const struct py *py, const struct opts *o, const char *solution,
		      const char *tests_json, const char *in, size_t in_len, struct sbx_result *r,
		      struct report *rep, struct evh_err *err)
{
	unsigned char raw[16];
	char nonce[33], env_nonce[48];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return evh_err_fail(err, EVH_ESANDBOX, "code scorer", "getrandom: %s", strerror(errno));
	for (int i = 0; i < 16; i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	snprintf(env_nonce, sizeof env_nonce, "EVALH_NONCE=%s", nonce);

	const char *argv[] = {py->exe, "-I", "-B", "-X", "utf8", "_evalh_driver.py", NULL};
	const char *env[] = {env_nonce, NULL};
	const char *ro[3] = {NULL, NULL, NULL};
	int k = 0;
	for (int i = 0; i < 2; i++)
		if (py->prefix[i][0])
			ro[k++] = py->prefix[i];
	struct sbx_file files[] = {
		{"_evalh_driver.py", scr_code_driver, strlen(scr_code_driver)},
		{"solution.py", solution, strlen(solution)},
		{"_evalh_tests.json", tests_json, strlen(tests_json)},
	};
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.env = env;
	s.stdin_data = in;
	s.stdin_len = in_len;
	s.files = files;
	s.n_files = 3;
	s.ro_paths = ro;
	sbx_limits_defaults(&s.limits);
	s.limits.wall_s = o->timeout_s;
	s.limits.cpu_s = o->timeout_s;
	s.limits.memory_bytes = o->memory;
	s.limits.max_procs = o->procs;
	s.limits.stderr_bytes = 256u << 10;
	int rc = sbx_run(&s, r, err);
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

/* Verdict from the sandbox's own findings, before the driver's report is looked at. -1: none. */
static int limit_verdict(const struct sbx_result *r, struct evh_buf *d)
{
	if (r->memory_exceeded) {
		evh_buf_printf(d, "memory limit exceeded (peak %zu MiB)", r->peak_memory >> 20);
		return SCR_MEMORY;
	}
	if (r->timed_out || r->cpu_exceeded) {
		evh_buf_printf(d, "time limit exceeded (%s, %.2f s wall)", r->timed_out ? "wall clock" : "cpu",
			       r->wall_s);
		return SCR_TIMEOUT;
	}
	return -1;
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

static const char *str_field(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* HumanEval, MBPP and function calls: one run of the whole test program. */
static int score_once(const struct py *py, const struct opts *o, const char *solution, cJSON *driver_tests,
		      const cJSON *shown_tests, struct scr_result *out, struct evh_buf *d,
		      struct evh_err *err)
{
	char *tj = cJSON_PrintUnformatted(driver_tests);
	if (!tj)
		return evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
	struct sbx_result r;
	struct report rep;
	int rc = run_driver(py, o, solution, tj, NULL, 0, &r, &rep, err);
	free(tj);
	if (rc)
		return rc;
	int v = limit_verdict(&r, d);
	if (v < 0 && rep.found) {
		v = verdict_from_report(&rep);
		if (v != SCR_PASS) {
			const cJSON *t = rep.index >= 0 ? cJSON_GetArrayItem(shown_tests, rep.index) : NULL;
			if (t && cJSON_IsString(t)) {
				evh_buf_printf(d, "test %d: ", rep.index);
				add_trim(d, t->valuestring, strlen(t->valuestring), SHOW);
				evh_buf_adds(d, "\n");
			} else if (t) {
				char *ts = cJSON_PrintUnformatted(t);
				evh_buf_printf(d, "test %d: ", rep.index);
				if (ts)
					add_trim(d, ts, strlen(ts), SHOW);
				evh_buf_adds(d, "\n");
				free(ts);
			}
			evh_buf_adds(d, rep.info);
		}
	} else if (v < 0) {
		v = SCR_RUNTIME_ERROR;
		describe_end(d, &r);
	}
	if (v != SCR_PASS)
		add_stderr_tail(d, &r, &rep);
	out->verdict = v;
	sbx_result_free(&r);
	return 0;
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

static int score_stdio(const struct py *py, const struct opts *o, const char *solution, const cJSON *tests,
		       struct scr_result *out, struct evh_buf *d, struct evh_err *err)
{
	const cJSON *cases = cJSON_GetObjectItemCaseSensitive(tests, "cases");
	struct opts oc = *o;
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
		int rc = run_driver(py, &oc, solution, "{\"mode\":\"stdio\"}", in, strlen(in), &r, &rep, err);
		if (rc) {
			evh_err_prefix(err, "case %d: ", i);
			return rc;
		}
		int verdict = limit_verdict(&r, d);
		if (verdict < 0 && rep.found && strcmp(rep.status, "ok") != 0) {
			verdict = verdict_from_report(&rep);
			evh_buf_adds(d, rep.info);
		} else if (verdict < 0 && !rep.found && (r.signal || r.exit_status != 0)) {
			verdict = SCR_RUNTIME_ERROR;
			describe_end(d, &r);
		} else if (verdict < 0 && r.stdout_truncated) {
			verdict = SCR_RUNTIME_ERROR;
			evh_buf_printf(d, "output limit exceeded (%zu bytes kept)", r.out_len);
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

/* ---- entry point ------------------------------------------------------------------------------ */

/* HumanEval: the model may answer with the whole function or only its body. A body continues the
 * prompt; a whole definition is appended after it (the prompt's stub is redefined, its imports
 * stay), as evalplus does. */
static char *humaneval_program(const char *prompt, const char *code, const char *entry)
{
	char def[300];
	snprintf(def, sizeof def, "def %s", entry);
	struct evh_buf b;
	evh_buf_init(&b, EVH_LIMIT_TEXT * 2);
	evh_buf_adds(&b, prompt);
	if (strstr(code, def))
		evh_buf_adds(&b, "\n\n");
	evh_buf_adds(&b, code);
	evh_buf_adds(&b, "\n");
	return evh_buf_take(&b);
}

int scr_code_score(const char *options_json, const char *response, const struct scr_gold *gold,
		   struct scr_result *out, struct evh_err *err)
{
	struct opts o;
	struct py py;
	memset(out, 0, sizeof *out);
	int rc = parse_opts(options_json, &o, err);
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
	out->extracted = scr_code_extract(response, &out->rule);
	if (!out->extracted) {
		rc = evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
		goto out;
	}
	rc = python_resolve(o.python, &py, err);
	if (rc)
		goto out;

	/* A bare array is an MBPP-style assert list. */
	const char *style = cJSON_IsArray(t) ? "assert" : str_field(t, "style");
	if (!style) {
		rc = evh_err_fail(err, EVH_EFORMAT, "code tests: style", "\"humaneval\", \"assert\", "
				  "\"stdio\" or \"call\" is expected");
		goto out;
	}
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
		program = humaneval_program(prompt, out->extracted, entry);
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
