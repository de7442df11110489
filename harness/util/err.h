/* err.h — the one error convention of evalh (harness/, tasks/, scorers/).
 * Every fallible function returns 0 (EVH_OK) or a code and takes `struct evh_err *err` last (NULL
 * allowed). The first failure recorded wins, so the message names the root cause (as curl's
 * Curl_failf); outer layers may prefix context with evh_err_prefix. */
#ifndef EVH_ERR_H
#define EVH_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Stable codes: never renumber or reuse one (curl's rule); samples.jsonl keeps their names. */
enum evh_code {
	EVH_OK = 0,
	EVH_ENOMEM = 1,
	EVH_EIO = 2,
	EVH_EFORMAT = 3,
	EVH_ELIMIT = 4,
	EVH_EUNSUPPORTED = 5,
	EVH_ENET = 6,
	EVH_EHTTP = 7,
	EVH_ETIMEOUT = 8,
	EVH_ESANDBOX = 9,
	EVH_EENGINE = 10,
	EVH_EMISUSE = 11,
	EVH_EINTERNAL = 12,
	EVH_ENOTFOUND = 13,
};

#define EVH_ERR_MSG 256
#define EVH_ERR_WHERE 256

struct evh_err {
	int code;                  /* enum evh_code; 0 while nothing failed */
	char where[EVH_ERR_WHERE]; /* input location: "pack.tar.gz: items.jsonl:17", a field, a URL */
	char msg[EVH_ERR_MSG];     /* one line: what was expected, what was found */
};

/* Records the failure unless one is already recorded; returns `code` so callers can
 * `return evh_err_fail(...)`. `err` may be NULL, `where` may be NULL. */
int evh_err_fail(struct evh_err *err, int code, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* evh_err_fail with a va_list, for functions that build `where` and pass their own arguments on. */
int evh_err_failv(struct evh_err *err, int code, const char *where, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* Prefixes the recorded message with context ("pack gsm8k: "); no-op when nothing failed. */
void evh_err_prefix(struct evh_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void evh_err_clear(struct evh_err *err);

/* Fixed sentence for a code ("out of memory"); never NULL. */
const char *evh_strerror(int code);

/* Short stable name for a code ("EVH_ETIMEOUT" -> "timeout"), as written in samples.jsonl. */
const char *evh_code_name(int code);

/* Formats "where: msg" into buf (size n); returns buf. */
const char *evh_err_str(const struct evh_err *err, char *buf, size_t n);

#endif
