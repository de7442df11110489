/* progress.c — the progress line; see progress.h. */
#include "harness/progress.h"

#include <time.h>
#include <unistd.h>

double evh_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void evh_progress_init(struct evh_progress *p, FILE *out, size_t total, int quiet)
{
	p->out = out;
	p->tty = isatty(fileno(out));
	p->quiet = quiet;
	p->total = total;
	p->started = evh_now();
	p->last_print = 0;
	p->concurrency = 0;
}

void evh_progress_update(struct evh_progress *p, size_t done, size_t correct, size_t scored, size_t errors,
			 long tokens_out, double cost_usd, int force)
{
	if (p->quiet)
		return;
	double now = evh_now(), el = now - p->started;
	double every = p->tty ? 0.2 : 10.0;
	/* Off a terminal, also print at each 10% so short runs still show their course in CI logs. */
	int tenth = !p->tty && p->total >= 10 && done % (p->total / 10) == 0;
	if (!force && !tenth && now - p->last_print < every)
		return;
	p->last_print = now;
	double eta = done > 0 && done < p->total ? el / (double)done * (double)(p->total - done) : 0;
	char conc[32] = "";
	if (p->concurrency > 0)
		snprintf(conc, sizeof conc, "  conc %d", p->concurrency);
	fprintf(p->out, "%s%zu/%zu  acc %.1f%%  err %zu  %.0f tok/s  $%.4f%s  ETA %.0fs%s", p->tty ? "\r\033[K" : "",
		done, p->total, scored ? 100.0 * (double)correct / (double)scored : 0.0, errors,
		el > 0 ? (double)tokens_out / el : 0.0, cost_usd, conc, eta, p->tty ? "" : "\n");
	fflush(p->out);
}

void evh_progress_end(struct evh_progress *p)
{
	if (!p->quiet && p->tty)
		fputc('\n', p->out);
}
