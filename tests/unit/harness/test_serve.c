/* test_serve.c — evalh serve: the reasoning/stop filter fed in awkward pieces, request validation
 * naming the bad field, and the server in process on tiny-arith through libcurl (whole and
 * streamed answers agree, a multi-turn conversation continued as its rendered prompt is, error
 * statuses and OpenAI error bodies, bearer auth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"
#include "harness/serve.h"
#include "harness/serve_int.h"

/* ---- the filter ---- */

static void feed_all(struct evh_srv_text *t, const char *const *pieces)
{
	for (; *pieces; pieces++)
		if (evh_srv_text_feed(t, *pieces, strlen(*pieces)) != 0)
			break;
	assert_int_equal(evh_srv_text_finish(t), 0);
}

static void test_split_r1(void **state)
{
	(void)state;
	/* "</think>" cut across pieces must not leak into the reasoning. */
	const char *p[] = {"units: 7", "\n</th", "ink>", "\n\n", "The answer is ", "$\\boxed{7}$.", NULL};
	struct evh_srv_text t;
	evh_srv_text_init(&t, EVH_SRV_THINK, NULL, 0);
	feed_all(&t, p);
	assert_string_equal(evh_buf_str(&t.reasoning), "units: 7\n");
	assert_string_equal(evh_buf_str(&t.content), "The answer is $\\boxed{7}$.");
	evh_srv_text_fini(&t);
}

static void test_split_maybe(void **state)
{
	(void)state;
	const char *qwen[] = {"<thi", "nk>\nhm", "m</think>", "\n\n42", NULL};
	struct evh_srv_text t;
	evh_srv_text_init(&t, EVH_SRV_MAYBE_THINK, NULL, 0);
	feed_all(&t, qwen);
	assert_string_equal(evh_buf_str(&t.reasoning), "\nhmm");
	assert_string_equal(evh_buf_str(&t.content), "42");
	evh_srv_text_fini(&t);
	const char *plain[] = {"<b>", "bold", NULL}; /* starts like a tag, is no think block */
	evh_srv_text_init(&t, EVH_SRV_MAYBE_THINK, NULL, 0);
	feed_all(&t, plain);
	assert_int_equal(t.reasoning.len, 0);
	assert_string_equal(evh_buf_str(&t.content), "<b>bold");
	evh_srv_text_fini(&t);
}

static void test_stop(void **state)
{
	(void)state;
	char s1[] = "STOP", s2[] = "\n\n";
	char *stops[] = {s1, s2};
	const char *p[] = {"think ST", "OP not here", "</think>", "ans ST", "O", "P tail", NULL};
	struct evh_srv_text t;
	evh_srv_text_init(&t, EVH_SRV_THINK, stops, 2);
	feed_all(&t, p);
	assert_true(t.stopped); /* stop strings apply to the answer only */
	assert_string_equal(evh_buf_str(&t.reasoning), "think STOP not here");
	assert_string_equal(evh_buf_str(&t.content), "ans ");
	evh_srv_text_fini(&t);
	/* A held partial stop string is released when generation ends without it. */
	const char *q[] = {"abc\n", NULL};
	evh_srv_text_init(&t, EVH_SRV_ANSWER, stops, 2);
	assert_int_equal(evh_srv_text_feed(&t, q[0], 4), 0);
	assert_string_equal(evh_buf_str(&t.content), "abc");
	assert_int_equal(evh_srv_text_finish(&t), 0);
	assert_string_equal(evh_buf_str(&t.content), "abc\n");
	assert_false(t.stopped);
	evh_srv_text_fini(&t);
}

/* ---- request parsing ---- */

static int parse(const char *body, int kind, struct evh_srv_req *r, struct evh_err *e)
{
	memset(e, 0, sizeof *e);
	return evh_srv_req_parse(body, strlen(body), kind, r, e);
}

static void test_parse_ok(void **state)
{
	(void)state;
	struct evh_srv_req r;
	struct evh_err e;
	assert_int_equal(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
			       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}],"
			       "\"max_tokens\":5,\"temperature\":0.5,\"top_p\":0.9,\"n\":3,\"seed\":42,\"stop\":[\"x\",\"y\"],"
			       "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"reasoning_format\":\"none\","
			       "\"frequency_penalty\":0}",
			       EVH_SRV_CHAT, &r, &e),
			 0);
	assert_int_equal(r.n_msgs, 2);
	assert_string_equal(r.msgs[0].role, "system");
	assert_string_equal(r.msgs[0].content, "be brief");
	assert_string_equal(r.msgs[1].role, "user");
	assert_string_equal(r.msgs[1].content, "ab");
	assert_null(r.user);
	assert_int_equal(r.max_tokens, 5);
	assert_int_equal(r.n, 3);
	assert_true(r.has_seed && r.seed == 42);
	assert_int_equal(r.n_stop, 2);
	assert_true(r.stream && r.include_usage);
	assert_int_equal(r.reasoning, 0);
	evh_srv_req_fini(&r);
	assert_int_equal(parse("{\"model\":\"m\",\"prompt\":[\"2+2=\"],\"stop\":\"\\n\"}", EVH_SRV_TEXT, &r, &e), 0);
	assert_string_equal(r.user, "2+2=");
	assert_string_equal(r.stop[0], "\n");
	assert_int_equal(r.reasoning, -1);
	evh_srv_req_fini(&r);
	/* a conversation, in order; developer is system */
	assert_int_equal(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"d\"},"
			       "{\"role\":\"user\",\"content\":\"q1\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
			       "\"text\":\"a\"},{\"type\":\"text\",\"text\":\"1\"}],\"reasoning_content\":\"ignored\"},"
			       "{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"q2\"}]}",
			       EVH_SRV_CHAT, &r, &e),
			 0);
	static const char *want[][2] = {{"system", "d"}, {"user", "q1"}, {"assistant", "a1"}, {"system", "s"}, {"user", "q2"}};
	assert_int_equal(r.n_msgs, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(r.msgs[i].role, want[i][0]);
		assert_string_equal(r.msgs[i].content, want[i][1]);
	}
	evh_srv_req_fini(&r);
}

static void test_parse_bad(void **state)
{
	(void)state;
	static const struct {
		const char *body, *where;
		int code;
	} cases[] = {
		{"{\"model\":", "", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} {}", "", EVH_EFORMAT},
		{"[1]", "", EVH_EFORMAT},
		{"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[]}", "messages", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "messages[0].role", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "messages[0].content", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":3}", "temperature",
		 EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}", "max_tokens",
		 EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":17}", "n", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"\"]}", "stop[0]",
		 EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream",
		 EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\",\"content\":\"y\"}]}",
		 "messages[1]", EVH_EUNSUPPORTED},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null,"
		 "\"tool_calls\":[]}]}",
		 "messages[1]", EVH_EUNSUPPORTED},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null}]}",
		 "messages[1].content", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\"}]}",
		 "messages", EVH_EFORMAT},
		{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":7}]}",
		 "messages[1].content", EVH_EFORMAT},
		{"{\"model\":\"m\",\"prompt\":[1,2,3]}", "prompt", EVH_EUNSUPPORTED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct evh_srv_req r;
		struct evh_err e;
		int kind = strstr(cases[i].body, "prompt") ? EVH_SRV_TEXT : EVH_SRV_CHAT;
		int rc = parse(cases[i].body, kind, &r, &e);
		if (rc != cases[i].code || strcmp(e.where, cases[i].where) != 0)
			fail_msg("case %zu: rc %d where \"%s\" msg \"%s\"", i, rc, e.where, e.msg);
		assert_null(r.model);
	}
}

/* ---- the server in process ---- */

struct reply {
	long status;
	char *body;
	size_t len;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	char *b = realloc(r->body, r->len + sz * n + 1);
	assert_non_null(b);
	memcpy(b + r->len, p, sz * n);
	r->len += sz * n;
	b[r->len] = '\0';
	r->body = b;
	return sz * n;
}

static struct reply http(int port, const char *path, const char *body, const char *auth)
{
	struct reply r = {0};
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	if (auth)
		h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

/* The "error" object of an OpenAI error body, checked for its shape. */
static void assert_error(struct reply *r, long status, const char *param)
{
	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status, r->body ? r->body : "");
	cJSON *j = cJSON_Parse(r->body);
	assert_non_null(j);
	cJSON *e = cJSON_GetObjectItem(j, "error");
	assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
	assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "type")));
	if (param)
		assert_string_equal(cJSON_GetObjectItem(e, "param")->valuestring, param);
	cJSON_Delete(j);
	free(r->body);
}

static const char chat_body[] =
	"{\"model\":\"tiny-arith\",\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 35?\"}],\"temperature\":0%s}";

static void test_server(void **state)
{
	(void)state;
	setenv("EVH_TEST_SERVE_KEY", "s3cret", 1);
	struct evh_serve_opts o;
	evh_serve_opts_defaults(&o);
	o.model = "tiny-arith";
	o.port = 0;
	o.parallel = 2;
	o.max_body = 4096;
	o.api_key_env = "EVH_TEST_SERVE_KEY";
	o.quiet = 1;
	struct evh_server *s = NULL;
	struct evh_err err = {0};
	if (evh_serve_start(&o, &s, &err))
		fail_msg("start: %s: %s", err.where, err.msg);
	int port = evh_server_port(s);
	assert_true(port > 0);
	const char *key = "Authorization: Bearer s3cret";
	char body[512];

	struct reply r = http(port, "/health", NULL, NULL); /* no key needed */
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"status\":\"ok\""));
	free(r.body);

	snprintf(body, sizeof body, chat_body, "");
	r = http(port, "/v1/chat/completions", body, NULL);
	assert_error(&r, 401, NULL);
	r = http(port, "/v1/chat/completions", body, "Authorization: Bearer s3cres");
	assert_error(&r, 401, NULL);

	r = http(port, "/v1/chat/completions", body, key);
	assert_int_equal(r.status, 200);
	cJSON *j = cJSON_Parse(r.body);
	cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
	const char *content = cJSON_GetObjectItem(msg, "content")->valuestring;
	const char *reasoning = cJSON_GetObjectItem(msg, "reasoning_content")->valuestring;
	assert_non_null(strstr(content, "\\boxed{47}"));
	assert_null(strstr(content, "</think>"));
	assert_non_null(strstr(reasoning, "units"));
	cJSON *u = cJSON_GetObjectItem(j, "usage");
	int ct = cJSON_GetObjectItem(u, "completion_tokens")->valueint;
	int rt = cJSON_GetObjectItem(cJSON_GetObjectItem(u, "completion_tokens_details"), "reasoning_tokens")->valueint;
	assert_true(ct > rt && rt > 0);

	/* Streamed: the deltas add up to the same reasoning and content. */
	snprintf(body, sizeof body, chat_body, ",\"stream\":true");
	struct reply st = http(port, "/v1/chat/completions", body, key);
	assert_int_equal(st.status, 200);
	char *rs = calloc(1, st.len + 1), *cs = calloc(1, st.len + 1);
	int events = 0, done = 0;
	for (char *line = strtok(st.body, "\n"); line; line = strtok(NULL, "\n")) {
		assert_true(!strncmp(line, "data: ", 6));
		if (!strcmp(line + 6, "[DONE]")) {
			done = 1;
			continue;
		}
		cJSON *ev = cJSON_Parse(line + 6);
		assert_non_null(ev);
		cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "choices"), 0), "delta");
		cJSON *x = cJSON_GetObjectItem(d, "reasoning_content");
		if (x)
			strcat(rs, x->valuestring);
		if ((x = cJSON_GetObjectItem(d, "content")))
			strcat(cs, x->valuestring);
		events++;
		cJSON_Delete(ev);
	}
	assert_true(done);
	/* One chunk per token: all but "</think>" and the newlines after it, plus the finish chunk. */
	if (events < ct - 4 || events > ct + 1)
		fail_msg("%d chunks for %d tokens", events, ct);
	assert_string_equal(rs, reasoning);
	assert_string_equal(cs, content);
	free(rs);
	free(cs);
	free(st.body);
	char *want = strdup(reasoning);
	cJSON_Delete(j);
	free(r.body);

	/* Raw completion of a prompt the model knows the shape of. */
	r = http(port, "/v1/completions",
		 "{\"model\":\"tiny-arith\",\"prompt\":\"<｜begin▁of▁sentence｜><｜User｜>What is 12 + 35?<｜Assistant｜><think>\\n\","
		 "\"temperature\":0,\"stop\":[\"</think>\"]}",
		 key);
	assert_int_equal(r.status, 200);
	j = cJSON_Parse(r.body);
	const char *text = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "text")->valuestring;
	assert_string_equal(text, want); /* the raw text, cut before the stop string */
	free(want);
	cJSON_Delete(j);
	free(r.body);

	/* A conversation: the server renders it with the model's template (what eng_chat_render_msgs
	 * gives, here through the raw /completions endpoint) and both continue it the same way. */
	static const struct eng_chat_msg conv[] = {
		{"user", "What is 2 + 3?"},
		{"assistant", "units: 2 + 3 = 5, write 5\n</think>\n\nThe answer is $\\boxed{5}$."},
		{"user", "What is 12 + 35?"},
	};
	struct eng_tokenizer *tok = NULL;
	assert_int_equal(eng_tok_load("engine/models/tiny-arith/tokenizer.json",
				      "engine/models/tiny-arith/tokenizer_config.json", &tok, NULL),
			 ENG_OK);
	char *prompt = NULL;
	assert_int_equal(eng_chat_render_msgs(tok, eng_tok_chat_family(tok), conv, 3, 0, &prompt, NULL), ENG_OK);
	eng_tok_free(tok);
	cJSON *cb = cJSON_CreateObject(), *ms = cJSON_AddArrayToObject(cb, "messages");
	cJSON_AddStringToObject(cb, "model", "tiny-arith");
	for (size_t i = 0; i < 3; i++) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", conv[i].role);
		cJSON_AddStringToObject(m, "content", conv[i].content);
		cJSON_AddItemToArray(ms, m);
	}
	cJSON_AddNumberToObject(cb, "temperature", 0);
	cJSON_AddNumberToObject(cb, "max_tokens", 24);
	cJSON_AddStringToObject(cb, "reasoning_format", "none");
	char *chat = cJSON_PrintUnformatted(cb);
	cJSON_DeleteItemFromObject(cb, "messages");
	cJSON_DeleteItemFromObject(cb, "reasoning_format");
	cJSON_AddStringToObject(cb, "prompt", prompt);
	char *comp = cJSON_PrintUnformatted(cb);
	cJSON_Delete(cb);
	free(prompt);
	struct reply rc = http(port, "/v1/chat/completions", chat, key), rtx = http(port, "/v1/completions", comp, key);
	free(chat);
	free(comp);
	assert_int_equal(rc.status, 200);
	assert_int_equal(rtx.status, 200);
	cJSON *jc = cJSON_Parse(rc.body), *jt = cJSON_Parse(rtx.body);
	cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(jc, "choices"), 0);
	cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(jt, "choices"), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "message"), "content")->valuestring,
			    cJSON_GetObjectItem(t0, "text")->valuestring);
	int pc = cJSON_GetObjectItem(cJSON_GetObjectItem(jc, "usage"), "prompt_tokens")->valueint;
	assert_int_equal(pc, cJSON_GetObjectItem(cJSON_GetObjectItem(jt, "usage"), "prompt_tokens")->valueint);
	assert_true(pc > 30); /* the history is in the prompt, not the last question alone */
	cJSON_Delete(jc);
	cJSON_Delete(jt);
	free(rc.body);
	free(rtx.body);

	r = http(port, "/v1/chat/completions", "{\"model\":\"tiny-arith\",", key);
	assert_error(&r, 400, NULL);
	r = http(port, "/v1/chat/completions",
		 "{\"model\":\"tiny-arith\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":7}", key);
	assert_error(&r, 400, "top_p");
	r = http(port, "/v1/chat/completions", "{\"model\":\"gpt-9\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		 key);
	assert_error(&r, 404, "model");
	char *big = malloc(8192);
	memset(big, ' ', 8191);
	big[8191] = '\0';
	memcpy(big, "{\"model\":\"tiny-arith\"", 21);
	big[8190] = '}';
	r = http(port, "/v1/chat/completions", big, key);
	assert_error(&r, 413, NULL);
	free(big);
	r = http(port, "/v2/anything", NULL, key);
	assert_error(&r, 404, NULL);
	evh_serve_stop(s);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_r1),  cmocka_unit_test(test_split_maybe), cmocka_unit_test(test_stop),
		cmocka_unit_test(test_parse_ok),  cmocka_unit_test(test_parse_bad),   cmocka_unit_test(test_server),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
