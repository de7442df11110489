/* cmd_pack.c — `evalh list` and `evalh pack`: the registry and the task packs from the command line. */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness/cli.h"
#include "harness/presets.h"
#include "harness/registry.h"
#include "harness/util/buf.h"
#include "harness/util/str.h"
#include "scorers/scorer.h"
#include "tasks/fetch.h"
#include "tasks/import.h"
#include "tasks/pack.h"

/* ---- list, pack ------------------------------------------------------------------------------ */

static int is_archive_name(const char *n)
{
	static const char *const ext[] = {".tar.gz", ".tgz", ".tar.zst", ".tar", ".zip", NULL};
	return evh_str_ends_with_any(n, ext);
}

static void list_packs_in(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!is_archive_name(e->d_name))
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct pack *p = NULL;
		struct evh_err err = {0};
		if (pack_open(path, &p, &err)) {
			char s[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
			printf("%-16s (unreadable: %s)\n", e->d_name, evh_err_str(&err, s, sizeof s));
			continue;
		}
		const struct pack_manifest *m = pack_manifest(p);
		printf("%-16s %-8s %-8s %8zu  %s\n", m->name, m->domain, m->scorer, pack_count(p), path);
		pack_close(p);
	}
	closedir(d);
}

int evh_cmd_list(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : NULL, *models_file = NULL;
	if (argc > 3 && strcmp(argv[2], "--models") == 0)
		models_file = argv[3];
	struct evh_err err = {0};
	if (what && strcmp(what, "models") == 0) {
		struct evh_registry *reg = NULL;
		if (evh_registry_load(models_file, evh_cli_datadir(), &reg, &err))
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		printf("%-20s %-9s %-28s %10s %10s  %s\n", "name", "provider", "model id", "$/M in", "$/M out", "where");
		for (size_t i = 0; i < evh_registry_count(reg); i++) {
			const struct evh_model *m = evh_registry_at(reg, i);
			printf("%-20s %-9s %-28s %10.2f %10.2f  %s%s\n", m->name, m->provider, m->model_id ? m->model_id : "",
			       m->price_in, m->price_out, m->base_url ? m->base_url : (m->path ? m->path : ""),
			       m->builtin ? "" : " (user)");
		}
		evh_registry_free(reg);
		return EVH_EXIT_OK;
	}
	if (what && strcmp(what, "presets") == 0) {
		evh_presets_print(stdout);
		return EVH_EXIT_OK;
	}
	if (what && strcmp(what, "tasks") == 0) {
		char dirs[PATH_MAX * 2], packs_dir[PATH_MAX];
		evh_cli_packs_dir(packs_dir, sizeof packs_dir);
		const char *env = getenv("EVALH_PACKS");
		snprintf(dirs, sizeof dirs, "%s%s%s", env ? env : "", env ? ":" : "", packs_dir);
		printf("%-16s %-8s %-8s %8s  %s\n", "name", "domain", "scorer", "items", "path");
		char *save = NULL;
		for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save))
			list_packs_in(d);
		return EVH_EXIT_OK;
	}
	fprintf(stderr, "evalh list: expected \"models\", \"tasks\" or \"presets\"\n");
	return EVH_EXIT_USAGE;
}

/* ---- pack validate: the golds through the real scorers ----------------------------------------- */

/* The answer a perfect model would give, in the form the pack's prompt asks for: the boxed gold for
 * math, "Answer: X" for multiple choice, the reference program in a fence for code. NULL when the
 * item has nothing to score (a code item without a reference solution). Caller frees. */
static char *gold_response(const char *scorer, const struct pack_item *it)
{
	struct evh_buf b;
	evh_buf_init(&b, EVH_LIMIT_TEXT);
	if (strcmp(scorer, "code") == 0) {
		cJSON *j = cJSON_Parse(it->json);
		const char *sol = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "canonical_solution"));
		if (sol)
			evh_buf_printf(&b, "```python\n%s\n```\n", sol);
		cJSON_Delete(j);
		if (!sol)
			return NULL;
	} else if (strcmp(scorer, "mcq") == 0) {
		evh_buf_printf(&b, "Answer: %s", it->answer ? it->answer : "");
	} else if (strcmp(scorer, "math") == 0) {
		evh_buf_printf(&b, "The final answer is $\\boxed{%s}$.", it->answer ? it->answer : "");
	} else {
		evh_buf_adds(&b, it->answer ? it->answer : "");
	}
	return evh_buf_take(&b);
}

struct vjob {
	const struct pack *p;
	size_t next, n_ok, n_bad, n_unchecked;
	pthread_mutex_t lock;
	const char *path;
};

/* One item: 1 when its gold scores correct, 0 when not (printed), -1 when there is nothing to run. */
static int validate_item(struct vjob *v, size_t i)
{
	const struct pack_manifest *m = pack_manifest(v->p);
	const struct pack_item *it = pack_item_at(v->p, i);
	char *resp = gold_response(m->scorer, it);
	if (!resp)
		return -1;
	struct scr_gold g = {.answer = it->answer, .choices = (const char **)it->choices, .n_choices = it->n_choices,
			     .tests = it->tests, .item_json = it->json};
	struct scr_result r = {0};
	struct evh_err err = {0};
	int rc = scr_score(m->scorer, m->scorer_options, resp, NULL, &g, &r, &err);
	int ok = !rc && scr_is_correct(r.verdict);
	if (!ok) {
		char es[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
		pthread_mutex_lock(&v->lock);
		if (rc)
			printf("%s: item %s (items.jsonl:%zu): scorer error: %s\n", v->path, it->id, it->line,
			       evh_err_str(&err, es, sizeof es));
		else if (r.extracted && strcmp(m->scorer, "code") != 0)
			printf("%s: item %s (items.jsonl:%zu): gold scored %s (extracted \"%s\")\n", v->path, it->id,
			       it->line, scr_verdict_name(r.verdict), r.extracted);
		else
			printf("%s: item %s (items.jsonl:%zu): gold scored %s\n", v->path, it->id, it->line,
			       scr_verdict_name(r.verdict));
		if (!rc && r.detail)
			printf("    %.600s\n", r.detail);
		pthread_mutex_unlock(&v->lock);
	}
	scr_result_free(&r);
	free(resp);
	return ok;
}

static void *validate_worker(void *arg)
{
	struct vjob *v = arg;
	for (;;) {
		pthread_mutex_lock(&v->lock);
		size_t i = v->next++;
		pthread_mutex_unlock(&v->lock);
		if (i >= pack_count(v->p))
			return NULL;
		int r = validate_item(v, i);
		pthread_mutex_lock(&v->lock);
		if (r > 0)
			v->n_ok++;
		else if (r == 0)
			v->n_bad++;
		else
			v->n_unchecked++;
		pthread_mutex_unlock(&v->lock);
	}
}

/* Scores every item's gold through the pack's scorer (code through the sandbox, `jobs` at once).
 * Returns the number of golds that did not score correct. */
static size_t validate_golds(const char *path, const struct pack *p, int jobs)
{
	const struct pack_manifest *m = pack_manifest(p);
	struct vjob v = {.p = p, .path = path};
	pthread_mutex_init(&v.lock, NULL);
	pthread_t th[64];
	int n = 0;
	for (; n < jobs && n < 64; n++)
		if (pthread_create(&th[n], NULL, validate_worker, &v) != 0)
			break;
	if (n == 0)
		validate_worker(&v);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&v.lock);
	if (v.n_bad)
		printf("%s: FAILED (%s, %zu items: %zu gold(s) do not score correct through the %s scorer)\n", path,
		       m->name, pack_count(p), v.n_bad, m->scorer);
	else
		printf("%s: ok (%s, %zu items; %zu golds score correct through the %s scorer%s)\n", path, m->name,
		       pack_count(p), v.n_ok, m->scorer, v.n_unchecked ? "; some items have no reference solution" : "");
	if (v.n_unchecked)
		printf("%s: %zu items without a reference solution were checked for schema only\n", path,
		       v.n_unchecked);
	return v.n_bad;
}

/* ---- pack import, pack fetch ------------------------------------------------------------------ */

static int cmd_import(int argc, char **argv)
{
	struct pack_import_opts o = {0};
	const char *out = NULL, *format = NULL;
	const char **files = calloc((size_t)argc, sizeof *files);
	size_t n = 0;
	struct evh_err err = {0};
	int rc = EVH_EXIT_USAGE;
	if (!files)
		return EVH_EXIT_USAGE;
	for (int i = 2; i < argc; i++) {
		int more = i + 1 < argc;
		const char *a = argv[i];
		if (strcmp(a, "-o") == 0 && more)
			out = argv[++i];
		else if (strcmp(a, "--password") == 0 && more)
			o.password = argv[++i];
		else if (strcmp(a, "--name") == 0 && more)
			o.name = argv[++i];
		else if (strcmp(a, "--version") == 0 && more)
			o.version = argv[++i];
		else if (strcmp(a, "--member") == 0 && more)
			o.member = argv[++i];
		else if (strcmp(a, "--source") == 0 && more)
			o.source = argv[++i];
		else if (strcmp(a, "--license") == 0 && more)
			o.license = argv[++i];
		else if (strcmp(a, "--fewshot-from") == 0 && more)
			o.fewshot_file = argv[++i];
		else if ((strcmp(a, "--seed") == 0 || strcmp(a, "--fewshot") == 0) && more) {
			long v;
			if (evh_cli_long(a, argv[++i], 0, LONG_MAX, &v, &err)) {
				evh_cli_fail(&err, EVH_EXIT_USAGE);
				goto out;
			}
			if (a[2] == 's')
				o.seed = (unsigned long long)v;
			else
				o.n_fewshot = (size_t)v;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "evalh pack import: unexpected \"%s\"\n", a);
			goto out;
		} else if (!format)
			format = a;
		else
			files[n++] = a;
	}
	if (!format || !n || !out) {
		fprintf(stderr, "usage: evalh pack import FORMAT FILE... -o PACK [--name N] [--version V] [--password P] "
				"[--member ENTRY] [--seed S] [--fewshot-from FILE [--fewshot K]] [--source S] [--license L]\n"
				"formats: %s\n", pack_import_formats());
		goto out;
	}
	if (o.n_fewshot && !o.fewshot_file) {
		fprintf(stderr, "evalh pack import: --fewshot needs --fewshot-from FILE\n");
		goto out;
	}
	if (pack_import(format, files, n, &o, out, &err)) {
		evh_cli_fail(&err, EVH_EXIT_USAGE);
		goto out;
	}
	struct pack *p = NULL;
	if (!pack_open(out, &p, &err))
		printf("wrote %s (%s, %zu items, digest %s)\n", out, pack_manifest(p)->name, pack_count(p), pack_digest(p));
	pack_close(p);
	rc = EVH_EXIT_OK;
out:
	free(files);
	return rc;
}

static int cmd_fetch(int argc, char **argv)
{
	struct pack_fetch_opts o = {0};
	const char *name = NULL, *out = NULL;
	struct evh_err err = {0};
	for (int i = 2; i < argc; i++) {
		int more = i + 1 < argc;
		if (strcmp(argv[i], "-o") == 0 && more)
			out = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && more)
			o.url = argv[++i];
		else if (strcmp(argv[i], "--sha256") == 0 && more)
			o.sha256 = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && more)
			o.name = argv[++i];
		else if (strcmp(argv[i], "--list") == 0)
			name = "--list";
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else {
			fprintf(stderr, "evalh pack fetch: unexpected \"%s\"\n", argv[i]);
			return EVH_EXIT_USAGE;
		}
	}
	if (!name || strcmp(name, "--list") == 0) {
		if (!name)
			fprintf(stderr, "usage: evalh pack fetch NAME [-o PACK] [--url URL] [--sha256 HEX] [--name N]\n"
					"(the server's folder can be replaced with $EVALH_FETCH_BASE); known:\n");
		FILE *f = name ? stdout : stderr;
		for (size_t i = 0; i < pack_known_count(); i++) {
			const struct pack_known *k = pack_known_at(i);
			fprintf(f, "%-14s %-13s %s  %s\n", k->name, k->format, k->sha256 ? "pinned  " : "no pin  ", k->url);
		}
		return name ? EVH_EXIT_OK : EVH_EXIT_USAGE;
	}
	char def[PATH_MAX];
	if (!out) {
		char dir[PATH_MAX];
		evh_cli_packs_dir(dir, sizeof dir);
		snprintf(def, sizeof def, "%s/%s.tar.gz", dir, o.name ? o.name : name);
		out = def;
	}
	if (pack_fetch(name, out, &o, &err))
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	printf("wrote %s\n", out);
	return EVH_EXIT_OK;
}

int evh_cmd_pack(int argc, char **argv)
{
	struct evh_err err = {0};
	const char *sub = argc > 1 ? argv[1] : "";
	if (strcmp(sub, "build") == 0 && argc == 5 && strcmp(argv[3], "-o") == 0) {
		if (pack_build(argv[2], argv[4], &err))
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		printf("wrote %s\n", argv[4]);
		return EVH_EXIT_OK;
	}
	if (strcmp(sub, "import") == 0)
		return cmd_import(argc, argv);
	if (strcmp(sub, "fetch") == 0)
		return cmd_fetch(argc, argv);
	if (strcmp(sub, "gen-arith") == 0) {
		const char *out = NULL;
		long seed = 1234, n = 500;
		for (int i = 2; i < argc; i++) {
			int more = i + 1 < argc;
			if (strcmp(argv[i], "-o") == 0 && more)
				out = argv[++i];
			else if (strcmp(argv[i], "--seed") == 0 && more) {
				if (evh_cli_long("--seed", argv[++i], 0, LONG_MAX, &seed, &err))
					return evh_cli_fail(&err, EVH_EXIT_USAGE);
			} else if (strcmp(argv[i], "--n") == 0 && more) {
				if (evh_cli_long("--n", argv[++i], 1, 1000000, &n, &err))
					return evh_cli_fail(&err, EVH_EXIT_USAGE);
			} else {
				fprintf(stderr, "evalh pack gen-arith: unexpected \"%s\"\n", argv[i]);
				return EVH_EXIT_USAGE;
			}
		}
		if (!out) {
			fprintf(stderr, "evalh pack gen-arith: -o DIR is required\n");
			return EVH_EXIT_USAGE;
		}
		if (pack_gen_arith(out, (unsigned long long)seed, (size_t)n, &err))
			return evh_cli_fail(&err, EVH_EXIT_USAGE);
		return EVH_EXIT_OK;
	}
	if ((strcmp(sub, "inspect") == 0 && argc == 3) || (strcmp(sub, "validate") == 0 && argc >= 3)) {
		int bad = 0, validate = strcmp(sub, "validate") == 0, score = 1, first = 2;
		long jobs = 4;
		while (validate && first < argc && argv[first][0] == '-') {
			if (strcmp(argv[first], "--schema-only") == 0) {
				score = 0;
				first++;
			} else if (strcmp(argv[first], "-j") == 0 && first + 1 < argc) {
				if (evh_cli_long("-j", argv[first + 1], 1, 64, &jobs, &err))
					return evh_cli_fail(&err, EVH_EXIT_USAGE);
				first += 2;
			} else {
				fprintf(stderr, "evalh pack validate: unexpected \"%s\"\n", argv[first]);
				return EVH_EXIT_USAGE;
			}
		}
		for (int i = first; i < argc; i++) {
			struct pack *p = NULL;
			evh_err_clear(&err);
			if (pack_open(argv[i], &p, &err)) {
				evh_cli_fail(&err, EVH_EXIT_USAGE);
				bad = 1;
				continue;
			}
			const struct pack_manifest *m = pack_manifest(p);
			if (validate && !scr_known(m->scorer)) {
				fprintf(stderr, "evalh: %s: pack.json: scorer \"%s\" is not one evalh knows\n", argv[i],
					m->scorer);
				bad = 1;
			} else if (validate && score) {
				if (validate_golds(argv[i], p, (int)jobs))
					bad = 1;
			} else if (validate) {
				printf("%s: ok (%s, %zu items; schema only)\n", argv[i], m->name, pack_count(p));
			} else {
				printf("name: %s\nversion: %s\ndomain: %s\nscorer: %s\nitems: %zu\ndigest: %s\n", m->name,
				       m->version, m->domain, m->scorer, pack_count(p), pack_digest(p));
				if (m->license)
					printf("license: %s\n", m->license);
				if (m->source)
					printf("source: %s\n", m->source);
				if (pack_count(p)) {
					char *prompt = NULL;
					if (!pack_render_prompt(p, pack_item_at(p, 0), &prompt, &err))
						printf("first prompt:\n%s\n", prompt);
					free(prompt);
				}
			}
			pack_close(p);
		}
		return bad ? (validate ? EVH_EXIT_FAILED : EVH_EXIT_USAGE) : EVH_EXIT_OK;
	}
	fprintf(stderr, "usage: evalh pack build DIR -o ARCHIVE | inspect ARCHIVE | validate [--schema-only] [-j N] "
			"ARCHIVE... | import FORMAT FILE... -o ARCHIVE [...] | fetch NAME [-o ARCHIVE] [...] | "
			"gen-arith -o DIR [--seed s] [--n n]\n");
	return EVH_EXIT_USAGE;
}
