/* cmd_pack.c — `evalh list` and `evalh pack`: the registry and the task packs from the command line. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/presets.h"
#include "harness/registry.h"
#include "tasks/pack.h"

/* ---- list, pack ------------------------------------------------------------------------------ */

static int is_archive_name(const char *n)
{
	static const char *const ext[] = {".tar.gz", ".tgz", ".tar.zst", ".tar", ".zip"};
	size_t ln = strlen(n);
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		size_t le = strlen(ext[i]);
		if (ln > le && strcmp(n + ln - le, ext[i]) == 0)
			return 1;
	}
	return 0;
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
		printf("%-20s %-8s %-22s %10s %10s  %s\n", "name", "provider", "model id", "$/M in", "$/M out", "where");
		for (size_t i = 0; i < evh_registry_count(reg); i++) {
			const struct evh_model *m = evh_registry_at(reg, i);
			printf("%-20s %-8s %-22s %10.2f %10.2f  %s%s\n", m->name, m->provider, m->model_id ? m->model_id : "",
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
		int bad = 0;
		for (int i = 2; i < argc; i++) {
			struct pack *p = NULL;
			evh_err_clear(&err);
			if (pack_open(argv[i], &p, &err)) {
				evh_cli_fail(&err, EVH_EXIT_USAGE);
				bad = 1;
				continue;
			}
			const struct pack_manifest *m = pack_manifest(p);
			if (strcmp(sub, "validate") == 0) {
				printf("%s: ok (%s, %zu items)\n", argv[i], m->name, pack_count(p));
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
		return bad ? EVH_EXIT_USAGE : EVH_EXIT_OK;
	}
	fprintf(stderr, "usage: evalh pack build DIR -o ARCHIVE | inspect ARCHIVE | validate ARCHIVE... | "
			"gen-arith -o DIR [--seed s] [--n n]\n");
	return EVH_EXIT_USAGE;
}
