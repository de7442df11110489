/* sse.c — Server-Sent Events push parser; see sse.h. Follows the WHATWG HTML "Parsing an event
 * stream" rules: lines end in CRLF, LF or CR; a leading ':' is a comment; "field: value" drops one
 * space after the colon; `data` lines accumulate joined by LF; a blank line dispatches. `id` and
 * `retry` are ignored: a chat completion is never resumed by Last-Event-ID. */
#include "harness/sse.h"

#include <string.h>

void evh_sse_init(struct evh_sse *s, evh_sse_cb cb, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->cb = cb;
	s->ctx = ctx;
	evh_buf_init(&s->line, EVH_LIMIT_SSE_LINE);
	evh_buf_init(&s->data, EVH_LIMIT_SSE_LINE);
	evh_buf_init(&s->event, 256);
}

void evh_sse_fini(struct evh_sse *s)
{
	if (!s)
		return;
	evh_buf_free(&s->line);
	evh_buf_free(&s->data);
	evh_buf_free(&s->event);
}

static int dispatch(struct evh_sse *s, struct evh_err *err)
{
	int rc = EVH_OK;
	if (s->has_data) {
		s->events++;
		rc = s->cb(s->ctx, evh_buf_str(&s->event), evh_buf_str(&s->data), s->data.len, err);
	}
	s->has_data = 0;
	evh_buf_reset(&s->data);
	evh_buf_reset(&s->event);
	return rc;
}

static int too_long(struct evh_sse *s, int rc, struct evh_err *err)
{
	if (rc == EVH_ELIMIT)
		return evh_err_fail(err, rc, NULL, "SSE line or event longer than %u bytes at byte %zu",
				    (unsigned)EVH_LIMIT_SSE_LINE, s->offset);
	return evh_err_fail(err, rc, NULL, "SSE parser: out of memory at byte %zu", s->offset);
}

/* One complete line (without its terminator). */
static int take_line(struct evh_sse *s, const char *l, size_t n, struct evh_err *err)
{
	if (n == 0)
		return dispatch(s, err);
	if (l[0] == ':')
		return EVH_OK; /* comment: servers send ": keep-alive" / ": OPENROUTER PROCESSING" */
	const char *colon = memchr(l, ':', n);
	size_t fn = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	size_t vn = (size_t)(l + n - v);
	if (vn && *v == ' ')
		v++, vn--;
	int rc = EVH_OK;
	if (fn == 4 && !memcmp(l, "data", 4)) {
		if (s->has_data)
			rc = evh_buf_add(&s->data, "\n", 1);
		if (!rc)
			rc = evh_buf_add(&s->data, v, vn);
		s->has_data = 1;
	} else if (fn == 5 && !memcmp(l, "event", 5)) {
		evh_buf_reset(&s->event);
		rc = evh_buf_add(&s->event, v, vn);
	}
	return rc ? too_long(s, rc, err) : EVH_OK;
}

int evh_sse_feed(struct evh_sse *s, const char *p, size_t n, struct evh_err *err)
{
	const char *end = p + n;
	while (p < end) {
		if (s->after_cr) {
			s->after_cr = 0;
			if (*p == '\n') { /* the LF of a CRLF split across two reads */
				p++, s->offset++;
				continue;
			}
		}
		const char *q = p;
		while (q < end && *q != '\n' && *q != '\r')
			q++;
		int rc;
		if (q == end) { /* no terminator yet: keep the piece for the next read */
			if ((rc = evh_buf_add(&s->line, p, (size_t)(q - p))))
				return too_long(s, rc, err);
			s->offset += (size_t)(q - p);
			break;
		}
		if (s->line.len) { /* the line started in an earlier read */
			if ((rc = evh_buf_add(&s->line, p, (size_t)(q - p))))
				return too_long(s, rc, err);
			rc = take_line(s, s->line.data, s->line.len, err);
			evh_buf_reset(&s->line);
		} else {
			rc = take_line(s, p, (size_t)(q - p), err);
		}
		if (rc)
			return rc;
		s->offset += (size_t)(q - p) + 1;
		if (*q == '\r') {
			if (q + 1 < end && q[1] == '\n')
				q++, s->offset++;
			else if (q + 1 == end)
				s->after_cr = 1;
		}
		p = q + 1;
	}
	return EVH_OK;
}

int evh_sse_finish(struct evh_sse *s, struct evh_err *err)
{
	int rc = EVH_OK;
	if (s->line.len) {
		rc = take_line(s, s->line.data, s->line.len, err);
		evh_buf_reset(&s->line);
	}
	if (!rc)
		rc = dispatch(s, err);
	return rc;
}

#ifdef FUZZING
/* libFuzzer entry: the input is split where its first byte says, so chunk boundaries are fuzzed too.
 * Build: clang -DFUZZING -fsanitize=fuzzer,address -I. harness/sse.c harness/util/buf.c harness/util/err.c */
static int fuzz_cb(void *ctx, const char *event, const char *data, size_t len, struct evh_err *err)
{
	return data[len] != '\0' ? EVH_EINTERNAL : 0; /* data must be NUL-terminated at len */
}

int LLVMFuzzerTestOneInput(const unsigned char *p, size_t n)
{
	if (!n)
		return 0;
	size_t cut = p[0] % n;
	struct evh_sse s;
	evh_sse_init(&s, fuzz_cb, NULL);
	int rc = evh_sse_feed(&s, (const char *)p + 1, cut, NULL);
	if (!rc)
		rc = evh_sse_feed(&s, (const char *)p + 1 + cut, n - 1 - cut, NULL);
	if (!rc)
		evh_sse_finish(&s, NULL);
	evh_sse_fini(&s);
	return 0;
}
#endif
