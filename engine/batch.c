/* batch.c — many requests on one model (engine.h eng_batch_*): n slots, each a session with its own
 * thread, fed from one bounded FIFO. This is the CPU path's form of "concurrent clients share the
 * engine": eng_forward steps one sequence at a time, so slots run side by side rather than in one
 * batched forward. Continuous batching (one forward over every active sequence per step, paged KV
 * so that slots cost only the positions they use, admission between steps) needs a batched
 * eng_forward over [n_seq] tokens with per-sequence positions and KV pages; the queue, the
 * callbacks and the counts here stay as they are when that arrives. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/err.h"

struct job {
	struct eng_batch_req rq; /* system/user point into the copies below */
	char *system, *user;
	struct job *next;
};

struct slot {
	struct eng_batch *b;
	struct eng_session *s;
	pthread_t th;
	int started;
};

struct eng_batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	int n_queued, max_queue, n_running, stopping;
	int n_slots;
	struct slot *slots;
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->system);
	free(j->user);
	free(j);
}

static void run_job(struct slot *sl, struct job *j)
{
	const struct eng_batch_req *rq = &j->rq;
	if (rq->on_token && rq->on_token(rq->ctx, "", 0) != 0) {
		rq->on_done(rq->ctx, ENG_OK, NULL, NULL);
		return;
	}
	struct eng_gen_result res = {0};
	struct eng_err err = {0};
	struct eng_gen_input in = {.system = j->system, .text = j->user, .chat = !rq->raw};
	int rc = eng_generate(sl->s, &in, &rq->opts, rq->on_token, rq->ctx, NULL, &res, &err);
	rq->on_done(rq->ctx, rc, &res, &err);
	eng_gen_result_free(&res);
}

static void *slot_main(void *arg)
{
	struct slot *sl = arg;
	struct eng_batch *b = sl->b;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->head && !b->stopping)
			pthread_cond_wait(&b->cv, &b->mu);
		struct job *j = b->head;
		if (!j)
			break; /* stopping and drained */
		b->head = j->next;
		if (!b->head)
			b->tail = NULL;
		b->n_queued--;
		b->n_running++;
		pthread_mutex_unlock(&b->mu);
		run_job(sl, j);
		job_free(j);
		pthread_mutex_lock(&b->mu);
		b->n_running--;
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int eng_batch_create(struct eng_model *m, int n_slots, int max_queue, struct eng_batch **out, struct eng_err *err)
{
	*out = NULL;
	if (err)
		memset(err, 0, sizeof *err);
	if (!m || n_slots < 1 || n_slots > 1024 || max_queue < 0 || max_queue > 1000000)
		return eng_errf(err, ENG_EMISUSE, "batch: %d slots, queue %d: need 1..1024 slots, queue 0..1000000",
				n_slots, max_queue);
	struct eng_batch *b = calloc(1, sizeof *b);
	if (!b || !(b->slots = calloc((size_t)n_slots, sizeof *b->slots))) {
		free(b);
		return eng_errf(err, ENG_ENOMEM, "batch: out of memory for %d slots", n_slots);
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->max_queue = max_queue;
	b->n_slots = n_slots;
	int rc = ENG_OK;
	/* Sessions up front: their KV caches are the server's steady memory, not a per-request cost. */
	for (int i = 0; i < n_slots && rc == ENG_OK; i++) {
		b->slots[i].b = b;
		rc = eng_session_create(m, &b->slots[i].s, err);
	}
	for (int i = 0; i < n_slots && rc == ENG_OK; i++) {
		if (pthread_create(&b->slots[i].th, NULL, slot_main, &b->slots[i]) != 0)
			rc = eng_errf(err, ENG_ENOMEM, "batch: cannot start slot thread %d", i);
		else
			b->slots[i].started = 1;
	}
	if (rc) {
		eng_batch_free(b);
		return rc;
	}
	*out = b;
	return ENG_OK;
}

int eng_batch_submit(struct eng_batch *b, const struct eng_batch_req *rq, struct eng_err *err)
{
	if (!b || !rq || !rq->user || !rq->on_done)
		return eng_errf(err, ENG_EMISUSE, "eng_batch_submit: batch, user text and on_done are required");
	struct job *j = calloc(1, sizeof *j);
	if (!j || !(j->user = strdup(rq->user)) || (rq->system && !(j->system = strdup(rq->system)))) {
		job_free(j);
		return eng_errf(err, ENG_ENOMEM, "eng_batch_submit: out of memory");
	}
	j->rq = *rq;
	j->rq.system = j->system;
	j->rq.user = j->user;
	pthread_mutex_lock(&b->mu);
	/* An idle slot takes a request at once, so only what exceeds the slots counts against the
	 * queue: max_queue 0 means "run now or refuse". */
	if (b->stopping || b->n_running + b->n_queued >= b->n_slots + b->max_queue) {
		int q = b->n_queued, stopping = b->stopping;
		pthread_mutex_unlock(&b->mu);
		job_free(j);
		if (stopping)
			return eng_errf(err, ENG_EMISUSE, "eng_batch_submit: the batch is shutting down");
		return eng_errf(err, ENG_ELIMIT, "queue full: %d requests wait (max %d)", q, b->max_queue);
	}
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	b->n_queued++;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return ENG_OK;
}

void eng_batch_counts(struct eng_batch *b, int *running, int *queued)
{
	pthread_mutex_lock(&b->mu);
	*running = b->n_running;
	*queued = b->n_queued;
	pthread_mutex_unlock(&b->mu);
}

int eng_batch_slots(const struct eng_batch *b)
{
	return b->n_slots;
}

void eng_batch_free(struct eng_batch *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->stopping = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	for (int i = 0; i < b->n_slots; i++) {
		if (b->slots[i].started)
			pthread_join(b->slots[i].th, NULL);
		eng_session_free(b->slots[i].s);
	}
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b->slots);
	free(b);
}
