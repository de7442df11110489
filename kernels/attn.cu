// attn.cu — decode attention over paged KV caches: MLA in the absorbed form (model.py MLA.forward,
// attn_impl "absorb": keys are [kv latent | rope key], values the latent itself) and GQA. One
// kernel serves both: a block takes up to 16 query heads that read the same cached rows (all
// MLA heads share the latent; a GQA group shares its kv head), one split of the positions, tiles
// of 32 positions through shared memory, online softmax in FP32; a second kernel merges the
// splits by their log-sum-exp (flash-decoding). Plain FMA: correct first, tensor cores later.
#include <math.h>

#include "kernels/common.cuh"

namespace {

constexpr int THREADS = 256, TP = 32, MAX_HG = 16, MAX_DK = 576, MAX_HPER = 8;

struct attn_desc {
	const float *q1, *q2;   // (batch, heads, dq1) and (batch, heads, dq2) or null
	int dq1, dq2;           // key parts: q1 . k1 + q2 . k2
	const uint16_t *k1, *k2, *v; // cache pages; v null: values are k1's first dv elements (MLA)
	int k1_row, k2_row, v_row;   // elements per cached position
	int kv_per_group;            // k1/v offset per head group (GQA: d, one kv head per group)
	const int *block_table, *seq_len;
	int max_pages, page;
	int heads, hg, dv;           // heads per sequence, heads per block, value width
	int splits, chunk;
	float scale;
	float *part, *lse;           // (batch, heads, splits, dv), (batch, heads, splits)
};

__device__ __forceinline__ long page_row(const attn_desc &a, int b, int p)
{
	const int pg = a.block_table[(size_t)b * a.max_pages + p / a.page];
	return (long)pg * a.page + p % a.page;
}

// Copies n bf16 (n % 8 == 0) of a cached row into shared memory, 16 bytes per thread step.
__device__ __forceinline__ void copy_row16(uint16_t *dst, const uint16_t *src, int n, int idx, int step)
{
	for (int c = idx; c < n / 8; c += step)
		reinterpret_cast<uint4 *>(dst)[c] = __ldg(reinterpret_cast<const uint4 *>(src) + c);
}

__global__ void __launch_bounds__(THREADS) attn_decode_kernel(const attn_desc a)
{
	extern __shared__ __align__(16) unsigned char asm_[];
	const int b = blockIdx.z, grp = blockIdx.y, split = blockIdx.x, tid = threadIdx.x;
	// rows padded by 16 bytes (keys, values) and 16 bytes (queries) so that the rows a warp reads
	// together start on different banks
	const int dk = a.dq1 + a.dq2, kst = dk + 8, vst = a.dv + 8, qst = dk + 4;
	float *qs = reinterpret_cast<float *>(asm_);                // (hg, qst)
	float *S = qs + MAX_HG * qst;                                // (hg, TP) scores, then probabilities
	float *corr = S + MAX_HG * TP;                               // (hg) rescale of the running sums
	uint16_t *kt = reinterpret_cast<uint16_t *>(corr + MAX_HG);  // (TP, kst)
	uint16_t *vt = a.v ? kt + TP * kst : kt;                     // (TP, vst) or the keys' rows
	const int vstride = a.v ? vst : kst;
	const int h0 = grp * a.hg, seq = a.seq_len[b];
	const int p_lo = split * a.chunk, p_hi = min(seq, p_lo + a.chunk);

	for (int i = tid; i < a.hg * dk; i += THREADS) {
		const int h = i / dk, d = i % dk;
		const size_t qh = (size_t)b * a.heads + h0 + h;
		qs[h * qst + d] = d < a.dq1 ? a.q1[qh * a.dq1 + d] : a.q2[qh * a.dq2 + d - a.dq1];
	}
	// PV ownership: thread -> 4 value dims and a set of heads (compile-time indexed registers)
	const int ndg = a.dv / 4, dg = tid % ndg, hset = tid / ndg, nsets = THREADS / ndg;
	const int hper = (a.hg + nsets - 1) / nsets;
	float acc[MAX_HPER][4];
	for (int i = 0; i < MAX_HPER; i++)
		for (int j = 0; j < 4; j++)
			acc[i][j] = 0.0f;
	float m_run = -INFINITY, l_run = 0.0f; // thread h < hg keeps head h's softmax state

	for (int t0 = p_lo; t0 < p_hi; t0 += TP) {
		const int np = min(TP, p_hi - t0);
		__syncthreads(); // the previous tile's rows and probabilities are no longer read
		for (int i = tid; i < np * 16; i += THREADS) { // 16 threads per position row
			const int p = i / 16, sub = i % 16;
			const long row = page_row(a, b, t0 + p);
			copy_row16(kt + p * kst, a.k1 + row * a.k1_row + (size_t)grp * a.kv_per_group, a.dq1, sub, 16);
			if (a.k2)
				copy_row16(kt + p * kst + a.dq1, a.k2 + row * a.k2_row, a.dq2, sub, 16);
			if (a.v)
				copy_row16(vt + p * vst, a.v + row * a.v_row + (size_t)grp * a.kv_per_group, a.dv, sub, 16);
		}
		__syncthreads();
		// scores: lane % 8 picks the position (rows 16 bytes apart fall on distinct banks), the
		// rest the head; two passes cover 16 heads x 32 positions
		for (int pass = 0; pass < 2; pass++) {
			const int w = tid / 32, lane = tid % 32;
			const int p = (w % 4) * 8 + lane % 8, h = (w / 4) * 4 + lane / 8 + pass * 8;
			if (h < a.hg) {
				float s = -INFINITY;
				if (p < np) {
					const float *q = qs + h * qst;
					const uint32_t *kr = reinterpret_cast<const uint32_t *>(kt + p * kst);
					float x = 0.0f;
					for (int d = 0; d < dk / 2; d++) {
						const uint32_t kv2 = kr[d];
						x = fmaf(q[2 * d], bf2f(kv2 & 0xffff), x);
						x = fmaf(q[2 * d + 1], bf2f(kv2 >> 16), x);
					}
					s = x * a.scale;
				}
				S[h * TP + p] = s;
			}
		}
		__syncthreads();
		if (tid < a.hg) { // online softmax, one thread per head
			float mx = m_run;
			for (int p = 0; p < TP; p++)
				mx = fmaxf(mx, S[tid * TP + p]);
			const float c = mx == -INFINITY ? 1.0f : expf(m_run - mx);
			float l = l_run * c;
			for (int p = 0; p < TP; p++) {
				const float s = S[tid * TP + p];
				const float pr = s == -INFINITY ? 0.0f : expf(s - mx);
				S[tid * TP + p] = pr;
				l += pr;
			}
			m_run = mx;
			l_run = l;
			corr[tid] = c;
		}
		__syncthreads();
		for (int i = 0; i < MAX_HPER; i++) {
			const int h = hset * hper + i;
			if (i < hper && h < a.hg)
				for (int j = 0; j < 4; j++)
					acc[i][j] *= corr[h];
		}
		for (int p = 0; p < np; p++) {
			const uint2 raw = *reinterpret_cast<const uint2 *>(vt + p * vstride + dg * 4);
			const float v0 = bf2f(raw.x & 0xffff), v1 = bf2f(raw.x >> 16), v2 = bf2f(raw.y & 0xffff),
				    v3 = bf2f(raw.y >> 16);
			for (int i = 0; i < MAX_HPER; i++) {
				const int h = hset * hper + i;
				if (i < hper && h < a.hg) {
					const float pr = S[h * TP + p];
					acc[i][0] = fmaf(pr, v0, acc[i][0]);
					acc[i][1] = fmaf(pr, v1, acc[i][1]);
					acc[i][2] = fmaf(pr, v2, acc[i][2]);
					acc[i][3] = fmaf(pr, v3, acc[i][3]);
				}
			}
		}
	}
	__syncthreads();
	if (tid < a.hg) { // 1 / l and the split's log-sum-exp, shared through corr / lse
		const size_t o = ((size_t)b * a.heads + h0 + tid) * a.splits + split;
		a.lse[o] = l_run > 0.0f ? m_run + logf(l_run) : -INFINITY;
		corr[tid] = l_run > 0.0f ? 1.0f / l_run : 0.0f;
	}
	__syncthreads();
	for (int i = 0; i < MAX_HPER; i++) {
		const int h = hset * hper + i;
		if (i < hper && h < a.hg) {
			float4 v = make_float4(acc[i][0] * corr[h], acc[i][1] * corr[h], acc[i][2] * corr[h], acc[i][3] * corr[h]);
			*reinterpret_cast<float4 *>(a.part + (((size_t)b * a.heads + h0 + h) * a.splits + split) * a.dv + dg * 4) = v;
		}
	}
}

// One block per (sequence, head): out = sum_s exp(lse_s - M) o_s / sum_s exp(lse_s - M).
__global__ void attn_merge_kernel(const float *__restrict__ part, const float *__restrict__ lse, float *__restrict__ out,
				  int splits, int dv)
{
	const size_t bh = blockIdx.x;
	const float *l = lse + bh * splits;
	float mx = -INFINITY;
	for (int s = 0; s < splits; s++)
		mx = fmaxf(mx, l[s]);
	float z = 0.0f;
	for (int s = 0; s < splits; s++)
		z += l[s] == -INFINITY ? 0.0f : expf(l[s] - mx);
	for (int d = threadIdx.x; d < dv; d += blockDim.x) {
		float o = 0.0f;
		for (int s = 0; s < splits; s++)
			if (l[s] != -INFINITY)
				o += expf(l[s] - mx) * part[(bh * splits + s) * dv + d];
		out[bh * dv + d] = z > 0.0f ? o / z : 0.0f;
	}
}

int run(attn_desc &a, int batch, int groups, int max_seq, float *work, size_t work_bytes, float *out,
	const char *name, double bytes, void *stream)
{
	int dev = 0, n_sm = 132;
	if (cudaGetDevice(&dev) == cudaSuccess)
		cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev);
	krn_plan_attn_splits(batch, groups, max_seq, n_sm, &a.splits, &a.chunk);
	if (!work || work_bytes < krn_plan_attn_work(batch, a.heads, a.splits, a.dv))
		return KRN_EINVAL;
	a.part = work;
	a.lse = work + (size_t)batch * a.heads * a.splits * a.dv;
	const int dk = a.dq1 + a.dq2;
	const size_t smem = sizeof(float) * ((size_t)MAX_HG * (dk + 4) + MAX_HG * TP + MAX_HG) +
			    sizeof(uint16_t) * (size_t)TP * ((dk + 8) + (a.v ? a.dv + 8 : 0));
	if (cudaFuncSetAttribute(attn_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) !=
	    cudaSuccess)
		return KRN_ECUDA;
	const int slot = krn_stat_begin(name, stream);
	attn_decode_kernel<<<dim3(a.splits, groups, batch), THREADS, smem, krn_stream(stream)>>>(a);
	attn_merge_kernel<<<batch * a.heads, 128, 0, krn_stream(stream)>>>(a.part, a.lse, out, a.splits, a.dv);
	krn_stat_end(slot, stream, bytes, 0);
	return krn_check_launch();
}

} // namespace

extern "C" int krn_mla_decode(const struct krn_mla_args *m, void *stream)
{
	if (!m->q_abs || !m->q_pe || !m->kv_cache || !m->pe_cache || !m->block_table || !m->seq_len || !m->out ||
	    m->batch < 1 || m->n_heads < 1 || m->page < 1 || m->max_pages < 1 || m->max_seq < 0 ||
	    m->max_seq > m->page * m->max_pages)
		return KRN_EINVAL;
	if (m->r % 8 || m->rd % 8 || m->r + m->rd > MAX_DK || 1024 % m->r || m->r < 32 || m->n_heads % MAX_HG)
		return KRN_EUNSUPPORTED;
	attn_desc a = {};
	a.q1 = m->q_abs;
	a.q2 = m->q_pe;
	a.dq1 = m->r;
	a.dq2 = m->rd;
	a.k1 = m->kv_cache;
	a.k2 = m->pe_cache;
	a.k1_row = m->r;
	a.k2_row = m->rd;
	a.block_table = m->block_table;
	a.seq_len = m->seq_len;
	a.max_pages = m->max_pages;
	a.page = m->page;
	a.heads = m->n_heads;
	a.hg = MAX_HG;
	a.dv = m->r;
	a.scale = m->scale;
	// the floor: the cache once (the head groups' re-reads should come from L2), q and out once
	const double bytes = (double)m->batch * ((double)m->max_seq * (m->r + m->rd) * 2 +
						 (double)m->n_heads * (2.0 * m->r + m->rd) * 4);
	return run(a, m->batch, m->n_heads / MAX_HG, m->max_seq, m->work, m->work_bytes, m->out, "mla_decode", bytes,
		   stream);
}

extern "C" int krn_gqa_decode(const struct krn_gqa_args *g, void *stream)
{
	if (!g->q || !g->k_cache || !g->v_cache || !g->block_table || !g->seq_len || !g->out || g->batch < 1 ||
	    g->n_kv_heads < 1 || g->n_heads < g->n_kv_heads || g->n_heads % g->n_kv_heads || g->page < 1 ||
	    g->max_pages < 1 || g->max_seq < 0 || g->max_seq > g->page * g->max_pages)
		return KRN_EINVAL;
	const int group = g->n_heads / g->n_kv_heads;
	if (g->d % 32 || g->d > 256 || 1024 % g->d || group > MAX_HG)
		return KRN_EUNSUPPORTED;
	const int sets = THREADS / (g->d / 4); // head sets of the PV step; each holds <= MAX_HPER heads
	if ((group + sets - 1) / sets > MAX_HPER)
		return KRN_EUNSUPPORTED;
	attn_desc a = {};
	a.q1 = g->q;
	a.dq1 = g->d;
	a.k1 = g->k_cache;
	a.v = g->v_cache;
	a.k1_row = a.v_row = g->n_kv_heads * g->d;
	a.kv_per_group = g->d;
	a.block_table = g->block_table;
	a.seq_len = g->seq_len;
	a.max_pages = g->max_pages;
	a.page = g->page;
	a.heads = g->n_heads;
	a.hg = group;
	a.dv = g->d;
	a.scale = g->scale;
	const double bytes = (double)g->batch * ((double)g->max_seq * g->n_kv_heads * g->d * 2 * 2 +
						 (double)g->n_heads * g->d * 4 * 2);
	return run(a, g->batch, g->n_kv_heads, g->max_seq, g->work, g->work_bytes, g->out, "gqa_decode", bytes, stream);
}
