/* test_safetensors.c — the loader on bad and unusual input: truncated files, hostile headers,
 * missing tensors, wrong shapes, unknown architectures (each a clear error naming the file and the
 * tensor or field), sharded checkpoints (same logits as the single file), both config spellings,
 * and the F16 / F8_E4M3 conversions against values from the IEEE / OCP FP8 definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/model.h"
#include "engine/safetensors.h"
#include "tests/unit/engine/engine_testutil.h"

#define SRC "tests/fixtures/random/tiny-random-qwen3-moe-bf16"

static void copy_file(const char *from, const char *to, long limit)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	assert_non_null(a);
	assert_non_null(b);
	char buf[65536];
	long done = 0;
	size_t n;
	while ((limit < 0 || done < limit) && (n = fread(buf, 1, sizeof buf, a)) > 0) {
		if (limit >= 0 && done + (long)n > limit)
			n = (size_t)(limit - done);
		fwrite(buf, 1, n, b);
		done += (long)n;
	}
	fclose(a);
	fclose(b);
}

/* Writes the tensors of src whose index i satisfies keep(i) into a new safetensors file. */
static void write_st(const char *path, const struct eng_st *src, int (*keep)(size_t i, const char *name))
{
	cJSON *h = cJSON_CreateObject();
	size_t off = 0;
	for (size_t i = 0; i < eng_st_count(src); i++) {
		const struct eng_st_tensor *t = eng_st_at(src, i);
		if (!keep(i, t->name))
			continue;
		tu_st_entry(h, t->name, eng_dtype_name(t->dtype), t->shape, t->ndim, off, t->nbytes);
		off += t->nbytes;
	}
	char *js = cJSON_PrintUnformatted(h);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	tu_st_put_header(f, js);
	for (size_t i = 0; i < eng_st_count(src); i++) {
		const struct eng_st_tensor *t = eng_st_at(src, i);
		if (keep(i, t->name))
			fwrite(t->data, 1, t->nbytes, f);
	}
	fclose(f);
	free(js);
	cJSON_Delete(h);
}

static int load_err(struct eng_err *err)
{
	struct eng_transformer *t = (struct eng_transformer *)0x1;
	memset(err, 0, sizeof *err);
	int rc = eng_transformer_load(tu_scratch(), &t, err);
	assert_null(t);
	printf("  -> %s\n", err->msg);
	return rc;
}

static void test_truncated(void **st)
{
	(void)st;
	struct eng_err err;
	copy_file(SRC "/config.json", tu_path("config.json"), -1);
	/* the data section cut short: the header is intact, the last tensors point past the end */
	copy_file(SRC "/model.safetensors", tu_path("model.safetensors"), 3000000);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "model.safetensors"));
	assert_non_null(strstr(err.msg, "tensor '"));
	assert_non_null(strstr(err.msg, "truncated"));
	/* cut inside the header */
	copy_file(SRC "/model.safetensors", tu_path("model.safetensors"), 100);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "header length"));
	/* shorter than the length field */
	copy_file(SRC "/model.safetensors", tu_path("model.safetensors"), 5);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	/* missing file */
	unlink(tu_path("model.safetensors"));
	assert_int_equal(load_err(&err), ENG_EIO);
	assert_non_null(strstr(err.msg, "model.safetensors"));
}

static void write_header(const char *json, size_t data_len)
{
	FILE *f = fopen(tu_path("model.safetensors"), "wb");
	tu_st_put_header(f, json);
	for (size_t i = 0; i < data_len; i++)
		fputc(0, f);
	fclose(f);
}

static void test_hostile_headers(void **st)
{
	(void)st;
	struct eng_err err = {0};
	struct eng_st *s = NULL;
	const struct {
		const char *json;
		const char *expect;
	} cases[] = {
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", NULL},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,64]}}", "past the end"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", "need 20"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", "begin <= end"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", "shape[0]"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,16]}}",
		 "overflows"},
		{"{\"a\":{\"dtype\":\"Q4_K\",\"shape\":[4],\"data_offsets\":[0,16]}}", "Q4_K"},
		{"{\"a\":{\"dtype\":\"F32\"}}", "data_offsets"},
		{"[1,2]", "not a JSON object"},
		{"{\"a\":", "not a JSON object"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_header(cases[i].json, 16);
		memset(&err, 0, sizeof err);
		int rc = eng_st_open(tu_path("model.safetensors"), &s, &err);
		if (!cases[i].expect) {
			assert_int_equal(rc, ENG_OK);
			assert_non_null(eng_st_find(s, "a"));
			eng_st_close(s);
			continue;
		}
		printf("  -> %s\n", err.msg);
		assert_int_not_equal(rc, ENG_OK);
		assert_null(s);
		assert_non_null(strstr(err.msg, "model.safetensors"));
		assert_non_null(strstr(err.msg, cases[i].expect));
	}
	/* a header length larger than the file */
	FILE *f = fopen(tu_path("model.safetensors"), "wb");
	fwrite("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 1, 10, f);
	fclose(f);
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_st_open(tu_path("model.safetensors"), &s, &err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "header length"));
}

static int drop_one(size_t i, const char *name)
{
	(void)i;
	return strcmp(name, "model.layers.1.mlp.experts.3.up_proj.weight") != 0;
}

static void test_missing_tensor_and_shape(void **st)
{
	(void)st;
	struct eng_err err;
	struct eng_st *src = NULL;
	assert_int_equal(eng_st_open(SRC "/model.safetensors", &src, NULL), ENG_OK);
	copy_file(SRC "/config.json", tu_path("config.json"), -1);
	write_st(tu_path("model.safetensors"), src, drop_one);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "model.layers.1.mlp.experts.3.up_proj.weight"));
	assert_non_null(strstr(err.msg, "missing"));
	/* a config that disagrees with the checkpoint's shapes */
	copy_file(SRC "/model.safetensors", tu_path("model.safetensors"), -1);
	char cfg[8192];
	FILE *f = fopen(SRC "/config.json", "rb");
	size_t n = fread(cfg, 1, sizeof cfg - 1, f);
	fclose(f);
	cfg[n] = 0;
	char *p = strstr(cfg, "\"moe_intermediate_size\": 128");
	assert_non_null(p);
	memcpy(p, "\"moe_intermediate_size\": 256", 28);
	tu_write_text("config.json", cfg);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "model.layers.0.mlp.experts.0"));
	assert_non_null(strstr(err.msg, "shape [128, 256]"));
	eng_st_close(src);
}

static void test_unknown_architecture(void **st)
{
	(void)st;
	struct eng_err err;
	tu_write_text("config.json",
		   "{\"model_type\": \"mamba\", \"architectures\": [\"MambaForCausalLM\"], \"hidden_size\": 8}");
	assert_int_equal(load_err(&err), ENG_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "mamba"));
	assert_non_null(strstr(err.msg, "config.json"));
	tu_write_text("config.json", "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 8}");
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "vocab_size"));
	tu_write_text("config.json", "not json");
	assert_int_equal(load_err(&err), ENG_EFORMAT);
}

static int first_half(size_t i, const char *name)
{
	(void)name;
	return i < 60;
}
static int second_half(size_t i, const char *name)
{
	(void)name;
	return i >= 60;
}

static void test_sharded(void **st)
{
	(void)st;
	struct eng_st *src = NULL;
	assert_int_equal(eng_st_open(SRC "/model.safetensors", &src, NULL), ENG_OK);
	copy_file(SRC "/config.json", tu_path("config.json"), -1);
	unlink(tu_path("model.safetensors"));
	write_st(tu_path("model-00001-of-00002.safetensors"), src, first_half);
	write_st(tu_path("model-00002-of-00002.safetensors"), src, second_half);
	cJSON *idx = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(idx, "weight_map");
	for (size_t i = 0; i < eng_st_count(src); i++)
		cJSON_AddStringToObject(map, eng_st_at(src, i)->name,
					i < 60 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
	tu_write_json("model.safetensors.index.json", idx);

	struct eng_transformer *a = NULL, *b = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_transformer_load(tu_scratch(), &a, &err), ENG_OK);
	assert_int_equal(eng_transformer_load(SRC, &b, &err), ENG_OK);
	assert_int_equal(a->n_params, b->n_params);
	assert_memory_equal(a->arena, b->arena, a->n_params * sizeof(float));
	struct eng_state *s = NULL;
	assert_int_equal(eng_state_create(a, 8, &s, &err), ENG_OK);
	const float *l = eng_forward(a, s, 5, 0, 0);
	assert_non_null(l);
	assert_null(eng_forward(a, s, 5, 8, 0));    /* past max_seq */
	assert_null(eng_forward(a, s, 1024, 1, 0)); /* past vocab */
	eng_state_free(s);

	/* the index names a shard that lacks the tensor */
	cJSON_ReplaceItemInObject(map, "model.norm.weight", cJSON_CreateString("model-00001-of-00002.safetensors"));
	tu_write_json("model.safetensors.index.json", idx);
	memset(&err, 0, sizeof err);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "model.norm.weight"));
	/* a shard path leaving the folder is refused */
	cJSON_ReplaceItemInObject(map, "model.norm.weight", cJSON_CreateString("../model.safetensors"));
	tu_write_json("model.safetensors.index.json", idx);
	assert_int_equal(load_err(&err), ENG_EFORMAT);
	assert_non_null(strstr(err.msg, "same folder"));
	unlink(tu_path("model.safetensors.index.json"));
	cJSON_Delete(idx);
	eng_transformer_free(a);
	eng_transformer_free(b);
	eng_st_close(src);
}

static void test_config_spellings(void **st)
{
	(void)st;
	struct eng_config c;
	struct eng_err err = {0};
	tu_write_text("config.json",
		   "{\"model_type\": \"qwen3_moe\", \"vocab_size\": 16, \"hidden_size\": 8, \"intermediate_size\": 8,"
		   " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
		   " \"num_local_experts\": 4, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 4,"
		   " \"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"},"
		   " \"mlp_only_layers\": [1], \"eos_token_id\": [7, 9]}");
	assert_int_equal(eng_config_load(tu_path("config.json"), &c, &err), ENG_OK);
	assert_int_equal(c.n_routed_experts, 4);
	assert_true(c.rope_theta == 1e6);
	assert_int_equal(c.head_dim, 4);
	assert_int_equal(eng_config_layer_moe(&c, 0), 1);
	assert_int_equal(eng_config_layer_moe(&c, 1), 0);
	assert_int_equal(c.n_eos, 2);
	tu_write_text("config.json",
		   "{\"model_type\": \"deepseek_v3\", \"vocab_size\": 16, \"hidden_size\": 8, \"intermediate_size\": 8,"
		   " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_experts\": 8,"
		   " \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 4, \"kv_lora_rank\": 4,"
		   " \"qk_nope_head_dim\": 4, \"qk_rope_head_dim\": 4, \"v_head_dim\": 4, \"n_group\": 4,"
		   " \"topk_group\": 2, \"first_k_dense_replace\": 1, \"rope_theta\": 500.0,"
		   " \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 40, \"mscale\": 1.0, \"mscale_all_dim\": 1.0,"
		   " \"original_max_position_embeddings\": 4096, \"beta_fast\": 32, \"beta_slow\": 1}}");
	assert_int_equal(eng_config_load(tu_path("config.json"), &c, &err), ENG_OK);
	assert_int_equal(c.n_routed_experts, 8);
	assert_true(c.rope_theta == 500.0);
	assert_int_equal(c.rope_yarn, 1);
	/* DeepSeek-V3's softmax scale: qk_head_dim^-0.5 * (0.1 ln 40 + 1)^2 */
	double m = 0.1 * log(40.0) + 1.0;
	assert_true(fabs(c.softmax_scale - pow(8.0, -0.5) * m * m) < 1e-6);
	assert_int_equal(eng_config_layer_moe(&c, 0), 0);
	assert_int_equal(eng_config_layer_moe(&c, 1), 1);
}

static void test_dtype_conversion(void **st)
{
	(void)st;
	/* F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), -0 */
	const uint8_t f16[] = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80};
	float out[5];
	eng_st_to_f32(ENG_DT_F16, f16, 5, out);
	assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == 65504.0f && out[3] == ldexpf(1, -24));
	assert_true(out[4] == 0.0f && signbit(out[4]));
	/* F8_E4M3 (OCP): 0x38 = 1.0, 0x7e = 448 (max), 0x01 = 2^-9, 0xb8 = -1.0, 0x7f = NaN */
	const uint8_t f8[] = {0x38, 0x7e, 0x01, 0xb8, 0x7f};
	eng_st_to_f32(ENG_DT_F8_E4M3, f8, 5, out);
	assert_true(out[0] == 1.0f && out[1] == 448.0f && out[2] == ldexpf(1, -9) && out[3] == -1.0f);
	assert_true(isnan(out[4]));
	/* BF16: 0x3f80 = 1.0, 0xc040 = -3.0 */
	const uint8_t bf[] = {0x80, 0x3f, 0x40, 0xc0};
	eng_st_to_f32(ENG_DT_BF16, bf, 2, out);
	assert_true(out[0] == 1.0f && out[1] == -3.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated),          cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_missing_tensor_and_shape), cmocka_unit_test(test_unknown_architecture),
		cmocka_unit_test(test_sharded),            cmocka_unit_test(test_config_spellings),
		cmocka_unit_test(test_dtype_conversion),
	};
	return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
