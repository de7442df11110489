/* test_paged.c — the paged KV cache (engine/paged.c) and what batch.c builds on it:
 * - the block allocator over 10,000 sequences (driven directly: random lengths, random finishing
 *   order, prompt blocks shared between samples): no block is handed out twice, a held block's
 *   contents are never touched by another sequence, and the pool ends whole;
 * - batched steps reading the cache through scattered block tables give the logits of
 *   one-at-a-time eng_forward bit for bit on every fixture (tiny-arith and tests/fixtures/random);
 * - eng_batch over a pool far smaller than its requests' needs: every request still gets the
 *   tokens it gets alone (admission makes them wait for blocks, nobody fails mid-generation), a
 *   request larger than the whole pool ends at admission with ENG_ELIMIT, the pool ends empty;
 * - prefix sharing: k samples of one prompt submitted together give the tokens they give without
 *   sharing (greedy and seeded sampling), with one prefill and the block count computed below;
 * - a few hundred short requests through the full model leave no block behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/batch_internal.h"
#include "engine/engine.h"
#include "engine/model.h"
#include "engine/paged.h"
#include "tests/unit/engine/engine_testutil.h"

/* ---- the allocator alone ---- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct live {
	struct eng_state *st;
	int id, n_own; /* blocks from n_blocks - n_own on are its own (stamped with id) */
};

/* Stamp of sequence id in every layer's first position of block blk (a = 2 floats). */
static void stamp(struct eng_kv_pool *p, int blk, int id)
{
	for (int l = 0; l < p->n_layers; l++)
		p->kv[((size_t)blk * p->n_layers + l) * ENG_KV_BLOCK * p->a] = (float)id;
}

static int stamped(const struct eng_kv_pool *p, int blk, int id)
{
	for (int l = 0; l < p->n_layers; l++)
		if (p->kv[((size_t)blk * p->n_layers + l) * ENG_KV_BLOCK * p->a] != (float)id)
			return 0;
	return 1;
}

static void test_allocator_10000_sequences(void **st)
{
	(void)st;
	struct eng_transformer t = {0};
	t.cfg.arch = ENG_ARCH_DEEPSEEK_V3;
	t.cfg.num_hidden_layers = 2;
	t.cfg.kv_lora_rank = 2;
	t.cfg.qk_rope_head_dim = 1;
	t.cfg.max_position_embeddings = 4096;
	t.part.n_kv_heads = 1;
	assert_int_equal(eng_kv_block_bytes(&t), (2 + 1) * ENG_KV_BLOCK * 2 * sizeof(float));
	const int n_blocks = 97;
	struct eng_kv_pool *p = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_kv_pool_create(&t, 0, &p, &err), ENG_EMISUSE);
	assert_int_equal(eng_kv_pool_create(&t, n_blocks, &p, &err), ENG_OK);
	enum { MAX_LIVE = 24 };
	struct live lv[MAX_LIVE];
	int n_live = 0, done = 0, shared_seen = 0, next_id = 1;
	int *shadow = calloc((size_t)n_blocks, sizeof *shadow); /* our own count of holders */
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	while (done < 10000) {
		int finish = n_live == MAX_LIVE || (n_live > 0 && rng_next(&rng) % 3 == 0);
		if (finish) { /* a random sequence ends: its own blocks still carry its stamp */
			int i = (int)(rng_next(&rng) % (uint64_t)n_live);
			struct eng_state *s = lv[i].st;
			for (int k = s->n_blocks - lv[i].n_own; k < s->n_blocks; k++)
				assert_true(stamped(p, s->blocks[k], lv[i].id));
			for (int k = 0; k < s->n_blocks; k++)
				shadow[s->blocks[k]]--;
			eng_kv_seq_release(s);
			assert_int_equal(s->n_blocks, 0);
			eng_state_free(s);
			lv[i] = lv[--n_live];
			done++;
			continue;
		}
		/* a new sequence of 1..80 positions; half the time it shares the full blocks of a live one
		 * (the samples of one prompt), copying nothing */
		int len = 1 + (int)(rng_next(&rng) % 80), need = eng_kv_blocks_for(len);
		int from = n_live > 0 && rng_next(&rng) % 2 ? (int)(rng_next(&rng) % (uint64_t)n_live) : -1;
		int shared = from >= 0 ? lv[from].st->n_blocks - 1 : 0; /* all but its (partial) last block */
		if (shared > need - 1)
			shared = need - 1;
		if (need - shared > p->n_free)
			continue; /* would wait: admission's job, not the allocator's */
		struct eng_state *s = NULL;
		assert_int_equal(eng_state_create_paged(&t, 4096, p, &s, &err), ENG_OK);
		for (int k = 0; k < shared; k++) {
			int blk = lv[from].st->blocks[k];
			eng_kv_ref(p, blk);
			shadow[blk]++;
			assert_int_equal(eng_kv_seq_push(s, blk, &err), ENG_OK);
			shared_seen++;
		}
		for (int k = shared; k < need; k++) {
			int blk = eng_kv_alloc(p);
			assert_true(blk >= 0 && blk < n_blocks);
			assert_int_equal(shadow[blk], 0); /* never handed out while held */
			shadow[blk] = 1;
			stamp(p, blk, next_id);
			assert_int_equal(eng_kv_seq_push(s, blk, &err), ENG_OK);
		}
		lv[n_live++] = (struct live){.st = s, .id = next_id++, .n_own = need - shared};
		int held = 0;
		for (int b = 0; b < n_blocks; b++)
			held += shadow[b] > 0;
		assert_int_equal(eng_kv_used(p), held);
	}
	while (n_live > 0) {
		eng_kv_seq_release(lv[--n_live].st);
		eng_state_free(lv[n_live].st);
	}
	assert_int_equal(eng_kv_used(p), 0);
	assert_int_equal(p->n_free, n_blocks);
	/* every id once on the free list */
	memset(shadow, 0, (size_t)n_blocks * sizeof *shadow);
	for (int i = 0; i < p->n_free; i++)
		assert_int_equal(shadow[p->free_ids[i]]++, 0);
	assert_true(p->peak_used > n_blocks / 2);
	assert_true(shared_seen > 1000);
	assert_int_equal(eng_kv_alloc(p) >= 0, 1);
	printf("  10000 sequences, %d shared block references, peak %d of %d blocks, pool whole at the end\n",
	       shared_seen, p->peak_used, n_blocks);
	free(shadow);
	eng_kv_pool_free(p);
}

/* ---- batched steps through scattered block tables ---- */

/* Two prompts run one at a time (eng_forward on sessions' own caches) and as batched rows over
 * one pool whose blocks were handed out in a scrambled order, interleaved in chunks of 5 rows:
 * the logits must be equal bit for bit. */
static void check_scattered(const char *dir)
{
	struct eng_err err = {0};
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load(dir, &t, &err), ENG_OK);
	enum { N = 37 };
	const size_t V = (size_t)t->cfg.vocab_size;
	int tok[2][N];
	for (int i = 0; i < N; i++) {
		tok[0][i] = (i * 37 + 11) % (int)V;
		tok[1][i] = (i * 101 + 5) % (int)V;
	}
	float *ref = malloc(2 * N * V * sizeof(float));
	for (int q = 0; q < 2; q++) {
		struct eng_state *s = NULL;
		assert_int_equal(eng_state_create(t, 256, &s, &err), ENG_OK);
		for (int i = 0; i < N; i++) {
			const float *lg = eng_forward(t, s, tok[q][i], i, 0);
			assert_non_null(lg);
			memcpy(ref + ((size_t)q * N + i) * V, lg, V * sizeof(float));
		}
		eng_state_free(s);
	}
	/* the pool: take every block, give them back in a shuffled order */
	const int nb = 12;
	struct eng_kv_pool *pool = NULL;
	assert_int_equal(eng_kv_pool_create(t, nb, &pool, &err), ENG_OK);
	int ids[12];
	for (int i = 0; i < nb; i++)
		ids[i] = eng_kv_alloc(pool);
	uint64_t rng = 12345;
	for (int i = nb - 1; i > 0; i--) {
		int j = (int)(rng_next(&rng) % (uint64_t)(i + 1)), x = ids[i];
		ids[i] = ids[j];
		ids[j] = x;
	}
	for (int i = 0; i < nb; i++)
		eng_kv_unref(pool, ids[i]);
	struct eng_state *seq[2];
	for (int q = 0; q < 2; q++) {
		assert_int_equal(eng_state_create_paged(t, 256, pool, &seq[q], &err), ENG_OK);
		for (int k = 0; k < eng_kv_blocks_for(N); k++)
			assert_int_equal(eng_kv_seq_push(seq[q], eng_kv_alloc(pool), &err), ENG_OK);
	}
	assert_true(seq[0]->blocks[1] != seq[0]->blocks[0] + 1 || seq[1]->blocks[1] != seq[1]->blocks[0] + 1);
	/* a sequence with blocks for N positions refuses position N, and eng_forward refuses it */
	struct eng_bstate *b = NULL;
	assert_int_equal(eng_bstate_create(t, 16, 256, &b, &err), ENG_OK);
	int over_tok = 1, over_pos = eng_kv_seq_capacity(seq[0]);
	assert_null(eng_forward_batch(t, b, 1, &over_tok, &over_pos, &seq[0], 0));
	assert_int_equal(b->err.code, ENG_ELIMIT);
	assert_null(eng_forward(t, seq[0], 1, 0, 0));
	float *got = malloc(2 * N * V * sizeof(float));
	for (int at = 0; at < N; at += 5) {
		int rt[10], rp[10], n = 0;
		struct eng_state *rs[10];
		for (int q = 0; q < 2; q++)
			for (int i = at; i < at + 5 && i < N; i++) {
				rt[n] = tok[q][i];
				rp[n] = i;
				rs[n++] = seq[q];
			}
		const float *lg = eng_forward_batch(t, b, n, rt, rp, rs, 0);
		assert_non_null(lg);
		for (int r = 0; r < n; r++)
			memcpy(got + ((size_t)(rs[r] == seq[1]) * N + rp[r]) * V, lg + (size_t)r * V, V * sizeof(float));
	}
	assert_memory_equal(got, ref, 2 * N * V * sizeof(float));
	printf("  %s: %d rows over scattered blocks equal eng_forward bit for bit\n", dir, 2 * N);
	for (int q = 0; q < 2; q++) {
		eng_kv_seq_release(seq[q]);
		eng_state_free(seq[q]);
	}
	assert_int_equal(eng_kv_used(pool), 0);
	eng_kv_pool_free(pool);
	eng_bstate_free(b);
	free(got);
	free(ref);
	eng_transformer_free(t);
}

static void test_scattered_blocks_same_logits(void **st)
{
	(void)st;
	check_scattered("engine/models/tiny-arith");
	check_scattered("tests/fixtures/random/tiny-random-deepseek-v3-bf16");
	check_scattered("tests/fixtures/random/tiny-random-deepseek-v3-fp8");
	check_scattered("tests/fixtures/random/tiny-random-qwen3-moe-bf16");
	check_scattered("tests/fixtures/random/tiny-random-qwen3-moe-fp8");
}

/* ---- eng_batch on a small pool ---- */

struct call {
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	int *n_done;
	int done, rc;
	char msg[256];
	struct eng_gen_result res; /* text strdup'd */
};

static void on_done(void *ctx, int rc, const struct eng_gen_result *res, const struct eng_err *err)
{
	struct call *c = ctx;
	c->rc = rc;
	if (rc && err)
		snprintf(c->msg, sizeof c->msg, "%s", err->msg);
	if (res) {
		c->res = *res;
		c->res.text = strdup(res->text);
	}
	pthread_mutex_lock(c->mu);
	c->done = 1;
	(*c->n_done)++;
	pthread_cond_broadcast(c->cv);
	pthread_mutex_unlock(c->mu);
}

struct req {
	const char *text;
	int raw, max_tokens;
	float temperature;
	uint64_t seed;
};

/* Runs rq through a batch with options o (submitted as one group when group), waits for all,
 * fills calls and the pool's stats after the last request. */
static void run_batch(struct eng_model *m, const struct eng_batch_opts *o, const struct req *rq, int n, int group,
		      struct call *calls, struct eng_batch_kv *kv)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int n_done = 0;
	struct eng_err err = {0};
	struct eng_batch *b = NULL;
	assert_int_equal(eng_batch_create_opts(m, o, &b, &err), ENG_OK);
	struct eng_batch_req *br = calloc((size_t)n, sizeof *br);
	for (int i = 0; i < n; i++) {
		calls[i] = (struct call){.mu = &mu, .cv = &cv, .n_done = &n_done};
		br[i] = (struct eng_batch_req){.user = rq[i].text, .raw = rq[i].raw, .on_done = on_done, .ctx = &calls[i]};
		eng_gen_opts_defaults(&br[i].opts);
		br[i].opts.max_tokens = rq[i].max_tokens;
		br[i].opts.temperature = rq[i].temperature;
		br[i].opts.seed = rq[i].seed;
		if (!group)
			assert_int_equal(eng_batch_submit(b, &br[i], &err), ENG_OK);
	}
	if (group)
		assert_int_equal(eng_batch_submit_group(b, br, n, &err), ENG_OK);
	pthread_mutex_lock(&mu);
	while (n_done < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	eng_batch_kv_stats(b, kv); /* a request's blocks are back before its on_done */
	assert_int_equal(kv->used, 0);
	eng_batch_free(b);
	free(br);
}

static void generate_alone(struct eng_model *m, const struct req *rq, struct eng_gen_result *out)
{
	struct eng_err err = {0};
	struct eng_session *s = NULL;
	assert_int_equal(eng_session_create(m, &s, &err), ENG_OK);
	struct eng_gen_opts o;
	eng_gen_opts_defaults(&o);
	o.max_tokens = rq->max_tokens;
	o.temperature = rq->temperature;
	o.seed = rq->seed;
	struct eng_gen_input in = {.text = rq->text, .chat = !rq->raw};
	assert_int_equal(eng_generate(s, &in, &o, NULL, NULL, NULL, out, &err), ENG_OK);
	eng_session_free(s);
}

/* Blocks request rq can use: prompt + max_tokens - 1 positions. */
static int blocks_needed(int n_prompt, int max_tokens)
{
	return eng_kv_blocks_for(n_prompt + max_tokens - 1);
}

/* Requests on 6 slots over a pool of pool_blocks: each equals its run alone; the pool is smaller
 * than what the requests would hold at once, so some waited for blocks. */
static void check_small_pool(const char *dir, const struct req *rq, int n, int pool_blocks)
{
	struct eng_err err = {0};
	struct eng_model *m = NULL;
	assert_int_equal(eng_model_load(dir, &m, &err), ENG_OK);
	struct eng_gen_result *alone = calloc((size_t)n, sizeof *alone);
	int sum = 0;
	for (int i = 0; i < n; i++) {
		generate_alone(m, &rq[i], &alone[i]);
		sum += blocks_needed(alone[i].n_prompt, rq[i].max_tokens);
	}
	assert_true(sum > pool_blocks); /* they cannot all hold their blocks at once */
	struct call *calls = calloc((size_t)n, sizeof *calls);
	struct eng_batch_kv kv;
	const struct eng_transformer *t = eng_model_tf(m);
	struct eng_batch_opts o = {.n_slots = 6, .max_queue = n, .kv_bytes = (double)pool_blocks * eng_kv_block_bytes(t)};
	run_batch(m, &o, rq, n, 0, calls, &kv);
	assert_int_equal(kv.n_blocks, pool_blocks);
	assert_true(kv.peak <= pool_blocks);
	for (int i = 0; i < n; i++) {
		if (calls[i].rc)
			fprintf(stderr, "request %d: %s\n", i, calls[i].msg);
		assert_int_equal(calls[i].rc, ENG_OK);
		assert_string_equal(calls[i].res.text, alone[i].text);
		assert_int_equal(calls[i].res.n_completion, alone[i].n_completion);
		assert_int_equal(calls[i].res.finish, alone[i].finish);
		free(calls[i].res.text);
		eng_gen_result_free(&alone[i]);
	}
	printf("  %s: %d requests needing %d blocks in all through a pool of %d (peak %d): same tokens\n", dir, n, sum,
	       pool_blocks, kv.peak);
	free(calls);
	free(alone);
	eng_model_free(m);
}

static const struct req arith[] = {
	{"What is 347 + 85?", 0, 40, 0, 0}, {"What is 12 * 7?", 0, 40, 0, 0},  {"What is 999 + 1?", 0, 6, 0, 0},
	{"What is 5 + 5?", 0, 40, 0, 0},    {"What is 64 * 9?", 0, 17, 0, 0},  {"Question: 3 + 4", 1, 9, 0, 0},
	{"What is 401 + 599?", 0, 40, 0, 0},
};

static void test_small_pool_same_tokens(void **st)
{
	(void)st;
	check_small_pool("engine/models/tiny-arith", arith, 7, 8);
	const struct req rnd[] = {
		{"a", 1, 12, 0, 0}, {"the quick brown fox jumps over the lazy dog", 1, 5, 0, 0}, {"1 2 3 4 5 6 7 8 9", 1, 20, 0, 0},
		{"x y", 1, 3, 0, 0}, {"hello there", 1, 18, 0, 0},
	};
	const char *fixtures[] = {"tests/fixtures/random/tiny-random-deepseek-v3-fp8",
				  "tests/fixtures/random/tiny-random-qwen3-moe-bf16"};
	for (int f = 0; f < 2; f++) {
		char dir[] = "/tmp/evalh-test-paged-XXXXXX";
		tu_link_model(dir, fixtures[f]);
		check_small_pool(dir, rnd, 5, 3);
		tu_rmtree(dir);
	}
}

/* A request that would need more blocks than the whole pool ends at admission with ENG_ELIMIT
 * (no tokens); the others, one pool's worth at a time, run to their end. */
static void test_admission_refuses_oversized(void **st)
{
	(void)st;
	struct eng_err err = {0};
	struct eng_model *m = NULL;
	assert_int_equal(eng_model_load("engine/models/tiny-arith", &m, &err), ENG_OK);
	const struct req rq[] = {
		{"What is 12 * 7?", 0, 20, 0, 0}, {"What is 12 * 7?", 0, 500, 0, 0}, {"What is 5 + 5?", 0, 20, 0, 0},
	};
	struct eng_gen_result a0, a2;
	generate_alone(m, &rq[0], &a0);
	generate_alone(m, &rq[2], &a2);
	int pool = blocks_needed(a0.n_prompt, 20);
	assert_true(blocks_needed(a0.n_prompt, 500) > pool);
	struct call calls[3];
	struct eng_batch_kv kv;
	const struct eng_transformer *t = eng_model_tf(m);
	/* a budget one byte short of pool + 1 blocks holds pool blocks */
	struct eng_batch_opts o = {.n_slots = 3, .max_queue = 3, .kv_bytes = (double)(pool + 1) * eng_kv_block_bytes(t) - 1,
				   .no_prefix_share = 1};
	run_batch(m, &o, rq, 3, 1, calls, &kv);
	assert_int_equal(kv.n_blocks, pool);
	assert_int_equal(calls[0].rc, ENG_OK);
	assert_string_equal(calls[0].res.text, a0.text);
	assert_int_equal(calls[1].rc, ENG_ELIMIT);
	assert_non_null(strstr(calls[1].msg, "KV blocks"));
	assert_int_equal(calls[2].rc, ENG_OK);
	assert_string_equal(calls[2].res.text, a2.text);
	free(calls[0].res.text);
	free(calls[2].res.text);
	eng_gen_result_free(&a0);
	eng_gen_result_free(&a2);
	/* a budget below one block is refused at creation */
	struct eng_batch *b = (struct eng_batch *)1;
	o.kv_bytes = (double)eng_kv_block_bytes(t) - 1;
	assert_int_equal(eng_batch_create_opts(m, &o, &b, &err), ENG_EMISUSE);
	assert_null(b);
	eng_model_free(m);
}

/* ---- prefix sharing ---- */

static void check_sharing(const char *dir, const struct req *base, int k)
{
	struct eng_err err = {0};
	struct eng_model *m = NULL;
	assert_int_equal(eng_model_load(dir, &m, &err), ENG_OK);
	struct req *rq = calloc((size_t)k, sizeof *rq);
	for (int i = 0; i < k; i++) {
		rq[i] = *base;
		rq[i].seed = (uint64_t)i + 1; /* the samples differ when sampled */
		rq[i].max_tokens = base->max_tokens - i; /* and need different block counts */
	}
	struct call *shared = calloc((size_t)k, sizeof *shared), *own = calloc((size_t)k, sizeof *own);
	struct eng_batch_kv kv_shared, kv_own;
	struct eng_batch_opts o = {.n_slots = k, .max_queue = k};
	run_batch(m, &o, rq, k, 1, shared, &kv_shared);
	o.no_prefix_share = 1;
	run_batch(m, &o, rq, k, 1, own, &kv_own);
	int n_prompt = shared[0].res.n_prompt, full = n_prompt / ENG_KV_BLOCK, distinct = 0;
	/* Without sharing every sample holds its own blocks: sum of blocks_needed. With it the first
	 * holds its own and the others all but the full prompt blocks: sum - (k - 1) * full. All k
	 * are admitted in one pass, so these are the peaks. */
	int sum = 0;
	for (int i = 0; i < k; i++)
		sum += blocks_needed(n_prompt, rq[i].max_tokens);
	assert_true(full >= 1);
	assert_int_equal(kv_own.peak, sum);
	assert_int_equal(kv_shared.peak, sum - (k - 1) * full);
	assert_int_equal(kv_shared.shared_prefills, k - 1);
	assert_int_equal(kv_own.shared_prefills, 0);
	for (int i = 0; i < k; i++) {
		assert_int_equal(shared[i].rc, ENG_OK);
		assert_int_equal(own[i].rc, ENG_OK);
		assert_string_equal(shared[i].res.text, own[i].res.text);
		assert_int_equal(shared[i].res.n_completion, own[i].res.n_completion);
		assert_int_equal(shared[i].res.n_prompt, n_prompt);
		distinct += i > 0 && strcmp(shared[i].res.text, shared[0].res.text) != 0;
	}
	/* greedy: each equals its run alone */
	if (base->temperature == 0)
		for (int i = 0; i < k; i++) {
			struct eng_gen_result a;
			generate_alone(m, &rq[i], &a);
			assert_string_equal(shared[i].res.text, a.text);
			eng_gen_result_free(&a);
		}
	else
		assert_true(distinct > 0);
	printf("  %s, %d samples of a %d-token prompt (t=%.1f): %d blocks shared vs %d alone, %ld prefills shared, "
	       "same tokens\n", dir, k, n_prompt, base->temperature, kv_shared.peak, kv_own.peak,
	       kv_shared.shared_prefills);
	for (int i = 0; i < k; i++) {
		free(shared[i].res.text);
		free(own[i].res.text);
	}
	free(shared);
	free(own);
	free(rq);
	eng_model_free(m);
}

static void test_prefix_sharing(void **st)
{
	(void)st;
	const struct req greedy = {"What is 347 + 85? Think it through before you give the final answer.", 0, 30, 0, 0};
	check_sharing("engine/models/tiny-arith", &greedy, 4);
	const struct req sampled = {"What is 64 * 9? Think it through before you give the final answer.", 0, 24, 1.0f, 0};
	check_sharing("engine/models/tiny-arith", &sampled, 5);
	char dir[] = "/tmp/evalh-test-paged-XXXXXX";
	tu_link_model(dir, "tests/fixtures/random/tiny-random-qwen3-moe-fp8");
	const struct req rnd = {"the quick brown fox jumps over the lazy dog and the cat sat on the mat", 1, 12, 0, 0};
	check_sharing(dir, &rnd, 3);
	tu_rmtree(dir);
}

/* A few hundred short requests (raw prompts, 1-3 tokens each) on 5 slots over 6 blocks: all end
 * well and every block is back at the end. */
static void test_many_short_requests(void **st)
{
	(void)st;
	struct eng_err err = {0};
	struct eng_model *m = NULL;
	assert_int_equal(eng_model_load("engine/models/tiny-arith", &m, &err), ENG_OK);
	enum { N = 300 };
	struct req *rq = calloc(N, sizeof *rq);
	char (*texts)[32] = calloc(N, sizeof *texts);
	for (int i = 0; i < N; i++) {
		snprintf(texts[i], sizeof texts[i], "%d+%d=", i % 97, i % 13);
		rq[i] = (struct req){texts[i], 1, 1 + i % 3, 0, 0};
	}
	struct call *calls = calloc(N, sizeof *calls);
	struct eng_batch_kv kv;
	const struct eng_transformer *t = eng_model_tf(m);
	struct eng_batch_opts o = {.n_slots = 5, .max_queue = N, .kv_bytes = 6.0 * eng_kv_block_bytes(t)};
	run_batch(m, &o, rq, N, 0, calls, &kv);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		ok += calls[i].rc == ENG_OK && calls[i].res.n_completion >= 1;
		free(calls[i].res.text);
	}
	assert_int_equal(ok, N);
	assert_int_equal(kv.n_blocks, 6);
	assert_true(kv.peak >= 2 && kv.peak <= 6);
	printf("  %d short requests through 6 blocks: all done, peak %d, none left\n", N, kv.peak);
	free(calls);
	free(texts);
	free(rq);
	eng_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocator_10000_sequences),
		cmocka_unit_test(test_scattered_blocks_same_logits),
		cmocka_unit_test(test_small_pool_same_tokens),
		cmocka_unit_test(test_admission_refuses_oversized),
		cmocka_unit_test(test_prefix_sharing),
		cmocka_unit_test(test_many_short_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
