/* serve_req.c — OpenAI request bodies to struct evh_srv_req (serve_int.h), with one 400 message
 * per bad field naming it as OpenAI's `param` does. Unknown fields are ignored, as vLLM and
 * llama.cpp do, so that clients sending newer OpenAI options still work. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/serve_int.h"
#include "harness/util/json.h"

void evh_srv_req_fini(struct evh_srv_req *r)
{
	if (!r)
		return;
	free(r->model);
	free(r->user);
	for (size_t i = 0; i < r->n_msgs; i++) {
		free((char *)r->msgs[i].role);
		free((char *)r->msgs[i].content);
	}
	free(r->msgs);
	for (int i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	memset(r, 0, sizeof *r);
}

static int bad(struct evh_err *err, const char *field, const char *fmt, const char *what)
{
	return evh_err_fail(err, EVH_EFORMAT, field, fmt, what);
}

/* A present, non-null number in [lo, hi]; integral when `integer`. 0 when absent or null. */
static int get_num(const cJSON *o, const char *name, double lo, double hi, int integer, double *out, int *has,
		   struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	*has = 0;
	if (!v || cJSON_IsNull(v))
		return EVH_OK;
	if (!cJSON_IsNumber(v))
		return bad(err, name, "expected a number, found %s", evh_json_type_name(v));
	double d = v->valuedouble;
	if (!isfinite(d) || d < lo || d > hi || (integer && d != floor(d))) {
		char msg[160];
		snprintf(msg, sizeof msg, "%s%s in [%g, %g], found %g", integer ? "an integer" : "a number",
			 integer ? "" : "", lo, hi, d);
		return bad(err, name, "expected %s", msg);
	}
	*out = d;
	*has = 1;
	return EVH_OK;
}

static int get_bool(const cJSON *o, const char *name, int *out, struct evh_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!v || cJSON_IsNull(v))
		return EVH_OK;
	if (!cJSON_IsBool(v))
		return bad(err, name, "expected true or false, found %s", evh_json_type_name(v));
	*out = cJSON_IsTrue(v);
	return EVH_OK;
}

/* A message's content: a string, or an array of {"type":"text","text":...} parts joined. */
static int content_text(const cJSON *c, const char *field, struct evh_buf *to, struct evh_err *err)
{
	if (cJSON_IsString(c))
		return evh_buf_adds(to, c->valuestring) ? evh_err_fail(err, EVH_ELIMIT, field, "too long") : EVH_OK;
	if (!cJSON_IsArray(c))
		return bad(err, field, "expected a string or an array of text parts, found %s", evh_json_type_name(c));
	int i = 0;
	const cJSON *part;
	cJSON_ArrayForEach(part, c)
	{
		char f[96];
		snprintf(f, sizeof f, "%s[%d]", field, i++);
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *tx = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsObject(part) || !cJSON_IsString(ty))
			return bad(err, f, "expected an object with a \"type\", found %s", evh_json_type_name(part));
		if (strcmp(ty->valuestring, "text") != 0)
			return evh_err_fail(err, EVH_EUNSUPPORTED, f, "content part type \"%s\": only \"text\" is served",
					    ty->valuestring);
		if (!cJSON_IsString(tx))
			return bad(err, f, "expected \"text\" to be a string, found %s", evh_json_type_name(tx));
		if (evh_buf_adds(to, tx->valuestring))
			return evh_err_fail(err, EVH_ELIMIT, f, "too long");
	}
	return EVH_OK;
}

/* OpenAI's roles to the template's: "developer" is the newer name for "system". */
static const char *chat_role(const char *r)
{
	if (!strcmp(r, "system") || !strcmp(r, "developer"))
		return "system";
	if (!strcmp(r, "user"))
		return "user";
	if (!strcmp(r, "assistant"))
		return "assistant";
	return NULL;
}

/* messages -> the conversation (r->msgs), each turn rendered later by the model's chat template.
 * Tool calls and tool results are refused: the templates' tool branches are not written out. */
static int parse_messages(const cJSON *j, struct evh_srv_req *r, struct evh_err *err)
{
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "messages");
	if (!ms)
		return bad(err, "messages", "required%s", "");
	if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0)
		return bad(err, "messages", "expected a non-empty array, found %s",
			   cJSON_IsArray(ms) ? "an empty array" : evh_json_type_name(ms));
	size_t n = (size_t)cJSON_GetArraySize(ms);
	if (!(r->msgs = calloc(n, sizeof *r->msgs)))
		return evh_err_fail(err, EVH_ENOMEM, "messages", "out of memory");
	int rc = EVH_OK, i = 0, n_user = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, ms)
	{
		char f[64], cf[80];
		snprintf(f, sizeof f, "messages[%d]", i++);
		snprintf(cf, sizeof cf, "%s.content", f);
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (!cJSON_IsObject(m)) {
			rc = bad(err, f, "expected an object, found %s", evh_json_type_name(m));
			break;
		}
		if (!cJSON_IsString(role)) {
			snprintf(f + strlen(f), sizeof f - strlen(f), ".role");
			rc = bad(err, f, "expected a string, found %s", role ? evh_json_type_name(role) : "nothing");
			break;
		}
		const char *rs = role->valuestring, *as = chat_role(rs);
		if (!strcmp(rs, "tool") || !strcmp(rs, "function") ||
		    (as && !strcmp(as, "assistant") && cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))) {
			rc = evh_err_fail(err, EVH_EUNSUPPORTED, f, "role \"%s\"%s: tool calls are not served", rs,
					  strcmp(rs, "assistant") ? "" : " with tool_calls");
			break;
		}
		if (!as) {
			snprintf(f + strlen(f), sizeof f - strlen(f), ".role");
			rc = evh_err_fail(err, EVH_EFORMAT, f, "expected system, developer, user or assistant, found \"%s\"",
					  rs);
			break;
		}
		if (!content || cJSON_IsNull(content)) {
			rc = bad(err, cf, "required%s", "");
			break;
		}
		struct evh_buf text;
		evh_buf_init(&text, EVH_LIMIT_TEXT);
		rc = content_text(content, cf, &text, err);
		struct eng_chat_msg *cm = &r->msgs[r->n_msgs];
		if (!rc) {
			cm->content = evh_buf_take(&text);
			cm->role = strdup(as);
			r->n_msgs++; /* counted now, so that fini frees what was taken */
			if (!cm->content || !cm->role)
				rc = evh_err_fail(err, EVH_ENOMEM, f, "out of memory");
		}
		evh_buf_free(&text);
		if (rc)
			break;
		n_user += !strcmp(as, "user");
	}
	if (!rc && !n_user)
		rc = bad(err, "messages", "expected at least one message with role \"user\"%s", "");
	return rc;
}

static int parse_prompt(const cJSON *j, struct evh_srv_req *r, struct evh_err *err)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt");
	if (!p)
		return bad(err, "prompt", "required%s", "");
	if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0)))
		p = cJSON_GetArrayItem(p, 0);
	else if (cJSON_IsArray(p))
		return evh_err_fail(err, EVH_EUNSUPPORTED, "prompt",
				    "expected one prompt string (batches and token-id prompts are not served)");
	if (!cJSON_IsString(p))
		return bad(err, "prompt", "expected a string, found %s", evh_json_type_name(p));
	r->user = strdup(p->valuestring);
	return r->user ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, "prompt", "out of memory");
}

static int parse_stop(const cJSON *j, struct evh_srv_req *r, struct evh_err *err)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "stop");
	if (!s || cJSON_IsNull(s))
		return EVH_OK;
	const cJSON *one = cJSON_IsString(s) ? s : NULL;
	if (!one && (!cJSON_IsArray(s) || cJSON_GetArraySize(s) > EVH_SRV_MAX_STOP))
		return bad(err, "stop", "expected a string or an array of up to 4 strings, found %s",
			   cJSON_IsArray(s) ? "a longer array" : evh_json_type_name(s));
	const cJSON *it = one ? one : s->child;
	for (int i = 0; it; it = one ? NULL : it->next, i++) {
		char f[32];
		if (one)
			snprintf(f, sizeof f, "stop");
		else
			snprintf(f, sizeof f, "stop[%d]", i);
		if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > EVH_SRV_MAX_STOP_LEN)
			return bad(err, f, "expected a non-empty string of at most 256 bytes, found %s",
				   cJSON_IsString(it) ? "an empty or longer string" : evh_json_type_name(it));
		if (!(r->stop[r->n_stop] = strdup(it->valuestring)))
			return evh_err_fail(err, EVH_ENOMEM, f, "out of memory");
		r->n_stop++;
	}
	return EVH_OK;
}

static int parse_fields(const cJSON *j, int kind, struct evh_srv_req *r, struct evh_err *err)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
	if (!model)
		return bad(err, "model", "required%s", "");
	if (!cJSON_IsString(model))
		return bad(err, "model", "expected a string, found %s", evh_json_type_name(model));
	if (!(r->model = strdup(model->valuestring)))
		return evh_err_fail(err, EVH_ENOMEM, "model", "out of memory");
	int rc = kind == EVH_SRV_CHAT ? parse_messages(j, r, err) : parse_prompt(j, r, err);
	double d = 0;
	int has = 0;
	/* max_completion_tokens is OpenAI's newer name for max_tokens; either may come. */
	if (!rc && !(rc = get_num(j, "max_completion_tokens", 1, 1 << 30, 1, &d, &has, err)) && has)
		r->max_tokens = (int)d;
	if (!rc && !(rc = get_num(j, "max_tokens", 1, 1 << 30, 1, &d, &has, err)) && has)
		r->max_tokens = (int)d;
	r->temperature = r->top_p = -1;
	if (!rc && !(rc = get_num(j, "temperature", 0, 2, 0, &d, &has, err)) && has)
		r->temperature = d;
	if (!rc && !(rc = get_num(j, "top_p", 0, 1, 0, &d, &has, err)) && has) {
		if (d <= 0)
			return bad(err, "top_p", "expected a number in (0, 1], found %s", "0");
		r->top_p = d;
	}
	if (!rc && !(rc = get_num(j, "top_k", -1, 1 << 30, 1, &d, &has, err)) && has)
		r->top_k = d > 0 ? (int)d : 0; /* vLLM: -1 (and 0) mean off */
	r->n = 1;
	if (!rc && !(rc = get_num(j, "n", 1, EVH_SRV_MAX_N, 1, &d, &has, err)) && has)
		r->n = (int)d;
	/* Seeds up to 2^53: beyond that a JSON number no longer holds every integer exactly. */
	if (!rc && !(rc = get_num(j, "seed", -9007199254740992.0, 9007199254740992.0, 1, &d, &has, err)) && has) {
		r->seed = d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d;
		r->has_seed = 1;
	}
	if (!rc)
		rc = parse_stop(j, r, err);
	if (!rc)
		rc = get_bool(j, "stream", &r->stream, err);
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
	if (!rc && so && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so))
			return bad(err, "stream_options", "expected an object, found %s", evh_json_type_name(so));
		rc = get_bool(so, "include_usage", &r->include_usage, err);
		if (rc)
			evh_err_prefix(err, "stream_options.");
	}
	/* llama.cpp's name for the split: "deepseek" puts the thinking in reasoning_content, "none"
	 * leaves it in the text. */
	r->reasoning = -1;
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "reasoning_format");
	if (!rc && rf && !cJSON_IsNull(rf)) {
		if (cJSON_IsString(rf) && !strcmp(rf->valuestring, "deepseek"))
			r->reasoning = 1;
		else if (cJSON_IsString(rf) && !strcmp(rf->valuestring, "none"))
			r->reasoning = 0;
		else
			return bad(err, "reasoning_format", "expected \"deepseek\" or \"none\", found %s",
				   cJSON_IsString(rf) ? rf->valuestring : evh_json_type_name(rf));
	}
	return rc;
}

int evh_srv_req_parse(const char *body, size_t len, int kind, struct evh_srv_req *out, struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!j) {
		size_t at = end && end >= body ? (size_t)(end - body) : 0;
		return evh_err_fail(err, EVH_EFORMAT, NULL, "malformed JSON body near byte %zu of %zu", at, len);
	}
	/* Trailing bytes after the document: a second object or garbage is not one request. */
	while (end < body + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	int rc;
	if (end != body + len)
		rc = evh_err_fail(err, EVH_EFORMAT, NULL, "malformed JSON body: trailing bytes at byte %zu of %zu",
				  (size_t)(end - body), len);
	else if (!cJSON_IsObject(j))
		rc = evh_err_fail(err, EVH_EFORMAT, NULL, "expected a JSON object, found %s", evh_json_type_name(j));
	else
		rc = parse_fields(j, kind, out, err);
	cJSON_Delete(j);
	if (rc)
		evh_srv_req_fini(out);
	return rc;
}
