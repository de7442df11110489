/* test_krn_plan.c — the GPU kernels' host side without a GPU (kernels/krn_plan.h): e4m3 and bf16
 * rounding against the OCP FP8 / IEEE values and a brute-force nearest search, act_quant scales,
 * the block-scaled GEMM reference against a plain dequantize-then-multiply, GEMM and attention
 * launch plans covering every output exactly, the router on hand-worked cases (group limit, the
 * correction bias, HF's 0.0 masking, ties), the MoE token sort's invariants and bounds, and the
 * paged KV layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/krn_plan.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f; }

/* ---- number formats -------------------------------------------------------------------------- */

static void test_e4m3_values(void **st)
{
	(void)st;
	/* OCP 8-bit floating point specification, E4M3: bias 7, max normal S.1111.110 = 448,
	 * min normal 2^-6, min subnormal 2^-9, S.1111.111 = NaN. */
	assert_true(krn_e4m3_to_float(0x7e) == 448.0f);
	assert_true(krn_e4m3_to_float(0xfe) == -448.0f);
	assert_true(krn_e4m3_to_float(0x08) == 0x1p-6f);
	assert_true(krn_e4m3_to_float(0x01) == 0x1p-9f);
	assert_true(krn_e4m3_to_float(0x38) == 1.0f);
	assert_true(krn_e4m3_to_float(0x3f) == 1.875f);
	assert_true(krn_e4m3_to_float(0x78) == 256.0f);
	assert_true(krn_e4m3_to_float(0x07) == 7 * 0x1p-9f);
	assert_true(isnan(krn_e4m3_to_float(0x7f)));
	assert_true(isnan(krn_e4m3_to_float(0xff)));
	for (int v = 0; v < 256; v++) /* every finite code round-trips */
		if ((v & 0x7f) != 0x7f)
			assert_int_equal(krn_e4m3_from_float(krn_e4m3_to_float((uint8_t)v)), v == 0x80 ? 0x80 : v);
	/* ties to even, subnormal and normal */
	assert_int_equal(krn_e4m3_from_float(1.0625f), 0x38);
	assert_int_equal(krn_e4m3_from_float(1.1875f), 0x3a);
	assert_int_equal(krn_e4m3_from_float(0x1p-10f), 0x00);
	assert_int_equal(krn_e4m3_from_float(1.5f * 0x1p-9f), 0x02);
	assert_int_equal(krn_e4m3_from_float(7.5f * 0x1p-9f), 0x08);
	assert_int_equal(krn_e4m3_from_float(1.01f * 0x1p-10f), 0x01);
	/* saturation (the device converts with __NV_SATFINITE) and NaN */
	assert_int_equal(krn_e4m3_from_float(464.0f), 0x7e);
	assert_int_equal(krn_e4m3_from_float(500.0f), 0x7e);
	assert_int_equal(krn_e4m3_from_float(-1e9f), 0xfe);
	assert_int_equal(krn_e4m3_from_float(INFINITY), 0x7e);
	assert_int_equal(krn_e4m3_from_float(NAN) & 0x7f, 0x7f);
}

static void test_e4m3_nearest(void **st)
{
	(void)st;
	/* brute force: the chosen code is at least as near as every other finite code */
	for (int it = 0; it < 20000; it++) {
		float x = ldexpf(frand(-1.0f, 1.0f), (int)(rnd() % 22) - 12);
		uint8_t c = krn_e4m3_from_float(x);
		double dc = fabs((double)krn_e4m3_to_float(c) - x);
		for (int v = 0; v < 256; v++)
			if ((v & 0x7f) != 0x7f)
				assert_true(dc <= fabs((double)krn_e4m3_to_float((uint8_t)v) - x));
	}
}

static void test_bf16(void **st)
{
	(void)st;
	assert_int_equal(krn_bf16_from_float(1.0f), 0x3f80);
	assert_int_equal(krn_bf16_from_float(-2.0f), 0xc000);
	assert_int_equal(krn_bf16_from_float(1.0f + 0x1p-8f), 0x3f80);       /* tie to even */
	assert_int_equal(krn_bf16_from_float(1.0f + 3 * 0x1p-8f), 0x3f82);   /* tie to even, upward */
	assert_int_equal(krn_bf16_from_float(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
	assert_true(isnan(krn_bf16_to_float(krn_bf16_from_float(NAN))));
	for (int it = 0; it < 20000; it++) {
		float x = ldexpf(frand(-1.0f, 1.0f), (int)(rnd() % 40) - 20);
		uint16_t c = krn_bf16_from_float(x);
		double dc = fabs((double)krn_bf16_to_float(c) - x);
		assert_true(dc <= fabs((double)krn_bf16_to_float((uint16_t)(c + 1)) - x));
		assert_true(dc <= fabs((double)krn_bf16_to_float((uint16_t)(c - 1)) - x));
	}
}

static void test_act_quant(void **st)
{
	(void)st;
	enum { M = 3, K = 144, LD = 160, G = 2 };
	uint16_t x[M * LD];
	uint8_t y[M * K];
	float s[M * G];
	for (int i = 0; i < M * LD; i++)
		x[i] = krn_bf16_from_float(frand(-3.0f, 3.0f));
	x[0 * LD + 5] = krn_bf16_from_float(-896.0f); /* row 0 group 0: amax 896 -> scale 2 */
	for (int i = 128; i < K; i++)
		x[1 * LD + i] = 0; /* row 1 group 1 (the 16-wide tail): all zero -> scale 1 */
	x[2 * LD + 150] = krn_bf16_from_float(1e6f); /* past k: must not count */
	krn_ref_act_quant(x, LD, y, s, M, K);
	assert_true(s[0] == 2.0f);
	assert_int_equal(y[5], 0xfe); /* -896 / 2 = -448 */
	assert_true(s[1 * G + 1] == 1.0f);
	for (int i = 128; i < K; i++)
		assert_int_equal(y[1 * K + i], 0);
	assert_true(s[2 * G + 1] < 1.0f);
	for (int r = 0; r < M; r++)
		for (int i = 0; i < K; i++) {
			/* the group's largest element maps to 448 exactly; every element within e4m3's half ulp */
			float xv = krn_bf16_to_float(x[r * LD + i]), q = krn_e4m3_to_float(y[r * K + i]) * s[r * G + i / 128];
			assert_true(fabsf(q - xv) <= fabsf(xv) * 0.0625f + s[r * G + i / 128] * 0x1p-10f);
		}
}

/* ---- GEMM ------------------------------------------------------------------------------------ */

static void test_gemm_plan(void **st)
{
	(void)st;
	static const int shapes[][3] = {{1, 7168, 2048}, {8, 576, 7168}, {9, 1536, 7168}, {64, 24576, 1536},
					{193, 7168, 18432}, {4096, 4096, 2048}, {4095, 2050, 144}, {300, 130, 16}};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
		struct krn_gemm_plan p;
		assert_int_equal(krn_plan_gemm(m, n, k, 0, &p), KRN_OK);
		if (m <= KRN_GEMM_SMALL_M) {
			assert_int_equal(p.kind, KRN_GEMM_SMALLM);
			assert_int_equal(p.bn, p.threads / 32 * KRN_GEMM_SMALL_COLS);
		} else {
			assert_int_equal(p.kind, KRN_GEMM_WGMMA);
			assert_int_equal(p.bm, 64 * p.warpgroups);
			assert_int_equal(p.threads, 128 * p.warpgroups);
			/* every row tile is covered exactly once */
			assert_true((long)p.grid_y * p.bm >= m && (long)(p.grid_y - 1) * p.bm < m);
			assert_true(p.smem_bytes <= 232448); /* sm_90 opt-in limit per block: 227 KB */
		}
		assert_true((long)p.grid_x * p.bn >= n && (long)(p.grid_x - 1) * p.bn < n);
		assert_true(p.flops == 2.0 * m * n * (double)k);
		assert_true(p.bytes >= (double)n * k + (double)m * k + 2.0 * m * n);
	}
	struct krn_gemm_plan p;
	assert_int_equal(krn_plan_gemm(100, 7168, 2048, 5, &p), KRN_OK);
	assert_int_equal(p.kind, KRN_GEMM_WGMMA);
	assert_int_equal(p.bm, KRN_GEMM_BM);
	assert_int_equal(p.grid_y, 5);
	assert_int_equal(krn_plan_gemm(0, 128, 128, 0, &p), KRN_EINVAL);
	assert_int_equal(krn_plan_gemm(16, 128, 100, 0, &p), KRN_EUNSUPPORTED);
	assert_int_equal(krn_plan_gemm(16, 127, 128, 0, &p), KRN_EUNSUPPORTED);
	assert_int_equal(krn_plan_gemm(128 * 70000, 128, 128, 0, &p), KRN_EUNSUPPORTED);
}

/* fp8_gemm reference vs dequantize-everything-then-multiply (weight_dequant, then x @ w.T). */
static void test_ref_gemm(void **st)
{
	(void)st;
	enum { M = 5, N = 260, K = 272, NKB = 3, NNB = 3 };
	uint8_t *a = malloc(M * K), *b = malloc(N * K);
	float as[M * NKB], bs[NNB * NKB];
	double *d = malloc(sizeof(double) * M * N);
	for (int i = 0; i < M * K; i++)
		a[i] = (uint8_t)(rnd() & 0xff) & 0xf7; /* no NaN codes */
	for (int i = 0; i < N * K; i++)
		b[i] = (uint8_t)(rnd() & 0xff) & 0xf7;
	for (int i = 0; i < M * NKB; i++)
		as[i] = frand(0.01f, 2.0f);
	for (int i = 0; i < NNB * NKB; i++)
		bs[i] = frand(0.01f, 2.0f);
	krn_ref_fp8_gemm(a, as, K, b, bs, d, M, N, K, NULL, NULL);
	for (int r = 0; r < M; r++)
		for (int c = 0; c < N; c++) {
			double want = 0.0;
			for (int i = 0; i < K; i++)
				want += (double)krn_e4m3_to_float(a[r * K + i]) * as[r * NKB + i / 128] *
					krn_e4m3_to_float(b[c * K + i]) * bs[(c / 128) * NKB + i / 128];
			assert_true(fabs(d[r * N + c] - want) <= 1e-9 * (1.0 + fabs(want)));
		}
	free(a);
	free(b);
	free(d);
}

/* ---- router ---------------------------------------------------------------------------------- */

static void test_route_sigmoid_groups(void **st)
{
	(void)st;
	/* 8 experts in 4 groups of 2, 2 groups kept, top 2. Scores sigmoid(0) = 0.5, sigmoid(ln 3)
	 * = 0.75; choice = score + bias:
	 *   g0: 0.6 0.5 (sum 1.1)  g1: 0.8 0.0 (0.8)  g2: 0.95 0.7 (1.65)  g3: 1.4 -0.4 (1.0)
	 * groups 2 and 0 are kept, so expert 6 (the best choice, 1.4) is out; top 2 of the kept:
	 * e4 (0.95), e5 (0.7). Weights from the unbiased scores 0.75, 0.5, normalised, x 2.5. */
	const float logits[8] = {0, 0, 0, 0, logf(3.0f), 0, 0, 0};
	const float bias[8] = {0.1f, 0.0f, 0.3f, -0.5f, 0.2f, 0.2f, 0.9f, -0.9f};
	struct krn_route_cfg c = {.n_experts = 8, .top_k = 2, .sigmoid = 1, .n_group = 4, .topk_group = 2,
				  .norm_topk_prob = 1, .route_scale = 2.5f};
	assert_int_equal(krn_plan_route_check(&c), KRN_OK);
	int idx[2];
	float w[2], scratch[16];
	krn_ref_route(logits, bias, &c, idx, w, scratch);
	assert_int_equal(idx[0], 4);
	assert_int_equal(idx[1], 5);
	assert_float_equal(w[0], 1.5f, 1e-5f);
	assert_float_equal(w[1], 1.0f, 1e-5f);
	/* one group: plain top-k on choice, expert 6 now wins */
	c.n_group = c.topk_group = 1;
	krn_ref_route(logits, bias, &c, idx, w, scratch);
	assert_int_equal(idx[0], 6);
	assert_int_equal(idx[1], 4);
	/* HF masks dropped groups to 0.0: with negative choices in the kept groups a dropped
	 * expert (0.0) outranks them. */
	const float neg[8] = {-3, -3, -3, -3, -3, -3, -3, -3};
	const float nb[8] = {-1, -1, 5, 5, -1, -1, -1, -1};
	c.n_group = 4;
	c.topk_group = 1;
	c.top_k = 3; /* topk_group * per = 2 < 3: invalid */
	assert_int_equal(krn_plan_route_check(&c), KRN_EINVAL);
	c.top_k = 2;
	c.topk_group = 1;
	krn_ref_route(neg, nb, &c, idx, w, scratch); /* group 1 kept (choices ~5.05), others 0.0 */
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 3);
	const float nb2[8] = {-1, -1, -0.5f, -0.9f, -1, -1, -1, -1};
	krn_ref_route(neg, nb2, &c, idx, w, scratch); /* g1 kept with choices < 0; masked 0.0 wins */
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1);
}

static void test_route_softmax(void **st)
{
	(void)st;
	const float logits[4] = {1, 3, 2, 3};
	struct krn_route_cfg c = {.n_experts = 4, .top_k = 2, .sigmoid = 0, .n_group = 1, .topk_group = 1,
				  .norm_topk_prob = 0, .route_scale = 1.0f};
	int idx[2];
	float w[2], scratch[8];
	krn_ref_route(logits, NULL, &c, idx, w, scratch);
	assert_int_equal(idx[0], 1); /* tie: lower index first */
	assert_int_equal(idx[1], 3);
	const double z = exp(1) + 2 * exp(3) + exp(2);
	assert_float_equal(w[0], (float)(exp(3) / z), 1e-6f);
	c.norm_topk_prob = 1;
	krn_ref_route(logits, NULL, &c, idx, w, scratch);
	assert_float_equal(w[0], 0.5f, 1e-6f);
	assert_float_equal(w[1], 0.5f, 1e-6f);
	struct krn_route_cfg bad = c;
	bad.top_k = 5;
	assert_int_equal(krn_plan_route_check(&bad), KRN_EINVAL);
	bad = c;
	bad.n_group = 3;
	assert_int_equal(krn_plan_route_check(&bad), KRN_EINVAL);
}

/* ---- MoE token sort --------------------------------------------------------------------------- */

static void check_sort(int t, int k, int e, const int *idx)
{
	int rows_b, tiles_b;
	krn_plan_moe_bounds(t, k, e, &rows_b, &tiles_b);
	assert_int_equal(rows_b, tiles_b * KRN_GEMM_BM);
	int *a_row = malloc(sizeof(int) * rows_b), *entry = malloc(sizeof(int) * (t * k + 1));
	int *tile = malloc(sizeof(int) * tiles_b), *start = malloc(sizeof(int) * (e + 1));
	int *seen = calloc((size_t)rows_b, sizeof(int));
	int used = krn_plan_moe_sort(idx, t, k, e, a_row, entry, tile, start, rows_b, tiles_b);
	assert_true(used >= 0 && used <= tiles_b);
	assert_int_equal(start[0], 0);
	assert_int_equal(start[e], used * KRN_GEMM_BM);
	for (int x = 0; x < e; x++) {
		assert_int_equal(start[x] % KRN_GEMM_BM, 0);
		assert_true(start[x + 1] >= start[x]);
	}
	for (int i = 0; i < t * k; i++) {
		int r = entry[i], x = idx[i];
		assert_true(r >= start[x] && r < start[x + 1]); /* in its expert's segment */
		assert_int_equal(a_row[r], i / k);              /* reads its token */
		assert_int_equal(tile[r / KRN_GEMM_BM], x);
		assert_int_equal(seen[r]++, 0); /* one entry per row */
		if (i > 0) /* stable: later entries of the same expert sit later */
			for (int j = 0; j < i; j++)
				if (idx[j] == x)
					assert_true(entry[j] < r);
	}
	int filled = 0;
	for (int r = 0; r < rows_b; r++) {
		if (!seen[r])
			assert_int_equal(a_row[r], -1);
		filled += seen[r];
	}
	assert_int_equal(filled, t * k);
	for (int g = used; g < tiles_b; g++)
		assert_int_equal(tile[g], -1);
	free(a_row);
	free(entry);
	free(tile);
	free(start);
	free(seen);
}

static void test_moe_sort(void **st)
{
	(void)st;
	static const int cases[][3] = {{37, 3, 8}, {1, 8, 256}, {64, 8, 256}, {200, 2, 4}, {5, 1, 1}, {1, 1, 128}};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		int t = cases[c][0], k = cases[c][1], e = cases[c][2];
		int *idx = malloc(sizeof(int) * t * k);
		for (int i = 0; i < t * k; i++) /* distinct within a token, as top-k gives */
			for (;;) {
				int x = (int)(rnd() % (unsigned)e), dup = 0;
				for (int j = i - i % k; j < i; j++)
					dup |= idx[j] == x;
				if (!dup || k > e) {
					idx[i] = x;
					break;
				}
			}
		check_sort(t, k, e, idx);
		free(idx);
	}
	/* the bound is reached: 8 distinct experts for one token need 8 tiles */
	int rows_b, tiles_b;
	krn_plan_moe_bounds(1, 8, 256, &rows_b, &tiles_b);
	assert_int_equal(tiles_b, 8);
	krn_plan_moe_bounds(4096, 8, 256, &rows_b, &tiles_b);
	assert_int_equal(tiles_b, (4096 * 8 + 256 * 63) / 64);
	/* an expert id out of range is refused before anything is written past the arrays */
	int bad[2] = {0, 9}, ar[128], en[2], ti[2], stt[9];
	assert_int_equal(krn_plan_moe_sort(bad, 1, 2, 8, ar, en, ti, stt, 128, 2), -KRN_EINVAL);
}

/* ---- paged KV and attention ------------------------------------------------------------------- */

static void test_paged_and_splits(void **st)
{
	(void)st;
	const int table[2 * 3] = {4, 0, -1, 2, 3, 1};
	assert_int_equal(krn_paged_offset(table, 3, 64, 10, 0, 0), 4L * 64 * 10);
	assert_int_equal(krn_paged_offset(table, 3, 64, 10, 0, 65), (0L * 64 + 1) * 10);
	assert_int_equal(krn_paged_offset(table, 3, 64, 10, 0, 130), -1);
	assert_int_equal(krn_paged_offset(table, 3, 64, 10, 1, 191), (1L * 64 + 63) * 10);
	static const int cases[][4] = {{1, 1, 1, 132}, {1, 8, 4096, 132}, {64, 8, 4096, 132},
				       {2, 1, 100000, 132}, {1, 1, 65, 132}, {256, 16, 30, 132}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int splits, chunk, ms = cases[i][2];
		krn_plan_attn_splits(cases[i][0], cases[i][1], ms, cases[i][3], &splits, &chunk);
		assert_true(splits >= 1 && splits <= KRN_ATTN_MAX_SPLITS);
		assert_int_equal(chunk % KRN_ATTN_MIN_CHUNK, 0);
		assert_true((long)splits * chunk >= ms);         /* every position in a split */
		assert_true((long)(splits - 1) * chunk < ms);    /* no split wholly empty */
	}
	int splits, chunk;
	krn_plan_attn_splits(1, 1, 4096, 132, &splits, &chunk); /* one sequence: split as far as allowed */
	assert_int_equal(splits, 64);
	krn_plan_attn_splits(256, 8, 4096, 132, &splits, &chunk); /* enough blocks already */
	assert_int_equal(splits, 1);
	assert_int_equal(krn_plan_attn_work(2, 3, 4, 5), 2u * 3 * 4 * 6 * sizeof(float));
}

static void test_ref_attn(void **st)
{
	(void)st;
	/* the same keys and values in pages laid out in two different orders give the same output,
	 * and a one-position sequence returns its value row exactly */
	enum { D = 8, PAGE = 4, NP = 3, SEQ = 10 };
	uint16_t kc[2][NP * PAGE * D];
	float q[D];
	const int t1[NP] = {0, 1, 2}, t2[NP] = {2, 0, 1};
	for (int i = 0; i < D; i++)
		q[i] = frand(-1, 1);
	for (int p = 0; p < SEQ; p++)
		for (int i = 0; i < D; i++) {
			uint16_t v = krn_bf16_from_float(frand(-1, 1));
			kc[0][krn_paged_offset(t1, NP, PAGE, D, 0, p) + i] = v;
			kc[1][krn_paged_offset(t2, NP, PAGE, D, 0, p) + i] = v;
		}
	double o1[D], o2[D], o3[D];
	krn_ref_attn_head(q, D, kc[0], D, NULL, 0, NULL, 0, kc[0], D, D, t1, NP, PAGE, 0, SEQ, 0.3, o1);
	krn_ref_attn_head(q, D, kc[1], D, NULL, 0, NULL, 0, kc[1], D, D, t2, NP, PAGE, 0, SEQ, 0.3, o2);
	for (int i = 0; i < D; i++)
		assert_true(fabs(o1[i] - o2[i]) < 1e-12);
	krn_ref_attn_head(q, D, kc[0], D, NULL, 0, NULL, 0, kc[0], D, D, t1, NP, PAGE, 0, 1, 0.3, o3);
	for (int i = 0; i < D; i++)
		assert_true(o3[i] == krn_bf16_to_float(kc[0][i]));
	/* direct softmax over the contiguous layout (t1 is the identity) */
	double sc[SEQ], mx = -1e300, z = 0;
	for (int p = 0; p < SEQ; p++) {
		sc[p] = 0;
		for (int i = 0; i < D; i++)
			sc[p] += q[i] * (double)krn_bf16_to_float(kc[0][p * D + i]);
		sc[p] *= 0.3;
		mx = fmax(mx, sc[p]);
	}
	for (int p = 0; p < SEQ; p++)
		z += exp(sc[p] - mx);
	for (int i = 0; i < D; i++) {
		double want = 0;
		for (int p = 0; p < SEQ; p++)
			want += exp(sc[p] - mx) / z * krn_bf16_to_float(kc[0][p * D + i]);
		assert_true(fabs(o1[i] - want) < 1e-12);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e4m3_values),	   cmocka_unit_test(test_e4m3_nearest),
		cmocka_unit_test(test_bf16),		   cmocka_unit_test(test_act_quant),
		cmocka_unit_test(test_gemm_plan),	   cmocka_unit_test(test_ref_gemm),
		cmocka_unit_test(test_route_sigmoid_groups), cmocka_unit_test(test_route_softmax),
		cmocka_unit_test(test_moe_sort),	   cmocka_unit_test(test_paged_and_splits),
		cmocka_unit_test(test_ref_attn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
