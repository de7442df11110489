/* fuzz_entry.h — what every scorer fuzz target shares: the input as a C string (the parsers take
 * text) and the libFuzzer entry point, left out under FUZZ_NO_ENTRY so that
 * tests/unit/scorers/test_fuzz_corpus.c can include several targets and replay their bodies. */
#ifndef EVH_FUZZ_ENTRY_H
#define EVH_FUZZ_ENTRY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input, NUL-terminated, malloc'd (an embedded NUL ends it early); NULL when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* FUZZ_ENTRY(body), at file scope after the body: LLVMFuzzerTestOneInput returns body(data, size). */
#ifdef FUZZ_NO_ENTRY
#define FUZZ_ENTRY(body)
#else
#define FUZZ_ENTRY(body)                                                                                   \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                      \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                       \
	{                                                                                                  \
		return body(data, size);                                                                   \
	}
#endif

#endif
