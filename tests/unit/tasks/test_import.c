/* test_import.c — pack_import on small files written here in each benchmark's published format:
 * fields, gold answers, tests in the code scorer's format, templates, Unicode, and malformed input
 * named by file and line. LiveCodeBench's packed tests come from Python's own pickle/zlib/base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tasks/import.h"
#include "tasks/pack.h"
#include "tests/unit/testutil.h"

static char dir[64];
static char out[512];

static const char *path_of(const char *name)
{
	static char p[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static const char *put(const char *name, const char *text)
{
	const char *p = path_of(name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	fwrite(text, 1, strlen(text), f);
	fclose(f);
	return p;
}

/* Imports one file; on success opens the written pack. */
static int import1(const char *fmt, const char *file, const struct pack_import_opts *o, struct pack **p,
		   struct evh_err *err)
{
	snprintf(out, sizeof out, "%s/out.tar.gz", dir);
	unlink(out);
	memset(err, 0, sizeof *err);
	*p = NULL;
	int rc = pack_import(fmt, &file, 1, o, out, err);
	if (rc) {
		assert_int_not_equal(access(out, F_OK), 0); /* no half pack */
		return rc;
	}
	struct evh_err e2 = {0};
	assert_int_equal(pack_open(out, p, &e2), 0);
	return 0;
}

static cJSON *item_json(const struct pack *p, size_t i)
{
	cJSON *j = cJSON_Parse(pack_item_at(p, i)->json);
	assert_non_null(j);
	return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	assert_non_null(s);
	return s;
}

static void expect_error(const char *fmt, const char *file, int code, const char *where_end, const char *msg_part)
{
	struct pack *p;
	struct evh_err err;
	assert_int_equal(import1(fmt, file, NULL, &p, &err), code);
	size_t lw = strlen(err.where), le = strlen(where_end);
	if (lw < le || strcmp(err.where + lw - le, where_end) != 0)
		fail_msg("where \"%s\" does not end with \"%s\" (%s)", err.where, where_end, err.msg);
	if (msg_part && !strstr(err.msg, msg_part))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg_part);
}

/* ---- GSM8K ---- */

static void test_gsm8k(void **state)
{
	(void)state;
	const char *f = put("gsm.jsonl",
			    "{\"question\": \"Janet\\u2019s ducks lay 16 eggs. How many are left?\", \"answer\": "
			    "\"16 - 3 = <<16-3=13>>13\\n#### 13\"}\n"
			    "\n"
			    "{\"question\": \"Zoë buys 2 crêpes at €1,500 each. Total?\", \"answer\": \"2*1500=3000\\n#### 3,000\"}\n");
	struct pack *p;
	struct evh_err err;
	assert_int_equal(import1("gsm8k", f, NULL, &p, &err), 0);
	const struct pack_manifest *m = pack_manifest(p);
	assert_string_equal(m->name, "gsm8k");
	assert_string_equal(m->scorer, "math");
	assert_string_equal(m->prompt_template,
			    "{question}\nPlease reason step by step, and put your final answer within \\boxed{}.");
	assert_int_equal(pack_count(p), 2);
	const struct pack_item *it = pack_item_at(p, 0);
	assert_string_equal(it->id, "gsm8k-0001");
	assert_string_equal(it->question, "Janet\xE2\x80\x99s ducks lay 16 eggs. How many are left?");
	assert_string_equal(it->answer, "13");
	cJSON *j = item_json(p, 0);
	assert_string_equal(jstr(j, "solution"), "16 - 3 = <<16-3=13>>13");
	cJSON_Delete(j);
	it = pack_item_at(p, 1);
	assert_string_equal(it->id, "gsm8k-0002");
	assert_string_equal(it->question, "Zo\xC3\xAB buys 2 cr\xC3\xAApes at \xE2\x82\xAC" "1,500 each. Total?");
	assert_string_equal(it->answer, "3,000");
	char *prompt = NULL;
	assert_int_equal(pack_render_prompt(p, pack_item_at(p, 0), &prompt, &err), 0);
	assert_string_equal(prompt, "Janet\xE2\x80\x99s ducks lay 16 eggs. How many are left?\nPlease reason step by "
				    "step, and put your final answer within \\boxed{}.");
	free(prompt);
	pack_close(p);
}

static void test_gsm8k_errors(void **state)
{
	(void)state;
	expect_error("gsm8k", put("bad1.jsonl", "{\"question\": \"a\", \"answer\": \"x\\n#### 1\"}\n{\"question\": \"b\",\n"),
		     EVH_EFORMAT, "bad1.jsonl:2", NULL);
	expect_error("gsm8k",
		     put("bad2.jsonl", "{\"question\": \"a\", \"answer\": \"#### 1\"}\n\n{\"question\": \"b\", \"answer\": \"2\"}\n"),
		     EVH_EFORMAT, "bad2.jsonl:3", "####");
	expect_error("gsm8k", put("bad3.jsonl", "{\"question\": \"a\"}\n"), EVH_EFORMAT, "bad3.jsonl:1", "answer");
	expect_error("gsm8k", put("bad4.jsonl", "[1, 2]\n"), EVH_EFORMAT, "bad4.jsonl:1", "object");
	expect_error("gsm8k", put("bad5.jsonl", "{\"question\": \"ok\", \"answer\": \"#### 1\"}\n{\"question\": \"caf\xC3\", "
					       "\"answer\": \"#### 2\"}\n"),
		     EVH_EFORMAT, "bad5.jsonl:2", "UTF-8");
	expect_error("gsm8k", put("empty.jsonl", "\n  \n"), EVH_EFORMAT, "empty.jsonl", "empty");
	expect_error("gsm8k", path_of("missing.jsonl"), EVH_ENOTFOUND, "missing.jsonl", NULL);
	/* A duplicate id is found by the pack check, but named by its input line. */
	expect_error("math", put("dup.jsonl", "{\"problem\": \"a\", \"answer\": \"1\", \"unique_id\": \"u1\"}\n\n"
					     "{\"problem\": \"b\", \"answer\": \"2\", \"unique_id\": \"u1\"}\n"),
		     EVH_EFORMAT, "dup.jsonl:3", "u1");
	expect_error("gsm8k", put("trail.jsonl", "{\"question\": \"a\", \"answer\": \"#### 1\"} x\n"), EVH_EFORMAT,
		     "trail.jsonl:1", "after");
	struct evh_err err = {0};
	const char *f = path_of("dup.jsonl");
	assert_int_equal(pack_import("nope", &f, 1, NULL, out, &err), EVH_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "gsm8k"));
}

/* ---- MATH / MATH-500 ---- */

static void test_math(void **state)
{
	(void)state;
	const char *f = put("math.jsonl",
			    "{\"problem\": \"Find $x$.\", \"solution\": \"So $x=\\\\boxed{\\\\frac{1}{2}}$.\", "
			    "\"level\": \"Level 2\", \"type\": \"Algebra\"}\n"
			    "{\"problem\": \"Set?\", \"solution\": \"First \\\\boxed{3}, then \\\\boxed{\\\\{1,2\\\\}}\", "
			    "\"level\": \"Level 5\", \"type\": \"Counting & Probability\"}\n"
			    "{\"problem\": \"Angle?\", \"solution\": \"...\", \"answer\": \"90^\\\\circ\", \"subject\": "
			    "\"Geometry\", \"level\": 3, \"unique_id\": \"test/geometry/12.json\"}\n");
	struct pack *p;
	struct evh_err err;
	assert_int_equal(import1("math", f, NULL, &p, &err), 0);
	assert_int_equal(pack_count(p), 3);
	assert_string_equal(pack_item_at(p, 0)->answer, "\\frac{1}{2}");
	assert_string_equal(pack_item_at(p, 1)->answer, "\\{1,2\\}");
	assert_string_equal(pack_item_at(p, 2)->answer, "90^\\circ");
	assert_string_equal(pack_item_at(p, 2)->id, "test/geometry/12.json");
	cJSON *j = item_json(p, 1);
	assert_string_equal(jstr(j, "subject"), "Counting & Probability");
	assert_string_equal(jstr(j, "level"), "Level 5");
	cJSON_Delete(j);
	j = item_json(p, 2);
	assert_string_equal(jstr(j, "level"), "3");
	cJSON_Delete(j);
	pack_close(p);
	expect_error("math",
		     put("math_bad.jsonl", "{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": \"b\", \"solution\": "
					   "\"no box here\"}\n"),
		     EVH_EFORMAT, "math_bad.jsonl:2", "boxed");
	expect_error("math", put("math_bad2.jsonl", "{\"problem\": \"a\", \"answer\": [1]}\n"), EVH_EFORMAT,
		     "math_bad2.jsonl:1", "answer");
}

/* ---- AIME (csv with RFC 4180 quoting, and jsonl) ---- */

static void test_aime(void **state)
{
	(void)state;
	const char *f = put("aime.csv",
			    "ID,Year,Problem Number,Question,Answer,Part\r\n"
			    "1983-1,1983,1,\"Let $x$, $y$ and $z$ be \"\"real\"\",\nwith a comma, and a newline.\",60,\r\n"
			    "2024-II-4,2024,4,Find $m+n$ — ∑ and π.,033,II\r\n");
	struct pack *p;
	struct evh_err err;
	assert_int_equal(import1("aime", f, NULL, &p, &err), 0);
	assert_int_equal(pack_count(p), 2);
	assert_string_equal(pack_item_at(p, 0)->question, "Let $x$, $y$ and $z$ be \"real\",\nwith a comma, and a newline.");
	assert_string_equal(pack_item_at(p, 0)->answer, "60");
	assert_string_equal(pack_item_at(p, 0)->id, "1983-1");
	assert_string_equal(pack_item_at(p, 1)->answer, "33");
	assert_string_equal(pack_item_at(p, 1)->question, "Find $m+n$ \xE2\x80\x94 \xE2\x88\x91 and \xCF\x80.");
	cJSON *j = item_json(p, 1);
	assert_string_equal(jstr(j, "year"), "2024");
	assert_string_equal(jstr(j, "problem_number"), "4");
	assert_string_equal(jstr(j, "part"), "II");
	cJSON_Delete(j);
	pack_close(p);

	f = put("aime.jsonl", "{\"problem\": \"P1\", \"answer\": 204, \"year\": 2025, \"problem_number\": 7}\n"
			      "{\"id\": 61, \"problem\": \"P2\", \"answer\": \"0\", \"url\": \"x\"}\n");
	assert_int_equal(import1("aime", f, NULL, &p, &err), 0);
	assert_string_equal(pack_item_at(p, 0)->id, "aime-2025-7");
	assert_string_equal(pack_item_at(p, 0)->answer, "204");
	assert_string_equal(pack_item_at(p, 1)->id, "61");
	assert_string_equal(pack_item_at(p, 1)->answer, "0");
	pack_close(p);

	/* The bad row starts on physical line 4, after a two-line quoted field. */
	expect_error("aime",
		     put("aime_bad.csv", "Question,Answer\n\"two\nlines\",5\nok,6\n\"bad\",1000\n"), EVH_EFORMAT,
		     "aime_bad.csv:5", "0 to 999");
	expect_error("aime", put("aime_bad2.csv", "Question,Answer\n\"two\nlines\",5\nq,7,extra\n"), EVH_EFORMAT,
		     "aime_bad2.csv:4", "3 fields, the header has 2");
	expect_error("aime", put("aime_bad3.csv", "Question,Answer\nq,5\n\"never closed,6\nmore\n"), EVH_EFORMAT,
		     "aime_bad3.csv:3", "unterminated");
	expect_error("aime", put("aime_bad4.csv", "Question,Answer\nq,5\nq\"x\"y,6\n"), EVH_EFORMAT, "aime_bad4.csv:3",
		     "malformed CSV");
	expect_error("aime", put("aime_bad5.csv", "Question,Answer\nq,-3\n"), EVH_EFORMAT, "aime_bad5.csv:2", "0 to 999");
}

/* ---- GPQA csv and its password-protected zip ---- */

#define GPQA_CSV                                                                                                 \
	"Pre-Revision Question,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3," \
	"Subdomain,High-level domain,Record ID\n"                                                                  \
	"x,\"  What is the spin of an electron (ħ units)?\n\",1/2 ,1,3/2,0,Quantum Mechanics,Physics,recA\n"      \
	"x,Which base pairs with adenine in RNA?,uracil,thymine,guanine,cytosine,Molecular Biology,Biology,recB\n"

static void check_gpqa(const struct pack *p)
{
	static const char *const correct[2] = {"1/2", "uracil"};
	assert_int_equal(pack_count(p), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct pack_item *it = pack_item_at(p, i);
		assert_int_equal(it->n_choices, 4);
		assert_int_equal(strlen(it->answer), 1);
		size_t g = (size_t)(it->answer[0] - 'A');
		assert_true(g < 4);
		assert_string_equal(it->choices[g], correct[i]);
	}
	assert_string_equal(pack_item_at(p, 0)->question, "What is the spin of an electron (\xC4\xA7 units)?");
	assert_string_equal(pack_item_at(p, 0)->id, "recA");
	cJSON *j = item_json(p, 1);
	assert_string_equal(jstr(j, "subject"), "Molecular Biology");
	assert_string_equal(jstr(j, "domain"), "Biology");
	cJSON_Delete(j);
	assert_non_null(strstr(pack_manifest(p)->prompt_template, "'Answer: $LETTER'"));
	assert_string_equal(pack_manifest(p)->scorer, "mcq");
}

/* A zip written by libarchive with traditional PKWARE encryption, as GPQA's dataset.zip is. */
static const char *make_zip(const char *name, const char *password)
{
	const char *p = path_of(name);
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	if (password) {
		assert_int_equal(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
		assert_int_equal(archive_write_set_passphrase(a, password), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_filename(a, p), ARCHIVE_OK);
	static const char *const names[3] = {"dataset/gpqa_main.csv", "dataset/gpqa_diamond.csv", "dataset/license.txt"};
	static const char *const data[3] = {"Question\nnot this one\n", GPQA_CSV, "CC BY 4.0"};
	for (int i = 0; i < 3; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(data[i]));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, data[i], strlen(data[i])), (la_ssize_t)strlen(data[i]));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return p;
}

static void test_gpqa(void **state)
{
	(void)state;
	struct pack *p, *p2;
	struct evh_err err;
	const char *f = put("gpqa_diamond.csv", GPQA_CSV);
	assert_int_equal(import1("gpqa", f, NULL, &p, &err), 0);
	check_gpqa(p);
	/* Same seed, same order; the order is recorded with the pack. */
	assert_int_equal(import1("gpqa", f, NULL, &p2, &err), 0);
	assert_string_equal(pack_digest(p), pack_digest(p2));
	pack_close(p2);
	pack_close(p);
	/* Over many seeds the correct answer lands in every position. */
	int seen[4] = {0};
	for (unsigned long long s = 1; s <= 24; s++) {
		struct pack_import_opts o = {.seed = s};
		assert_int_equal(import1("gpqa", f, &o, &p, &err), 0);
		seen[pack_item_at(p, 0)->answer[0] - 'A']++;
		check_gpqa(p);
		pack_close(p);
	}
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 0);

	const char *z = make_zip("dataset.zip", "deserted-untouched-panther");
	expect_error("gpqa", z, EVH_EUNSUPPORTED, "dataset.zip", "--password");
	struct pack_import_opts o = {.password = "wrong"};
	assert_int_not_equal(import1("gpqa", z, &o, &p, &err), 0);
	o.password = "deserted-untouched-panther";
	assert_int_equal(import1("gpqa", z, &o, &p, &err), 0);
	check_gpqa(p);
	pack_close(p);
	o.member = "gpqa_extended.csv";
	assert_int_equal(import1("gpqa", z, &o, &p, &err), EVH_ENOTFOUND);
	assert_non_null(strstr(err.msg, "gpqa_diamond.csv"));
	/* An unencrypted zip with one data file needs no --member. */
	const char *z2 = path_of("one.zip");
	struct archive *a = archive_write_new();
	archive_write_set_format_zip(a);
	assert_int_equal(archive_write_open_filename(a, z2), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "gsm.jsonl");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	const char *gl = "{\"question\": \"q\", \"answer\": \"#### 4\"}\n";
	archive_entry_set_size(e, (la_int64_t)strlen(gl));
	archive_write_header(a, e);
	archive_write_data(a, gl, strlen(gl));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	assert_int_equal(import1("gsm8k", z2, NULL, &p, &err), 0);
	assert_string_equal(pack_item_at(p, 0)->answer, "4");
	pack_close(p);

	expect_error("gpqa", put("gpqa_bad.csv", "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,"
						 "Incorrect Answer 3\nq,a,b,c,d\nq2,a,b,,d\n"),
		     EVH_EFORMAT, "gpqa_bad.csv:3", "incorrect_answer_2");
}

/* ---- ARC / MMLU ---- */

static void test_mcq(void **state)
{
	(void)state;
	struct pack *p;
	struct evh_err err;
	/* MMLU's own csv: no header, subject in the file name. */
	const char *f = put("anatomy_test.csv", "\"Which bone is in the ear, the \"\"stirrup\"\"?\",stapes,femur,ulna,tibia,A\n"
						"Where is the hippocampus?,temporal lobe,spleen,liver,kidney,A\n");
	assert_int_equal(import1("mmlu", f, NULL, &p, &err), 0);
	assert_int_equal(pack_count(p), 2);
	assert_string_equal(pack_item_at(p, 0)->question, "Which bone is in the ear, the \"stirrup\"?");
	assert_string_equal(pack_item_at(p, 0)->choices[3], "tibia");
	cJSON *j = item_json(p, 1);
	assert_string_equal(jstr(j, "subject"), "anatomy");
	cJSON_Delete(j);
	char *prompt = NULL;
	assert_int_equal(pack_render_prompt(p, pack_item_at(p, 1), &prompt, &err), 0);
	assert_non_null(strstr(prompt, "Where is the hippocampus?\n\nA. temporal lobe\nB. spleen\nC. liver\nD. kidney"));
	free(prompt);
	pack_close(p);

	/* ARC (AI2's jsonl and the HF layout, numeric labels) and HF MMLU (0-based index). */
	f = put("arc.jsonl",
		"{\"id\": \"Mercury_1\", \"question\": {\"stem\": \"Which is a gas at room temperature?\", \"choices\": "
		"[{\"text\": \"iron\", \"label\": \"A\"}, {\"text\": \"oxygen\", \"label\": \"B\"}, {\"text\": \"salt\", "
		"\"label\": \"C\"}]}, \"answerKey\": \"B\"}\n"
		"{\"id\": \"NYSEDREGENTS_2\", \"question\": \"Plants make food by?\", \"choices\": {\"text\": [\"photosynthesis\", "
		"\"respiration\", \"digestion\", \"osmosis\"], \"label\": [\"1\", \"2\", \"3\", \"4\"]}, \"answerKey\": \"1\"}\n"
		"{\"question\": \"Unit of force?\", \"subject\": \"physics\", \"choices\": [\"joule\", \"newton\", \"watt\", "
		"\"pascal\"], \"answer\": 1}\n");
	assert_int_equal(import1("arc", f, NULL, &p, &err), 0);
	assert_int_equal(pack_count(p), 3);
	assert_string_equal(pack_item_at(p, 0)->answer, "B");
	assert_int_equal(pack_item_at(p, 0)->n_choices, 3);
	assert_string_equal(pack_item_at(p, 1)->answer, "A");
	assert_string_equal(pack_item_at(p, 1)->choices[0], "photosynthesis");
	assert_string_equal(pack_item_at(p, 2)->answer, "B");
	assert_string_equal(pack_item_at(p, 2)->id, "arc-0003");
	pack_close(p);

	expect_error("arc", put("arc_bad.jsonl", "{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": \"C\"}\n"),
		     EVH_EFORMAT, "arc_bad.jsonl:1", "names none");
	expect_error("arc", put("arc_bad2.jsonl", "{\"question\": \"q\", \"choices\": [\"a\"], \"answer\": \"A\"}\n"),
		     EVH_EFORMAT, "arc_bad2.jsonl:1", "at least 2");
	expect_error("mmlu", put("x_test.csv", "q,a,b,c,d,A\nq,a,b,c,d,F\n"), EVH_EFORMAT, "x_test.csv:2", "none");
}

/* ---- HumanEval (.jsonl.gz), MBPP ---- */

static const char *gzip_file(const char *name, const char *text)
{
	const char *p = path_of(name);
	struct archive *a = archive_write_new();
	archive_write_add_filter_gzip(a);
	archive_write_set_format_raw(a);
	assert_int_equal(archive_write_open_filename(a, p), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_write_data(a, text, strlen(text));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	return p;
}

static void test_humaneval(void **state)
{
	(void)state;
	const char *f = gzip_file("HumanEval.jsonl.gz",
				  "{\"task_id\": \"HumanEval/0\", \"prompt\": \"def add(a, b):\\n    \\\"\\\"\\\"Sum ∑.\\\"\\\"\\\"\\n\", "
				  "\"entry_point\": \"add\", \"canonical_solution\": \"    return a + b\\n\", \"test\": "
				  "\"def check(candidate):\\n    assert candidate(1, 2) == 3\\n\"}\n");
	struct pack *p;
	struct evh_err err;
	assert_int_equal(import1("humaneval", f, NULL, &p, &err), 0);
	assert_string_equal(pack_manifest(p)->domain, "code");
	const struct pack_item *it = pack_item_at(p, 0);
	assert_string_equal(it->id, "HumanEval/0");
	assert_string_equal(it->question, "def add(a, b):\n    \"\"\"Sum \xE2\x88\x91.\"\"\"\n");
	assert_null(it->answer);
	cJSON *t = cJSON_Parse(it->tests);
	assert_string_equal(jstr(t, "style"), "humaneval");
	assert_string_equal(jstr(t, "entry_point"), "add");
	assert_string_equal(jstr(t, "prompt"), it->question);
	assert_string_equal(jstr(t, "test"), "def check(candidate):\n    assert candidate(1, 2) == 3\n");
	cJSON_Delete(t);
	cJSON *j = item_json(p, 0);
	assert_string_equal(jstr(j, "canonical_solution"), "    return a + b\n");
	cJSON_Delete(j);
	pack_close(p);
	expect_error("humaneval", put("he_bad.jsonl", "{\"task_id\": \"HumanEval/0\", \"prompt\": \"x\", \"test\": \"y\"}\n"),
		     EVH_EFORMAT, "he_bad.jsonl:1", "entry_point");
}

static void test_mbpp(void **state)
{
	(void)state;
	const char *f = put("mbpp.jsonl",
			    "{\"task_id\": 2, \"text\": \"Write a function to find the shared elements.\", \"code\": "
			    "\"def similar_elements(a, b):\\r\\n  return tuple(set(a) & set(b))\", \"test_list\": "
			    "[\"assert similar_elements((3, 4), (4, 5)) == (4,)\", \"assert similar_elements((1,), (2,)) == ()\"], "
			    "\"test_setup_code\": \"\", \"challenge_test_list\": []}\n"
			    "{\"source_file\": \"x\", \"task_id\": 11, \"prompt\": \"Write a python function.\", \"code\": "
			    "\"import math\\ndef f(x):\\n    return math.floor(x)\", \"test_imports\": [\"import math\"], "
			    "\"test_list\": [\"assert f(1.5) == 1\"]}\n");
	struct pack *p;
	struct evh_err err;
	assert_int_equal(import1("mbpp", f, NULL, &p, &err), 0);
	assert_int_equal(pack_count(p), 2);
	const struct pack_item *it = pack_item_at(p, 0);
	assert_string_equal(it->id, "mbpp-2");
	assert_string_equal(it->question, "Write a function to find the shared elements.\nYour code should pass these "
					  "tests:\n\nassert similar_elements((3, 4), (4, 5)) == (4,)\nassert "
					  "similar_elements((1,), (2,)) == ()");
	cJSON *t = cJSON_Parse(it->tests);
	assert_string_equal(jstr(t, "style"), "assert");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "asserts")), 2);
	assert_null(cJSON_GetObjectItem(t, "setup"));
	cJSON_Delete(t);
	t = cJSON_Parse(pack_item_at(p, 1)->tests);
	assert_string_equal(jstr(t, "setup"), "import math\n");
	cJSON_Delete(t);
	pack_close(p);
	expect_error("mbpp", put("mbpp_bad.jsonl", "{\"task_id\": 1, \"text\": \"t\", \"test_list\": \"assert 1\"}\n"),
		     EVH_EFORMAT, "mbpp_bad.jsonl:1", "test_list");
}

/* ---- LiveCodeBench ---- */

/* base64(zlib(pickle.dumps(json.dumps(cases)))) made by CPython 3.11, as LiveCodeBench packs them:
 * [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"},
 *  {"input": "1\n-5\n", "output": "-5\n", "testtype": "stdin"}] */
#define LCB_PRIV_STDIN "eJxrYJnawAABPTXR1UqZeQWlJUpWCkrGMXmGCkYKQEpJR0Epv7QEKm4GEShJLS4pqSxIBQkVl6Rk5inV6iggaTeMydM1RdcLE8GiOXaKHgCn1CjO"
/* [{"input": "[3, 4]\n2", "output": "14", "testtype": "functional"}] */
#define LCB_PRIV_CALL "eJxrYJnqxgABPU7R1UqZeQWlJUpWCkrRxjoKJrExeUZKOgpK+aUlUGFDExC/JLW4pKSyIBUkklaal1ySmZ+XmKNUGztFDwBZcBdA"

static void test_lcb(void **state)
{
	(void)state;
	const char *f = put("lcb.jsonl",
			    "{\"question_title\": \"Sum\", \"question_content\": \"Read n and n numbers; print their sum.\", "
			    "\"platform\": \"atcoder\", \"question_id\": \"abc001_a\", \"contest_id\": \"abc001\", "
			    "\"contest_date\": \"2024-08-01T00:00:00\", \"starter_code\": \"\", \"difficulty\": \"easy\", "
			    "\"public_test_cases\": \"[{\\\"input\\\": \\\"2\\\\n4 5\\\\n\\\", \\\"output\\\": \\\"9\\\\n\\\", "
			    "\\\"testtype\\\": \\\"stdin\\\"}]\", \"private_test_cases\": \"" LCB_PRIV_STDIN "\", "
			    "\"metadata\": \"{}\"}\n"
			    "{\"question_title\": \"Mul\", \"question_content\": \"Return sum(nums) * k.\", \"platform\": "
			    "\"leetcode\", \"question_id\": \"3001\", \"starter_code\": \"class Solution:\\n    def f(self, "
			    "nums: List[int], k: int) -> int:\\n        \", \"difficulty\": \"medium\", \"public_test_cases\": "
			    "\"[{\\\"input\\\": \\\"[1, 2]\\\\n3\\\", \\\"output\\\": \\\"9\\\", \\\"testtype\\\": "
			    "\\\"functional\\\"}]\", \"private_test_cases\": \"" LCB_PRIV_CALL "\", \"metadata\": "
			    "\"{\\\"func_name\\\": \\\"f\\\"}\"}\n");
	struct pack *p;
	struct evh_err err;
	int rc = import1("livecodebench", f, NULL, &p, &err);
	if (rc)
		fail_msg("%s: %s", err.where, err.msg);
	assert_int_equal(pack_count(p), 2);
	const struct pack_item *it = pack_item_at(p, 0);
	assert_string_equal(it->id, "abc001_a");
	assert_non_null(strstr(it->question, "Question: Read n and n numbers; print their sum."));
	assert_non_null(strstr(it->question, "Read the inputs from stdin"));
	cJSON *t = cJSON_Parse(it->tests);
	assert_string_equal(jstr(t, "style"), "stdio");
	cJSON *cases = cJSON_GetObjectItem(t, "cases");
	assert_int_equal(cJSON_GetArraySize(cases), 3);
	assert_string_equal(jstr(cJSON_GetArrayItem(cases, 0), "input"), "2\n4 5\n");
	assert_string_equal(jstr(cJSON_GetArrayItem(cases, 1), "input"), "3\n1 2 3\n");
	assert_string_equal(jstr(cJSON_GetArrayItem(cases, 2), "output"), "-5\n");
	cJSON_Delete(t);
	it = pack_item_at(p, 1);
	assert_non_null(strstr(it->question, "```python\nclass Solution:\n    def f(self, nums: List[int], k: int)"));
	t = cJSON_Parse(it->tests);
	assert_string_equal(jstr(t, "style"), "call");
	assert_string_equal(jstr(t, "fn_name"), "f");
	cases = cJSON_GetObjectItem(t, "cases");
	assert_int_equal(cJSON_GetArraySize(cases), 2);
	char *c1 = cJSON_PrintUnformatted(cJSON_GetArrayItem(cases, 1));
	assert_string_equal(c1, "{\"input\":[[3,4],2],\"output\":14}");
	free(c1);
	cJSON_Delete(t);
	pack_close(p);

	expect_error("livecodebench",
		     put("lcb_bad.jsonl", "{\"question_id\": \"a\", \"question_content\": \"q\", \"public_test_cases\": "
					  "\"[]\", \"private_test_cases\": \"eJzLSM3JyQcABiwCFQ==\"}\n"),
		     EVH_EFORMAT, "private_test_cases (unpacked)", NULL);
	expect_error("livecodebench",
		     put("lcb_bad2.jsonl", "{\"question_id\": \"a\", \"question_content\": \"q\", \"public_test_cases\": "
					   "\"[]\", \"private_test_cases\": \"!!!\"}\n"),
		     EVH_EFORMAT, "lcb_bad2.jsonl:1", "base64");
	expect_error("livecodebench",
		     put("lcb_bad3.jsonl", "{\"question_id\": \"a\", \"question_content\": \"q\", \"public_test_cases\": "
					   "\"[{\\\"input\\\": \\\"1\\\", \\\"output\\\": \\\"1\\\", \\\"testtype\\\": "
					   "\\\"functional\\\"}]\"}\n"),
		     EVH_EFORMAT, "lcb_bad3.jsonl:1", "func_name");
}

/* Few-shot examples from another file of the same format, and several inputs into one pack. */
static void test_fewshot_and_files(void **state)
{
	(void)state;
	const char *a = put("a.jsonl", "{\"question\": \"A?\", \"answer\": \"#### 1\"}\n");
	const char *b = put("b.jsonl", "{\"question\": \"B?\", \"answer\": \"#### 2\"}\n");
	const char *tr = put("train.jsonl", "{\"question\": \"T1?\", \"answer\": \"1+1=2\\n#### 2\"}\n"
					    "{\"question\": \"T2?\", \"answer\": \"#### 3\"}\n"
					    "{\"question\": \"T3?\", \"answer\": \"#### 4\"}\n");
	const char *files[2] = {a, b};
	struct pack_import_opts o = {.name = "gsm-2", .version = "7", .fewshot_file = tr, .n_fewshot = 2};
	struct evh_err err = {0};
	snprintf(out, sizeof out, "%s/two.zip", dir);
	if (pack_import("gsm8k", files, 2, &o, out, &err))
		fail_msg("%s: %s", err.where, err.msg);
	struct pack *p = NULL;
	assert_int_equal(pack_open(out, &p, &err), 0);
	const struct pack_manifest *m = pack_manifest(p);
	assert_string_equal(m->name, "gsm-2");
	assert_string_equal(m->version, "7");
	assert_int_equal(m->n_fewshot, 2);
	assert_string_equal(m->fewshot[0].question, "T1?");
	assert_string_equal(m->fewshot[0].answer, "1+1=2\nThe answer is \\boxed{2}.");
	assert_string_equal(m->fewshot[1].answer, "The answer is \\boxed{3}.");
	assert_int_equal(pack_count(p), 2);
	assert_string_equal(pack_item_at(p, 1)->id, "gsm-2-0002");
	assert_string_equal(pack_item_at(p, 1)->answer, "2");
	pack_close(p);
	/* The second file's error names it. */
	const char *bad = put("c.jsonl", "{\"question\": \"C?\"}\n");
	files[1] = bad;
	assert_int_equal(pack_import("gsm8k", files, 2, NULL, out, &err), EVH_EFORMAT);
	assert_non_null(strstr(err.where, "c.jsonl:1"));
}

static int setup(void **state)
{
	(void)state;
	return tu_tmpdir(dir, sizeof dir, "import");
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gsm8k),      cmocka_unit_test(test_gsm8k_errors), cmocka_unit_test(test_math),
		cmocka_unit_test(test_aime),       cmocka_unit_test(test_gpqa),         cmocka_unit_test(test_mcq),
		cmocka_unit_test(test_humaneval),  cmocka_unit_test(test_mbpp),         cmocka_unit_test(test_lcb),
		cmocka_unit_test(test_fewshot_and_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
