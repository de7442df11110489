/* import_code.c — HumanEval, MBPP and LiveCodeBench records to code items whose `tests` are in the
 * code scorer's format (scorers/code.c: styles "humaneval", "assert", "stdio", "call"). Reference
 * solutions, where the dataset has one, are kept as `canonical_solution` for `evalh pack validate`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>
#include <zlib.h>

#include "harness/util/buf.h"
#include "harness/util/json.h"
#include "tasks/import_int.h"

static void drop(cJSON **item)
{
	cJSON_Delete(*item);
	*item = NULL;
}

/* HumanEval (Chen et al. 2021): task_id, prompt, canonical_solution, test, entry_point. */
int imp_humaneval(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	char *id = NULL, *prompt = NULL, *sol = NULL, *test = NULL, *entry = NULL;
	*item = NULL;
	int rc = imp_text(c, rec, line, "task_id", 1, &id, err);
	if (!rc)
		rc = imp_text(c, rec, line, "prompt", 1, &prompt, err);
	if (!rc)
		rc = imp_text(c, rec, line, "test", 1, &test, err);
	if (!rc)
		rc = imp_text(c, rec, line, "entry_point", 1, &entry, err);
	if (!rc)
		rc = imp_text(c, rec, line, "canonical_solution", 0, &sol, err);
	if (rc)
		goto out;
	imp_trim(entry);
	/* The scorer gets the prompt too: a model may answer with the body only (HumanEval's own rule). */
	cJSON *t = cJSON_CreateObject();
	if (!t || !cJSON_AddStringToObject(t, "style", "humaneval") || !cJSON_AddStringToObject(t, "prompt", prompt) ||
	    !cJSON_AddStringToObject(t, "test", test) || !cJSON_AddStringToObject(t, "entry_point", entry)) {
		cJSON_Delete(t);
		rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
		goto out;
	}
	rc = imp_item_new(c, line, id, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "prompt", prompt, err);
	if (!rc)
		rc = imp_add(c, line, *item, "tests", t, err);
	else
		cJSON_Delete(t);
	if (!rc && sol)
		rc = imp_add_str(c, line, *item, "canonical_solution", sol, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "entry_point", entry, err);
	if (rc)
		drop(item);
out:
	free(id);
	free(prompt);
	free(sol);
	free(test);
	free(entry);
	return rc;
}

/* A JSON array of strings from `key`, or NULL when absent; anything else is an error. */
static int str_list(struct imp_ctx *c, const cJSON *rec, size_t line, const char *key, const cJSON **out,
		    struct evh_err *err)
{
	const cJSON *v = imp_get(rec, key), *e;
	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsArray(v))
		return imp_fail(c, err, line, key, EVH_EFORMAT, "an array of strings is expected");
	cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return imp_fail(c, err, line, key, EVH_EFORMAT,
									 "an array of strings is expected");
	*out = v;
	return 0;
}

/* MBPP (Austin et al. 2021): task_id, text, code, test_list, test_setup_code; the sanitized split
 * names them prompt and test_imports. The tests are shown in the question, as the paper's prompt
 * does, since they fix the function's name and signature. */
int imp_mbpp(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	char *tid = NULL, *text = NULL, *code = NULL, *setup = NULL;
	const cJSON *tests = NULL, *imports = NULL, *e;
	struct evh_buf q, s;
	evh_buf_init(&q, EVH_LIMIT_LINE);
	evh_buf_init(&s, EVH_LIMIT_LINE);
	*item = NULL;
	int rc = imp_text(c, rec, line, "task_id", 1, &tid, err);
	if (!rc)
		rc = imp_text(c, rec, line, "text|prompt", 1, &text, err);
	if (!rc)
		rc = imp_text(c, rec, line, "code", 0, &code, err);
	if (!rc)
		rc = imp_text(c, rec, line, "test_setup_code", 0, &setup, err);
	if (!rc)
		rc = str_list(c, rec, line, "test_list", &tests, err);
	if (!rc)
		rc = str_list(c, rec, line, "test_imports", &imports, err);
	if (!rc && cJSON_GetArraySize(tests) == 0)
		rc = imp_fail(c, err, line, "test_list", EVH_EFORMAT, "a non-empty array of assert statements is expected");
	if (rc)
		goto out;
	evh_buf_printf(&q, "%s\nYour code should pass these tests:\n", imp_trim(text));
	cJSON_ArrayForEach(e, tests) evh_buf_printf(&q, "\n%s", e->valuestring);
	if (setup && setup[strspn(setup, " \t\r\n")])
		evh_buf_printf(&s, "%s\n", setup);
	cJSON_ArrayForEach(e, imports) evh_buf_printf(&s, "%s\n", e->valuestring);
	char id[160];
	snprintf(id, sizeof id, "%s-%s", c->pack_name, tid);
	rc = imp_item_new(c, line, id, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "question", evh_buf_str(&q), err);
	cJSON *t = cJSON_CreateObject();
	if (!t || !cJSON_AddStringToObject(t, "style", "assert") ||
	    !cJSON_AddItemToObject(t, "asserts", cJSON_Duplicate(tests, 1)) ||
	    (s.len && !cJSON_AddStringToObject(t, "setup", evh_buf_str(&s)))) {
		cJSON_Delete(t);
		t = NULL;
		if (!rc)
			rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = imp_add(c, line, *item, "tests", t, err);
	else
		cJSON_Delete(t);
	if (!rc && code)
		rc = imp_add_str(c, line, *item, "canonical_solution", code, err);
	if (rc)
		drop(item);
out:
	evh_buf_free(&q);
	evh_buf_free(&s);
	free(tid);
	free(text);
	free(code);
	free(setup);
	return rc;
}

/* ---- LiveCodeBench ---------------------------------------------------------------------------- */

/* The str inside a pickle of one Python str, as pickle.dumps writes it (protocols 2-5): PROTO,
 * optional FRAME, SHORT_BINUNICODE / BINUNICODE / BINUNICODE8, optional memo opcode, STOP. Anything
 * else is refused rather than interpreted: this is data from the network, never code to run. */
static int pickle_str(const unsigned char *p, size_t n, const char **s, size_t *len)
{
	size_t i = 0;
	uint64_t l = 0;
	if (i + 2 <= n && p[i] == 0x80)
		i += 2;
	if (i < n && p[i] == 0x95)
		i += 9;
	if (i >= n)
		return -1;
	int op = p[i++];
	int w = op == 0x8c ? 1 : op == 'X' ? 4 : op == 0x8d ? 8 : 0;
	if (!w || i + (size_t)w > n)
		return -1;
	for (int k = w - 1; k >= 0; k--)
		l = l << 8 | p[i + (size_t)k];
	i += (size_t)w;
	if (l > n - i)
		return -1;
	*s = (const char *)p + i;
	*len = (size_t)l;
	i += (size_t)l;
	if (i < n && p[i] == 0x94)
		i++;
	else if (i + 2 <= n && p[i] == 'q')
		i += 2;
	else if (i + 5 <= n && p[i] == 'r')
		i += 5;
	return i + 1 == n && p[i] == '.' ? 0 : -1;
}

static int inflate_all(const unsigned char *in, size_t n, struct evh_buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return EVH_ENOMEM;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	unsigned char block[65536];
	int zr, rc = 0;
	do {
		z.next_out = block;
		z.avail_out = sizeof block;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = EVH_EFORMAT;
			break;
		}
		if ((rc = evh_buf_add(out, block, sizeof block - z.avail_out)))
			break;
		if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
			rc = EVH_EFORMAT; /* truncated */
			break;
		}
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	return rc;
}

int imp_lcb_private(struct imp_ctx *c, size_t line, const char *s, cJSON **out, struct evh_err *err)
{
	*out = NULL;
	const char *f = "private_test_cases";
	size_t sl = strlen(s), skip = strspn(s, " \t\r\n");
	if (s[skip] == '[') {
		char where[EVH_ERR_WHERE];
		snprintf(where, sizeof where, "%s:%zu: %s", c->file, line, f);
		return evh_json_parse(s, sl, where, out, err);
	}
	struct base64_decode_ctx b;
	base64_decode_init(&b);
	size_t n = BASE64_DECODE_LENGTH(sl);
	unsigned char *raw = malloc(n ? n : 1);
	struct evh_buf z;
	evh_buf_init(&z, IMP_LIMIT_INPUT);
	int rc = 0;
	if (!raw) {
		rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
		goto out;
	}
	if (!base64_decode_update(&b, &n, raw, sl, s) || !base64_decode_final(&b)) {
		rc = imp_fail(c, err, line, f, EVH_EFORMAT, "neither a JSON list nor base64");
		goto out;
	}
	rc = inflate_all(raw, n, &z);
	if (rc) {
		rc = imp_fail(c, err, line, f, rc, rc == EVH_ELIMIT ? "unpacks to more than %u MiB"
			      : rc == EVH_ENOMEM ? "out of memory" : "base64 but not a zlib stream (%u)", IMP_LIMIT_INPUT >> 20);
		goto out;
	}
	const char *js = evh_buf_str(&z);
	size_t jl = z.len;
	if (jl && (unsigned char)js[0] == 0x80 && pickle_str((const unsigned char *)js, jl, &js, &jl) != 0) {
		rc = imp_fail(c, err, line, f, EVH_EFORMAT, "the unpacked pickle is not one str");
		goto out;
	}
	char where[EVH_ERR_WHERE];
	snprintf(where, sizeof where, "%s:%zu: %s (unpacked)", c->file, line, f);
	rc = evh_json_parse(js, jl, where, out, err);
out:
	free(raw);
	evh_buf_free(&z);
	return rc;
}

/* A field that LiveCodeBench stores as JSON text (public_test_cases, metadata) or already parsed. */
static int json_field(struct imp_ctx *c, const cJSON *rec, size_t line, const char *key, cJSON **out,
		      struct evh_err *err)
{
	const cJSON *v = imp_get(rec, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsString(v)) {
		*out = cJSON_Duplicate(v, 1);
		return *out ? 0 : imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	if (!v->valuestring[strspn(v->valuestring, " \t\r\n")])
		return 0;
	char where[EVH_ERR_WHERE];
	snprintf(where, sizeof where, "%s:%zu: %s", c->file, line, key);
	return evh_json_parse(v->valuestring, strlen(v->valuestring), where, out, err);
}

/* One functional case: the input is one JSON value per line (the arguments), the output one value. */
static int call_case(struct imp_ctx *c, size_t line, int k, const char *in, const char *want, cJSON *cases,
		     struct evh_err *err)
{
	cJSON *o = cJSON_CreateObject(), *args = o ? cJSON_AddArrayToObject(o, "input") : NULL, *out = NULL;
	if (!args || !cJSON_AddItemToArray(cases, o)) {
		cJSON_Delete(o);
		return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	char where[EVH_ERR_WHERE];
	for (const char *p = in; *p;) {
		size_t n = strcspn(p, "\n");
		if (n > strspn(p, " \t\r")) {
			cJSON *a = NULL;
			snprintf(where, sizeof where, "%s:%zu: test %d input", c->file, line, k);
			int rc = evh_json_parse(p, n, where, &a, err);
			if (rc)
				return rc;
			if (!cJSON_AddItemToArray(args, a)) {
				cJSON_Delete(a);
				return imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
			}
		}
		p += n;
		if (*p)
			p++;
	}
	snprintf(where, sizeof where, "%s:%zu: test %d output", c->file, line, k);
	int rc = evh_json_parse(want, strlen(want), where, &out, err);
	if (!rc && !cJSON_AddItemToObject(o, "output", out)) {
		cJSON_Delete(out);
		rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	return rc;
}

/* Public then private cases into the scorer's "stdio" or "call" tests. */
static int lcb_tests(struct imp_ctx *c, size_t line, const cJSON *pub, const cJSON *priv, const char *fn,
		     cJSON **out, struct evh_err *err)
{
	const char *style = NULL;
	cJSON *t = cJSON_CreateObject(), *cases = t ? cJSON_AddArrayToObject(t, "cases") : NULL;
	int rc = cases ? 0 : imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	const cJSON *lists[2] = {pub, priv}, *e;
	int k = 0;
	for (int l = 0; l < 2 && !rc; l++) {
		if (lists[l] && !cJSON_IsArray(lists[l])) {
			rc = imp_fail(c, err, line, l ? "private_test_cases" : "public_test_cases", EVH_EFORMAT,
				      "a list of tests is expected");
			break;
		}
		cJSON_ArrayForEach(e, lists[l]) {
			const char *in = cJSON_GetStringValue(cJSON_GetObjectItem(e, "input"));
			const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(e, "output"));
			const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "testtype"));
			const char *field = l ? "private_test_cases" : "public_test_cases";
			if (!in || !want || !type || (strcmp(type, "stdin") && strcmp(type, "functional"))) {
				rc = imp_fail(c, err, line, field, EVH_EFORMAT, "test %d: string fields input, output "
					      "and testtype (stdin or functional) are expected", k);
				break;
			}
			if (style && strcmp(style, type)) {
				rc = imp_fail(c, err, line, field, EVH_EFORMAT, "test %d: %s among %s tests", k, type,
					      style);
				break;
			}
			style = type;
			if (strcmp(type, "stdin") == 0) {
				cJSON *o = cJSON_CreateObject();
				if (!o || !cJSON_AddStringToObject(o, "input", in) ||
				    !cJSON_AddStringToObject(o, "output", want) || !cJSON_AddItemToArray(cases, o)) {
					cJSON_Delete(o);
					rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
				}
			} else if (!fn) {
				rc = imp_fail(c, err, line, "metadata", EVH_EFORMAT, "functional tests need "
					      "metadata.func_name");
			} else {
				rc = call_case(c, line, k, in, want, cases, err);
			}
			if (rc)
				break;
			k++;
		}
	}
	if (!rc && !k)
		rc = imp_fail(c, err, line, "public_test_cases", EVH_EFORMAT, "no tests at all");
	if (!rc && strcmp(style, "stdin") == 0 && !cJSON_AddStringToObject(t, "style", "stdio"))
		rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	if (!rc && strcmp(style, "functional") == 0 &&
	    (!cJSON_AddStringToObject(t, "style", "call") || !cJSON_AddStringToObject(t, "fn_name", fn)))
		rc = imp_fail(c, err, line, NULL, EVH_ENOMEM, "out of memory");
	if (rc) {
		cJSON_Delete(t);
		t = NULL;
	}
	*out = t;
	return rc;
}

/* LiveCodeBench code_generation_lite: question_content, starter_code, public_test_cases (JSON),
 * private_test_cases (JSON or packed), metadata (JSON with func_name for functional problems). The
 * question is worded as LiveCodeBench's own prompt (lcb_runner/prompts/code_generation.py). */
int imp_lcb(struct imp_ctx *c, const cJSON *rec, size_t line, cJSON **item, struct evh_err *err)
{
	char *id = NULL, *content = NULL, *starter = NULL, *title = NULL, *platform = NULL, *diff = NULL,
	     *date = NULL, *priv_s = NULL;
	cJSON *pub = NULL, *priv = NULL, *meta = NULL, *tests = NULL;
	struct evh_buf q;
	evh_buf_init(&q, EVH_LIMIT_LINE);
	*item = NULL;
	int rc = imp_text(c, rec, line, "question_id", 1, &id, err);
	if (!rc)
		rc = imp_text(c, rec, line, "question_content", 1, &content, err);
	if (!rc)
		rc = imp_text(c, rec, line, "starter_code", 0, &starter, err);
	if (!rc)
		rc = imp_text(c, rec, line, "question_title", 0, &title, err);
	if (!rc)
		rc = imp_text(c, rec, line, "platform", 0, &platform, err);
	if (!rc)
		rc = imp_text(c, rec, line, "difficulty", 0, &diff, err);
	if (!rc)
		rc = imp_text(c, rec, line, "contest_date", 0, &date, err);
	if (!rc)
		rc = json_field(c, rec, line, "public_test_cases", &pub, err);
	if (!rc)
		rc = imp_text(c, rec, line, "private_test_cases", 0, &priv_s, err);
	if (!rc && priv_s)
		rc = imp_lcb_private(c, line, priv_s, &priv, err);
	if (!rc)
		rc = json_field(c, rec, line, "metadata", &meta, err);
	if (rc)
		goto out;
	const char *fn = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "func_name"));
	rc = lcb_tests(c, line, pub, priv, fn, &tests, err);
	if (rc)
		goto out;
	evh_buf_printf(&q, "You will be given a question (problem specification) and will generate a correct "
		       "Python program that matches the specification and passes all tests.\n\nQuestion: %s\n\n",
		       content);
	if (starter && starter[strspn(starter, " \t\r\n")])
		evh_buf_printf(&q, "You will use the following starter code to write the solution to the problem "
			       "and enclose your code within delimiters.\n```python\n%s\n```\n", starter);
	else
		evh_buf_adds(&q, "Read the inputs from stdin solve the problem and write the answer to stdout (do "
			     "not directly test on the sample inputs). Enclose your code within delimiters as "
			     "follows. Ensure that when the python program runs, it reads the inputs, runs the "
			     "algorithm and writes output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n");
	rc = imp_item_new(c, line, id, item, err);
	if (!rc)
		rc = imp_add_str(c, line, *item, "question", evh_buf_str(&q), err);
	if (!rc)
		rc = imp_add(c, line, *item, "tests", tests, err);
	tests = NULL;
	if (!rc)
		rc = imp_add(c, line, *item, "n_public_tests", cJSON_CreateNumber(cJSON_GetArraySize(pub)), err);
	const char *keep[][2] = {{"title", title}, {"platform", platform}, {"difficulty", diff}, {"contest_date", date}};
	for (size_t i = 0; !rc && i < sizeof keep / sizeof keep[0]; i++)
		if (keep[i][1])
			rc = imp_add_str(c, line, *item, keep[i][0], keep[i][1], err);
	if (rc)
		drop(item);
out:
	evh_buf_free(&q);
	cJSON_Delete(pub);
	cJSON_Delete(priv);
	cJSON_Delete(meta);
	cJSON_Delete(tests);
	free(id);
	free(content);
	free(starter);
	free(title);
	free(platform);
	free(diff);
	free(date);
	free(priv_s);
	return rc;
}
