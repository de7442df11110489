/* str.h — small string tests shared by harness/ and tasks/ (file names by their extension). */
#ifndef EVH_STR_H
#define EVH_STR_H

/* 1 when s is longer than suffix and ends with it (".zip" alone is no archive name). */
int evh_str_ends_with(const char *s, const char *suffix);

/* 1 when s ends with one of the suffixes (NULL-terminated list), as evh_str_ends_with. */
int evh_str_ends_with_any(const char *s, const char *const *suffixes);

#endif
