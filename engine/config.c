/* config.c — config.json into struct eng_config, accepting the spellings the hub uses
 * (num_experts / n_routed_experts / num_local_experts; rope_theta / rope_scaling at top level or
 * inside rope_parameters). Defaults are those of the transformers config classes. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/err.h"
#include "engine/model.h"

static const struct {
	const char *model_type;
	int arch;
} archs[] = {
	{"deepseek_v3", ENG_ARCH_DEEPSEEK_V3}, {"qwen3_moe", ENG_ARCH_QWEN3_MOE}, {"qwen3", ENG_ARCH_QWEN3},
	{"qwen2", ENG_ARCH_QWEN2},             {"llama", ENG_ARCH_LLAMA},
};

struct cfg_reader {
	const cJSON *root;
	const char *path;
	struct eng_err *err;
	int rc;
};

/* The first present key among `keys` (NULL-terminated), looked up in root then in `sub`. */
static const cJSON *find(const cJSON *root, const cJSON *sub, const char *const *keys)
{
	for (const char *const *k = keys; *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, *k);
		if (v && !cJSON_IsNull(v))
			return v;
		v = sub ? cJSON_GetObjectItemCaseSensitive(sub, *k) : NULL;
		if (v && !cJSON_IsNull(v))
			return v;
	}
	return NULL;
}

/* Number under one of the keys; `dflt` when absent (NAN = required). Sets r->rc on error. */
static double num(struct cfg_reader *r, const cJSON *sub, const char *const *keys, double dflt, double lo,
		  double hi)
{
	const cJSON *v = find(r->root, sub, keys);
	if (!v) {
		if (isnan(dflt) && r->rc == ENG_OK)
			r->rc = eng_errf(r->err, ENG_EFORMAT, "%s: field \"%s\" is required", r->path, keys[0]);
		return isnan(dflt) ? lo : dflt;
	}
	double x = cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? 1 : 0) : cJSON_IsNumber(v) ? v->valuedouble : NAN;
	if (!(x >= lo && x <= hi)) {
		if (r->rc == ENG_OK)
			r->rc = eng_errf(r->err, ENG_EFORMAT, "%s: field \"%s\" must be a number in [%g, %g]", r->path,
					 v->string, lo, hi);
		return lo;
	}
	return x;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define REQ NAN
#define INT_MAX_CFG 1e9

static int geti(struct cfg_reader *r, const cJSON *sub, const char *const *keys, double dflt, double lo)
{
	double x = num(r, sub, keys, dflt, lo, INT_MAX_CFG);
	if (x != floor(x) && r->rc == ENG_OK)
		r->rc = eng_errf(r->err, ENG_EFORMAT, "%s: field \"%s\" must be an integer", r->path, keys[0]);
	return (int)x;
}

int eng_config_layer_moe(const struct eng_config *c, int l)
{
	if (c->n_routed_experts <= 0)
		return 0;
	if (c->arch == ENG_ARCH_DEEPSEEK_V3)
		return l >= c->first_k_dense_replace;
	if (c->arch == ENG_ARCH_QWEN3_MOE)
		return !(l < 64 && (c->mlp_only_layers >> l & 1)) && (l + 1) % c->decoder_sparse_step == 0;
	return 0;
}

static void read_rope(struct cfg_reader *r, struct eng_config *c)
{
	/* transformers 5 moved rope_theta / rope_scaling into rope_parameters; hub files still carry
	 * the old top-level keys. */
	const cJSON *rp = cJSON_GetObjectItemCaseSensitive(r->root, "rope_parameters");
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(r->root, "rope_scaling");
	if (!cJSON_IsObject(rp))
		rp = NULL;
	const cJSON *scaling = cJSON_IsObject(rs) ? rs : rp;
	c->rope_theta = num(r, rp, KEYS("rope_theta"), 10000.0, 1.0, 1e12);
	const cJSON *type = scaling ? find(scaling, NULL, KEYS("rope_type", "type")) : NULL;
	const char *ty = cJSON_IsString(type) ? type->valuestring : "default";
	if (strcmp(ty, "default") == 0)
		return;
	if (strcmp(ty, "yarn") == 0) {
		struct cfg_reader sr = {scaling, r->path, r->err, ENG_OK};
		c->rope_yarn = 1;
		c->yarn_factor = num(&sr, NULL, KEYS("factor"), REQ, 1.0, 1e6);
		c->yarn_beta_fast = num(&sr, NULL, KEYS("beta_fast"), 32, 0, 1e6);
		c->yarn_beta_slow = num(&sr, NULL, KEYS("beta_slow"), 1, 0, 1e6);
		c->yarn_mscale = num(&sr, NULL, KEYS("mscale"), 0, 0, 1e6);
		c->yarn_mscale_all_dim = num(&sr, NULL, KEYS("mscale_all_dim"), 0, 0, 1e6);
		c->yarn_original_max =
			geti(&sr, NULL, KEYS("original_max_position_embeddings"), c->max_position_embeddings, 1);
		if (sr.rc && r->rc == ENG_OK)
			r->rc = sr.rc;
		return;
	}
	if (strcmp(ty, "llama3") == 0) {
		struct cfg_reader sr = {scaling, r->path, r->err, ENG_OK};
		c->rope_llama3 = 1;
		c->llama3_factor = num(&sr, NULL, KEYS("factor"), REQ, 1.0, 1e6);
		c->llama3_low_freq_factor = num(&sr, NULL, KEYS("low_freq_factor"), REQ, 0, 1e6);
		c->llama3_high_freq_factor = num(&sr, NULL, KEYS("high_freq_factor"), REQ, 0, 1e6);
		c->llama3_original_max = geti(&sr, NULL, KEYS("original_max_position_embeddings"), REQ, 1);
		if (c->llama3_high_freq_factor <= c->llama3_low_freq_factor && sr.rc == ENG_OK)
			sr.rc = eng_errf(r->err, ENG_EFORMAT, "%s: rope_scaling high_freq_factor must exceed low_freq_factor",
					 r->path);
		if (sr.rc && r->rc == ENG_OK)
			r->rc = sr.rc;
		return;
	}
	if (r->rc == ENG_OK)
		r->rc = eng_errf(r->err, ENG_EUNSUPPORTED, "%s: rope type \"%s\" not supported (default, yarn, llama3)",
				 r->path, ty);
}

static double yarn_get_mscale(double scale, double mscale)
{
	return scale <= 1 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

static char *slurp(const char *path, int *rc, struct eng_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		*rc = eng_errf(err, ENG_EIO, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 20, n;
	char *buf = malloc(cap + 1);
	n = buf ? fread(buf, 1, cap + 1, fp) : 0;
	fclose(fp);
	if (!buf || n > cap) {
		free(buf);
		*rc = eng_errf(err, buf ? ENG_ELIMIT : ENG_ENOMEM, "%s: %s", path,
			       buf ? "larger than 1 MiB" : "out of memory");
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

int eng_config_load(const char *path, struct eng_config *c, struct eng_err *err)
{
	memset(c, 0, sizeof *c);
	int rc = ENG_OK;
	char *text = slurp(path, &rc, err);
	if (!text)
		return rc;
	cJSON *root = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return eng_errf(err, ENG_EFORMAT, "%s: not a JSON object", path);
	}
	struct cfg_reader r = {root, path, err, ENG_OK};
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
	const char *model_type = cJSON_IsString(mt) ? mt->valuestring : NULL;
	c->arch = -1;
	for (size_t i = 0; model_type && i < sizeof archs / sizeof archs[0]; i++)
		if (strcmp(model_type, archs[i].model_type) == 0)
			c->arch = archs[i].arch;
	if (c->arch < 0) {
		const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "architectures"), 0);
		rc = eng_errf(err, ENG_EUNSUPPORTED,
			      "%s: model_type \"%s\" (%s) is not supported; the engine runs deepseek_v3, qwen3_moe, "
			      "qwen3, qwen2, llama",
			      path, model_type ? model_type : "(missing)", cJSON_IsString(a) ? a->valuestring : "?");
		cJSON_Delete(root);
		return rc;
	}
	snprintf(c->model_type, sizeof c->model_type, "%s", model_type);
	int ds = c->arch == ENG_ARCH_DEEPSEEK_V3;

	c->vocab_size = geti(&r, NULL, KEYS("vocab_size"), REQ, 1);
	c->hidden_size = geti(&r, NULL, KEYS("hidden_size"), REQ, 1);
	c->intermediate_size = geti(&r, NULL, KEYS("intermediate_size"), REQ, 1);
	c->num_hidden_layers = geti(&r, NULL, KEYS("num_hidden_layers"), REQ, 1);
	c->num_attention_heads = geti(&r, NULL, KEYS("num_attention_heads"), REQ, 1);
	c->num_key_value_heads = geti(&r, NULL, KEYS("num_key_value_heads"), c->num_attention_heads, 1);
	c->rms_norm_eps = (float)num(&r, NULL, KEYS("rms_norm_eps"), 1e-6, 0, 1);
	c->max_position_embeddings = geti(&r, NULL, KEYS("max_position_embeddings"), 4096, 1);
	c->tie_word_embeddings = geti(&r, NULL, KEYS("tie_word_embeddings"), 0, 0);
	c->attention_bias = c->arch == ENG_ARCH_QWEN2 ? 1 : geti(&r, NULL, KEYS("attention_bias"), 0, 0);
	c->qk_norm = c->arch == ENG_ARCH_QWEN3 || c->arch == ENG_ARCH_QWEN3_MOE;
	/* Features HF applies that this engine does not: refuse rather than give different logits. */
	if (r.rc == ENG_OK && geti(&r, NULL, KEYS("mlp_bias"), 0, 0))
		r.rc = eng_errf(err, ENG_EUNSUPPORTED, "%s: mlp_bias true (biases on gate/up/down) not supported", path);
	if (r.rc == ENG_OK && c->arch != ENG_ARCH_DEEPSEEK_V3 && geti(&r, NULL, KEYS("use_sliding_window"), 0, 0))
		r.rc = eng_errf(err, ENG_EUNSUPPORTED, "%s: use_sliding_window true not supported (full attention only)",
				path);
	c->head_dim = ds ? 0 : geti(&r, NULL, KEYS("head_dim"), c->hidden_size / c->num_attention_heads, 1);
	c->bos_token_id = geti(&r, NULL, KEYS("bos_token_id"), -1, -1);
	const cJSON *eos = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
	if (cJSON_IsNumber(eos))
		c->eos_ids[c->n_eos++] = eos->valueint;
	else if (cJSON_IsArray(eos)) {
		const cJSON *e;
		cJSON_ArrayForEach(e, eos) if (cJSON_IsNumber(e) && c->n_eos < 4) c->eos_ids[c->n_eos++] = e->valueint;
	}

	if (c->arch == ENG_ARCH_DEEPSEEK_V3 || c->arch == ENG_ARCH_QWEN3_MOE) {
		c->n_routed_experts = geti(&r, NULL, KEYS("n_routed_experts", "num_experts", "num_local_experts"), REQ, 1);
		c->num_experts_per_tok = geti(&r, NULL, KEYS("num_experts_per_tok"), REQ, 1);
		c->moe_intermediate_size = geti(&r, NULL, KEYS("moe_intermediate_size"), REQ, 1);
		c->norm_topk_prob = geti(&r, NULL, KEYS("norm_topk_prob"), ds ? 1 : 0, 0);
		if (c->n_routed_experts > 1024 && r.rc == ENG_OK)
			r.rc = eng_errf(err, ENG_EUNSUPPORTED, "%s: %d experts, at most 1024", path, c->n_routed_experts);
		if (c->num_experts_per_tok > c->n_routed_experts && r.rc == ENG_OK)
			r.rc = eng_errf(err, ENG_EFORMAT, "%s: num_experts_per_tok %d exceeds the %d experts", path,
					c->num_experts_per_tok, c->n_routed_experts);
	}
	if (ds) {
		c->n_shared_experts = geti(&r, NULL, KEYS("n_shared_experts"), 0, 0);
		c->n_group = geti(&r, NULL, KEYS("n_group"), 1, 1);
		c->topk_group = geti(&r, NULL, KEYS("topk_group"), 1, 1);
		c->first_k_dense_replace = geti(&r, NULL, KEYS("first_k_dense_replace"), 0, 0);
		c->routed_scaling_factor = (float)num(&r, NULL, KEYS("routed_scaling_factor"), 1.0, 0, 1e6);
		const cJSON *sf = cJSON_GetObjectItemCaseSensitive(root, "scoring_func");
		c->scoring_sigmoid = !cJSON_IsString(sf) || strcmp(sf->valuestring, "sigmoid") == 0;
		if (!c->scoring_sigmoid && r.rc == ENG_OK)
			r.rc = eng_errf(err, ENG_EUNSUPPORTED, "%s: scoring_func \"%s\" not supported (sigmoid)", path,
					sf->valuestring);
		if (r.rc == ENG_OK && (c->n_routed_experts % c->n_group || c->topk_group > c->n_group ||
				       c->n_routed_experts / c->n_group < 2))
			r.rc = eng_errf(err, ENG_EFORMAT,
					"%s: n_group %d / topk_group %d do not divide the %d experts into groups of >= 2",
					path, c->n_group, c->topk_group, c->n_routed_experts);
		c->q_lora_rank = geti(&r, NULL, KEYS("q_lora_rank"), 0, 0);
		c->kv_lora_rank = geti(&r, NULL, KEYS("kv_lora_rank"), REQ, 1);
		c->qk_nope_head_dim = geti(&r, NULL, KEYS("qk_nope_head_dim"), REQ, 1);
		c->qk_rope_head_dim = geti(&r, NULL, KEYS("qk_rope_head_dim"), REQ, 2);
		c->v_head_dim = geti(&r, NULL, KEYS("v_head_dim"), REQ, 1);
		c->qk_head_dim = c->qk_nope_head_dim + c->qk_rope_head_dim;
		c->rope_interleave = geti(&r, NULL, KEYS("rope_interleave"), 1, 0);
		c->rope_dim = c->qk_rope_head_dim;
	} else {
		c->routed_scaling_factor = 1.0f;
		c->decoder_sparse_step = geti(&r, NULL, KEYS("decoder_sparse_step"), 1, 1);
		const cJSON *mol = cJSON_GetObjectItemCaseSensitive(root, "mlp_only_layers");
		const cJSON *e;
		cJSON_ArrayForEach(e, mol)
		{
			if (!cJSON_IsNumber(e) || e->valueint < 0 || e->valueint >= 64) {
				if (r.rc == ENG_OK)
					r.rc = eng_errf(err, ENG_EUNSUPPORTED, "%s: mlp_only_layers entries must be 0..63",
							path);
				break;
			}
			c->mlp_only_layers |= 1ull << e->valueint;
		}
		c->rope_dim = c->head_dim;
		if (c->num_key_value_heads == 0 || c->num_attention_heads % c->num_key_value_heads) {
			if (r.rc == ENG_OK)
				r.rc = eng_errf(err, ENG_EFORMAT, "%s: num_attention_heads %d not a multiple of num_key_value_heads %d",
						path, c->num_attention_heads, c->num_key_value_heads);
		}
	}
	if (c->rope_dim % 2 && r.rc == ENG_OK)
		r.rc = eng_errf(err, ENG_EFORMAT, "%s: rotary dimension %d is odd", path, c->rope_dim);
	read_rope(&r, c);
	c->block_n = c->block_k = 128;
	const cJSON *qc = cJSON_GetObjectItemCaseSensitive(root, "quantization_config");
	if (cJSON_IsObject(qc)) {
		const cJSON *qm = cJSON_GetObjectItemCaseSensitive(qc, "quant_method");
		const cJSON *bs = cJSON_GetObjectItemCaseSensitive(qc, "weight_block_size");
		if (!cJSON_IsString(qm) || strcmp(qm->valuestring, "fp8") != 0) {
			if (r.rc == ENG_OK)
				r.rc = eng_errf(err, ENG_EUNSUPPORTED, "%s: quantization_config.quant_method \"%s\" not supported (fp8)",
						path, cJSON_IsString(qm) ? qm->valuestring : "?");
		} else if (cJSON_IsArray(bs)) {
			const cJSON *b0 = cJSON_GetArrayItem(bs, 0), *b1 = cJSON_GetArrayItem(bs, 1);
			if (cJSON_GetArraySize(bs) != 2 || !cJSON_IsNumber(b0) || !cJSON_IsNumber(b1) || b0->valueint < 1 ||
			    b1->valueint < 1) {
				if (r.rc == ENG_OK)
					r.rc = eng_errf(err, ENG_EFORMAT,
							"%s: quantization_config.weight_block_size must be [n, k]", path);
			} else {
				c->block_n = b0->valueint;
				c->block_k = b1->valueint;
			}
		}
	}
	if (ds) {
		double scale = pow((double)c->qk_head_dim, -0.5);
		/* HF DeepseekV3Attention: the softmax scale takes mscale^2 when YaRN has mscale_all_dim. */
		if (c->rope_yarn && c->yarn_mscale_all_dim != 0) {
			double m = yarn_get_mscale(c->yarn_factor, c->yarn_mscale_all_dim);
			scale *= m * m;
		}
		c->softmax_scale = (float)scale;
	} else {
		c->softmax_scale = (float)pow((double)c->head_dim, -0.5);
	}
	cJSON_Delete(root);
	return r.rc;
}

void eng_config_rope(const struct eng_config *c, double *inv_freq, double *attn_factor)
{
	int d = c->rope_dim;
	*attn_factor = 1.0;
	for (int i = 0; i < d / 2; i++)
		inv_freq[i] = 1.0 / pow(c->rope_theta, (double)(2 * i) / d);
	if (c->rope_yarn) {
		/* HF _compute_yarn_parameters: interpolate the low frequencies by `factor`, keep the high
		 * ones, ramp linearly between the correction dims of beta_fast and beta_slow. */
		double f = c->yarn_factor, base = c->rope_theta, omax = c->yarn_original_max;
		double low = floor(d * log(omax / (c->yarn_beta_fast * 2 * M_PI)) / (2 * log(base)));
		double high = ceil(d * log(omax / (c->yarn_beta_slow * 2 * M_PI)) / (2 * log(base)));
		low = fmax(low, 0);
		high = fmin(high, d - 1);
		if (low == high)
			high += 0.001;
		for (int i = 0; i < d / 2; i++) {
			double ramp = fmin(fmax((i - low) / (high - low), 0), 1);
			double extrap = 1 - ramp;
			inv_freq[i] = inv_freq[i] / f * (1 - extrap) + inv_freq[i] * extrap;
		}
		if (c->yarn_mscale != 0 && c->yarn_mscale_all_dim != 0)
			*attn_factor = yarn_get_mscale(f, c->yarn_mscale) / yarn_get_mscale(f, c->yarn_mscale_all_dim);
		else
			*attn_factor = yarn_get_mscale(f, 1.0);
	} else if (c->rope_llama3) {
		/* HF _compute_llama3_parameters */
		double f = c->llama3_factor, lo = c->llama3_low_freq_factor, hi = c->llama3_high_freq_factor;
		double old = c->llama3_original_max, low_wl = old / lo, high_wl = old / hi;
		for (int i = 0; i < d / 2; i++) {
			double wl = 2 * M_PI / inv_freq[i];
			if (wl > low_wl) {
				inv_freq[i] /= f;
			} else if (wl >= high_wl) {
				double smooth = (old / wl - lo) / (hi - lo);
				inv_freq[i] = (1 - smooth) * inv_freq[i] / f + smooth * inv_freq[i];
			}
		}
	}
}
