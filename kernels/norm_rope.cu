// norm_rope.cu — RMSNorm fused with the residual add (HF DeepseekV3RMSNorm / Qwen3RMSNorm on
// x + residual) and rotary embedding from cos/sin tables (interleaved pairs or rotate_half).
#include "kernels/common.cuh"

namespace {

constexpr int NORM_THREADS = 256;

// One block per row: res += x (float4 + 4 bf16), sum of squares, then out = w * res * rsqrt.
__global__ void rmsnorm_kernel(float *__restrict__ res, int ldres, const uint16_t *__restrict__ x, int ldx,
			       const float *__restrict__ w, uint16_t *__restrict__ out, int ldo, int n, float eps)
{
	const int r = blockIdx.x;
	float *rr = res + (size_t)r * ldres;
	float ss = 0.0f;
	for (int c = threadIdx.x * 4; c < n; c += NORM_THREADS * 4) {
		float4 v = *reinterpret_cast<float4 *>(rr + c);
		if (x) {
			uint2 raw = *reinterpret_cast<const uint2 *>(x + (size_t)r * ldx + c);
			v.x += bf2f(raw.x & 0xffff);
			v.y += bf2f(raw.x >> 16);
			v.z += bf2f(raw.y & 0xffff);
			v.w += bf2f(raw.y >> 16);
			*reinterpret_cast<float4 *>(rr + c) = v;
		}
		ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
	}
	__shared__ float part[NORM_THREADS / 32];
	ss = warp_sum(ss);
	if ((threadIdx.x & 31) == 0)
		part[threadIdx.x >> 5] = ss;
	__syncthreads();
	float tot = 0.0f;
	for (int i = 0; i < NORM_THREADS / 32; i++)
		tot += part[i];
	const float inv = rsqrtf(tot / n + eps);
	for (int c = threadIdx.x * 4; c < n; c += NORM_THREADS * 4) {
		// each thread reads back the elements it wrote itself: no barrier needed
		float4 v = *reinterpret_cast<float4 *>(rr + c);
		uint2 o;
		o.x = f2bf(w[c] * v.x * inv) | (uint32_t)f2bf(w[c + 1] * v.y * inv) << 16;
		o.y = f2bf(w[c + 2] * v.z * inv) | (uint32_t)f2bf(w[c + 3] * v.w * inv) << 16;
		*reinterpret_cast<uint2 *>(out + (size_t)r * ldo + c) = o;
	}
}

// One thread per (row, head, pair).
__global__ void rope_kernel(struct krn_rope_args a)
{
	const int half = a.rope_dim / 2;
	const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (long)a.m * a.n_heads * half)
		return;
	const int p = (int)(i % half), h = (int)(i / half % a.n_heads), r = (int)(i / half / a.n_heads);
	const int pos = a.pos[r];
	if (pos < 0 || pos >= a.max_pos) // documented: such rows are left as they are
		return;
	uint16_t *x = a.x + (size_t)r * a.ldx + (size_t)h * a.head_stride + a.rope_off;
	const int i0 = a.interleave ? 2 * p : p, i1 = a.interleave ? 2 * p + 1 : p + half;
	const float c = a.cos[(size_t)pos * half + p], s = a.sin[(size_t)pos * half + p];
	const float x0 = bf2f(x[i0]), x1 = bf2f(x[i1]);
	x[i0] = f2bf(x0 * c - x1 * s);
	x[i1] = f2bf(x1 * c + x0 * s);
}

} // namespace

extern "C" int krn_rmsnorm(float *res, int ldres, const uint16_t *x, int ldx, const float *w, uint16_t *out, int ldo,
			   int m, int n, float eps, void *stream)
{
	if (m < 1 || n < 1 || !res || !w || !out || ldres < n || ldo < n || (x && ldx < n))
		return KRN_EINVAL;
	if (n % 4 || ldres % 4 || ldo % 4 || (x && ldx % 4) || m > 2147483647)
		return KRN_EUNSUPPORTED;
	const int slot = krn_stat_begin("rmsnorm", stream);
	rmsnorm_kernel<<<m, NORM_THREADS, 0, krn_stream(stream)>>>(res, ldres, x, ldx, w, out, ldo, n, eps);
	krn_stat_end(slot, stream, (double)m * n * (x ? 4 + 2 + 4 + 4 + 2 : 4 + 2), 0);
	return krn_check_launch();
}

extern "C" int krn_rope(const struct krn_rope_args *a, void *stream)
{
	if (!a->x || !a->pos || !a->cos || !a->sin || a->m < 1 || a->n_heads < 1 || a->rope_dim < 2 || a->rope_dim % 2 ||
	    a->rope_off < 0 || a->rope_off + a->rope_dim > a->head_stride || (long)a->n_heads * a->head_stride > a->ldx ||
	    a->max_pos < 1)
		return KRN_EINVAL;
	const long n = (long)a->m * a->n_heads * (a->rope_dim / 2);
	const int slot = krn_stat_begin("rope", stream);
	rope_kernel<<<krn_cdiv(n, 256), 256, 0, krn_stream(stream)>>>(*a);
	krn_stat_end(slot, stream, n * 16.0, n * 6.0);
	return krn_check_launch();
}
