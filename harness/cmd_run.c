/* cmd_run.c — `evalh run`: wires registry, packs, provider, runner, results and summary. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "engine/tokenizer.h"
#include "harness/cli.h"
#include "harness/provider_engine.h"
#include "harness/provider_openai.h"
#include "harness/registry.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/stats.h"
#include "harness/util/json.h"
#include "tasks/pack.h"

static void on_signal(int sig)
{
	(void)sig;
	evh_provider_cancel_all();
}

/* ---- run ------------------------------------------------------------------------------------- */

struct run_args {
	const char *model, *tasks, *out, *models_file, *system;
	int resume, stream;
	struct evh_run_opts o;
	struct evh_retry retry;
};

static void iso_time(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void make_run_id(const char *model, char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, n, "%s-%s", ts, model);
	/* Model specs carry ':', '/', '@': keep run ids usable as folder names. */
	for (char *p = buf; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			*p = '_';
}

static cJSON *run_json(const struct run_args *a, const char *run_id, const struct evh_model *m,
		       const struct evh_task *tasks, const char *const *paths, size_t n_tasks, int argc, char **argv,
		       const char *started, const char *ended)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "run_id", run_id);
	cJSON_AddStringToObject(o, "evalh_version", EVALH_VERSION);
	cJSON_AddStringToObject(o, "git_revision", evh_cli_git_revision());
	struct utsname u;
	cJSON_AddStringToObject(o, "host", uname(&u) == 0 ? u.nodename : "unknown");
	cJSON_AddStringToObject(o, "started_at", started);
	if (ended)
		cJSON_AddStringToObject(o, "ended_at", ended);
	else
		cJSON_AddNullToObject(o, "ended_at");
	cJSON *av = cJSON_AddArrayToObject(o, "argv");
	for (int i = 0; i < argc; i++)
		cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
	cJSON *mo = cJSON_AddObjectToObject(o, "model");
	cJSON_AddStringToObject(mo, "name", m->name);
	cJSON_AddStringToObject(mo, "provider", m->provider);
	if (m->model_id)
		cJSON_AddStringToObject(mo, "model_id", m->model_id);
	if (m->base_url)
		cJSON_AddStringToObject(mo, "base_url", m->base_url);
	if (m->path)
		cJSON_AddStringToObject(mo, "path", m->path);
	if (m->api_key_env)
		cJSON_AddStringToObject(mo, "api_key_env", m->api_key_env);
	cJSON_AddNumberToObject(mo, "price_in", m->price_in);
	cJSON_AddNumberToObject(mo, "price_out", m->price_out);
	cJSON_AddNumberToObject(mo, "price_cached_in", m->price_cached_in >= 0 ? m->price_cached_in : m->price_in);
	cJSON_AddNumberToObject(mo, "gpu_hour_price", m->gpu_hour_price);
	cJSON *ta = cJSON_AddArrayToObject(o, "tasks");
	for (size_t i = 0; i < n_tasks; i++) {
		const struct pack_manifest *man = pack_manifest(tasks[i].pack);
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", tasks[i].name);
		cJSON_AddStringToObject(t, "path", paths[i]);
		cJSON_AddStringToObject(t, "digest", pack_digest(tasks[i].pack));
		cJSON_AddStringToObject(t, "version", man->version);
		cJSON_AddStringToObject(t, "domain", man->domain);
		cJSON_AddStringToObject(t, "scorer", man->scorer);
		cJSON_AddNumberToObject(t, "items", (double)pack_count(tasks[i].pack));
		cJSON_AddItemToArray(ta, t);
	}
	cJSON *op = cJSON_AddObjectToObject(o, "options");
	cJSON_AddNumberToObject(op, "samples", a->o.samples);
	cJSON_AddNumberToObject(op, "temperature", a->o.temperature >= 0 ? a->o.temperature : m->temperature);
	cJSON_AddNumberToObject(op, "top_p", a->o.top_p >= 0 ? a->o.top_p : m->top_p);
	cJSON_AddNumberToObject(op, "max_tokens", a->o.max_tokens > 0 ? a->o.max_tokens : m->max_tokens);
	cJSON_AddNumberToObject(op, "concurrency", a->o.concurrency);
	cJSON_AddNumberToObject(op, "limit", (double)a->o.limit);
	cJSON_AddNumberToObject(op, "seed", (double)a->o.seed);
	cJSON_AddBoolToObject(op, "stream", a->stream);
	cJSON_AddNumberToObject(op, "timeout_s", a->retry.timeout_s);
	cJSON_AddNumberToObject(op, "max_attempts", a->retry.max_attempts);
	return o;
}

/* On --resume the earlier run must be the same experiment: same model and tasks. */
static int check_resume(const char *dir, const struct evh_model *m, const struct evh_task *tasks, size_t n,
			char *run_id, size_t run_id_n, char *started, size_t started_n, struct evh_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/run.json", dir);
	cJSON *old = NULL;
	int rc = evh_json_load_file(path, &old, err);
	if (rc == EVH_ENOTFOUND) {
		evh_err_clear(err);
		return EVH_OK;
	}
	if (rc)
		return rc;
	const cJSON *mo = cJSON_GetObjectItemCaseSensitive(old, "model");
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mo, "name"));
	if (!name || strcmp(name, m->name) != 0) {
		rc = evh_err_fail(err, EVH_EMISUSE, path, "--resume with model \"%s\" but the run used \"%s\"", m->name,
				  name ? name : "?");
		goto out;
	}
	const cJSON *ta = cJSON_GetObjectItemCaseSensitive(old, "tasks");
	for (size_t i = 0; i < n; i++) {
		const cJSON *t = cJSON_GetArrayItem(ta, (int)i);
		const char *tn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
		const char *dg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "digest"));
		if (!tn || strcmp(tn, tasks[i].name) != 0 || !dg || strcmp(dg, pack_digest(tasks[i].pack)) != 0) {
			rc = evh_err_fail(err, EVH_EMISUSE, path,
					  "--resume with task \"%s\" whose pack differs from the recorded run's",
					  tasks[i].name);
			goto out;
		}
	}
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(old, "run_id"));
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(old, "started_at"));
	if (id)
		snprintf(run_id, run_id_n, "%s", id);
	if (st)
		snprintf(started, started_n, "%s", st);
out:
	cJSON_Delete(old);
	return rc;
}

static void print_summary(const cJSON *sum, const char *dir)
{
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(sum, "tasks"), *t;
	printf("\n| task | items | scored | errors | accuracy | 95%% CI | out tok/s | cost $ |\n");
	printf("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n");
	cJSON_ArrayForEach(t, tasks)
	{
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(t, "ci95");
		printf("| %s | %.0f | %.0f | %.0f | %.1f%% | %.1f–%.1f | %.1f | %.6f |\n", t->string,
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "items")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "scored")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "errors")),
		       100 * cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "accuracy")),
		       100 * cJSON_GetNumberValue(cJSON_GetArrayItem(ci, 0)),
		       100 * cJSON_GetNumberValue(cJSON_GetArrayItem(ci, 1)),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "output_tokens_per_s")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "cost_usd")));
	}
	printf("\nresults: %s\n", dir);
}

static int open_tasks(const char *list, struct evh_task **out_tasks, struct pack ***out_packs, char ***out_paths,
		      size_t *out_n, struct evh_err *err)
{
	char packs_dir[PATH_MAX];
	evh_cli_packs_dir(packs_dir, sizeof packs_dir);
	char *copy = strdup(list);
	size_t cap = 2; /* one more than names, so cleanup may look one past a failed open */
	for (const char *p = list; *p; p++)
		cap += *p == ',';
	struct evh_task *tasks = calloc(cap, sizeof *tasks);
	struct pack **packs = calloc(cap, sizeof *packs);
	char **paths = calloc(cap, sizeof *paths);
	size_t n = 0;
	int rc = EVH_OK;
	if (!copy || !tasks || !packs || !paths) {
		rc = evh_err_fail(err, EVH_ENOMEM, "--tasks", "task list");
		goto out;
	}
	char *save = NULL;
	for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if ((rc = pack_find(name, packs_dir, &paths[n], err)))
			break;
		if ((rc = pack_open(paths[n], &packs[n], err)))
			break;
		tasks[n].pack = packs[n];
		tasks[n].name = pack_manifest(packs[n])->name;
		for (size_t j = 0; j < n; j++)
			if (strcmp(tasks[j].name, tasks[n].name) == 0)
				rc = evh_err_fail(err, EVH_EMISUSE, "--tasks", "task \"%s\" named twice", tasks[n].name);
		n++;
		if (rc)
			break;
	}
	if (!rc && n == 0)
		rc = evh_err_fail(err, EVH_EMISUSE, "--tasks", "no task named");
out:
	free(copy);
	*out_tasks = tasks;
	*out_packs = packs;
	*out_paths = paths;
	*out_n = n;
	return rc;
}

/* Token counts for servers that report no usage, with the tokenizer the registry names. */
static long count_with_tokenizer(void *ctx, const char *text)
{
	int32_t *ids = NULL;
	size_t n = 0;
	struct eng_err ee = {0};
	if (eng_tok_encode(ctx, text, strlen(text), &ids, &n, &ee))
		return (long)(strlen(text) + 3) / 4;
	free(ids);
	return (long)n;
}

static int create_provider(const struct run_args *a, const struct evh_model *m, struct eng_tokenizer **tok,
			   struct evh_provider **prov, struct evh_err *err)
{
	if (strcmp(m->provider, "engine") == 0)
		return evh_engine_provider_create(m->path, prov, err);
	if (m->tokenizer) {
		struct eng_err ee = {0};
		if (eng_tok_load(m->tokenizer, NULL, tok, &ee))
			return evh_err_fail(err, EVH_EFORMAT, m->tokenizer, "%s", ee.msg);
	}
	struct evh_openai_cfg cfg = {
		.base_url = m->base_url,
		.model_id = m->model_id,
		.api_key_env = m->api_key_env,
		.stream = a->stream,
		.retry = a->retry,
		.count_tokens = *tok ? count_with_tokenizer : NULL,
		.count_ctx = *tok,
	};
	return evh_openai_create(&cfg, prov, err);
}

int evh_cmd_run(int argc, char **argv)
{
	struct run_args a = {.stream = 1};
	evh_run_opts_defaults(&a.o);
	evh_retry_defaults(&a.retry);
	struct evh_err err = {0};
	enum { O_TEMP = 256, O_TOPP, O_MAXTOK, O_RESUME, O_QUIET, O_NOSTREAM, O_TIMEOUT, O_ATTEMPTS, O_MODELS, O_SYSTEM };
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},
		{"tasks", required_argument, NULL, 't'},
		{"samples", required_argument, NULL, 'k'},
		{"temperature", required_argument, NULL, O_TEMP},
		{"top-p", required_argument, NULL, O_TOPP},
		{"max-tokens", required_argument, NULL, O_MAXTOK},
		{"concurrency", required_argument, NULL, 'c'},
		{"limit", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},
		{"resume", no_argument, NULL, O_RESUME},
		{"quiet", no_argument, NULL, O_QUIET},
		{"no-stream", no_argument, NULL, O_NOSTREAM},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"max-attempts", required_argument, NULL, O_ATTEMPTS},
		{"models", required_argument, NULL, O_MODELS},
		{"system", required_argument, NULL, O_SYSTEM},
		{0, 0, 0, 0},
	};
	int c, rc = EVH_OK;
	long lv;
	optind = 1;
	while (!rc && (c = getopt_long(argc, argv, "m:t:k:c:n:s:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': a.model = optarg; break;
		case 't': a.tasks = optarg; break;
		case 'o': a.out = optarg; break;
		case 'k':
			rc = evh_cli_long("--samples", optarg, 1, 1024, &lv, &err);
			a.o.samples = (int)lv;
			break;
		case 'c':
			rc = evh_cli_long("--concurrency", optarg, 1, 1024, &lv, &err);
			a.o.concurrency = (int)lv;
			break;
		case 'n':
			rc = evh_cli_long("--limit", optarg, 0, LONG_MAX, &lv, &err);
			a.o.limit = (size_t)lv;
			break;
		case 's':
			rc = evh_cli_long("--seed", optarg, 0, LONG_MAX, &lv, &err);
			a.o.seed = (uint64_t)lv;
			break;
		case O_TEMP: rc = evh_cli_double("--temperature", optarg, 0, 2, &a.o.temperature, &err); break;
		case O_TOPP: rc = evh_cli_double("--top-p", optarg, 1e-6, 1, &a.o.top_p, &err); break;
		case O_MAXTOK:
			rc = evh_cli_long("--max-tokens", optarg, 1, 10000000, &lv, &err);
			a.o.max_tokens = (int)lv;
			break;
		case O_TIMEOUT: rc = evh_cli_double("--timeout", optarg, 0.001, 86400, &a.retry.timeout_s, &err); break;
		case O_ATTEMPTS:
			rc = evh_cli_long("--max-attempts", optarg, 1, 100, &lv, &err);
			a.retry.max_attempts = (int)lv;
			break;
		case O_RESUME: a.resume = 1; break;
		case O_QUIET: a.o.quiet = 1; break;
		case O_NOSTREAM: a.stream = 0; break;
		case O_MODELS: a.models_file = optarg; break;
		case O_SYSTEM: a.o.system_prompt = a.system = optarg; break;
		default: fprintf(stderr, "evalh run: see evalh --help\n"); return EVH_EXIT_USAGE;
		}
	}
	if (rc)
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	if (optind < argc) {
		fprintf(stderr, "evalh run: unexpected argument \"%s\"\n", argv[optind]);
		return EVH_EXIT_USAGE;
	}
	if (!a.model || !a.tasks) {
		fprintf(stderr, "evalh run: --model and --tasks are required\nevalh --help\n");
		return EVH_EXIT_USAGE;
	}
	if (a.resume && !a.out) {
		fprintf(stderr, "evalh run: --resume needs --out DIR naming the run to continue\n");
		return EVH_EXIT_USAGE;
	}
	if (evh_run_opts_check(&a.o, &err))
		return evh_cli_fail(&err, EVH_EXIT_USAGE);

	struct evh_registry *reg = NULL;
	struct evh_model model = {0};
	struct evh_task *tasks = NULL;
	struct pack **packs = NULL;
	char **paths = NULL;
	size_t n_tasks = 0;
	struct evh_provider *prov = NULL;
	struct eng_tokenizer *tok = NULL;
	struct evh_results *res = NULL;
	int exit_code = EVH_EXIT_USAGE;
	char run_id[256], dir[PATH_MAX], started[64], path[PATH_MAX + 32];

	if ((rc = evh_registry_load(a.models_file, evh_cli_datadir(), &reg, &err)) ||
	    (rc = evh_registry_resolve(reg, a.model, &model, &err)) ||
	    (rc = open_tasks(a.tasks, &tasks, &packs, &paths, &n_tasks, &err)))
		goto out;
	make_run_id(model.name, run_id, sizeof run_id);
	if (a.out)
		snprintf(dir, sizeof dir, "%s", a.out);
	else
		snprintf(dir, sizeof dir, "results/%s", run_id);
	iso_time(started, sizeof started);
	if (a.resume && (rc = check_resume(dir, &model, tasks, n_tasks, run_id, sizeof run_id, started, sizeof started,
					   &err)))
		goto out;
	/* mkdir -p of results/ itself for the default location. */
	if (!a.out)
		mkdir("results", 0755);
	if ((rc = evh_results_open(dir, a.resume, &res, &err)))
		goto out;
	if ((rc = create_provider(&a, &model, &tok, &prov, &err)))
		goto out;

	cJSON *rj = run_json(&a, run_id, &model, tasks, (const char *const *)paths, n_tasks, argc + 1, argv - 1,
			     started, NULL);
	snprintf(path, sizeof path, "%s/run.json", dir);
	rc = evh_json_write_file(path, rj, &err);
	cJSON_Delete(rj);
	if (rc)
		goto out;
	if (!a.o.quiet)
		fprintf(stderr, "evalh: %s on %s -> %s%s\n", model.name, a.tasks, dir,
			a.resume ? " (resuming)" : "");

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct evh_run_totals tot;
	rc = evh_runner_run(&a.o, prov, &model, tasks, n_tasks, res, &tot, &err);
	evh_results_close(res);
	res = NULL;
	if (rc)
		goto out;

	cJSON *sum = NULL;
	snprintf(path, sizeof path, "%s/samples.jsonl", dir);
	if ((rc = evh_summary_compute(path, run_id, model.name, &sum, &err)))
		goto out;
	snprintf(path, sizeof path, "%s/summary.json", dir);
	rc = evh_json_write_file(path, sum, &err);
	if (!rc && !a.o.quiet)
		print_summary(sum, dir);
	cJSON_Delete(sum);
	if (rc)
		goto out;
	char ended[64];
	iso_time(ended, sizeof ended);
	rj = run_json(&a, run_id, &model, tasks, (const char *const *)paths, n_tasks, argc + 1, argv - 1, started,
		      tot.interrupted ? NULL : ended);
	snprintf(path, sizeof path, "%s/run.json", dir);
	rc = evh_json_write_file(path, rj, &err);
	cJSON_Delete(rj);
	if (rc)
		goto out;
	if (tot.interrupted) {
		fprintf(stderr, "evalh: interrupted; continue with: evalh run ... --out %s --resume\n", dir);
		exit_code = EVH_EXIT_INTERRUPTED;
	} else if (tot.errors) {
		fprintf(stderr,
			"evalh: %zu sample(s) failed with errors and were not scored; retry them with --out %s "
			"--resume\n",
			tot.errors, dir);
		exit_code = EVH_EXIT_INCOMPLETE;
	} else {
		exit_code = EVH_EXIT_OK;
	}
out:
	if (rc)
		exit_code = evh_cli_fail(&err, rc == EVH_EMISUSE || rc == EVH_ENOTFOUND || rc == EVH_EFORMAT || rc == EVH_ELIMIT
					       ? EVH_EXIT_USAGE
					       : EVH_EXIT_FAILED);
	evh_results_close(res);
	if (prov)
		prov->free(prov);
	eng_tok_free(tok);
	for (size_t i = 0; packs && i < n_tasks + 1; i++)
		pack_close(packs[i]);
	for (size_t i = 0; paths && i < n_tasks + 1; i++)
		free(paths[i]);
	free(packs);
	free(paths);
	free(tasks);
	evh_model_fini(&model);
	evh_registry_free(reg);
	return exit_code;
}
