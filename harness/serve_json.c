/* serve_json.c — the JSON evalh serve writes, in OpenAI's shapes: error objects, chat and text
 * completion responses, stream chunks and the usage chunk (serve_int.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "harness/serve_int.h"

/* A cJSON string of n bytes, invalid UTF-8 replaced by U+FFFD: a byte-level token may be half a
 * character at a length cut, and JSON text must be UTF-8 for clients to parse it. */
static cJSON *utf8_string(const char *s, size_t n)
{
	char *tmp = malloc(n * 3 + 1); /* each bad byte becomes 3 bytes at most */
	if (!tmp)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k > 0 && cp != 0) {
			memcpy(tmp + o, s + i, (size_t)k);
			o += (size_t)k;
			i += (size_t)k;
		} else if (k > 0) { /* NUL: cJSON strings end at it; drop it */
			i += (size_t)k;
		} else {
			memcpy(tmp + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	tmp[o] = '\0';
	cJSON *v = cJSON_CreateString(tmp);
	free(tmp);
	return v;
}

static int add_text(cJSON *o, const char *name, const char *s, size_t n)
{
	cJSON *v = utf8_string(s, n);
	return v && cJSON_AddItemToObject(o, name, v);
}

static char *print_free(cJSON *o, int ok)
{
	char *s = ok && o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

char *evh_srv_error_json(const char *message, const char *type, const char *param, const char *code)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(o, "error");
	int ok = e && add_text(e, "message", message, strlen(message)) && cJSON_AddStringToObject(e, "type", type) &&
		 (param ? add_text(e, "param", param, strlen(param)) : cJSON_AddNullToObject(e, "param") != NULL) &&
		 (code ? cJSON_AddStringToObject(e, "code", code) != NULL : cJSON_AddNullToObject(e, "code") != NULL);
	return print_free(o, ok);
}

static cJSON *head(const struct evh_srv_meta *m, const char *object)
{
	cJSON *o = cJSON_CreateObject();
	if (o && cJSON_AddStringToObject(o, "id", m->id) && cJSON_AddStringToObject(o, "object", object) &&
	    cJSON_AddNumberToObject(o, "created", (double)m->created) && cJSON_AddStringToObject(o, "model", m->model) &&
	    cJSON_AddStringToObject(o, "system_fingerprint", m->fingerprint))
		return o;
	cJSON_Delete(o);
	return NULL;
}

static char *sse(char *json)
{
	if (!json)
		return NULL;
	char *s = NULL;
	if (asprintf(&s, "data: %s\n\n", json) < 0)
		s = NULL;
	free(json);
	return s;
}

char *evh_srv_chunk(const struct evh_srv_meta *m, int index, int first, const char *reasoning, size_t rn,
		    const char *content, size_t cn, const char *finish, int usage_null)
{
	int chat = m->kind == EVH_SRV_CHAT;
	cJSON *o = head(m, chat ? "chat.completion.chunk" : "text_completion");
	cJSON *chs = o ? cJSON_AddArrayToObject(o, "choices") : NULL;
	cJSON *c = cJSON_CreateObject();
	int ok = chs && c && cJSON_AddItemToArray(chs, c) && cJSON_AddNumberToObject(c, "index", index);
	if (!ok)
		cJSON_Delete(c);
	if (ok && chat) {
		cJSON *d = cJSON_AddObjectToObject(c, "delta");
		ok = d && (!first || cJSON_AddStringToObject(d, "role", "assistant"));
		/* The role-only first delta carries content "" as OpenAI's does. */
		if (ok && (cn || (first && !rn)))
			ok = add_text(d, "content", content ? content : "", cn);
		if (ok && rn)
			ok = add_text(d, "reasoning_content", reasoning, rn);
	} else if (ok) {
		ok = add_text(c, "text", content ? content : "", cn);
	}
	ok = ok && cJSON_AddNullToObject(c, "logprobs") &&
	     (finish ? cJSON_AddStringToObject(c, "finish_reason", finish) != NULL
		     : cJSON_AddNullToObject(c, "finish_reason") != NULL) &&
	     (!usage_null || cJSON_AddNullToObject(o, "usage"));
	return sse(print_free(o, ok));
}

static int add_usage(cJSON *o, const struct evh_srv_usage *u)
{
	cJSON *us = cJSON_AddObjectToObject(o, "usage");
	cJSON *d = us ? cJSON_CreateObject() : NULL;
	int ok = d && cJSON_AddNumberToObject(us, "prompt_tokens", (double)u->prompt) &&
		 cJSON_AddNumberToObject(us, "completion_tokens", (double)u->completion) &&
		 cJSON_AddNumberToObject(us, "total_tokens", (double)(u->prompt + u->completion)) &&
		 cJSON_AddItemToObject(us, "completion_tokens_details", d);
	if (!ok) {
		cJSON_Delete(d);
		return 0;
	}
	return cJSON_AddNumberToObject(d, "reasoning_tokens", (double)u->reasoning) != NULL;
}

char *evh_srv_usage_chunk(const struct evh_srv_meta *m, const struct evh_srv_usage *u)
{
	cJSON *o = head(m, m->kind == EVH_SRV_CHAT ? "chat.completion.chunk" : "text_completion");
	int ok = o && cJSON_AddArrayToObject(o, "choices") && add_usage(o, u);
	return sse(print_free(o, ok));
}

char *evh_srv_response(const struct evh_srv_meta *m, const struct evh_srv_choice_out *ch, int n,
		       const struct evh_srv_usage *u)
{
	int chat = m->kind == EVH_SRV_CHAT;
	cJSON *o = head(m, chat ? "chat.completion" : "text_completion");
	cJSON *chs = o ? cJSON_AddArrayToObject(o, "choices") : NULL;
	int ok = chs != NULL;
	for (int i = 0; ok && i < n; i++) {
		cJSON *c = cJSON_CreateObject();
		ok = c && cJSON_AddItemToArray(chs, c) && cJSON_AddNumberToObject(c, "index", i);
		if (!ok) {
			cJSON_Delete(c);
			break;
		}
		const char *content = ch[i].content ? ch[i].content : "";
		if (chat) {
			cJSON *msg = cJSON_AddObjectToObject(c, "message");
			ok = msg && cJSON_AddStringToObject(msg, "role", "assistant") &&
			     add_text(msg, "content", content, strlen(content)) &&
			     (!ch[i].reasoning || add_text(msg, "reasoning_content", ch[i].reasoning, strlen(ch[i].reasoning)));
		} else {
			ok = add_text(c, "text", content, strlen(content));
		}
		ok = ok && cJSON_AddNullToObject(c, "logprobs") &&
		     cJSON_AddStringToObject(c, "finish_reason", ch[i].finish ? ch[i].finish : "stop");
	}
	ok = ok && add_usage(o, u);
	return print_free(o, ok);
}

char *evh_srv_models_json(const char *id, long created)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *d = o ? cJSON_AddArrayToObject(o, "data") : NULL;
	cJSON *m = d ? cJSON_CreateObject() : NULL;
	int ok = m && cJSON_AddItemToArray(d, m) && cJSON_AddStringToObject(o, "object", "list") &&
		 add_text(m, "id", id, strlen(id)) && cJSON_AddStringToObject(m, "object", "model") &&
		 cJSON_AddNumberToObject(m, "created", (double)created) && cJSON_AddStringToObject(m, "owned_by", "evalh");
	if (!ok && m && !cJSON_GetArraySize(d))
		cJSON_Delete(m);
	return print_free(o, ok);
}
