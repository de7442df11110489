/* report_text.c — escaping run data for Markdown, HTML and gnuplot; see report_text.h. */
#include "harness/report_text.h"

#include <string.h>

#include <utf8proc.h>

/* Calls fn for each code point of s; invalid sequences come as -1 with their one offending byte. */
typedef int (*cp_fn)(struct evh_buf *b, utf8proc_int32_t cp, const char *at, size_t n);

static int each_cp(struct evh_buf *b, const char *s, size_t len, cp_fn fn)
{
	size_t i = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
		if (n <= 0) {
			cp = -1;
			n = 1;
		}
		int rc = fn(b, cp, s + i, (size_t)n);
		if (rc)
			return rc;
		i += (size_t)n;
	}
	return 0;
}

static int html_cp(struct evh_buf *b, utf8proc_int32_t cp, const char *at, size_t n)
{
	switch (cp) {
	case -1: return evh_buf_adds(b, "\xEF\xBF\xBD");
	case '&': return evh_buf_adds(b, "&amp;");
	case '<': return evh_buf_adds(b, "&lt;");
	case '>': return evh_buf_adds(b, "&gt;");
	case '"': return evh_buf_adds(b, "&quot;");
	case '\'': return evh_buf_adds(b, "&#39;");
	case '\n':
	case '\t': return evh_buf_add(b, at, n);
	default:
		/* XML 1.0 forbids C0 controls; DEL and C1 are legal but useless in a report. */
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return 0;
		return evh_buf_add(b, at, n);
	}
}

int evh_html_add(struct evh_buf *b, const char *s)
{
	return s ? each_cp(b, s, strlen(s), html_cp) : 0;
}

static int md_cp(struct evh_buf *b, utf8proc_int32_t cp, const char *at, size_t n)
{
	if (cp == '\n' || cp == '\r' || cp == '\t')
		return evh_buf_adds(b, " ");
	/* Only what is inline markup inside a table cell: block syntax (#, -, +) needs a line start. */
	if (cp > 0 && cp < 0x80 && strchr("\\`*_[]|~", (int)cp)) {
		int rc = evh_buf_adds(b, "\\");
		return rc ? rc : evh_buf_add(b, at, n);
	}
	return html_cp(b, cp, at, n);
}

int evh_md_add(struct evh_buf *b, const char *s)
{
	return s ? each_cp(b, s, strlen(s), md_cp) : 0;
}

static int gp_cp(struct evh_buf *b, utf8proc_int32_t cp, const char *at, size_t n)
{
	if (cp == '"')
		return evh_buf_adds(b, "'");
	if (cp == '\\')
		return evh_buf_adds(b, "/");
	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		return 0; /* newlines would end the record; invalid bytes would reach the SVG */
	return evh_buf_add(b, at, n);
}

size_t evh_utf8_prefix(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len <= max)
		return len;
	/* Back up over continuation bytes (10xxxxxx) so a character is never cut. */
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

int evh_gp_add(struct evh_buf *b, const char *s, size_t max)
{
	int rc = evh_buf_adds(b, "\"");
	if (!rc && s)
		rc = each_cp(b, s, evh_utf8_prefix(s, max), gp_cp);
	return rc ? rc : evh_buf_adds(b, "\"");
}
