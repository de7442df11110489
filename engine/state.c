/* state.c — the per-sequence run state (activations, KV cache, RoPE tables), sized once from the
 * config and the rank's slice (llama2.c malloc_run_state), and eng_forward, which picks the
 * family's forward (or drives the ranks of a split model, parallel_run.c). */
#include <math.h>
#include <stdlib.h>

#include "engine/err.h"
#include "engine/model.h"
#include "engine/paged.h"
#include "engine/pool.h"

static int imax(int a, int b)
{
	return a > b ? a : b;
}

void eng_state_free(struct eng_state *s)
{
	if (!s)
		return;
	if (s->split) { /* s->logits is rank 0's, freed with the ranks' states */
		s->logits = NULL;
		eng_split_state_free(s);
	}
	float **bufs[] = {&s->x,        &s->xb,       &s->xb2,     &s->q,       &s->q_a,         &s->kv_a,
			  &s->q_abs,    &s->att_lat,  &s->att_out, &s->att,     &s->k,           &s->v,
			  &s->hb,      &s->hb2,     &s->moe_out,     &s->scores,
			  &s->route_scratch, &s->topk_w, &s->rope_cos, &s->rope_sin, &s->logits};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(*bufs[i]);
	free(s->topk_idx);
	if (s->own_kv)
		eng_kv_pool_free(s->kv);
	free(s->blocks);
	eng_pool_free(s->pool);
	free(s);
}

int eng_rope_tables(const struct eng_config *c, int max_seq, float *cos_t, float *sin_t, struct eng_err *err)
{
	/* cos/sin per position (HF RotaryEmbedding: freqs = pos * inv_freq, times attention_scaling). */
	int half = c->rope_dim / 2;
	double inv_freq[512], af;
	if (half > 512)
		return eng_errf(err, ENG_EUNSUPPORTED, "rotary dimension %d above 1024", c->rope_dim);
	eng_config_rope(c, inv_freq, &af);
	for (int p = 0; p < max_seq; p++)
		for (int i = 0; i < half; i++) {
			float f = (float)p * (float)inv_freq[i]; /* float32 as torch computes it */
			cos_t[(size_t)p * half + i] = (float)(cos(f) * af);
			sin_t[(size_t)p * half + i] = (float)(sin(f) * af);
		}
	return ENG_OK;
}

int eng_state_create_paged(const struct eng_transformer *t, int max_seq, struct eng_kv_pool *pool,
			   struct eng_state **out, struct eng_err *err)
{
	*out = NULL;
	if (max_seq < 1 || max_seq > t->cfg.max_position_embeddings)
		return eng_errf(err, ENG_EMISUSE, "sequence length %d outside 1..max_position_embeddings (%d)", max_seq,
				t->cfg.max_position_embeddings);
	struct eng_state *s = calloc(1, sizeof *s);
	if (!s || !(s->blocks = malloc((size_t)eng_kv_blocks_for(max_seq) * sizeof *s->blocks))) {
		free(s);
		return eng_errf(err, ENG_ENOMEM, "out of memory for a block table");
	}
	s->max_seq = max_seq;
	s->kv = pool;
	*out = s;
	return ENG_OK;
}

int eng_state_create(const struct eng_transformer *t, int max_seq, struct eng_state **out, struct eng_err *err)
{
	*out = NULL;
	const struct eng_config *c = &t->cfg;
	if (max_seq < 1 || max_seq > c->max_position_embeddings)
		return eng_errf(err, ENG_EMISUSE, "session length %d outside 1..max_position_embeddings (%d)", max_seq,
				c->max_position_embeddings);
	struct eng_state *s = calloc(1, sizeof *s);
	if (!s)
		return eng_errf(err, ENG_ENOMEM, "out of memory for the run state");
	s->max_seq = max_seq;
	if (t->split) {
		int rc = eng_split_state_create(t, max_seq, s, err);
		if (rc) {
			eng_state_free(s);
			return rc;
		}
		*out = s;
		return ENG_OK;
	}
	const struct eng_part *P = &t->part;
	int dim = c->hidden_size, H = P->n_heads;
	size_t head = (size_t)imax(c->qk_head_dim, c->head_dim), vhead = (size_t)imax(c->v_head_dim, c->head_dim);
	size_t kvd = (size_t)P->n_kv_heads * c->head_dim;
	size_t ffn = (size_t)imax(P->n_inter, imax(P->n_moe_inter, P->n_shared_inter));
	size_t E = (size_t)imax(1, c->n_routed_experts);
	s->x = calloc((size_t)dim, sizeof(float));
	s->xb = calloc((size_t)dim, sizeof(float));
	s->xb2 = calloc((size_t)dim, sizeof(float));
	s->q = calloc((size_t)H * head, sizeof(float));
	s->q_a = calloc((size_t)imax(1, c->q_lora_rank), sizeof(float));
	s->kv_a = calloc((size_t)imax(1, c->kv_lora_rank + c->qk_rope_head_dim), sizeof(float));
	s->q_abs = calloc((size_t)H * imax(1, c->kv_lora_rank), sizeof(float));
	s->att_lat = calloc((size_t)H * imax(1, c->kv_lora_rank), sizeof(float));
	s->att_out = calloc((size_t)H * vhead, sizeof(float));
	s->att = calloc((size_t)H * max_seq, sizeof(float));
	s->k = calloc(kvd ? kvd : 1, sizeof(float));
	s->v = calloc(kvd ? kvd : 1, sizeof(float));
	s->hb = calloc(ffn, sizeof(float));
	s->hb2 = calloc(ffn, sizeof(float));
	s->moe_out = calloc((size_t)dim, sizeof(float));
	s->scores = calloc(E, sizeof(float));
	s->route_scratch = calloc(2 * E, sizeof(float));
	s->topk_idx = calloc(E, sizeof(int));
	s->topk_w = calloc(E, sizeof(float));
	s->rope_cos = calloc((size_t)max_seq * (c->rope_dim / 2), sizeof(float));
	s->rope_sin = calloc((size_t)max_seq * (c->rope_dim / 2), sizeof(float));
	s->logits = calloc((size_t)P->tp * P->vocab_pad, sizeof(float)); /* all ranks' slices gathered */
	if (!s->x || !s->xb || !s->xb2 || !s->q || !s->q_a || !s->kv_a || !s->q_abs || !s->att_lat || !s->att_out ||
	    !s->att || !s->k || !s->v || !s->hb || !s->hb2 || !s->moe_out ||
	    !s->scores || !s->route_scratch || !s->topk_idx || !s->topk_w || !s->rope_cos ||
	    !s->rope_sin || !s->logits) {
		eng_state_free(s);
		return eng_errf(err, ENG_ENOMEM, "out of memory for the run state (%d positions)", max_seq);
	}
	/* the cache: a pool of its own with every block in the table, in order (a contiguous cache) */
	int nb = eng_kv_blocks_for(max_seq);
	int rc = eng_kv_pool_create(t, nb, &s->kv, err);
	if (rc == ENG_OK) {
		s->own_kv = 1;
		if (!(s->blocks = malloc((size_t)nb * sizeof *s->blocks)))
			rc = eng_errf(err, ENG_ENOMEM, "out of memory for a block table");
		for (int i = 0; rc == ENG_OK && i < nb; i++)
			rc = eng_kv_seq_push(s, eng_kv_alloc(s->kv), err);
	}
	if (rc == ENG_OK)
		rc = eng_rope_tables(c, max_seq, s->rope_cos, s->rope_sin, err);
	if (rc) {
		eng_state_free(s);
		return rc;
	}
	*out = s;
	return ENG_OK;
}

int eng_state_threads(struct eng_state *s, int n_threads, struct eng_err *err)
{
	if (n_threads < 1 || n_threads > 256)
		return eng_errf(err, ENG_EMISUSE, "threads %d: must be 1..256", n_threads);
	if (s->split)
		return eng_split_threads(s, n_threads, err);
	eng_pool_free(s->pool);
	s->pool = NULL;
	if (n_threads > 1 && !(s->pool = eng_pool_create(n_threads)))
		return eng_errf(err, ENG_ENOMEM, "cannot start %d matmul threads", n_threads);
	return ENG_OK;
}

const float *eng_forward(const struct eng_transformer *t, struct eng_state *s, int token, int pos, int flags)
{
	if (token < 0 || token >= t->cfg.vocab_size || pos < 0 || pos >= s->max_seq)
		return NULL;
	if (!s->logits) { /* a batch slot's block table, not a session */
		eng_errf(&s->err, ENG_EMISUSE, "eng_forward on a sequence made for batched steps only");
		return NULL;
	}
	if (t->split)
		return eng_split_forward(t, s, token, pos, flags);
	int rc = eng_forward_step(t, s, &s->comm, token, pos, flags, &s->err);
	return rc == ENG_OK ? s->logits : NULL;
}
