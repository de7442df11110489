/* code_int.h — shared by the code scorer's own files (code.c, code_lang.c, code_extract.c,
 * code_driver.c). Not for other modules: they include code.h. */
#ifndef SCR_CODE_INT_H
#define SCR_CODE_INT_H

#include <stddef.h>

#include "harness/util/buf.h"
#include "harness/util/err.h"
#include "scorers/sandbox.h"

enum scr_lang { SCR_LANG_PYTHON = 0, SCR_LANG_C = 1 };

/* The scorer's options (pack.json "scorer_options"; scorers/SANDBOX.md). */
struct scr_code_opts {
	int lang;                 /* enum scr_lang */
	double timeout_s;         /* per run: the whole test program, or one stdin/stdout case */
	size_t memory;
	int procs;
	double float_tol;         /* stdio: relative/absolute tolerance on numeric tokens, 0 = exact */
	char python[1024];        /* interpreter name or path */
	char cc[1024];            /* C compiler name or path */
	char cflags[512];         /* compiler flags, split on spaces */
	double compile_timeout_s;
};

/* Defaults, then the JSON object's fields (NULL or "" keeps the defaults). EVH_EFORMAT names the
 * bad field. */
int scr_code_opts_parse(const char *json, struct scr_code_opts *o, struct evh_err *err);
/* "python" / "c" -> enum scr_lang; -1 when unknown. */
int scr_code_lang(const char *name);

/* A program ready to run in the sandbox: the real Python interpreter behind a name, or a compiled C
 * binary. Valid when zeroed; release with scr_prog_free. */
struct scr_prog {
	int lang;
	char exe[1024];           /* Python: the real interpreter */
	char prefix[2][1024];     /* Python: folders made visible read-only (empty when under /usr) */
	char *bin;                /* C: the compiled program, bin_len bytes */
	size_t bin_len;
};

/* Python: resolves o->python once per name (cached). EVH_ENOTFOUND when there is none. */
int scr_prog_python(const struct scr_code_opts *o, struct scr_prog *p, struct evh_err *err);
/* C: compiles `source` with o->cc inside the sandbox. Returns 0 with p->bin set, or 0 with
 * *failed = 1 and the compiler's messages in `log` (a compile error: the model's fault); an error
 * when the compiler is missing or the sandbox failed. *secs gets the compile's wall time. */
int scr_prog_c(const struct scr_code_opts *o, const char *source, struct scr_prog *p, struct evh_buf *log,
	       int *failed, double *secs, struct evh_err *err);
void scr_prog_free(struct scr_prog *p);

/* Fills limits from the options (wall and CPU = timeout_s, memory, procs). */
void scr_code_limits(const struct scr_code_opts *o, struct sbx_limits *l);

/* Runs p in the sandbox: Python runs `py_argv` (after "-I -B -X utf8", e.g. the driver's file
 * name) with `files`; C runs the binary as ./prog with `files` beside it. */
int scr_prog_run(const struct scr_prog *p, const struct scr_code_opts *o, const char *py_script,
		 const struct sbx_file *files, size_t n_files, const char *const *env, const char *in,
		 size_t in_len, struct sbx_result *r, struct evh_err *err);

/* The verdict the sandbox's own findings give (memory, then time, then output limit) with a line
 * added to d; -1 when none. */
int scr_code_limit_verdict(const struct sbx_result *r, struct evh_buf *d);

/* The program in a response: the text after the last </think>, then the last fenced block tagged
 * for the language (python/py/python3, or c/C/h) or untagged (an unclosed last fence runs to the
 * end); the whole text when there is none. Returns a malloc'd string (NULL on OOM); *rule gets
 * "fenced" or "whole". scr_code_extract is the Python one. */
char *scr_code_extract(const char *response, const char **rule);
char *scr_code_extract_lang(const char *response, int lang, const char **rule);

/* The Python driver that runs in the sandbox (scorers/SANDBOX.md, "Driver protocol"). */
extern const char scr_code_driver[];

#endif
