/* batch_state.c — batched steps (model.h eng_forward_batch): the scratch of up to max_rows rows,
 * sized once from the config, and the step itself: embed every row, the family's layers over all
 * rows (forward_*.c), final norm, and the head for the rows whose logits are wanted. A split model
 * runs its rows one by one through eng_forward: its ranks' collectives move one token's vectors,
 * and batching them is parallel_run.c's job, not done yet. */
#include <stdlib.h>
#include <string.h>

#include "engine/batch_ops.h"
#include "engine/err.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/paged.h"
#include "engine/pool.h"

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

void eng_bstate_free(struct eng_bstate *b)
{
	if (!b)
		return;
	float **bufs[] = {&b->x,      &b->xb,      &b->xb2,    &b->q,       &b->q_a,    &b->kv_a,
			  &b->q_abs,  &b->att_lat, &b->att,    &b->att_out, &b->hb,     &b->hb2,
			  &b->moe_in, &b->moe_tmp, &b->moe_eo, &b->scores,  &b->route_scratch,
			  &b->topk_w, &b->logits, &b->rope_cos, &b->rope_sin};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(*bufs[i]);
	free(b->moe_rows);
	free(b->moe_k);
	free(b->topk_idx);
	free(b->head_rows);
	eng_pool_free(b->pool);
	free(b);
}

static float *fl(size_t n)
{
	return calloc(n ? n : 1, sizeof(float));
}

int eng_bstate_create(const struct eng_transformer *t, int max_rows, int max_seq, struct eng_bstate **out,
		      struct eng_err *err)
{
	*out = NULL;
	const struct eng_config *c = &t->cfg;
	if (max_rows < 1 || max_rows > 65536 || max_seq < 1 || max_seq > c->max_position_embeddings)
		return eng_errf(err, ENG_EMISUSE, "batch of %d rows over %d positions: need 1..65536 rows, 1..%d positions",
				max_rows, max_seq, c->max_position_embeddings);
	struct eng_bstate *b = calloc(1, sizeof *b);
	if (!b)
		return eng_errf(err, ENG_ENOMEM, "out of memory for the batch state");
	b->max_rows = max_rows;
	b->max_seq = max_seq;
	const struct eng_part *P = &t->part;
	const size_t R = (size_t)max_rows, V = (size_t)c->vocab_size;
	b->logits = fl(R * V);
	b->head_rows = calloc(R, sizeof(int));
	if (t->split) { /* rows run through eng_forward on their sequences' states */
		if (!b->logits || !b->head_rows) {
			eng_bstate_free(b);
			return eng_errf(err, ENG_ENOMEM, "out of memory for the batch state (%d rows)", max_rows);
		}
		*out = b;
		return ENG_OK;
	}
	const size_t dim = (size_t)c->hidden_size, H = (size_t)P->n_heads;
	const size_t head = zmax((size_t)c->qk_head_dim, (size_t)c->head_dim);
	const size_t vhead = zmax((size_t)c->v_head_dim, (size_t)c->head_dim);
	const size_t kvd = (size_t)P->n_kv_heads * c->head_dim, lat = (size_t)c->kv_lora_rank;
	const size_t ffn = zmax((size_t)P->n_inter, zmax((size_t)P->n_moe_inter, (size_t)P->n_shared_inter));
	const size_t E = zmax(1, (size_t)c->n_routed_experts), K = zmax(1, (size_t)c->num_experts_per_tok);
	b->x = fl(R * dim);
	b->xb = fl(R * dim);
	b->xb2 = fl(R * dim);
	b->q = fl(R * H * head);
	b->q_a = fl(R * (size_t)c->q_lora_rank);
	b->kv_a = fl(R * zmax(lat + (size_t)c->qk_rope_head_dim, 2 * kvd));
	b->q_abs = fl(lat);
	b->att_lat = fl(lat);
	b->att = fl((size_t)max_seq);
	b->att_out = fl(R * H * vhead);
	b->hb = fl(R * ffn);
	b->hb2 = fl(R * ffn);
	b->moe_in = fl(R * dim);
	b->moe_tmp = fl(R * dim);
	b->moe_eo = fl(c->n_routed_experts ? R * K * dim : 0);
	b->moe_rows = calloc(R, sizeof(int));
	b->moe_k = calloc(R, sizeof(int));
	b->scores = fl(R * E);
	b->route_scratch = fl(2 * E);
	b->topk_idx = calloc(R * K, sizeof(int));
	b->topk_w = fl(R * K);
	b->rope_cos = fl((size_t)max_seq * (size_t)(c->rope_dim / 2));
	b->rope_sin = fl((size_t)max_seq * (size_t)(c->rope_dim / 2));
	if (!b->logits || !b->head_rows || !b->x || !b->xb || !b->xb2 || !b->q || !b->q_a || !b->kv_a || !b->q_abs ||
	    !b->att_lat || !b->att || !b->att_out || !b->hb || !b->hb2 || !b->moe_in || !b->moe_tmp || !b->moe_eo ||
	    !b->moe_rows || !b->moe_k || !b->scores || !b->route_scratch || !b->topk_idx ||
	    !b->topk_w || !b->rope_cos || !b->rope_sin) {
		eng_bstate_free(b);
		return eng_errf(err, ENG_ENOMEM, "out of memory for the batch state (%d rows)", max_rows);
	}
	int rc = eng_rope_tables(c, max_seq, b->rope_cos, b->rope_sin, err);
	if (rc) {
		eng_bstate_free(b);
		return rc;
	}
	*out = b;
	return ENG_OK;
}

int eng_bstate_threads(struct eng_bstate *b, int n_threads, struct eng_err *err)
{
	if (n_threads < 1 || n_threads > 256)
		return eng_errf(err, ENG_EMISUSE, "threads %d: must be 1..256", n_threads);
	eng_pool_free(b->pool);
	b->pool = NULL;
	if (n_threads > 1 && !(b->pool = eng_pool_create(n_threads)))
		return eng_errf(err, ENG_ENOMEM, "cannot start %d matmul threads", n_threads);
	return ENG_OK;
}

/* Does row i need logits under flags? (ENG_FF_LAST_ROWS: not when a later row continues its
 * sequence.) */
static int wants_logits(int flags, int n, int i, struct eng_state *const *seq)
{
	if (flags & ENG_FF_KV_ONLY)
		return 0;
	if (flags & ENG_FF_LAST_ROWS)
		for (int j = i + 1; j < n; j++)
			if (seq[j] == seq[i])
				return 0;
	return 1;
}

const float *eng_forward_batch(const struct eng_transformer *t, struct eng_bstate *b, int n, const int *token,
			       const int *pos, struct eng_state *const *seq, int flags)
{
	const struct eng_config *c = &t->cfg;
	const size_t V = (size_t)c->vocab_size, dim = (size_t)c->hidden_size;
	memset(&b->err, 0, sizeof b->err);
	if (n < 1 || n > b->max_rows) {
		eng_errf(&b->err, ENG_EMISUSE, "batch step of %d rows: this batch state takes 1..%d", n, b->max_rows);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		if (token[i] < 0 || token[i] >= c->vocab_size) {
			eng_errf(&b->err, ENG_EFORMAT, "row %d: token %d outside the vocabulary (%d)", i, token[i],
				 c->vocab_size);
			return NULL;
		}
		if (pos[i] < 0 || pos[i] >= seq[i]->max_seq || (!t->split && pos[i] >= b->max_seq)) {
			eng_errf(&b->err, ENG_ELIMIT, "row %d: position %d outside the context of %d", i, pos[i],
				 seq[i]->max_seq < b->max_seq ? seq[i]->max_seq : b->max_seq);
			return NULL;
		}
		if (!t->split && pos[i] >= eng_kv_seq_capacity(seq[i])) {
			eng_errf(&b->err, ENG_ELIMIT, "row %d: position %d beyond the %d KV blocks its sequence holds", i,
				 pos[i], seq[i]->n_blocks);
			return NULL;
		}
	}
	if (t->split) {
		for (int i = 0; i < n; i++) {
			int want = wants_logits(flags, n, i, seq);
			const float *lg = eng_forward(t, seq[i], token[i], pos[i], want ? 0 : ENG_FF_KV_ONLY);
			if (!lg) {
				b->err = seq[i]->err;
				return NULL;
			}
			if (want)
				memcpy(b->logits + (size_t)i * V, lg, V * sizeof(float));
		}
		return b->logits;
	}
	if (t->part.tp * t->part.ep != 1) {
		eng_errf(&b->err, ENG_EMISUSE, "batched steps run on a whole model, not on one rank's slice");
		return NULL;
	}
	/* embed_tokens */
	for (int i = 0; i < n; i++)
		memcpy(b->x + (size_t)i * dim, t->w.embed + (size_t)token[i] * dim, dim * sizeof(float));
	eng_layers_batch(t, b, n, pos, seq);
	/* norm, then the head over the rows that want logits, gathered so that the head's weights are
	 * read once; row j of the product is moved to its row's place (backwards: head_rows[j] >= j). */
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (!wants_logits(flags, n, i, seq))
			continue;
		eng_rmsnorm(b->xb + (size_t)m * dim, b->x + (size_t)i * dim, t->w.norm, (int)dim, c->rms_norm_eps);
		b->head_rows[m++] = i;
	}
	const struct eng_linear head = {.w = t->w.head, .out = c->vocab_size, .in = (int)dim};
	eng_pool_linear_rows(b->pool, b->logits, V, &head, b->xb, dim, m);
	for (int j = m - 1; j >= 0; j--)
		if (b->head_rows[j] != j)
			memmove(b->logits + (size_t)b->head_rows[j] * V, b->logits + (size_t)j * V, V * sizeof(float));
	return b->logits;
}
