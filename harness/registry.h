/* registry.h — the model registry: built-in entries plus the user's models.json, and the ad-hoc
 * forms `engine:PATH` and `openai:MODEL@BASE_URL`. Read-only after load. */
#ifndef EVH_REGISTRY_H
#define EVH_REGISTRY_H

#include <stddef.h>

#include "harness/util/err.h"

struct evh_model {
	char *name;
	char *provider;     /* "openai" (any OpenAI-compatible server) | "anthropic" | "engine" */
	char *base_url;     /* openai: ".../v1" */
	char *model_id;     /* what is sent as "model" */
	char *api_key_env;  /* NAME of the env var holding the key; the key itself is never stored */
	char *path;         /* engine: checkpoint folder */
	char *tokenizer;    /* openai: a tokenizer.json to count tokens with when the server reports no
			     * usage; NULL: estimated at ~4 bytes per token. Counted tokens stay marked
			     * as estimated either way. */
	double price_in;    /* USD per million input tokens */
	double price_out;   /* USD per million output tokens */
	double price_cached_in; /* USD per million cached input tokens; < 0 = same as price_in */
	double gpu_hour_price;  /* engine: USD per GPU-hour used to price measured time */
	double temperature; /* default sampling; < 0 = unset */
	double top_p;       /* < 0 = unset */
	int max_tokens;     /* <= 0 = unset */
	int openai_reasoning; /* OpenAI o-series / gpt-5: max_completion_tokens instead of max_tokens */
	int builtin;
};

struct evh_registry;

/* Loads built-ins, then `user_path` when not NULL, else $EVALH_MODELS when set, else
 * ~/.config/evalh/models.json when it exists. User entries replace built-ins of the same name.
 * `datadir` is where the built-in engine models live (engine/models/...). Errors name the file and
 * the field ("models.json: models[2].price_in: expected a number"). */
int evh_registry_load(const char *user_path, const char *datadir, struct evh_registry **out, struct evh_err *err);
void evh_registry_free(struct evh_registry *r);

size_t evh_registry_count(const struct evh_registry *r);
const struct evh_model *evh_registry_at(const struct evh_registry *r, size_t i);

/* Resolves a --model argument: a registry name, `engine:PATH`, `openai:MODEL@BASE_URL` or
 * `anthropic:MODEL[@BASE_URL]` (key from ANTHROPIC_API_KEY; registry prices when MODEL is a known id).
 * *out is a deep copy owned by the caller (evh_model_fini). EVH_ENOTFOUND names the spec. */
int evh_registry_resolve(const struct evh_registry *r, const char *spec, struct evh_model *out, struct evh_err *err);
void evh_model_fini(struct evh_model *m);

#endif
