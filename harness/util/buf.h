/* buf.h — a growable byte buffer with a ceiling (curl's dynbuf): passing the ceiling is
 * EVH_ELIMIT, never a crash or an unbounded allocation. Always NUL-terminated when non-empty. */
#ifndef EVH_BUF_H
#define EVH_BUF_H

#include <stddef.h>

#include "harness/util/err.h"

struct evh_buf {
	char *data;   /* NUL-terminated; NULL until the first add */
	size_t len;   /* bytes in use, excluding the NUL */
	size_t cap;   /* bytes allocated */
	size_t limit; /* most bytes `len` may reach */
};

/* Ceilings on untrusted input, in one place. */
#define EVH_LIMIT_ENTRY (64u << 20)     /* one archive entry, unpacked */
#define EVH_LIMIT_PACK_TOTAL (512u << 20) /* all entries of one pack, unpacked */
#define EVH_LIMIT_ENTRIES 4096          /* entries in one pack archive */
#define EVH_LIMIT_ITEMS 1000000         /* items in one pack */
#define EVH_LIMIT_LINE (16u << 20)      /* one JSONL line */
#define EVH_LIMIT_BODY (64u << 20)      /* one HTTP response body */
#define EVH_LIMIT_SSE_LINE (8u << 20)   /* one SSE line */
#define EVH_LIMIT_TEXT (32u << 20)      /* one model response's text */

void evh_buf_init(struct evh_buf *b, size_t limit);
/* Appends n bytes; EVH_ELIMIT past the limit (buffer unchanged), EVH_ENOMEM on allocation failure. */
int evh_buf_add(struct evh_buf *b, const void *p, size_t n);
int evh_buf_adds(struct evh_buf *b, const char *s);
int evh_buf_printf(struct evh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void evh_buf_reset(struct evh_buf *b); /* len = 0, keeps memory */
/* Hands the data to the caller (free with free()); the buffer is left empty. Never NULL on success
 * of a previous add; returns an empty malloc'd string when nothing was added (NULL on OOM). */
char *evh_buf_take(struct evh_buf *b);
void evh_buf_free(struct evh_buf *b);
/* Returns data or "" when empty, so callers need no NULL check. */
const char *evh_buf_str(const struct evh_buf *b);

#endif
