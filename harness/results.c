/* results.c — append-only samples.jsonl with resume; see results.h. */
#include "harness/results.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/util/buf.h"

struct evh_results {
	FILE *f;
	char *path;
	pthread_mutex_t mu;
	/* Set of finished keys "task\x1fitem\x1fsample", open addressing; resized at half load. */
	char **keys;
	size_t cap, n;
	size_t loaded;
};

unsigned long long evh_hash64(const void *p, size_t n, unsigned long long h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void evh_hash_hex(const char *s, char out[17])
{
	snprintf(out, 17, "%016llx", evh_hash64(s, strlen(s), 0xcbf29ce484222325ULL));
}

const char *evh_sample_state(int error_code, const char *finish_reason)
{
	if (error_code)
		return error_code == EVH_ETIMEOUT ? "timeout" : "error";
	if (!finish_reason)
		return "ok";
	if (!strcmp(finish_reason, "length") || !strcmp(finish_reason, "max_tokens"))
		return "truncated";
	if (!strcmp(finish_reason, "content_filter") || !strcmp(finish_reason, "refusal"))
		return "refused";
	return "ok";
}

static char *make_key(const char *task, const char *item, int sample)
{
	size_t n = strlen(task) + strlen(item) + 32;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s\x1f%s\x1f%d", task, item, sample);
	return k;
}

static size_t slot_of(char **keys, size_t cap, const char *k)
{
	size_t i = (size_t)evh_hash64(k, strlen(k), 0xcbf29ce484222325ULL) & (cap - 1);
	while (keys[i] && strcmp(keys[i], k) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Takes ownership of k. */
static int set_add(struct evh_results *r, char *k)
{
	if ((r->n + 1) * 2 > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		char **keys = calloc(cap, sizeof *keys);
		if (!keys) {
			free(k);
			return EVH_ENOMEM;
		}
		for (size_t i = 0; i < r->cap; i++)
			if (r->keys[i])
				keys[slot_of(keys, cap, r->keys[i])] = r->keys[i];
		free(r->keys);
		r->keys = keys;
		r->cap = cap;
	}
	size_t i = slot_of(r->keys, r->cap, k);
	if (r->keys[i]) {
		free(k);
		return EVH_OK;
	}
	r->keys[i] = k;
	r->n++;
	return EVH_OK;
}

int evh_results_done(const struct evh_results *r, const char *task, const char *item_id, int sample)
{
	if (!r->cap)
		return 0;
	char *k = make_key(task, item_id, sample);
	if (!k)
		return 0;
	int found = r->keys[slot_of(r->keys, r->cap, k)] != NULL;
	free(k);
	return found;
}

size_t evh_results_loaded(const struct evh_results *r)
{
	return r->loaded;
}

/* Reads the existing file; returns the byte length of its complete lines so that a line cut by a
 * kill can be truncated away before appending. */
static int load_existing(struct evh_results *r, FILE *f, long *good_len, struct evh_err *err)
{
	struct evh_buf line;
	evh_buf_init(&line, EVH_LIMIT_LINE);
	long off = 0;
	size_t lineno = 0;
	int c, rc = EVH_OK;
	*good_len = 0;
	for (;;) {
		c = getc(f);
		if (c == EOF)
			break;
		off++;
		if (c != '\n') {
			char ch = (char)c;
			if ((rc = evh_buf_add(&line, &ch, 1))) {
				evh_err_fail(err, rc, r->path, "line %zu longer than %u bytes", lineno + 1,
					     EVH_LIMIT_LINE);
				break;
			}
			continue;
		}
		lineno++;
		*good_len = off;
		cJSON *o = cJSON_ParseWithLength(evh_buf_str(&line), line.len);
		evh_buf_reset(&line);
		if (!o) {
			/* A complete but unparsable line is not ours to guess at: stop rather than redo work. */
			rc = evh_err_fail(err, EVH_EFORMAT, r->path, "line %zu is not valid JSON", lineno);
			break;
		}
		const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "item_id");
		const cJSON *smp = cJSON_GetObjectItemCaseSensitive(o, "sample");
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(o, "error");
		if (!cJSON_IsString(task) || !cJSON_IsString(item) || !cJSON_IsNumber(smp)) {
			cJSON_Delete(o);
			rc = evh_err_fail(err, EVH_EFORMAT, r->path, "line %zu lacks task, item_id or sample", lineno);
			break;
		}
		if (!er || cJSON_IsNull(er)) {
			char *k = make_key(task->valuestring, item->valuestring, smp->valueint);
			if (!k || (rc = set_add(r, k))) {
				cJSON_Delete(o);
				rc = evh_err_fail(err, EVH_ENOMEM, r->path, "resume set");
				break;
			}
			r->loaded++;
		}
		cJSON_Delete(o);
	}
	evh_buf_free(&line);
	return rc;
}

int evh_results_open(const char *dir, int resume, struct evh_results **out, struct evh_err *err)
{
	*out = NULL;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return evh_err_fail(err, EVH_EIO, dir, "cannot create folder: %s", strerror(errno));
	struct evh_results *r = calloc(1, sizeof *r);
	if (!r)
		return evh_err_fail(err, EVH_ENOMEM, dir, "results");
	pthread_mutex_init(&r->mu, NULL);
	size_t n = strlen(dir) + 32;
	int rc = EVH_OK;
	r->path = malloc(n);
	if (!r->path) {
		rc = evh_err_fail(err, EVH_ENOMEM, dir, "results");
		goto fail;
	}
	snprintf(r->path, n, "%s/samples.jsonl", dir);
	FILE *old = fopen(r->path, "r");
	if (old) {
		long good = 0;
		fseek(old, 0, SEEK_END);
		long size = ftell(old);
		rewind(old);
		if (size > 0 && !resume) {
			fclose(old);
			rc = evh_err_fail(err, EVH_EMISUSE, r->path,
					  "a run is already recorded here; pass --resume to continue it or choose "
					  "another --out");
			goto fail;
		}
		rc = load_existing(r, old, &good, err);
		fclose(old);
		if (rc)
			goto fail;
		if (good < size && truncate(r->path, good) != 0) {
			rc = evh_err_fail(err, EVH_EIO, r->path, "cannot cut the partial last line: %s",
					  strerror(errno));
			goto fail;
		}
	}
	r->f = fopen(r->path, "a");
	if (!r->f) {
		rc = evh_err_fail(err, EVH_EIO, r->path, "cannot open for appending: %s", strerror(errno));
		goto fail;
	}
	*out = r;
	return EVH_OK;
fail:
	evh_results_close(r);
	return rc;
}

void evh_results_close(struct evh_results *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	for (size_t i = 0; i < r->cap; i++)
		free(r->keys[i]);
	free(r->keys);
	free(r->path);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static char *sample_json(const struct evh_sample *s)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "task", s->task);
	cJSON_AddStringToObject(o, "item_id", s->item_id);
	cJSON_AddNumberToObject(o, "sample", s->sample);
	cJSON_AddStringToObject(o, "prompt_hash", s->prompt_hash);
	add_str(o, "gold", s->gold);
	add_str(o, "response", s->response);
	add_str(o, "reasoning", s->reasoning);
	add_str(o, "extracted", s->extracted);
	add_str(o, "rule", s->rule);
	add_str(o, "verdict", s->verdict);
	if (s->correct < 0)
		cJSON_AddNullToObject(o, "correct");
	else
		cJSON_AddBoolToObject(o, "correct", s->correct);
	add_str(o, "detail", s->detail);
	add_str(o, "finish_reason", s->finish_reason);
	cJSON_AddStringToObject(o, "state", s->state ? s->state : evh_sample_state(s->error_code, s->finish_reason));
	cJSON_AddNumberToObject(o, "tokens_in", (double)s->tokens_in);
	cJSON_AddNumberToObject(o, "tokens_out", (double)s->tokens_out);
	cJSON_AddNumberToObject(o, "tokens_reasoning", (double)s->tokens_reasoning);
	cJSON_AddNumberToObject(o, "tokens_cached", (double)s->tokens_cached);
	cJSON_AddBoolToObject(o, "tokens_estimated", s->tokens_estimated);
	cJSON_AddNumberToObject(o, "ttft_s", s->ttft_s);
	cJSON_AddNumberToObject(o, "total_s", s->total_s);
	cJSON_AddNumberToObject(o, "cost_usd", s->cost_usd);
	cJSON_AddNumberToObject(o, "http_status", s->http_status);
	cJSON_AddNumberToObject(o, "attempts", s->attempts);
	if (s->error_code) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		if (e) {
			cJSON_AddStringToObject(e, "code", evh_code_name(s->error_code));
			add_str(e, "message", s->error_msg);
		}
	} else {
		cJSON_AddNullToObject(o, "error");
	}
	char *text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

int evh_results_append(struct evh_results *r, const struct evh_sample *s, struct evh_err *err)
{
	char *text = sample_json(s);
	if (!text)
		return evh_err_fail(err, EVH_ENOMEM, r->path, "serialising a sample");
	int rc = EVH_OK;
	pthread_mutex_lock(&r->mu);
	/* One fputs + fflush per line: after a kill -9 the file holds whole lines plus at most one
	 * partial line, which the next --resume cuts off. */
	if (fputs(text, r->f) < 0 || fputc('\n', r->f) == EOF || fflush(r->f) != 0)
		rc = evh_err_fail(err, EVH_EIO, r->path, "write failed: %s", strerror(errno));
	if (!rc && !s->error_code) {
		char *k = make_key(s->task, s->item_id, s->sample);
		if (!k || set_add(r, k))
			rc = evh_err_fail(err, EVH_ENOMEM, r->path, "resume set");
	}
	pthread_mutex_unlock(&r->mu);
	free(text);
	return rc;
}
