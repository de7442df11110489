// quant.cu — activation quantization to e4m3 with one scale per 1x128 group (kernel.py act_quant),
// and SiLU·mul of the fused gate/up output, plain or fused with that quantization.
// One warp per (row, 128-group): each lane holds 4 elements, the group's amax is a warp max.
#include "kernels/common.cuh"

namespace {

constexpr int WARPS = 8; // groups per block

// v[4] of one lane -> e4m3 with the group's scale; lane 0 writes the scale.
__device__ __forceinline__ void quant4(const float v[4], bool live, uint8_t *y, float *s, int lane)
{
	float amax = 0.0f;
	for (int j = 0; j < 4; j++)
		amax = fmaxf(amax, fabsf(v[j]));
	amax = warp_max(live ? amax : 0.0f);
	const float sc = amax > 0.0f ? amax / 448.0f : 1.0f;
	if (live) {
		uint32_t q = 0;
		for (int j = 0; j < 4; j++) // x / s (IEEE division, as the host reference)
			q |= (uint32_t)f2e4m3(v[j] / sc) << (8 * j);
		*reinterpret_cast<uint32_t *>(y) = q;
	}
	if (lane == 0)
		*s = sc;
}

__global__ void act_quant_kernel(const uint16_t *__restrict__ x, int ldx, uint8_t *__restrict__ y,
				 float *__restrict__ s, int m, int k, int nkb)
{
	const int lane = threadIdx.x & 31, g = blockIdx.x * WARPS + (threadIdx.x >> 5);
	if (g >= m * nkb)
		return;
	const int r = g / nkb, kb = g % nkb, c = kb * KRN_BLOCK + lane * 4;
	const bool live = c < k; // k % 16 == 0: a lane's 4 elements are all in or all out
	float v[4] = {0, 0, 0, 0};
	if (live) {
		uint2 raw = *reinterpret_cast<const uint2 *>(x + (size_t)r * ldx + c);
		v[0] = bf2f(raw.x & 0xffff);
		v[1] = bf2f(raw.x >> 16);
		v[2] = bf2f(raw.y & 0xffff);
		v[3] = bf2f(raw.y >> 16);
	}
	quant4(v, live, y + (size_t)r * k + c, s + (size_t)r * nkb + kb, lane);
}

__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

__global__ void silu_mul_quant_kernel(const uint16_t *__restrict__ gu, uint8_t *__restrict__ y,
				      float *__restrict__ s, int m, int inter, int nkb)
{
	const int lane = threadIdx.x & 31, g = blockIdx.x * WARPS + (threadIdx.x >> 5);
	if (g >= m * nkb)
		return;
	const int r = g / nkb, kb = g % nkb, c = kb * KRN_BLOCK + lane * 4;
	const bool live = c < inter;
	float v[4] = {0, 0, 0, 0};
	if (live) {
		const uint16_t *row = gu + (size_t)r * 2 * inter;
		uint2 a = *reinterpret_cast<const uint2 *>(row + c), b = *reinterpret_cast<const uint2 *>(row + inter + c);
		v[0] = silu_mul(bf2f(a.x & 0xffff), bf2f(b.x & 0xffff));
		v[1] = silu_mul(bf2f(a.x >> 16), bf2f(b.x >> 16));
		v[2] = silu_mul(bf2f(a.y & 0xffff), bf2f(b.y & 0xffff));
		v[3] = silu_mul(bf2f(a.y >> 16), bf2f(b.y >> 16));
	}
	quant4(v, live, y + (size_t)r * inter + c, s + (size_t)r * nkb + kb, lane);
}

__global__ void silu_mul_kernel(const uint16_t *__restrict__ gu, uint16_t *__restrict__ out, int m, int inter)
{
	const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)m * inter)
		return;
	const size_t r = i / inter, c = i % inter;
	out[i] = f2bf(silu_mul(bf2f(gu[r * 2 * inter + c]), bf2f(gu[r * 2 * inter + inter + c])));
}

} // namespace

extern "C" int krn_act_quant(const uint16_t *x, int ldx, uint8_t *y, float *s, int m, int k, void *stream)
{
	if (m < 1 || k < 1 || ldx < k || !x || !y || !s)
		return KRN_EINVAL;
	if (k % 16 || ldx % 4 || (uintptr_t)x % 8)
		return KRN_EUNSUPPORTED;
	const int nkb = krn_cdiv(k, KRN_BLOCK), slot = krn_stat_begin("act_quant", stream);
	act_quant_kernel<<<krn_cdiv((long)m * nkb, WARPS), WARPS * 32, 0, krn_stream(stream)>>>(x, ldx, y, s, m, k, nkb);
	krn_stat_end(slot, stream, 3.0 * m * k + 4.0 * m * nkb, 0);
	return krn_check_launch();
}

extern "C" int krn_silu_mul_quant(const uint16_t *gu, uint8_t *y, float *s, int m, int inter, void *stream)
{
	if (m < 1 || inter < 1 || !gu || !y || !s)
		return KRN_EINVAL;
	if (inter % 16 || (uintptr_t)gu % 8)
		return KRN_EUNSUPPORTED;
	const int nkb = krn_cdiv(inter, KRN_BLOCK), slot = krn_stat_begin("silu_mul_quant", stream);
	silu_mul_quant_kernel<<<krn_cdiv((long)m * nkb, WARPS), WARPS * 32, 0, krn_stream(stream)>>>(gu, y, s, m, inter,
												       nkb);
	krn_stat_end(slot, stream, 5.0 * m * inter + 4.0 * m * nkb, 0);
	return krn_check_launch();
}

extern "C" int krn_silu_mul(const uint16_t *gu, uint16_t *out, int m, int inter, void *stream)
{
	if (m < 1 || inter < 1 || !gu || !out)
		return KRN_EINVAL;
	const int slot = krn_stat_begin("silu_mul", stream);
	silu_mul_kernel<<<krn_cdiv((long)m * inter, 256), 256, 0, krn_stream(stream)>>>(gu, out, m, inter);
	krn_stat_end(slot, stream, 6.0 * m * inter, 0);
	return krn_check_launch();
}
