// common.cuh — what every kernels/*.cu shares: the launch check, the stage timer hooks and the
// small device helpers (bf16 / e4m3 conversions, warp reductions). Internal to kernels/.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/krn_plan.h"

// The launch just made, or any sticky fault before it, as a krn code.
static inline int krn_check_launch(void)
{
	return cudaGetLastError() == cudaSuccess ? KRN_OK : KRN_ECUDA;
}

// Stage timing (core.cu): begin returns a slot (-1 when timing is off), end records the bytes and
// flops the stage must move and do. Both are no-ops while krn_stats_enable(0).
int krn_stat_begin(const char *name, void *stream);
void krn_stat_end(int slot, void *stream, double bytes, double flops);

static inline cudaStream_t krn_stream(void *s) { return (cudaStream_t)s; }

// ---- device helpers ---------------------------------------------------------------------------

__device__ __forceinline__ float bf2f(uint16_t v) { return __uint_as_float((uint32_t)v << 16); }

__device__ __forceinline__ uint16_t f2bf(float x)
{
	__nv_bfloat16 b = __float2bfloat16_rn(x);
	return *reinterpret_cast<uint16_t *>(&b);
}

// e4m3 with saturation (the host reference krn_e4m3_from_float rounds the same way).
__device__ __forceinline__ uint8_t f2e4m3(float x)
{
	return (uint8_t)__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
}

// Two e4m3 in the low 16 bits -> float2 (exact: every e4m3 value is a half).
__device__ __forceinline__ float2 e4m3x2_to_f2(uint16_t v)
{
	__half2_raw h = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)v, __NV_E4M3);
	return __half22float2(*reinterpret_cast<__half2 *>(&h));
}

__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

static inline int krn_cdiv(long a, long b) { return (int)((a + b - 1) / b); }
