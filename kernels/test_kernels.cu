// test_kernels.cu — every kernel against a float64 / float32 host reference (kernels/krn_plan.h)
// on fresh random inputs at several shapes, ragged ones included; outputs are poisoned (NaN bytes)
// before each run so an unwritten element fails, and NaN never passes. Without a CUDA device (or
// driver) it prints "skipped: no CUDA device" and exits 0. Built and run by `make kernels-test`.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "kernels/kernels.h"
#include "kernels/krn_plan.h"

static int g_pass, g_fail;
static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (uint32_t)(g_rng >> 11);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() & 0xffffff) / 16777216.0f; }

#define CK(x)                                                                                                      \
	do {                                                                                                       \
		cudaError_t e_ = (x);                                                                              \
		if (e_ != cudaSuccess) {                                                                           \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));        \
			exit(2);                                                                                   \
		}                                                                                                  \
	} while (0)

static void check(bool ok, const char *what)
{
	if (ok) {
		g_pass++;
	} else {
		g_fail++;
		printf("FAIL: %s\n", what);
	}
}

// Device copy of host data; poison: a device buffer of n bytes filled with 0xff (NaN for bf16,
// float and e4m3; -1 for int, which is why int outputs are poisoned with 0x7f instead).
template <class T> static T *up(const T *h, size_t n)
{
	T *d;
	CK(cudaMalloc(&d, n * sizeof(T) + 16));
	CK(cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice));
	return d;
}
template <class T> static T *poisoned(size_t n, int byte = 0xff)
{
	T *d;
	CK(cudaMalloc(&d, n * sizeof(T) + 16));
	CK(cudaMemset(d, byte, n * sizeof(T) + 16));
	return d;
}
template <class T> static T *down(const T *d, size_t n)
{
	T *h = (T *)malloc(n * sizeof(T) + 1);
	CK(cudaDeviceSynchronize());
	CK(cudaMemcpy(h, d, n * sizeof(T), cudaMemcpyDeviceToHost));
	return h;
}

// ||got - want|| / ||want||; any NaN or Inf in got: +Inf.
static double rel_err(const float *got, const double *want, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(got[i]))
			return INFINITY;
		num += (got[i] - want[i]) * (got[i] - want[i]);
		den += want[i] * want[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void report(const char *name, double err, double tol)
{
	char what[256];
	snprintf(what, sizeof what, "%s: rel err %.3g (tol %.3g)", name, err, tol);
	printf("  %-60s %s\n", what, err <= tol ? "ok" : "FAIL");
	check(err <= tol, what);
}

static uint16_t *rand_bf16(size_t n, float lo, float hi)
{
	uint16_t *x = (uint16_t *)malloc(n * 2);
	for (size_t i = 0; i < n; i++)
		x[i] = krn_bf16_from_float(frand(lo, hi));
	return x;
}

// ---- act_quant --------------------------------------------------------------------------------

static void test_act_quant(int m, int k)
{
	const int nkb = (k + 127) / 128;
	uint16_t *x = rand_bf16((size_t)m * k, -5, 5);
	uint8_t *y = (uint8_t *)malloc((size_t)m * k);
	float *s = (float *)malloc(sizeof(float) * m * nkb);
	krn_ref_act_quant(x, k, y, s, m, k);
	uint16_t *dx = up(x, (size_t)m * k);
	uint8_t *dy = poisoned<uint8_t>((size_t)m * k);
	float *ds = poisoned<float>((size_t)m * nkb);
	check(krn_act_quant(dx, k, dy, ds, m, k, NULL) == KRN_OK, "act_quant launch");
	uint8_t *gy = down(dy, (size_t)m * k);
	float *gs = down(ds, (size_t)m * nkb);
	long bad = 0;
	for (long i = 0; i < (long)m * k; i++)
		bad += gy[i] != y[i];
	for (long i = 0; i < (long)m * nkb; i++)
		bad += !(gs[i] == s[i]);
	char what[128];
	snprintf(what, sizeof what, "act_quant m=%d k=%d: %ld mismatches (codes and scales exact)", m, k, bad);
	printf("  %-60s %s\n", what, bad ? "FAIL" : "ok");
	check(bad == 0, what);
	cudaFree(dx);
	cudaFree(dy);
	cudaFree(ds);
	free(x);
	free(y);
	free(s);
	free(gy);
	free(gs);
}

// ---- FP8 GEMM (dense and grouped) ---------------------------------------------------------------

struct fp8_mat {
	uint8_t *q;
	float *s;
};

// Weights (n, k) [x experts]: e4m3 codes of uniform values, block scales around 1e-3.
static fp8_mat rand_weights(int experts, int n, int k)
{
	const int nnb = (n + 127) / 128, nkb = (k + 127) / 128;
	fp8_mat w;
	w.q = (uint8_t *)malloc((size_t)experts * n * k);
	w.s = (float *)malloc(sizeof(float) * experts * nnb * nkb);
	for (size_t i = 0; i < (size_t)experts * n * k; i++)
		w.q[i] = krn_e4m3_from_float(frand(-448, 448));
	for (int i = 0; i < experts * nnb * nkb; i++)
		w.s[i] = frand(0.5e-3f, 2e-3f);
	return w;
}

static fp8_mat quant_acts(int m, int k, const uint16_t *x)
{
	fp8_mat a;
	a.q = (uint8_t *)malloc((size_t)m * k);
	a.s = (float *)malloc(sizeof(float) * m * ((k + 127) / 128));
	krn_ref_act_quant(x, k, a.q, a.s, m, k);
	return a;
}

// d (rows, n) bf16 from the device vs the double reference, rows with keep[r] == 0 skipped.
static double gemm_err(const uint16_t *got, const double *ref, int rows, int n, const int *keep)
{
	double num = 0, den = 0;
	for (int r = 0; r < rows; r++) {
		if (keep && !keep[r])
			continue;
		for (int c = 0; c < n; c++) {
			float g = krn_bf16_to_float(got[(size_t)r * n + c]);
			if (!isfinite(g))
				return INFINITY;
			double e = g - ref[(size_t)r * n + c];
			num += e * e;
			den += ref[(size_t)r * n + c] * ref[(size_t)r * n + c];
		}
	}
	return sqrt(num / (den > 0 ? den : 1));
}

static void test_gemm(int m, int n, int k)
{
	uint16_t *x = rand_bf16((size_t)m * k, -2, 2);
	fp8_mat a = quant_acts(m, k, x), b = rand_weights(1, n, k);
	double *ref = (double *)malloc(sizeof(double) * m * n);
	krn_ref_fp8_gemm(a.q, a.s, k, b.q, b.s, ref, m, n, k, NULL, NULL);
	const int nkb = (k + 127) / 128, nnb = (n + 127) / 128;
	struct krn_fp8_gemm_args g = {};
	g.a = up(a.q, (size_t)m * k);
	g.a_s = up(a.s, (size_t)m * nkb);
	g.b = up(b.q, (size_t)n * k);
	g.b_s = up(b.s, (size_t)nnb * nkb);
	g.d = poisoned<uint16_t>((size_t)m * n);
	g.m = m;
	g.n = n;
	g.k = k;
	g.lda = k;
	g.ldd = n;
	struct krn_gemm_plan p;
	krn_plan_gemm(m, n, k, 0, &p);
	int rc = krn_fp8_gemm(&g, NULL);
	check(rc == KRN_OK, "fp8_gemm launch");
	uint16_t *d = down(g.d, (size_t)m * n);
	char name[128];
	snprintf(name, sizeof name, "fp8_gemm %s m=%d n=%d k=%d", p.kind == KRN_GEMM_SMALLM ? "smallm" : "wgmma", m, n, k);
	report(name, gemm_err(d, ref, m, n, NULL), 8e-3); // bf16 output rounding: ~2e-3
	cudaFree((void *)g.a);
	cudaFree((void *)g.a_s);
	cudaFree((void *)g.b);
	cudaFree((void *)g.b_s);
	cudaFree(g.d);
	free(x);
	free(a.q);
	free(a.s);
	free(b.q);
	free(b.s);
	free(ref);
	free(d);
}

// Router + sort (device vs host, exactly) + grouped GEMM (vs reference) + combine.
static void test_moe(int t, int k, int E, int n, int kdim, int sigmoid, int n_group, int topk_group)
{
	char name[160];
	struct krn_route_cfg c = {E, k, sigmoid, n_group, topk_group, 1, sigmoid ? 2.5f : 1.0f};
	float *logits = (float *)malloc(sizeof(float) * t * E), *bias = (float *)malloc(sizeof(float) * E);
	for (int i = 0; i < t * E; i++)
		logits[i] = frand(-4, 4);
	for (int e = 0; e < E; e++)
		bias[e] = frand(-0.5f, 0.5f);
	int *idx = (int *)malloc(sizeof(int) * t * k);
	float *w = (float *)malloc(sizeof(float) * t * k), *scr = (float *)malloc(sizeof(float) * 2 * E);
	for (int i = 0; i < t; i++)
		krn_ref_route(logits + (size_t)i * E, sigmoid ? bias : NULL, &c, idx + i * k, w + i * k, scr);
	float *dlog = up(logits, (size_t)t * E), *dbias = up(bias, E);
	int *didx = poisoned<int>((size_t)t * k, 0x7f);
	float *dw = poisoned<float>((size_t)t * k);
	check(krn_moe_route(dlog, sigmoid ? dbias : NULL, &c, t, didx, dw, NULL) == KRN_OK, "moe_route launch");
	int *gidx = down(didx, (size_t)t * k);
	float *gw = down(dw, (size_t)t * k);
	long bad = 0;
	double werr = 0;
	for (int i = 0; i < t * k; i++) {
		bad += gidx[i] != idx[i];
		werr = fmax(werr, isfinite(gw[i]) ? fabs(gw[i] - w[i]) / fabs(w[i]) : INFINITY);
	}
	snprintf(name, sizeof name, "moe_route %s t=%d e=%d k=%d: %ld idx mismatches", sigmoid ? "sigmoid" : "softmax",
		 t, E, k, bad);
	printf("  %-60s %s\n", name, bad ? "FAIL" : "ok");
	check(bad == 0, name); // random logits: ties within rounding are vanishingly rare
	snprintf(name, sizeof name, "moe_route weights t=%d e=%d", t, E);
	report(name, werr, 1e-5);

	// sort: host plan vs device kernel
	int rows_b, tiles_b;
	krn_plan_moe_bounds(t, k, E, &rows_b, &tiles_b);
	int *a_row = (int *)malloc(sizeof(int) * rows_b), *entry = (int *)malloc(sizeof(int) * t * k);
	int *tile = (int *)malloc(sizeof(int) * tiles_b), *start = (int *)malloc(sizeof(int) * (E + 1));
	krn_plan_moe_sort(idx, t, k, E, a_row, entry, tile, start, rows_b, tiles_b);
	int *hidx = up(idx, (size_t)t * k);
	int *da_row = poisoned<int>(rows_b, 0x7f), *dentry = poisoned<int>((size_t)t * k, 0x7f);
	int *dtile = poisoned<int>(tiles_b, 0x7f), *dstart = poisoned<int>(E + 1, 0x7f);
	check(krn_moe_sort(hidx, t, k, E, da_row, dentry, dtile, dstart, rows_b, tiles_b, NULL) == KRN_OK,
	      "moe_sort launch");
	int *g1 = down(da_row, rows_b), *g2 = down(dentry, (size_t)t * k), *g3 = down(dtile, tiles_b),
	    *g4 = down(dstart, E + 1);
	bad = memcmp(g1, a_row, sizeof(int) * rows_b) != 0;
	bad += memcmp(g2, entry, sizeof(int) * t * k) != 0;
	bad += memcmp(g3, tile, sizeof(int) * tiles_b) != 0;
	bad += memcmp(g4, start, sizeof(int) * (E + 1)) != 0;
	snprintf(name, sizeof name, "moe_sort t=%d k=%d e=%d: arrays equal to the host plan", t, k, E);
	printf("  %-60s %s\n", name, bad ? "FAIL" : "ok");
	check(bad == 0, name);

	// grouped GEMM over the sorted rows (gate/up shape: n = 2 * inter), then combine
	uint16_t *x = rand_bf16((size_t)t * kdim, -2, 2);
	fp8_mat a = quant_acts(t, kdim, x), wts = rand_weights(E, n, kdim);
	const int nkb = (kdim + 127) / 128, nnb = (n + 127) / 128;
	double *ref = (double *)malloc(sizeof(double) * rows_b * n);
	krn_ref_fp8_gemm(a.q, a.s, kdim, wts.q, wts.s, ref, rows_b, n, kdim, tile, a_row);
	struct krn_fp8_gemm_args g = {};
	g.a = up(a.q, (size_t)t * kdim);
	g.a_s = up(a.s, (size_t)t * nkb);
	g.b = up(wts.q, (size_t)E * n * kdim);
	g.b_s = up(wts.s, (size_t)E * nnb * nkb);
	g.d = poisoned<uint16_t>((size_t)rows_b * n);
	g.m = rows_b;
	g.n = n;
	g.k = kdim;
	g.lda = kdim;
	g.ldd = n;
	g.tile_expert = dtile;
	g.a_row = da_row;
	check(krn_fp8_gemm(&g, NULL) == KRN_OK, "grouped fp8_gemm launch");
	uint16_t *d = down(g.d, (size_t)rows_b * n);
	int *keep = (int *)calloc(rows_b, sizeof(int));
	for (int r = 0; r < rows_b; r++)
		keep[r] = a_row[r] >= 0;
	snprintf(name, sizeof name, "grouped fp8_gemm t=%d k=%d e=%d n=%d kdim=%d", t, k, E, n, kdim);
	report(name, gemm_err(d, ref, rows_b, n, keep), 8e-3);

	// combine: out (t, n) = sum_k w * y[entry_row]
	float *dout = poisoned<float>((size_t)t * n);
	check(krn_moe_combine(g.d, dentry, dw, dout, t, k, n, 0, NULL) == KRN_OK, "moe_combine launch");
	float *out = down(dout, (size_t)t * n);
	double *cref = (double *)calloc((size_t)t * n, sizeof(double));
	for (int i = 0; i < t; i++)
		for (int j = 0; j < k; j++)
			for (int col = 0; col < n; col++)
				cref[(size_t)i * n + col] +=
					(double)gw[i * k + j] * krn_bf16_to_float(d[(size_t)entry[i * k + j] * n + col]);
	snprintf(name, sizeof name, "moe_combine t=%d k=%d n=%d", t, k, n);
	report(name, rel_err(out, cref, (size_t)t * n), 1e-6);

	cudaFree(dlog);
	cudaFree(dbias);
	cudaFree(didx);
	cudaFree(dw);
	cudaFree(hidx);
	cudaFree(da_row);
	cudaFree(dentry);
	cudaFree(dtile);
	cudaFree(dstart);
	cudaFree((void *)g.a);
	cudaFree((void *)g.a_s);
	cudaFree((void *)g.b);
	cudaFree((void *)g.b_s);
	cudaFree(g.d);
	cudaFree(dout);
	free(logits);
	free(bias);
	free(idx);
	free(w);
	free(scr);
	free(gidx);
	free(gw);
	free(a_row);
	free(entry);
	free(tile);
	free(start);
	free(g1);
	free(g2);
	free(g3);
	free(g4);
	free(x);
	free(a.q);
	free(a.s);
	free(wts.q);
	free(wts.s);
	free(ref);
	free(d);
	free(keep);
	free(out);
	free(cref);
}

// ---- RMSNorm, RoPE, SiLU·mul ---------------------------------------------------------------------

static void test_rmsnorm(int m, int n)
{
	float *res = (float *)malloc(sizeof(float) * m * n), *w = (float *)malloc(sizeof(float) * n);
	uint16_t *x = rand_bf16((size_t)m * n, -3, 3);
	for (int i = 0; i < m * n; i++)
		res[i] = frand(-3, 3);
	for (int i = 0; i < n; i++)
		w[i] = frand(0.5f, 1.5f);
	float *dres = up(res, (size_t)m * n), *dw = up(w, n);
	uint16_t *dx = up(x, (size_t)m * n), *dout = poisoned<uint16_t>((size_t)m * n);
	check(krn_rmsnorm(dres, n, dx, n, dw, dout, n, m, n, 1e-6f, NULL) == KRN_OK, "rmsnorm launch");
	float *gres = down(dres, (size_t)m * n);
	uint16_t *gout = down(dout, (size_t)m * n);
	double *want = (double *)malloc(sizeof(double) * m * n), *wres = (double *)malloc(sizeof(double) * m * n);
	float *got = (float *)malloc(sizeof(float) * m * n);
	for (int r = 0; r < m; r++) {
		double ss = 0;
		for (int i = 0; i < n; i++) {
			wres[(size_t)r * n + i] = res[(size_t)r * n + i] + krn_bf16_to_float(x[(size_t)r * n + i]);
			ss += wres[(size_t)r * n + i] * wres[(size_t)r * n + i];
		}
		const double inv = 1.0 / sqrt(ss / n + 1e-6);
		for (int i = 0; i < n; i++) {
			want[(size_t)r * n + i] = w[i] * wres[(size_t)r * n + i] * inv;
			got[(size_t)r * n + i] = krn_bf16_to_float(gout[(size_t)r * n + i]);
		}
	}
	char name[96];
	snprintf(name, sizeof name, "rmsnorm+residual res m=%d n=%d", m, n);
	report(name, rel_err(gres, wres, (size_t)m * n), 1e-7);
	snprintf(name, sizeof name, "rmsnorm+residual out m=%d n=%d", m, n);
	report(name, rel_err(got, want, (size_t)m * n), 5e-3);
	cudaFree(dres);
	cudaFree(dw);
	cudaFree(dx);
	cudaFree(dout);
	free(res);
	free(w);
	free(x);
	free(gres);
	free(gout);
	free(want);
	free(wres);
	free(got);
}

static void test_rope(int m, int heads, int head_stride, int off, int rd, int interleave)
{
	const int ld = heads * head_stride + 8, max_pos = 4096, half = rd / 2;
	uint16_t *x = rand_bf16((size_t)m * ld, -2, 2);
	int *pos = (int *)malloc(sizeof(int) * m);
	float *cs = (float *)malloc(sizeof(float) * max_pos * half), *sn = (float *)malloc(sizeof(float) * max_pos * half);
	for (int i = 0; i < m; i++)
		pos[i] = (int)(rnd() % max_pos);
	for (int p = 0; p < max_pos; p++)
		for (int i = 0; i < half; i++) {
			double f = p * pow(10000.0, -2.0 * i / rd);
			cs[p * half + i] = (float)cos(f);
			sn[p * half + i] = (float)sin(f);
		}
	struct krn_rope_args a = {};
	a.x = up(x, (size_t)m * ld);
	a.ldx = ld;
	a.m = m;
	a.n_heads = heads;
	a.head_stride = head_stride;
	a.rope_off = off;
	a.rope_dim = rd;
	a.interleave = interleave;
	a.pos = up(pos, m);
	a.cos = up(cs, (size_t)max_pos * half);
	a.sin = up(sn, (size_t)max_pos * half);
	a.max_pos = max_pos;
	check(krn_rope(&a, NULL) == KRN_OK, "rope launch");
	uint16_t *g = down(a.x, (size_t)m * ld);
	double *want = (double *)malloc(sizeof(double) * m * ld);
	float *got = (float *)malloc(sizeof(float) * m * ld);
	for (size_t i = 0; i < (size_t)m * ld; i++) {
		want[i] = krn_bf16_to_float(x[i]); // untouched elements must stay exactly
		got[i] = krn_bf16_to_float(g[i]);
	}
	for (int r = 0; r < m; r++)
		for (int h = 0; h < heads; h++)
			for (int i = 0; i < half; i++) {
				size_t base = (size_t)r * ld + (size_t)h * head_stride + off;
				size_t i0 = base + (interleave ? 2 * i : i), i1 = base + (interleave ? 2 * i + 1 : i + half);
				double x0 = krn_bf16_to_float(x[i0]), x1 = krn_bf16_to_float(x[i1]);
				double c = cs[pos[r] * half + i], s = sn[pos[r] * half + i];
				want[i0] = x0 * c - x1 * s;
				want[i1] = x1 * c + x0 * s;
			}
	char name[96];
	snprintf(name, sizeof name, "rope %s m=%d heads=%d rd=%d", interleave ? "interleaved" : "half-split", m, heads, rd);
	report(name, rel_err(got, want, (size_t)m * ld), 5e-3);
	cudaFree(a.x);
	cudaFree((void *)a.pos);
	cudaFree((void *)a.cos);
	cudaFree((void *)a.sin);
	free(x);
	free(pos);
	free(cs);
	free(sn);
	free(g);
	free(want);
	free(got);
}

static void test_silu(int m, int inter)
{
	const int nkb = (inter + 127) / 128;
	uint16_t *gu = rand_bf16((size_t)m * 2 * inter, -4, 4);
	uint16_t *dgu = up(gu, (size_t)m * 2 * inter), *dout = poisoned<uint16_t>((size_t)m * inter);
	uint8_t *dy = poisoned<uint8_t>((size_t)m * inter);
	float *ds = poisoned<float>((size_t)m * nkb);
	check(krn_silu_mul(dgu, dout, m, inter, NULL) == KRN_OK, "silu_mul launch");
	check(krn_silu_mul_quant(dgu, dy, ds, m, inter, NULL) == KRN_OK, "silu_mul_quant launch");
	uint16_t *go = down(dout, (size_t)m * inter);
	uint8_t *gy = down(dy, (size_t)m * inter);
	float *gs = down(ds, (size_t)m * nkb);
	double *want = (double *)malloc(sizeof(double) * m * inter);
	float *got = (float *)malloc(sizeof(float) * m * inter), *gotq = (float *)malloc(sizeof(float) * m * inter);
	for (int r = 0; r < m; r++)
		for (int i = 0; i < inter; i++) {
			double g = krn_bf16_to_float(gu[(size_t)r * 2 * inter + i]);
			double u = krn_bf16_to_float(gu[(size_t)r * 2 * inter + inter + i]);
			want[(size_t)r * inter + i] = g / (1 + exp(-g)) * u;
			got[(size_t)r * inter + i] = krn_bf16_to_float(go[(size_t)r * inter + i]);
			gotq[(size_t)r * inter + i] = krn_e4m3_to_float(gy[(size_t)r * inter + i]) * gs[r * nkb + i / 128];
		}
	char name[96];
	snprintf(name, sizeof name, "silu_mul m=%d inter=%d", m, inter);
	report(name, rel_err(got, want, (size_t)m * inter), 5e-3);
	snprintf(name, sizeof name, "silu_mul_quant m=%d inter=%d (e4m3: 2^-4 half-ulp)", m, inter);
	report(name, rel_err(gotq, want, (size_t)m * inter), 4e-2);
	cudaFree(dgu);
	cudaFree(dout);
	cudaFree(dy);
	cudaFree(ds);
	free(gu);
	free(go);
	free(gy);
	free(gs);
	free(want);
	free(got);
	free(gotq);
}

// ---- attention ----------------------------------------------------------------------------------

// Pages handed out in a shuffled order so that a wrong page lookup shows.
static int *shuffled_table(int batch, int max_pages, int *n_pages)
{
	int *t = (int *)malloc(sizeof(int) * batch * max_pages);
	const int n = batch * max_pages;
	for (int i = 0; i < n; i++)
		t[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rnd() % (unsigned)(i + 1)), tmp = t[i];
		t[i] = t[j];
		t[j] = tmp;
	}
	*n_pages = n;
	return t;
}

static void test_mla(int batch, int heads, const int *seq)
{
	const int r = 512, rd = 64, page = KRN_PAGE;
	int max_seq = 0;
	for (int b = 0; b < batch; b++)
		max_seq = seq[b] > max_seq ? seq[b] : max_seq;
	const int max_pages = (max_seq + page - 1) / page + 1;
	int n_pages;
	int *table = shuffled_table(batch, max_pages, &n_pages);
	uint16_t *kv = rand_bf16((size_t)n_pages * page * r, -1, 1), *pe = rand_bf16((size_t)n_pages * page * rd, -1, 1);
	float *qa = (float *)malloc(sizeof(float) * batch * heads * r), *qp = (float *)malloc(sizeof(float) * batch * heads * rd);
	for (int i = 0; i < batch * heads * r; i++)
		qa[i] = frand(-1, 1);
	for (int i = 0; i < batch * heads * rd; i++)
		qp[i] = frand(-1, 1);
	const float scale = 1.0f / sqrtf(192.0f);
	struct krn_mla_args a = {};
	a.q_abs = up(qa, (size_t)batch * heads * r);
	a.q_pe = up(qp, (size_t)batch * heads * rd);
	a.kv_cache = up(kv, (size_t)n_pages * page * r);
	a.pe_cache = up(pe, (size_t)n_pages * page * rd);
	a.block_table = up(table, (size_t)batch * max_pages);
	a.seq_len = up(seq, batch);
	a.out = poisoned<float>((size_t)batch * heads * r);
	a.batch = batch;
	a.n_heads = heads;
	a.r = r;
	a.rd = rd;
	a.page = page;
	a.max_pages = max_pages;
	a.scale = scale;
	a.max_seq = max_seq;
	a.work_bytes = krn_plan_attn_work(batch, heads, KRN_ATTN_MAX_SPLITS, r);
	a.work = poisoned<float>(a.work_bytes / sizeof(float));
	check(krn_mla_decode(&a, NULL) == KRN_OK, "mla_decode launch");
	float *got = down(a.out, (size_t)batch * heads * r);
	double *want = (double *)malloc(sizeof(double) * batch * heads * r);
	for (int b = 0; b < batch; b++)
		for (int h = 0; h < heads; h++) {
			size_t o = (size_t)b * heads + h;
			krn_ref_attn_head(qa + o * r, r, kv, r, qp + o * rd, rd, pe, rd, kv, r, r, table, max_pages, page, b,
					  seq[b], scale, want + o * r);
		}
	char name[96];
	snprintf(name, sizeof name, "mla_decode batch=%d heads=%d max_seq=%d", batch, heads, max_seq);
	report(name, rel_err(got, want, (size_t)batch * heads * r), 1e-4);
	cudaFree((void *)a.q_abs);
	cudaFree((void *)a.q_pe);
	cudaFree((void *)a.kv_cache);
	cudaFree((void *)a.pe_cache);
	cudaFree((void *)a.block_table);
	cudaFree((void *)a.seq_len);
	cudaFree(a.out);
	cudaFree(a.work);
	free(table);
	free(kv);
	free(pe);
	free(qa);
	free(qp);
	free(got);
	free(want);
}

static void test_gqa(int batch, int hq, int hkv, int d, const int *seq)
{
	const int page = KRN_PAGE;
	int max_seq = 0;
	for (int b = 0; b < batch; b++)
		max_seq = seq[b] > max_seq ? seq[b] : max_seq;
	const int max_pages = (max_seq + page - 1) / page + 1;
	int n_pages;
	int *table = shuffled_table(batch, max_pages, &n_pages);
	const size_t cache = (size_t)n_pages * page * hkv * d;
	uint16_t *k = rand_bf16(cache, -1, 1), *v = rand_bf16(cache, -1, 1);
	float *q = (float *)malloc(sizeof(float) * batch * hq * d);
	for (int i = 0; i < batch * hq * d; i++)
		q[i] = frand(-2, 2);
	const float scale = 1.0f / sqrtf((float)d);
	struct krn_gqa_args a = {};
	a.q = up(q, (size_t)batch * hq * d);
	a.k_cache = up(k, cache);
	a.v_cache = up(v, cache);
	a.block_table = up(table, (size_t)batch * max_pages);
	a.seq_len = up(seq, batch);
	a.out = poisoned<float>((size_t)batch * hq * d);
	a.batch = batch;
	a.n_heads = hq;
	a.n_kv_heads = hkv;
	a.d = d;
	a.page = page;
	a.max_pages = max_pages;
	a.scale = scale;
	a.max_seq = max_seq;
	a.work_bytes = krn_plan_attn_work(batch, hq, KRN_ATTN_MAX_SPLITS, d);
	a.work = poisoned<float>(a.work_bytes / sizeof(float));
	check(krn_gqa_decode(&a, NULL) == KRN_OK, "gqa_decode launch");
	float *got = down(a.out, (size_t)batch * hq * d);
	double *want = (double *)malloc(sizeof(double) * batch * hq * d);
	for (int b = 0; b < batch; b++)
		for (int h = 0; h < hq; h++) {
			size_t o = (size_t)b * hq + h;
			int kvh = h / (hq / hkv);
			krn_ref_attn_head(q + o * d, d, k + (size_t)kvh * d, hkv * d, NULL, 0, NULL, 0, v + (size_t)kvh * d,
					  hkv * d, d, table, max_pages, page, b, seq[b], scale, want + o * d);
		}
	char name[96];
	snprintf(name, sizeof name, "gqa_decode batch=%d hq=%d hkv=%d d=%d max_seq=%d", batch, hq, hkv, d, max_seq);
	report(name, rel_err(got, want, (size_t)batch * hq * d), 1e-4);
	cudaFree((void *)a.q);
	cudaFree((void *)a.k_cache);
	cudaFree((void *)a.v_cache);
	cudaFree((void *)a.block_table);
	cudaFree((void *)a.seq_len);
	cudaFree(a.out);
	cudaFree(a.work);
	free(table);
	free(k);
	free(v);
	free(q);
	free(got);
	free(want);
}

int main(void)
{
	struct krn_device dev;
	int rc = krn_device_query(&dev);
	if (rc == KRN_ENODEV) {
		printf("skipped: no CUDA device\n");
		printf("0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	if (rc) {
		printf("device query failed: %s\n", krn_strerror(rc));
		return 1;
	}
	printf("device: %s, sm_%d%d, %d SMs, %.1f GB\n", dev.name, dev.sm_major, dev.sm_minor, dev.n_sm,
	       dev.mem_bytes / 1e9);
	if (dev.sm_major != 9) {
		printf("skipped: kernels are built for sm_90a; this device is sm_%d%d\n", dev.sm_major, dev.sm_minor);
		printf("0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	test_act_quant(1, 128);
	test_act_quant(7, 7168);
	test_act_quant(33, 144);
	test_gemm(1, 7168, 2048);   // decode, small-m kernel
	test_gemm(8, 576, 7168);    // wkv_a shape at the small-m limit
	test_gemm(9, 1536, 512);    // just past it: wgmma, one warpgroup
	test_gemm(100, 4096, 2048); // wgmma 64-row tiles, ragged m
	test_gemm(300, 130, 272);   // wgmma 128-row tiles, ragged m, n and k
	test_gemm(256, 1024, 7168); // 128-row tiles, 56 K blocks
	test_moe(1, 8, 256, 512, 1024, 1, 8, 4);   // DeepSeek-V3 routing, decode
	test_moe(77, 8, 64, 256, 512, 1, 8, 4);     // ragged token count
	test_moe(300, 8, 128, 384, 256, 0, 1, 1);   // Qwen3 softmax top-8
	test_moe(1000, 2, 8, 130, 144, 0, 1, 1);    // ragged n and k
	test_rmsnorm(1, 7168);
	test_rmsnorm(17, 2048);
	test_rope(5, 16, 192, 128, 64, 1);  // MLA q_pe inside each head, interleaved
	test_rope(9, 4, 128, 0, 128, 0);    // qwen3 half-split
	test_silu(3, 2048);
	test_silu(65, 144);
	const int s1[3] = {1, 700, 4100}, s2[4] = {64, 65, 3, 2000}, s3[1] = {130};
	test_mla(3, 16, s1);
	test_mla(4, 128, s2);
	test_mla(1, 32, s3);
	test_gqa(3, 32, 4, 128, s1);
	test_gqa(4, 16, 16, 64, s2);
	test_gqa(2, 8, 1, 256, s1 + 1);
	printf("%d passed, %d failed, 0 skipped\n", g_pass, g_fail);
	return g_fail ? 1 : 0;
}
