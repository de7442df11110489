/* progress.h — one progress line: rewritten in place on a terminal, plain periodic lines otherwise. */
#ifndef EVH_PROGRESS_H
#define EVH_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

struct evh_progress {
	FILE *out;
	int tty;          /* rewrite one line with \r */
	int quiet;
	size_t total;
	double started;   /* monotonic seconds */
	double last_print;
	int concurrency;  /* current adaptive limit on requests in flight, shown when > 0 */
};

void evh_progress_init(struct evh_progress *p, FILE *out, size_t total, int quiet);
/* Prints when due (every 0.2 s on a tty, every 10 s or each 10% otherwise). Not thread-safe: call
 * under the caller's lock. */
void evh_progress_update(struct evh_progress *p, size_t done, size_t correct, size_t scored, size_t errors,
			 long tokens_out, double cost_usd, int force);
void evh_progress_end(struct evh_progress *p);

/* Monotonic clock in seconds. */
double evh_now(void);

#endif
