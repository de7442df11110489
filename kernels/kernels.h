/* kernels.h — the engine's GPU kernels behind a small C API (sm_90a, Hopper). The engine includes
 * this header; the kernels include nothing of engine/. Built into build/kernels/libkernels.a only
 * where nvcc exists (kernels/kernels.mk); the host-side plans (tiling, MoE token sort, paged KV,
 * attention splits, reference math) are plain C in kernels/krn_plan.h.
 *
 * Conventions. Every function returns 0 (KRN_OK) or a KRN_E* code (krn_strerror gives a sentence);
 * shapes are checked before anything is launched, so a bad shape launches nothing. Pointers are
 * device pointers unless said otherwise; `stream` is a cudaStream_t (NULL: the default stream);
 * every launch is asynchronous and the caller owns all buffers. Matrices are row-major.
 * Element types: bf16 and e4m3 travel as uint16_t / uint8_t bit patterns (C has no such types);
 * scales are float32. Names follow DeepSeek-V3 inference/model.py and kernel.py (act_quant,
 * fp8_gemm, weight block scales), as the CPU path in engine/ does. */
#ifndef KRN_KERNELS_H
#define KRN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum krn_code {
	KRN_OK = 0,
	KRN_EINVAL = 1,       /* a shape, pointer or option out of range for this call */
	KRN_EUNSUPPORTED = 2, /* valid but not implemented (e.g. K not a multiple of 16) */
	KRN_ECUDA = 3,        /* the CUDA runtime reported an error (launch, allocation, sticky fault) */
	KRN_ENODEV = 4,       /* no CUDA device, or no driver */
};

const char *krn_strerror(int code); /* fixed sentence; never NULL */

/* FP8 block size of DeepSeek-V3 (kernel.py block_size, weight_block_size [128, 128]). */
enum { KRN_BLOCK = 128 };

/* ---- device ---------------------------------------------------------------------------------- */

struct krn_device {
	char name[256];
	int sm_major, sm_minor, n_sm;
	size_t mem_bytes, smem_per_block_optin, l2_bytes;
	double hbm_gbps_datasheet;    /* from the bus width and memory clock the runtime reports */
	double fp8_tflops_datasheet;  /* dense FP8 tensor-core peak for sm_90 parts (by SM count/clock) */
	double bf16_tflops_datasheet;
};

/* Fills d for the current device. KRN_ENODEV where there is no device or driver (the caller then
 * skips GPU work; this is the one call to make first). */
int krn_device_query(struct krn_device *d);

/* Measures device-to-device copy bandwidth (bytes read + written per second, GB/s) with a copy of
 * `bytes` repeated `reps` times; allocates and frees its own buffers. */
int krn_device_copy_gbps(size_t bytes, int reps, double *gbps /* OUT */);

/* ---- stage statistics (STYLE "Kernels report their share of the hardware limit") -------------
 * When on, each wrapper records one event pair around its launch and, at krn_stats_read, its time,
 * the bytes it must move and the flops it must do. Off by default (timing costs a sync per read). */
enum { KRN_STATS_MAX = 32 };
struct krn_stat {
	const char *name; /* the wrapper, e.g. "fp8_gemm" */
	long calls;
	double us, bytes, flops;
};
int krn_stats_enable(int on);
/* Synchronises, folds every pending event pair into the table; fills up to max rows, *n rows used. */
int krn_stats_read(struct krn_stat *rows, int max, int *n /* OUT */);
void krn_stats_reset(void);

/* ---- activation quantization (kernel.py act_quant) -------------------------------------------
 * x (m, k) bf16 -> y (m, k) e4m3, s (m, ceil(k / 128)) float: for each 1x128 group,
 * s = amax / 448 (1 where the group is all zero) and y = e4m3(x / s), round to nearest even,
 * saturating. k % 16 == 0 (16-byte rows). ldx: elements between rows of x (>= k). */
int krn_act_quant(const uint16_t *x, int ldx, uint8_t *y, float *s, int m, int k, void *stream);

/* ---- FP8 block-scaled GEMM (kernel.py fp8_gemm, DeepSeek-V3 report section 3.3) --------------
 * d (m, n) bf16 = (a (m, k) e4m3 * a_s (m, ceil(k/128))) @ (b (n, k) e4m3 * b_s (ceil(n/128),
 * ceil(k/128)))^T with FP32 accumulation; each 128-wide K block is multiplied on the tensor cores
 * into a fresh accumulator and promoted to the FP32 total with a_s * b_s (the report's "promotion
 * to CUDA cores" every 128 elements). k % 16 == 0, n % 2 == 0 (bf16 pairs). Small m goes to a
 * weight-streaming kernel (the same math in another order), larger m to wgmma (krn_gemm_plan). */
struct krn_fp8_gemm_args {
	const uint8_t *a; const float *a_s; /* a (m, k) rows of lda bytes; a_s (m, ceil(k/128)) */
	const uint8_t *b; const float *b_s; /* b (n, k) rows of k bytes; b_s (ceil(n/128), ceil(k/128)) */
	uint16_t *d;                        /* (m, n) bf16, rows of ldd elements */
	int m, n, k, lda, ldd;
	/* Grouped (routed experts, contiguous layout, krn_moe_sort): when tile_expert != NULL, a's row
	 * r is a_row[r] of the unsorted activations (< 0: a padding row, read as zero and not stored),
	 * b and b_s advance by one expert per index (n * k bytes, ceil(n/128) * ceil(k/128) scales),
	 * and m tiles of KRN_GEMM_BM rows use expert tile_expert[tile] (< 0: tile skipped). */
	const int *tile_expert;
	const int *a_row;
	int a_sorted; /* grouped, 1: a is already in sorted order (row r of a is sorted row r, as the
		       * down projection's input is); a_row then only marks the padding rows */
};
int krn_fp8_gemm(const struct krn_fp8_gemm_args *g, void *stream);

/* ---- fused small ops ------------------------------------------------------------------------ */

/* RMSNorm (+ residual): with x != NULL, res (m, n) float += x (m, n) bf16 first; then
 * out (m, n) bf16 = w (n) float * res / sqrt(mean(res^2) + eps). x may be NULL (plain norm of res).
 * ld*: elements between rows. n % 4 == 0. */
int krn_rmsnorm(float *res, int ldres, const uint16_t *x, int ldx, const float *w, uint16_t *out, int ldo, int m,
		int n, float eps, void *stream);

/* RoPE in place on x, bf16 rows of ldx elements: heads of each row start at head_stride apart, the
 * rotated part at rope_off within the head, rope_dim wide. Row r is at position pos[r]; cos, sin
 * (max_pos, rope_dim/2) float tables (YaRN / llama3 already folded in, eng_config_rope).
 * interleave: pairs (2i, 2i+1); else (i, i + rope_dim/2) (rotate_half). */
struct krn_rope_args {
	uint16_t *x; int ldx, m, n_heads, head_stride, rope_off, rope_dim, interleave;
	const int *pos; const float *cos, *sin; int max_pos;
};
int krn_rope(const struct krn_rope_args *r, void *stream);

/* gu (m, 2 * inter) bf16 = [w1(x) | w3(x)] -> out (m, inter) bf16 = silu(gate) * up. */
int krn_silu_mul(const uint16_t *gu, uint16_t *out, int m, int inter, void *stream);
/* The same fused with act_quant of the product (the down projection's input): y (m, inter) e4m3,
 * s (m, ceil(inter / 128)). inter % 16 == 0. */
int krn_silu_mul_quant(const uint16_t *gu, uint8_t *y, float *s, int m, int inter, void *stream);

/* ---- MoE -------------------------------------------------------------------------------------
 * Router (model.py Gate.forward / HF route_tokens_to_experts; Qwen3 softmax top-k): logits (t, e)
 * float -> idx (t, k) int, w (t, k) float. Ties go to the lower index (torch.topk). */
struct krn_route_cfg {
	int n_experts, top_k;
	int sigmoid;        /* 1: DeepSeek-V3 sigmoid scores; 0: softmax */
	int n_group, topk_group; /* group-limited choice (sigmoid only; 1,1 = none) */
	int norm_topk_prob;
	float route_scale;  /* routed_scaling_factor (1 for Qwen3) */
};
int krn_moe_route(const float *logits, const float *bias /* (e) or NULL */, const struct krn_route_cfg *c, int t,
		  int *idx, float *w, void *stream);

/* Token sort by expert, contiguous layout (the device version of krn_plan_moe_sort; same output,
 * deterministic: rows of one expert in (token, k) order). idx (t, k); out (all device):
 * a_row (rows_bound) source token per sorted row or -1, entry_row (t * k) sorted row of each entry,
 * tile_expert (tiles_bound) expert per KRN_GEMM_BM-row tile or -1, expert_start (e + 1).
 * Bounds from krn_plan_moe_bounds. One block; t * k <= KRN_SORT_MAX_ENTRIES. */
enum { KRN_SORT_MAX_ENTRIES = 1 << 20 };
int krn_moe_sort(const int *idx, int t, int k, int n_experts, int *a_row, int *entry_row, int *tile_expert,
		 int *expert_start, int rows_bound, int tiles_bound, void *stream);

/* Weighted combine (model.py MoE.forward `y[idx] += expert(x[idx]) * weights[idx, top, None]`):
 * out (t, n) float (+)= sum over k, in k order, of w[t, k] * y[entry_row[t, k]] (y (rows, n) bf16).
 * accumulate: add to out (the shared experts' output already there) instead of overwriting. */
int krn_moe_combine(const uint16_t *y, const int *entry_row, const float *w, float *out, int t, int k, int n,
		    int accumulate, void *stream);

/* ---- attention (decode: one query row per sequence) -----------------------------------------
 * KV caches are paged (krn_plan.h: KRN_PAGE positions a page): sequence b's position p lives in
 * page block_table[b * max_pages + p / page] at slot p % page. Splits over positions
 * (krn_plan_attn_splits) are merged with their log-sum-exp in a second kernel. */

/* MLA decode, absorbed form (model.py MLA.forward attn_impl "absorb"): per sequence b, head h,
 * scores over positions 0..seq_len[b]-1 = scale * (q_abs[b,h] . kv[p] + q_pe[b,h] . pe[p]),
 * softmax, out[b,h] = sum_p prob * kv[p] (in the kv_lora_rank latent space; the caller applies
 * wkv_b's value rows). q_abs (b, h, r) float, q_pe (b, h, rd) float, kv pages (page, r) bf16,
 * pe pages (page, rd) bf16, out (b, h, r) float. r == 512, rd == 64 (DeepSeek-V3). */
struct krn_mla_args {
	const float *q_abs, *q_pe;
	const uint16_t *kv_cache, *pe_cache; /* pages: (n_pages, page, r) and (n_pages, page, rd) */
	const int *block_table, *seq_len;    /* (b, max_pages), (b) */
	float *out;
	int batch, n_heads, r, rd, page, max_pages;
	float scale;
	float *work; size_t work_bytes; /* scratch for the split partials, krn_plan_attn_work */
	int max_seq;                    /* longest seq_len (plans the splits without a device read) */
};
int krn_mla_decode(const struct krn_mla_args *a, void *stream);

/* GQA decode (qwen3 / qwen3_moe, llama): q (b, hq, d) float (q/k norm and RoPE applied before),
 * k, v pages (n_pages, page, hkv, d) bf16, out (b, hq, d) float; head h reads kv head
 * h / (hq / hkv). d <= 256, d % 32 == 0. */
struct krn_gqa_args {
	const float *q;
	const uint16_t *k_cache, *v_cache;
	const int *block_table, *seq_len;
	float *out;
	int batch, n_heads, n_kv_heads, d, page, max_pages;
	float scale;
	float *work; size_t work_bytes;
	int max_seq;
};
int krn_gqa_decode(const struct krn_gqa_args *a, void *stream);

#ifdef __cplusplus
}
#endif

#endif
