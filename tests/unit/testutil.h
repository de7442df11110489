/* testutil.h — what several unit tests need: a whole file in memory, a scratch folder and its
 * removal. tests/unit/testutil.c is linked into every test program (the Makefile's TEST_HELPERS),
 * engine tests included, so it uses libc only. */
#ifndef EVH_TESTUTIL_H
#define EVH_TESTUTIL_H

#include <stddef.h>

/* The file's bytes, NUL-terminated, malloc'd; *len (may be NULL) gets the byte count. NULL when the
 * file cannot be opened or read. */
char *tu_slurp(const char *path, size_t *len);

/* Creates /tmp/evh-<tag>-XXXXXX into buf (n bytes). Returns 0, or -1 when it cannot. */
int tu_tmpdir(char *buf, size_t n, const char *tag);

/* Removes the folder and everything below it, links not followed. Returns 0, or -1. */
int tu_rmtree(const char *dir);

#endif
