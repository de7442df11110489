/* model.h — the engine's internal model: config (from config.json), float32 weights, run state
 * and the forward pass, one token at a time. Internal to engine/ (and its tests); the public API is
 * engine.h. Names follow DeepSeek-V3 inference/model.py; shapes are (out, in) row-major. */
#ifndef ENG_MODEL_H
#define ENG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct eng_kv_pool; /* paged.h */

enum eng_arch { ENG_ARCH_DEEPSEEK_V3 = 0, ENG_ARCH_QWEN3_MOE, ENG_ARCH_QWEN3, ENG_ARCH_QWEN2, ENG_ARCH_LLAMA };

/* Read-only after load. Fields keep their config.json names; derived sizes are computed once. */
struct eng_config {
	int arch;            /* enum eng_arch */
	char model_type[32]; /* "deepseek_v3", "qwen3_moe", ... */
	int vocab_size, hidden_size, intermediate_size, moe_intermediate_size;
	int num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim;
	float rms_norm_eps;
	int max_position_embeddings;
	int tie_word_embeddings;
	int attention_bias; /* q/k/v biases (qwen2) */
	int qk_norm;        /* per-head RMSNorm of q and k (qwen3, qwen3_moe) */
	/* MoE (n_routed_experts == 0 means dense) */
	int n_routed_experts, n_shared_experts, num_experts_per_tok;
	int n_group, topk_group;  /* group-limited routing (deepseek_v3) */
	int first_k_dense_replace; /* deepseek_v3: layers < k use the dense MLP */
	int decoder_sparse_step;   /* qwen3_moe: MoE when (layer + 1) % step == 0 ... */
	uint64_t mlp_only_layers;  /* ... and the layer's bit is clear here (layers < 64) */
	int norm_topk_prob;
	float routed_scaling_factor;
	int scoring_sigmoid; /* deepseek_v3 "sigmoid" (else softmax) */
	/* MLA (deepseek_v3) */
	int q_lora_rank; /* 0: plain q_proj */
	int kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim, qk_head_dim;
	/* RoPE */
	double rope_theta;
	int rope_interleave;   /* deepseek_v3: rotary pairs are (2i, 2i+1) instead of (i, i + d/2) */
	int rope_dim;          /* rotated dims per head */
	int rope_yarn;         /* rope_scaling type "yarn" */
	double yarn_factor, yarn_beta_fast, yarn_beta_slow, yarn_mscale, yarn_mscale_all_dim;
	int yarn_original_max;
	int rope_llama3; /* rope_scaling type "llama3" */
	double llama3_factor, llama3_low_freq_factor, llama3_high_freq_factor;
	int llama3_original_max;
	float softmax_scale;
	int block_n, block_k; /* FP8 weight_block_size [out, in] */
	int eos_ids[4], n_eos;
	int bos_token_id;
};

/* Reads <dir>/config.json. ENG_EUNSUPPORTED naming model_type for an unknown architecture;
 * ENG_EFORMAT naming the field for a missing or out-of-range value. */
int eng_config_load(const char *path, struct eng_config *c, struct eng_err *err);

/* RoPE inverse frequencies (rope_dim / 2 of them) after YaRN / llama3 scaling, and the factor
 * HF multiplies cos and sin by. */
void eng_config_rope(const struct eng_config *c, double *inv_freq, double *attn_factor);

/* Does layer l use the MoE block (else the dense MLP)? */
int eng_config_layer_moe(const struct eng_config *c, int l);

/* Which slice of the model one rank holds (parallel.c decides it). Ranks form a tp x ep grid,
 * world rank = ep_rank * tp + tp_rank. As DeepSeek-V3 model.py: attention heads, dense MLP rows,
 * each routed expert's rows and the shared experts' rows are split over the tp ranks
 * (ColumnParallel in, RowParallel out), embed and head rows over the tp ranks; routed experts are
 * split over the ep ranks, and the tp groups of different ep ranks hold the same dense slices.
 * The whole model is tp = ep = 1 with every range full. */
struct eng_part {
	int tp, tp_rank, ep, ep_rank;
	int head0, n_heads;             /* query heads (MLA and GQA) */
	int kv_head0, n_kv_heads;       /* GQA key/value heads the local query heads read */
	int inter0, n_inter;            /* dense MLP intermediate rows */
	int moe_inter0, n_moe_inter;    /* each held routed expert's intermediate rows */
	int shared_inter0, n_shared_inter; /* shared experts' intermediate rows */
	int shared_on;                  /* adds the shared experts to the sum (ep_rank 0: once per token) */
	int expert0, n_experts;         /* routed experts held */
	int vocab0, n_vocab, vocab_pad; /* embed / head rows; vocab_pad = ceil(vocab / tp) */
};

/* One rank's communicators for the forward pass (not owned): tp reduces attention and dense MLP
 * outputs and gathers the head, world reduces the MoE output. NULL: that group is this rank alone. */
struct eng_comms {
	struct eng_comm *tp, *world;
};

struct eng_linear {
	const float *w; /* (out, in) */
	const float *b; /* (out) or NULL */
	int out, in;
};

struct eng_mlp { /* model.py MLP / Expert: w2(silu(w1(x)) * w3(x)) */
	struct eng_linear w1, w2, w3; /* gate_proj, down_proj, up_proj */
};

struct eng_layer {
	const float *attn_norm; /* (dim) input_layernorm */
	const float *ffn_norm;  /* (dim) post_attention_layernorm */
	/* MLA */
	struct eng_linear wq;     /* (n_heads * qk_head_dim, dim) when q_lora_rank == 0 */
	struct eng_linear wq_a;   /* (q_lora_rank, dim) */
	const float *q_norm;      /* (q_lora_rank) MLA; (head_dim) qwen3 */
	struct eng_linear wq_b;   /* (n_heads * qk_head_dim, q_lora_rank) */
	struct eng_linear wkv_a;  /* (kv_lora_rank + qk_rope_head_dim, dim) */
	const float *kv_norm;     /* (kv_lora_rank) */
	struct eng_linear wkv_b;  /* (n_heads * (qk_nope_head_dim + v_head_dim), kv_lora_rank) */
	/* GQA (wq above is (n_heads * head_dim, dim)) */
	struct eng_linear wk, wv; /* (n_kv_heads * head_dim, dim) */
	const float *k_norm;      /* (head_dim) */
	struct eng_linear wo;     /* (dim, n_heads * v_head_dim) */
	/* FFN */
	int moe;
	struct eng_mlp mlp;           /* dense layers */
	const float *gate;            /* (n_routed_experts, dim) router */
	const float *gate_bias;       /* (n_routed_experts) e_score_correction_bias or NULL */
	struct eng_mlp *experts;      /* [n_routed_experts] */
	struct eng_mlp shared_experts; /* w1.w == NULL when none */
};

struct eng_weights {
	const float *embed; /* (vocab, dim) */
	const float *norm;  /* (dim) */
	const float *head;  /* (vocab, dim) */
	struct eng_layer *layers;
};

/* Config + weights + the one float32 allocation the weights live in. Read-only after load. */
struct eng_transformer {
	struct eng_config cfg;
	struct eng_weights w;
	float *arena;
	size_t n_params; /* floats in arena = parameters (a split model: all ranks together) */
	struct eng_mlp *experts_pool;
	struct eng_part part;   /* the slice held here (whole model: tp = ep = 1) */
	struct eng_split *split; /* non-NULL: a model split over ranks in this process (parallel_run.c);
				  * this struct then holds no weights and eng_forward drives the ranks */
};

/* Loads config.json and the safetensors of `dir` (tokenizer not touched). FP8 weights are
 * dequantized with their 128x128 weight_scale_inv, BF16/F16 widened; all into one allocation. */
int eng_transformer_load(const char *dir, struct eng_transformer **out, struct eng_err *err);

/* One rank's slice (eng_part_plan(tp, ep, rank)): only that slice is converted from the mapping
 * and held. tp < 1 loads the whole model. The rank's state must get its communicators
 * (s->comm) before eng_forward. */
int eng_transformer_load_part(const char *dir, int tp, int ep, int rank, struct eng_transformer **out,
			      struct eng_err *err);

/* The whole model split over tp x ep ranks in this process, one thread per rank, the ranks'
 * communicators made with the CPU backend (comm "cpu") or NCCL over devices 0.. ("nccl").
 * eng_state_create / eng_forward on it drive every rank and return rank 0's logits. */
int eng_transformer_load_split(const char *dir, int tp, int ep, const char *comm, int timeout_ms,
			       struct eng_transformer **out, struct eng_err *err);
void eng_transformer_free(struct eng_transformer *t); /* NULL allowed */

/* Activations and KV cache for one sequence of at most max_seq tokens (llama2.c RunState).
 * Allocated once; eng_forward allocates nothing. */
struct eng_state {
	int max_seq;
	float *x, *xb, *xb2;   /* (dim) residual stream and scratch */
	float *q;              /* (n_heads * max(qk_head_dim, head_dim)) */
	float *q_a;            /* (q_lora_rank) */
	float *kv_a;           /* (kv_lora_rank + qk_rope_head_dim) */
	float *q_abs;          /* (n_heads * kv_lora_rank) query folded through wkv_b (MLA absorb) */
	float *att_lat;        /* (n_heads * kv_lora_rank) attention-weighted latent */
	float *att_out;        /* (n_heads * max(v_head_dim, head_dim)) */
	float *att;            /* (n_heads * max_seq) scores */
	float *k, *v;          /* (n_kv_heads * head_dim) GQA current k, v */
	/* The KV cache is paged (paged.h): position p lives in block blocks[p / ENG_KV_BLOCK] of the
	 * pool kv. MLA caches kv_norm(kv) (kv_lora_rank) and the roped k_pe (model.py kv_cache /
	 * pe_cache); GQA k and v. A session's state owns a pool of its own with every block taken
	 * (own_kv); a batch slot's borrows the batch's pool and holds the blocks it was given. */
	struct eng_kv_pool *kv;
	int *blocks;           /* (ceil(max_seq / ENG_KV_BLOCK)) the block table, n_blocks filled */
	int n_blocks, own_kv;
	float *hb, *hb2;       /* (max(intermediate_size, moe_intermediate_size * max(1, n_shared))) */
	float *moe_out;        /* (dim) */
	float *scores;         /* (n_routed_experts) router logits */
	float *route_scratch;  /* (2 * n_routed_experts) krn_ref_route's */
	int *topk_idx;         /* (num_experts_per_tok) */
	float *topk_w;         /* (num_experts_per_tok) */
	float *rope_cos, *rope_sin; /* (max_seq, rope_dim / 2), attention factor included */
	float *logits;         /* (vocab) of the whole model; (tp * vocab_pad) on a rank, gathered there */
	struct eng_pool *pool; /* matmul threads, NULL = the caller's thread only */
	struct eng_comms comm; /* this rank's groups (set by the caller; zero: one rank) */
	struct eng_err err;    /* why the last eng_forward returned NULL */
	struct eng_split_state *split; /* the ranks' states of a split model (parallel_run.c) */
};

int eng_state_create(const struct eng_transformer *t, int max_seq, struct eng_state **out, struct eng_err *err);
/* A sequence for batched steps only (eng_forward_batch on a whole model): an empty block table
 * over the borrowed pool, no activations (eng_forward refuses it). The caller gives it blocks
 * (paged.h eng_kv_seq_push) and takes them back before eng_state_free. */
int eng_state_create_paged(const struct eng_transformer *t, int max_seq, struct eng_kv_pool *pool,
			   struct eng_state **out, struct eng_err *err);
void eng_state_free(struct eng_state *s); /* NULL allowed */
/* cos / sin of every position < max_seq ((max_seq, rope_dim / 2) each, attention factor in). */
int eng_rope_tables(const struct eng_config *c, int max_seq, float *cos_t, float *sin_t, struct eng_err *err);

/* Splits the state's large matmuls over n_threads (>= 1; 1 = none). Results do not depend on the
 * thread count: each output row is summed by one thread in the same order. */
int eng_state_threads(struct eng_state *s, int n_threads, struct eng_err *err);

enum { ENG_FF_KV_ONLY = 1 }; /* prompt step whose logits nobody reads: skip the head */

/* Runs token at position pos (0 <= pos < s->max_seq; positions < pos must have been run on this
 * state). Returns s->logits, or NULL when token or pos is out of range (s untouched) or a
 * collective failed (s->err says why; the state is then unusable). */
const float *eng_forward(const struct eng_transformer *t, struct eng_state *s, int token, int pos, int flags);

/* The step eng_forward runs (decoder.c): one rank's part of it, reducing over cm's groups where
 * model.py does (cm NULL or its groups NULL: a single rank). */
int eng_forward_step(const struct eng_transformer *t, struct eng_state *s, const struct eng_comms *cm, int token,
		     int pos, int flags, struct eng_err *err);
/* The families' attention (forward_*.c) for the token at pos: in s->xb (dim,), out s->xb2 (dim,),
 * this rank's partial sum of the row-parallel output projection. */
void eng_attn_mla(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos);
void eng_attn_gqa(const struct eng_transformer *t, struct eng_state *s, const struct eng_layer *L, int l, int pos);

/* ---- batched steps (batch_state.c): several sequences, or a prompt's positions, in one pass ----
 * Rows are tokens; each row names its sequence's state, whose KV cache (through its block table)
 * and max_seq are used (its activations are not). Every weight matrix is read once per step for all rows.
 * A row's logits equal eng_forward's for the same token, position and cache bit for bit: each
 * row is summed in the same order as one-at-a-time steps (tests/unit/engine/test_batch_forward.c). */
struct eng_bstate {
	int max_rows, max_seq; /* rows per step; longest sequence (att scratch) */
	float *x, *xb, *xb2;   /* (max_rows, dim) residual stream and scratch */
	float *q;              /* (max_rows, n_heads * max(qk_head_dim, head_dim)) */
	float *q_a;            /* (max_rows, q_lora_rank) */
	float *kv_a;           /* (max_rows, kv_lora_rank + qk_rope_head_dim) MLA; (max_rows, 2 * kv_dim) GQA k | v */
	float *q_abs, *att_lat; /* (kv_lora_rank) one (row, head) at a time */
	float *att;            /* (max_seq) scores of one (row, head) */
	float *att_out;        /* (max_rows, n_heads * max(v_head_dim, head_dim)) */
	float *hb, *hb2;       /* (max_rows, max(intermediate_size, moe_intermediate_size * max(1, n_shared))) */
	float *moe_in;         /* (max_rows, dim) the rows routed to one expert, gathered */
	float *moe_tmp;        /* (max_rows, dim) that expert's (or the shared experts') output */
	float *moe_eo;         /* (max_rows * num_experts_per_tok, dim) routed outputs per (row, k) */
	int *moe_rows;         /* (max_rows) */
	int *moe_k;            /* (max_rows) */
	float *scores;         /* (max_rows, n_routed_experts) router logits */
	float *route_scratch;  /* (2 * n_routed_experts) krn_ref_route's */
	int *topk_idx;         /* (max_rows, num_experts_per_tok) */
	float *topk_w;         /* (max_rows, num_experts_per_tok) */
	int *head_rows;        /* (max_rows) rows whose logits are computed */
	float *rope_cos, *rope_sin; /* (max_seq, rope_dim / 2), as eng_state's */
	float *logits;         /* (max_rows, vocab) */
	struct eng_pool *pool; /* matmul threads, NULL = the caller's thread only */
	struct eng_err err;    /* why the last eng_forward_batch returned NULL */
};

/* Scratch for steps of up to max_rows rows over sequences of at most max_seq positions. For a
 * split model only the logits are allocated: its steps run row by row through eng_forward. */
int eng_bstate_create(const struct eng_transformer *t, int max_rows, int max_seq, struct eng_bstate **out,
		      struct eng_err *err);
void eng_bstate_free(struct eng_bstate *b); /* NULL allowed */
/* As eng_state_threads (a split model's rows use their sequence states' threads instead). */
int eng_bstate_threads(struct eng_bstate *b, int n_threads, struct eng_err *err);

enum { ENG_FF_LAST_ROWS = 2 }; /* logits only for each sequence's last row of the step */

/* Runs n rows (1 <= n <= b->max_rows): token[i] at pos[i] of sequence seq[i]. Rows of one sequence
 * must come in increasing consecutive positions (a prompt chunk: causal attention among them);
 * positions before a sequence's first row must have been run on it. Returns b->logits, row i at
 * i * vocab (rows without logits under ENG_FF_KV_ONLY / ENG_FF_LAST_ROWS hold garbage), or NULL
 * with b->err set: a token or position out of range, or beyond the blocks the sequence holds
 * (nothing run), or a failed step of a split model (that sequence's state is then unusable). */
const float *eng_forward_batch(const struct eng_transformer *t, struct eng_bstate *b, int n, const int *token,
			       const int *pos, struct eng_state *const *seq, int flags);

/* The layers over rows (decoder.c, whole models only): b->x (n, dim) in and out. */
void eng_layers_batch(const struct eng_transformer *t, struct eng_bstate *b, int n, const int *pos,
		      struct eng_state *const *seq);
/* The families' attention over rows (forward_*.c): in b->xb (n, dim), out b->xb2 (n, dim). */
void eng_attn_mla_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
		       const int *pos, struct eng_state *const *seq);
void eng_attn_gqa_rows(const struct eng_transformer *t, struct eng_bstate *b, const struct eng_layer *L, int l, int n,
		       const int *pos, struct eng_state *const *seq);

/* Split models (parallel_run.c): state of every rank, and one step driven on all of them. */
int eng_split_state_create(const struct eng_transformer *t, int max_seq, struct eng_state *s, struct eng_err *err);
void eng_split_state_free(struct eng_state *s);
int eng_split_threads(struct eng_state *s, int n_threads, struct eng_err *err);
const float *eng_split_forward(const struct eng_transformer *t, struct eng_state *s, int token, int pos, int flags);
void eng_split_free(struct eng_split *sp);

#endif
