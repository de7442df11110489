/* comm_plan.c — bytes moved per decode step per rank for DeepSeek-V3 shapes at ep=8 and ep=64,
 * computed from the engine's partition and dispatch plans (engine/parallel.h), beside the
 * all-to-all figures DeepEP publishes for its low-latency kernels (README, H800 + CX7 400 Gb/s,
 * 128 tokens per rank, hidden 7168, top-8, FP8 dispatch, BF16 combine). Nothing is run on a GPU:
 * this checks that the plan is sound before multi-GPU hardware is at hand.
 *   build/bench/comm_plan [tokens_per_rank ...]     (default: 1 128) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/parallel.h"

/* DeepSeek-V3 config.json (deepseek-ai/DeepSeek-V3), the fields the plan reads. */
static void deepseek_v3(struct eng_config *c)
{
	memset(c, 0, sizeof *c);
	c->arch = ENG_ARCH_DEEPSEEK_V3;
	strcpy(c->model_type, "deepseek_v3");
	c->vocab_size = 129280;
	c->hidden_size = 7168;
	c->intermediate_size = 18432;
	c->moe_intermediate_size = 2048;
	c->num_hidden_layers = 61;
	c->num_attention_heads = 128;
	c->num_key_value_heads = 128;
	c->n_routed_experts = 256;
	c->n_shared_experts = 1;
	c->num_experts_per_tok = 8;
	c->n_group = 8;
	c->topk_group = 4;
	c->first_k_dense_replace = 3;
	c->q_lora_rank = 1536;
	c->kv_lora_rank = 512;
	c->qk_nope_head_dim = 128;
	c->qk_rope_head_dim = 64;
	c->v_head_dim = 128;
	c->qk_head_dim = 192;
	c->max_position_embeddings = 163840;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng >> 11) * (1.0 / 9007199254740992.0);
}

/* Group-limited routing of one token with independent uniform scores (a balanced router, which
 * DeepSeek-V3's bias-based load balancing aims at): topk_group groups by their top-2 sum, then
 * the top-k experts inside them. */
static void route(const struct eng_config *c, int *idx)
{
	double s[256], gs[8];
	int per = c->n_routed_experts / c->n_group, on[8] = {0};
	for (int e = 0; e < c->n_routed_experts; e++)
		s[e] = uniform();
	for (int g = 0; g < c->n_group; g++) {
		double a = -1, b = -1;
		for (int e = g * per; e < (g + 1) * per; e++)
			if (s[e] > a) {
				b = a;
				a = s[e];
			} else if (s[e] > b) {
				b = s[e];
			}
		gs[g] = a + b;
	}
	for (int k = 0; k < c->topk_group; k++) {
		int best = -1;
		for (int g = 0; g < c->n_group; g++)
			if (!on[g] && (best < 0 || gs[g] > gs[best]))
				best = g;
		on[best] = 1;
	}
	for (int k = 0; k < c->num_experts_per_tok; k++) {
		int best = -1;
		for (int e = 0; e < c->n_routed_experts; e++)
			if (on[e / per] && (best < 0 || s[e] > s[best]))
				best = e;
		idx[k] = best;
		s[best] = -1;
	}
}

struct deepep { int ep; double disp_us, disp_gbs, comb_us, comb_gbs; };
static const struct deepep DEEPEP[] = {{8, 77, 98, 114, 127}, {64, 173, 43, 314, 46}};

int main(int argc, char **argv)
{
	struct eng_config c;
	deepseek_v3(&c);
	struct eng_part whole;
	eng_part_whole(&c, &whole);
	int moe_layers = 0;
	for (int l = 0; l < c.num_hidden_layers; l++)
		moe_layers += eng_config_layer_moe(&c, l);
	double params = (double)eng_part_params(&c, &whole, 1, 1);
	/* FP8 e4m3 weights + one float scale per 128x128 block; ~1.0002 bytes per parameter */
	const double bpp = 1.0 + 4.0 / (128 * 128);
	printf("DeepSeek-V3: %.1fB parameters (main model, no MTP layer), %d MoE layers, hidden %d, top-%d of %d\n",
	       params / 1e9, moe_layers, c.hidden_size, c.num_experts_per_tok, c.n_routed_experts);
	struct eng_mem_plan need;
	if (eng_mem_plan_gpus(&c, bpp, 4096, 32, 141e9, 0.9, 1024, &need, NULL) == ENG_OK)
		printf("memory plan: 4k context x 32 sequences on 141 GB GPUs -> %d GPUs (tp %d x ep %d), %.1f GB per rank\n\n",
		       need.tp * need.ep, need.tp, need.ep, need.total_bytes / 1e9);

	int ntok_default[] = {1, 128}, *ntoks = ntok_default, nn = 2;
	int *parsed = NULL;
	if (argc > 1) {
		parsed = calloc((size_t)argc, sizeof *parsed);
		for (int i = 1; i < argc; i++)
			parsed[i - 1] = atoi(argv[i]) > 0 ? atoi(argv[i]) : 1;
		ntoks = parsed;
		nn = argc - 1;
	}
	const int eps[] = {8, 64};
	printf("%-4s %-7s %-11s %14s %14s %14s %14s %12s\n", "ep", "tokens", "copies", "dispatch/lyr", "combine/lyr",
	       "per step", "local/step", "weights/rank");
	for (int ie = 0; ie < 2; ie++)
		for (int it = 0; it < nn; it++) {
			int ep = eps[ie], B = ntoks[it];
			struct eng_part p;
			eng_part_plan(&c, 1, ep, 0, &p, NULL);
			double wbytes = (double)eng_part_params(&c, &p, 1, 1) * bpp;
			for (int per_expert = 1; per_expert >= 0; per_expert--) {
				/* every source rank routes its own B tokens; average over ranks */
				struct eng_moe_bytes sum = {0};
				int *idx = malloc(sizeof(int) * (size_t)B * c.num_experts_per_tok);
				size_t *to = malloc(sizeof(size_t) * (size_t)ep);
				for (int r = 0; r < ep; r++) {
					for (int t = 0; t < B; t++)
						route(&c, idx + (size_t)t * c.num_experts_per_tok);
					eng_dispatch_plan(idx, B, c.num_experts_per_tok, c.n_routed_experts, ep, per_expert, to);
					struct eng_moe_bytes b;
					eng_moe_bytes(to, ep, r, c.hidden_size, &b);
					sum.dispatch += b.dispatch / ep;
					sum.combine += b.combine / ep;
					sum.dispatch_local += b.dispatch_local / ep;
					sum.combine_local += b.combine_local / ep;
					sum.copies += b.copies / ep;
				}
				free(idx);
				free(to);
				printf("%-4d %-7d %-11s %11.3f MB %11.3f MB %11.2f MB %11.2f MB %9.1f GB\n", ep, B,
				       per_expert ? "per expert" : "per rank", sum.dispatch / 1e6, sum.combine / 1e6,
				       (sum.dispatch + sum.combine) * moe_layers / 1e6,
				       (sum.dispatch_local + sum.combine_local) * moe_layers / 1e6, wbytes / 1e9);
				if (B == 128 && per_expert) {
					for (size_t d = 0; d < sizeof DEEPEP / sizeof DEEPEP[0]; d++) {
						if (DEEPEP[d].ep != ep)
							continue;
						double disp = (sum.dispatch + sum.dispatch_local), comb = (sum.combine + sum.combine_local);
						printf("     DeepEP low-latency, ep=%d, 128 tokens: dispatch %.0f us at %.0f GB/s = %.2f MB"
						       " (plan %.2f MB incl. local), combine %.0f us at %.0f GB/s = %.2f MB (plan %.2f MB);"
						       " plan at DeepEP's rate: %.0f + %.0f us per layer\n",
						       ep, DEEPEP[d].disp_us, DEEPEP[d].disp_gbs,
						       DEEPEP[d].disp_us * DEEPEP[d].disp_gbs * 1e-3, disp / 1e6, DEEPEP[d].comb_us,
						       DEEPEP[d].comb_gbs, DEEPEP[d].comb_us * DEEPEP[d].comb_gbs * 1e-3, comb / 1e6,
						       disp / (DEEPEP[d].disp_gbs * 1e3), comb / (DEEPEP[d].comb_gbs * 1e3));
					}
				}
			}
		}
	/* The CPU forward of this engine (one sequence, attention replicated, model.py's all_reduce
	 * after the MoE): a ring all_reduce sends 2 (n - 1) / n of the float32 hidden vector. */
	for (int ie = 0; ie < 2; ie++) {
		int n = eps[ie];
		double per = 2.0 * (n - 1) / n * 4.0 * c.hidden_size;
		printf("single-sequence all_reduce path, ep=%d: %.3f MB per step per rank (%d MoE all_reduces)\n", n,
		       per * moe_layers / 1e6, moe_layers);
	}
	free(parsed);
	return 0;
}
