/* batch.c — many requests on one model (engine.h eng_batch_*) by continuous batching: one
 * scheduler thread advances every active request by one batched step (eng_forward_batch: a decode
 * row per generating request plus up to ENG_PREFILL_ROWS prompt rows of requests being admitted),
 * so each weight matrix is read once per step for all of them. Queued requests are admitted
 * between steps as slots free up, finished ones retire at once. A slot is one sequence's KV
 * cache, allocated up front: the caches are the server's steady memory, not a per-request cost.
 * Tokens are chosen by the same code as eng_generate (batch_internal.h) from logits that equal
 * one-at-a-time steps bit for bit, so a request gets the same tokens alone or in a crowd. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/batch_internal.h"
#include "engine/err.h"

struct job {
	struct eng_batch_req rq; /* system/user point into the copies below */
	char *system, *user;
	struct job *next;
};

struct slot {
	struct eng_state *st; /* the sequence's KV cache */
	struct job *j;        /* NULL: free */
	struct eng_gen *g;    /* NULL while admitted but not started */
	int fed, n_prompt;    /* prompt tokens run so far, of n_prompt */
	int next, pos;        /* the decode row to run (after the prompt) */
};

struct eng_batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	int n_queued, max_queue, n_running, stopping;
	int n_slots;
	struct slot *slots;
	/* the scheduler's, touched by its thread only */
	struct eng_model *m;
	const struct eng_transformer *tf;
	struct eng_bstate *bs;
	int *tok, *pos, *row_slot; /* (bs->max_rows) one step's rows */
	struct eng_state **seq;
	pthread_t th;
	int started;
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->system);
	free(j->user);
	free(j);
}

/* Ends slot i's request: on_done with its result or error, then the slot is free. */
static void retire(struct eng_batch *b, struct slot *sl, int rc, const struct eng_err *e)
{
	const struct eng_batch_req *rq = &sl->j->rq;
	struct eng_gen_result res = {0};
	struct eng_err err = {0};
	if (rc == ENG_OK && sl->g) {
		rc = eng_gen_finish(sl->g, &res, &err);
		e = &err;
	} else {
		eng_gen_free(sl->g);
	}
	sl->g = NULL;
	rq->on_done(rq->ctx, rc, rc == ENG_OK ? &res : NULL, e);
	eng_gen_result_free(&res);
	job_free(sl->j);
	sl->j = NULL;
	pthread_mutex_lock(&b->mu);
	b->n_running--;
	pthread_mutex_unlock(&b->mu);
}

/* A newly admitted request: the len-0 call (a client that left while queued is skipped), then
 * render, encode and ready its generation. */
static void start(struct eng_batch *b, struct slot *sl)
{
	const struct eng_batch_req *rq = &sl->j->rq;
	if (rq->on_token && rq->on_token(rq->ctx, "", 0) != 0) {
		rq->on_done(rq->ctx, ENG_OK, NULL, NULL);
		job_free(sl->j);
		sl->j = NULL;
		pthread_mutex_lock(&b->mu);
		b->n_running--;
		pthread_mutex_unlock(&b->mu);
		return;
	}
	struct eng_gen_input in = {.system = sl->j->system, .text = sl->j->user, .chat = !rq->raw};
	struct eng_err err = {0};
	int rc = eng_gen_start(b->m, &in, &rq->opts, sl->st->max_seq, rq->on_token, rq->ctx, NULL, &sl->g, &err);
	if (rc) {
		retire(b, sl, rc, &err);
		return;
	}
	eng_gen_prompt(sl->g, &sl->n_prompt);
	sl->fed = 0;
}

/* One step: a decode row per generating request, then prompt rows (up to ENG_PREFILL_ROWS) of
 * requests still prefilling, in slot order. Returns the row count. */
static int build_rows(struct eng_batch *b)
{
	int n = 0, budget = ENG_PREFILL_ROWS;
	for (int i = 0; i < b->n_slots; i++) {
		struct slot *sl = &b->slots[i];
		if (sl->g && sl->fed == sl->n_prompt) {
			b->tok[n] = sl->next;
			b->pos[n] = sl->pos;
			b->seq[n] = sl->st;
			b->row_slot[n++] = i;
		}
	}
	for (int i = 0; i < b->n_slots && budget > 0; i++) {
		struct slot *sl = &b->slots[i];
		if (!sl->g || sl->fed == sl->n_prompt)
			continue;
		int np = 0;
		const int32_t *ids = eng_gen_prompt(sl->g, &np);
		for (; sl->fed < np && budget > 0; sl->fed++, budget--) {
			b->tok[n] = ids[sl->fed];
			b->pos[n] = sl->fed;
			b->seq[n] = sl->st;
			b->row_slot[n++] = i;
		}
	}
	return n;
}

static double step_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void step(struct eng_batch *b)
{
	int n = build_rows(b);
	if (n == 0)
		return;
	double t0 = step_now();
	const float *lg = eng_forward_batch(b->tf, b->bs, n, b->tok, b->pos, b->seq, ENG_FF_LAST_ROWS);
	/* Each row pays an equal share of the step: a request is billed for the rows it used. */
	double share = (step_now() - t0) / n;
	for (int r = 0; r < n; r++)
		if (b->slots[b->row_slot[r]].g)
			eng_gen_add_compute(b->slots[b->row_slot[r]].g, share);
	const size_t V = (size_t)b->tf->cfg.vocab_size;
	for (int r = 0; r < n; r++) {
		struct slot *sl = &b->slots[b->row_slot[r]];
		if (!sl->j)
			continue; /* retired by an earlier row of this step */
		if (!lg) { /* a split model's collective failed: every request of the step fails */
			retire(b, sl, b->bs->err.code ? b->bs->err.code : ENG_EINTERNAL, &b->bs->err);
			continue;
		}
		if (r + 1 < n && b->row_slot[r + 1] == b->row_slot[r])
			continue; /* not the sequence's last row: no logits */
		if (sl->fed < sl->n_prompt)
			continue; /* prompt chunk that does not end the prompt */
		struct eng_err err = {0};
		int rc = eng_gen_step(sl->g, b->bs->logits + (size_t)r * V, &sl->next, &sl->pos, &err);
		if (rc)
			retire(b, sl, rc, &err);
		else if (sl->next < 0)
			retire(b, sl, ENG_OK, NULL);
	}
}

static void *scheduler(void *arg)
{
	struct eng_batch *b = arg;
	for (;;) {
		/* admit waiting requests into free slots, or sleep when there is nothing to do */
		pthread_mutex_lock(&b->mu);
		int active = 0;
		for (int i = 0; i < b->n_slots; i++) {
			struct slot *sl = &b->slots[i];
			if (!sl->j && b->head) {
				sl->j = b->head;
				b->head = sl->j->next;
				if (!b->head)
					b->tail = NULL;
				b->n_queued--;
				b->n_running++;
			}
			active += sl->j != NULL;
		}
		if (!active) {
			if (b->stopping) {
				pthread_mutex_unlock(&b->mu);
				return NULL; /* stopping and drained */
			}
			pthread_cond_wait(&b->cv, &b->mu);
			pthread_mutex_unlock(&b->mu);
			continue;
		}
		pthread_mutex_unlock(&b->mu);
		for (int i = 0; i < b->n_slots; i++)
			if (b->slots[i].j && !b->slots[i].g)
				start(b, &b->slots[i]);
		step(b);
	}
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
	b->m = m;
	b->tf = eng_model_tf(m);
	const int max_seq = eng_model_max_seq(m), rows = n_slots + ENG_PREFILL_ROWS;
	int rc = eng_bstate_create(b->tf, rows, max_seq, &b->bs, err);
	if (rc == ENG_OK && eng_model_threads(m) > 1)
		rc = eng_bstate_threads(b->bs, eng_model_threads(m), err);
	if (rc == ENG_OK &&
	    (!(b->tok = malloc((size_t)rows * sizeof *b->tok)) || !(b->pos = malloc((size_t)rows * sizeof *b->pos)) ||
	     !(b->row_slot = malloc((size_t)rows * sizeof *b->row_slot)) ||
	     !(b->seq = malloc((size_t)rows * sizeof *b->seq))))
		rc = eng_errf(err, ENG_ENOMEM, "batch: out of memory for %d rows", rows);
	for (int i = 0; i < n_slots && rc == ENG_OK; i++) {
		rc = eng_state_create(b->tf, max_seq, &b->slots[i].st, err);
		/* a split model's rows run through eng_forward on these states: give them the threads */
		if (rc == ENG_OK && b->tf->split && eng_model_threads(m) > 1)
			rc = eng_state_threads(b->slots[i].st, eng_model_threads(m), err);
	}
	if (rc == ENG_OK) {
		if (pthread_create(&b->th, NULL, scheduler, b) != 0)
			rc = eng_errf(err, ENG_ENOMEM, "batch: cannot start the scheduler thread");
		else
			b->started = 1;
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
	/* A free slot takes a request at the next step, so only what exceeds the slots counts against
	 * the queue: max_queue 0 means "run now or refuse". */
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
	if (b->started)
		pthread_join(b->th, NULL);
	for (int i = 0; i < b->n_slots; i++)
		eng_state_free(b->slots[i].st);
	eng_bstate_free(b->bs);
	free(b->tok);
	free(b->pos);
	free(b->row_slot);
	free(b->seq);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b->slots);
	free(b);
}
