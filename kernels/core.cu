// core.cu — error sentences, the device and its peaks, the copy-bandwidth measurement and the
// stage statistics table (STYLE: "Kernels report their share of the hardware limit").
#include <stdio.h>
#include <string.h>

#include "kernels/common.cuh"

extern "C" const char *krn_strerror(int code)
{
	switch (code) {
	case KRN_OK: return "success";
	case KRN_EINVAL: return "invalid argument or shape";
	case KRN_EUNSUPPORTED: return "shape or option not supported by these kernels";
	case KRN_ECUDA: return "CUDA runtime error";
	case KRN_ENODEV: return "no CUDA device or driver";
	default: return "unknown kernels error";
	}
}

extern "C" int krn_device_query(struct krn_device *d)
{
	memset(d, 0, sizeof(*d));
	int n = 0, dev = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
		cudaGetLastError(); // a missing driver is not a sticky error; clear it for later calls
		return KRN_ENODEV;
	}
	cudaDeviceProp p;
	if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess)
		return KRN_ECUDA;
	snprintf(d->name, sizeof d->name, "%s", p.name);
	d->sm_major = p.major;
	d->sm_minor = p.minor;
	d->n_sm = p.multiProcessorCount;
	d->mem_bytes = p.totalGlobalMem;
	d->smem_per_block_optin = p.sharedMemPerBlockOptin;
	d->l2_bytes = (size_t)p.l2CacheSize;
	int mem_khz = 0, sm_khz = 0, bus = p.memoryBusWidth;
	cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev);
	cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, dev);
	d->hbm_gbps_datasheet = 2.0 * mem_khz * 1e3 * (bus / 8.0) / 1e9; // double data rate
	if (p.major == 9) {
		// Hopper dense tensor-core rates per SM per clock: FP8 8192 flop, BF16 4096 (the H100 SXM
		// datasheet's 1979 / 989 TFLOP/s over 132 SMs at 1.83 GHz).
		d->fp8_tflops_datasheet = 8192.0 * d->n_sm * sm_khz * 1e3 / 1e12;
		d->bf16_tflops_datasheet = 4096.0 * d->n_sm * sm_khz * 1e3 / 1e12;
	}
	return KRN_OK;
}

extern "C" int krn_device_copy_gbps(size_t bytes, int reps, double *gbps)
{
	void *a = NULL, *b = NULL;
	cudaEvent_t e0 = NULL, e1 = NULL;
	int rc = KRN_ECUDA;
	float ms = 0.0f;
	*gbps = 0.0;
	if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess)
		goto out;
	if (cudaMemset(a, 1, bytes) != cudaSuccess || cudaEventCreate(&e0) != cudaSuccess ||
	    cudaEventCreate(&e1) != cudaSuccess)
		goto out;
	cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice); // warm-up
	cudaEventRecord(e0);
	for (int i = 0; i < reps; i++)
		cudaMemcpyAsync(i & 1 ? a : b, i & 1 ? b : a, bytes, cudaMemcpyDeviceToDevice);
	cudaEventRecord(e1);
	if (cudaEventSynchronize(e1) != cudaSuccess || cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess)
		goto out;
	*gbps = 2.0 * bytes * reps / (ms * 1e-3) / 1e9; // read + write
	rc = KRN_OK;
out:
	cudaFree(a);
	cudaFree(b);
	if (e0)
		cudaEventDestroy(e0);
	if (e1)
		cudaEventDestroy(e1);
	return rc;
}

// ---- stage statistics: one owner thread; a row per wrapper name, event pairs folded in on read --

namespace {
struct pending {
	int row;
	cudaEvent_t start, stop;
};
int g_on;
struct krn_stat g_rows[KRN_STATS_MAX];
int g_nrows;
struct pending g_pend[1024];
int g_npend;
} // namespace

static void fold(void)
{
	for (int i = 0; i < g_npend; i++) {
		float ms = 0.0f;
		if (g_pend[i].stop && cudaEventSynchronize(g_pend[i].stop) == cudaSuccess &&
		    cudaEventElapsedTime(&ms, g_pend[i].start, g_pend[i].stop) == cudaSuccess)
			g_rows[g_pend[i].row].us += ms * 1e3;
		cudaEventDestroy(g_pend[i].start);
		if (g_pend[i].stop)
			cudaEventDestroy(g_pend[i].stop);
	}
	g_npend = 0;
}

extern "C" int krn_stats_enable(int on)
{
	g_on = on != 0;
	return KRN_OK;
}

extern "C" void krn_stats_reset(void)
{
	fold();
	g_nrows = 0;
	memset(g_rows, 0, sizeof g_rows);
}

extern "C" int krn_stats_read(struct krn_stat *rows, int max, int *n)
{
	fold();
	*n = g_nrows < max ? g_nrows : max;
	memcpy(rows, g_rows, sizeof(struct krn_stat) * (size_t)*n);
	return cudaGetLastError() == cudaSuccess ? KRN_OK : KRN_ECUDA;
}

int krn_stat_begin(const char *name, void *stream)
{
	if (!g_on)
		return -1;
	if (g_npend == (int)(sizeof g_pend / sizeof g_pend[0]))
		fold();
	int row = 0;
	while (row < g_nrows && strcmp(g_rows[row].name, name))
		row++;
	if (row == g_nrows) {
		if (g_nrows == KRN_STATS_MAX)
			return -1;
		g_rows[g_nrows++].name = name;
	}
	struct pending *p = &g_pend[g_npend];
	p->row = row;
	p->stop = NULL;
	if (cudaEventCreate(&p->start) != cudaSuccess)
		return -1;
	cudaEventRecord(p->start, krn_stream(stream));
	return g_npend++;
}

void krn_stat_end(int slot, void *stream, double bytes, double flops)
{
	if (slot < 0)
		return;
	struct pending *p = &g_pend[slot];
	if (cudaEventCreate(&p->stop) == cudaSuccess)
		cudaEventRecord(p->stop, krn_stream(stream));
	g_rows[p->row].calls++;
	g_rows[p->row].bytes += bytes;
	g_rows[p->row].flops += flops;
}
