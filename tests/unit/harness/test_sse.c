/* test_sse.c — the SSE parser against streams split at every byte position: whatever the network
 * does to the chunking, the same events come out. Expected events are written by hand from the
 * WHATWG event-stream rules, not produced by the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "harness/sse.h"

/* Records events as "event|data" lines so one string compare checks order and content. */
static int record(void *ctx, const char *event, const char *data, size_t len, struct evh_err *err)
{
	struct evh_buf *out = ctx;
	assert_int_equal(strlen(data), len);
	evh_buf_printf(out, "%s|%s\n", event, data);
	return 0;
}

/* Parses `in` fed as pieces cut at positions a and b (a <= b), returns the recorded events. */
static char *parse_split(const char *in, size_t n, size_t a, size_t b)
{
	struct evh_buf out;
	evh_buf_init(&out, 1 << 20);
	struct evh_sse s;
	evh_sse_init(&s, record, &out);
	struct evh_err err = {0};
	assert_int_equal(evh_sse_feed(&s, in, a, &err), 0);
	assert_int_equal(evh_sse_feed(&s, in + a, b - a, &err), 0);
	assert_int_equal(evh_sse_feed(&s, in + b, n - b, &err), 0);
	assert_int_equal(evh_sse_finish(&s, &err), 0);
	evh_sse_fini(&s);
	return evh_buf_take(&out);
}

static void check_all_splits(const char *in, const char *want)
{
	size_t n = strlen(in);
	for (size_t a = 0; a <= n; a++)
		for (size_t b = a; b <= n; b++) {
			char *got = parse_split(in, n, a, b);
			if (strcmp(got, want)) {
				print_error("split at %zu,%zu:\n got: %s\nwant: %s\n", a, b, got, want);
				free(got);
				fail();
			}
			free(got);
		}
}

static void openai_stream(void **state)
{
	const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
			 ": keep-alive\n\n"
			 "data: {\"choices\":[]}\n\n"
			 "data: [DONE]\n\n";
	check_all_splits(in, "|{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n"
			     "|{\"choices\":[]}\n"
			     "|[DONE]\n");
}

static void crlf_and_cr_line_ends(void **state)
{
	/* CRLF (a split between CR and LF must not make an empty line, i.e. an early dispatch),
	 * bare CR, and a mix in one stream. */
	const char *in = "data: a\r\ndata: b\r\n\r\ndata: c\r\rdata:d\n\n";
	check_all_splits(in, "|a\nb\n|c\n|d\n");
}

static void fields_and_comments(void **state)
{
	const char *in = ":comment only\n"
			 "event: error\n"
			 "data:  two spaces keep one\n"
			 "id: 7\n"
			 "retry: 100\n"
			 "unknown: x\n"
			 "data\n" /* a field with no colon: empty value */
			 "\n"
			 "event: ignored without data\n\n"
			 "data: plain\n\n";
	check_all_splits(in, "error| two spaces keep one\n\n|plain\n");
}

static void eof_without_blank_line(void **state)
{
	/* A server that closes right after the last data line: finish() dispatches it. */
	check_all_splits("data: x\n\ndata: [DONE]", "|x\n|[DONE]\n");
	check_all_splits("data: [DONE]\n", "|[DONE]\n");
}

static void every_byte_alone(void **state)
{
	const char *in = "data: {\"a\":1}\r\n\r\n:c\r\ndata: [DONE]\r\n\r\n";
	struct evh_buf out;
	evh_buf_init(&out, 1 << 20);
	struct evh_sse s;
	evh_sse_init(&s, record, &out);
	for (const char *p = in; *p; p++)
		assert_int_equal(evh_sse_feed(&s, p, 1, NULL), 0);
	assert_int_equal(evh_sse_finish(&s, NULL), 0);
	assert_string_equal(evh_buf_str(&out), "|{\"a\":1}\n|[DONE]\n");
	assert_int_equal(s.events, 2);
	evh_sse_fini(&s);
	evh_buf_free(&out);
}

static int stop_at_second(void *ctx, const char *event, const char *data, size_t len,
			  struct evh_err *err)
{
	int *n = ctx;
	if (++*n == 2)
		return evh_err_fail(err, EVH_EFORMAT, NULL, "stop: %s", data);
	return 0;
}

static void callback_error_stops(void **state)
{
	int n = 0;
	struct evh_sse s;
	evh_sse_init(&s, stop_at_second, &n);
	struct evh_err err = {0};
	const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	assert_int_equal(evh_sse_feed(&s, in, strlen(in), &err), EVH_EFORMAT);
	assert_int_equal(n, 2);
	assert_string_equal(err.msg, "stop: 2");
	evh_sse_fini(&s);
}

static void line_limit(void **state)
{
	/* One line past EVH_LIMIT_SSE_LINE, fed in pieces, is refused with the offset, not buffered. */
	size_t piece = 1 << 20;
	char *junk = malloc(piece);
	memset(junk, 'x', piece);
	memcpy(junk, "data: ", 6);
	struct evh_sse s;
	evh_sse_init(&s, record, NULL);
	struct evh_err err = {0};
	int rc = 0;
	size_t fed = 0;
	while (!rc && fed <= EVH_LIMIT_SSE_LINE) {
		rc = evh_sse_feed(&s, junk, piece, &err);
		fed += piece;
		junk[0] = 'x';
	}
	assert_int_equal(rc, EVH_ELIMIT);
	assert_non_null(strstr(err.msg, "longer than"));
	assert_true(s.line.len <= EVH_LIMIT_SSE_LINE);
	evh_sse_fini(&s);
	free(junk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(openai_stream),
		cmocka_unit_test(crlf_and_cr_line_ends),
		cmocka_unit_test(fields_and_comments),
		cmocka_unit_test(eof_without_blank_line),
		cmocka_unit_test(every_byte_alone),
		cmocka_unit_test(callback_error_stops),
		cmocka_unit_test(line_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
