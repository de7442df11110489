/* cmd_generate.c — `evalh tokenize` and `evalh generate`: the engine's tokenizer and generation
 * from the command line, for users checking a model and for scripts (JSON out). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "harness/cli.h"
#include "harness/registry.h"
#include "harness/util/buf.h"
#include "harness/util/json.h"

static int read_stdin(struct evh_buf *b, struct evh_err *err)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		if (evh_buf_add(b, chunk, n))
			return evh_err_fail(err, EVH_ELIMIT, "stdin", "input larger than %zu bytes", b->limit);
	return ferror(stdin) ? evh_err_fail(err, EVH_EIO, "stdin", "read failed") : EVH_OK;
}

/* PATH is a tokenizer.json or a folder holding one (and maybe tokenizer_config.json). */
static int load_tokenizer(const char *path, struct eng_tokenizer **tok, struct evh_err *err)
{
	char json[PATH_MAX], cfg[PATH_MAX];
	struct stat st;
	const char *cfg_path = NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(json, sizeof json, "%s/tokenizer.json", path);
		snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", path);
		if (stat(cfg, &st) == 0)
			cfg_path = cfg;
	} else {
		snprintf(json, sizeof json, "%s", path);
	}
	struct eng_err ee = {0};
	if (eng_tok_load(json, cfg_path, tok, &ee))
		return evh_err_fail(err, ee.code == ENG_EIO ? EVH_ENOTFOUND : EVH_EFORMAT, json, "%s", ee.msg);
	return EVH_OK;
}

int evh_cmd_tokenize(int argc, char **argv)
{
	const char *path = NULL;
	int decode = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--decode") == 0)
			decode = 1;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "usage: evalh tokenize PATH [--decode]  (text or a JSON id array on stdin)\n");
			return EVH_EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: evalh tokenize PATH [--decode]  (text or a JSON id array on stdin)\n");
		return EVH_EXIT_USAGE;
	}
	struct evh_err err = {0};
	struct eng_tokenizer *tok = NULL;
	struct evh_buf in;
	evh_buf_init(&in, EVH_LIMIT_BODY);
	int code = EVH_EXIT_OK;
	if (load_tokenizer(path, &tok, &err) || read_stdin(&in, &err)) {
		code = evh_cli_fail(&err, EVH_EXIT_USAGE);
		goto out;
	}
	if (decode) {
		cJSON *arr = NULL;
		if (evh_json_parse(evh_buf_str(&in), in.len, "stdin", &arr, &err) || !cJSON_IsArray(arr)) {
			if (!err.code)
				evh_err_fail(&err, EVH_EFORMAT, "stdin", "expected a JSON array of token ids");
			cJSON_Delete(arr);
			code = evh_cli_fail(&err, EVH_EXIT_USAGE);
			goto out;
		}
		int n = cJSON_GetArraySize(arr), i = 0;
		int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
		const cJSON *v;
		cJSON_ArrayForEach(v, arr)
		{
			double d = cJSON_GetNumberValue(v);
			if (!cJSON_IsNumber(v) || d < 0 || d >= (double)eng_tok_vocab_size(tok) || d != (int32_t)d) {
				evh_err_fail(&err, EVH_EFORMAT, "stdin", "element %d: expected a token id in [0, %zu)", i,
					     eng_tok_vocab_size(tok));
				break;
			}
			ids[i++] = (int32_t)d;
		}
		cJSON_Delete(arr);
		if (err.code) {
			free(ids);
			code = evh_cli_fail(&err, EVH_EXIT_USAGE);
			goto out;
		}
		size_t len = 0;
		char *text = eng_tok_decode_n(tok, ids, (size_t)n, 0, &len);
		free(ids);
		if (text)
			fwrite(text, 1, len, stdout);
		free(text);
		goto out;
	}
	int32_t *ids = NULL;
	size_t n = 0;
	struct eng_err ee = {0};
	if (eng_tok_encode(tok, evh_buf_str(&in), in.len, &ids, &n, &ee)) {
		evh_err_fail(&err, EVH_EFORMAT, "stdin", "%s", ee.msg);
		code = evh_cli_fail(&err, EVH_EXIT_USAGE);
		goto out;
	}
	putchar('[');
	for (size_t i = 0; i < n; i++)
		printf(i ? ", %d" : "%d", ids[i]);
	puts("]");
	free(ids);
out:
	evh_buf_free(&in);
	eng_tok_free(tok);
	return code;
}

static int print_piece(void *ctx, const char *piece, size_t len)
{
	(void)ctx;
	fwrite(piece, 1, len, stdout);
	fflush(stdout);
	return 0;
}

static cJSON *ids_json(const int32_t *ids, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
	return a;
}

int evh_cmd_generate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},   {"prompt", required_argument, NULL, 'p'},
		{"chat", required_argument, NULL, 'c'},    {"system", required_argument, NULL, 'S'},
		{"max-tokens", required_argument, NULL, 'n'}, {"temperature", required_argument, NULL, 't'},
		{"top-p", required_argument, NULL, 'P'},   {"top-k", required_argument, NULL, 'k'},
		{"seed", required_argument, NULL, 's'},    {"stop", required_argument, NULL, 'x'},
		{"threads", required_argument, NULL, 'T'}, {"json", no_argument, NULL, 'j'},
		{"prompt-file", required_argument, NULL, 'f'},
		{"tp", required_argument, NULL, 'A'},      {"ep", required_argument, NULL, 'B'},
		{"comm", required_argument, NULL, 'C'},
		{0, 0, 0, 0},
	};
	const char *spec = NULL, *text = NULL, *system = NULL, *prompt_file = NULL;
	const char *stops[16];
	size_t n_stop = 0;
	int chat = 0, as_json = 0, c, rc = EVH_OK;
	long lv, threads = 1;
	double dv;
	struct eng_gen_opts go;
	eng_gen_opts_defaults(&go);
	struct eng_par_opts po;
	eng_par_opts_defaults(&po);
	struct evh_err err = {0};
	optind = 1;
	while (!rc && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': spec = optarg; break;
		case 'p': text = optarg; chat = 0; break;
		case 'c': text = optarg; chat = 1; break;
		case 'S': system = optarg; break;
		case 'f': prompt_file = optarg; chat = 0; break;
		case 'A': rc = evh_cli_long("--tp", optarg, 1, 1024, &lv, &err); po.tp = (int)lv; break;
		case 'B': rc = evh_cli_long("--ep", optarg, 1, 1024, &lv, &err); po.ep = (int)lv; break;
		case 'C': po.comm = optarg; break;
		case 'j': as_json = 1; break;
		case 'n': rc = evh_cli_long("--max-tokens", optarg, 1, 1 << 20, &lv, &err); go.max_tokens = (int)lv; break;
		case 't': rc = evh_cli_double("--temperature", optarg, 0, 2, &dv, &err); go.temperature = (float)dv; break;
		case 'P': rc = evh_cli_double("--top-p", optarg, 1e-6, 1, &dv, &err); go.top_p = (float)dv; break;
		case 'k': rc = evh_cli_long("--top-k", optarg, 0, 1 << 20, &lv, &err); go.top_k = (int)lv; break;
		case 's': rc = evh_cli_long("--seed", optarg, 0, LONG_MAX, &lv, &err); go.seed = (uint64_t)lv; break;
		case 'T': rc = evh_cli_long("--threads", optarg, 1, 256, &threads, &err); break;
		case 'x':
			if (n_stop == sizeof stops / sizeof stops[0])
				rc = evh_err_fail(&err, EVH_EMISUSE, "--stop", "at most 16 stop strings");
			else
				stops[n_stop++] = optarg;
			break;
		default: return EVH_EXIT_USAGE;
		}
	}
	if (rc)
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	/* A file keeps the prompt byte for byte (a shell's $(...) drops the trailing "\n" of "<think>\n"). */
	struct evh_buf pf;
	evh_buf_init(&pf, EVH_LIMIT_BODY);
	if (prompt_file) {
		FILE *f = strcmp(prompt_file, "-") == 0 ? stdin : fopen(prompt_file, "rb");
		char chunk[65536];
		size_t got;
		if (!f) {
			evh_err_fail(&err, EVH_ENOTFOUND, prompt_file, "cannot open");
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		}
		while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
			rc = evh_buf_add(&pf, chunk, got);
		if (f != stdin)
			fclose(f);
		if (rc) {
			evh_buf_free(&pf);
			evh_err_fail(&err, rc, prompt_file, "prompt larger than %zu bytes", pf.limit);
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		}
		text = evh_buf_str(&pf);
	}
	if (!spec || !text || optind < argc) {
		evh_buf_free(&pf);
		fprintf(stderr, "usage: evalh generate --model M (--prompt TEXT | --chat TEXT) [--system S] "
				"[--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop STR]... "
				"[--threads N] [--tp N --ep M --comm cpu|nccl] [--json]\n       (--prompt-file PATH|- reads a raw prompt byte for byte)\n");
		return EVH_EXIT_USAGE;
	}
	struct evh_registry *reg = NULL;
	struct evh_model m = {0};
	struct eng_model *model = NULL;
	struct eng_session *s = NULL;
	struct eng_err ee = {0};
	struct eng_gen_result r = {0};
	struct eng_gen_trace tr = {.top_k = as_json ? 5 : 0};
	int code = EVH_EXIT_USAGE;
	if (evh_registry_load(NULL, evh_cli_datadir(), &reg, &err) || evh_registry_resolve(reg, spec, &m, &err)) {
		code = evh_cli_fail(&err, EVH_EXIT_USAGE);
		goto out;
	}
	if (strcmp(m.provider, "engine") != 0) {
		evh_err_fail(&err, EVH_EMISUSE, spec, "generate runs the built-in engine: use engine:PATH or an engine model");
		code = evh_cli_fail(&err, EVH_EXIT_USAGE);
		goto out;
	}
	if (eng_model_load_parallel(m.path, &po, &model, &ee) || eng_model_set_threads(model, (int)threads, &ee) ||
	    eng_session_create(model, &s, &ee)) {
		evh_err_fail(&err, EVH_EENGINE, m.path, "%s", ee.msg);
		code = evh_cli_fail(&err, EVH_EXIT_FAILED);
		goto out;
	}
	struct eng_gen_input in = {.system = system, .text = text, .chat = chat, .stop = stops, .n_stop = n_stop};
	if (eng_generate(s, &in, &go, as_json ? NULL : print_piece, NULL, as_json ? &tr : NULL, &r, &ee)) {
		evh_err_fail(&err, EVH_EENGINE, m.path, "%s", ee.msg);
		code = evh_cli_fail(&err, EVH_EXIT_FAILED);
		goto out;
	}
	if (as_json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "prompt_ids", ids_json(tr.prompt_ids, tr.n_prompt));
		cJSON_AddItemToObject(o, "completion_ids", ids_json(tr.ids, tr.n));
		cJSON_AddStringToObject(o, "text", r.text);
		cJSON_AddStringToObject(o, "finish_reason", r.finish == ENG_FINISH_STOP ? "stop" : "length");
		cJSON_AddNumberToObject(o, "reasoning_tokens", r.n_reasoning);
		cJSON_AddNumberToObject(o, "ttft_s", r.ttft_s);
		cJSON_AddNumberToObject(o, "total_s", r.total_s);
		cJSON *steps = cJSON_AddArrayToObject(o, "top_logits");
		for (size_t i = 0; i < tr.n; i++) {
			cJSON *step = cJSON_CreateArray();
			for (int k = 0; k < tr.top_k; k++) {
				cJSON *p = cJSON_CreateArray();
				cJSON_AddItemToArray(p, cJSON_CreateNumber(tr.top_ids[i * (size_t)tr.top_k + (size_t)k]));
				cJSON_AddItemToArray(p, cJSON_CreateNumber(tr.top_logits[i * (size_t)tr.top_k + (size_t)k]));
				cJSON_AddItemToArray(step, p);
			}
			cJSON_AddItemToArray(steps, step);
		}
		char *out = cJSON_PrintUnformatted(o);
		puts(out ? out : "{}");
		free(out);
		cJSON_Delete(o);
	} else {
		putchar('\n');
		fprintf(stderr, "[%d prompt + %d generated tokens, %.1f tok/s, %s]\n", r.n_prompt, r.n_completion,
			r.total_s > r.ttft_s ? (r.n_completion - 1) / (r.total_s - r.ttft_s) : 0.0,
			r.finish == ENG_FINISH_STOP ? "stop" : "length");
	}
	code = EVH_EXIT_OK;
out:
	evh_buf_free(&pf);
	eng_gen_trace_free(&tr);
	eng_gen_result_free(&r);
	eng_session_free(s);
	eng_model_free(model);
	evh_model_fini(&m);
	evh_registry_free(reg);
	return code;
}
