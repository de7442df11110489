/* provider_anthropic.h — the provider for Anthropic's Messages API (POST {base}/messages):
 * streaming (SSE: message_start, content_block_start/delta/stop, message_delta, message_stop, ping,
 * error) by default, thinking (adaptive with an effort on Claude 4.6 and later, else a token budget),
 * retries with backoff, and the endpoint's adaptive concurrency limit (aimd.h) around every attempt. */
#ifndef EVH_PROVIDER_ANTHROPIC_H
#define EVH_PROVIDER_ANTHROPIC_H

#include "harness/provider.h"

struct evh_anthropic_cfg {
	const char *base_url;    /* e.g. https://api.anthropic.com/v1; "/messages" is appended */
	const char *model_id;    /* sent as "model" */
	const char *api_key_env; /* env var holding the key, sent as x-api-key; NULL: none. Named but
				  * unset is an error (EVH_EMISUSE) at each request. */
	int stream;              /* 1: SSE */
	int thinking_budget;     /* > 0: "thinking": {"type": "enabled", "budget_tokens": N}; must stay
				  * below the request's max_tokens (else EVH_EMISUSE). Ignored when adaptive. */
	int adaptive;            /* 1: "thinking": {"type": "adaptive"}, no sampling parameters (the
				  * current models refuse a budget and non-default sampling with a 400) */
	const char *effort;      /* with adaptive: "output_config": {"effort": ...} (low, medium, high,
				  * max); NULL: the API's default (high) */
	int default_max_tokens;  /* the API requires max_tokens: used when a request sets none */
	struct evh_retry retry;  /* start from evh_retry_defaults() */
};

/* Creates the provider; strings are copied. EVH_EMISUSE names the bad field; *out NULL on failure.
 * complete() is thread-safe. Thinking blocks become the response's reasoning, text blocks its text;
 * stop_reason is kept as the finish reason ("end_turn", "max_tokens", "refusal", ...); usage from
 * message_start and message_delta (input counts cache reads and writes; tokens_reasoning is
 * estimated from the thinking text, since the API reports no separate count, and marked so).
 * With thinking on, temperature is not sent (the API accepts only 1) and top_p only when >= 0.95.
 * Retried: 408, 429, 5xx, 529, stream `error` events, streams that end before message_stop; 429/503/
 * 529 wait for Retry-After. 400/401/402/403/404/422 fail at once with the server's message. */
int evh_anthropic_create(const struct evh_anthropic_cfg *cfg, struct evh_provider **out, struct evh_err *err);

/* 1 when the model thinks adaptively (thinking.type "adaptive" with an effort) instead of with a
 * token budget: Claude 4.6 and later, Fable and Mythos (Anthropic's adaptive-thinking docs; Opus 4.7,
 * the 5 family, Fable and Mythos refuse a budget with a 400). Decided from the model id. */
int evh_anthropic_adaptive(const char *model_id);

#endif
