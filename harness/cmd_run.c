/* cmd_run.c — `evalh run`: wires registry, packs, provider, runner, results and summary. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "harness/cli.h"
#include "harness/provider_engine.h"
#include "harness/presets.h"
#include "harness/provider_anthropic.h"
#include "harness/provider_openai.h"
#include "harness/registry.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/shard.h"
#include "harness/stats.h"
#include "harness/util/json.h"
#include "scorers/sandbox.h"
#include "tasks/pack.h"

static void on_signal(int sig)
{
	(void)sig;
	evh_provider_cancel_all();
}

/* ---- run ------------------------------------------------------------------------------------- */

struct run_args {
	const char *model, *tasks, *out, *models_file, *system;
	int resume, stream, dry_run;
	struct evh_run_opts o;
	struct evh_retry retry;
	const struct evh_preset *preset;
	/* Which options the command line gave, so that a preset fills only the others. */
	int set_temp, set_topp, set_maxtok, set_samples, set_system;
	double price_in, price_out; /* --price; < 0 when not given */
	const char *reasoning_effort;
	int reasoning_budget;
	struct evh_shard shard; /* --shard I/N; zeroed: every item */
	int sandbox_workers;    /* --sandbox-workers: code programs running at once; 0 = cores */
	struct eng_par_opts par; /* --tp/--ep/--comm: the engine model split over ranks */
};

/* --max-time: seconds, or a duration such as 90s, 30m, 2h, 1h30m. */
static int parse_duration(const char *opt, const char *s, double *out, struct evh_err *err)
{
	double total = 0;
	const char *p = s;
	int any = 0;
	while (*p) {
		char *e;
		double v = strtod(p, &e);
		if (e == p || v < 0)
			break;
		p = e;
		double unit = 1;
		if (*p == 'h')
			unit = 3600;
		else if (*p == 'm')
			unit = 60;
		else if (*p == 's')
			unit = 1;
		else if (*p)
			break;
		if (*p)
			p++;
		total += v * unit;
		any = 1;
	}
	if (!any || *p || total <= 0)
		return evh_err_fail(err, EVH_EMISUSE, opt, "expected a duration such as 600, 90s, 30m, 2h or 1h30m, got \"%s\"",
				    s);
	*out = total;
	return EVH_OK;
}

/* --price IN/OUT, USD per million input / output tokens. */
static int parse_price(const char *s, double *in, double *out, struct evh_err *err)
{
	char *e1, *e2;
	double a = strtod(s, &e1);
	if (e1 == s || *e1 != '/' || a < 0)
		goto bad;
	double b = strtod(e1 + 1, &e2);
	if (e2 == e1 + 1 || *e2 || b < 0)
		goto bad;
	*in = a;
	*out = b;
	return EVH_OK;
bad:
	return evh_err_fail(err, EVH_EMISUSE, "--price", "expected IN/OUT in USD per million tokens (e.g. 0.55/2.19), got \"%s\"", s);
}

/* The preset's values for the options the command line left unset. */
static void apply_preset(struct run_args *a)
{
	const struct evh_preset *p = a->preset;
	if (!p)
		return;
	if (!a->set_temp && p->temperature >= 0)
		a->o.temperature = p->temperature;
	if (!a->set_topp && p->top_p >= 0)
		a->o.top_p = p->top_p;
	if (!a->set_maxtok && p->max_tokens > 0)
		a->o.max_tokens = p->max_tokens;
	if (!a->set_samples && p->samples > 0)
		a->o.samples = p->samples;
	if (!a->set_system && p->no_system)
		a->o.system_prompt = "";
	if (p->math_instruction)
		a->o.math_instruction = p->math_instruction;
	if (!a->reasoning_budget && p->reasoning_budget > 0)
		a->reasoning_budget = p->reasoning_budget;
}

/* run.json "preset": its name, every value it set, and the flags that overrode one. */
static void preset_json(cJSON *o, const struct run_args *a, const struct evh_model *m)
{
	const struct evh_preset *p = a->preset;
	if (!p) {
		cJSON_AddNullToObject(o, "preset");
		return;
	}
	cJSON *po = cJSON_AddObjectToObject(o, "preset");
	cJSON_AddStringToObject(po, "name", p->name);
	cJSON *set = cJSON_AddObjectToObject(po, "set"), *ov = cJSON_AddObjectToObject(po, "overridden");
	if (p->temperature >= 0)
		cJSON_AddNumberToObject(a->set_temp ? ov : set, "temperature", a->set_temp ? a->o.temperature : p->temperature);
	if (p->top_p >= 0)
		cJSON_AddNumberToObject(a->set_topp ? ov : set, "top_p", a->set_topp ? a->o.top_p : p->top_p);
	if (p->max_tokens > 0)
		cJSON_AddNumberToObject(a->set_maxtok ? ov : set, "max_tokens", a->set_maxtok ? a->o.max_tokens : p->max_tokens);
	if (a->set_samples)
		cJSON_AddNumberToObject(ov, "samples", a->o.samples);
	else if (p->samples > 0)
		cJSON_AddNumberToObject(set, "samples", p->samples);
	else
		cJSON_AddStringToObject(set, "samples", evh_preset_samples_rule(p));
	if (p->no_system) {
		if (a->set_system)
			cJSON_AddStringToObject(ov, "system", a->system);
		else
			cJSON_AddNullToObject(set, "system");
	}
	if (p->math_instruction)
		cJSON_AddStringToObject(set, "math_instruction", p->math_instruction);
	if (p->reasoning_budget > 0)
		cJSON_AddNumberToObject(a->reasoning_budget != p->reasoning_budget ? ov : set, "reasoning_budget",
					a->reasoning_budget);
	if (p->think_prefix) {
		/* Chat endpoints start the assistant turn themselves; the engine's DeepSeek-R1 template
		 * opens it with <think>\n (engine/chat). */
		cJSON_AddBoolToObject(set, "think_prefix", 1);
		cJSON_AddStringToObject(po, "think_prefix_applied",
					!strcmp(m->provider, "engine") ? "by the engine's chat template"
									: "not possible through a chat endpoint");
	}
}

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
		       const char *started, const char *ended, const struct evh_run_totals *tot)
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
		cJSON_AddNumberToObject(t, "samples", tasks[i].samples > 0 ? tasks[i].samples : a->o.samples);
		if (tasks[i].items) {
			cJSON *ids = cJSON_AddArrayToObject(t, "item_ids");
			for (size_t j = 0; j < tasks[i].n_items; j++)
				cJSON_AddItemToArray(ids, cJSON_CreateString(pack_item_at(tasks[i].pack, tasks[i].items[j])->id));
		}
		cJSON_AddItemToArray(ta, t);
	}
	cJSON *op = cJSON_AddObjectToObject(o, "options");
	cJSON_AddNumberToObject(op, "samples", a->o.samples);
	cJSON_AddNumberToObject(op, "temperature", a->o.temperature >= 0 ? a->o.temperature : m->temperature);
	cJSON_AddNumberToObject(op, "top_p", a->o.top_p >= 0 ? a->o.top_p : m->top_p);
	cJSON_AddNumberToObject(op, "max_tokens", a->o.max_tokens > 0 ? a->o.max_tokens : m->max_tokens);
	cJSON_AddNumberToObject(op, "concurrency", a->o.concurrency);
	if (a->par.tp * a->par.ep > 1) {
		cJSON_AddNumberToObject(op, "tp", a->par.tp);
		cJSON_AddNumberToObject(op, "ep", a->par.ep);
		cJSON_AddStringToObject(op, "comm", a->par.comm ? a->par.comm : "cpu");
	}
	cJSON_AddNumberToObject(op, "sandbox_workers", a->sandbox_workers > 0 ? a->sandbox_workers : sbx_workers());
	cJSON_AddNumberToObject(op, "max_concurrency",
				a->o.max_concurrency > a->o.concurrency ? a->o.max_concurrency : a->o.concurrency);
	cJSON_AddNumberToObject(op, "limit", (double)a->o.limit);
	cJSON_AddNumberToObject(op, "subsample_seed", (double)a->o.subsample_seed);
	cJSON_AddNumberToObject(op, "seed", (double)a->o.seed);
	if (a->o.system_prompt)
		cJSON_AddStringToObject(op, "system", a->o.system_prompt);
	if (a->o.math_instruction)
		cJSON_AddStringToObject(op, "math_instruction", a->o.math_instruction);
	cJSON_AddNumberToObject(op, "max_cost_usd", a->o.max_cost_usd);
	cJSON_AddNumberToObject(op, "max_time_s", a->o.max_time_s);
	if (a->reasoning_effort)
		cJSON_AddStringToObject(op, "reasoning_effort", a->reasoning_effort);
	if (a->reasoning_budget > 0)
		cJSON_AddNumberToObject(op, "reasoning_budget", a->reasoning_budget);
	cJSON_AddBoolToObject(op, "stream", a->stream);
	cJSON_AddNumberToObject(op, "timeout_s", a->retry.timeout_s);
	cJSON_AddNumberToObject(op, "max_attempts", a->retry.max_attempts);
	preset_json(o, a, m);
	if (a->shard.count) {
		cJSON *sh = cJSON_AddObjectToObject(o, "shard");
		cJSON_AddNumberToObject(sh, "index", a->shard.index);
		cJSON_AddNumberToObject(sh, "count", a->shard.count);
	}
	if (tot && tot->stop) {
		static const char *const why[] = {"", "interrupted", "fatal_status", "max_cost", "max_time"};
		cJSON *st = cJSON_AddObjectToObject(o, "stopped");
		cJSON_AddStringToObject(st, "reason", why[tot->stop]);
		cJSON_AddStringToObject(st, "message", tot->stop_msg);
	}
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
	printf("\n| task | items | scored | errors | truncated | accuracy | 95%% CI | acc. completed | out tok/s | cost $ |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n");
	cJSON_ArrayForEach(t, tasks)
	{
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(t, "ci95");
		printf("| %s | %.0f | %.0f | %.0f | %.1f%% | %.1f%% | %.1f–%.1f | %.1f%% | %.1f | %.6f |\n", t->string,
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "items")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "scored")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "errors")),
		       100 * cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "truncation_rate")),
		       100 * cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "accuracy")),
		       100 * cJSON_GetNumberValue(cJSON_GetArrayItem(ci, 0)),
		       100 * cJSON_GetNumberValue(cJSON_GetArrayItem(ci, 1)),
		       100 * cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "accuracy_completed")),
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
		return evh_engine_provider_create(m->path, a->o.max_concurrency > a->o.concurrency ? a->o.max_concurrency
										   : a->o.concurrency,
						  &a->par, prov, err);
	if (strcmp(m->provider, "anthropic") == 0) {
		int adaptive = evh_anthropic_adaptive(m->model_id);
		if (adaptive && a->reasoning_budget > 0)
			fprintf(stderr, "evalh: %s thinks adaptively: no thinking budget is sent (--reasoning-budget); "
					"--reasoning-effort sets its effort\n", m->model_id);
		struct evh_anthropic_cfg ac = {
			.base_url = m->base_url,
			.model_id = m->model_id,
			.api_key_env = m->api_key_env,
			.stream = a->stream,
			.thinking_budget = a->reasoning_budget,
			.adaptive = adaptive,
			.effort = a->reasoning_effort,
			/* The API requires max_tokens: leave the answer 4096 beside any thinking budget;
			 * an adaptive thinker gets room to think. */
			.default_max_tokens = m->max_tokens > 0 ? m->max_tokens
						: adaptive   ? 32000
							     : a->reasoning_budget + 4096,
			.retry = a->retry,
		};
		return evh_anthropic_create(&ac, prov, err);
	}
	if (m->tokenizer) {
		struct eng_err ee = {0};
		if (eng_tok_load(m->tokenizer, NULL, tok, &ee))
			return evh_err_fail(err, EVH_EFORMAT, m->tokenizer, "%s", ee.msg);
	}
	/* OpenAI's reasoning models take max_completion_tokens (reasoning included) and
	 * reasoning_effort; the provider drops max_tokens when the first is present. */
	cJSON *extra = cJSON_CreateObject();
	int max_tokens = a->o.max_tokens > 0 ? a->o.max_tokens : m->max_tokens;
	if (m->openai_reasoning && max_tokens > 0)
		cJSON_AddNumberToObject(extra, "max_completion_tokens", max_tokens);
	if (a->reasoning_effort)
		cJSON_AddStringToObject(extra, "reasoning_effort", a->reasoning_effort);
	char *extra_body = extra && extra->child ? cJSON_PrintUnformatted(extra) : NULL;
	cJSON_Delete(extra);
	struct evh_openai_cfg cfg = {
		.extra_body = extra_body,
		.base_url = m->base_url,
		.model_id = m->model_id,
		.api_key_env = m->api_key_env,
		.stream = a->stream,
		.retry = a->retry,
		.count_tokens = *tok ? count_with_tokenizer : NULL,
		.count_ctx = *tok,
	};
	int rc = evh_openai_create(&cfg, prov, err);
	free(extra_body);
	return rc;
}

/* --dry-run: what the run would send and cost, without sending anything. */
static int dry_run(const struct run_args *a, const struct evh_model *m, const struct evh_task *tasks, size_t n_tasks,
		   struct evh_err *err)
{
	struct eng_tokenizer *tok = NULL;
	char tpath[PATH_MAX];
	const char *tk = m->tokenizer;
	if (!tk && !strcmp(m->provider, "engine")) {
		snprintf(tpath, sizeof tpath, "%s/tokenizer.json", m->path);
		tk = tpath;
	}
	struct eng_err ee = {0};
	if (tk && eng_tok_load(tk, NULL, &tok, &ee))
		tok = NULL; /* fall back to the estimate, which says so */
	int max_tokens = a->o.max_tokens > 0 ? a->o.max_tokens : m->max_tokens;
	printf("plan: %s%s%s\n", m->name, a->preset ? ", preset " : "", a->preset ? a->preset->name : "");
	printf("| task | items | samples | requests | prompt tokens |\n| --- | ---: | ---: | ---: | ---: |\n");
	size_t all_req = 0;
	long all_in = 0;
	int rc = EVH_OK;
	for (size_t t = 0; t < n_tasks && !rc; t++) {
		int k = tasks[t].samples > 0 ? tasks[t].samples : a->o.samples;
		size_t n = tasks[t].items ? tasks[t].n_items : pack_count(tasks[t].pack);
		long in = 0;
		for (size_t j = 0; j < n && !rc; j++) {
			const struct pack_item *it = pack_item_at(tasks[t].pack, tasks[t].items ? tasks[t].items[j] : j);
			char *user = NULL;
			const char *system = NULL;
			if ((rc = evh_runner_prompt(&a->o, &tasks[t], it, &user, &system, err)))
				break;
			long c = tok ? count_with_tokenizer(tok, user) : (long)(strlen(user) + 3) / 4;
			if (system && *system)
				c += tok ? count_with_tokenizer(tok, system) : (long)(strlen(system) + 3) / 4;
			in += c * k;
			free(user);
		}
		printf("| %s | %zu | %d | %zu | %ld |\n", tasks[t].name, n, k, n * (size_t)k, in);
		all_req += n * (size_t)k;
		all_in += in;
	}
	eng_tok_free(tok);
	if (rc)
		return evh_cli_fail(err, EVH_EXIT_USAGE);
	printf("\ntotal: %zu requests, %ld prompt tokens (%s)\n", all_req, all_in,
	       tok ? "counted with the model's tokenizer" : "estimated at 4 bytes per token");
	if (!strcmp(m->provider, "engine")) {
		printf("cost: priced by measured GPU time at %.2f USD per GPU-hour, not known in advance\n",
		       m->gpu_hour_price);
	} else {
		double cin = (double)all_in * m->price_in / 1e6;
		printf("cost: input %.4f USD at %.2f USD/M", cin, m->price_in);
		if (max_tokens > 0)
			printf("; output at most %.4f USD (%d tokens per request at %.2f USD/M); total at most %.4f USD\n",
			       (double)all_req * max_tokens * m->price_out / 1e6, max_tokens, m->price_out,
			       cin + (double)all_req * max_tokens * m->price_out / 1e6);
		else
			printf("; output unbounded without --max-tokens (%.2f USD/M)\n", m->price_out);
		if (m->price_in == 0 && m->price_out == 0)
			printf("(no prices known for this model: give them with --price IN/OUT)\n");
	}
	return EVH_EXIT_OK;
}

int evh_cmd_run(int argc, char **argv)
{
	struct run_args a = {.stream = 1, .price_in = -1, .price_out = -1};
	evh_run_opts_defaults(&a.o);
	eng_par_opts_defaults(&a.par);
	evh_retry_defaults(&a.retry);
	struct evh_err err = {0};
	enum {
		O_TEMP = 256, O_TOPP, O_MAXTOK, O_RESUME, O_QUIET, O_NOSTREAM, O_TIMEOUT, O_ATTEMPTS, O_MODELS, O_SYSTEM,
		O_MAXCONC, O_MAXCOST, O_MAXTIME, O_DRYRUN, O_PRICE, O_PRESET, O_SUBSEED, O_EFFORT, O_BUDGET, O_SHARD, O_SBXW, O_TP, O_EP, O_COMM,
	};
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
		{"max-concurrency", required_argument, NULL, O_MAXCONC},
		{"max-cost", required_argument, NULL, O_MAXCOST},
		{"max-time", required_argument, NULL, O_MAXTIME},
		{"dry-run", no_argument, NULL, O_DRYRUN},
		{"price", required_argument, NULL, O_PRICE},
		{"preset", required_argument, NULL, O_PRESET},
		{"subsample-seed", required_argument, NULL, O_SUBSEED},
		{"reasoning-effort", required_argument, NULL, O_EFFORT},
		{"reasoning-budget", required_argument, NULL, O_BUDGET},
		{"shard", required_argument, NULL, O_SHARD},
		{"sandbox-workers", required_argument, NULL, O_SBXW},
		{"tp", required_argument, NULL, O_TP},
		{"ep", required_argument, NULL, O_EP},
		{"comm", required_argument, NULL, O_COMM},
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
			a.set_samples = 1;
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
		case O_TEMP:
			rc = evh_cli_double("--temperature", optarg, 0, 2, &a.o.temperature, &err);
			a.set_temp = 1;
			break;
		case O_TOPP:
			rc = evh_cli_double("--top-p", optarg, 1e-6, 1, &a.o.top_p, &err);
			a.set_topp = 1;
			break;
		case O_MAXTOK:
			rc = evh_cli_long("--max-tokens", optarg, 1, 10000000, &lv, &err);
			a.o.max_tokens = (int)lv;
			a.set_maxtok = 1;
			break;
		case O_MAXCONC:
			rc = evh_cli_long("--max-concurrency", optarg, 1, 1024, &lv, &err);
			a.o.max_concurrency = (int)lv;
			break;
		case O_MAXCOST: rc = evh_cli_double("--max-cost", optarg, 1e-9, 1e9, &a.o.max_cost_usd, &err); break;
		case O_MAXTIME: rc = parse_duration("--max-time", optarg, &a.o.max_time_s, &err); break;
		case O_DRYRUN: a.dry_run = 1; break;
		case O_PRICE: rc = parse_price(optarg, &a.price_in, &a.price_out, &err); break;
		case O_PRESET:
			if (!(a.preset = evh_preset_find(optarg)))
				rc = evh_err_fail(&err, EVH_EMISUSE, "--preset",
						  "unknown preset \"%s\" (see `evalh list presets`)", optarg);
			break;
		case O_SUBSEED:
			rc = evh_cli_long("--subsample-seed", optarg, 0, LONG_MAX, &lv, &err);
			a.o.subsample_seed = (uint64_t)lv;
			break;
		case O_EFFORT:
			/* OpenAI's reasoning_effort (minimal..high) and Claude's adaptive effort (low..max) */
			if (strcmp(optarg, "low") && strcmp(optarg, "medium") && strcmp(optarg, "high") &&
			    strcmp(optarg, "minimal") && strcmp(optarg, "max"))
				rc = evh_err_fail(&err, EVH_EMISUSE, "--reasoning-effort",
						  "expected minimal, low, medium, high or max, got \"%s\"", optarg);
			a.reasoning_effort = optarg;
			break;
		case O_BUDGET:
			rc = evh_cli_long("--reasoning-budget", optarg, 1024, 10000000, &lv, &err);
			a.reasoning_budget = (int)lv;
			break;
		case O_SHARD: rc = evh_shard_parse(optarg, &a.shard, &err); break;
		case O_TP:
			rc = evh_cli_long("--tp", optarg, 1, 1024, &lv, &err);
			a.par.tp = (int)lv;
			break;
		case O_EP:
			rc = evh_cli_long("--ep", optarg, 1, 1024, &lv, &err);
			a.par.ep = (int)lv;
			break;
		case O_COMM: a.par.comm = optarg; break;
		case O_SBXW:
			rc = evh_cli_long("--sandbox-workers", optarg, 1, 4096, &lv, &err);
			a.sandbox_workers = (int)lv;
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
		case O_SYSTEM:
			a.o.system_prompt = a.system = optarg;
			a.set_system = 1;
			break;
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
	apply_preset(&a);
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
	size_t **subsets = NULL;
	int exit_code = EVH_EXIT_USAGE;
	char run_id[256], dir[PATH_MAX], started[64], path[PATH_MAX + 32];

	if ((rc = evh_registry_load(a.models_file, evh_cli_datadir(), &reg, &err)) ||
	    (rc = evh_registry_resolve(reg, a.model, &model, &err)) ||
	    (rc = open_tasks(a.tasks, &tasks, &packs, &paths, &n_tasks, &err)))
		goto out;
	if (a.price_in >= 0) {
		model.price_in = a.price_in;
		model.price_out = a.price_out;
		model.price_cached_in = -1;
	}
	if (!(subsets = calloc(n_tasks + 1, sizeof *subsets))) {
		rc = evh_err_fail(&err, EVH_ENOMEM, NULL, "subsets");
		goto out;
	}
	for (size_t i = 0; i < n_tasks; i++) {
		if (a.preset && !a.set_samples && a.preset->samples <= 0)
			tasks[i].samples = evh_preset_samples(a.preset, pack_count(tasks[i].pack));
		if (a.o.limit && a.o.limit < pack_count(tasks[i].pack)) {
			if ((rc = evh_subsample(tasks[i].pack, a.o.limit, a.o.subsample_seed, &subsets[i], &tasks[i].n_items,
						&err)))
				goto out;
			tasks[i].items = subsets[i];
		}
		/* --shard after --limit: this machine's part of the items an unsharded run would take. */
		if ((rc = evh_shard_filter(&a.shard, &tasks[i], &subsets[i], &err)))
			goto out;
	}
	if (!strcmp(model.provider, "openai") || !strcmp(model.provider, "anthropic"))
		a.o.endpoint = model.base_url;
	if (a.dry_run) {
		exit_code = dry_run(&a, &model, tasks, n_tasks, &err);
		goto out;
	}
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
	sbx_set_workers(a.sandbox_workers);
	if ((rc = create_provider(&a, &model, &tok, &prov, &err)))
		goto out;

	cJSON *rj = run_json(&a, run_id, &model, tasks, (const char *const *)paths, n_tasks, argc + 1, argv - 1,
			     started, NULL, NULL);
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
		      tot.interrupted ? NULL : ended, &tot);
	snprintf(path, sizeof path, "%s/run.json", dir);
	rc = evh_json_write_file(path, rj, &err);
	cJSON_Delete(rj);
	if (rc)
		goto out;
	if (tot.interrupted && tot.stop != EVH_STOP_CANCELLED) {
		/* Stopped in order: every finished sample is kept and --resume takes up the rest. */
		fprintf(stderr, "evalh: stopped: %s\nevalh: %zu sample(s) kept; %s continue with: evalh run ... --out %s --resume\n",
			tot.stop_msg, tot.skipped + tot.done - tot.errors,
			tot.stop == EVH_STOP_FATAL ? "fix the cause, then" : "raise the budget or", dir);
		exit_code = EVH_EXIT_INCOMPLETE;
	} else if (tot.interrupted) {
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
	for (size_t i = 0; subsets && i < n_tasks; i++)
		free(subsets[i]);
	free(subsets);
	free(packs);
	free(paths);
	free(tasks);
	evh_model_fini(&model);
	evh_registry_free(reg);
	return exit_code;
}
