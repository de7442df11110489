/* krn_plan.h — the host side of the GPU kernels, plain C that runs and is tested without a GPU:
 * launch plans (GEMM tiles, attention splits, scratch sizes), the MoE token sort by expert, the
 * paged KV layout, and the reference math the device tests compare against (e4m3 / bf16 rounding,
 * act_quant, block-scaled GEMM, router). Implemented in engine/krn_plan.c (so the engine's build
 * and unit tests cover it; tests/unit/engine/test_krn_plan.c) and compiled into libkernels.a too. */
#ifndef KRN_PLAN_H
#define KRN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM tiles ------------------------------------------------------------------------------ */
enum {
	KRN_GEMM_BN = 128,     /* output columns per block = one weight scale block */
	KRN_GEMM_BK = 128,     /* K per pipeline stage = one scale block: one promotion per stage */
	KRN_GEMM_BM = 64,      /* rows per tile of the grouped (sorted-by-expert) layout */
	KRN_GEMM_STAGES = 4,   /* cp.async pipeline depth */
	KRN_GEMM_SMALL_M = 8,  /* m <= this: the weight-streaming kernel (decode) */
	KRN_GEMM_SMALL_COLS = 4, /* output columns per warp in that kernel */
};

enum krn_gemm_kind { KRN_GEMM_SMALLM = 1, KRN_GEMM_WGMMA = 2 };

struct krn_gemm_plan {
	int kind;            /* enum krn_gemm_kind */
	int bm, bn, warpgroups; /* wgmma: rows per block (64 per consumer warpgroup), columns */
	int grid_x, grid_y, threads;
	size_t smem_bytes;   /* dynamic shared memory per block */
	double flops, bytes; /* work it must do and the fewest bytes it must move (stats) */
};

/* Plans d (m, n) = a (m, k) @ b (n, k)^T. grouped_tiles > 0: the grouped layout with that many
 * KRN_GEMM_BM-row tiles (m is then tiles * KRN_GEMM_BM). Returns KRN_EINVAL for m, n, k < 1,
 * KRN_EUNSUPPORTED for k % 16 or n % 2 != 0 or a grid past the hardware limits. */
int krn_plan_gemm(int m, int n, int k, int grouped_tiles, struct krn_gemm_plan *p /* OUT */);

/* ---- number formats (host references; the device uses the hardware conversions) ------------- */
/* float -> e4m3fn (OCP FP8: bias 7, max 448, no infinities): round to nearest even, saturating to
 * +-448 (the device's __NV_SATFINITE); NaN -> 0x7f. */
uint8_t krn_e4m3_from_float(float x);
float krn_e4m3_to_float(uint8_t v);
uint16_t krn_bf16_from_float(float x); /* round to nearest even; NaN stays NaN */
float krn_bf16_to_float(uint16_t v);

/* act_quant reference: x (m, k) bf16 -> y (m, k) e4m3, s (m, ceil(k/128)); same rule as
 * krn_act_quant (s = amax / 448, 1 for an all-zero group; y = e4m3(x / s)). */
void krn_ref_act_quant(const uint16_t *x, int ldx, uint8_t *y, float *s, int m, int k);

/* fp8_gemm reference in double: d (m, n) = sum over k of a*a_s * b*b_s (row-major, b (n, k));
 * a_row / tile_expert as krn_fp8_gemm_args (NULL: dense). Rows of padding are left untouched. */
void krn_ref_fp8_gemm(const uint8_t *a, const float *a_s, int lda, const uint8_t *b, const float *b_s, double *d,
		      int m, int n, int k, const int *tile_expert, const int *a_row);

/* ---- MoE router and token sort ---------------------------------------------------------------- */
/* Reference router on one token's logits (e): DeepSeek-V3 sigmoid + bias + group-limited top-k
 * (HF route_tokens_to_experts, masked groups to 0.0) or softmax top-k; idx, w (k). scratch (2e).
 * Also the CPU engine's router (engine/decoder.c), so engine and kernel tests share one rule. */
void krn_ref_route(const float *logits, const float *bias, const struct krn_route_cfg *c, int *idx, float *w,
		   float *scratch);
/* Checks a router config (n_experts <= 1024, top_k <= n_experts and <= 32, n_group <= 32
 * dividing the experts, topk_group * (n_experts / n_group) >= top_k). 0 or KRN_EINVAL. */
int krn_plan_route_check(const struct krn_route_cfg *c);

/* Sizes of the contiguous layout for t tokens x k choices over e experts: every expert segment
 * starts on a KRN_GEMM_BM boundary. rows_bound = tiles_bound * KRN_GEMM_BM. */
void krn_plan_moe_bounds(int t, int k, int e, int *rows_bound /* OUT */, int *tiles_bound /* OUT */);

/* The sort itself (host reference of krn_moe_sort, same outputs): idx (t, k) experts in [0, e);
 * a_row (rows_bound), entry_row (t * k), tile_expert (tiles_bound), expert_start (e + 1).
 * Returns the number of tiles used, or -KRN_EINVAL for an expert id out of range. */
int krn_plan_moe_sort(const int *idx, int t, int k, int e, int *a_row, int *entry_row, int *tile_expert,
		      int *expert_start, int rows_bound, int tiles_bound);

/* ---- paged KV cache and attention splits ------------------------------------------------------ */
enum { KRN_PAGE = 64, KRN_ATTN_MAX_SPLITS = 64, KRN_ATTN_MIN_CHUNK = 64 };

/* Element offset of (sequence b, position p) in a paged cache of row_elems elements per position:
 * page block_table[b * max_pages + p / page], slot p % page. -1 if the page entry is negative. */
long krn_paged_offset(const int *block_table, int max_pages, int page, int row_elems, int b, int p);

/* Splits of decode attention over positions so that batch * groups * splits blocks fill about two
 * waves of n_sm multiprocessors, each split at least KRN_ATTN_MIN_CHUNK positions: splits in
 * [1, KRN_ATTN_MAX_SPLITS], chunk = positions per split (a multiple of KRN_ATTN_MIN_CHUNK), and
 * splits * chunk >= max_seq. groups = head groups per sequence (blocks per sequence). */
void krn_plan_attn_splits(int batch, int groups, int max_seq, int n_sm, int *splits /* OUT */,
			  int *chunk /* OUT */);
/* Scratch bytes for split partials: out (batch, heads, splits, dv) + lse (batch, heads, splits). */
size_t krn_plan_attn_work(int batch, int heads, int splits, int dv);

/* Reference decode attention for one (sequence, head) in double, over a paged cache: q (dk), keys
 * at key_off within each cached row of key_elems, values at val_off (dv of them); out (dv).
 * A second (q2, k2) pair of dk2 elements adds to the score (MLA's rope part; NULL/0 for GQA). */
void krn_ref_attn_head(const float *q, int dk, const uint16_t *kcache, int key_elems, const float *q2, int dk2,
		       const uint16_t *k2cache, int k2_elems, const uint16_t *vcache, int val_elems, int dv,
		       const int *block_table, int max_pages, int page, int b, int seq_len, double scale,
		       double *out);

#ifdef __cplusplus
}
#endif

#endif
