/* rx.h — tables of fixed PCRE2 patterns compiled once per process (extract.c's phrase rules,
 * mcq.c's letter rules); each caller keeps its own table and pthread_once. */
#ifndef SCR_RX_H
#define SCR_RX_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stdint.h>

/* Compiles src[i] with options opt[i] into rx[i] for i < n, JIT-compiled where the platform allows
 * (an optional speed-up: matching works without). Returns 0, or -1 when a pattern does not compile;
 * the patterns are constants, so that is a programming error the caller reports. */
int scr_rx_compile(const char *const *src, const uint32_t *opt, int n, pcre2_code **rx);

#endif
