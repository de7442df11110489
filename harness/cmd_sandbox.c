/* cmd_sandbox.c — `evalh sandbox run --lang python|c FILE ...`: one program through the same
 * sandbox and limits the code scorer uses, its outcome printed as one JSON object; and `evalh
 * doctor`: which isolation layers this host grants, why the others are off, and whether Python
 * and C programs really run in the sandbox here. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "harness/cli.h"
#include "harness/cmd_sandbox.h"
#include "harness/util/buf.h"
#include "scorers/code.h"
#include "scorers/sandbox.h"

#define SHOWN 4096 /* bytes of stdout (head) and stderr (tail) printed */

static const char usage_run[] =
	"usage: evalh sandbox run --lang python|c FILE [--stdin F] [--timeout S] [--memory MB]\n"
	"                         [--python PATH] [--cc PATH]\n"
	"  runs FILE in the sandbox (C is compiled with gcc in it first) and prints its verdict, exit\n"
	"  status, signal, time, peak memory and trimmed output as JSON.\n"
	"  exit: 0 exited 0, 1 other verdict, 2 usage, 3 sandbox error (not the program's fault)\n";

static int read_file(const char *path, size_t limit, struct evh_buf *b, struct evh_err *err)
{
	evh_buf_init(b, limit);
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return evh_err_fail(err, EVH_ENOTFOUND, path, "cannot open");
	char chunk[65536];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (evh_buf_add(b, chunk, n))
			rc = evh_err_fail(err, EVH_ELIMIT, path, "larger than %zu bytes", limit);
	if (!rc && ferror(f))
		rc = evh_err_fail(err, EVH_EIO, path, "read failed");
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Program output as a JSON string: valid UTF-8 is kept, every invalid byte and NUL becomes U+FFFD
 * (a JSON string cannot carry raw bytes, and cJSON would cut at a NUL). */
static cJSON *text(const char *s, size_t n)
{
	struct evh_buf b;
	evh_buf_init(&b, 3 * n + 1);
	evh_buf_adds(&b, "");
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	while (n > 0) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
		if (k <= 0 || cp == 0) {
			evh_buf_adds(&b, "\xef\xbf\xbd");
			k = 1;
		} else {
			evh_buf_add(&b, p, (size_t)k);
		}
		p += k;
		n -= (size_t)k;
	}
	cJSON *j = cJSON_CreateString(evh_buf_str(&b));
	evh_buf_free(&b);
	return j;
}

static void add_head(cJSON *o, const char *key, const char *s, size_t n)
{
	cJSON_AddItemToObject(o, key, text(s ? s : "", n < SHOWN ? n : SHOWN));
}

static void add_tail(cJSON *o, const char *key, const char *s, size_t n)
{
	size_t start = n > SHOWN ? n - SHOWN : 0;
	cJSON_AddItemToObject(o, key, text(s ? s + start : "", n - start));
}

static void add_isolation(cJSON *o, int layers)
{
	cJSON *a = cJSON_AddArrayToObject(o, "isolation");
	for (int b = 1; b <= SBX_L_LAST; b <<= 1)
		if ((layers & b) && sbx_layer_name(b))
			cJSON_AddItemToArray(a, cJSON_CreateString(sbx_layer_name(b)));
}

static void print_json(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

static int sandbox_run(int argc, char **argv)
{
	const char *lang = NULL, *file = NULL, *in_path = NULL, *python = NULL, *cc = NULL;
	double timeout = 10, memory = 512;
	struct evh_err err = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = strcmp(a, "--lang") == 0 || strcmp(a, "--stdin") == 0 || strcmp(a, "--timeout") == 0 ||
			    strcmp(a, "--memory") == 0 || strcmp(a, "--python") == 0 || strcmp(a, "--cc") == 0;
		if (takes && !v) {
			fprintf(stderr, "evalh sandbox run: %s needs a value\n%s", a, usage_run);
			return EVH_EXIT_USAGE;
		}
		if (strcmp(a, "--lang") == 0)
			lang = v;
		else if (strcmp(a, "--stdin") == 0)
			in_path = v;
		else if (strcmp(a, "--python") == 0)
			python = v;
		else if (strcmp(a, "--cc") == 0)
			cc = v;
		else if (strcmp(a, "--timeout") == 0 && evh_cli_double("--timeout", v, 0.001, 3600, &timeout, &err))
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		else if (strcmp(a, "--memory") == 0 && evh_cli_double("--memory", v, 16, 1 << 20, &memory, &err))
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		else if (!takes && !file && (a[0] != '-' || strcmp(a, "-") == 0))
			file = a;
		else if (!takes) {
			fprintf(stderr, "evalh sandbox run: unexpected argument \"%s\"\n%s", a, usage_run);
			return EVH_EXIT_USAGE;
		}
		i += takes;
	}
	if (!lang || !file || (strcmp(lang, "python") != 0 && strcmp(lang, "c") != 0)) {
		fprintf(stderr, "evalh sandbox run: --lang python|c and a FILE are required\n%s", usage_run);
		return EVH_EXIT_USAGE;
	}
	struct evh_buf src, in;
	evh_buf_init(&src, 0);
	evh_buf_init(&in, 0);
	if (read_file(file, EVH_LIMIT_TEXT, &src, &err) ||
	    (in_path && read_file(in_path, EVH_LIMIT_BODY, &in, &err))) {
		evh_buf_free(&src);
		evh_buf_free(&in);
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	}
	cJSON *opt = cJSON_CreateObject();
	cJSON_AddStringToObject(opt, "language", lang);
	cJSON_AddNumberToObject(opt, "timeout_s", timeout);
	cJSON_AddNumberToObject(opt, "memory_mb", memory);
	if (python)
		cJSON_AddStringToObject(opt, "python", python);
	if (cc)
		cJSON_AddStringToObject(opt, "cc", cc);
	char *opts = cJSON_PrintUnformatted(opt);
	cJSON_Delete(opt);

	struct scr_code_run r;
	int rc = opts ? scr_code_run(opts, evh_buf_str(&src), in.data, in.len, &r, &err)
		      : evh_err_fail(&err, EVH_ENOMEM, "sandbox run", "out of memory");
	free(opts);
	evh_buf_free(&src);
	evh_buf_free(&in);
	cJSON *o = cJSON_CreateObject();
	int code;
	if (rc == EVH_ESANDBOX || rc == EVH_ENOMEM) {
		char msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
		cJSON_AddStringToObject(o, "verdict", scr_verdict_name(SCR_SANDBOX_ERROR));
		cJSON_AddStringToObject(o, "language", lang);
		cJSON_AddStringToObject(o, "error", evh_err_str(&err, msg, sizeof msg));
		print_json(o);
		return EVH_EXIT_INCOMPLETE;
	}
	if (rc) {
		cJSON_Delete(o);
		return evh_cli_fail(&err, EVH_EXIT_USAGE); /* bad options, no interpreter or compiler */
	}
	const struct sbx_result *s = &r.res;
	cJSON_AddStringToObject(o, "verdict", r.verdict == SCR_PASS ? "ok" : scr_verdict_name(r.verdict));
	cJSON_AddStringToObject(o, "language", lang);
	if (strcmp(lang, "c") == 0) {
		cJSON_AddNumberToObject(o, "compile_s", r.compile_s);
		add_tail(o, "compile_log", r.compile_log, r.compile_log ? strlen(r.compile_log) : 0);
	}
	if (r.verdict != SCR_COMPILE_ERROR) {
		if (s->exited)
			cJSON_AddNumberToObject(o, "exit_status", s->exit_status);
		else
			cJSON_AddNullToObject(o, "exit_status");
		if (s->signal)
			cJSON_AddNumberToObject(o, "signal", s->signal);
		else
			cJSON_AddNullToObject(o, "signal");
		cJSON_AddBoolToObject(o, "timed_out", s->timed_out);
		cJSON_AddBoolToObject(o, "cpu_exceeded", s->cpu_exceeded);
		cJSON_AddBoolToObject(o, "memory_exceeded", s->memory_exceeded);
		cJSON_AddNumberToObject(o, "time_s", s->wall_s);
		cJSON_AddNumberToObject(o, "cpu_s", s->cpu_s);
		cJSON_AddNumberToObject(o, "peak_memory_bytes", (double)s->peak_memory);
		add_head(o, "stdout", s->out, s->out_len);
		cJSON_AddNumberToObject(o, "stdout_bytes", (double)s->out_len);
		cJSON_AddBoolToObject(o, "stdout_truncated", s->stdout_truncated || s->out_len > SHOWN);
		add_tail(o, "stderr", s->err, s->err_len);
		cJSON_AddNumberToObject(o, "stderr_bytes", (double)s->err_len);
		cJSON_AddBoolToObject(o, "stderr_truncated", s->stderr_truncated || s->err_len > SHOWN);
		add_isolation(o, s->isolation);
	}
	print_json(o);
	code = r.verdict == SCR_PASS ? EVH_EXIT_OK : EVH_EXIT_FAILED;
	scr_code_run_free(&r);
	return code;
}

int evh_cmd_sandbox(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return sandbox_run(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage_run, stdout);
		return EVH_EXIT_OK;
	}
	fputs(usage_run, stderr);
	return EVH_EXIT_USAGE;
}

/* ---- doctor ----------------------------------------------------------------------------------- */

static const char *layer_what(int b)
{
	switch (b) {
	case SBX_L_USERNS: return "user namespace (unprivileged start)";
	case SBX_L_PIDNS: return "pid namespace: everything spawned dies with the program";
	case SBX_L_NETNS: return "net namespace: no network, not even the host's loopback";
	case SBX_L_LANDLOCK: return "landlock: abstract unix sockets and signals confined to the run";
	case SBX_L_MNTNS: return "mount namespace: read-only minimal root, tmpfs work folder";
	case SBX_L_IPCNS: return "ipc namespace";
	case SBX_L_UTSNS: return "uts namespace";
	case SBX_L_SECCOMP: return "seccomp-bpf: no inet sockets, ptrace, mount, bpf, keyctl, ...";
	case SBX_L_NNP: return "no_new_privs";
	case SBX_L_SETUID: return "root start: a uid of its own per run, no groups";
	case SBX_L_CGROUP1: return "cgroup v1 memory + pids limits";
	case SBX_L_CGROUP2: return "cgroup v2 memory.max + pids.max";
	case SBX_L_RLIMIT: return "rlimits: cpu, address space, nproc, fsize, nofile, core 0";
	}
	return "";
}

/* Runs a tiny program and prints how it went; 0 when it printed what it should. */
static int check(const char *label, const char *opts, const char *src)
{
	struct scr_code_run r;
	struct evh_err err = {0};
	char msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
	int rc = scr_code_run(opts, src, "21", 2, &r, &err);
	if (rc) {
		printf("  %-8s %s: %s\n", label, rc == EVH_ENOTFOUND ? "not found" : "sandbox error",
		       evh_err_str(&err, msg, sizeof msg));
		return rc;
	}
	int ok = r.verdict == SCR_PASS && r.res.out && strcmp(r.res.out, "42\n") == 0;
	if (ok && r.compile_s > 0)
		printf("  %-8s ok in the sandbox (compile %.2f s, run %.3f s)\n", label, r.compile_s, r.res.wall_s);
	else if (ok)
		printf("  %-8s ok in the sandbox (%.3f s)\n", label, r.res.wall_s);
	else
		printf("  %-8s FAILED in the sandbox: verdict %s%s%.300s\n", label, scr_verdict_name(r.verdict),
		       r.compile_log ? ": " : "", r.compile_log ? r.compile_log : "");
	scr_code_run_free(&r);
	return ok ? 0 : EVH_ESANDBOX;
}

static void print_tool(const char *name)
{
	char *p = sbx_which(name);
	printf("  %-8s %s\n", name, p ? p : "not found on PATH");
	free(p);
}

int evh_cmd_doctor(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usage: evalh doctor   (sandbox protections and toolchains on this host)\n");
		return strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ? EVH_EXIT_OK : EVH_EXIT_USAGE;
	}
	int caps = sbx_caps(), wanted = sbx_caps_wanted(), root = geteuid() == 0;
	printf("sandbox protections on this host (%s):\n", root ? "running as root" : "running unprivileged");
	for (int b = 1; b <= SBX_L_LAST; b <<= 1) {
		const char *state, *note = sbx_layer_note(b);
		char why[200] = "";
		if (caps & b) {
			state = "active";
		} else if (!(wanted & b)) {
			state = "not used";
			snprintf(why, sizeof why, "%s", b == SBX_L_USERNS ? "started as root: setuid instead"
									  : "not root: user namespace instead");
		} else if ((b == SBX_L_CGROUP1 && (caps & SBX_L_CGROUP2)) ||
			   (b == SBX_L_CGROUP2 && (caps & SBX_L_CGROUP1))) {
			state = "not used";
			snprintf(why, sizeof why, "cgroup %s is in use", b == SBX_L_CGROUP1 ? "v2" : "v1");
		} else {
			state = "REFUSED";
			snprintf(why, sizeof why, "%s", note ? note : "refused by this host");
		}
		printf("  %-13s %-9s %s%s%s\n", sbx_layer_name(b), state, layer_what(b), why[0] ? " -- " : "", why);
	}
	printf("toolchains (found on PATH; run in the sandbox with the scorer's defaults):\n");
	print_tool("python3");
	print_tool("gcc");
	int py = check("python", "{\"language\":\"python\"}", "print(int(input()) * 2)\n");
	check("c", "{\"language\":\"c\"}", "#include <stdio.h>\nint main(void){int x; if (scanf(\"%d\", &x) != 1) "
	      "return 1; printf(\"%d\\n\", 2 * x); return 0;}\n");
	return py == 0 ? EVH_EXIT_OK : EVH_EXIT_FAILED;
}
