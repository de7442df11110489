/* krn_plan.c — the GPU kernels' host side (kernels/krn_plan.h): launch plans, the MoE token sort,
 * the paged KV layout and the references the device tests compare against. Plain C, no CUDA: it
 * lives in engine/ so the CPU-only build and unit tests cover it; kernels/kernels.mk compiles it
 * into libkernels.a as well. */
#include <math.h>
#include <string.h>

#include "kernels/krn_plan.h"

static int cdiv(int a, int b) { return (a + b - 1) / b; }

/* ---- GEMM tiles ------------------------------------------------------------------------------ */

int krn_plan_gemm(int m, int n, int k, int grouped_tiles, struct krn_gemm_plan *p)
{
	memset(p, 0, sizeof(*p));
	if (m < 1 || n < 1 || k < 1 || grouped_tiles < 0)
		return KRN_EINVAL;
	if (k % 16 || n % 2) /* 16-byte cp.async rows of a and b; bf16 pairs of d */
		return KRN_EUNSUPPORTED;
	const int nkb = cdiv(k, KRN_GEMM_BK), nnb = cdiv(n, KRN_GEMM_BN);
	if (grouped_tiles) {
		p->kind = KRN_GEMM_WGMMA;
		p->bm = KRN_GEMM_BM;
		p->grid_y = grouped_tiles;
		m = grouped_tiles * KRN_GEMM_BM;
	} else if (m <= KRN_GEMM_SMALL_M) {
		/* Decode: one warp streams KRN_GEMM_SMALL_COLS weight rows for all m activation rows, so
		 * the weights (the bytes that bound it) are read once and spread over every SM. */
		p->kind = KRN_GEMM_SMALLM;
		p->threads = 256;
		p->bn = (p->threads / 32) * KRN_GEMM_SMALL_COLS;
		p->grid_x = cdiv(n, p->bn);
		p->grid_y = 1;
	} else {
		p->kind = KRN_GEMM_WGMMA;
		/* Two consumer warpgroups (128 rows) halve the weight reloads per row; below ~3 such
		 * tiles one warpgroup per 64 rows gives more blocks to spread over the SMs. */
		p->bm = m <= 192 ? 64 : 128;
		p->grid_y = cdiv(m, p->bm);
	}
	if (p->kind == KRN_GEMM_WGMMA) {
		p->bn = KRN_GEMM_BN;
		p->warpgroups = p->bm / 64;
		p->threads = 128 * p->warpgroups;
		p->grid_x = nnb;
		/* stages of (a tile + b tile), 1 KB alignment for the 128-byte swizzle atoms */
		p->smem_bytes = (size_t)KRN_GEMM_STAGES * ((size_t)p->bm * KRN_GEMM_BK + (size_t)KRN_GEMM_BN * KRN_GEMM_BK) +
				1024;
	}
	if (p->grid_x > 2147483647 / 2 || p->grid_y > 65535)
		return KRN_EUNSUPPORTED;
	p->flops = 2.0 * m * n * (double)k;
	p->bytes = (double)m * k + (double)n * k + 4.0 * m * nkb + 4.0 * nnb * nkb + 2.0 * m * n;
	return KRN_OK;
}

/* ---- number formats -------------------------------------------------------------------------- */

uint8_t krn_e4m3_from_float(float x)
{
	if (isnan(x))
		return 0x7f;
	const uint8_t sign = signbit(x) ? 0x80 : 0;
	const float a = fabsf(x);
	if (a >= 448.0f) /* saturate (464 and up would round past the largest finite value) */
		return sign | 0x7e;
	if (a < 0x1p-6f) /* subnormal: multiples of 2^-9; rint rounds half to even; 8 is 2^-6 */
		return sign | (uint8_t)rintf(a * 0x1p9f);
	int e2;
	frexpf(a, &e2); /* a = f * 2^e2, f in [0.5, 1) */
	int e = e2 - 1; /* a in [2^e, 2^(e+1)), e in [-6, 8] */
	int mant = (int)rintf(ldexpf(a, 3 - e)); /* in [8, 16] */
	if (mant == 16) {
		mant = 8;
		e++;
	}
	if (e + 7 > 15 || (e + 7 == 15 && mant - 8 == 7))
		return sign | 0x7e;
	return sign | (uint8_t)(((e + 7) << 3) | (mant - 8));
}

float krn_e4m3_to_float(uint8_t v)
{
	const int exp = (v >> 3) & 15, mant = v & 7;
	float a;
	if (exp == 15 && mant == 7)
		a = NAN;
	else if (exp == 0)
		a = ldexpf((float)mant, -9);
	else
		a = ldexpf(1.0f + mant / 8.0f, exp - 7);
	return (v & 0x80) ? -a : a;
}

uint16_t krn_bf16_from_float(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	if (isnan(x))
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

float krn_bf16_to_float(uint16_t v)
{
	uint32_t u = (uint32_t)v << 16;
	float x;
	memcpy(&x, &u, 4);
	return x;
}

void krn_ref_act_quant(const uint16_t *x, int ldx, uint8_t *y, float *s, int m, int k)
{
	const int nkb = cdiv(k, KRN_BLOCK);
	for (int r = 0; r < m; r++)
		for (int g = 0; g < nkb; g++) {
			const int k0 = g * KRN_BLOCK, k1 = k0 + KRN_BLOCK < k ? k0 + KRN_BLOCK : k;
			float amax = 0.0f;
			for (int i = k0; i < k1; i++)
				amax = fmaxf(amax, fabsf(krn_bf16_to_float(x[(size_t)r * ldx + i])));
			const float sc = amax > 0.0f ? amax / 448.0f : 1.0f;
			s[(size_t)r * nkb + g] = sc;
			for (int i = k0; i < k1; i++)
				y[(size_t)r * k + i] = krn_e4m3_from_float(krn_bf16_to_float(x[(size_t)r * ldx + i]) / sc);
		}
}

void krn_ref_fp8_gemm(const uint8_t *a, const float *a_s, int lda, const uint8_t *b, const float *b_s, double *d,
		      int m, int n, int k, const int *tile_expert, const int *a_row)
{
	const int nkb = cdiv(k, KRN_BLOCK), nnb = cdiv(n, KRN_BLOCK);
	for (int r = 0; r < m; r++) {
		int src = r, ex = 0;
		if (tile_expert) {
			ex = tile_expert[r / KRN_GEMM_BM];
			src = a_row[r];
			if (ex < 0 || src < 0)
				continue;
		}
		const uint8_t *ar = a + (size_t)src * lda;
		const float *as = a_s + (size_t)src * nkb;
		const uint8_t *be = b + (size_t)ex * n * k;
		const float *bs = b_s + (size_t)ex * nnb * nkb;
		for (int c = 0; c < n; c++) {
			double acc = 0.0;
			for (int g = 0; g < nkb; g++) {
				double part = 0.0;
				for (int i = g * KRN_BLOCK; i < k && i < (g + 1) * KRN_BLOCK; i++)
					part += (double)krn_e4m3_to_float(ar[i]) * krn_e4m3_to_float(be[(size_t)c * k + i]);
				acc += part * as[g] * bs[(size_t)(c / KRN_BLOCK) * nkb + g];
			}
			d[(size_t)r * n + c] = acc;
		}
	}
}

/* ---- MoE router and token sort ---------------------------------------------------------------- */

int krn_plan_route_check(const struct krn_route_cfg *c)
{
	if (c->n_experts < 1 || c->n_experts > 1024 || c->top_k < 1 || c->top_k > 32 || c->top_k > c->n_experts)
		return KRN_EINVAL;
	if (c->n_group < 1 || c->n_group > 32 || c->n_experts % c->n_group || c->topk_group < 1 || c->topk_group > c->n_group)
		return KRN_EINVAL;
	if (c->n_experts / c->n_group < 2 && c->n_group > 1) /* a group's score is its top-2 sum */
		return KRN_EINVAL;
	if (c->topk_group * (c->n_experts / c->n_group) < c->top_k)
		return KRN_EINVAL;
	return KRN_OK;
}

/* Largest of v[0..n) not taken; the first on ties (torch.topk order). Callers take fewer than n,
 * so one is always free (0 otherwise, never out of bounds). */
static int argmax_free(const float *v, int n, const unsigned char *taken)
{
	int best = -1;
	for (int i = 0; i < n; i++)
		if (!taken[i] && (best < 0 || v[i] > v[best]))
			best = i;
	return best < 0 ? 0 : best;
}

void krn_ref_route(const float *logits, const float *bias, const struct krn_route_cfg *c, int *idx, float *w,
		   float *scratch)
{
	const int E = c->n_experts, K = c->top_k;
	float *scores = scratch, *choice = scratch + E;
	unsigned char taken[1024] = {0};
	if (c->sigmoid) {
		for (int e = 0; e < E; e++) {
			scores[e] = 1.0f / (1.0f + expf(-logits[e]));
			choice[e] = scores[e] + (bias ? bias[e] : 0.0f);
		}
		if (c->n_group > 1) {
			const int G = c->n_group, per = E / G;
			float gs[1024];
			unsigned char on[1024] = {0};
			for (int g = 0; g < G; g++) { /* group score: the sum of its top-2 choices */
				const float *v = choice + g * per;
				int a = argmax_free(v, per, taken);
				taken[a] = 1;
				int b2 = argmax_free(v, per, taken);
				taken[a] = 0;
				gs[g] = v[a] + v[b2];
			}
			for (int i = 0; i < c->topk_group; i++)
				on[argmax_free(gs, G, on)] = 1;
			for (int e = 0; e < E; e++) /* HF masks the other groups to 0.0, not -inf */
				if (!on[e / per])
					choice[e] = 0.0f;
		}
	} else {
		float mx = logits[0], sum = 0.0f;
		for (int e = 1; e < E; e++)
			mx = fmaxf(mx, logits[e]);
		for (int e = 0; e < E; e++)
			sum += scores[e] = expf(logits[e] - mx);
		for (int e = 0; e < E; e++) {
			scores[e] /= sum;
			choice[e] = scores[e];
		}
	}
	float sum = 0.0f;
	for (int i = 0; i < K; i++) {
		int e = argmax_free(choice, E, taken);
		taken[e] = 1;
		idx[i] = e;
		w[i] = scores[e];
		sum += scores[e];
	}
	for (int i = 0; i < K; i++) {
		if (c->norm_topk_prob)
			w[i] /= c->sigmoid ? sum + 1e-20f : sum;
		w[i] *= c->route_scale;
	}
}

void krn_plan_moe_bounds(int t, int k, int e, int *rows_bound, int *tiles_bound)
{
	/* Each used expert wastes at most BM - 1 padding rows, and at most min(e, t * k) are used;
	 * the floor of the sum bounds the sum of the ceilings. */
	const long n = (long)t * k, used = n < e ? n : e;
	long tiles = (n + used * (KRN_GEMM_BM - 1)) / KRN_GEMM_BM;
	if (tiles < 1)
		tiles = 1;
	*tiles_bound = (int)tiles;
	*rows_bound = (int)tiles * KRN_GEMM_BM;
}

int krn_plan_moe_sort(const int *idx, int t, int k, int e, int *a_row, int *entry_row, int *tile_expert,
		      int *expert_start, int rows_bound, int tiles_bound)
{
	const int n = t * k;
	for (int i = 0; i < n; i++)
		if (idx[i] < 0 || idx[i] >= e)
			return -KRN_EINVAL;
	for (int x = 0; x <= e; x++)
		expert_start[x] = 0;
	for (int i = 0; i < n; i++)
		expert_start[idx[i] + 1]++;
	for (int x = 0; x < e; x++) /* segments start on tile boundaries */
		expert_start[x + 1] = expert_start[x] + cdiv(expert_start[x + 1], KRN_GEMM_BM) * KRN_GEMM_BM;
	if (expert_start[e] > rows_bound)
		return -KRN_EINVAL;
	for (int r = 0; r < rows_bound; r++)
		a_row[r] = -1;
	for (int g = 0; g < tiles_bound; g++)
		tile_expert[g] = -1;
	int fill[1024 + 1];
	int *f = e <= 1024 ? fill : NULL;
	if (!f)
		return -KRN_EINVAL;
	memset(f, 0, sizeof(int) * (size_t)e);
	for (int i = 0; i < n; i++) { /* (token, k) order within each expert: stable */
		const int x = idx[i], r = expert_start[x] + f[x]++;
		a_row[r] = i / k;
		entry_row[i] = r;
	}
	for (int x = 0; x < e; x++)
		for (int g = expert_start[x] / KRN_GEMM_BM; g < expert_start[x + 1] / KRN_GEMM_BM; g++)
			tile_expert[g] = x;
	return expert_start[e] / KRN_GEMM_BM;
}

/* ---- paged KV cache and attention splits ------------------------------------------------------ */

long krn_paged_offset(const int *block_table, int max_pages, int page, int row_elems, int b, int p)
{
	const int pg = block_table[(size_t)b * max_pages + p / page];
	if (pg < 0)
		return -1;
	return ((long)pg * page + p % page) * row_elems;
}

void krn_plan_attn_splits(int batch, int groups, int max_seq, int n_sm, int *splits, int *chunk)
{
	const long blocks = (long)(batch > 0 ? batch : 1) * (groups > 0 ? groups : 1);
	if (max_seq < 1) {
		*splits = 1;
		*chunk = KRN_ATTN_MIN_CHUNK;
		return;
	}
	long want = (2L * (n_sm > 0 ? n_sm : 1) + blocks - 1) / blocks;
	long most = cdiv(max_seq, KRN_ATTN_MIN_CHUNK);
	if (most > KRN_ATTN_MAX_SPLITS)
		most = KRN_ATTN_MAX_SPLITS;
	if (want > most)
		want = most;
	if (want < 1)
		want = 1;
	int c = cdiv(cdiv(max_seq, (int)want), KRN_ATTN_MIN_CHUNK) * KRN_ATTN_MIN_CHUNK;
	*chunk = c;
	*splits = cdiv(max_seq, c);
}

size_t krn_plan_attn_work(int batch, int heads, int splits, int dv)
{
	return (size_t)batch * heads * splits * ((size_t)dv + 1) * sizeof(float);
}

void krn_ref_attn_head(const float *q, int dk, const uint16_t *kcache, int key_elems, const float *q2, int dk2,
		       const uint16_t *k2cache, int k2_elems, const uint16_t *vcache, int val_elems, int dv,
		       const int *block_table, int max_pages, int page, int b, int seq_len, double scale,
		       double *out)
{
	double mx = -INFINITY, sum = 0.0;
	for (int d = 0; d < dv; d++)
		out[d] = 0.0;
	/* two passes (max, then weighted sum): exact softmax without a score buffer */
	for (int pass = 0; pass < 2; pass++)
		for (int p = 0; p < seq_len; p++) {
			const uint16_t *kr = kcache + krn_paged_offset(block_table, max_pages, page, key_elems, b, p);
			double sc = 0.0;
			for (int d = 0; d < dk; d++)
				sc += (double)q[d] * krn_bf16_to_float(kr[d]);
			if (q2) {
				const uint16_t *k2 = k2cache + krn_paged_offset(block_table, max_pages, page, k2_elems, b, p);
				for (int d = 0; d < dk2; d++)
					sc += (double)q2[d] * krn_bf16_to_float(k2[d]);
			}
			sc *= scale;
			if (pass == 0) {
				mx = sc > mx ? sc : mx;
				continue;
			}
			const double pr = exp(sc - mx);
			sum += pr;
			const uint16_t *vr = vcache + krn_paged_offset(block_table, max_pages, page, val_elems, b, p);
			for (int d = 0; d < dv; d++)
				out[d] += pr * krn_bf16_to_float(vr[d]);
		}
	for (int d = 0; d < dv && sum > 0.0; d++)
		out[d] /= sum;
}
