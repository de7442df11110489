/* batch_internal.h — what engine.c shares with batch.c (internal): one request's generation as a
 * small state machine the caller feeds with logits, so that one-at-a-time eng_generate and the
 * continuous-batching scheduler turn logits into tokens, streamed pieces, stop decisions and
 * results by the same code. The caller owns the forward steps (and the KV cache they fill). */
#ifndef ENG_BATCH_INTERNAL_H
#define ENG_BATCH_INTERNAL_H

#include "engine/model.h"

/* Rows of a prompt run per batched step (a session's prefill chunk; the scheduler's prefill
 * budget per step beside its decode rows). */
#define ENG_PREFILL_ROWS 64

struct eng_gen;

/* Renders (chat) and encodes in->text, and readies the sampler, the stream to cb and the stop
 * strings (in->stop is kept: it must outlive g). The prompt must fit max_seq (ENG_ELIMIT). On
 * failure *out is NULL and nothing is kept. trace as eng_generate's (NULL for none). */
int eng_gen_start(const struct eng_model *m, const struct eng_gen_input *in, const struct eng_gen_opts *o,
		  int max_seq, eng_token_cb cb, void *cb_ctx, struct eng_gen_trace *trace, struct eng_gen **out,
		  struct eng_err *err);
/* The prompt's ids (borrowed) and their count. */
const int32_t *eng_gen_prompt(const struct eng_gen *g, int *n);
/* Takes the logits after the last position run (the sampler may scale them in place), samples,
 * streams and checks EOS / stop strings / max_tokens / the context end / the callback. Sets
 * *next to the token to run at position *pos, or *next = -1 when the generation has ended. */
int eng_gen_step(struct eng_gen *g, float *logits, int *next, int *pos, struct eng_err *err);
/* Fills out (decoded text, counts, timings) and frees g, also on failure (out then empty). */
int eng_gen_finish(struct eng_gen *g, struct eng_gen_result *out, struct eng_err *err);
void eng_gen_free(struct eng_gen *g); /* NULL allowed: an abandoned generation */
/* Adds s seconds of step time to g's compute share (the batch divides each step among its rows);
 * a generation never given any is charged its whole wall time at finish. */
void eng_gen_add_compute(struct eng_gen *g, double s);

/* The model's parts the scheduler needs. */
const struct eng_transformer *eng_model_tf(const struct eng_model *m);
int eng_model_threads(const struct eng_model *m);
int eng_model_max_seq(const struct eng_model *m); /* a session's context */

#endif
