/* parallel_run.c — a model split over tp x ep ranks inside this process, one thread per rank (the
 * "one thread per GPU" layout of DESIGN.md): loading (each rank converts only its slice, in its
 * own thread), the ranks' run states, and one forward step driven on all of them. Rank 0 runs on
 * the caller's thread and its logits are the result; a rank that fails aborts the world so the
 * others return at once instead of waiting for their timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/comm.h"
#include "engine/err.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/pool.h"

struct eng_split {
	int tp, ep, n;
	struct eng_transformer **ranks; /* [n] each rank's slice */
	struct eng_comm **world, **tpc; /* [n] each rank's groups */
};

struct eng_split_state {
	const struct eng_split *sp;
	struct eng_state **st; /* [n] */
	struct eng_pool *ranks; /* thread r runs rank r (rank 0 the caller); NULL for one rank */
	int token, pos, flags; /* the step being run */
	int *rc;               /* [n] */
};

void eng_split_free(struct eng_split *sp)
{
	if (!sp)
		return;
	for (int r = 0; r < sp->n; r++) {
		if (sp->ranks)
			eng_transformer_free(sp->ranks[r]);
		if (sp->tpc)
			eng_comm_free(sp->tpc[r]);
		if (sp->world)
			eng_comm_free(sp->world[r]);
	}
	free(sp->ranks);
	free(sp->tpc);
	free(sp->world);
	free(sp);
}

/* ---- loading: every rank joins the tp split (a collective) and then loads its slice ---- */

/* The rank whose failure to report: the root cause, a rank's own failure rather than the others'
 * "group failed" (ENG_ECOMM); -1 when none failed. */
static int root_cause(const int *rc, int n)
{
	for (int r = 0; r < n; r++)
		if (rc[r] && rc[r] != ENG_ECOMM)
			return r;
	for (int r = 0; r < n; r++)
		if (rc[r])
			return r;
	return -1;
}

struct load_job {
	struct eng_split *sp;
	const char *dir;
	int *rc;              /* [n] */
	struct eng_err *errs; /* [n] */
};

static void load_rank(void *arg, int r)
{
	struct load_job *j = arg;
	struct eng_split *sp = j->sp;
	/* tp group: the ranks sharing ep_rank (world rank = ep_rank * tp + tp_rank) */
	j->rc[r] = eng_comm_split(sp->world[r], r / sp->tp, r % sp->tp, &sp->tpc[r], &j->errs[r]);
	if (j->rc[r])
		eng_comm_abort(sp->world[r], "tp split failed");
	else
		j->rc[r] = eng_transformer_load_part(j->dir, sp->tp, sp->ep, r, &sp->ranks[r], &j->errs[r]);
}

int eng_transformer_load_split(const char *dir, int tp, int ep, const char *comm, int timeout_ms,
			       struct eng_transformer **out, struct eng_err *err)
{
	*out = NULL;
	if (tp < 1 || ep < 1 || (long)tp * ep > 4096)
		return eng_errf(err, ENG_EMISUSE, "tp %d x ep %d: each must be >= 1 and the product <= 4096", tp, ep);
	int n = tp * ep, rc;
	struct eng_transformer *t = calloc(1, sizeof *t);
	struct eng_split *sp = calloc(1, sizeof *sp);
	int *rcs = calloc((size_t)n, sizeof *rcs);
	struct eng_err *errs = calloc((size_t)n, sizeof *errs);
	struct eng_pool *threads = NULL;
	if (!t || !sp || !rcs || !errs) {
		free(t);
		free(sp);
		free(rcs);
		free(errs);
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", dir);
	}
	t->split = sp;
	sp->tp = tp;
	sp->ep = ep;
	sp->n = n;
	sp->ranks = calloc((size_t)n, sizeof *sp->ranks);
	sp->world = calloc((size_t)n, sizeof *sp->world);
	sp->tpc = calloc((size_t)n, sizeof *sp->tpc);
	if (!sp->ranks || !sp->world || !sp->tpc) {
		rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", dir);
		goto done;
	}
	if (!comm || !strcmp(comm, "cpu"))
		rc = eng_comm_cpu_create(n, timeout_ms, sp->world, err);
	else if (!strcmp(comm, "nccl"))
		rc = eng_comm_nccl_create_all(n, NULL, timeout_ms, sp->world, err);
	else
		rc = eng_errf(err, ENG_EMISUSE, "comm '%s': expected cpu or nccl", comm);
	if (rc)
		goto done;
	if (n > 1 && !(threads = eng_pool_create(n))) { /* the ranks load at once: they meet in the splits */
		rc = eng_errf(err, ENG_ENOMEM, "cannot start the threads of the %d ranks", n);
		goto done;
	}
	struct load_job job = {.sp = sp, .dir = dir, .rc = rcs, .errs = errs};
	eng_pool_run(threads, load_rank, &job);
	int pick = root_cause(rcs, n);
	if (pick >= 0) {
		rc = rcs[pick];
		eng_errf(err, rc, "rank %d: %s", pick, errs[pick].msg);
		goto done;
	}
	t->cfg = sp->ranks[0]->cfg;
	eng_part_whole(&t->cfg, &t->part);
	for (int r = 0; r < n; r++)
		t->n_params += sp->ranks[r]->n_params;
done:
	eng_pool_free(threads);
	free(rcs);
	free(errs);
	if (rc) {
		eng_transformer_free(t);
		return rc;
	}
	*out = t;
	return ENG_OK;
}

/* ---- states and steps ---- */

static int run_rank(struct eng_split_state *ss, int r)
{
	const struct eng_transformer *rt = ss->sp->ranks[r];
	struct eng_state *s = ss->st[r];
	memset(&s->err, 0, sizeof s->err);
	int rc = eng_forward_step(rt, s, &s->comm, ss->token, ss->pos, ss->flags, &s->err);
	if (rc && rc != ENG_ECOMM) /* tell the others now rather than at their timeout */
		eng_comm_abort(s->comm.world, s->err.msg);
	return rc;
}

static void rank_step(void *arg, int r)
{
	struct eng_split_state *ss = arg;
	ss->rc[r] = run_rank(ss, r);
}

void eng_split_state_free(struct eng_state *s)
{
	struct eng_split_state *ss = s->split;
	if (!ss)
		return;
	eng_pool_free(ss->ranks); /* joins the ranks' threads before their states go */
	for (int r = 0; ss->st && r < ss->sp->n; r++)
		eng_state_free(ss->st[r]);
	free(ss->st);
	free(ss->rc);
	free(ss);
	s->split = NULL;
}

int eng_split_state_create(const struct eng_transformer *t, int max_seq, struct eng_state *s, struct eng_err *err)
{
	const struct eng_split *sp = t->split;
	struct eng_split_state *ss = calloc(1, sizeof *ss);
	if (!ss)
		return eng_errf(err, ENG_ENOMEM, "out of memory for the run state");
	ss->sp = sp;
	s->split = ss;
	ss->st = calloc((size_t)sp->n, sizeof *ss->st);
	ss->rc = calloc((size_t)sp->n, sizeof *ss->rc);
	if (!ss->st || !ss->rc)
		return eng_errf(err, ENG_ENOMEM, "out of memory for the run state");
	for (int r = 0; r < sp->n; r++) {
		int rc = eng_state_create(sp->ranks[r], max_seq, &ss->st[r], err);
		if (rc)
			return rc; /* the caller frees s, and with it ss */
		ss->st[r]->comm = (struct eng_comms){.tp = sp->tpc[r], .world = sp->world[r]};
	}
	s->logits = ss->st[0]->logits; /* eng_forward returns rank 0's (the whole vocabulary, gathered) */
	if (sp->n > 1 && !(ss->ranks = eng_pool_create(sp->n)))
		return eng_errf(err, ENG_ENOMEM, "cannot start the threads of the %d ranks", sp->n);
	return ENG_OK;
}

int eng_split_threads(struct eng_state *s, int n_threads, struct eng_err *err)
{
	struct eng_split_state *ss = s->split;
	for (int r = 0; r < ss->sp->n; r++) {
		int rc = eng_state_threads(ss->st[r], n_threads, err);
		if (rc)
			return rc;
	}
	return ENG_OK;
}

const float *eng_split_forward(const struct eng_transformer *t, struct eng_state *s, int token, int pos, int flags)
{
	struct eng_split_state *ss = s->split;
	const int n = t->split->n;
	if (s->err.code)
		return NULL; /* a failed collective leaves the groups unusable */
	ss->token = token;
	ss->pos = pos;
	ss->flags = flags;
	eng_pool_run(ss->ranks, rank_step, ss); /* every rank at once: they meet in the collectives */
	int pick = root_cause(ss->rc, n);
	if (pick >= 0) {
		eng_errf(&s->err, ss->rc[pick], "rank %d: %s", pick, ss->st[pick]->err.msg);
		return NULL;
	}
	return ss->st[0]->logits;
}
