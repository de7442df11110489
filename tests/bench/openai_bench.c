/* openai_bench.c — the harness's own cost per API request: N requests through the OpenAI provider
 * from C worker threads against a server that answers at once, timed by the wall clock and by the
 * process's CPU (getrusage), so that what is measured is evalh's client side (libcurl, JSON, SSE,
 * bookkeeping) and not the model. Stands in for `evalh bench` until that command exists.
 *   openai_bench --url BASE_URL [--n 2000] [--c 64] [--stream 0|1]
 *   openai_bench --exec CMD ARGS...   runs CMD and reports its wall time and CPU (wait4), so that the
 *                                     curl baseline is measured by the same code
 * Prints one line: "wall_s=... cpu_s=... ok=... failed=..." */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/http.h"
#include "harness/provider_openai.h"

static struct evh_provider *prov;
static atomic_int next, ok, failed;
static int total;

static void *worker(void *arg)
{
	struct evh_request rq = {.system = NULL, .user = "What is 2 + 3?", .temperature = 0.6, .top_p = 0.95,
				 .max_tokens = 64};
	while (atomic_fetch_add(&next, 1) < total) {
		struct evh_response r;
		struct evh_err err = {0};
		if (prov->complete(prov, &rq, &r, &err) == 0 && !strcmp(r.text, "The answer is \\boxed{5}.")) {
			atomic_fetch_add(&ok, 1);
		} else {
			if (atomic_fetch_add(&failed, 1) == 0)
				fprintf(stderr, "openai_bench: %s: %s\n", err.where, err.msg);
		}
		evh_response_free(&r);
	}
	return NULL;
}

static double cpu_of(const struct rusage *u)
{
	return (double)u->ru_utime.tv_sec + u->ru_utime.tv_usec * 1e-6 + (double)u->ru_stime.tv_sec +
	       u->ru_stime.tv_usec * 1e-6;
}

static int run_exec(char **argv)
{
	double t0 = evh_http_now();
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	struct rusage u;
	if (pid < 0 || wait4(pid, &st, 0, &u) < 0)
		return 1;
	printf("wall_s=%.4f cpu_s=%.4f exit=%d\n", evh_http_now() - t0, cpu_of(&u),
	       WIFEXITED(st) ? WEXITSTATUS(st) : 128);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	int conc = 64, stream = 1;
	total = 2000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--exec") && i + 1 < argc)
			return run_exec(argv + i + 1);
		if (i + 1 >= argc) {
			fprintf(stderr, "openai_bench: %s needs a value\n", argv[i]);
			return 2;
		}
		if (!strcmp(argv[i], "--url"))
			url = argv[++i];
		else if (!strcmp(argv[i], "--n"))
			total = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--c"))
			conc = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--stream"))
			stream = atoi(argv[++i]);
		else {
			fprintf(stderr, "openai_bench: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!url || conc < 1 || conc > 1024 || total < 1) {
		fprintf(stderr, "usage: openai_bench --url BASE_URL [--n N] [--c C] [--stream 0|1]\n");
		return 2;
	}
	struct evh_openai_cfg cfg = {.base_url = url, .model_id = "bench", .stream = stream};
	evh_retry_defaults(&cfg.retry);
	cfg.retry.max_attempts = 1; /* a retry would hide a failure inside the timing */
	struct evh_err err = {0};
	if (evh_openai_create(&cfg, &prov, &err)) {
		fprintf(stderr, "openai_bench: %s\n", err.msg);
		return 1;
	}
	pthread_t *t = calloc((size_t)conc, sizeof *t);
	struct rusage u0, u1;
	getrusage(RUSAGE_SELF, &u0);
	double t0 = evh_http_now();
	for (int i = 0; i < conc; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < conc; i++)
		pthread_join(t[i], NULL);
	double wall = evh_http_now() - t0;
	getrusage(RUSAGE_SELF, &u1);
	printf("wall_s=%.4f cpu_s=%.4f ok=%d failed=%d\n", wall, cpu_of(&u1) - cpu_of(&u0), atomic_load(&ok),
	       atomic_load(&failed));
	prov->free(prov);
	free(t);
	return atomic_load(&failed) ? 1 : 0;
}
