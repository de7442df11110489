/* aimd.c — per-endpoint adaptive concurrency; see aimd.h. A small fixed table under one mutex: a
 * run talks to one or two endpoints, and an attempt takes the lock twice, which is nothing beside
 * an HTTP round trip. */
#include "harness/aimd.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness/progress.h"
#include "harness/provider.h"
#include "harness/util/err.h"

#define MAX_ENDPOINTS 8

struct lim {
	char key[512];
	struct evh_aimd_cfg c;
	double window;      /* the limit as a real number; the integer part is enforced */
	int in_flight;
	int clean;          /* clean answers since the last change */
	double last_cut;    /* when the limit was last cut */
	double last_429;    /* when the endpoint last said 429 */
	double pause_until; /* no new attempt before this (Retry-After on a 429) */
	long throttled;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct lim lims[MAX_ENDPOINTS];
static int n_lims;

void evh_aimd_cfg_defaults(struct evh_aimd_cfg *c, int start, int max)
{
	c->start = start;
	c->max = max;
	c->cut = 0.8;
	c->grow = 1.05;
	c->cooldown_s = 2.0;
}

static int find(const char *key)
{
	for (int i = 0; key && i < n_lims; i++)
		if (!strcmp(lims[i].key, key))
			return i;
	return -1;
}

int evh_aimd_setup(const char *key, const struct evh_aimd_cfg *c)
{
	if (!key || !*key || strlen(key) >= sizeof lims[0].key || c->start < 1 || c->max < c->start || c->cut <= 0 ||
	    c->cut >= 1 || c->grow <= 1 || c->cooldown_s < 0)
		return evh_err_fail(NULL, EVH_EMISUSE, NULL, "aimd");
	pthread_mutex_lock(&mu);
	int i = find(key);
	if (i < 0 && n_lims == MAX_ENDPOINTS) {
		pthread_mutex_unlock(&mu);
		return EVH_ELIMIT;
	}
	if (i < 0)
		i = n_lims++;
	struct lim *l = &lims[i];
	memset(l, 0, sizeof *l);
	snprintf(l->key, sizeof l->key, "%s", key);
	l->c = *c;
	l->window = c->start;
	l->last_cut = l->last_429 = -1e9;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return EVH_OK;
}

void evh_aimd_reset_all(void)
{
	pthread_mutex_lock(&mu);
	n_lims = 0;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

int evh_aimd_acquire(const char *key)
{
	pthread_mutex_lock(&mu);
	int slot = -1;
	for (;;) {
		int i = find(key);
		if (i < 0 || evh_provider_cancelled())
			break;
		struct lim *l = &lims[i];
		double now = evh_now();
		if (l->in_flight < (int)l->window && now >= l->pause_until) {
			l->in_flight++;
			slot = i;
			break;
		}
		/* Wake at least every 50 ms: pauses end by the clock, and a cancel must be seen. */
		double wait = l->pause_until > now ? fmin(l->pause_until - now, 0.05) : 0.05;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long ns = ts.tv_nsec + (long)(wait * 1e9);
		ts.tv_sec += ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	pthread_mutex_unlock(&mu);
	return slot;
}

void evh_aimd_release(int slot, int status, double retry_after_s)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&mu);
	if (slot >= n_lims) { /* reset while the attempt ran */
		pthread_mutex_unlock(&mu);
		return;
	}
	struct lim *l = &lims[slot];
	double now = evh_now();
	if (l->in_flight > 0)
		l->in_flight--;
	if (status == 429) {
		l->throttled++;
		l->clean = 0;
		l->last_429 = now;
		/* One cut per burst: the 429s of requests sent before the cut say nothing new. */
		if (now - l->last_cut >= l->c.cooldown_s) {
			l->window = fmax(1.0, floor(l->window * l->c.cut));
			l->last_cut = now;
		}
		if (retry_after_s > 0 && now + retry_after_s > l->pause_until)
			l->pause_until = now + retry_after_s;
	} else if (status / 100 == 2 && now - l->last_429 >= l->c.cooldown_s) {
		/* A round is as many clean answers as the limit allows in flight, and none counts while
		 * a 429 is more recent than the cooldown: requests held back by backoff leave the
		 * endpoint quiet, and growing then would undo each cut before the next may come. */
		if (++l->clean >= (int)l->window) {
			l->clean = 0;
			l->window = fmin((double)l->c.max, l->window * l->c.grow);
		}
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

int evh_aimd_limit(const char *key)
{
	pthread_mutex_lock(&mu);
	int i = find(key), v = i >= 0 ? (int)lims[i].window : 0;
	pthread_mutex_unlock(&mu);
	return v;
}

long evh_aimd_throttled(const char *key)
{
	pthread_mutex_lock(&mu);
	int i = find(key);
	long v = i >= 0 ? lims[i].throttled : 0;
	pthread_mutex_unlock(&mu);
	return v;
}
