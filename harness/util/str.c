/* str.c — small string tests; see str.h. */
#include "harness/util/str.h"

#include <string.h>

int evh_str_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

int evh_str_ends_with_any(const char *s, const char *const *suffixes)
{
	for (; *suffixes; suffixes++)
		if (evh_str_ends_with(s, *suffixes))
			return 1;
	return 0;
}
