// moe.cu — routed experts around the grouped GEMM: the router (model.py Gate.forward, HF
// route_tokens_to_experts; Qwen3 softmax top-k), the token sort by expert into the contiguous
// layout the grouped GEMM reads (device twin of krn_plan_moe_sort), and the weighted combine.
#include "kernels/common.cuh"

namespace {

// ---- router: one warp per token; the token's scores live in shared memory ----------------------

constexpr int ROUTE_WARPS = 4;

// Largest not-taken value among v[0..n) in the warp, the lowest index on ties (torch.topk).
__device__ int warp_argmax(const float *v, const unsigned char *taken, int n, int lane)
{
	float bv = 0.0f;
	int bi = -1;
	for (int i = lane; i < n; i += 32)
		if (!taken[i] && (bi < 0 || v[i] > bv)) {
			bv = v[i];
			bi = i;
		}
	for (int o = 16; o > 0; o >>= 1) {
		const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
		const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
		if (oi >= 0 && (bi < 0 || ov > bv || (ov == bv && oi < bi))) {
			bv = ov;
			bi = oi;
		}
	}
	return bi;
}

__global__ void route_kernel(const float *__restrict__ logits, const float *__restrict__ bias,
			     const struct krn_route_cfg c, int t, int *__restrict__ idx, float *__restrict__ w)
{
	extern __shared__ float rsm[];
	const int lane = threadIdx.x % 32, wi = threadIdx.x / 32, tok = blockIdx.x * ROUTE_WARPS + wi;
	const int E = c.n_experts;
	float *scores = rsm + (size_t)wi * 2 * E, *choice = scores + E;
	unsigned char *taken = reinterpret_cast<unsigned char *>(rsm + (size_t)ROUTE_WARPS * 2 * E) + (size_t)wi * E;
	if (tok >= t)
		return; // whole warps leave together: no block barrier below
	const float *x = logits + (size_t)tok * E;
	if (c.sigmoid) {
		for (int e = lane; e < E; e += 32) {
			scores[e] = 1.0f / (1.0f + expf(-x[e]));
			choice[e] = scores[e] + (bias ? bias[e] : 0.0f);
			taken[e] = 0;
		}
	} else {
		float mx = -INFINITY, sum = 0.0f;
		for (int e = lane; e < E; e += 32)
			mx = fmaxf(mx, x[e]);
		mx = warp_max(mx);
		for (int e = lane; e < E; e += 32)
			sum += scores[e] = expf(x[e] - mx);
		sum = warp_sum(sum);
		for (int e = lane; e < E; e += 32) {
			scores[e] /= sum;
			choice[e] = scores[e];
			taken[e] = 0;
		}
	}
	__syncwarp();
	if (c.sigmoid && c.n_group > 1) {
		const int G = c.n_group, per = E / G;
		// lane g scores group g by its top-2 choices (sum: the order of equal values is moot)
		float gs = -INFINITY;
		if (lane < G) {
			float a = -INFINITY, b = -INFINITY;
			for (int i = 0; i < per; i++) {
				const float v = choice[lane * per + i];
				if (v > a) {
					b = a;
					a = v;
				} else if (v > b) {
					b = v;
				}
			}
			gs = a + b;
		}
		// keep topk_group groups: the largest group scores, the lower group on ties
		unsigned keep = 0;
		for (int i = 0; i < c.topk_group; i++) {
			float bv = (lane < G && !(keep >> lane & 1)) ? gs : -INFINITY;
			int bi = (lane < G && !(keep >> lane & 1)) ? lane : 1 << 30;
			for (int o = 16; o > 0; o >>= 1) {
				const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
				const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
				if (ov > bv || (ov == bv && oi < bi)) {
					bv = ov;
					bi = oi;
				}
			}
			keep |= 1u << bi;
		}
		for (int e = lane; e < E; e += 32) // HF masks the other groups to 0.0, not -inf
			if (!(keep >> (e / per) & 1))
				choice[e] = 0.0f;
		__syncwarp();
	}
	float sum = 0.0f, wk = 0.0f;
	int ik = 0;
	for (int i = 0; i < c.top_k; i++) {
		const int e = warp_argmax(choice, taken, E, lane);
		__syncwarp();
		if (lane == 0)
			taken[e] = 1;
		__syncwarp();
		const float s = scores[e];
		sum += s;
		if (lane == i) {
			ik = e;
			wk = s;
		}
	}
	if (lane < c.top_k) {
		if (c.norm_topk_prob)
			wk /= c.sigmoid ? sum + 1e-20f : sum;
		idx[(size_t)tok * c.top_k + lane] = ik;
		w[(size_t)tok * c.top_k + lane] = wk * c.route_scale;
	}
}

// ---- token sort: one block; warp w owns a contiguous range of the (token, k) entries -----------

constexpr int SORT_THREADS = 1024;

__device__ __forceinline__ unsigned lanemask_lt() { return (1u << (threadIdx.x % 32)) - 1u; }

__global__ void __launch_bounds__(SORT_THREADS) sort_kernel(const int *__restrict__ idx, int n, int k, int E, int W,
							    int *__restrict__ a_row, int *__restrict__ entry_row,
							    int *__restrict__ tile_expert, int *__restrict__ expert_start,
							    int rows_bound, int tiles_bound)
{
	extern __shared__ int ssm[];
	int *hist = ssm;                      // (W, E): entries of expert e in warp w's range, then its base
	int *start = ssm + (size_t)W * E;     // (E + 1) padded segment starts
	const int lane = threadIdx.x % 32, wi = threadIdx.x / 32, per = (n + W - 1) / W;
	const int lo = wi * per, hi = min(n, lo + per);

	for (int i = threadIdx.x; i < W * E; i += blockDim.x)
		hist[i] = 0;
	for (int r = threadIdx.x; r < rows_bound; r += blockDim.x)
		a_row[r] = -1;
	__syncthreads();
	if (wi < W) // pass 1: per-warp histograms; the leader of each equal-expert group adds its size
		for (int b = lo; b < hi; b += 32) {
			const int i = b + lane, x = i < hi ? idx[i] : -1;
			const bool ok = x >= 0 && x < E;
			const unsigned grp = __match_any_sync(0xffffffffu, ok ? x : -1);
			if (ok && (grp & lanemask_lt()) == 0)
				hist[wi * E + x] += __popc(grp);
		}
	__syncthreads();
	for (int e = threadIdx.x; e < E; e += blockDim.x) { // exclusive scan over warps per expert
		int run = 0;
		for (int v = 0; v < W; v++) {
			const int c = hist[v * E + e];
			hist[v * E + e] = run;
			run += c;
		}
		start[e + 1] = run; // count for now
	}
	__syncthreads();
	if (threadIdx.x == 0) { // segment starts on tile boundaries (E <= 1024: a short serial scan)
		start[0] = 0;
		for (int e = 0; e < E; e++)
			start[e + 1] = start[e] + (start[e + 1] + KRN_GEMM_BM - 1) / KRN_GEMM_BM * KRN_GEMM_BM;
	}
	__syncthreads();
	for (int e = threadIdx.x; e <= E; e += blockDim.x)
		expert_start[e] = start[e];
	for (int g = threadIdx.x; g < tiles_bound; g += blockDim.x) {
		const int row = g * KRN_GEMM_BM;
		int ex = -1;
		if (row < start[E]) { // the last expert whose segment starts at or before row
			int l = 0, h = E - 1;
			while (l < h) {
				const int mid = (l + h + 1) / 2;
				if (start[mid] <= row)
					l = mid;
				else
					h = mid - 1;
			}
			ex = l;
		}
		tile_expert[g] = ex;
	}
	if (wi < W) // pass 2: rows; within a warp step, equal experts take consecutive ranks
		for (int b = lo; b < hi; b += 32) {
			const int i = b + lane, x = i < hi ? idx[i] : -1;
			const bool ok = x >= 0 && x < E;
			const unsigned grp = __match_any_sync(0xffffffffu, ok ? x : -1);
			int row = -1;
			if (ok)
				row = start[x] + hist[wi * E + x] + __popc(grp & lanemask_lt());
			__syncwarp();
			if (ok && (grp & lanemask_lt()) == 0)
				hist[wi * E + x] += __popc(grp);
			__syncwarp();
			if (i < hi) {
				const bool in = row >= 0 && row < rows_bound;
				entry_row[i] = in ? row : -1;
				if (in)
					a_row[row] = i / k;
			}
		}
}

// ---- combine: one block per token ------------------------------------------------------------

__global__ void combine_kernel(const uint16_t *__restrict__ y, const int *__restrict__ entry_row,
			       const float *__restrict__ w, float *__restrict__ out, int k, int n, int accumulate)
{
	const int t = blockIdx.x;
	for (int c = threadIdx.x * 2; c < n; c += blockDim.x * 2) {
		float2 acc = accumulate ? *reinterpret_cast<float2 *>(out + (size_t)t * n + c) : make_float2(0.0f, 0.0f);
		for (int j = 0; j < k; j++) { // in k order, as the CPU path sums
			const int r = entry_row[(size_t)t * k + j];
			if (r < 0)
				continue;
			const uint32_t v = *reinterpret_cast<const uint32_t *>(y + (size_t)r * n + c);
			const float wj = w[(size_t)t * k + j];
			acc.x += wj * bf2f(v & 0xffff);
			acc.y += wj * bf2f(v >> 16);
		}
		*reinterpret_cast<float2 *>(out + (size_t)t * n + c) = acc;
	}
}

} // namespace

extern "C" int krn_moe_route(const float *logits, const float *bias, const struct krn_route_cfg *c, int t, int *idx,
			     float *w, void *stream)
{
	if (!logits || !idx || !w || t < 1 || krn_plan_route_check(c))
		return KRN_EINVAL;
	const size_t smem = (size_t)ROUTE_WARPS * c->n_experts * (2 * sizeof(float) + 1);
	const int slot = krn_stat_begin("moe_route", stream);
	route_kernel<<<krn_cdiv(t, ROUTE_WARPS), ROUTE_WARPS * 32, smem, krn_stream(stream)>>>(logits, bias, *c, t, idx, w);
	krn_stat_end(slot, stream, 4.0 * t * c->n_experts + 8.0 * t * c->top_k, 0);
	return krn_check_launch();
}

extern "C" int krn_moe_sort(const int *idx, int t, int k, int n_experts, int *a_row, int *entry_row, int *tile_expert,
			    int *expert_start, int rows_bound, int tiles_bound, void *stream)
{
	if (!idx || !a_row || !entry_row || !tile_expert || !expert_start || t < 1 || k < 1 || n_experts < 1 ||
	    n_experts > 1024 || (long)t * k > KRN_SORT_MAX_ENTRIES)
		return KRN_EINVAL;
	int rb, tb;
	krn_plan_moe_bounds(t, k, n_experts, &rb, &tb);
	if (rows_bound < rb || tiles_bound < tb)
		return KRN_EINVAL;
	// warps * experts histogram entries kept under 8192 (32 KB of shared memory)
	int W = 8192 / n_experts;
	W = W > 32 ? 32 : W < 1 ? 1 : W;
	const size_t smem = ((size_t)W * n_experts + n_experts + 1) * sizeof(int);
	const int slot = krn_stat_begin("moe_sort", stream);
	sort_kernel<<<1, SORT_THREADS, smem, krn_stream(stream)>>>(idx, t * k, k, n_experts, W, a_row, entry_row,
								   tile_expert, expert_start, rows_bound, tiles_bound);
	krn_stat_end(slot, stream, 12.0 * t * k + 4.0 * rows_bound, 0);
	return krn_check_launch();
}

extern "C" int krn_moe_combine(const uint16_t *y, const int *entry_row, const float *w, float *out, int t, int k,
			       int n, int accumulate, void *stream)
{
	if (!y || !entry_row || !w || !out || t < 1 || k < 1 || n < 2)
		return KRN_EINVAL;
	if (n % 2)
		return KRN_EUNSUPPORTED;
	const int slot = krn_stat_begin("moe_combine", stream);
	combine_kernel<<<t, 256, 0, krn_stream(stream)>>>(y, entry_row, w, out, k, n, accumulate);
	krn_stat_end(slot, stream, (double)t * n * (2.0 * k + 4.0 * (1 + (accumulate != 0))), 2.0 * t * n * k);
	return krn_check_launch();
}
