/* testutil.c — files and scratch folders for the unit tests; see testutil.h. */
#include "tests/unit/testutil.h"

#include <errno.h> /* program_invocation_short_name */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *s = NULL;
	long n = -1;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
		s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	if (!s)
		return NULL;
	s[n] = '\0';
	if (len)
		*len = (size_t)n;
	return s;
}

int tu_tmpdir(char *buf, size_t n, const char *tag)
{
	int k = snprintf(buf, n, "/tmp/evh-%s-XXXXXX", tag);
	if (k < 0 || (size_t)k >= n)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

int tu_rmtree(const char *dir)
{
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

static char scratch[64];

int tu_scratch_setup(void **state)
{
	(void)state;
	return tu_tmpdir(scratch, sizeof scratch, program_invocation_short_name);
}

int tu_scratch_teardown(void **state)
{
	(void)state;
	return tu_rmtree(scratch);
}

const char *tu_scratch(void)
{
	return scratch;
}

const char *tu_path(const char *name)
{
	static char buf[8][512];
	static unsigned k;
	char *p = buf[k++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", scratch, name);
	return p;
}

const char *tu_put(const char *name, const char *text)
{
	const char *p = tu_path(name);
	FILE *f = fopen(p, "wb");
	if (!f)
		return NULL;
	size_t n = strlen(text);
	int ok = fwrite(text, 1, n, f) == n;
	return fclose(f) == 0 && ok ? p : NULL;
}
