/* serve_int.h — internal to harness/serve*.c (and their unit test): the parsed request, the
 * reasoning/stop filter each generated choice runs through, and the JSON the server writes. */
#ifndef EVH_SERVE_INT_H
#define EVH_SERVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "harness/util/buf.h"
#include "harness/util/err.h"

enum evh_srv_kind { EVH_SRV_CHAT = 0, EVH_SRV_TEXT = 1 }; /* /chat/completions, /completions */

#define EVH_SRV_MAX_N 16     /* choices per request */
#define EVH_SRV_MAX_STOP 4   /* as OpenAI */
#define EVH_SRV_MAX_STOP_LEN 256

/* One request, validated. Strings are malloc'd; evh_srv_req_fini frees them. */
struct evh_srv_req {
	int kind;
	char *model;
	char *user;   /* the prompt (completions); NULL for chat */
	int max_tokens; /* 0: the engine's default */
	double temperature, top_p; /* < 0: the engine's default */
	int top_k;                 /* 0: off */
	int n;
	uint64_t seed;
	int has_seed;
	char *stop[EVH_SRV_MAX_STOP];
	int n_stop;
	int stream, include_usage;
	int reasoning; /* 1: split into reasoning_content (DeepSeek style), 0: raw text, -1: default */
	/* chat: the conversation in order, roles "system" (also for "developer"), "user" and
	 * "assistant"; role and content strings malloc'd (content parts joined) */
	struct eng_chat_msg *msgs;
	size_t n_msgs;
};

/* Parses and validates a body. EVH_EFORMAT with err->where naming the field ("messages[1].role")
 * and err->msg saying what was expected; EVH_EUNSUPPORTED for valid OpenAI input the engine cannot
 * serve (tool turns, token-id prompts). On failure *out is left zeroed. */
int evh_srv_req_parse(const char *body, size_t len, int kind, struct evh_srv_req *out, struct evh_err *err);
void evh_srv_req_fini(struct evh_srv_req *r);

/* The filter between the engine's pieces and what a client sees: reasoning before "</think>"
 * (DeepSeek-R1 style, where the prompt opened <think>), or a leading "<think>" the model writes
 * itself (Qwen3), goes to `reasoning`; the rest to `content`, cut at the first stop string. Bytes
 * that might still turn into "</think>" or a stop string are held back until they cannot. */
enum evh_srv_phase { EVH_SRV_THINK = 0, EVH_SRV_MAYBE_THINK = 1, EVH_SRV_ANSWER = 2 };
struct evh_srv_text {
	int phase, skip_ws, stopped;
	struct evh_buf reasoning, content; /* released bytes */
	struct evh_buf hold;               /* held bytes of the current phase */
	char *const *stop;                 /* kept; must outlive the filter */
	int n_stop;
};
void evh_srv_text_init(struct evh_srv_text *t, int phase, char *const *stop, int n_stop);
/* Returns 1 once a stop string has ended the answer (further pieces are ignored), 0 to go on, or
 * an EVH_E* code (< 0 as -code) when a buffer ceiling is passed. */
int evh_srv_text_feed(struct evh_srv_text *t, const char *p, size_t n);
int evh_srv_text_finish(struct evh_srv_text *t); /* releases what is held; 0 or -code */
void evh_srv_text_fini(struct evh_srv_text *t);

/* JSON the server writes; each returns a malloc'd string or NULL when out of memory. Text is made
 * valid UTF-8 (invalid bytes become U+FFFD) so that any client's JSON parser takes it. */
struct evh_srv_meta {
	const char *id, *model, *fingerprint;
	long created;
	int kind;
};
char *evh_srv_error_json(const char *message, const char *type, const char *param, const char *code);
/* One SSE event "data: {...}\n\n": a delta for choice `index` (role, reasoning and content may be
 * NULL/0-length and are then left out), and finish_reason when not NULL. */
char *evh_srv_chunk(const struct evh_srv_meta *m, int index, int first, const char *reasoning, size_t rn,
		    const char *content, size_t cn, const char *finish, int usage_null);
struct evh_srv_usage {
	long prompt, completion, reasoning;
};
/* The last stream event when include_usage: no choices, the usage. */
char *evh_srv_usage_chunk(const struct evh_srv_meta *m, const struct evh_srv_usage *u);
struct evh_srv_choice_out {
	const char *reasoning; /* NULL: no reasoning_content field */
	const char *content;
	const char *finish;
};
char *evh_srv_response(const struct evh_srv_meta *m, const struct evh_srv_choice_out *c, int n,
		       const struct evh_srv_usage *u);
/* GET /v1/models: the one model served. */
char *evh_srv_models_json(const char *id, long created);

#endif
