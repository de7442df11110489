/* batch.c — many requests on one model (engine.h eng_batch_*) by continuous batching: one
 * scheduler thread advances every active request by one batched step (eng_forward_batch: a decode
 * row per generating request plus up to ENG_PREFILL_ROWS prompt rows of requests being admitted),
 * so each weight matrix is read once per step for all of them. Queued requests take free slots
 * between steps, finished ones retire at once.
 * The KV cache is paged (paged.h): one pool of blocks per batch, sized at creation from a byte
 * budget. Admission control reserves, in arrival order, the blocks a request can ever use (prompt
 * + max_tokens - 1 positions, capped at the context) before its first row runs; a request that
 * does not fit waits for blocks, so a running request never runs out of cache mid-generation and
 * nothing is preempted or recomputed. Prefix sharing: a request whose prompt tokens equal those of
 * one still prefilling takes that prompt's full blocks read-only (reference counted), gets a copy
 * of the partial last block and the prompt's last logits when its leader's prefill ends: k samples
 * of one prompt cost one prefill. Tokens are chosen by the same code as eng_generate
 * (batch_internal.h) from logits that equal one-at-a-time steps bit for bit, so a request gets the
 * same tokens alone, in a crowd, or sharing a prefix. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/batch_internal.h"
#include "engine/err.h"
#include "engine/paged.h"

struct job {
	struct eng_batch_req rq; /* system/user point into the copies below */
	char *system, *user;
	struct job *next;
};

struct slot {
	struct eng_state *st; /* the sequence's block table (a split model: a whole state) */
	struct job *j;        /* NULL: free */
	struct eng_gen *g;    /* NULL while admitted but not started */
	long ticket;          /* arrival order, for reserving blocks first come first served */
	int ready;            /* its blocks are reserved: it may run */
	int leader;           /* >= 0: shares that slot's prompt blocks and waits for its prefill */
	int prefilled_now;    /* the step being run ends its prompt */
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
	struct eng_kv_pool *kv; /* NULL for a split model (its slots hold whole contexts); under mu */
	long shared_prefills;   /* under mu */
	/* the scheduler's, touched by its thread only */
	struct eng_model *m;
	const struct eng_transformer *tf;
	struct eng_bstate *bs;
	int *tok, *pos, *row_slot; /* (bs->max_rows) one step's rows */
	struct eng_state **seq;
	float *lg_work;            /* (vocab) a prompt's last logits, copied for each sharer */
	long next_ticket;
	int share;
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

/* Gives slot sl's blocks back to the pool. */
static void release(struct eng_batch *b, struct slot *sl)
{
	if (b->kv && sl->ready) {
		pthread_mutex_lock(&b->mu);
		eng_kv_seq_release(sl->st);
		pthread_mutex_unlock(&b->mu);
	}
	sl->ready = 0;
	sl->leader = -1;
}

/* Ends slot sl's request: on_done with its result or error, then the slot is free. Requests
 * waiting for its prefill (only a failed step ends a leader before it) fail with it. */
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
	release(b, sl);
	rq->on_done(rq->ctx, rc, rc == ENG_OK ? &res : NULL, e);
	eng_gen_result_free(&res);
	job_free(sl->j);
	sl->j = NULL;
	pthread_mutex_lock(&b->mu);
	b->n_running--;
	pthread_mutex_unlock(&b->mu);
	const int me = (int)(sl - b->slots);
	for (int i = 0; i < b->n_slots; i++)
		if (b->slots[i].j && b->slots[i].leader == me) {
			struct eng_err fe = {0};
			eng_errf(&fe, rc ? rc : ENG_EINTERNAL, "the request sharing this prompt's prefill failed: %s",
				 e && e->code ? e->msg : "ended before its prefill");
			retire(b, &b->slots[i], fe.code, &fe);
		}
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
	sl->ready = 0;
	sl->leader = -1;
}

/* A slot still prefilling the same prompt tokens as sl, which sl can share; -1 when none. */
static int find_leader(const struct eng_batch *b, const struct slot *sl)
{
	int n = 0;
	const int32_t *ids = eng_gen_prompt(sl->g, &n);
	for (int i = 0; i < b->n_slots; i++) {
		const struct slot *o = &b->slots[i];
		if (o == sl || !o->g || !o->ready || o->leader >= 0 || o->fed >= o->n_prompt || o->n_prompt != n)
			continue;
		int on = 0;
		const int32_t *oids = eng_gen_prompt(o->g, &on);
		if (memcmp(ids, oids, (size_t)n * sizeof *ids) == 0)
			return i;
	}
	return -1;
}

/* Reserves the blocks slot sl can ever use: 1 when done (sl may run), 0 when the pool has too
 * few free now (sl waits), -1 when sl was retired because it could never fit. */
static int reserve(struct eng_batch *b, struct slot *sl)
{
	if (!b->kv) { /* a split model's slot holds a whole context */
		sl->ready = 1;
		return 1;
	}
	const int max_seq = sl->st->max_seq;
	long need = (long)sl->n_prompt + sl->j->rq.opts.max_tokens - 1;
	if (need > max_seq)
		need = max_seq;
	const int nb = eng_kv_blocks_for((int)need);
	const int leader = b->share ? find_leader(b, sl) : -1;
	/* the leader's full prompt blocks are never written again: they are shared as they are */
	const int shared = leader >= 0 ? sl->n_prompt / ENG_KV_BLOCK : 0;
	pthread_mutex_lock(&b->mu);
	const int total = b->kv->n_blocks, avail = b->kv->n_free;
	if (nb > total) {
		pthread_mutex_unlock(&b->mu);
		struct eng_err e = {0};
		eng_errf(&e, ENG_ELIMIT, "request needs %d KV blocks (%ld positions) but the pool holds %d", nb, need,
			 total);
		retire(b, sl, e.code, &e);
		return -1;
	}
	if (nb - shared > avail) {
		pthread_mutex_unlock(&b->mu);
		return 0;
	}
	const struct slot *ld = leader >= 0 ? &b->slots[leader] : NULL;
	int rc = ENG_OK;
	for (int i = 0; i < nb && rc == ENG_OK; i++) {
		int blk = i < shared ? ld->st->blocks[i] : eng_kv_alloc(b->kv);
		if (i < shared)
			eng_kv_ref(b->kv, blk);
		rc = eng_kv_seq_push(sl->st, blk, NULL);
	}
	pthread_mutex_unlock(&b->mu);
	sl->ready = 1;
	sl->leader = leader;
	return 1;
}

/* Reserves blocks for the started slots that wait for them, first come first served: a request
 * that does not fit stops the ones behind it (no starvation of long requests). */
static void admit(struct eng_batch *b)
{
	for (;;) {
		struct slot *first = NULL;
		for (int i = 0; i < b->n_slots; i++) {
			struct slot *sl = &b->slots[i];
			if (sl->j && sl->g && !sl->ready && (!first || sl->ticket < first->ticket))
				first = sl;
		}
		if (!first || reserve(b, first) == 0)
			return;
	}
}

/* One step: a decode row per generating request, then prompt rows (up to ENG_PREFILL_ROWS) of
 * requests still prefilling, in slot order. Requests waiting for blocks or for a leader's prefill
 * have no rows. Returns the row count. */
static int build_rows(struct eng_batch *b)
{
	int n = 0, budget = ENG_PREFILL_ROWS;
	for (int i = 0; i < b->n_slots; i++) {
		struct slot *sl = &b->slots[i];
		if (sl->g && sl->ready && sl->leader < 0 && sl->fed == sl->n_prompt) {
			b->tok[n] = sl->next;
			b->pos[n] = sl->pos;
			b->seq[n] = sl->st;
			b->row_slot[n++] = i;
		}
	}
	for (int i = 0; i < b->n_slots && budget > 0; i++) {
		struct slot *sl = &b->slots[i];
		if (!sl->g || !sl->ready || sl->leader >= 0 || sl->fed == sl->n_prompt)
			continue;
		int np = 0;
		const int32_t *ids = eng_gen_prompt(sl->g, &np);
		for (; sl->fed < np && budget > 0; sl->fed++, budget--) {
			b->tok[n] = ids[sl->fed];
			b->pos[n] = sl->fed;
			b->seq[n] = sl->st;
			b->row_slot[n++] = i;
		}
		sl->prefilled_now = sl->fed == np;
	}
	return n;
}

/* Slot li's prefill has just ended with logits lg: each request sharing it gets a copy of the
 * partial last prompt block (its full blocks are already in its table) and samples its first
 * token from a copy of lg, as if it had run the prompt itself. */
static void hand_off(struct eng_batch *b, int li, const float *lg)
{
	const struct slot *ld = &b->slots[li];
	const int full = ld->n_prompt / ENG_KV_BLOCK, rem = ld->n_prompt % ENG_KV_BLOCK;
	const size_t V = (size_t)b->tf->cfg.vocab_size;
	for (int i = 0; i < b->n_slots; i++) {
		struct slot *sl = &b->slots[i];
		if (!sl->j || sl->leader != li)
			continue;
		if (rem)
			eng_kv_copy(b->kv, sl->st->blocks[full], ld->st->blocks[full], rem);
		sl->leader = -1;
		sl->fed = sl->n_prompt;
		pthread_mutex_lock(&b->mu);
		b->shared_prefills++;
		pthread_mutex_unlock(&b->mu);
		memcpy(b->lg_work, lg, V * sizeof(float));
		struct eng_err err = {0};
		int rc = eng_gen_step(sl->g, b->lg_work, &sl->next, &sl->pos, &err);
		if (rc)
			retire(b, sl, rc, &err);
		else if (sl->next < 0)
			retire(b, sl, ENG_OK, NULL);
	}
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
		if (sl->prefilled_now) {
			sl->prefilled_now = 0;
			hand_off(b, b->row_slot[r], b->bs->logits + (size_t)r * V); /* before the sampler scales them */
		}
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
				sl->ticket = b->next_ticket++;
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
		admit(b);
		step(b);
	}
}

int eng_batch_create(struct eng_model *m, int n_slots, int max_queue, struct eng_batch **out, struct eng_err *err)
{
	const struct eng_batch_opts o = {.n_slots = n_slots, .max_queue = max_queue};
	return eng_batch_create_opts(m, &o, out, err);
}

int eng_batch_create_opts(struct eng_model *m, const struct eng_batch_opts *o, struct eng_batch **out,
			  struct eng_err *err)
{
	*out = NULL;
	if (err)
		memset(err, 0, sizeof *err);
	const int n_slots = o->n_slots, max_queue = o->max_queue;
	if (!m || n_slots < 1 || n_slots > 1024 || max_queue < 0 || max_queue > 1000000 || !(o->kv_bytes >= 0))
		return eng_errf(err, ENG_EMISUSE,
				"batch: %d slots, queue %d, KV budget %.0f bytes: need 1..1024 slots, queue 0..1000000, "
				"budget >= 0", n_slots, max_queue, o->kv_bytes);
	const struct eng_transformer *tf = eng_model_tf(m);
	const int max_seq = eng_model_max_seq(m), rows = n_slots + ENG_PREFILL_ROWS;
	const size_t block_bytes = eng_kv_block_bytes(tf);
	double n_blocks = o->kv_bytes > 0 ? o->kv_bytes / (double)block_bytes
					  : (double)n_slots * eng_kv_blocks_for(max_seq);
	if (!tf->split && n_blocks < 1)
		return eng_errf(err, ENG_EMISUSE, "batch: a KV budget of %.0f bytes holds no block of %zu bytes",
				o->kv_bytes, block_bytes);
	if (n_blocks > 1 << 30)
		n_blocks = 1 << 30;
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
	b->tf = tf;
	b->share = !o->no_prefix_share && !tf->split;
	int rc = eng_bstate_create(b->tf, rows, max_seq, &b->bs, err);
	if (rc == ENG_OK && eng_model_threads(m) > 1)
		rc = eng_bstate_threads(b->bs, eng_model_threads(m), err);
	if (rc == ENG_OK &&
	    (!(b->tok = malloc((size_t)rows * sizeof *b->tok)) || !(b->pos = malloc((size_t)rows * sizeof *b->pos)) ||
	     !(b->row_slot = malloc((size_t)rows * sizeof *b->row_slot)) ||
	     !(b->seq = malloc((size_t)rows * sizeof *b->seq)) ||
	     !(b->lg_work = malloc((size_t)tf->cfg.vocab_size * sizeof *b->lg_work))))
		rc = eng_errf(err, ENG_ENOMEM, "batch: out of memory for %d rows", rows);
	/* A split model's rows run through eng_forward on whole states (its ranks hold the caches);
	 * a whole model's slots are block tables over the one pool. */
	if (rc == ENG_OK && !tf->split)
		rc = eng_kv_pool_create(tf, (int)n_blocks, &b->kv, err);
	for (int i = 0; i < n_slots && rc == ENG_OK; i++) {
		b->slots[i].leader = -1;
		if (!tf->split) {
			rc = eng_state_create_paged(tf, max_seq, b->kv, &b->slots[i].st, err);
			continue;
		}
		rc = eng_state_create(b->tf, max_seq, &b->slots[i].st, err);
		if (rc == ENG_OK && eng_model_threads(m) > 1)
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

void eng_batch_kv_stats(struct eng_batch *b, struct eng_batch_kv *out)
{
	*out = (struct eng_batch_kv){.block_positions = ENG_KV_BLOCK, .block_bytes = eng_kv_block_bytes(b->tf)};
	pthread_mutex_lock(&b->mu);
	if (b->kv) {
		out->n_blocks = b->kv->n_blocks;
		out->used = eng_kv_used(b->kv);
		out->peak = b->kv->peak_used;
	}
	out->shared_prefills = b->shared_prefills;
	pthread_mutex_unlock(&b->mu);
}

int eng_batch_submit_group(struct eng_batch *b, const struct eng_batch_req *rq, int n, struct eng_err *err)
{
	if (!b || !rq || n < 1)
		return eng_errf(err, ENG_EMISUSE, "eng_batch_submit: batch and at least one request are required");
	struct job *first = NULL, *last = NULL;
	for (int i = 0; i < n; i++) {
		if (!rq[i].user || !rq[i].on_done) {
			for (struct job *j = first, *nx; j; j = nx) {
				nx = j->next;
				job_free(j);
			}
			return eng_errf(err, ENG_EMISUSE, "eng_batch_submit: user text and on_done are required");
		}
		struct job *j = calloc(1, sizeof *j);
		if (!j || !(j->user = strdup(rq[i].user)) || (rq[i].system && !(j->system = strdup(rq[i].system)))) {
			job_free(j);
			for (struct job *k = first, *nx; k; k = nx) {
				nx = k->next;
				job_free(k);
			}
			return eng_errf(err, ENG_ENOMEM, "eng_batch_submit: out of memory");
		}
		j->rq = rq[i];
		j->rq.system = j->system;
		j->rq.user = j->user;
		if (last)
			last->next = j;
		else
			first = j;
		last = j;
	}
	pthread_mutex_lock(&b->mu);
	/* A free slot takes a request at the next step, so only what exceeds the slots counts against
	 * the queue: max_queue 0 means "run now or refuse". */
	if (b->stopping || b->n_running + b->n_queued + n > b->n_slots + b->max_queue) {
		int q = b->n_queued, stopping = b->stopping;
		pthread_mutex_unlock(&b->mu);
		for (struct job *j = first, *nx; j; j = nx) {
			nx = j->next;
			job_free(j);
		}
		if (stopping)
			return eng_errf(err, ENG_EMISUSE, "eng_batch_submit: the batch is shutting down");
		return eng_errf(err, ENG_ELIMIT, "queue full: %d requests wait (max %d)", q, b->max_queue);
	}
	if (b->tail)
		b->tail->next = first;
	else
		b->head = first;
	b->tail = last;
	b->n_queued += n;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return ENG_OK;
}

int eng_batch_submit(struct eng_batch *b, const struct eng_batch_req *rq, struct eng_err *err)
{
	return eng_batch_submit_group(b, rq, 1, err);
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
	eng_kv_pool_free(b->kv);
	eng_bstate_free(b->bs);
	free(b->lg_work);
	free(b->tok);
	free(b->pos);
	free(b->row_slot);
	free(b->seq);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b->slots);
	free(b);
}
