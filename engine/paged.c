/* paged.c — the KV block pool (paged.h): one allocation per cache, a stack of free block ids, a
 * reference count per block, and the per-sequence block tables. */
#include <stdlib.h>
#include <string.h>

#include "engine/err.h"
#include "engine/paged.h"

/* Floats per position and layer in the two caches of t's slice (model.h eng_state). */
static void widths(const struct eng_transformer *t, size_t *a, size_t *b)
{
	const struct eng_config *c = &t->cfg;
	size_t kvd = (size_t)t->part.n_kv_heads * c->head_dim;
	int mla = c->arch == ENG_ARCH_DEEPSEEK_V3;
	*a = mla ? (size_t)c->kv_lora_rank : kvd;
	*b = mla ? (size_t)c->qk_rope_head_dim : kvd;
}

size_t eng_kv_block_bytes(const struct eng_transformer *t)
{
	size_t a, b;
	widths(t, &a, &b);
	return (a + b) * ENG_KV_BLOCK * (size_t)t->cfg.num_hidden_layers * sizeof(float);
}

void eng_kv_pool_free(struct eng_kv_pool *p)
{
	if (!p)
		return;
	free(p->kv);
	free(p->pe);
	free(p->free_ids);
	free(p->ref);
	free(p);
}

int eng_kv_pool_create(const struct eng_transformer *t, int n_blocks, struct eng_kv_pool **out, struct eng_err *err)
{
	*out = NULL;
	if (n_blocks < 1)
		return eng_errf(err, ENG_EMISUSE, "KV pool of %d blocks: need at least 1", n_blocks);
	struct eng_kv_pool *p = calloc(1, sizeof *p);
	if (!p)
		return eng_errf(err, ENG_ENOMEM, "out of memory for the KV pool");
	p->n_blocks = n_blocks;
	p->n_layers = t->cfg.num_hidden_layers;
	widths(t, &p->a, &p->b);
	size_t per = (size_t)n_blocks * (size_t)p->n_layers * ENG_KV_BLOCK;
	p->kv = calloc(per * (p->a ? p->a : 1), sizeof(float));
	p->pe = calloc(per * (p->b ? p->b : 1), sizeof(float));
	p->free_ids = malloc((size_t)n_blocks * sizeof *p->free_ids);
	p->ref = calloc((size_t)n_blocks, sizeof *p->ref);
	if (!p->kv || !p->pe || !p->free_ids || !p->ref) {
		eng_kv_pool_free(p);
		return eng_errf(err, ENG_ENOMEM, "out of memory for a KV pool of %d blocks (%zu bytes each)", n_blocks,
				eng_kv_block_bytes(t));
	}
	/* pushed high to low so that blocks are handed out 0, 1, 2, ... from a fresh pool */
	for (int i = 0; i < n_blocks; i++)
		p->free_ids[i] = n_blocks - 1 - i;
	p->n_free = n_blocks;
	*out = p;
	return ENG_OK;
}

int eng_kv_alloc(struct eng_kv_pool *p)
{
	if (p->n_free == 0)
		return -1;
	int blk = p->free_ids[--p->n_free];
	p->ref[blk] = 1;
	if (eng_kv_used(p) > p->peak_used)
		p->peak_used = eng_kv_used(p);
	return blk;
}

void eng_kv_ref(struct eng_kv_pool *p, int blk)
{
	p->ref[blk]++;
}

void eng_kv_unref(struct eng_kv_pool *p, int blk)
{
	if (--p->ref[blk] == 0)
		p->free_ids[p->n_free++] = blk;
}

void eng_kv_copy(struct eng_kv_pool *p, int dst, int src, int n)
{
	for (int l = 0; l < p->n_layers; l++) {
		size_t d = ((size_t)dst * p->n_layers + (size_t)l) * ENG_KV_BLOCK;
		size_t s = ((size_t)src * p->n_layers + (size_t)l) * ENG_KV_BLOCK;
		memcpy(p->kv + d * p->a, p->kv + s * p->a, (size_t)n * p->a * sizeof(float));
		memcpy(p->pe + d * p->b, p->pe + s * p->b, (size_t)n * p->b * sizeof(float));
	}
}

int eng_kv_seq_push(struct eng_state *s, int blk, struct eng_err *err)
{
	if (s->n_blocks >= eng_kv_blocks_for(s->max_seq))
		return eng_errf(err, ENG_EINTERNAL, "block table full: %d blocks cover the context of %d", s->n_blocks,
				s->max_seq);
	s->blocks[s->n_blocks++] = blk;
	return ENG_OK;
}

void eng_kv_seq_release(struct eng_state *s)
{
	for (int i = 0; i < s->n_blocks; i++)
		eng_kv_unref(s->kv, s->blocks[i]);
	s->n_blocks = 0;
}
