/* test_openai.c — the OpenAI-compatible provider against a real HTTP server on 127.0.0.1
 * (tests/server/fake_openai.py, started here as a child process): each misbehaviour the server can
 * be told to show, and what the caller then sees. The server's request log checks what was sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "harness/provider_openai.h"

#define KEY_ENV "EVH_TEST_OPENAI_KEY"
#define KEY "sk-test-SECRET-0123456789"

static pid_t server_pid;
static char base_url[64];
static char log_path[128];
static char tmpdir[64];

static int start_server(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evh_test_openai.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(log_path, sizeof log_path, "%s/requests.jsonl", tmpdir);
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execlp("python3", "python3", "tests/server/fake_openai.py", "--log", log_path, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	char line[32] = "";
	FILE *f = fdopen(fd[0], "r");
	assert_non_null(fgets(line, sizeof line, f)); /* the server prints its port once listening */
	fclose(f);
	int port = atoi(line);
	assert_true(port > 0);
	snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d/v1/", port);
	setenv(KEY_ENV, KEY, 1);
	return 0;
}

static int stop_server(void **state)
{
	kill(server_pid, SIGTERM);
	waitpid(server_pid, NULL, 0);
	unlink(log_path);
	rmdir(tmpdir);
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct evh_openai_cfg cfg_for(const char *model, int stream)
{
	struct evh_openai_cfg c = {.base_url = base_url, .model_id = model, .api_key_env = KEY_ENV,
				   .stream = stream};
	evh_retry_defaults(&c.retry);
	c.retry.max_attempts = 3;
	c.retry.timeout_s = 20;
	c.retry.connect_timeout_s = 5;
	c.retry.stall_s = 1;
	c.retry.backoff_base_s = 0.01;
	c.retry.backoff_max_s = 5;
	return c;
}

static const struct evh_request ask = {
	.system = "Be brief.", .user = "What is 2 + 3?", .temperature = -1, .top_p = -1};

/* Runs one request; the error text is checked for the key every time. */
static int run_cfg(const struct evh_openai_cfg *c, const struct evh_request *rq, struct evh_response *r,
		   struct evh_err *err)
{
	struct evh_provider *p = NULL;
	evh_err_clear(err);
	assert_int_equal(evh_openai_create(c, &p, err), 0);
	assert_string_equal(p->name, "openai");
	int rc = p->complete(p, rq, r, err);
	p->free(p);
	assert_null(strstr(err->msg, KEY));
	assert_null(strstr(err->where, KEY));
	/* 0 attempts only when the request could not even be built (no key). */
	assert_true(r->attempts >= (rc == EVH_EMISUSE ? 0 : 1) && r->attempts <= c->retry.max_attempts);
	if (rc == 0) {
		assert_int_equal(err->code, 0);
		assert_non_null(r->text);
		assert_true(r->ttft_s > 0 && r->ttft_s <= r->total_s);
	} else {
		assert_int_equal(err->code, rc);
		assert_null(r->text);
	}
	return rc;
}

static int run(const char *model, int stream, struct evh_response *r, struct evh_err *err)
{
	struct evh_openai_cfg c = cfg_for(model, stream);
	return run_cfg(&c, &ask, r, err);
}

static const char *answer = "The answer is \\boxed{5}.";
static const char *thought = "Let me think. I add the numbers carefully.";

/* Usage from the server: prompt = characters of system + user, completion = characters of content +
 * reasoning (the fake server's documented rule), cached 7. */
static void check_usage(const struct evh_response *r, long reasoning)
{
	assert_int_equal(r->tokens_in, (long)(strlen(ask.system) + strlen(ask.user)));
	assert_int_equal(r->tokens_out, (long)strlen(answer) + reasoning);
	assert_int_equal(r->tokens_reasoning, reasoning);
	assert_int_equal(r->tokens_cached, 7);
	assert_int_equal(r->tokens_estimated, 0);
}

static void plain_both_modes(void **state)
{
	for (int stream = 0; stream <= 1; stream++) {
		struct evh_response r;
		struct evh_err err;
		assert_int_equal(run("plain", stream, &r, &err), 0);
		assert_string_equal(r.text, answer);
		assert_null(r.reasoning);
		assert_string_equal(r.finish_reason, "stop");
		assert_string_equal(r.model, "plain");
		assert_int_equal(r.http_status, 200);
		assert_int_equal(r.attempts, 1);
		check_usage(&r, 0);
		evh_response_free(&r);
		assert_null(r.text);
	}
}

static void reasoning_formats(void **state)
{
	const char *models[] = {"scenario:deepseek", "scenario:vllm", "scenario:think",
				"scenario:deepseek,split,crlf,keepalive"};
	for (size_t i = 0; i < sizeof models / sizeof *models; i++)
		for (int stream = 0; stream <= 1; stream++) {
			struct evh_response r;
			struct evh_err err;
			assert_int_equal(run(models[i], stream, &r, &err), 0);
			assert_string_equal(r.text, answer);
			assert_non_null(r.reasoning);
			assert_string_equal(r.reasoning, thought);
			/* <think> inline is counted by the server as content (no reasoning_tokens). */
			if (!strstr(models[i], "think"))
				check_usage(&r, (long)strlen(thought));
			evh_response_free(&r);
		}
}

static long count_words(void *ctx, const char *text)
{
	int *calls = ctx;
	++*calls;
	long n = 0;
	for (const char *p = text; *p; p++)
		n += (*p != ' ' && (p == text || p[-1] == ' '));
	return n;
}

/* Asks the fake server's scenario model, streaming or not, with count_words as the token counter
 * (its calls counted in *calls); the request must succeed. */
static void run_counted(const char *model, int stream, int *calls, struct evh_response *r)
{
	struct evh_openai_cfg c = cfg_for(model, stream);
	c.count_tokens = count_words;
	c.count_ctx = calls;
	struct evh_err err;
	assert_int_equal(run_cfg(&c, &ask, r, &err), 0);
}

static void no_usage_is_estimated(void **state)
{
	for (int stream = 0; stream <= 1; stream++) {
		int calls = 0;
		struct evh_response r;
		run_counted("scenario:nousage,deepseek", stream, &calls, &r);
		assert_int_equal(r.tokens_estimated, 1);
		assert_true(calls > 0);
		assert_int_equal(r.tokens_in, 2 + 5);    /* words of "Be brief." + "What is 2 + 3?" */
		assert_int_equal(r.tokens_reasoning, 8); /* words of the reasoning */
		assert_int_equal(r.tokens_out, 4 + 8);   /* words of the answer + reasoning */
		evh_response_free(&r);
	}
	/* Usage without reasoning_tokens beside reasoning text: the rest is exact, reasoning counted. */
	int calls = 0;
	struct evh_response r;
	run_counted("scenario:noreasontok,deepseek", 1, &calls, &r);
	assert_int_equal(r.tokens_estimated, 1);
	assert_int_equal(r.tokens_out, (long)(strlen(answer) + strlen(thought)));
	assert_int_equal(r.tokens_reasoning, 8);
	evh_response_free(&r);
}

static void retry_after_honoured(void **state)
{
	struct evh_response r;
	struct evh_err err;
	double t = now();
	assert_int_equal(run("scenario:429x2,ra=1", 1, &r, &err), 0);
	/* Two waits of Retry-After: 1 s; backoff alone (base 0.01 s) would wait at most 0.03 s. */
	assert_true(now() - t >= 2.0);
	assert_int_equal(r.attempts, 3);
	assert_string_equal(r.text, answer);
	evh_response_free(&r);

	t = now();
	assert_int_equal(run("scenario:503x1,radate=2", 0, &r, &err), 0);
	assert_true(now() - t >= 0.9); /* an HTTP date 2 s ahead, at one-second resolution */
	assert_int_equal(r.attempts, 2);
	evh_response_free(&r);
}

static void retry_after_capped(void **state)
{
	/* Retry-After: 3600 is capped at backoff_max_s, so the run is bounded. */
	struct evh_openai_cfg c = cfg_for("scenario:429x1,ra=3600", 1);
	c.retry.backoff_max_s = 0.2;
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run_cfg(&c, &ask, &r, &err), 0);
	assert_int_equal(r.attempts, 2);
	evh_response_free(&r);
}

static void storm_gives_up(void **state)
{
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run("scenario:429,ra=0", 1, &r, &err), EVH_EHTTP);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 429);
	assert_non_null(strstr(err.msg, "gave up after 3 attempts"));
	assert_non_null(strstr(err.msg, "HTTP 429 Too Many Requests"));
	assert_non_null(strstr(err.msg, "Rate limit reached")); /* the server's own words */
	assert_non_null(strstr(err.where, "/v1/chat/completions"));
	evh_response_free(&r);
}

static void server_errors_retried(void **state)
{
	const char *models[] = {"scenario:500x2", "scenario:502x1", "scenario:errchunkx1",
				"scenario:errbodyx2"};
	for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
		struct evh_response r;
		struct evh_err err;
		assert_int_equal(run(models[i], 1, &r, &err), 0);
		assert_true(r.attempts >= 2);
		assert_string_equal(r.text, answer);
		evh_response_free(&r);
	}
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run("scenario:errchunk", 1, &r, &err), EVH_EHTTP);
	assert_non_null(strstr(err.msg, "model overloaded mid-stream"));
	assert_int_equal(r.attempts, 3);
}

static void client_errors_not_retried(void **state)
{
	struct {
		const char *model, *words;
		int status;
	} cases[] = {
		{"scenario:400", "HTTP 400 Bad Request: max_tokens is too large", 400},
		{"scenario:401", "HTTP 401 Unauthorized: Incorrect API key provided: Bearer ****", 401},
		{"scenario:403", "HTTP 403 Forbidden: forbidden model", 403},
		{"scenario:404", "HTTP 404 Not Found: The model does not exist", 404},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct evh_response r;
		struct evh_err err;
		assert_int_equal(run(cases[i].model, 1, &r, &err), EVH_EHTTP);
		assert_int_equal(r.attempts, 1);
		assert_int_equal(r.http_status, cases[i].status);
		if (!strstr(err.msg, cases[i].words))
			fail_msg("got \"%s\", want \"%s\"", err.msg, cases[i].words);
	}
}

static void key_handling(void **state)
{
	/* Unset variable: a clear error before any request. */
	struct evh_openai_cfg c = cfg_for("plain", 1);
	c.api_key_env = "EVH_TEST_OPENAI_KEY_UNSET";
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run_cfg(&c, &ask, &r, &err), EVH_EMISUSE);
	assert_non_null(strstr(err.msg, "EVH_TEST_OPENAI_KEY_UNSET is not set"));
	/* No variable named: no Authorization header (local vLLM/llama.cpp). */
	c.api_key_env = NULL;
	c.model_id = "scenario:401";
	assert_int_equal(run_cfg(&c, &ask, &r, &err), EVH_EHTTP);
	assert_non_null(strstr(err.msg, "Incorrect API key provided: ")); /* nothing echoed */
	assert_null(strstr(err.msg, "Bearer"));
}

static void stalls_and_timeouts(void **state)
{
	struct evh_response r;
	struct evh_err err;
	/* A stream that stops for 3 s is abandoned after stall_s = 1 s and retried. */
	assert_int_equal(run("scenario:stall=3x1", 1, &r, &err), 0);
	assert_int_equal(r.attempts, 2);
	evh_response_free(&r);

	struct evh_openai_cfg c = cfg_for("scenario:stall=3", 1);
	c.retry.max_attempts = 2;
	assert_int_equal(run_cfg(&c, &ask, &r, &err), EVH_ETIMEOUT);
	assert_non_null(strstr(err.msg, "stalled"));
	assert_int_equal(r.attempts, 2);

	/* Non-streaming requests are bounded by the whole-attempt timeout instead. */
	c = cfg_for("scenario:stall=3", 0);
	c.retry.max_attempts = 2;
	c.retry.timeout_s = 1;
	assert_int_equal(run_cfg(&c, &ask, &r, &err), EVH_ETIMEOUT);
	assert_non_null(strstr(err.msg, "timed out"));
	assert_int_equal(r.attempts, 2);
}

static void broken_streams(void **state)
{
	struct evh_response r;
	struct evh_err err;
	/* Connection closed mid-body, then a good attempt. */
	assert_int_equal(run("scenario:dropx1", 1, &r, &err), 0);
	assert_int_equal(r.attempts, 2);
	assert_string_equal(r.text, answer);
	evh_response_free(&r);
	assert_int_equal(run("scenario:drop", 1, &r, &err), EVH_ENET);
	assert_int_equal(r.attempts, 3);
	/* A complete HTTP body whose stream has neither [DONE] nor finish_reason. */
	assert_int_equal(run("scenario:trunc", 1, &r, &err), EVH_ENET);
	assert_non_null(strstr(err.msg, "stream ended early"));
	assert_int_equal(r.attempts, 3);
	/* finish_reason without [DONE] is complete enough. */
	assert_int_equal(run("scenario:nodone", 1, &r, &err), 0);
	assert_string_equal(r.text, answer);
	evh_response_free(&r);
	/* A server that ignores stream:true and answers with one JSON body. */
	assert_int_equal(run("scenario:ignorestream", 1, &r, &err), 0);
	assert_string_equal(r.text, answer);
	evh_response_free(&r);
}

static void bad_bodies(void **state)
{
	for (int stream = 0; stream <= 1; stream++) {
		struct evh_response r;
		struct evh_err err;
		assert_int_equal(run("scenario:garbage", stream, &r, &err), EVH_EFORMAT);
		assert_int_equal(r.attempts, 1);
		assert_non_null(strstr(err.where, base_url + 7)); /* names the URL */
		/* the first bytes, with control characters made visible */
		assert_non_null(strstr(err.msg, "not a JSON object"));
		assert_non_null(strstr(err.msg, "<html>.. this is not json"));

		/* An event stream whose second event is not JSON (also when not asked to stream). */
		assert_int_equal(run("scenario:ssegarbage", stream, &r, &err), EVH_EFORMAT);
		assert_int_equal(r.attempts, 1);
		assert_non_null(strstr(err.msg, "stream event 2 is not a JSON object: \"<html>.oops\""));

		assert_int_equal(run("scenario:html", stream, &r, &err), EVH_EFORMAT);
		assert_non_null(strstr(err.msg, "content type \"text/html\""));
		assert_non_null(strstr(err.msg, "Welcome to nginx"));
	}
}

static void connection_refused(void **state)
{
	/* A port that was just free: nothing listens there. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
	struct evh_openai_cfg c = cfg_for("plain", 1);
	c.base_url = url;
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run_cfg(&c, &ask, &r, &err), EVH_ENET);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 0);
	assert_non_null(strstr(err.msg, "onnect")); /* curl's "Couldn't connect"/"Connection refused" */
}

/* The last logged request whose model is `model`, parsed; NULL when none. */
static cJSON *logged(const char *model)
{
	FILE *f = fopen(log_path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	cJSON *found = NULL;
	while (getline(&line, &cap, f) > 0) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *m = cJSON_GetObjectItem(j, "model");
		if (cJSON_IsString(m) && !strcmp(m->valuestring, model)) {
			cJSON_Delete(found);
			found = j;
		} else {
			cJSON_Delete(j);
		}
	}
	free(line);
	fclose(f);
	return found;
}

static void request_as_sent(void **state)
{
	struct evh_openai_cfg c = cfg_for("logcheck", 1);
	c.extra_body = "{\"max_tokens\": 64, \"top_k\": 20, \"chat_template_kwargs\": {\"thinking\": true}}";
	struct evh_request rq = {.system = "sys", .user = "What is 7 * 8?", .temperature = 0.6, .top_p = 0.95,
				 .max_tokens = 128, .seed = 0x100000000ull + 42, .has_seed = 1};
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run_cfg(&c, &rq, &r, &err), 0);
	assert_string_equal(r.text, "The answer is \\boxed{56}.");
	evh_response_free(&r);

	cJSON *j = logged("logcheck");
	assert_non_null(j);
	const cJSON *h = cJSON_GetObjectItem(j, "headers"), *b = cJSON_GetObjectItem(j, "body");
	assert_string_equal(cJSON_GetObjectItem(j, "path")->valuestring, "/v1/chat/completions");
	assert_string_equal(cJSON_GetObjectItem(h, "authorization")->valuestring, "Bearer " KEY);
	assert_string_equal(cJSON_GetObjectItem(h, "content-type")->valuestring, "application/json");
	const cJSON *msgs = cJSON_GetObjectItem(b, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "role")->valuestring, "system");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "content")->valuestring, "sys");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "role")->valuestring, "user");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring,
			    "What is 7 * 8?");
	assert_true(cJSON_GetObjectItem(b, "temperature")->valuedouble == 0.6);
	assert_true(cJSON_GetObjectItem(b, "top_p")->valuedouble == 0.95);
	assert_int_equal(cJSON_GetObjectItem(b, "max_tokens")->valueint, 64); /* extra_body overrides */
	assert_int_equal(cJSON_GetObjectItem(b, "top_k")->valueint, 20);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "chat_template_kwargs"), "thinking")));
	assert_int_equal(cJSON_GetObjectItem(b, "seed")->valuedouble, 42); /* modulo 2^31 */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "stream_options"), "include_usage")));
	cJSON_Delete(j);

	/* Unset sampling stays unset; non-streaming sends no stream fields; no system message. */
	c = cfg_for("logcheck2", 0);
	struct evh_request bare = {.user = "What is 1 + 1?", .temperature = -1, .top_p = -1};
	assert_int_equal(run_cfg(&c, &bare, &r, &err), 0);
	evh_response_free(&r);
	j = logged("logcheck2");
	b = cJSON_GetObjectItem(j, "body");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "messages")), 1);
	const char *absent[] = {"temperature", "top_p", "max_tokens", "seed", "stream", "stream_options"};
	for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
		assert_null(cJSON_GetObjectItem(b, absent[i]));
	cJSON_Delete(j);
}

static void wrong_answer(void **state)
{
	struct evh_response r;
	struct evh_err err;
	assert_int_equal(run("scenario:wrong", 1, &r, &err), 0);
	assert_string_equal(r.text, "The answer is \\boxed{6}.");
	evh_response_free(&r);
}

static void bad_config(void **state)
{
	struct evh_provider *p = (void *)1;
	struct evh_err err = {0};
	struct evh_openai_cfg c = cfg_for("m", 1);
	c.base_url = "";
	assert_int_equal(evh_openai_create(&c, &p, &err), EVH_EMISUSE);
	assert_null(p);
	assert_string_equal(err.where, "base_url");
	c = cfg_for("m", 1);
	c.extra_body = "[1,2]";
	evh_err_clear(&err);
	assert_int_equal(evh_openai_create(&c, &p, &err), EVH_EMISUSE);
	assert_string_equal(err.where, "extra_body");
	c = cfg_for("m", 1);
	c.retry.max_attempts = 0;
	evh_err_clear(&err);
	assert_int_equal(evh_openai_create(&c, &p, &err), EVH_EMISUSE);
}

struct worker {
	struct evh_provider *p;
	int ok;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 10; i++) {
		char q[64], want[64];
		snprintf(q, sizeof q, "What is %d + %d?", i, 100 * i);
		snprintf(want, sizeof want, "The answer is \\boxed{%d}.", 101 * i);
		struct evh_request rq = {.user = q, .temperature = -1, .top_p = -1};
		struct evh_response r;
		struct evh_err err = {0};
		if (w->p->complete(w->p, &rq, &r, &err) == 0 && !strcmp(r.text, want))
			w->ok++;
		evh_response_free(&r);
	}
	return NULL;
}

static void concurrent_workers(void **state)
{
	struct evh_openai_cfg c = cfg_for("scenario:deepseek", 1);
	struct evh_provider *p;
	assert_int_equal(evh_openai_create(&c, &p, NULL), 0);
	pthread_t t[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){p, 0};
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 10);
	}
	p->free(p);
}

/* Last: the cancel flag is process-wide and cannot be cleared. */
static void cancel_stops_everything(void **state)
{
	assert_int_equal(evh_provider_cancelled(), 0);
	evh_provider_cancel_all();
	assert_int_equal(evh_provider_cancelled(), 1);
	struct evh_response r;
	struct evh_err err;
	double t = now();
	assert_int_equal(run("scenario:429,ra=5", 1, &r, &err), EVH_ENET);
	assert_non_null(strstr(err.msg, "cancelled"));
	assert_int_equal(r.attempts, 1);
	assert_true(now() - t < 4); /* did not sit out Retry-After */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_both_modes),
		cmocka_unit_test(reasoning_formats),
		cmocka_unit_test(no_usage_is_estimated),
		cmocka_unit_test(retry_after_honoured),
		cmocka_unit_test(retry_after_capped),
		cmocka_unit_test(storm_gives_up),
		cmocka_unit_test(server_errors_retried),
		cmocka_unit_test(client_errors_not_retried),
		cmocka_unit_test(key_handling),
		cmocka_unit_test(stalls_and_timeouts),
		cmocka_unit_test(broken_streams),
		cmocka_unit_test(bad_bodies),
		cmocka_unit_test(connection_refused),
		cmocka_unit_test(request_as_sent),
		cmocka_unit_test(wrong_answer),
		cmocka_unit_test(bad_config),
		cmocka_unit_test(concurrent_workers),
		cmocka_unit_test(cancel_stops_everything),
	};
	return cmocka_run_group_tests(tests, start_server, stop_server);
}
