/* cmd_score.c — `evalh score` (re-score a run folder) and `evalh judge` (score pairs from stdin);
 * see cmd_score.h. Scoring itself is scr_score's; this file finds the scorer, the gold and the item
 * for each record, rewrites the records field for field and reports what changed. */
#include "harness/cmd_score.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/cli.h"
#include "harness/stats.h"
#include "harness/util/buf.h"
#include "harness/util/json.h"
#include "scorers/scorer.h"
#include "tasks/pack.h"

/* ---- shared ------------------------------------------------------------------------------ */

/* Reads one line (without its '\n') into *line; 0 at end of input, -1 past EVH_LIMIT_LINE.
 * *complete = 0 for a last line without '\n' (a kill may have cut it). */
static long read_line(FILE *f, char **line, size_t *cap, int *complete)
{
	ssize_t n = getline(line, cap, f);
	if (n <= 0)
		return 0;
	if ((size_t)n > EVH_LIMIT_LINE)
		return -1;
	*complete = (*line)[n - 1] == '\n';
	if (*complete)
		(*line)[--n] = '\0';
	return n > 0 ? n : 1; /* an empty line still counts as one */
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Sets o[k] to a string or null, in place when present so the field order of the line is kept. */
static int set_str(cJSON *o, const char *k, const char *v)
{
	cJSON *n = v ? cJSON_CreateString(v) : cJSON_CreateNull();
	if (!n)
		return EVH_ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, k))
		return cJSON_ReplaceItemInObjectCaseSensitive(o, k, n) ? EVH_OK : EVH_ENOMEM;
	return cJSON_AddItemToObject(o, k, n) ? EVH_OK : EVH_ENOMEM;
}

static int set_bool(cJSON *o, const char *k, int v)
{
	cJSON *n = cJSON_CreateBool(v);
	if (!n)
		return EVH_ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, k))
		return cJSON_ReplaceItemInObjectCaseSensitive(o, k, n) ? EVH_OK : EVH_ENOMEM;
	return cJSON_AddItemToObject(o, k, n) ? EVH_OK : EVH_ENOMEM;
}

/* Choices of a JSON array of strings into a malloc'd array of borrowed pointers. */
static int choices_of(const cJSON *arr, const char ***out, size_t *n, const char *where, struct evh_err *err)
{
	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return EVH_OK;
	if (!cJSON_IsArray(arr))
		return evh_err_fail(err, EVH_EFORMAT, where, "\"choices\" must be an array of strings");
	int k = cJSON_GetArraySize(arr);
	if (k == 0)
		return EVH_OK;
	*out = calloc((size_t)k, sizeof **out);
	if (!*out)
		return evh_err_fail(err, EVH_ENOMEM, where, "choices");
	const cJSON *c;
	cJSON_ArrayForEach(c, arr)
	{
		if (!cJSON_IsString(c)) {
			free(*out);
			*out = NULL;
			return evh_err_fail(err, EVH_EFORMAT, where, "\"choices\" must be an array of strings");
		}
		(*out)[(*n)++] = c->valuestring;
	}
	return EVH_OK;
}

/* ---- evalh score ------------------------------------------------------------------------- */

struct id_ix {
	const char *id;
	size_t i;
};

struct task {
	const char *name;        /* borrowed from run.json */
	const char *scorer;      /* from the pack, else run.json */
	const char *options;     /* pack's scorer_options JSON, or NULL */
	struct pack *pack;       /* NULL when the pack could not be opened */
	struct id_ix *ids;       /* sorted by id, for the records' item_id */
	size_t n_ids;
};

/* One sample whose verdict changed. */
struct change {
	char *task, *item, *before, *after, *old_x, *new_x, *rule;
	int sample;
	size_t line;
};

struct score_run {
	const char *dir, *out_dir;
	cJSON *run;              /* run.json */
	struct task *tasks;
	size_t n_tasks;
	struct change *ch;
	size_t n_ch, cap_ch;
	size_t scored, failed, kept;
	int quiet;
};

static int cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct id_ix *)a)->id, ((const struct id_ix *)b)->id);
}

static const struct pack_item *find_item(const struct task *t, const char *id)
{
	if (!t->pack || !id)
		return NULL;
	struct id_ix key = {id, 0};
	const struct id_ix *hit = bsearch(&key, t->ids, t->n_ids, sizeof key, cmp_id);
	return hit ? pack_item_at(t->pack, hit->i) : NULL;
}

/* Opens the task's pack (recorded path, else by name) for its scorer, options and items. Without
 * it, the scorer name run.json recorded is used with its defaults (a warning says so). */
static int open_task(struct score_run *s, const cJSON *tj, struct task *t, struct evh_err *err)
{
	t->name = jstr(tj, "name");
	const char *path = jstr(tj, "path"), *digest = jstr(tj, "digest");
	if (!t->name)
		return evh_err_fail(err, EVH_EFORMAT, "run.json", "a task without a \"name\"");
	struct evh_err perr = {0};
	if (path && access(path, R_OK) == 0)
		pack_open(path, &t->pack, &perr);
	if (!t->pack) {
		char dir[4096], *found = NULL;
		evh_cli_packs_dir(dir, sizeof dir);
		if (pack_find(t->name, dir, &found, NULL) == EVH_OK) {
			evh_err_clear(&perr);
			pack_open(found, &t->pack, &perr);
		}
		free(found);
	}
	if (t->pack) {
		const struct pack_manifest *m = pack_manifest(t->pack);
		t->scorer = m->scorer;
		t->options = m->scorer_options;
		if (digest && strcmp(digest, pack_digest(t->pack)) != 0 && !s->quiet)
			fprintf(stderr, "evalh: task %s: the pack's content differs from the run's (digest %.12s, run %.12s); "
				"its scorer options and choices are used, the gold answers stay the records'\n",
				t->name, pack_digest(t->pack), digest);
		t->n_ids = pack_count(t->pack);
		t->ids = calloc(t->n_ids ? t->n_ids : 1, sizeof *t->ids);
		if (!t->ids)
			return evh_err_fail(err, EVH_ENOMEM, t->name, "item index");
		for (size_t i = 0; i < t->n_ids; i++)
			t->ids[i] = (struct id_ix){pack_item_at(t->pack, i)->id, i};
		qsort(t->ids, t->n_ids, sizeof *t->ids, cmp_id);
	} else {
		t->scorer = jstr(tj, "scorer");
		if (!t->scorer)
			return evh_err_fail(err, EVH_EFORMAT, "run.json", "task %s: no pack found and no \"scorer\" recorded",
					    t->name);
		if (!s->quiet)
			fprintf(stderr, "evalh: task %s: pack not found (%s%s%s); scoring with the recorded scorer \"%s\", "
				"default options, no choices\n", t->name, path ? path : "no path", perr.code ? ": " : "",
				perr.code ? perr.msg : "", t->scorer);
	}
	if (!scr_known(t->scorer))
		return evh_err_fail(err, EVH_ENOTFOUND, t->name, "unknown scorer \"%s\"", t->scorer);
	return EVH_OK;
}

static struct task *task_named(struct score_run *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_tasks; i++)
		if (!strcmp(s->tasks[i].name, name))
			return &s->tasks[i];
	return NULL;
}

static char *dupn(const char *v)
{
	return strdup(v ? v : "-");
}

static int add_change(struct score_run *s, const cJSON *o, const char *before, const char *old_x, size_t line)
{
	if (s->n_ch == s->cap_ch) {
		size_t cap = s->cap_ch ? s->cap_ch * 2 : 32;
		struct change *v = realloc(s->ch, cap * sizeof *v);
		if (!v)
			return EVH_ENOMEM;
		s->ch = v;
		s->cap_ch = cap;
	}
	const cJSON *smp = cJSON_GetObjectItemCaseSensitive(o, "sample");
	struct change *c = &s->ch[s->n_ch++];
	*c = (struct change){dupn(jstr(o, "task")), dupn(jstr(o, "item_id")), dupn(before), dupn(jstr(o, "verdict")),
			     dupn(old_x), dupn(jstr(o, "extracted")), dupn(jstr(o, "rule")),
			     cJSON_IsNumber(smp) ? smp->valueint : 0, line};
	return c->task && c->item && c->before && c->after && c->old_x && c->new_x && c->rule ? EVH_OK : EVH_ENOMEM;
}

/* Re-scores one parsed record in place. A scorer failure is reported and counted, and leaves the
 * record as it was; only EVH_ENOMEM is returned. */
static int rescore(struct score_run *s, cJSON *o, const char *path, size_t line)
{
	const cJSON *er = cJSON_GetObjectItemCaseSensitive(o, "error");
	const char *verdict = jstr(o, "verdict");
	if ((er && !cJSON_IsNull(er)) || !verdict) {
		s->kept++; /* never scored: a request that failed is --resume's to retry */
		return EVH_OK;
	}
	struct evh_err err = {0};
	struct task *t = task_named(s, jstr(o, "task"));
	const struct pack_item *it = t ? find_item(t, jstr(o, "item_id")) : NULL;
	const char *gold = jstr(o, "gold");
	if (!gold && it)
		gold = it->answer;
	const char *response = jstr(o, "response");
	struct scr_gold g = {
		.answer = gold,
		.choices = it ? (const char **)it->choices : NULL,
		.n_choices = it ? it->n_choices : 0,
		.tests = it ? it->tests : NULL,
		.item_json = it ? it->json : NULL,
	};
	struct scr_result r = {0};
	int rc;
	if (!t)
		rc = evh_err_fail(&err, EVH_EFORMAT, "task", "\"%s\" is not a task of run.json",
				  jstr(o, "task") ? jstr(o, "task") : "(none)");
	else
		rc = scr_score(t->scorer, t->options, response ? response : "", jstr(o, "reasoning"), &g, &r, &err);
	if (rc) {
		if (rc == EVH_ENOMEM)
			return rc;
		char msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
		fprintf(stderr, "evalh: %s:%zu: %s%s: %s (old verdict kept)\n", path, line, t ? "scorer " : "",
			t ? t->scorer : "", evh_err_str(&err, msg, sizeof msg));
		s->failed++;
		return EVH_OK;
	}
	s->scored++;
	char *before = strdup(verdict), *old_x = jstr(o, "extracted") ? strdup(jstr(o, "extracted")) : NULL;
	rc = before ? EVH_OK : EVH_ENOMEM;
	if (!rc)
		rc = set_str(o, "extracted", r.extracted);
	if (!rc)
		rc = set_str(o, "rule", r.rule);
	if (!rc)
		rc = set_str(o, "verdict", scr_verdict_name(r.verdict));
	if (!rc)
		rc = set_bool(o, "correct", scr_is_correct(r.verdict));
	if (!rc)
		rc = set_str(o, "detail", r.detail);
	if (!rc && strcmp(before, scr_verdict_name(r.verdict)) != 0)
		rc = add_change(s, o, before, old_x, line);
	free(before);
	free(old_x);
	scr_result_free(&r);
	return rc;
}

/* Writes the re-scored records to `tmp`. */
static int rescore_file(struct score_run *s, const char *src, const char *tmp, struct evh_err *err)
{
	FILE *in = fopen(src, "r");
	if (!in)
		return evh_err_fail(err, EVH_EIO, src, "cannot open: %s", strerror(errno));
	FILE *out = fopen(tmp, "w");
	if (!out) {
		fclose(in);
		return evh_err_fail(err, EVH_EIO, tmp, "cannot create: %s", strerror(errno));
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	int complete = 1, rc = EVH_OK;
	long n;
	while (!rc && (n = read_line(in, &line, &cap, &complete)) != 0) {
		lineno++;
		if (n < 0) {
			rc = evh_err_fail(err, EVH_ELIMIT, src, "line %zu is longer than %u bytes", lineno, EVH_LIMIT_LINE);
			break;
		}
		if (!line[strspn(line, " \t\r")])
			continue;
		cJSON *o = cJSON_Parse(line);
		if (!o && !complete) {
			if (!s->quiet)
				fprintf(stderr, "evalh: %s:%zu: last line cut short, left out\n", src, lineno);
			break;
		}
		if (!cJSON_IsObject(o)) {
			cJSON_Delete(o);
			rc = evh_err_fail(err, EVH_EFORMAT, src, "line %zu is not a JSON object", lineno);
			break;
		}
		if ((rc = rescore(s, o, src, lineno))) {
			evh_err_fail(err, rc, src, "line %zu: out of memory", lineno);
		} else {
			char *text = cJSON_PrintUnformatted(o);
			if (!text)
				rc = evh_err_fail(err, EVH_ENOMEM, src, "line %zu: out of memory", lineno);
			else if (fputs(text, out) < 0 || fputc('\n', out) == EOF)
				rc = evh_err_fail(err, EVH_EIO, tmp, "write failed: %s", strerror(errno));
			free(text);
		}
		cJSON_Delete(o);
	}
	free(line);
	fclose(in);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0)
		rc = rc ? rc : evh_err_fail(err, EVH_EIO, tmp, "write failed: %s", strerror(errno));
	fclose(out);
	return rc;
}

static double task_acc(const cJSON *sum, const char *task, const char *field)
{
	const cJSON *t = task ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sum, "tasks"), task)
			      : cJSON_GetObjectItemCaseSensitive(sum, "overall");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, field);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Markdown cell: '|' and newlines would break the table. */
static void cell(struct evh_buf *b, const char *s, size_t max)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n && i < max; i++) {
		char c = s[i] == '|' ? '/' : (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
		evh_buf_add(b, &c, 1);
	}
	if (n > max)
		evh_buf_add(b, "...", 3);
}

static void print_report(const struct score_run *s, const cJSON *before, const cJSON *after, const char *samples)
{
	struct evh_buf b;
	evh_buf_init(&b, EVH_LIMIT_BODY);
	char tmp[512];
	snprintf(tmp, sizeof tmp, "# evalh score %s%s%s\n\n%zu scored sample(s) re-scored, %zu changed verdict",
		 s->dir, s->out_dir != s->dir ? " -> " : "", s->out_dir != s->dir ? s->out_dir : "", s->scored, s->n_ch);
	evh_buf_add(&b, tmp, strlen(tmp));
	if (s->failed) {
		snprintf(tmp, sizeof tmp, ", %zu could not be scored (old verdicts kept)", s->failed);
		evh_buf_add(&b, tmp, strlen(tmp));
	}
	if (s->kept) {
		snprintf(tmp, sizeof tmp, ", %zu in error left as they were", s->kept);
		evh_buf_add(&b, tmp, strlen(tmp));
	}
	const char *hdr = ".\n\n| task | accuracy before | accuracy after |\n| --- | --- | --- |\n";
	evh_buf_add(&b, hdr, strlen(hdr));
	for (size_t i = 0; i <= s->n_tasks; i++) {
		const char *name = i < s->n_tasks ? s->tasks[i].name : NULL;
		snprintf(tmp, sizeof tmp, "| %s | %.1f%% | %.1f%% |\n", name ? name : "**overall**",
			 100 * task_acc(before, name, "accuracy"), 100 * task_acc(after, name, "accuracy"));
		evh_buf_add(&b, tmp, strlen(tmp));
	}
	if (s->n_ch) {
		hdr = "\n| task | item | sample | verdict | extracted | rule | record |\n| --- | --- | --- | --- | --- | --- | --- |\n";
		evh_buf_add(&b, hdr, strlen(hdr));
		for (size_t i = 0; i < s->n_ch; i++) {
			const struct change *c = &s->ch[i];
			evh_buf_add(&b, "| ", 2);
			cell(&b, c->task, 60);
			evh_buf_add(&b, " | ", 3);
			cell(&b, c->item, 60);
			snprintf(tmp, sizeof tmp, " | %d | %s -> %s | `", c->sample, c->before, c->after);
			evh_buf_add(&b, tmp, strlen(tmp));
			cell(&b, c->old_x, 40);
			evh_buf_add(&b, "` -> `", 6);
			cell(&b, c->new_x, 40);
			evh_buf_add(&b, "` | ", 4);
			cell(&b, c->rule, 20);
			snprintf(tmp, sizeof tmp, " | %s#L%zu |\n", samples, c->line);
			evh_buf_add(&b, tmp, strlen(tmp));
		}
	}
	fwrite(b.data, 1, b.len, stdout);
	evh_buf_free(&b);
}

/* run.json of the new folder: the old one with what re-scored it. */
static int write_run_json(struct score_run *s, struct evh_err *err)
{
	char at[32], path[4096];
	time_t now = time(NULL);
	struct tm tm;
	strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	cJSON *r = cJSON_CreateObject();
	if (!r)
		return evh_err_fail(err, EVH_ENOMEM, "run.json", "out of memory");
	cJSON_AddStringToObject(r, "from", s->dir);
	cJSON_AddStringToObject(r, "at", at);
	cJSON_AddStringToObject(r, "evalh_version", EVALH_VERSION);
	cJSON_AddStringToObject(r, "git_revision", evh_cli_git_revision());
	cJSON_AddNumberToObject(r, "scored", (double)s->scored);
	cJSON_AddNumberToObject(r, "changed", (double)s->n_ch);
	cJSON_AddNumberToObject(r, "failed", (double)s->failed);
	if (cJSON_GetObjectItemCaseSensitive(s->run, "rescored"))
		cJSON_ReplaceItemInObjectCaseSensitive(s->run, "rescored", r);
	else
		cJSON_AddItemToObject(s->run, "rescored", r);
	snprintf(path, sizeof path, "%s/run.json", s->out_dir);
	return evh_json_write_file(path, s->run, err);
}

static int score_usage(void)
{
	fputs("usage: evalh score RUN_DIR [-o NEW_DIR] [--quiet]\n"
	      "  re-scores RUN_DIR/samples.jsonl with the current scorers; writes samples.jsonl, summary.json\n"
	      "  and run.json to NEW_DIR (default: RUN_DIR, in place) and prints the verdicts that changed\n",
	      stderr);
	return EVH_EXIT_USAGE;
}

int evh_cmd_score(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct score_run s = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		if (c == 'o')
			s.out_dir = optarg;
		else if (c == 'q')
			s.quiet = 1;
		else
			return score_usage();
	}
	if (optind != argc - 1)
		return score_usage();
	s.dir = argv[optind];
	if (!s.out_dir)
		s.out_dir = s.dir;

	struct evh_err err = {0};
	cJSON *before = NULL, *after = NULL;
	char src[4096], tmp[4096], dst[4096], path[4096];
	int rc, code = EVH_EXIT_USAGE;
	snprintf(path, sizeof path, "%s/run.json", s.dir);
	snprintf(src, sizeof src, "%s/samples.jsonl", s.dir);
	if ((rc = evh_json_load_file(path, &s.run, &err)))
		goto out;
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(s.run, "tasks");
	const char *run_id = jstr(s.run, "run_id");
	const char *model = jstr(cJSON_GetObjectItemCaseSensitive(s.run, "model"), "name");
	if (!cJSON_IsArray(tasks) || !run_id) {
		rc = evh_err_fail(&err, EVH_EFORMAT, path, "expected \"run_id\" and a \"tasks\" array");
		goto out;
	}
	s.tasks = calloc((size_t)cJSON_GetArraySize(tasks) + 1, sizeof *s.tasks);
	if (!s.tasks) {
		rc = evh_err_fail(&err, EVH_ENOMEM, path, "tasks");
		goto out;
	}
	const cJSON *tj;
	cJSON_ArrayForEach(tj, tasks)
	{
		if ((rc = open_task(&s, tj, &s.tasks[s.n_tasks++], &err))) {
			evh_err_prefix(&err, "%s: ", path);
			goto out;
		}
	}
	if (strcmp(s.out_dir, s.dir) != 0) {
		struct stat st;
		snprintf(dst, sizeof dst, "%s/samples.jsonl", s.out_dir);
		if (stat(dst, &st) == 0 && st.st_size > 0) {
			rc = evh_err_fail(&err, EVH_EMISUSE, dst, "a run is already recorded here; choose another -o");
			goto out;
		}
		if (mkdir(s.out_dir, 0755) != 0 && errno != EEXIST) {
			rc = evh_err_fail(&err, EVH_EIO, s.out_dir, "cannot create folder: %s", strerror(errno));
			goto out;
		}
	}
	/* The old summary is computed from the old records before they are replaced. */
	if ((rc = evh_summary_compute(src, run_id, model ? model : "", &before, &err)))
		goto out;
	snprintf(tmp, sizeof tmp, "%s/samples.jsonl.rescore.tmp", s.out_dir);
	snprintf(dst, sizeof dst, "%s/samples.jsonl", s.out_dir);
	if ((rc = rescore_file(&s, src, tmp, &err))) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, dst) != 0) {
		rc = evh_err_fail(&err, EVH_EIO, dst, "cannot replace: %s", strerror(errno));
		unlink(tmp);
		goto out;
	}
	code = EVH_EXIT_FAILED;
	if ((rc = evh_summary_compute(dst, run_id, model ? model : "", &after, &err)))
		goto out;
	snprintf(path, sizeof path, "%s/summary.json", s.out_dir);
	if ((rc = evh_json_write_file(path, after, &err)) || (rc = write_run_json(&s, &err)))
		goto out;
	print_report(&s, before, after, dst);
	code = s.failed ? EVH_EXIT_FAILED : EVH_EXIT_OK;
out:
	if (rc)
		code = evh_cli_fail(&err, code);
	cJSON_Delete(before);
	cJSON_Delete(after);
	for (size_t i = 0; i < s.n_tasks; i++) {
		pack_close(s.tasks[i].pack);
		free(s.tasks[i].ids);
	}
	free(s.tasks);
	for (size_t i = 0; i < s.n_ch; i++) {
		struct change *ch = &s.ch[i];
		free(ch->task), free(ch->item), free(ch->before), free(ch->after);
		free(ch->old_x), free(ch->new_x), free(ch->rule);
	}
	free(s.ch);
	cJSON_Delete(s.run);
	return code;
}

/* ---- evalh judge ------------------------------------------------------------------------- */

/* Scores one input line into `res` (the output object). Errors are the line's, not the command's. */
static int judge_line(const char *scorer, const char *options, const char *line, size_t lineno, cJSON *res,
		      struct evh_err *err)
{
	char where[32];
	snprintf(where, sizeof where, "stdin:%zu", lineno);
	cJSON *in = cJSON_Parse(line);
	const char **choices = NULL;
	char *gold_num = NULL, *tests = NULL;
	struct scr_result r = {0};
	int rc = EVH_OK;
	if (!cJSON_IsObject(in)) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "expected a JSON object {\"gold\": ..., \"pred\": ...}");
		goto out;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "id");
	if (id)
		cJSON_AddItemToObject(res, "id", cJSON_Duplicate(id, 1));
	const cJSON *gold = cJSON_GetObjectItemCaseSensitive(in, "gold");
	const cJSON *pred = cJSON_GetObjectItemCaseSensitive(in, "pred");
	const cJSON *reasoning = cJSON_GetObjectItemCaseSensitive(in, "reasoning");
	const cJSON *tj = cJSON_GetObjectItemCaseSensitive(in, "tests");
	if (!cJSON_IsString(pred)) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "\"pred\" must be a string (the model's response)");
		goto out;
	}
	/* A number in JSON is the number as written by cJSON: 42, 0.5. */
	if (cJSON_IsNumber(gold) && !(gold_num = cJSON_PrintUnformatted(gold))) {
		rc = evh_err_fail(err, EVH_ENOMEM, where, "out of memory");
		goto out;
	}
	if (gold && !cJSON_IsNull(gold) && !cJSON_IsString(gold) && !gold_num) {
		rc = evh_err_fail(err, EVH_EFORMAT, where, "\"gold\" must be a string or a number");
		goto out;
	}
	if (tj && !cJSON_IsNull(tj) && !(tests = cJSON_PrintUnformatted(tj))) {
		rc = evh_err_fail(err, EVH_ENOMEM, where, "out of memory");
		goto out;
	}
	size_t n_choices;
	if ((rc = choices_of(cJSON_GetObjectItemCaseSensitive(in, "choices"), &choices, &n_choices, where, err)))
		goto out;
	struct scr_gold g = {
		.answer = gold_num ? gold_num : cJSON_IsString(gold) ? gold->valuestring : NULL,
		.choices = choices,
		.n_choices = n_choices,
		.tests = tests,
		.item_json = line,
	};
	rc = scr_score(scorer, options, pred->valuestring, cJSON_IsString(reasoning) ? reasoning->valuestring : NULL, &g,
		       &r, err);
	if (rc) {
		evh_err_prefix(err, "%s: ", where);
		goto out;
	}
	cJSON_AddStringToObject(res, "verdict", scr_verdict_name(r.verdict));
	cJSON_AddBoolToObject(res, "correct", scr_is_correct(r.verdict));
	set_str(res, "extracted", r.extracted);
	set_str(res, "rule", r.rule);
	set_str(res, "detail", r.detail);
	cJSON_AddNullToObject(res, "error");
out:
	scr_result_free(&r);
	free(choices);
	free(gold_num);
	free(tests);
	cJSON_Delete(in);
	return rc;
}

static int judge_usage(void)
{
	fputs("usage: evalh judge --scorer math|mcq|exact|numeric|regex [--options JSON]\n"
	      "  reads JSON lines {\"gold\": ..., \"pred\": ...} (optional \"choices\", \"question\", \"id\") on stdin\n"
	      "  and writes one JSON line each: verdict, correct, extracted answer, rule, detail, error\n",
	      stderr);
	return EVH_EXIT_USAGE;
}

int evh_cmd_judge(int argc, char **argv)
{
	static const struct option opts[] = {{"scorer", required_argument, NULL, 's'},
					     {"options", required_argument, NULL, 'O'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *scorer = NULL, *options = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 's')
			scorer = optarg;
		else if (c == 'O')
			options = optarg;
		else
			return judge_usage();
	}
	if (!scorer || optind != argc)
		return judge_usage();
	struct evh_err err = {0};
	if (!scr_known(scorer)) {
		evh_err_fail(&err, EVH_ENOTFOUND, "--scorer", "unknown scorer \"%s\" (known: exact, math, mcq, numeric, regex, code)",
			     scorer);
		return evh_cli_fail(&err, EVH_EXIT_USAGE);
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0, failed = 0;
	int complete;
	long n;
	int code = EVH_EXIT_OK;
	while ((n = read_line(stdin, &line, &cap, &complete)) != 0) {
		lineno++;
		if (n > 0 && !line[strspn(line, " \t\r")])
			continue;
		cJSON *res = cJSON_CreateObject();
		if (!res) {
			evh_err_fail(&err, EVH_ENOMEM, "judge", "out of memory");
			code = evh_cli_fail(&err, EVH_EXIT_FAILED);
			break;
		}
		evh_err_clear(&err);
		int rc = n < 0 ? evh_err_fail(&err, EVH_ELIMIT, "stdin", "line %zu is longer than %u bytes", lineno,
					      EVH_LIMIT_LINE)
			       : judge_line(scorer, options, line, lineno, res, &err);
		if (rc) {
			failed++;
			char msg[EVH_ERR_MSG + EVH_ERR_WHERE + 4];
			cJSON_AddNullToObject(res, "verdict");
			cJSON_AddNullToObject(res, "correct");
			cJSON *e = cJSON_AddObjectToObject(res, "error");
			cJSON_AddStringToObject(e, "code", evh_code_name(rc));
			cJSON_AddStringToObject(e, "message", evh_err_str(&err, msg, sizeof msg));
		}
		char *text = cJSON_PrintUnformatted(res);
		cJSON_Delete(res);
		if (!text || puts(text) == EOF || fflush(stdout) == EOF) {
			free(text);
			evh_err_fail(&err, EVH_EIO, "stdout", "write failed");
			code = evh_cli_fail(&err, EVH_EXIT_FAILED);
			break;
		}
		free(text);
		if (n < 0) /* the rest of an over-long line would read as more lines */
			break;
	}
	free(line);
	if (code == EVH_EXIT_OK && failed)
		code = EVH_EXIT_FAILED;
	return code;
}
