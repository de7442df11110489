/* serve_text.c — the reasoning/stop filter of serve_int.h: one choice's pieces in, released
 * reasoning and content out, in order, so that streamed deltas and the whole response agree byte
 * for byte. The split mirrors provider_engine.c's (text before "</think>" is reasoning; the answer
 * starts after the spaces and newlines that follow it), so in-process and served runs extract the
 * same answers. */
#include <string.h>

#include "harness/serve_int.h"

static const char think_open[] = "<think>";
static const char think_close[] = "</think>";

void evh_srv_text_init(struct evh_srv_text *t, int phase, char *const *stop, int n_stop)
{
	memset(t, 0, sizeof *t);
	t->phase = phase;
	t->stop = stop;
	t->n_stop = n_stop;
	evh_buf_init(&t->reasoning, EVH_LIMIT_TEXT);
	evh_buf_init(&t->content, EVH_LIMIT_TEXT);
	evh_buf_init(&t->hold, EVH_LIMIT_TEXT);
}

void evh_srv_text_fini(struct evh_srv_text *t)
{
	if (!t)
		return;
	evh_buf_free(&t->reasoning);
	evh_buf_free(&t->content);
	evh_buf_free(&t->hold);
}

/* Longest suffix of s[0..n) that is a proper prefix of word (so more bytes could complete it). */
static size_t partial_suffix(const char *s, size_t n, const char *word)
{
	size_t wl = strlen(word);
	size_t k = n < wl - 1 ? n : wl - 1;
	for (; k > 0; k--)
		if (memcmp(s + n - k, word, k) == 0)
			return k;
	return 0;
}

/* Keeps the first `keep` bytes of the hold buffer's tail: drops the released head. */
static void hold_drop(struct evh_buf *h, size_t head)
{
	memmove(h->data, h->data + head, h->len - head);
	h->len -= head;
	if (h->data)
		h->data[h->len] = '\0';
}

static int release(struct evh_buf *to, const char *p, size_t n)
{
	int rc = n ? evh_buf_add(to, p, n) : EVH_OK;
	return rc ? -rc : 0;
}

static int feed_answer(struct evh_srv_text *t, const char *p, size_t n)
{
	if (t->skip_ws) {
		while (n && (*p == ' ' || *p == '\n')) {
			p++;
			n--;
		}
		if (!n)
			return 0;
		t->skip_ws = 0;
	}
	if (!t->n_stop)
		return release(&t->content, p, n);
	int rc = release(&t->hold, p, n);
	if (rc)
		return rc;
	struct evh_buf *h = &t->hold;
	/* The earliest stop string wins; any match starts inside the hold (see partial_suffix). */
	size_t cut = h->len;
	for (int i = 0; i < t->n_stop; i++) {
		const char *m = memmem(h->data, h->len, t->stop[i], strlen(t->stop[i]));
		if (m && (size_t)(m - h->data) < cut)
			cut = (size_t)(m - h->data);
	}
	if (cut < h->len) {
		rc = release(&t->content, h->data, cut);
		h->len = 0;
		t->stopped = 1;
		return rc ? rc : 1;
	}
	size_t keep = 0;
	for (int i = 0; i < t->n_stop; i++) {
		size_t k = partial_suffix(h->data, h->len, t->stop[i]);
		if (k > keep)
			keep = k;
	}
	rc = release(&t->content, h->data, h->len - keep);
	hold_drop(h, h->len - keep);
	return rc;
}

int evh_srv_text_feed(struct evh_srv_text *t, const char *p, size_t n)
{
	if (t->stopped)
		return 1;
	if (t->phase == EVH_SRV_ANSWER)
		return feed_answer(t, p, n);
	int rc = release(&t->hold, p, n);
	if (rc)
		return rc;
	struct evh_buf *h = &t->hold;
	if (t->phase == EVH_SRV_MAYBE_THINK) {
		size_t ol = sizeof think_open - 1;
		size_t cmp = h->len < ol ? h->len : ol;
		if (memcmp(h->data, think_open, cmp) != 0) { /* no reasoning block: all of it is answer */
			t->phase = EVH_SRV_ANSWER;
			struct evh_buf tmp = *h;
			evh_buf_init(h, EVH_LIMIT_TEXT);
			rc = feed_answer(t, tmp.data, tmp.len);
			evh_buf_free(&tmp);
			return rc;
		}
		if (h->len < ol)
			return 0; /* still could be "<think>" */
		hold_drop(h, ol);
		t->phase = EVH_SRV_THINK;
	}
	const char *close = h->len ? memmem(h->data, h->len, think_close, sizeof think_close - 1) : NULL;
	if (close) {
		size_t at = (size_t)(close - h->data), after = at + sizeof think_close - 1;
		rc = release(&t->reasoning, h->data, at);
		if (rc)
			return rc;
		struct evh_buf tmp = *h;
		evh_buf_init(h, EVH_LIMIT_TEXT);
		t->phase = EVH_SRV_ANSWER;
		t->skip_ws = 1;
		rc = feed_answer(t, tmp.data + after, tmp.len - after);
		evh_buf_free(&tmp);
		return rc;
	}
	size_t keep = partial_suffix(h->data, h->len, think_close);
	rc = release(&t->reasoning, h->data, h->len - keep);
	hold_drop(h, h->len - keep);
	return rc;
}

int evh_srv_text_finish(struct evh_srv_text *t)
{
	struct evh_buf *h = &t->hold;
	int rc = 0;
	if (!t->stopped && h->len) {
		/* A reasoning block never closed stays reasoning (a length cut inside it); an unfinished
		 * "<thi" or a partial stop string is answer text after all. */
		struct evh_buf *to = t->phase == EVH_SRV_THINK ? &t->reasoning : &t->content;
		rc = release(to, h->data, h->len);
	}
	h->len = 0;
	return rc;
}
