/* code_lang.c — the languages of the code scorer: options, the Python interpreter behind a name,
 * C compiled with gcc inside the sandbox (the compiler reads hostile source too), running either in
 * the sandbox, and one program run without tests (scr_code_run, for `evalh sandbox run`). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "scorers/code.h"
#include "scorers/code_int.h"

#define COMPILE_LOG 4000 /* bytes of compiler messages kept: the first errors are the useful ones */

/* ---- options ---------------------------------------------------------------------------------- */

int scr_code_lang(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "python") == 0 || strcmp(name, "python3") == 0)
		return SCR_LANG_PYTHON;
	if (strcmp(name, "c") == 0)
		return SCR_LANG_C;
	return -1;
}

static int num(const cJSON *j, const char *name, double lo, double hi, double *out, const char *want,
	       struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (!v)
		return 0;
	char where[96];
	snprintf(where, sizeof where, "code scorer options: %s", name);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) || !(v->valuedouble <= hi))
		return evh_err_fail(err, EVH_EFORMAT, where, "%s is expected", want);
	*out = v->valuedouble;
	return 0;
}

static int str(const cJSON *j, const char *name, char *out, size_t n, int may_be_empty, struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (!v)
		return 0;
	char where[96];
	snprintf(where, sizeof where, "code scorer options: %s", name);
	if (!cJSON_IsString(v) || (!may_be_empty && !v->valuestring[0]) || strlen(v->valuestring) >= n)
		return evh_err_fail(err, EVH_EFORMAT, where, "a string of at most %zu bytes is expected", n - 1);
	snprintf(out, n, "%s", v->valuestring);
	return 0;
}

int scr_code_opts_parse(const char *json, struct scr_code_opts *o, struct evh_err *err)
{
	memset(o, 0, sizeof *o);
	o->lang = SCR_LANG_PYTHON;
	o->timeout_s = 10;
	o->memory = 512u << 20;
	o->procs = 64;
	o->float_tol = 0;
	o->compile_timeout_s = 30;
	snprintf(o->python, sizeof o->python, "python3");
	snprintf(o->cc, sizeof o->cc, "gcc");
	snprintf(o->cflags, sizeof o->cflags, "-O2 -pipe");
	if (!json || !json[0])
		return 0;
	cJSON *j = cJSON_Parse(json);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return evh_err_fail(err, EVH_EFORMAT, "code scorer options", "a JSON object is expected");
	}
	double mem = (double)(o->memory >> 20), procs = o->procs;
	char lang[16] = "python";
	int rc = num(j, "timeout_s", 1e-3, 3600, &o->timeout_s, "a number of seconds in (0, 3600]", err);
	rc = rc ? rc : num(j, "memory_mb", 16, 1 << 20, &mem, "a number of MiB in [16, 1048576]", err);
	rc = rc ? rc : num(j, "procs", 1, 4096, &procs, "a number in [1, 4096]", err);
	rc = rc ? rc : num(j, "float_tol", 0, 0.999999, &o->float_tol, "a number in [0, 1)", err);
	rc = rc ? rc : num(j, "compile_timeout_s", 1e-3, 3600, &o->compile_timeout_s,
			   "a number of seconds in (0, 3600]", err);
	rc = rc ? rc : str(j, "python", o->python, sizeof o->python, 0, err);
	rc = rc ? rc : str(j, "cc", o->cc, sizeof o->cc, 0, err);
	rc = rc ? rc : str(j, "cflags", o->cflags, sizeof o->cflags, 1, err);
	rc = rc ? rc : str(j, "language", lang, sizeof lang, 0, err);
	if (!rc && (o->lang = scr_code_lang(lang)) < 0)
		rc = evh_err_fail(err, EVH_EFORMAT, "code scorer options: language", "\"python\" or \"c\" "
				  "is expected, found \"%s\"", lang);
	o->memory = (size_t)mem << 20;
	o->procs = (int)procs;
	cJSON_Delete(j);
	return rc;
}

void scr_code_limits(const struct scr_code_opts *o, struct sbx_limits *l)
{
	sbx_limits_defaults(l);
	l->wall_s = o->timeout_s;
	l->cpu_s = o->timeout_s;
	l->memory_bytes = o->memory;
	l->max_procs = o->procs;
	l->stderr_bytes = 256u << 10;
}

void scr_prog_free(struct scr_prog *p)
{
	if (!p)
		return;
	free(p->bin);
	memset(p, 0, sizeof *p);
}

/* ---- Python ----------------------------------------------------------------------------------- */

/* The real interpreter behind a name: PATH may hold a wrapper (pyenv shims are shell scripts that
 * need the very environment the sandbox removes), so ask it for sys.executable and the folders
 * its standard library lives in, once per name. */
static pthread_mutex_t py_lock = PTHREAD_MUTEX_INITIALIZER;
static char py_name[1024];
static struct scr_prog py_cache;

int scr_prog_python(const struct scr_code_opts *o, struct scr_prog *out, struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&py_lock);
	if (strcmp(py_name, o->python) == 0 && py_cache.exe[0]) {
		*out = py_cache;
		pthread_mutex_unlock(&py_lock);
		return 0;
	}
	int rc = 0;
	struct scr_prog p;
	memset(&p, 0, sizeof p);
	char *path = sbx_which(o->python);
	if (!path || strchr(path, '\'')) {
		rc = evh_err_fail(err, EVH_ENOTFOUND, "code scorer", "interpreter \"%s\" not found on PATH",
				  o->python);
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
	p.lang = SCR_LANG_PYTHON;
	py_cache = p;
	snprintf(py_name, sizeof py_name, "%s", o->python);
	*out = p;
out:
	free(path);
	pthread_mutex_unlock(&py_lock);
	return rc;
}

/* ---- C ---------------------------------------------------------------------------------------- */

/* The compiler's tree, made visible read-only when it lives outside /usr (a toolchain under /opt):
 * the folder above its bin/. */
static void toolchain_root(const char *cc, char *out, size_t n)
{
	out[0] = 0;
	if (strncmp(cc, "/usr/", 5) == 0)
		return;
	snprintf(out, n, "%s", cc);
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(out, '/');
		if (!slash || slash == out) {
			out[0] = 0; /* "/" itself is never exposed */
			return;
		}
		*slash = 0;
	}
}

/* Compiles inside the sandbox: `sh -c '"$0" "$@" >&2 && exec cat prog' gcc FLAGS -o prog main.c
 * -lm`. The binary comes back on stdout (the work folder dies with the sandbox), the compiler's
 * messages on stderr; the compiler gets at least 1 GiB and 16 processes whatever the program's
 * own limits are, and its own time limit. */
int scr_prog_c(const struct scr_code_opts *o, const char *source, struct scr_prog *p, struct evh_buf *log,
	       int *failed, double *secs, struct evh_err *err)
{
	memset(p, 0, sizeof *p);
	*failed = 0;
	*secs = 0;
	char *cc = sbx_which(o->cc);
	if (!cc)
		return evh_err_fail(err, EVH_ENOTFOUND, "code scorer", "C compiler \"%s\" not found on PATH",
				    o->cc);
	char root[1024], flags[sizeof o->cflags];
	toolchain_root(cc, root, sizeof root);
	snprintf(flags, sizeof flags, "%s", o->cflags);
	const char *argv[48];
	int k = 0;
	argv[k++] = "/bin/sh";
	argv[k++] = "-c";
	argv[k++] = "\"$0\" \"$@\" >&2 && exec cat prog";
	argv[k++] = cc;
	char *save = NULL;
	for (char *t = strtok_r(flags, " \t", &save); t && k < 40; t = strtok_r(NULL, " \t", &save))
		argv[k++] = t;
	const char *tail[] = {"-o", "prog", "main.c", "-lm", NULL};
	for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
		argv[k++] = tail[i];
	const char *ro[] = {root, NULL};
	struct sbx_file f = {"main.c", source, strlen(source), 0};
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.files = &f;
	s.n_files = 1;
	s.ro_paths = root[0] ? ro : NULL;
	sbx_limits_defaults(&s.limits);
	s.limits.wall_s = o->compile_timeout_s;
	s.limits.cpu_s = o->compile_timeout_s;
	s.limits.memory_bytes = o->memory > (1u << 30) ? o->memory : (1u << 30);
	s.limits.max_procs = o->procs > 16 ? o->procs : 16;
	s.limits.stdout_bytes = s.limits.file_bytes;
	struct sbx_result r;
	int rc = sbx_run(&s, &r, err);
	free(cc);
	if (rc) {
		evh_err_prefix(err, "compiling: ");
		return rc;
	}
	*secs = r.wall_s;
	if (r.exited && r.exit_status == 0 && !r.stdout_truncated && r.out_len > 0) {
		p->lang = SCR_LANG_C;
		p->bin = r.out;
		p->bin_len = r.out_len;
		r.out = NULL;
		sbx_result_free(&r);
		return 0;
	}
	/* gcc says 1 for an error in the source; the limits are the source's doing too (a huge
	 * static array, an include loop). Anything else is the toolchain or the sandbox failing. */
	if (r.memory_exceeded)
		evh_buf_adds(log, "compilation ran out of memory\n");
	else if (r.timed_out || r.cpu_exceeded)
		evh_buf_printf(log, "compilation took longer than %g s\n", o->compile_timeout_s);
	else if (r.stdout_truncated)
		evh_buf_printf(log, "compiled program larger than %zu bytes\n", s.limits.stdout_bytes);
	else if (!(r.exited && r.exit_status == 1)) {
		rc = evh_err_fail(err, EVH_ESANDBOX, "code scorer", "compiler %s ended with %s %d: %.120s",
				  o->cc, r.exited ? "status" : "signal", r.exited ? r.exit_status : r.signal,
				  r.err_len ? r.err : "(no message)");
		sbx_result_free(&r);
		return rc;
	}
	size_t n = r.err_len < COMPILE_LOG ? r.err_len : COMPILE_LOG;
	evh_buf_add(log, r.err, n);
	if (n < r.err_len)
		evh_buf_printf(log, "...[%zu more bytes]", r.err_len - n);
	*failed = 1;
	sbx_result_free(&r);
	return 0;
}

/* ---- running ---------------------------------------------------------------------------------- */

int scr_prog_run(const struct scr_prog *p, const struct scr_code_opts *o, const char *py_script,
		 const struct sbx_file *files, size_t n_files, const char *const *env, const char *in,
		 size_t in_len, struct sbx_result *r, struct evh_err *err)
{
	const char *py_argv[] = {p->exe, "-I", "-B", "-X", "utf8", py_script, NULL};
	const char *c_argv[] = {"./prog", NULL};
	const char *ro[3] = {NULL, NULL, NULL};
	struct sbx_file all[8];
	if (n_files + 1 > sizeof all / sizeof all[0])
		return evh_err_fail(err, EVH_EMISUSE, "code scorer", "too many work files");
	if (n_files)
		memcpy(all, files, n_files * sizeof *files);
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	if (p->lang == SCR_LANG_C) {
		all[n_files++] = (struct sbx_file){"prog", p->bin, p->bin_len, 0755};
		s.argv = c_argv;
	} else {
		int k = 0;
		for (int i = 0; i < 2; i++)
			if (p->prefix[i][0])
				ro[k++] = p->prefix[i];
		s.argv = py_argv;
		s.ro_paths = ro;
	}
	s.env = env;
	s.stdin_data = in;
	s.stdin_len = in_len;
	s.files = all;
	s.n_files = n_files;
	scr_code_limits(o, &s.limits);
	return sbx_run(&s, r, err);
}

int scr_code_limit_verdict(const struct sbx_result *r, struct evh_buf *d)
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
	if (r->stdout_truncated) {
		evh_buf_printf(d, "output limit exceeded (%zu bytes kept)", r->out_len);
		return SCR_OUTPUT_LIMIT;
	}
	return -1;
}

void scr_code_run_free(struct scr_code_run *r)
{
	if (!r)
		return;
	sbx_result_free(&r->res);
	free(r->compile_log);
	memset(r, 0, sizeof *r);
}

int scr_code_run(const char *options_json, const char *source, const char *in, size_t in_len,
		 struct scr_code_run *out, struct evh_err *err)
{
	struct scr_code_opts o;
	struct scr_prog p;
	memset(out, 0, sizeof *out);
	memset(&p, 0, sizeof p);
	int rc = scr_code_opts_parse(options_json, &o, err);
	if (rc)
		return rc;
	if (o.lang == SCR_LANG_C) {
		struct evh_buf log;
		int failed;
		evh_buf_init(&log, COMPILE_LOG + 256);
		rc = scr_prog_c(&o, source, &p, &log, &failed, &out->compile_s, err);
		if (!rc && failed) {
			out->verdict = SCR_COMPILE_ERROR;
			out->compile_log = evh_buf_take(&log);
			if (!out->compile_log)
				rc = evh_err_fail(err, EVH_ENOMEM, "code scorer", "out of memory");
		}
		evh_buf_free(&log);
		if (rc || failed)
			goto out;
	} else {
		rc = scr_prog_python(&o, &p, err);
		if (rc)
			goto out;
	}
	struct sbx_file f = {"main.py", source, strlen(source), 0};
	int py = o.lang == SCR_LANG_PYTHON;
	rc = scr_prog_run(&p, &o, "main.py", &f, py ? 1 : 0, NULL, in, in_len, &out->res, err);
	if (rc)
		goto out;
	struct evh_buf d;
	evh_buf_init(&d, 256);
	out->verdict = scr_code_limit_verdict(&out->res, &d);
	evh_buf_free(&d);
	if (out->verdict < 0) {
		/* Python reports an address-space refusal as MemoryError, not as the OOM killer. */
		if (py && out->res.exit_status == 1 && strstr(out->res.err, "\nMemoryError"))
			out->verdict = SCR_MEMORY;
		else
			out->verdict = out->res.exited && out->res.exit_status == 0 ? SCR_PASS : SCR_RUNTIME_ERROR;
	}
out:
	scr_prog_free(&p);
	if (rc)
		scr_code_run_free(out);
	return rc;
}
