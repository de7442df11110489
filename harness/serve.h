/* serve.h — `evalh serve`: the built-in engine behind an OpenAI-compatible HTTP server
 * (libmicrohttpd). POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health.
 * See harness/serve.c for the decisions (threads, queue, reasoning split, errors). */
#ifndef EVH_SERVE_H
#define EVH_SERVE_H

#include <stddef.h>

#include "harness/util/err.h"

struct evh_serve_opts {
	const char *model;       /* engine:PATH or a registry name whose provider is "engine" */
	const char *models_file; /* user models.json, NULL: the registry's default places */
	const char *served_name; /* model id clients send and /v1/models lists; NULL: the registry's */
	const char *host;        /* numeric address or name to bind; default "127.0.0.1" */
	int port;                /* 0: any free port (evh_server_port tells which) */
	const char *api_key_env; /* NAME of the env var holding the bearer key; NULL: no auth */
	int threads;             /* matmul threads per slot (eng_model_set_threads) */
	int parallel;            /* slots: requests generating at once; default the CPU count */
	int max_queue;           /* requests waiting for a slot before 429 */
	size_t max_body;         /* request body bytes before 413 */
	int quiet;               /* no per-request error log on stderr */
};
void evh_serve_opts_defaults(struct evh_serve_opts *o);

struct evh_server;

/* Binds, answers 503 while the model loads, loads it, then serves. Returns once the model is
 * ready; the server runs on its own threads until evh_serve_stop. On failure *out is NULL. */
int evh_serve_start(const struct evh_serve_opts *o, struct evh_server **out, struct evh_err *err);
int evh_server_port(const struct evh_server *s);
/* Stops generation in flight (callbacks say stop), closes connections, frees everything. NULL ok. */
void evh_serve_stop(struct evh_server *s);

/* The subcommand: argv[0] is "serve". Runs until SIGINT/SIGTERM; returns an EVH_EXIT_* code. */
int evh_serve_main(int argc, char **argv);

#endif
