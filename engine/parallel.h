/* parallel.h — partition plans for tensor and expert parallelism (internal to engine/): which
 * heads, rows and experts a rank holds (struct eng_part, model.h), how many parameters and KV-cache
 * bytes that is, how many GPUs a checkpoint needs, and the MoE dispatch plan with the bytes it
 * moves per decode step. Pure functions of the config: nothing is loaded or allocated. */
#ifndef ENG_PARALLEL_H
#define ENG_PARALLEL_H

#include <stddef.h>

#include "engine/model.h"

/* Contiguous split of n items over parts: the first n % parts parts get one more. */
void eng_span(int n, int parts, int i, int *start, int *len);

/* The whole model on one rank. */
void eng_part_whole(const struct eng_config *c, struct eng_part *p);

/* Rank `rank` of a tp x ep grid. ENG_EMISUSE naming the limit when the split is impossible
 * (tp above the head count or a dense size, ep above the expert count, ep > 1 on a dense model). */
int eng_part_plan(const struct eng_config *c, int tp, int ep, int rank, struct eng_part *p, struct eng_err *err);

/* Parameters (floats) the rank holds: exactly what weights.c loads for that part, given whether
 * the checkpoint has the router's e_score_correction_bias and a separate lm_head. */
size_t eng_part_params(const struct eng_config *c, const struct eng_part *p, int gate_bias, int own_head);

/* KV-cache elements per position (all layers) on the rank: MLA caches the latent and rope key
 * whole on every rank (model.py kv_cache / pe_cache are not split); GQA its own kv heads. */
size_t eng_part_kv_per_pos(const struct eng_config *c, const struct eng_part *p);

/* Memory one rank needs on a GPU, in bytes. */
struct eng_mem_plan {
	int tp, ep;
	double weight_bytes;   /* params x bytes_per_param (FP8 + block scales, or BF16) */
	double kv_bytes;       /* max_seq x batch positions, BF16 */
	double act_bytes;      /* activations and comm staging for batch tokens, a few MiB */
	double total_bytes;
};
void eng_mem_plan_rank(const struct eng_config *c, const struct eng_part *p, double bytes_per_param, int max_seq,
		       int batch, struct eng_mem_plan *out);

/* The smallest world (tp x ep, tried as ep = world for MoE models with tp = 1 up to 8 and
 * tp = world for dense ones) whose busiest rank fits in gpu_bytes x usable (e.g. 0.9). Fills
 * *out for it. ENG_ELIMIT when even max_world GPUs are not enough. */
int eng_mem_plan_gpus(const struct eng_config *c, double bytes_per_param, int max_seq, int batch, double gpu_bytes,
		      double usable, int max_world, struct eng_mem_plan *out, struct eng_err *err);

/* The MoE dispatch plan of one rank's tokens: tokens_to[d] counts what this rank sends to rank d
 * for topk_idx (n_tokens x k global expert ids). per_expert: one copy per chosen expert (DeepEP
 * low-latency kernels); else one copy per destination rank however many of its experts a token
 * chose (DeepEP normal kernels). Experts are owned as eng_part_plan splits them. */
void eng_dispatch_plan(const int *topk_idx, int n_tokens, int k, int n_experts, int ep, int per_expert,
		       size_t *tokens_to);

/* Bytes one rank moves per MoE layer for a dispatch plan: dispatch sends each copy as FP8 with
 * one float scale per 128 values, combine returns it as BF16. Copies to itself are counted apart
 * (they never leave the GPU). */
struct eng_moe_bytes {
	double dispatch, combine;             /* bytes sent to other ranks */
	double dispatch_local, combine_local; /* copies that stay on the rank */
	double copies;                        /* token copies sent (all destinations) */
};
void eng_moe_bytes(const size_t *tokens_to, int ep, int src_rank, int hidden, struct eng_moe_bytes *out);

#endif
