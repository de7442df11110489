/* report_text.h — putting strings that come from run data (model names, task names, model output)
 * into Markdown, HTML and gnuplot data files without letting them become markup or syntax. */
#ifndef EVH_REPORT_TEXT_H
#define EVH_REPORT_TEXT_H

#include <stddef.h>

#include "harness/util/buf.h"

/* Appends s with & < > " ' as character references. Invalid UTF-8 bytes become U+FFFD and control
 * characters other than \n and \t are dropped, so the page stays well-formed XML. NULL appends "". */
int evh_html_add(struct evh_buf *b, const char *s);

/* Appends s for one Markdown table cell: HTML-escaped as above (renderers pass raw HTML through),
 * Markdown punctuation backslash-escaped, newlines as spaces. */
int evh_md_add(struct evh_buf *b, const char *s);

/* Appends s as a double-quoted gnuplot data-file string: quotes become ', backslashes /, control
 * characters and invalid UTF-8 dropped, at most `max` bytes (cut on a character boundary). */
int evh_gp_add(struct evh_buf *b, const char *s, size_t max);

/* Length of the longest prefix of s, at most max bytes, that ends on a UTF-8 character boundary. */
size_t evh_utf8_prefix(const char *s, size_t max);

#endif
