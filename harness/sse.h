/* sse.h — a push parser for Server-Sent Events (the WHATWG "event stream" format) as OpenAI-style
 * streaming APIs send it: bytes in, one callback per complete event out. It knows nothing of JSON
 * or HTTP; the caller feeds whatever chunks the network delivered, split anywhere. */
#ifndef EVH_SSE_H
#define EVH_SSE_H

#include <stddef.h>

#include "harness/util/buf.h"

/* Called once per event (a blank line ends it) that carried at least one `data:` field.
 * `data` is the data lines joined with '\n', NUL-terminated; `event` is the `event:` field or "".
 * Both are borrowed for the call only. Return 0 to go on, or a code (with err set) to stop parsing:
 * evh_sse_feed then returns that code. */
typedef int (*evh_sse_cb)(void *ctx, const char *event, const char *data, size_t len,
			  struct evh_err *err);

struct evh_sse {
	evh_sse_cb cb;
	void *ctx;
	struct evh_buf line;  /* the line being assembled, limit EVH_LIMIT_SSE_LINE */
	struct evh_buf data;  /* data of the event being assembled, same limit */
	struct evh_buf event; /* its `event:` field */
	int has_data;         /* a data field was seen since the last dispatch */
	int after_cr;         /* the last byte was CR: a following LF belongs to the same line end */
	size_t offset;        /* bytes consumed so far, for error locations */
	size_t events;        /* events dispatched */
};

void evh_sse_init(struct evh_sse *s, evh_sse_cb cb, void *ctx);
/* Consumes n bytes. Returns 0, EVH_ELIMIT (a line or event longer than EVH_LIMIT_SSE_LINE; err
 * names the byte offset), EVH_ENOMEM, or the callback's code. After a failure the parser must not be
 * fed again. */
int evh_sse_feed(struct evh_sse *s, const char *p, size_t n, struct evh_err *err);
/* End of stream: a last line without its terminator and an event without its blank line are
 * dispatched too (the spec discards them, but a server that closes right after `data: [DONE]`
 * meant it). Returns as evh_sse_feed. */
int evh_sse_finish(struct evh_sse *s, struct evh_err *err);
void evh_sse_fini(struct evh_sse *s); /* frees buffers; NULL and zeroed structs allowed */

#endif
