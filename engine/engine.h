/* engine.h — the built-in inference engine's public API: load a Hugging Face checkpoint folder,
 * open sessions, generate. A library that could ship alone: it includes nothing of harness/,
 * tasks/ or scorers/ and has its own error struct.
 * Threads: a model is read-only after eng_model_load and may be shared; a session belongs to one
 * thread at a time. Several sessions on one model may generate concurrently. */
#ifndef ENG_ENGINE_H
#define ENG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

enum eng_code {
	ENG_OK = 0,
	ENG_ENOMEM = 1,
	ENG_EIO = 2,
	ENG_EFORMAT = 3,      /* malformed or truncated checkpoint / tokenizer file */
	ENG_EUNSUPPORTED = 4, /* unknown architecture, dtype, ... */
	ENG_EMISUSE = 5,
	ENG_ELIMIT = 6,       /* context length exceeded, ... */
	ENG_ECUDA = 7,
	ENG_EINTERNAL = 8,
};

struct eng_err {
	int code;
	char msg[256]; /* one line naming the file / tensor / field, expected vs found */
};

const char *eng_strerror(int code);

struct eng_model;
struct eng_session;

/* Loads `dir` (config.json, *.safetensors [+ model.safetensors.index.json], tokenizer.json,
 * tokenizer_config.json). Safetensors are mmapped; FP8 weights dequantized per 128x128 block.
 * On failure *out is NULL and err->msg names the file and field. */
int eng_model_load(const char *dir, struct eng_model **out, struct eng_err *err);
void eng_model_free(struct eng_model *m); /* NULL allowed */

/* Added: threads that each session created afterwards splits its matrix products over (default 1;
 * the logits do not depend on it). Call before sharing the model; ENG_EMISUSE outside 1..256. */
int eng_model_set_threads(struct eng_model *m, int n_threads, struct eng_err *err);

/* Short facts for run.json: architecture, parameter count, dtype. Borrowed until free. */
const char *eng_model_arch(const struct eng_model *m);
size_t eng_model_params(const struct eng_model *m);

struct eng_gen_opts {
	float temperature; /* 0 = greedy */
	float top_p;       /* 1 = off */
	int top_k;         /* 0 = off */
	int max_tokens;    /* new tokens at most */
	uint64_t seed;     /* same seed, same prompt -> same tokens */
};
void eng_gen_opts_defaults(struct eng_gen_opts *o); /* greedy, max_tokens 512 */

enum eng_finish { ENG_FINISH_STOP = 0, ENG_FINISH_LENGTH = 1 };

struct eng_gen_result {
	char *text;          /* decoded completion (after the generation prompt), malloc'd */
	int n_prompt;        /* prompt tokens */
	int n_completion;    /* generated tokens, EOS excluded */
	int n_reasoning;     /* tokens up to and including </think>, 0 when none */
	int finish;          /* enum eng_finish */
	double ttft_s;       /* prefill + first token */
	double total_s;
	double compute_s;    /* this request's share of the compute: each batched step's time divided
			      * among its rows (alone: the whole generation), so that pricing by time
			      * does not bill shared steps once per request */
};
void eng_gen_result_free(struct eng_gen_result *r);

/* Called with each decoded piece as it is generated (may be NULL). Return nonzero to stop. */
typedef int (*eng_token_cb)(void *ctx, const char *piece, size_t len);

int eng_session_create(struct eng_model *m, struct eng_session **out, struct eng_err *err);
void eng_session_free(struct eng_session *s);

/* One user turn through the model family's chat template (with the generation prompt, which for
 * DeepSeek-R1 opens "<think>\n"), then generation until EOS or max_tokens. */
int eng_chat(struct eng_session *s, const char *system, const char *user, const struct eng_gen_opts *o,
	     eng_token_cb cb, void *cb_ctx, struct eng_gen_result *out, struct eng_err *err);

/* Token count of `text` with the model's tokenizer (no special tokens added); -1 on error. */
int eng_count_tokens(const struct eng_model *m, const char *text);

/* ---- added for serving (engine/batch.c) ---- */

/* Many requests on one model: continuous batching. One scheduler thread advances every active
 * request by one batched step (a decode row each, plus prompt chunks of those being admitted),
 * admits queued requests between steps into a shared paged KV cache and retires finished ones.
 * A bounded FIFO holds requests waiting for a slot. Callbacks run on the scheduler thread and must
 * be quick. Thread-safe: any thread may submit. (engine/batch.c; options in engine/paged.h) */
struct eng_batch;

struct eng_batch_req {
	const char *system; /* may be NULL; copied at submit */
	const char *user;   /* the user turn, or the whole prompt when raw; copied at submit */
	int raw;            /* 1: `user` is a raw prompt (eng_generate with chat = 0) */
	struct eng_gen_opts opts;
	/* Called first with len 0 when a slot takes the request (return nonzero to skip it: a client
	 * that left while queued), then with each piece as eng_chat's callback. Runs on a slot thread. */
	eng_token_cb on_token;
	/* Called exactly once per accepted request, on a slot thread: rc and err as eng_chat's, res
	 * NULL when the request was skipped. res is borrowed for the call. */
	void (*on_done)(void *ctx, int rc, const struct eng_gen_result *res, const struct eng_err *err);
	void *ctx;
};

/* n_slots sessions (1..1024) and at most max_queue waiting requests (0..1000000). On failure *out
 * is NULL. The model must outlive the batch. */
int eng_batch_create(struct eng_model *m, int n_slots, int max_queue, struct eng_batch **out, struct eng_err *err);
/* Queues a request; ENG_ELIMIT (nothing queued, no callback) when max_queue requests already wait. */
int eng_batch_submit(struct eng_batch *b, const struct eng_batch_req *rq, struct eng_err *err);
/* Requests generating now and waiting now. */
void eng_batch_counts(struct eng_batch *b, int *running, int *queued);
int eng_batch_slots(const struct eng_batch *b);
/* Runs what is queued to its end (make it stop through on_token first), joins the slot threads,
 * frees the sessions. NULL allowed. */
void eng_batch_free(struct eng_batch *b);

/* Added (multi-GPU, issue 11): a collective failed, timed out or another rank gave up. */
enum { ENG_ECOMM = 9 };

/* ---- raw prompts, stop strings, traces (engine/engine.c) ---- */

/* What to generate from: `text` through the chat template as the user turn (chat = 1, as eng_chat),
 * or as a raw prompt (chat = 0; special tokens written inline are matched). Generation also ends at
 * the first of the `stop` strings, which the returned text then ends before (OpenAI's `stop`). */
struct eng_gen_input {
	const char *system; /* chat only; may be NULL */
	const char *text;
	int chat;
	const char *const *stop; /* kept for the call; may be NULL */
	size_t n_stop;
	/* Added (multi-turn): with chat = 1 and n_msgs > 0 the whole conversation is rendered from
	 * msgs (struct eng_chat_msg below) and system/text are ignored (text may be NULL). Kept for
	 * the call. */
	const struct eng_chat_msg *msgs;
	size_t n_msgs;
};

/* Per-step record for `evalh generate --json`: set top_k (0..64) before the call; the arrays are
 * malloc'd by eng_generate and released with eng_gen_trace_free. top_ids/top_logits hold top_k
 * entries per generated step (the raw logits before sampling), largest first. */
struct eng_gen_trace {
	int top_k;
	int32_t *prompt_ids;
	size_t n_prompt;
	int32_t *ids; /* generated ids, EOS excluded */
	size_t n;
	int32_t *top_ids;
	float *top_logits;
};
void eng_gen_trace_free(struct eng_gen_trace *t); /* keeps top_k; NULL allowed */

/* eng_chat generalised: raw or chat input, stop strings, optional trace (NULL for none). */
int eng_generate(struct eng_session *s, const struct eng_gen_input *in, const struct eng_gen_opts *o,
		 eng_token_cb cb, void *cb_ctx, struct eng_gen_trace *trace, struct eng_gen_result *out,
		 struct eng_err *err);

/* Added (issue 11): splitting a model over GPUs or CPU ranks. Options for `--tp N --ep M
 * [--comm cpu|nccl]`: tp ranks split attention heads, dense MLP rows, embed/head rows and each
 * expert's rows; ep ranks split the routed experts (shared experts replicated); tp x ep ranks in
 * all, one thread each. */
struct eng_par_opts {
	int tp, ep;       /* >= 1 each; 1 x 1 = no split */
	const char *comm; /* "cpu" (threads, shared memory) or "nccl"; kept, must outlive the load */
	int timeout_ms;   /* a collective waiting longer fails with ENG_ECOMM instead of hanging */
};
void eng_par_opts_defaults(struct eng_par_opts *o); /* 1 x 1, "cpu", 60000 ms */
/* ENG_EMISUSE naming the bad option; with dir non-NULL also checks the split against its
 * config.json (heads, experts, sizes). */
int eng_par_opts_check(const struct eng_par_opts *o, const char *dir, struct eng_err *err);

/* Memory planning before loading: reads only config.json and, when present, the safetensors
 * headers of dir; a config folder alone (engine/configs/) is planned as FP8 with block scales for
 * the DeepSeek-V3/R1 family and BF16 otherwise. */
struct eng_mem_need {
	int n_gpus, tp, ep;         /* smallest split whose busiest rank fits */
	double bytes_per_rank;      /* weights (as stored: FP8 + scales, BF16, ...) + KV cache + activations */
	double weight_bytes_total;  /* the checkpoint's tensors */
};
/* gpu_bytes: memory of one GPU (90% of it is planned for); max_seq x batch: KV-cache positions
 * per rank. ENG_ELIMIT (with *out filled for the largest split tried) when 1024 GPUs do not do. */
int eng_model_plan(const char *dir, double gpu_bytes, int max_seq, int batch, struct eng_mem_need *out,
		   struct eng_err *err);

/* ---- parallel loading (engine/engine.c) ---- */

/* eng_model_load with a tensor x expert split over ranks (NULL or 1 x 1: the whole model in this
 * process). Each rank holds only its slice; eng_forward drives all ranks and returns rank 0's
 * logits, so sessions and eng_generate work unchanged. */
int eng_model_load_parallel(const char *dir, const struct eng_par_opts *o, struct eng_model **out,
			    struct eng_err *err);

/* ---- multi-turn chats (engine/chat_template.c) ---- */

/* One message of a conversation: role "system", "user" or "assistant"; content as the client
 * sent it (an assistant turn may hold its <think> reasoning: the template decides what is kept). */
struct eng_chat_msg {
	const char *role;
	const char *content;
};

#endif
