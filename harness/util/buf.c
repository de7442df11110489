/* buf.c — growable buffer with a ceiling; see buf.h. */
#include "harness/util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void evh_buf_init(struct evh_buf *b, size_t limit)
{
	memset(b, 0, sizeof *b);
	b->limit = limit;
}

int evh_buf_add(struct evh_buf *b, const void *p, size_t n)
{
	if (n > b->limit || b->len > b->limit - n)
		return EVH_ELIMIT;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return EVH_ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return EVH_OK;
}

int evh_buf_adds(struct evh_buf *b, const char *s)
{
	return evh_buf_add(b, s, strlen(s));
}

int evh_buf_printf(struct evh_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return EVH_EINTERNAL;
	if ((size_t)n < sizeof small)
		return evh_buf_add(b, small, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big)
		return EVH_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = evh_buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

void evh_buf_reset(struct evh_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *evh_buf_take(struct evh_buf *b)
{
	char *d = b->data;
	if (!d)
		d = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void evh_buf_free(struct evh_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *evh_buf_str(const struct evh_buf *b)
{
	return b->data ? b->data : "";
}
