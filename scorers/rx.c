/* rx.c — fixed PCRE2 pattern tables; see rx.h. */
#include "scorers/rx.h"

int scr_rx_compile(const char *const *src, const uint32_t *opt, int n, pcre2_code **rx)
{
	for (int i = 0; i < n; i++) {
		int ec;
		PCRE2_SIZE eo;
		rx[i] = pcre2_compile((PCRE2_SPTR)src[i], PCRE2_ZERO_TERMINATED, opt[i], &ec, &eo, NULL);
		if (!rx[i])
			return -1;
		pcre2_jit_compile(rx[i], PCRE2_JIT_COMPLETE);
	}
	return 0;
}
