/* registry.c — built-in model entries, models.json, ad-hoc model specs; see registry.h. */
#include "harness/registry.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/util/json.h"

#define ANTHROPIC_BASE "https://api.anthropic.com/v1"

struct evh_registry {
	struct evh_model *v;
	size_t n, cap;
};

/* Prices as published by the providers (USD per million tokens), DESIGN.md "Commands". */
static const struct {
	const char *name, *provider, *base_url, *model_id, *key_env, *path;
	double in, out, cached, gpu_hour, temperature, top_p;
	int max_tokens;
} builtins[] = {
	{"tiny-arith", "engine", NULL, "tiny-arith", NULL, "engine/models/tiny-arith", 0, 0, -1, 2.0, 0, -1, 512},
	{"deepseek-reasoner", "openai", "https://api.deepseek.com/v1", "deepseek-reasoner", "DEEPSEEK_API_KEY", NULL,
	 0.55, 2.19, 0.14, 0, -1, -1, 0},
	{"deepseek-r1", "openai", "https://api.deepseek.com/v1", "deepseek-reasoner", "DEEPSEEK_API_KEY", NULL, 0.55,
	 2.19, 0.14, 0, 0.6, 0.95, 0},
	{"deepseek-chat", "openai", "https://api.deepseek.com/v1", "deepseek-chat", "DEEPSEEK_API_KEY", NULL, 0.27, 1.10,
	 0.07, 0, -1, -1, 0},
	{"o1", "openai", "https://api.openai.com/v1", "o1", "OPENAI_API_KEY", NULL, 15, 60, 7.5, 0, -1, -1, 0},
	/* Anthropic's published prices (USD per million tokens; cache reads at a tenth of input), from
	 * the models overview of platform.claude.com as of 2026-12: the current lineup (adaptive
	 * thinking, dateless ids) and Haiku 4.5 (budgeted thinking). Opus 4, Sonnet 4 and 3.7 Sonnet are
	 * retired from the Claude API and no longer listed. */
	{"claude-fable-5-1", "anthropic", "https://api.anthropic.com/v1", "claude-fable-5-1", "ANTHROPIC_API_KEY", NULL,
	 10, 50, 1.00, 0, -1, -1, 0},
	{"claude-opus-5-5", "anthropic", "https://api.anthropic.com/v1", "claude-opus-5-5", "ANTHROPIC_API_KEY", NULL, 4,
	 20, 0.40, 0, -1, -1, 0},
	{"claude-sonnet-5-5", "anthropic", "https://api.anthropic.com/v1", "claude-sonnet-5-5", "ANTHROPIC_API_KEY", NULL,
	 2, 10, 0.20, 0, -1, -1, 0},
	{"claude-opus-5", "anthropic", "https://api.anthropic.com/v1", "claude-opus-5", "ANTHROPIC_API_KEY", NULL, 5, 25,
	 0.50, 0, -1, -1, 0},
	{"claude-sonnet-5", "anthropic", "https://api.anthropic.com/v1", "claude-sonnet-5", "ANTHROPIC_API_KEY", NULL, 2,
	 10, 0.20, 0, -1, -1, 0},
	{"claude-haiku-4-5", "anthropic", "https://api.anthropic.com/v1", "claude-haiku-4-5", "ANTHROPIC_API_KEY", NULL, 1,
	 5, 0.10, 0, -1, -1, 0},
	{"claude-sonnet-4-5", "anthropic", "https://api.anthropic.com/v1", "claude-sonnet-4-5-20250929",
	 "ANTHROPIC_API_KEY", NULL, 3, 15, 0.30, 0, -1, -1, 0},
	{"o3-mini", "openai", "https://api.openai.com/v1", "o3-mini", "OPENAI_API_KEY", NULL, 1.10, 4.40, 0.55, 0, -1, -1,
	 0},
};

/* OpenAI's reasoning models (o1, o3, o4-mini, gpt-5...) take max_completion_tokens, not max_tokens
 * (OpenAI API reference, "Create chat completion"). */
static int is_openai_reasoning(const char *id)
{
	if (!id)
		return 0;
	if (id[0] == 'o' && id[1] >= '1' && id[1] <= '9' && (id[2] == '\0' || id[2] == '-'))
		return 1;
	return !strncmp(id, "gpt-5", 5);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void evh_model_fini(struct evh_model *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->provider);
	free(m->base_url);
	free(m->model_id);
	free(m->api_key_env);
	free(m->path);
	free(m->tokenizer);
	memset(m, 0, sizeof *m);
}

static int model_copy(struct evh_model *dst, const struct evh_model *src)
{
	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->provider = dup_or_null(src->provider);
	dst->base_url = dup_or_null(src->base_url);
	dst->model_id = dup_or_null(src->model_id);
	dst->api_key_env = dup_or_null(src->api_key_env);
	dst->path = dup_or_null(src->path);
	dst->tokenizer = dup_or_null(src->tokenizer);
	if ((src->tokenizer && !dst->tokenizer) || (src->name && !dst->name) || (src->provider && !dst->provider) || (src->base_url && !dst->base_url) ||
	    (src->model_id && !dst->model_id) || (src->api_key_env && !dst->api_key_env) ||
	    (src->path && !dst->path)) {
		evh_model_fini(dst);
		return EVH_ENOMEM;
	}
	return EVH_OK;
}

static void model_unset(struct evh_model *m)
{
	memset(m, 0, sizeof *m);
	m->price_cached_in = -1;
	m->temperature = -1;
	m->top_p = -1;
}

/* Takes ownership of m's strings. Replaces an entry of the same name. */
static int registry_put(struct evh_registry *r, struct evh_model *m)
{
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].name, m->name) == 0) {
			evh_model_fini(&r->v[i]);
			r->v[i] = *m;
			return EVH_OK;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct evh_model *v = realloc(r->v, cap * sizeof *v);
		if (!v)
			return EVH_ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *m;
	return EVH_OK;
}

static int load_builtins(struct evh_registry *r, const char *datadir)
{
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
		struct evh_model m;
		model_unset(&m);
		m.name = strdup(builtins[i].name);
		m.provider = strdup(builtins[i].provider);
		m.base_url = dup_or_null(builtins[i].base_url);
		m.model_id = dup_or_null(builtins[i].model_id);
		m.api_key_env = dup_or_null(builtins[i].key_env);
		if (builtins[i].path) {
			size_t n = strlen(datadir) + strlen(builtins[i].path) + 2;
			m.path = malloc(n);
			if (m.path)
				snprintf(m.path, n, "%s/%s", datadir, builtins[i].path);
		}
		m.price_in = builtins[i].in;
		m.price_out = builtins[i].out;
		m.price_cached_in = builtins[i].cached;
		m.gpu_hour_price = builtins[i].gpu_hour;
		m.temperature = builtins[i].temperature;
		m.top_p = builtins[i].top_p;
		m.max_tokens = builtins[i].max_tokens;
		m.openai_reasoning = !strcmp(m.provider, "openai") && is_openai_reasoning(m.model_id);
		m.builtin = 1;
		if (!m.name || !m.provider || registry_put(r, &m) != EVH_OK) {
			evh_model_fini(&m);
			return EVH_ENOMEM;
		}
	}
	return EVH_OK;
}

/* One user entry: {"name", "provider", "base_url", "model" | "model_id", "api_key_env", "path",
 * "price_in", "price_out", "price_cached_in", "gpu_hour_price",
 * "sampling": {"temperature", "top_p", "max_tokens"}}. */
static int parse_entry(const cJSON *o, const char *where, struct evh_model *m, struct evh_err *err)
{
	model_unset(m);
	int rc;
	if ((rc = evh_json_str(o, "name", 1, &m->name, where, err)) ||
	    (rc = evh_json_str(o, "provider", 0, &m->provider, where, err)) ||
	    (rc = evh_json_str(o, "base_url", 0, &m->base_url, where, err)) ||
	    (rc = evh_json_str(o, "model_id", 0, &m->model_id, where, err)) ||
	    (rc = evh_json_str(o, "api_key_env", 0, &m->api_key_env, where, err)) ||
	    (rc = evh_json_str(o, "path", 0, &m->path, where, err)) ||
	    (rc = evh_json_str(o, "tokenizer", 0, &m->tokenizer, where, err)) ||
	    (rc = evh_json_num(o, "price_in", &m->price_in, where, err)) ||
	    (rc = evh_json_num(o, "price_out", &m->price_out, where, err)) ||
	    (rc = evh_json_num(o, "price_cached_in", &m->price_cached_in, where, err)) ||
	    (rc = evh_json_num(o, "gpu_hour_price", &m->gpu_hour_price, where, err)))
		goto fail;
	if (!m->model_id && (rc = evh_json_str(o, "model", 0, &m->model_id, where, err)))
		goto fail;
	const cJSON *orz = cJSON_GetObjectItemCaseSensitive(o, "openai_reasoning");
	if (orz && !cJSON_IsBool(orz)) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "openai_reasoning: expected true or false");
		goto fail;
	}
	m->openai_reasoning = orz ? cJSON_IsTrue(orz) : is_openai_reasoning(m->model_id);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "sampling");
	if (s) {
		double mt = 0;
		if ((rc = evh_json_num(s, "temperature", &m->temperature, where, err)) ||
		    (rc = evh_json_num(s, "top_p", &m->top_p, where, err)) ||
		    (rc = evh_json_num(s, "max_tokens", &mt, where, err)))
			goto fail;
		m->max_tokens = (int)mt;
	}
	if (!m->provider && !(m->provider = strdup("openai"))) {
		rc = EVH_ENOMEM;
		goto fail;
	}
	if (strcmp(m->provider, "openai") != 0 && strcmp(m->provider, "engine") != 0 &&
	    strcmp(m->provider, "anthropic") != 0) {
		rc = evh_err_fail(err, EVH_EFORMAT, where,
				  "provider: expected \"openai\", \"anthropic\" or \"engine\", found \"%s\"", m->provider);
		goto fail;
	}
	if (strcmp(m->provider, "anthropic") == 0 && !m->base_url && !(m->base_url = strdup(ANTHROPIC_BASE))) {
		rc = EVH_ENOMEM;
		goto fail;
	}
	if (strcmp(m->provider, "anthropic") == 0 && !m->model_id) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "an anthropic model needs \"model_id\"");
		goto fail;
	}
	if (strcmp(m->provider, "openai") == 0 && (!m->base_url || !m->model_id)) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "an openai model needs \"base_url\" and \"model_id\"");
		goto fail;
	}
	if (strcmp(m->provider, "engine") == 0 && !m->path) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "an engine model needs \"path\"");
		goto fail;
	}
	if (m->price_in < 0 || m->price_out < 0 || m->gpu_hour_price < 0) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "prices must not be negative");
		goto fail;
	}
	return EVH_OK;
fail:
	evh_model_fini(m);
	return rc;
}

static int load_user(struct evh_registry *r, const char *path, struct evh_err *err)
{
	cJSON *root = NULL;
	int rc = evh_json_load_file(path, &root, err);
	if (rc)
		return rc;
	const cJSON *arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "models");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(root);
		return evh_err_fail(err, EVH_EFORMAT, path, "expected an array of models or {\"models\": [...]}");
	}
	int i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		char where[EVH_ERR_WHERE];
		snprintf(where, sizeof where, "%s: models[%d]", path, i++);
		if (!cJSON_IsObject(o)) {
			rc = evh_err_fail(err, EVH_EFORMAT, where, "expected an object");
			break;
		}
		struct evh_model m;
		if ((rc = parse_entry(o, where, &m, err)))
			break;
		if ((rc = registry_put(r, &m))) {
			evh_model_fini(&m);
			break;
		}
	}
	cJSON_Delete(root);
	return rc;
}

int evh_registry_load(const char *user_path, const char *datadir, struct evh_registry **out, struct evh_err *err)
{
	*out = NULL;
	struct evh_registry *r = calloc(1, sizeof *r);
	if (!r)
		return evh_err_fail(err, EVH_ENOMEM, NULL, "registry");
	int rc = load_builtins(r, datadir);
	if (rc) {
		evh_err_fail(err, rc, NULL, "built-in models");
		goto fail;
	}
	char home_path[4096];
	const char *path = user_path;
	if (!path)
		path = getenv("EVALH_MODELS");
	if (!path && getenv("HOME")) {
		snprintf(home_path, sizeof home_path, "%s/.config/evalh/models.json", getenv("HOME"));
		FILE *f = fopen(home_path, "r");
		if (f) {
			fclose(f);
			path = home_path;
		}
	}
	if (path && (rc = load_user(r, path, err)))
		goto fail;
	*out = r;
	return EVH_OK;
fail:
	evh_registry_free(r);
	return rc;
}

void evh_registry_free(struct evh_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		evh_model_fini(&r->v[i]);
	free(r->v);
	free(r);
}

size_t evh_registry_count(const struct evh_registry *r)
{
	return r->n;
}

const struct evh_model *evh_registry_at(const struct evh_registry *r, size_t i)
{
	return i < r->n ? &r->v[i] : NULL;
}

int evh_registry_resolve(const struct evh_registry *r, const char *spec, struct evh_model *out, struct evh_err *err)
{
	model_unset(out);
	if (strncmp(spec, "engine:", 7) == 0) {
		out->name = strdup(spec);
		out->provider = strdup("engine");
		out->path = strdup(spec + 7);
		out->model_id = strdup(spec + 7);
		out->gpu_hour_price = 2.0;
		out->temperature = 0;
		out->max_tokens = 512;
		if (!out->name || !out->provider || !out->path || !out->model_id) {
			evh_model_fini(out);
			return evh_err_fail(err, EVH_ENOMEM, spec, "model spec");
		}
		return EVH_OK;
	}
	if (strncmp(spec, "openai:", 7) == 0) {
		const char *at = strchr(spec + 7, '@');
		if (!at || at == spec + 7 || !at[1])
			return evh_err_fail(err, EVH_EMISUSE, spec, "expected openai:MODEL@BASE_URL");
		out->name = strdup(spec);
		out->provider = strdup("openai");
		out->model_id = strndup(spec + 7, (size_t)(at - spec - 7));
		out->base_url = strdup(at + 1);
		out->openai_reasoning = is_openai_reasoning(out->model_id);
		/* Local servers (vLLM, llama.cpp) usually take no key: send OPENAI_API_KEY only when set. */
		if (getenv("OPENAI_API_KEY"))
			out->api_key_env = strdup("OPENAI_API_KEY");
		if (!out->name || !out->provider || !out->model_id || !out->base_url ||
		    (getenv("OPENAI_API_KEY") && !out->api_key_env)) {
			evh_model_fini(out);
			return evh_err_fail(err, EVH_ENOMEM, spec, "model spec");
		}
		return EVH_OK;
	}
	if (strncmp(spec, "anthropic:", 10) == 0) {
		/* anthropic:MODEL[@BASE_URL]; the key is always ANTHROPIC_API_KEY (the API needs one). */
		const char *id = spec + 10, *at = strchr(id, '@');
		if (at == id || !*id || (at && !at[1]))
			return evh_err_fail(err, EVH_EMISUSE, spec, "expected anthropic:MODEL[@BASE_URL]");
		out->name = strdup(spec);
		out->provider = strdup("anthropic");
		out->model_id = at ? strndup(id, (size_t)(at - id)) : strdup(id);
		out->base_url = strdup(at ? at + 1 : ANTHROPIC_BASE);
		out->api_key_env = strdup("ANTHROPIC_API_KEY");
		if (!out->name || !out->provider || !out->model_id || !out->base_url || !out->api_key_env) {
			evh_model_fini(out);
			return evh_err_fail(err, EVH_ENOMEM, spec, "model spec");
		}
		/* A known model id takes its registry prices. */
		for (size_t i = 0; i < r->n; i++)
			if (!strcmp(r->v[i].provider, "anthropic") && r->v[i].model_id &&
			    !strcmp(r->v[i].model_id, out->model_id)) {
				out->price_in = r->v[i].price_in;
				out->price_out = r->v[i].price_out;
				out->price_cached_in = r->v[i].price_cached_in;
			}
		return EVH_OK;
	}
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, spec) == 0)
			return model_copy(out, &r->v[i]) ? evh_err_fail(err, EVH_ENOMEM, spec, "model") : EVH_OK;
	return evh_err_fail(err, EVH_ENOTFOUND, spec,
			    "unknown model (see `evalh list models`; or use engine:PATH or openai:MODEL@BASE_URL)");
}
