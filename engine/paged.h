/* paged.h — the paged KV cache (internal to engine/): one pool of fixed-size blocks per model (or
 * per session), a free list, and per-sequence block tables (struct eng_state: kv, blocks,
 * n_blocks). Position p of a sequence lives in block blocks[p / ENG_KV_BLOCK] at offset
 * p % ENG_KV_BLOCK. What a position holds is what the contiguous cache held: MLA the normed latent
 * (kv_lora_rank) and the roped key (qk_rope_head_dim), model.py kv_cache / pe_cache; GQA its k
 * and v (n_kv_heads * head_dim each). Blocks are reference counted so that the k samples of one
 * prompt can hold the prompt's full blocks read-only together (batch.c prefix sharing).
 * Also the batch options that engine.h does not carry yet (eng_batch_create_opts). */
#ifndef ENG_PAGED_H
#define ENG_PAGED_H

#include <stddef.h>

#include "engine/model.h"

/* Positions per block: vLLM's default, and small enough that a finished short answer wastes
 * little; a power of two so that the block lookup in the attention loops is a shift. */
#define ENG_KV_BLOCK 16

struct eng_kv_pool {
	int n_blocks, n_layers;
	size_t a, b;       /* floats per position and layer: MLA kv_lora_rank | qk_rope_head_dim; GQA kv_dim | kv_dim */
	float *kv, *pe;    /* (n_blocks, n_layers, ENG_KV_BLOCK, a) and (n_blocks, n_layers, ENG_KV_BLOCK, b) */
	int *free_ids;     /* stack of free block ids, n_free of them */
	int n_free, peak_used;
	int *ref;          /* (n_blocks) sequences holding each block; 0 = on the free list */
};

/* Bytes of one block of t's cache (all layers; float32 on the CPU). */
size_t eng_kv_block_bytes(const struct eng_transformer *t);
/* Blocks holding n positions. */
static inline int eng_kv_blocks_for(int n)
{
	return (n + ENG_KV_BLOCK - 1) / ENG_KV_BLOCK;
}

/* A pool of n_blocks (>= 1) blocks shaped for t's rank slice; all free. */
int eng_kv_pool_create(const struct eng_transformer *t, int n_blocks, struct eng_kv_pool **out, struct eng_err *err);
void eng_kv_pool_free(struct eng_kv_pool *p); /* NULL allowed */
/* Takes a free block (reference count 1); -1 when none is free. */
int eng_kv_alloc(struct eng_kv_pool *p);
void eng_kv_ref(struct eng_kv_pool *p, int blk);
/* Drops one holder; the last one puts the block back on the free list. */
void eng_kv_unref(struct eng_kv_pool *p, int blk);
static inline int eng_kv_used(const struct eng_kv_pool *p)
{
	return p->n_blocks - p->n_free;
}
/* Copies positions 0..n-1 of block src to block dst, every layer (a shared prompt's partial last
 * block, which its sharers then write on separately). */
void eng_kv_copy(struct eng_kv_pool *p, int dst, int src, int n);

/* A sequence's block table: append block blk (the caller's reference passes to s), and give every
 * block back (s then holds no positions). */
int eng_kv_seq_push(struct eng_state *s, int blk, struct eng_err *err);
void eng_kv_seq_release(struct eng_state *s);
/* Positions s can hold now (n_blocks * ENG_KV_BLOCK, at most max_seq). */
static inline int eng_kv_seq_capacity(const struct eng_state *s)
{
	int n = s->n_blocks * ENG_KV_BLOCK;
	return n < s->max_seq ? n : s->max_seq;
}

/* The cached vectors of position p, layer l (p below eng_kv_seq_capacity). */
static inline float *eng_kv_a(const struct eng_state *s, int l, int p)
{
	const struct eng_kv_pool *kv = s->kv;
	size_t blk = (size_t)s->blocks[p / ENG_KV_BLOCK];
	return kv->kv + ((blk * (size_t)kv->n_layers + (size_t)l) * ENG_KV_BLOCK + (size_t)(p % ENG_KV_BLOCK)) * kv->a;
}
static inline float *eng_kv_b(const struct eng_state *s, int l, int p)
{
	const struct eng_kv_pool *kv = s->kv;
	size_t blk = (size_t)s->blocks[p / ENG_KV_BLOCK];
	return kv->pe + ((blk * (size_t)kv->n_layers + (size_t)l) * ENG_KV_BLOCK + (size_t)(p % ENG_KV_BLOCK)) * kv->b;
}

/* ---- eng_batch with options (batch.c); engine.h's eng_batch_create is these with defaults ---- */

struct eng_batch_opts {
	int n_slots;       /* sequences in flight at most (1..1024) */
	int max_queue;     /* requests waiting beyond the slots (0..1000000) */
	double kv_bytes;   /* the KV pool's budget; 0: n_slots whole contexts (no request ever waits for blocks) */
	int no_prefix_share; /* 1: identical prompts each run their own prefill */
};

/* As eng_batch_create. A request is admitted when its slot is free and the pool has blocks for
 * its prompt + max_tokens - 1 positions (capped at the context), reserved in arrival order, so a
 * running request never runs out of cache; one that could not fit even in the empty pool ends
 * at admission with ENG_ELIMIT. ENG_EMISUSE when kv_bytes holds no block. */
int eng_batch_create_opts(struct eng_model *m, const struct eng_batch_opts *o, struct eng_batch **out,
			  struct eng_err *err);

/* Queues n requests at once, all or none (ENG_ELIMIT when the queue cannot take them all): they
 * are admitted in one pass as far as slots are free, so the k samples of one prompt submitted
 * together share its prefill (requests with equal prompt tokens share whenever one is admitted
 * while another is still prefilling). */
int eng_batch_submit_group(struct eng_batch *b, const struct eng_batch_req *rq, int n, struct eng_err *err);

struct eng_batch_kv {
	int block_positions;  /* ENG_KV_BLOCK */
	int n_blocks;         /* in the pool (0 for a split model: its slots keep whole contexts) */
	int used, peak;       /* blocks held now, and the most held at once */
	size_t block_bytes;
	long shared_prefills; /* requests that took another's prompt blocks instead of a prefill */
};
void eng_batch_kv_stats(struct eng_batch *b, struct eng_batch_kv *out);

#endif
