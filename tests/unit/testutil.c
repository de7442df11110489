/* testutil.c — files and scratch folders for the unit tests; see testutil.h. */
#include "tests/unit/testutil.h"

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
