/* engine.c — the public API of engine.h on the CPU path: a model is the transformer (model.h) plus
 * its tokenizer and chat family; a session owns one run state (KV cache) and generates one chat
 * turn at a time: render, encode, prefill (the prompt as rows of batched steps), sample until EOS or
 * max_tokens, decode. The per-request part (eng_gen_*) is shared with batch.c's scheduler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/batch_internal.h"
#include "engine/err.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

/* A session's context: the model's own limit, capped so that a 128k-context config does not make
 * every session allocate a KV cache for 128k positions. */
#define ENG_SESSION_MAX_SEQ 32768

struct eng_model {
	struct eng_transformer *tf;
	struct eng_tokenizer *tok;
	int family;       /* enum eng_chat_family */
	int eos[8], n_eos; /* config.json eos_token_id(s) and the tokenizer's eos */
	int32_t think_end; /* id of "</think>", -1 when the vocabulary has none */
	int n_threads;     /* per session, for matmuls */
};

struct eng_session {
	struct eng_model *m;
	struct eng_state *st;   /* the KV cache */
	struct eng_bstate *bs;  /* prefill chunks of ENG_PREFILL_ROWS rows */
	int *tok, *pos;         /* (ENG_PREFILL_ROWS) a chunk's rows */
	struct eng_state **seq; /* (ENG_PREFILL_ROWS) all s->st */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void eng_model_free(struct eng_model *m)
{
	if (!m)
		return;
	eng_transformer_free(m->tf);
	eng_tok_free(m->tok);
	free(m);
}

int eng_model_load(const char *dir, struct eng_model **out, struct eng_err *err)
{
	return eng_model_load_parallel(dir, NULL, out, err);
}

int eng_model_load_parallel(const char *dir, const struct eng_par_opts *po, struct eng_model **out,
			    struct eng_err *err)
{
	*out = NULL;
	if (err)
		memset(err, 0, sizeof *err);
	if (po && eng_par_opts_check(po, dir, err))
		return err ? err->code : ENG_EMISUSE;
	struct eng_model *m = calloc(1, sizeof *m);
	if (!m)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", dir);
	/* A split model drives all ranks from eng_forward, so sessions need not know about it. */
	int rc = po && po->tp * po->ep > 1
			 ? eng_transformer_load_split(dir, po->tp, po->ep, po->comm, po->timeout_ms, &m->tf, err)
			 : eng_transformer_load(dir, &m->tf, err);
	char tj[4096], tc[4096];
	if (rc == ENG_OK && ((size_t)snprintf(tj, sizeof tj, "%s/tokenizer.json", dir) >= sizeof tj ||
			     (size_t)snprintf(tc, sizeof tc, "%s/tokenizer_config.json", dir) >= sizeof tc))
		rc = eng_errf(err, ENG_ELIMIT, "%s: path too long", dir);
	if (rc == ENG_OK)
		rc = eng_tok_load(tj, access(tc, F_OK) == 0 ? tc : NULL, &m->tok, err);
	if (rc == ENG_OK && eng_tok_vocab_size(m->tok) > (size_t)m->tf->cfg.vocab_size)
		rc = eng_errf(err, ENG_EFORMAT, "%s: %zu tokens, more than config.json vocab_size %d", tj,
			      eng_tok_vocab_size(m->tok), m->tf->cfg.vocab_size);
	if (rc) {
		eng_model_free(m);
		return rc;
	}
	const struct eng_config *c = &m->tf->cfg;
	for (int i = 0; i < c->n_eos; i++)
		m->eos[m->n_eos++] = c->eos_ids[i];
	int32_t te = eng_tok_eos(m->tok);
	if (te >= 0)
		m->eos[m->n_eos++] = te;
	m->family = eng_tok_chat_family(m->tok);
	m->n_threads = 1;
	m->think_end = eng_tok_id(m->tok, "</think>");
	*out = m;
	return ENG_OK;
}

int eng_model_set_threads(struct eng_model *m, int n_threads, struct eng_err *err)
{
	if (n_threads < 1 || n_threads > 256)
		return eng_errf(err, ENG_EMISUSE, "threads %d: must be 1..256", n_threads);
	m->n_threads = n_threads;
	return ENG_OK;
}

const char *eng_model_arch(const struct eng_model *m)
{
	return m->tf->cfg.model_type;
}

size_t eng_model_params(const struct eng_model *m)
{
	return m->tf->n_params;
}

int eng_session_create(struct eng_model *m, struct eng_session **out, struct eng_err *err)
{
	*out = NULL;
	if (err)
		memset(err, 0, sizeof *err);
	struct eng_session *s = calloc(1, sizeof *s);
	if (!s)
		return eng_errf(err, ENG_ENOMEM, "out of memory for a session");
	int max_seq = eng_model_max_seq(m);
	int rc = eng_state_create(m->tf, max_seq, &s->st, err);
	if (rc == ENG_OK && m->n_threads > 1)
		rc = eng_state_threads(s->st, m->n_threads, err);
	if (rc == ENG_OK)
		rc = eng_bstate_create(m->tf, ENG_PREFILL_ROWS, max_seq, &s->bs, err);
	if (rc == ENG_OK && m->n_threads > 1)
		rc = eng_bstate_threads(s->bs, m->n_threads, err);
	if (rc == ENG_OK && (!(s->tok = malloc(ENG_PREFILL_ROWS * sizeof *s->tok)) ||
			     !(s->pos = malloc(ENG_PREFILL_ROWS * sizeof *s->pos)) ||
			     !(s->seq = malloc(ENG_PREFILL_ROWS * sizeof *s->seq))))
		rc = eng_errf(err, ENG_ENOMEM, "out of memory for a session");
	if (rc) {
		eng_session_free(s);
		return rc;
	}
	s->m = m;
	*out = s;
	return ENG_OK;
}

void eng_session_free(struct eng_session *s)
{
	if (!s)
		return;
	eng_state_free(s->st);
	eng_bstate_free(s->bs);
	free(s->tok);
	free(s->pos);
	free(s->seq);
	free(s);
}

void eng_gen_result_free(struct eng_gen_result *r)
{
	if (!r)
		return;
	free(r->text);
	memset(r, 0, sizeof *r);
}

int eng_count_tokens(const struct eng_model *m, const char *text)
{
	int32_t *ids = NULL;
	size_t n = 0;
	if (eng_tok_encode(m->tok, text, strlen(text), &ids, &n, NULL) != ENG_OK)
		return -1;
	free(ids);
	return n > (size_t)0x7fffffff ? -1 : (int)n;
}

static int is_eos(const struct eng_model *m, int tok)
{
	for (int i = 0; i < m->n_eos; i++)
		if (m->eos[i] == tok)
			return 1;
	return 0;
}

/* Length of the prefix of buf[0..n) that ends on a UTF-8 character boundary: a token may end in the
 * middle of a character, whose remaining bytes come with the next token. */
static size_t utf8_complete(const unsigned char *buf, size_t n)
{
	size_t i = n, back = 0;
	while (i > 0 && back < 4 && (buf[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return n;
	unsigned char lead = buf[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return back + 1 >= need ? n : i - 1;
}

/* Streaming of decoded pieces to the caller's callback, holding back an incomplete character. */
struct stream {
	eng_token_cb cb;
	void *ctx;
	unsigned char pend[64];
	size_t n;
	int stopped;
};

static void stream_piece(struct stream *st, const char *piece, size_t len, int flush)
{
	if (!st->cb || st->stopped)
		return;
	while (len > 0 || flush) {
		size_t take = len < sizeof st->pend - st->n ? len : sizeof st->pend - st->n;
		memcpy(st->pend + st->n, piece, take);
		st->n += take;
		piece += take;
		len -= take;
		size_t ok = flush && len == 0 ? st->n : utf8_complete(st->pend, st->n);
		if (ok == 0 && st->n == sizeof st->pend) /* not UTF-8 at all: pass the bytes on */
			ok = st->n;
		if (ok > 0 && st->cb(st->ctx, (const char *)st->pend, ok) != 0)
			st->stopped = 1;
		memmove(st->pend, st->pend + ok, st->n - ok);
		st->n -= ok;
		if (flush && len == 0)
			break;
	}
}

/* Why eng_forward returned NULL: the state's own error (a rank of a split model failed, ...) when
 * it holds one, else a token outside the vocabulary. */
static int forward_failed(const struct eng_session *s, struct eng_err *err, int tok, size_t pos)
{
	if (s->st->err.code) {
		if (err)
			*err = s->st->err;
		return s->st->err.code;
	}
	return eng_errf(err, ENG_EFORMAT, "token %d at position %zu outside the vocabulary (%d)", tok, pos,
			s->m->tf->cfg.vocab_size);
}

/* Keeps the top_k (id, logit) pairs of one step, largest first: k is small, insertion will do. */
static void trace_top(struct eng_gen_trace *t, const float *logits, int vocab)
{
	int k = t->top_k;
	int32_t *ids = t->top_ids + t->n * (size_t)k;
	float *val = t->top_logits + t->n * (size_t)k;
	int have = 0;
	for (int v = 0; v < vocab; v++) {
		if (have == k && logits[v] <= val[k - 1])
			continue;
		int j = have < k ? have++ : k - 1;
		while (j > 0 && val[j - 1] < logits[v]) {
			val[j] = val[j - 1];
			ids[j] = ids[j - 1];
			j--;
		}
		val[j] = logits[v];
		ids[j] = v;
	}
}

/* Offset of the first stop string inside text[0..n), searching only where the bytes of the last
 * piece (piece_len) could have completed one; -1 when none. */
static long find_stop(const struct eng_gen_input *in, const char *text, size_t n, size_t piece_len)
{
	long best = -1;
	for (size_t i = 0; i < in->n_stop; i++) {
		size_t ls = strlen(in->stop[i]);
		if (ls == 0 || ls > n)
			continue;
		size_t from = n > ls + piece_len ? n - ls - piece_len : 0;
		const char *hit = memmem(text + from, n - from, in->stop[i], ls);
		if (hit && (best < 0 || hit - text < best))
			best = hit - text;
	}
	return best;
}

void eng_gen_trace_free(struct eng_gen_trace *t)
{
	if (!t)
		return;
	free(t->prompt_ids);
	free(t->ids);
	free(t->top_ids);
	free(t->top_logits);
	int k = t->top_k;
	memset(t, 0, sizeof *t);
	t->top_k = k;
}

int eng_chat(struct eng_session *s, const char *system, const char *user, const struct eng_gen_opts *o,
	     eng_token_cb cb, void *cb_ctx, struct eng_gen_result *out, struct eng_err *err)
{
	struct eng_gen_input in = {.system = system, .text = user, .chat = 1};
	return eng_generate(s, &in, o, cb, cb_ctx, NULL, out, err);
}

/* ---- one request's generation (batch_internal.h), shared by eng_generate and batch.c ---- */

struct eng_gen {
	const struct eng_model *m;
	const char *const *stop;
	size_t n_stop;
	struct eng_gen_opts o;
	struct eng_gen_trace *trace;
	double t0;
	double compute_s; /* share of batched step time, 0 when run alone */
	int32_t *ids, *gen; /* prompt (n), generated (ng of at most o.max_tokens) */
	size_t n;
	int ng, pos, max_seq;
	char *text; /* decoded bytes, kept only for stop strings */
	size_t text_len, text_cap;
	long stop_at;
	struct eng_sampler smp;
	struct stream st;
	struct eng_gen_result res; /* counts and timings as they come */
};

void eng_gen_free(struct eng_gen *g)
{
	if (!g)
		return;
	eng_sampler_fini(&g->smp);
	free(g->ids);
	free(g->gen);
	free(g->text);
	free(g);
}

int eng_gen_start(const struct eng_model *m, const struct eng_gen_input *in, const struct eng_gen_opts *o,
		  int max_seq, eng_token_cb cb, void *cb_ctx, struct eng_gen_trace *trace, struct eng_gen **out,
		  struct eng_err *err)
{
	*out = NULL;
	struct eng_gen_opts defaults;
	if (!o) {
		eng_gen_opts_defaults(&defaults);
		o = &defaults;
	}
	if (!in || (!in->text && !(in->chat && in->n_msgs)))
		return eng_errf(err, ENG_EMISUSE, "eng_generate: text (or chat messages) is required");
	if (o->max_tokens < 1)
		return eng_errf(err, ENG_EMISUSE, "max_tokens %d: must be >= 1", o->max_tokens);
	if (trace && (trace->top_k < 0 || trace->top_k > 64))
		return eng_errf(err, ENG_EMISUSE, "trace top_k %d: must be 0..64", trace->top_k);
	struct eng_gen *g = calloc(1, sizeof *g);
	if (!g)
		return eng_errf(err, ENG_ENOMEM, "out of memory");
	*g = (struct eng_gen){.m = m, .stop = in->stop, .n_stop = in->n_stop, .o = *o, .trace = trace, .t0 = now_s(),
			      .max_seq = max_seq, .stop_at = -1, .st = {.cb = cb, .ctx = cb_ctx}};
	char *prompt = NULL;
	int rc = ENG_OK;
	if (in->chat && in->n_msgs)
		rc = eng_chat_render_msgs(m->tok, m->family, in->msgs, in->n_msgs, 0, &prompt, err);
	else if (in->chat)
		rc = eng_chat_render(m->tok, m->family, in->system, in->text, &prompt, err);
	else if (!(prompt = strdup(in->text)))
		rc = eng_errf(err, ENG_ENOMEM, "out of memory");
	if (rc == ENG_OK)
		rc = eng_tok_encode(m->tok, prompt, strlen(prompt), &g->ids, &g->n, err);
	free(prompt);
	if (rc == ENG_OK && (g->n == 0 || g->n >= (size_t)max_seq))
		rc = eng_errf(err, ENG_ELIMIT, "prompt of %zu tokens does not fit the context of %d", g->n, max_seq);
	if (rc == ENG_OK)
		rc = eng_sampler_init(&g->smp, m->tf->cfg.vocab_size, o, err);
	if (rc == ENG_OK && !(g->gen = malloc((size_t)o->max_tokens * sizeof *g->gen)))
		rc = eng_errf(err, ENG_ENOMEM, "out of memory for %d tokens", o->max_tokens);
	if (rc == ENG_OK && trace) {
		size_t k = (size_t)trace->top_k, mt = (size_t)o->max_tokens;
		trace->prompt_ids = malloc(g->n * sizeof *trace->prompt_ids);
		trace->ids = malloc(mt * sizeof *trace->ids);
		trace->top_ids = malloc((k ? k * mt : 1) * sizeof *trace->top_ids);
		trace->top_logits = malloc((k ? k * mt : 1) * sizeof *trace->top_logits);
		if (!trace->prompt_ids || !trace->ids || !trace->top_ids || !trace->top_logits)
			rc = eng_errf(err, ENG_ENOMEM, "out of memory for the trace");
		else
			memcpy(trace->prompt_ids, g->ids, g->n * sizeof *g->ids);
		trace->n_prompt = g->n;
	}
	if (rc) {
		eng_gen_trace_free(trace);
		eng_gen_free(g);
		return rc;
	}
	g->res.n_prompt = (int)g->n;
	g->res.finish = ENG_FINISH_LENGTH;
	g->pos = (int)g->n;
	*out = g;
	return ENG_OK;
}

const int32_t *eng_gen_prompt(const struct eng_gen *g, int *n)
{
	*n = (int)g->n;
	return g->ids;
}

int eng_gen_step(struct eng_gen *g, float *logits, int *next, int *pos, struct eng_err *err)
{
	const struct eng_model *m = g->m;
	*next = -1;
	if (g->trace && g->trace->top_k)
		trace_top(g->trace, logits, m->tf->cfg.vocab_size);
	int tok = eng_sample(&g->smp, logits);
	if (g->ng == 0)
		g->res.ttft_s = now_s() - g->t0;
	if (is_eos(m, tok)) {
		g->res.finish = ENG_FINISH_STOP;
		return ENG_OK;
	}
	g->gen[g->ng++] = tok;
	if (g->trace)
		g->trace->ids[g->trace->n++] = tok;
	if (tok == m->think_end && g->res.n_reasoning == 0)
		g->res.n_reasoning = g->ng;
	size_t plen = 0;
	const char *piece = eng_tok_piece(m->tok, tok, &plen);
	if (piece && g->n_stop) {
		/* Stop strings are matched on the decoded bytes, which may span tokens. */
		if (g->text_len + plen + 1 > g->text_cap) {
			size_t cap = (g->text_len + plen + 1) * 2;
			char *t = realloc(g->text, cap);
			if (!t)
				return eng_errf(err, ENG_ENOMEM, "out of memory");
			g->text = t;
			g->text_cap = cap;
		}
		memcpy(g->text + g->text_len, piece, plen);
		g->text_len += plen;
		struct eng_gen_input in = {.stop = g->stop, .n_stop = g->n_stop};
		if ((g->stop_at = find_stop(&in, g->text, g->text_len, plen)) >= 0) {
			g->res.finish = ENG_FINISH_STOP;
			return ENG_OK;
		}
	}
	if (piece)
		stream_piece(&g->st, piece, plen, 0);
	if (g->st.stopped) {
		g->res.finish = ENG_FINISH_STOP;
		return ENG_OK;
	}
	if (g->ng >= g->o.max_tokens || g->pos >= g->max_seq)
		return ENG_OK;
	*next = tok;
	*pos = g->pos++;
	return ENG_OK;
}

void eng_gen_add_compute(struct eng_gen *g, double s)
{
	g->compute_s += s;
}

int eng_gen_finish(struct eng_gen *g, struct eng_gen_result *out, struct eng_err *err)
{
	int rc = ENG_OK;
	stream_piece(&g->st, "", 0, 1);
	*out = g->res;
	out->n_completion = g->ng;
	/* The text ends before the stop string, as OpenAI's `stop` does. */
	out->text = g->stop_at >= 0 ? strndup(g->text, (size_t)g->stop_at) : eng_tok_decode(g->m->tok, g->gen, (size_t)g->ng, 0);
	out->total_s = now_s() - g->t0;
	out->compute_s = g->compute_s > 0 ? g->compute_s : out->total_s;
	if (!out->text) {
		rc = eng_errf(err, ENG_ENOMEM, "out of memory decoding %d tokens", g->ng);
		eng_gen_result_free(out);
	}
	eng_gen_free(g);
	return rc;
}

const struct eng_transformer *eng_model_tf(const struct eng_model *m)
{
	return m->tf;
}

int eng_model_threads(const struct eng_model *m)
{
	return m->n_threads;
}

int eng_model_max_seq(const struct eng_model *m)
{
	int max_seq = m->tf->cfg.max_position_embeddings;
	return max_seq > ENG_SESSION_MAX_SEQ ? ENG_SESSION_MAX_SEQ : max_seq;
}

/* Prefill: the prompt in chunks of up to bs->max_rows rows of one batched step each; only the
 * last position's logits are computed. Returns them (bs->logits, ours to scale), NULL on failure. */
static float *prefill(struct eng_session *s, const int32_t *ids, int n, struct eng_err *err)
{
	const struct eng_transformer *tf = s->m->tf;
	struct eng_bstate *bs = s->bs;
	const float *lg = NULL;
	int k = 0;
	for (int at = 0; at < n; at += k) {
		k = n - at < bs->max_rows ? n - at : bs->max_rows;
		for (int i = 0; i < k; i++) {
			s->tok[i] = ids[at + i];
			s->pos[i] = at + i;
			s->seq[i] = s->st;
		}
		if (!(lg = eng_forward_batch(tf, bs, k, s->tok, s->pos, s->seq, at + k < n ? ENG_FF_KV_ONLY : ENG_FF_LAST_ROWS))) {
			if (err)
				*err = bs->err;
			return NULL;
		}
	}
	return bs->logits + (size_t)(k - 1) * tf->cfg.vocab_size;
}

int eng_generate(struct eng_session *s, const struct eng_gen_input *in, const struct eng_gen_opts *o,
		 eng_token_cb cb, void *cb_ctx, struct eng_gen_trace *trace, struct eng_gen_result *out,
		 struct eng_err *err)
{
	memset(out, 0, sizeof *out);
	if (err)
		memset(err, 0, sizeof *err);
	if (!s || !in || (!in->text && !(in->chat && in->n_msgs)))
		return eng_errf(err, ENG_EMISUSE, "eng_generate: session and text (or chat messages) are required");
	struct eng_gen *g = NULL;
	int rc = eng_gen_start(s->m, in, o, s->st->max_seq, cb, cb_ctx, trace, &g, err);
	if (rc)
		return rc;
	int n = 0, next = -1, pos = 0;
	const int32_t *ids = eng_gen_prompt(g, &n);
	float *logits = prefill(s, ids, n, err);
	if (!logits)
		rc = err && err->code ? err->code : ENG_EINTERNAL;
	/* Decode one token per step until EOS, a stop string, max_tokens, the context end or the
	 * callback says stop. */
	while (rc == ENG_OK && (rc = eng_gen_step(g, logits, &next, &pos, err)) == ENG_OK && next >= 0) {
		if (!eng_forward(s->m->tf, s->st, next, pos, 0))
			rc = forward_failed(s, err, next, (size_t)pos);
		logits = s->st->logits; /* the sampler may scale them in place; they are ours */
	}
	if (rc) {
		eng_gen_free(g);
		eng_gen_trace_free(trace);
		return rc;
	}
	if ((rc = eng_gen_finish(g, out, err)))
		eng_gen_trace_free(trace);
	return rc;
}
