// bench_kernels.cu — `make bench-gpu`: each kernel's figure beside its limit and its peer, in one
// run. Prints the device and its peaks (datasheet and a measured device-to-device copy), then
//  - FP8 block-scaled GEMM TFLOP/s at DeepSeek-V3 and Qwen3-30B-A3B layer shapes, beside cuBLASLt's
//    per-tensor-scaled FP8 GEMM (what torch._scaled_mm calls) and the FP8 dense peak;
//  - the routed-expert MoE layer at decode batch 1 / 64 / 256 and prefill 4096, beside the bytes
//    floor (weights of the experts actually hit / measured copy bandwidth);
//  - MLA decode attention GB/s beside the measured copy bandwidth.
// Times are medians of CUDA-event timings after warm-up, on random data. Skips without a device.
#include <algorithm>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "kernels/kernels.h"
#include "kernels/krn_plan.h"

#define CK(x)                                                                                                      \
	do {                                                                                                       \
		cudaError_t e_ = (x);                                                                              \
		if (e_ != cudaSuccess) {                                                                           \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));        \
			exit(2);                                                                                   \
		}                                                                                                  \
	} while (0)

// Random bytes from a hash of the index; kind 0: raw e4m3 codes without NaN, 1: floats in
// [lo, hi), 2: bf16 in [lo, hi).
__global__ void fill_kernel(void *p, size_t n, int kind, float lo, float hi, uint32_t seed)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		uint32_t h = (uint32_t)i * 2654435761u ^ seed;
		h ^= h >> 15;
		h *= 2246822519u;
		h ^= h >> 13;
		const float u = lo + (hi - lo) * (h & 0xffffff) / 16777216.0f;
		if (kind == 0)
			((uint8_t *)p)[i] = (uint8_t)(h >> 24) & 0xf7; // clears the NaN pattern 0x7f / 0xff
		else if (kind == 1)
			((float *)p)[i] = u;
		else
			((uint16_t *)p)[i] = (uint16_t)(__float_as_uint(u) >> 16);
	}
}

static void *dalloc(size_t bytes, int kind, float lo, float hi)
{
	void *p;
	CK(cudaMalloc(&p, bytes + 16));
	static uint32_t seed = 1;
	const size_t n = kind == 0 ? bytes : bytes / (kind == 1 ? 4 : 2);
	fill_kernel<<<1024, 256>>>(p, n, kind, lo, hi, seed++ * 0x9e3779b9u);
	CK(cudaGetLastError());
	return p;
}

// Median milliseconds of fn() over reps runs after 3 warm-ups.
template <class F> static double median_ms(F fn, int reps)
{
	cudaEvent_t a, b;
	CK(cudaEventCreate(&a));
	CK(cudaEventCreate(&b));
	for (int i = 0; i < 3; i++)
		fn();
	std::vector<float> t;
	for (int i = 0; i < reps; i++) {
		CK(cudaEventRecord(a));
		fn();
		CK(cudaEventRecord(b));
		CK(cudaEventSynchronize(b));
		float ms;
		CK(cudaEventElapsedTime(&ms, a, b));
		t.push_back(ms);
	}
	CK(cudaGetLastError());
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	std::sort(t.begin(), t.end());
	return t[t.size() / 2];
}

// cuBLASLt FP8 (per-tensor scales, bf16 out): d (m, n) = a (m, k) @ b (n, k)^T, the TN layout FP8
// requires (column-major D^T = B . A^T). Returns ms, or -1 when cuBLASLt has no algorithm.
static double cublaslt_ms(cublasLtHandle_t lt, const uint8_t *a, const uint8_t *b, uint16_t *d, int m, int n, int k,
			  const float *scale, void *ws, size_t ws_bytes)
{
	cublasLtMatmulDesc_t op = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
	cublasLtMatmulPreference_t pref = NULL;
	double ms = -1;
	cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
	cublasLtMatmulHeuristicResult_t heur;
	int found = 0;
	float alpha = 1.0f, beta = 0.0f;
	if (cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F) ||
	    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) ||
	    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) ||
	    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale, sizeof scale) ||
	    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale, sizeof scale) ||
	    cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, k, n, k) ||
	    cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, k, m, k) ||
	    cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, n, m, n) || cublasLtMatmulPreferenceCreate(&pref) ||
	    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
						 sizeof ws_bytes) ||
	    cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &heur, &found) || !found)
		goto out;
	ms = median_ms(
		[&] {
			cublasLtMatmul(lt, op, &alpha, b, la, a, lb, &beta, d, ld, d, ld, &heur.algo, ws, ws_bytes, 0);
		},
		20);
out:
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (la)
		cublasLtMatrixLayoutDestroy(la);
	if (lb)
		cublasLtMatrixLayoutDestroy(lb);
	if (ld)
		cublasLtMatrixLayoutDestroy(ld);
	if (op)
		cublasLtMatmulDescDestroy(op);
	return ms;
}

static void bench_gemm(const krn_device &dev, double copy_gbps)
{
	struct shape {
		const char *name;
		int n, k;
	} shapes[] = {
		{"dsv3 wq_b", 24576, 1536},   {"dsv3 wkv_a", 576, 7168},    {"dsv3 dense w1|w3", 36864, 7168},
		{"dsv3 dense w2", 7168, 18432}, {"dsv3 wo", 7168, 16384},   {"qwen3-30b q_proj", 4096, 2048},
		{"qwen3-30b o_proj", 2048, 4096},
	};
	const int ms_[] = {1, 64, 4096};
	cublasLtHandle_t lt;
	const bool have_lt = cublasLtCreate(&lt) == CUBLAS_STATUS_SUCCESS;
	const size_t ws_bytes = 64 << 20;
	void *ws = dalloc(ws_bytes, 0, 0, 0);
	float *one = (float *)dalloc(4, 1, 1.0f, 1.0f);
	printf("\nFP8 GEMM d(m,n) = a(m,k) b(n,k)^T, bf16 out; peak FP8 dense %.0f TFLOP/s (datasheet), copy %.0f GB/s\n",
	       dev.fp8_tflops_datasheet, copy_gbps);
	printf("%-18s %6s %6s %6s | %9s %8s %7s %7s | %12s\n", "layer", "m", "n", "k", "ours us", "TFLOP/s", "%peak",
	       "%HBM", "cuBLASLt TF/s");
	for (const shape &s : shapes)
		for (int m : ms_) {
			const int k = s.k, n = s.n, nkb = (k + 127) / 128, nnb = (n + 127) / 128;
			struct krn_fp8_gemm_args g = {};
			g.a = (uint8_t *)dalloc((size_t)m * k, 0, 0, 0);
			g.a_s = (float *)dalloc(sizeof(float) * m * nkb, 1, 0.001f, 0.01f);
			g.b = (uint8_t *)dalloc((size_t)n * k, 0, 0, 0);
			g.b_s = (float *)dalloc(sizeof(float) * nnb * nkb, 1, 0.001f, 0.01f);
			g.d = (uint16_t *)dalloc((size_t)m * n * 2, 2, 0, 0);
			g.m = m;
			g.n = n;
			g.k = k;
			g.lda = k;
			g.ldd = n;
			int rc = krn_fp8_gemm(&g, NULL);
			double ms = rc ? -1 : median_ms([&] { krn_fp8_gemm(&g, NULL); }, 20);
			struct krn_gemm_plan p;
			krn_plan_gemm(m, n, k, 0, &p);
			const double tf = p.flops / (ms * 1e-3) / 1e12, gbps = p.bytes / (ms * 1e-3) / 1e9;
			double lms = have_lt ? cublaslt_ms(lt, g.a, g.b, g.d, m, n, k, one, ws, ws_bytes) : -1;
			char peer[32] = "n/a";
			if (lms > 0)
				snprintf(peer, sizeof peer, "%.1f", p.flops / (lms * 1e-3) / 1e12);
			printf("%-18s %6d %6d %6d | %9.1f %8.1f %6.1f%% %6.1f%% | %12s%s\n", s.name, m, n, k, ms * 1e3, tf,
			       100 * tf / dev.fp8_tflops_datasheet, 100 * gbps / copy_gbps, peer, rc ? "  (launch failed)" : "");
			cudaFree((void *)g.a);
			cudaFree((void *)g.a_s);
			cudaFree((void *)g.b);
			cudaFree((void *)g.b_s);
			cudaFree(g.d);
		}
	if (have_lt)
		cublasLtDestroy(lt);
	cudaFree(ws);
	cudaFree(one);
}

// DeepSeek-V3 routed experts: 256 experts, top 8 in 8 groups (4 kept), dim 7168, inter 2048.
static void bench_moe(double copy_gbps)
{
	const int E = 256, K = 8, dim = 7168, inter = 2048, n13 = 2 * inter;
	const int nkb_d = dim / 128, nkb_i = inter / 128;
	uint8_t *w13 = (uint8_t *)dalloc((size_t)E * n13 * dim, 0, 0, 0), *w2 = (uint8_t *)dalloc((size_t)E * dim * inter, 0, 0, 0);
	float *s13 = (float *)dalloc(sizeof(float) * E * (n13 / 128) * nkb_d, 1, 1e-4f, 1e-3f);
	float *s2 = (float *)dalloc(sizeof(float) * E * (dim / 128) * nkb_i, 1, 1e-4f, 1e-3f);
	float *bias = (float *)dalloc(sizeof(float) * E, 1, -0.1f, 0.1f);
	struct krn_route_cfg rc = {E, K, 1, 8, 4, 1, 2.5f};
	printf("\nMoE routed experts (DeepSeek-V3: %d experts, top %d, dim %d, inter %d), FP8 weights\n", E, K, dim, inter);
	printf("%-12s | %10s %8s | %10s %12s %6s\n", "tokens", "layer us", "experts", "floor us", "GB/s weights", "x floor");
	const int toks[] = {1, 64, 256, 4096};
	for (int t : toks) {
		int rows_b, tiles_b;
		krn_plan_moe_bounds(t, K, E, &rows_b, &tiles_b);
		uint16_t *x = (uint16_t *)dalloc((size_t)t * dim * 2, 2, -2, 2);
		float *logits = (float *)dalloc(sizeof(float) * t * E, 1, -4, 4);
		uint8_t *xq = (uint8_t *)dalloc((size_t)t * dim, 0, 0, 0), *hq = (uint8_t *)dalloc((size_t)rows_b * inter, 0, 0, 0);
		float *xs = (float *)dalloc(sizeof(float) * t * nkb_d, 1, 1, 1), *hs = (float *)dalloc(sizeof(float) * rows_b * nkb_i, 1, 1, 1);
		int *idx = (int *)dalloc(sizeof(int) * t * K, 1, 0, 0), *a_row = (int *)dalloc(sizeof(int) * rows_b, 1, 0, 0);
		int *entry = (int *)dalloc(sizeof(int) * t * K, 1, 0, 0), *tile = (int *)dalloc(sizeof(int) * tiles_b, 1, 0, 0);
		int *start = (int *)dalloc(sizeof(int) * (E + 1), 1, 0, 0);
		float *w = (float *)dalloc(sizeof(float) * t * K, 1, 0, 0), *out = (float *)dalloc(sizeof(float) * t * dim, 1, 0, 0);
		uint16_t *h = (uint16_t *)dalloc((size_t)rows_b * n13 * 2, 2, 0, 0), *y = (uint16_t *)dalloc((size_t)rows_b * dim * 2, 2, 0, 0);
		struct krn_fp8_gemm_args g1 = {}, g2 = {};
		g1.a = xq, g1.a_s = xs, g1.b = w13, g1.b_s = s13, g1.d = h, g1.m = rows_b, g1.n = n13, g1.k = dim;
		g1.lda = dim, g1.ldd = n13, g1.tile_expert = tile, g1.a_row = a_row;
		g2.a = hq, g2.a_s = hs, g2.b = w2, g2.b_s = s2, g2.d = y, g2.m = rows_b, g2.n = dim, g2.k = inter;
		g2.lda = inter, g2.ldd = dim, g2.tile_expert = tile, g2.a_row = a_row, g2.a_sorted = 1;
		int err = 0;
		auto layer = [&] {
			err |= krn_act_quant(x, dim, xq, xs, t, dim, NULL);
			err |= krn_moe_route(logits, bias, &rc, t, idx, w, NULL);
			err |= krn_moe_sort(idx, t, K, E, a_row, entry, tile, start, rows_b, tiles_b, NULL);
			err |= krn_fp8_gemm(&g1, NULL);
			err |= krn_silu_mul_quant(h, hq, hs, rows_b, inter, NULL);
			err |= krn_fp8_gemm(&g2, NULL);
			err |= krn_moe_combine(y, entry, w, out, t, K, dim, 0, NULL);
		};
		const double ms = median_ms(layer, 10);
		std::vector<int> hstart(E + 1);
		CK(cudaMemcpy(hstart.data(), start, sizeof(int) * (E + 1), cudaMemcpyDeviceToHost));
		int hit = 0;
		for (int e = 0; e < E; e++)
			hit += hstart[e + 1] > hstart[e];
		const double wbytes = (double)hit * ((double)n13 * dim + (double)dim * inter);
		const double floor_ms = wbytes / (copy_gbps * 1e9) * 1e3;
		char label[32];
		snprintf(label, sizeof label, t >= 4096 ? "prefill %d" : "decode %d", t);
		printf("%-12s | %10.1f %8d | %10.1f %12.0f %6.2f%s\n", label, ms * 1e3, hit, floor_ms * 1e3,
		       wbytes / (ms * 1e-3) / 1e9, ms / floor_ms, err ? "  (a launch failed)" : "");
		void *bufs[] = {x, logits, xq, hq, xs, hs, idx, a_row, entry, tile, start, w, out, h, y};
		for (void *b : bufs)
			cudaFree(b);
	}
	void *bufs[] = {w13, w2, s13, s2, bias};
	for (void *b : bufs)
		cudaFree(b);
}

static void bench_mla(double copy_gbps)
{
	const int r = 512, rd = 64, heads = 128, page = KRN_PAGE;
	printf("\nMLA decode (absorbed; %d heads, latent %d + rope %d, bf16 cache) vs copy %.0f GB/s\n", heads, r, rd,
	       copy_gbps);
	printf("%-8s %8s | %10s %10s %8s\n", "batch", "seq", "us", "GB/s", "%copy");
	const int cases[][2] = {{1, 4096}, {64, 4096}, {32, 32768}};
	for (auto &c : cases) {
		const int batch = c[0], seq = c[1], max_pages = (seq + page - 1) / page;
		std::vector<int> table((size_t)batch * max_pages), lens(batch, seq);
		for (size_t i = 0; i < table.size(); i++)
			table[i] = (int)i;
		struct krn_mla_args a = {};
		a.q_abs = (float *)dalloc(sizeof(float) * batch * heads * r, 1, -1, 1);
		a.q_pe = (float *)dalloc(sizeof(float) * batch * heads * rd, 1, -1, 1);
		a.kv_cache = (uint16_t *)dalloc(table.size() * page * r * 2, 2, -1, 1);
		a.pe_cache = (uint16_t *)dalloc(table.size() * page * rd * 2, 2, -1, 1);
		int *bt, *sl;
		CK(cudaMalloc(&bt, table.size() * sizeof(int)));
		CK(cudaMalloc(&sl, batch * sizeof(int)));
		CK(cudaMemcpy(bt, table.data(), table.size() * sizeof(int), cudaMemcpyHostToDevice));
		CK(cudaMemcpy(sl, lens.data(), batch * sizeof(int), cudaMemcpyHostToDevice));
		a.block_table = bt;
		a.seq_len = sl;
		a.out = (float *)dalloc(sizeof(float) * batch * heads * r, 1, 0, 0);
		a.batch = batch, a.n_heads = heads, a.r = r, a.rd = rd, a.page = page, a.max_pages = max_pages;
		a.scale = 0.07f;
		a.max_seq = seq;
		a.work_bytes = krn_plan_attn_work(batch, heads, KRN_ATTN_MAX_SPLITS, r);
		a.work = (float *)dalloc(a.work_bytes, 1, 0, 0);
		int err = 0;
		const double ms = median_ms([&] { err |= krn_mla_decode(&a, NULL); }, 10);
		const double bytes = (double)batch * ((double)seq * (r + rd) * 2 + (double)heads * (2.0 * r + rd) * 4);
		const double gbps = bytes / (ms * 1e-3) / 1e9;
		printf("%-8d %8d | %10.1f %10.0f %7.1f%%%s\n", batch, seq, ms * 1e3, gbps, 100 * gbps / copy_gbps,
		       err ? "  (launch failed)" : "");
		void *bufs[] = {(void *)a.q_abs, (void *)a.q_pe, (void *)a.kv_cache, (void *)a.pe_cache, bt, sl, a.out, a.work};
		for (void *b : bufs)
			cudaFree(b);
	}
}

int main(void)
{
	struct krn_device dev;
	int rc = krn_device_query(&dev);
	if (rc == KRN_ENODEV) {
		printf("skipped: no CUDA device\n");
		return 0;
	}
	if (rc || dev.sm_major != 9) {
		printf("skipped: %s\n", rc ? krn_strerror(rc) : "not an sm_90 device");
		return rc ? 1 : 0;
	}
	double copy = 0;
	CK(krn_device_copy_gbps((size_t)2 << 30, 20, &copy) ? cudaErrorUnknown : cudaSuccess);
	printf("device: %s, sm_%d%d, %d SMs, %.1f GB, L2 %.0f MB\n", dev.name, dev.sm_major, dev.sm_minor, dev.n_sm,
	       dev.mem_bytes / 1e9, dev.l2_bytes / 1e6);
	printf("HBM: datasheet %.0f GB/s, measured copy %.0f GB/s (read + write); FP8 dense %.0f, BF16 %.0f TFLOP/s "
	       "(datasheet rate x SMs x clock)\n",
	       dev.hbm_gbps_datasheet, copy, dev.fp8_tflops_datasheet, dev.bf16_tflops_datasheet);
	bench_gemm(dev, copy);
	bench_moe(copy);
	bench_mla(copy);
	return 0;
}
