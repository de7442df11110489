/* provider_openai.h — the provider for OpenAI-compatible chat-completions endpoints (OpenAI,
 * DeepSeek, vLLM, SGLang, llama.cpp's server, OpenRouter): streaming (SSE) by default, retries with
 * backoff, usage tokens from the server or counted locally. */
#ifndef EVH_PROVIDER_OPENAI_H
#define EVH_PROVIDER_OPENAI_H

#include "harness/provider.h"

struct evh_openai_cfg {
	const char *base_url;    /* e.g. http://127.0.0.1:8080/v1; "/chat/completions" is appended */
	const char *model_id;    /* sent as "model" */
	const char *api_key_env; /* name of the env var holding the key, read at each request; NULL:
				  * no Authorization header. Named but unset is an error (EVH_EMISUSE). */
	int stream;              /* 1 (the default to use): SSE with stream_options.include_usage */
	struct evh_retry retry;  /* start from evh_retry_defaults() */
	/* Used only when the server reports no usage (or no reasoning_tokens beside reasoning text);
	 * the response is then marked tokens_estimated. NULL: about 4 bytes per token. Must be
	 * thread-safe. */
	long (*count_tokens)(void *ctx, const char *text);
	void *count_ctx;         /* kept; must outlive the provider */
	const char *extra_body;  /* JSON object whose members are merged into (and override) each
				  * request body, e.g. {"max_completion_tokens":4096}; NULL for none */
};

/* Creates the provider; every string in cfg is copied. Returns EVH_EMISUSE naming the bad field
 * (empty base_url or model_id, max_attempts < 1, extra_body not a JSON object); *out is NULL on
 * failure. Free with (*out)->free(*out).
 *
 * complete() is thread-safe. It returns 0, or: EVH_EHTTP (a status the server kept answering, or
 * 400/401/403/404/... at once, with the server's own error message), EVH_ETIMEOUT (timeout or
 * stall), EVH_ENET (connection failures, truncated streams, cancel), EVH_EFORMAT (a body that is not
 * a chat completion: err names the URL and quotes its first bytes), EVH_ELIMIT, EVH_EMISUSE (key
 * variable unset). The API key never appears in err. Retried: 408, 429, 5xx (429/503 wait for
 * Retry-After when sent, capped at backoff_max_s), connection errors, timeouts, stalls, streams that
 * end with neither [DONE] nor a finish_reason. A seed is sent modulo 2^31 (llama.cpp takes 32-bit
 * seeds). Reasoning comes from delta/message `reasoning_content` (DeepSeek) or `reasoning` (vLLM,
 * OpenRouter), or from a leading <think>...</think> in the content, which is then removed from
 * text; a <think> elsewhere is left in text. */
int evh_openai_create(const struct evh_openai_cfg *cfg, struct evh_provider **out, struct evh_err *err);

#endif
