/* provider.c — what every provider shares: freeing a response, the default retry policy, and the
 * process-wide cancel flag that SIGINT sets. The providers themselves live in provider_*.c. */
#include "harness/provider.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void evh_response_free(struct evh_response *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->reasoning);
	free(r->finish_reason);
	free(r->model);
	memset(r, 0, sizeof *r);
}

/* Defaults sized for reasoning models: a long answer may take many minutes, but a healthy stream
 * never goes a minute without a byte (servers send keep-alive comments while queued). */
void evh_retry_defaults(struct evh_retry *r)
{
	r->max_attempts = 5;
	r->timeout_s = 1800;
	r->connect_timeout_s = 10;
	r->stall_s = 120;
	r->backoff_base_s = 1;
	r->backoff_max_s = 60;
}

/* A lock-free atomic is async-signal-safe, unlike anything taking a mutex. */
static atomic_int cancelled;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "cancel flag must be lock-free to be set from a signal handler");

void evh_provider_cancel_all(void)
{
	atomic_store(&cancelled, 1);
}

int evh_provider_cancelled(void)
{
	return atomic_load(&cancelled);
}
