// gemm_fp8.cu — FP8 block-scaled GEMM (DeepSeek-V3 kernel.py fp8_gemm): d = (a * a_s) @ (b * b_s)^T,
// e4m3 operands, FP32 accumulation promoted every 128-wide K block, bf16 out. Two kernels behind
// krn_fp8_gemm (chosen by krn_plan_gemm):
//  - wgmma: a block computes a (64 x warpgroups) x 128 tile. Each 128-wide K block (one stage of a
//    cp.async pipeline, KRN_GEMM_STAGES deep, swizzled for the tensor cores) is four m64n128k32
//    wgmmas into a fresh accumulator, then added to the FP32 total times a_s[row] * b_s[block]:
//    the report's promotion to CUDA cores, every 128 elements. Also the grouped (routed experts)
//    GEMM: the tile's expert picks the weights, a_row gathers the sorted rows.
//  - small m (decode): a warp streams KRN_GEMM_SMALL_COLS weight rows with 16-byte loads for all
//    m <= 8 rows, FMA in FP32 per 16 elements, scaled per K block; the weights are read once.
#include "kernels/common.cuh"

namespace {

constexpr int BN = KRN_GEMM_BN, BK = KRN_GEMM_BK, STAGES = KRN_GEMM_STAGES;

__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

// 16 bytes global -> shared, zero-filled when !pred (src is then not read).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool pred)
{
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Shared memory written through the generic proxy (cp.async) and read next by the tensor cores
// (async proxy) needs this fence in each writing thread before the barrier (HOPPER.md "Ordering").
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma.
__device__ __forceinline__ void fence_regs(float (&d)[64])
{
	for (int i = 0; i < 64; i++)
		asm volatile("" : "+f"(d[i])::"memory");
}

// Matrix descriptor (PTX ISA "Shared memory matrix layout"): start address >> 4 (bits 0-13),
// leading byte offset >> 4 (16-29; unused by swizzled K-major layouts), stride byte offset >> 4
// (32-45: 1024 B between 8-row groups of 128-byte rows), swizzle mode 1 = 128 B (bits 62-63).
// Tiles start 1024-byte aligned, so the base offset (49-51) is 0; stepping K by 32 bytes inside
// the swizzle atom adds 32 to the start address.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr)
{
	return (uint64_t)((addr & 0x3ffff) >> 4) | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
}

// wgmma m64n128k32, e4m3 x e4m3 -> f32, A and B from shared memory (K-major, 128-byte swizzle).
// scale_d == 0 starts a fresh accumulator (the first k32 step of each 128-wide K block).
__device__ __forceinline__ void wgmma_m64n128k32_e4m3(float (&d)[64], uint64_t da, uint64_t db, int scale_d)
{
	asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
		     "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 "
		     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
		     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
		     "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
		     "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1;\n}\n"
		     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
		       "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
		       "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
		       "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
		       "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
		       "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
		       "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
		       "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
		     : "l"(da), "l"(db), "r"(scale_d));
}

struct gemm_args {
	const uint8_t *a;
	const float *a_s;
	const uint8_t *b;
	const float *b_s;
	uint16_t *d;
	int m, n, k, lda, ldd, nkb, nnb;
	const int *tile_expert, *a_row;
	int a_sorted;
};

// Row of a that sorted row r reads (-1: none, a zero row that is not stored).
__device__ __forceinline__ int src_row(const gemm_args &g, int r)
{
	if (r >= g.m)
		return -1;
	if (!g.a_row)
		return r;
	const int s = g.a_row[r];
	return s < 0 ? -1 : g.a_sorted ? r : s;
}

// One 128-row x 128-byte tile slab: row r's 16-byte chunk c lands at chunk c ^ (r % 8) (the
// 128-byte swizzle the descriptors name).
__device__ __forceinline__ uint32_t swz(int r, int c) { return (uint32_t)(r * 128 + ((c ^ (r & 7)) << 4)); }

template <int WG>
__global__ void __launch_bounds__(WG * 128, 1) gemm_wgmma_kernel(const gemm_args g)
{
	constexpr int BM = 64 * WG, THREADS = 128 * WG;
	constexpr int A_PER = BM * 8 / THREADS, B_PER = BN * 8 / THREADS; // 16-byte chunks per thread
	extern __shared__ uint8_t smem_raw[];
	uint8_t *smem = reinterpret_cast<uint8_t *>(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
	uint8_t *tile_a = smem, *tile_b = smem + STAGES * BM * BK;

	const int tid = threadIdx.x, nt = blockIdx.x, mt = blockIdx.y;
	int expert = 0;
	if (g.tile_expert) {
		expert = g.tile_expert[mt];
		if (expert < 0) // a tile past the used ones (the grid is sized from a bound)
			return;
	}
	const int m0 = mt * BM, n0 = nt * BN;
	const uint8_t *b = g.b + (size_t)expert * g.n * g.k;
	const float *b_s = g.b_s + (size_t)expert * g.nnb * g.nkb + (size_t)nt * g.nkb;

	// The a rows this thread copies: chunk column tid % 8, rows tid / 8 + i * THREADS / 8.
	const int cc = tid & 7;
	const uint8_t *arow[A_PER];
	for (int i = 0; i < A_PER; i++) {
		const int src = src_row(g, m0 + tid / 8 + i * (THREADS / 8));
		arow[i] = src >= 0 ? g.a + (size_t)src * g.lda : nullptr;
	}
	auto load_stage = [&](int s, int kb) {
		const int gk = kb * BK + cc * 16;
		const bool kin = gk < g.k;
		const uint32_t da = smem_u32(tile_a + s * BM * BK), db = smem_u32(tile_b + s * BN * BK);
		for (int i = 0; i < A_PER; i++) {
			const int r = tid / 8 + i * (THREADS / 8);
			const bool ok = kin && arow[i];
			cp_async16(da + swz(r, cc), ok ? arow[i] + gk : g.a, ok);
		}
		for (int i = 0; i < B_PER; i++) {
			const int r = tid / 8 + i * (THREADS / 8);
			const bool ok = kin && n0 + r < g.n;
			cp_async16(db + swz(r, cc), ok ? b + (size_t)(n0 + r) * g.k + gk : g.b, ok);
		}
	};

	// Accumulator fragment of m64nNk32 (PTX "wgmma register fragment D"): warp w of the warpgroup
	// holds rows 16 w + lane / 4 (+ 8), columns 8 j + 2 (lane % 4) (+ 1) in d[4 j + 2 h + c].
	const int wg = tid / 128, warp = (tid / 32) % 4, lane = tid % 32;
	const int rl0 = wg * 64 + warp * 16 + lane / 4, rl1 = rl0 + 8;
	const float *as0 = nullptr, *as1 = nullptr;
	{
		const int s0 = src_row(g, m0 + rl0), s1 = src_row(g, m0 + rl1);
		as0 = s0 >= 0 ? g.a_s + (size_t)s0 * g.nkb : nullptr;
		as1 = s1 >= 0 ? g.a_s + (size_t)s1 * g.nkb : nullptr;
	}

	float acc[64], tot[64];
	for (int i = 0; i < 64; i++)
		tot[i] = 0.0f;

	for (int s = 0; s < STAGES - 1; s++) {
		if (s < g.nkb)
			load_stage(s, s);
		cp_async_commit();
	}
	for (int kb = 0; kb < g.nkb; kb++) {
		cp_async_wait<STAGES - 2>(); // this thread's copies of stage kb have landed
		fence_proxy_async();
		__syncthreads(); // everyone's have; and stage kb - 1 is no longer read (wait0 below)
		const int next = kb + STAGES - 1;
		if (next < g.nkb)
			load_stage(next % STAGES, next);
		cp_async_commit();

		// scales first: their latency hides behind the tensor cores
		const float sb = b_s[kb];
		const float sa0 = as0 ? as0[kb] * sb : 0.0f, sa1 = as1 ? as1[kb] * sb : 0.0f;

		const int s = kb % STAGES;
		const uint32_t a_base = smem_u32(tile_a + s * BM * BK + wg * 64 * BK),
			       b_base = smem_u32(tile_b + s * BN * BK);
		fence_regs(acc);
		wgmma_fence();
		for (int kk = 0; kk < BK / 32; kk++)
			wgmma_m64n128k32_e4m3(acc, smem_desc(a_base + kk * 32), smem_desc(b_base + kk * 32), kk);
		wgmma_commit();
		wgmma_wait0();
		fence_regs(acc);
		for (int i = 0; i < 64; i++) // promotion: FP32 total += block product * a_s * b_s
			tot[i] += acc[i] * ((i & 2) ? sa1 : sa0);
	}
	cp_async_wait<0>();

	const bool ok0 = m0 + rl0 < g.m && as0, ok1 = m0 + rl1 < g.m && as1;
	for (int j = 0; j < BN / 8; j++) {
		const int col = n0 + j * 8 + (lane % 4) * 2;
		if (col >= g.n) // n is even, so col + 1 < n too
			continue;
		if (ok0)
			*reinterpret_cast<uint32_t *>(g.d + (size_t)(m0 + rl0) * g.ldd + col) =
				f2bf(tot[4 * j]) | (uint32_t)f2bf(tot[4 * j + 1]) << 16;
		if (ok1)
			*reinterpret_cast<uint32_t *>(g.d + (size_t)(m0 + rl1) * g.ldd + col) =
				f2bf(tot[4 * j + 2]) | (uint32_t)f2bf(tot[4 * j + 3]) << 16;
	}
}

// Small m: warp w of the grid computes columns KRN_GEMM_SMALL_COLS * w .. + COLS - 1 for all rows.
constexpr int SM_ROWS = KRN_GEMM_SMALL_M, SM_COLS = KRN_GEMM_SMALL_COLS;

__device__ __forceinline__ void unpack16(uint4 v, float (&f)[16])
{
	const uint32_t w[4] = {v.x, v.y, v.z, v.w};
	for (int i = 0; i < 4; i++) {
		float2 lo = e4m3x2_to_f2((uint16_t)(w[i] & 0xffff)), hi = e4m3x2_to_f2((uint16_t)(w[i] >> 16));
		f[4 * i] = lo.x;
		f[4 * i + 1] = lo.y;
		f[4 * i + 2] = hi.x;
		f[4 * i + 3] = hi.y;
	}
}

__global__ void __launch_bounds__(256) gemm_smallm_kernel(const gemm_args g)
{
	const int lane = threadIdx.x % 32, warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
	const int c0 = warp * SM_COLS;
	if (c0 >= g.n)
		return;
	float acc[SM_COLS][SM_ROWS];
	for (int j = 0; j < SM_COLS; j++)
		for (int r = 0; r < SM_ROWS; r++)
			acc[j][r] = 0.0f;
	const int nq = g.k / 16;
	for (int q = lane; q < nq; q += 32) {
		const int kb = q / 8;
		uint4 wb[SM_COLS];
		for (int j = 0; j < SM_COLS; j++) // weights first: the loads that go to HBM
			wb[j] = c0 + j < g.n ? __ldg(reinterpret_cast<const uint4 *>(g.b + (size_t)(c0 + j) * g.k) + q)
					     : make_uint4(0, 0, 0, 0);
		float bf[SM_COLS][16];
		for (int j = 0; j < SM_COLS; j++)
			unpack16(wb[j], bf[j]);
		for (int r = 0; r < SM_ROWS; r++) {
			if (r >= g.m)
				break;
			float af[16];
			unpack16(__ldg(reinterpret_cast<const uint4 *>(g.a + (size_t)r * g.lda) + q), af);
			const float sa = g.a_s[(size_t)r * g.nkb + kb];
			for (int j = 0; j < SM_COLS; j++) {
				float p = 0.0f;
				for (int i = 0; i < 16; i++)
					p = fmaf(af[i], bf[j][i], p);
				const int cj = c0 + j < g.n ? c0 + j : c0;
				acc[j][r] += p * sa * g.b_s[(size_t)(cj / BN) * g.nkb + kb];
			}
		}
	}
	for (int j = 0; j < SM_COLS; j++)
		for (int r = 0; r < SM_ROWS; r++) {
			const float v = warp_sum(acc[j][r]);
			if (lane == j * SM_ROWS + r && r < g.m && c0 + j < g.n)
				g.d[(size_t)r * g.ldd + c0 + j] = f2bf(v);
		}
}

} // namespace

extern "C" int krn_fp8_gemm(const struct krn_fp8_gemm_args *a, void *stream)
{
	if (!a->a || !a->a_s || !a->b || !a->b_s || !a->d || a->lda < a->k || a->ldd < a->n)
		return KRN_EINVAL;
	if (!a->tile_expert != !a->a_row)
		return KRN_EINVAL;
	if (a->lda % 16 || a->ldd % 2 || (uintptr_t)a->a % 16 || (uintptr_t)a->b % 16 || (uintptr_t)a->d % 4)
		return KRN_EUNSUPPORTED;
	struct krn_gemm_plan p;
	const int tiles = a->tile_expert ? a->m / KRN_GEMM_BM : 0;
	if (a->tile_expert && (a->m < KRN_GEMM_BM || a->m % KRN_GEMM_BM))
		return KRN_EINVAL; // grouped: m is tiles * KRN_GEMM_BM rows of the sorted layout
	int rc = krn_plan_gemm(a->m, a->n, a->k, tiles, &p);
	if (rc)
		return rc;
	gemm_args g = {a->a, a->a_s, a->b, a->b_s, a->d, a->m, a->n, a->k, a->lda, a->ldd, krn_cdiv(a->k, BK),
		       krn_cdiv(a->n, BN), a->tile_expert, a->a_row, a->a_sorted};
	const int slot = krn_stat_begin(a->tile_expert ? "fp8_gemm_grouped" : "fp8_gemm", stream);
	const cudaStream_t st = krn_stream(stream);
	if (p.kind == KRN_GEMM_SMALLM) {
		gemm_smallm_kernel<<<p.grid_x, p.threads, 0, st>>>(g);
	} else if (p.warpgroups == 1) {
		if (cudaFuncSetAttribute(gemm_wgmma_kernel<1>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					 (int)p.smem_bytes) != cudaSuccess)
			return KRN_ECUDA;
		gemm_wgmma_kernel<1><<<dim3(p.grid_x, p.grid_y), p.threads, p.smem_bytes, st>>>(g);
	} else {
		if (cudaFuncSetAttribute(gemm_wgmma_kernel<2>, cudaFuncAttributeMaxDynamicSharedMemorySize,
					 (int)p.smem_bytes) != cudaSuccess)
			return KRN_ECUDA;
		gemm_wgmma_kernel<2><<<dim3(p.grid_x, p.grid_y), p.threads, p.smem_bytes, st>>>(g);
	}
	krn_stat_end(slot, stream, p.bytes, p.flops);
	return krn_check_launch();
}
