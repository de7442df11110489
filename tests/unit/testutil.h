/* testutil.h — what several unit tests need: a whole file in memory, a scratch folder and its
 * removal, one scratch folder per test program. tests/unit/testutil.c is linked into every test program (the Makefile's TEST_HELPERS),
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

/* The test program's scratch folder, as a cmocka group setup/teardown pair (the signatures only,
 * no cmocka type): tu_scratch_setup makes /tmp/evh-<program name>-XXXXXX and returns 0, or -1;
 * tu_scratch_teardown removes it and all below. tu_scratch() is its path ("" before setup). */
int tu_scratch_setup(void **state);
int tu_scratch_teardown(void **state);
const char *tu_scratch(void);

/* "<scratch folder>/<name>" in one of 8 static buffers used in turn, so the last 8 stay valid. */
const char *tu_path(const char *name);

/* Writes text into "<scratch folder>/<name>". Returns the path (as tu_path), or NULL when the file
 * cannot be written. */
const char *tu_put(const char *name, const char *text);

#endif
