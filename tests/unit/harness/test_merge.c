/* test_merge.c — evalh merge on hand-made shard folders: a "whole" run (two tasks, k = 2, wrong
 * answers, a no-answer, a retried error, one sample still in error, varied latencies) is cut into
 * three shard folders as `evalh run --shard I/3` writes them; merging them in any order gives the
 * whole run's summary (harness/stats on the whole file is the reference) and every sample once.
 * Then each way shards can fail to be one complete run is refused, naming the cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/merge.h"
#include "harness/shard.h"
#include "harness/stats.h"
#include "harness/util/json.h"
#include "tests/unit/testutil.h"

static char root[64];

/* ---- fixture ----------------------------------------------------------------------------------- */

struct task_def {
	const char *name;
	int pack_items; /* items in the pack */
	int selected;   /* items the run selects (--limit); == pack_items when none */
};

static const struct task_def tasks_full[] = {{"arith", 40, 40}, {"mcq", 9, 9}};
static const struct task_def tasks_limited[] = {{"arith", 40, 25}, {"mcq", 9, 9}};

static uint64_t rng = 88172645463325252ULL;
static double next01(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static void item_id(const struct task_def *t, int i, char *out, size_t n)
{
	snprintf(out, n, "%s-%03d", t->name, i);
}

/* The items a run selects: every item, or the first `selected` (standing in for a --limit subset). */
static int selected(const struct task_def *t, int i)
{
	return t->selected == t->pack_items || i < t->selected;
}

static void write_text(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static cJSON *run_json(const struct task_def *td, size_t nt, unsigned index, unsigned count, int limit)
{
	cJSON *o = cJSON_CreateObject();
	char id[32];
	snprintf(id, sizeof id, "shard-%u", index);
	cJSON_AddStringToObject(o, "run_id", id);
	cJSON_AddStringToObject(o, "git_revision", "abc1234");
	cJSON_AddStringToObject(o, "host", index == 2 ? "node-b" : "node-a");
	char ts[32];
	snprintf(ts, sizeof ts, "2026-12-01T10:0%u:00Z", index);
	cJSON_AddStringToObject(o, "started_at", ts);
	snprintf(ts, sizeof ts, "2026-12-01T11:0%u:00Z", 4 - index);
	cJSON_AddStringToObject(o, "ended_at", ts);
	cJSON *m = cJSON_AddObjectToObject(o, "model");
	cJSON_AddStringToObject(m, "name", "openai:m@http://x/v1");
	cJSON_AddStringToObject(m, "provider", "openai");
	cJSON_AddStringToObject(m, "model_id", "m");
	cJSON_AddStringToObject(m, "base_url", "http://x/v1");
	cJSON_AddNumberToObject(m, "price_in", 0.55);
	cJSON_AddNumberToObject(m, "price_out", 2.19);
	cJSON_AddNumberToObject(m, "price_cached_in", 0.14);
	cJSON_AddNumberToObject(m, "gpu_hour_price", 2);
	cJSON *ta = cJSON_AddArrayToObject(o, "tasks");
	for (size_t t = 0; t < nt; t++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", td[t].name);
		cJSON_AddStringToObject(e, "digest", t ? "d-mcq" : "d-arith");
		cJSON_AddStringToObject(e, "version", "1");
		cJSON_AddNumberToObject(e, "items", td[t].pack_items);
		cJSON_AddNumberToObject(e, "samples", 2);
		if (count) {
			cJSON *ids = cJSON_AddArrayToObject(e, "item_ids");
			for (int i = 0; i < td[t].pack_items; i++) {
				item_id(&td[t], i, id, sizeof id);
				if (selected(&td[t], i) && evh_shard_has(&(struct evh_shard){index, count}, td[t].name, id))
					cJSON_AddItemToArray(ids, cJSON_CreateString(id));
			}
		}
		cJSON_AddItemToArray(ta, e);
	}
	cJSON *op = cJSON_AddObjectToObject(o, "options");
	cJSON_AddNumberToObject(op, "samples", 2);
	cJSON_AddNumberToObject(op, "temperature", 0.6);
	cJSON_AddNumberToObject(op, "top_p", 0.95);
	cJSON_AddNumberToObject(op, "max_tokens", 512);
	cJSON_AddNumberToObject(op, "concurrency", 4 + index); /* operational: may differ */
	cJSON_AddNumberToObject(op, "limit", limit);
	cJSON_AddNumberToObject(op, "seed", 1234);
	cJSON_AddNullToObject(o, "preset");
	if (count) {
		cJSON *sh = cJSON_AddObjectToObject(o, "shard");
		cJSON_AddNumberToObject(sh, "index", index);
		cJSON_AddNumberToObject(sh, "count", count);
	}
	return o;
}

static char *sample_line(const char *task, const char *item, int k, int err)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "task", task);
	cJSON_AddStringToObject(o, "item_id", item);
	cJSON_AddNumberToObject(o, "sample", k);
	int ok = next01() < 0.7, none = !ok && next01() < 0.3;
	if (err) {
		cJSON_AddNullToObject(o, "verdict");
		cJSON_AddNullToObject(o, "correct");
		cJSON_AddStringToObject(o, "state", "error");
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", "http");
		cJSON_AddStringToObject(e, "message", "HTTP 500");
	} else {
		char ans[16];
		snprintf(ans, sizeof ans, "%d", ok ? 7 : (int)(next01() * 3));
		if (none)
			cJSON_AddNullToObject(o, "extracted");
		else
			cJSON_AddStringToObject(o, "extracted", ans);
		cJSON_AddStringToObject(o, "verdict", ok ? "correct" : none ? "no_answer" : "wrong");
		cJSON_AddBoolToObject(o, "correct", ok);
		cJSON_AddStringToObject(o, "finish_reason", next01() < 0.1 ? "length" : "stop");
		cJSON_AddNullToObject(o, "error");
	}
	cJSON_AddStringToObject(o, "gold", "7");
	cJSON_AddNumberToObject(o, "tokens_in", 20 + (int)(next01() * 10));
	cJSON_AddNumberToObject(o, "tokens_out", 50 + (int)(next01() * 500));
	cJSON_AddNumberToObject(o, "tokens_reasoning", (int)(next01() * 40));
	cJSON_AddNumberToObject(o, "ttft_s", next01());
	cJSON_AddNumberToObject(o, "total_s", 1 + 3 * next01());
	cJSON_AddNumberToObject(o, "cost_usd", next01() * 1e-3);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void mkdir_p(const char *d)
{
	assert_true(mkdir(d, 0755) == 0 || access(d, F_OK) == 0);
}

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s/%s", root, dir, name);
}

/* Writes `whole` (unsharded: every line) and `s1`..`s3` (each the lines of its items, in the
 * order they were written), run.json in each shard. The item `arith-001` sample 1 failed once and
 * was retried (two lines), `mcq-004` sample 0 is still in error. */
static void make_runs(const struct task_def *td, size_t nt, int limit, const char *prefix)
{
	char dir[256], p[320];
	const char *names[4] = {"whole", "s1", "s2", "s3"};
	for (int d = 0; d < 4; d++) {
		snprintf(dir, sizeof dir, "%s/%s%s", root, prefix, names[d]);
		mkdir_p(dir);
		snprintf(p, sizeof p, "%s/samples.jsonl", dir);
		write_text(p, "", "w");
		if (d) {
			cJSON *rj = run_json(td, nt, (unsigned)d, 3, limit);
			snprintf(p, sizeof p, "%s/run.json", dir);
			assert_int_equal(evh_json_write_file(p, rj, NULL), 0);
			cJSON_Delete(rj);
		}
	}
	/* Completion order is not item order: walk the samples in a scrambled order. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t t = 0; t < nt; t++)
			for (int j = 0; j < td[t].pack_items; j++) {
				int i = (j * 7 + 3) % td[t].pack_items, k = (pass + i) % 2;
				char id[32];
				item_id(&td[t], i, id, sizeof id);
				if (!selected(&td[t], i))
					continue;
				unsigned sh = evh_shard_of(3, td[t].name, id);
				int retried = !strcmp(id, "arith-001") && k == 1, stuck = !strcmp(id, "mcq-004") && k == 0;
				for (int attempt = 0; attempt < 1 + retried; attempt++) {
					char *line = sample_line(td[t].name, id, k, stuck || (retried && attempt == 0));
					snprintf(p, sizeof p, "%s/%swhole/samples.jsonl", root, prefix);
					write_text(p, line, "a");
					write_text(p, "\n", "a");
					snprintf(p, sizeof p, "%s/%s%s/samples.jsonl", root, prefix, names[sh]);
					write_text(p, line, "a");
					write_text(p, "\n", "a");
					cJSON_free(line);
				}
			}
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(tu_tmpdir(root, sizeof root, "merge"), 0);
	make_runs(tasks_full, 2, 0, "");
	make_runs(tasks_limited, 2, 25, "lim-");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(root);
}

/* ---- helpers ----------------------------------------------------------------------------------- */

static int merge3(const char *a, const char *b, const char *c, const char *out, struct evh_merge_info *info,
		  struct evh_err *err)
{
	char pa[256], pb[256], pc[256], po[256];
	snprintf(pa, sizeof pa, "%s/%s", root, a);
	snprintf(pb, sizeof pb, "%s/%s", root, b);
	snprintf(pc, sizeof pc, "%s/%s", root, c);
	snprintf(po, sizeof po, "%s/%s", root, out);
	const char *dirs[] = {pa, pb, pc};
	return evh_merge(dirs, c[0] ? 3 : 2, po, info, err);
}

static cJSON *load(const char *dir, const char *name)
{
	char p[320];
	path_of(p, sizeof p, dir, name);
	cJSON *o = NULL;
	assert_int_equal(evh_json_load_file(p, &o, NULL), 0);
	return o;
}

static size_t count_lines(const char *dir)
{
	char p[320];
	path_of(p, sizeof p, dir, "samples.jsonl");
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	size_t n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Copies folder `from` to `to` (run.json and samples.jsonl) for a variant to edit. */
static void copy_run(const char *from, const char *to)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s/%s' && cp -r '%s/%s' '%s/%s'", root, to, root, from, root, to);
	assert_int_equal(system(cmd), 0);
}

/* Edits run.json of `dir`: sets the value at obj.key (obj NULL: the root; "tasks0": tasks[0]). */
static void set_field(const char *dir, const char *obj, const char *key, cJSON *v)
{
	cJSON *rj = load(dir, "run.json");
	cJSON *o = !obj ? rj : !strcmp(obj, "tasks0") ? cJSON_GetArrayItem(cJSON_GetObjectItem(rj, "tasks"), 0)
						     : cJSON_GetObjectItem(rj, obj);
	assert_non_null(o);
	if (v)
		cJSON_ReplaceItemInObject(o, key, v);
	else
		cJSON_DeleteItemFromObject(o, key);
	char p[320];
	path_of(p, sizeof p, dir, "run.json");
	assert_int_equal(evh_json_write_file(p, rj, NULL), 0);
	cJSON_Delete(rj);
}

static void expect_refused(const char *a, const char *b, const char *c, int code, const char *needle1,
			   const char *needle2)
{
	struct evh_err err = {0};
	assert_int_equal(merge3(a, b, c, "refused", NULL, &err), code);
	if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2) && !strstr(err.where, needle2)))
		fail_msg("message \"%s: %s\" lacks \"%s\" / \"%s\"", err.where, err.msg, needle1, needle2 ? needle2 : "");
	assert_int_equal(count_lines("refused"), 0); /* nothing written */
}

/* ---- cases ------------------------------------------------------------------------------------- */

static void check_equals_whole(const char *prefix, const char *out, size_t want_lines)
{
	char whole[320];
	snprintf(whole, sizeof whole, "%s/%swhole/samples.jsonl", root, prefix);
	cJSON *ref = NULL;
	assert_int_equal(evh_summary_compute(whole, "x", "openai:m@http://x/v1", &ref, NULL), 0);
	cJSON *got = load(out, "summary.json");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(ref, "tasks"), cJSON_GetObjectItem(got, "tasks"), 1));
	assert_true(cJSON_Compare(cJSON_GetObjectItem(ref, "overall"), cJSON_GetObjectItem(got, "overall"), 1));
	assert_string_equal(cJSON_GetObjectItem(got, "run_id")->valuestring, out);
	assert_string_equal(cJSON_GetObjectItem(got, "model")->valuestring, "openai:m@http://x/v1");
	assert_int_equal(count_lines(out), want_lines);
	cJSON_Delete(ref);
	cJSON_Delete(got);
}

static void merged_equals_whole_run(void **state)
{
	(void)state;
	struct evh_merge_info info;
	struct evh_err err = {0};
	/* Any order of folders. */
	assert_int_equal(merge3("s3", "s1", "s2", "merged", &info, &err), 0);
	/* 49 items x 2 samples, the retried sample once. */
	check_equals_whole("", "merged", 98);
	assert_int_equal(info.shards, 3);
	assert_int_equal(info.samples, 98);
	assert_int_equal(info.errors, 1);
	/* The whole file has one more line (the retried error), the summary does not count it. */
	assert_int_equal(count_lines("whole"), 99);

	cJSON *rj = load("merged", "run.json");
	assert_null(cJSON_GetObjectItem(rj, "shard"));
	assert_string_equal(cJSON_GetObjectItem(rj, "run_id")->valuestring, "merged");
	assert_string_equal(cJSON_GetObjectItem(rj, "started_at")->valuestring, "2026-12-01T10:01:00Z");
	assert_string_equal(cJSON_GetObjectItem(rj, "ended_at")->valuestring, "2026-12-01T11:03:00Z");
	const cJSON *ta = cJSON_GetObjectItem(rj, "tasks");
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(ta, 0), "item_ids")); /* every item ran */
	const cJSON *from = cJSON_GetObjectItem(rj, "merged_from");
	assert_int_equal(cJSON_GetArraySize(from), 3);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(from, 1), "shard")->valuestring, "2/3");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(from, 1), "host")->valuestring, "node-b");
	cJSON_Delete(rj);
}

static void merged_limit_subset_lists_its_items(void **state)
{
	(void)state;
	struct evh_err err = {0};
	assert_int_equal(merge3("lim-s2", "lim-s3", "lim-s1", "lim-merged", NULL, &err), 0);
	check_equals_whole("lim-", "lim-merged", 68); /* (25 + 9) x 2 */
	cJSON *rj = load("lim-merged", "run.json");
	const cJSON *ids = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rj, "tasks"), 0), "item_ids");
	assert_int_equal(cJSON_GetArraySize(ids), 25);
	for (int i = 0; i < 25; i++) {
		char want[16];
		snprintf(want, sizeof want, "arith-%03d", i);
		assert_string_equal(cJSON_GetArrayItem(ids, i)->valuestring, want);
	}
	assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rj, "tasks"), 1), "item_ids"));
	cJSON_Delete(rj);
}

static void missing_or_twice_given_shard_refused(void **state)
{
	(void)state;
	expect_refused("s1", "s3", "", EVH_EUNSUPPORTED, "shard 2/3 is missing", "of the 40 items of task arith");
	copy_run("s2", "s2-copy");
	expect_refused("s2", "s1", "s2-copy", EVH_EUNSUPPORTED, "is in two folders", "s2-copy (shard 2/3)");
}

static void different_experiment_refused(void **state)
{
	(void)state;
	copy_run("s2", "v");
	set_field("v", "model", "name", cJSON_CreateString("openai:other@http://x/v1"));
	expect_refused("s1", "v", "s3", EVH_EUNSUPPORTED, "model.name differs", "openai:other");

	copy_run("s2", "v");
	set_field("v", "tasks0", "digest", cJSON_CreateString("d-arith-2"));
	expect_refused("s1", "v", "s3", EVH_EUNSUPPORTED, "tasks[0].digest differs", "d-arith-2");

	copy_run("s2", "v");
	set_field("v", "options", "temperature", cJSON_CreateNumber(1.0));
	expect_refused("s1", "v", "s3", EVH_EUNSUPPORTED, "options.temperature differs", NULL);

	copy_run("s3", "v");
	set_field("v", "options", "seed", NULL);
	expect_refused("s1", "s2", "v", EVH_EUNSUPPORTED, "options.seed differs", "absent here");

	/* One shard of another split. */
	copy_run("s2", "v");
	set_field("v", "shard", "count", cJSON_CreateNumber(4));
	expect_refused("s1", "v", "s3", EVH_EUNSUPPORTED, "belongs to shard", NULL);

	/* Not a shard at all. */
	copy_run("s2", "v");
	set_field("v", NULL, "shard", NULL);
	expect_refused("s1", "v", "s3", EVH_EUNSUPPORTED, "not a run made with", "v/run.json");
}

static void mislabelled_shard_refused(void **state)
{
	(void)state;
	copy_run("s1", "v");
	set_field("v", "shard", "index", cJSON_CreateNumber(2));
	expect_refused("v", "s2", "s3", EVH_EUNSUPPORTED, "belongs to shard 1/3, not 2/3", NULL);
}

/* Drops line `n` (1-based) of dir/samples.jsonl; returns the dropped line's item and sample. */
static void drop_line(const char *dir, int n, char *item, size_t item_n, int *sample)
{
	char p[320], tmp[330];
	path_of(p, sizeof p, dir, "samples.jsonl");
	snprintf(tmp, sizeof tmp, "%s.new", p);
	FILE *in = fopen(p, "r"), *out = fopen(tmp, "w");
	assert_non_null(in);
	assert_non_null(out);
	char line[4096];
	for (int i = 1; fgets(line, sizeof line, in); i++) {
		if (i != n) {
			fputs(line, out);
			continue;
		}
		cJSON *o = cJSON_Parse(line);
		snprintf(item, item_n, "%s/%s", cJSON_GetObjectItem(o, "task")->valuestring,
			 cJSON_GetObjectItem(o, "item_id")->valuestring);
		*sample = cJSON_GetObjectItem(o, "sample")->valueint;
		cJSON_Delete(o);
	}
	fclose(in);
	fclose(out);
	assert_int_equal(rename(tmp, p), 0);
}

static void missing_sample_named(void **state)
{
	(void)state;
	copy_run("s2", "v");
	char item[64], want[80];
	int k;
	drop_line("v", 5, item, sizeof item, &k);
	snprintf(want, sizeof want, "%s#%d", item, k);
	expect_refused("s1", "v", "s3", EVH_EUNSUPPORTED, "is incomplete: 1 sample(s) missing", want);
	struct evh_err err = {0};
	assert_int_equal(merge3("s1", "v", "s3", "refused", NULL, &err), EVH_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "--shard 2/3"));
	assert_non_null(strstr(err.msg, "--resume"));
}

static void sample_of_another_shard_named_by_line(void **state)
{
	(void)state;
	copy_run("s1", "v");
	/* The first arith item of shard 2, written into shard 1's file. */
	char id[16];
	int i = 0;
	do
		snprintf(id, sizeof id, "arith-%03d", i++);
	while (evh_shard_of(3, "arith", id) != 2);
	char p[320], line[256];
	path_of(p, sizeof p, "v", "samples.jsonl");
	snprintf(line, sizeof line, "{\"task\":\"arith\",\"item_id\":\"%s\",\"sample\":0,\"correct\":true,\"error\":null}\n", id);
	write_text(p, line, "a");
	size_t n = count_lines("v");
	char where[64];
	snprintf(where, sizeof where, "samples.jsonl:%zu", n);
	expect_refused("v", "s2", "s3", EVH_EUNSUPPORTED, "not in this shard's item_ids (1/3)", where);

	/* A cut last line (a kill) is no sample: that shard merges. */
	copy_run("s1", "v");
	path_of(p, sizeof p, "v", "samples.jsonl");
	write_text(p, "{\"task\":\"arith\",\"item_id\":\"zz", "a");
	struct evh_err err = {0};
	assert_int_equal(merge3("v", "s2", "s3", "cut-merged", NULL, &err), 0);
	check_equals_whole("", "cut-merged", 98);

	/* Malformed JSON is named by file and line. */
	copy_run("s1", "v");
	write_text(p, "{\"task\": tru}\n", "a");
	snprintf(where, sizeof where, "samples.jsonl:%zu", count_lines("v"));
	expect_refused("v", "s2", "s3", EVH_EFORMAT, "malformed JSON", where);
}

static void existing_output_refused(void **state)
{
	(void)state;
	struct evh_err err = {0};
	assert_int_equal(merge3("s1", "s2", "s3", "twice", NULL, &err), 0);
	assert_int_equal(merge3("s1", "s2", "s3", "twice", NULL, &err), EVH_EMISUSE);
	assert_non_null(strstr(err.msg, "new folder"));
}

static void command_line(void **state)
{
	(void)state;
	char a[256], b[256], c[256], o[256];
	snprintf(a, sizeof a, "%s/s1", root);
	snprintf(b, sizeof b, "%s/s2", root);
	snprintf(c, sizeof c, "%s/s3", root);
	snprintf(o, sizeof o, "%s/cli", root);
	char *argv[] = {"merge", a, b, c, "-o", o, NULL};
	/* One sample is an error: merged, exit 3 as `evalh run` would. */
	assert_int_equal(evh_merge_main(6, argv), 3);
	check_equals_whole("", "cli", 98);
	cJSON *rj = load("cli", "run.json");
	const cJSON *av = cJSON_GetObjectItem(rj, "argv");
	assert_string_equal(cJSON_GetArrayItem(av, 0)->valuestring, "evalh");
	assert_string_equal(cJSON_GetArrayItem(av, 1)->valuestring, "merge");
	cJSON_Delete(rj);
	char *bad[] = {"merge", a, NULL};
	assert_int_equal(evh_merge_main(2, bad), 2); /* no -o */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(merged_equals_whole_run),
		cmocka_unit_test(merged_limit_subset_lists_its_items),
		cmocka_unit_test(missing_or_twice_given_shard_refused),
		cmocka_unit_test(different_experiment_refused),
		cmocka_unit_test(mislabelled_shard_refused),
		cmocka_unit_test(missing_sample_named),
		cmocka_unit_test(sample_of_another_shard_named_by_line),
		cmocka_unit_test(existing_output_refused),
		cmocka_unit_test(command_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
