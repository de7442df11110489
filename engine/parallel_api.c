/* parallel_api.c — the engine.h face of parallelism: options for --tp/--ep/--comm and the
 * memory plan that says how many GPUs a checkpoint needs before anything is loaded — from its
 * safetensors headers, or from config.json alone (engine/configs/: the public shapes of models
 * whose weights are not here, for --random-weights benchmarks). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/err.h"
#include "engine/parallel.h"
#include "engine/safetensors.h"

void eng_par_opts_defaults(struct eng_par_opts *o)
{
	*o = (struct eng_par_opts){.tp = 1, .ep = 1, .comm = "cpu", .timeout_ms = 60000};
}

int eng_par_opts_check(const struct eng_par_opts *o, const char *dir, struct eng_err *err)
{
	if (o->tp < 1 || o->tp > 4096)
		return eng_errf(err, ENG_EMISUSE, "--tp %d: must be 1..4096", o->tp);
	if (o->ep < 1 || o->ep > 4096 || (long)o->tp * o->ep > 4096)
		return eng_errf(err, ENG_EMISUSE, "--ep %d: must be >= 1 with tp x ep <= 4096", o->ep);
	if (o->comm && strcmp(o->comm, "cpu") && strcmp(o->comm, "nccl"))
		return eng_errf(err, ENG_EMISUSE, "--comm %s: expected cpu or nccl", o->comm);
	if (o->timeout_ms < 1)
		return eng_errf(err, ENG_EMISUSE, "comm timeout %d ms: must be > 0", o->timeout_ms);
	if (!dir)
		return ENG_OK;
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
		return eng_errf(err, ENG_ELIMIT, "%s: path too long", dir);
	struct eng_config c;
	int rc = eng_config_load(path, &c, err);
	struct eng_part p;
	for (int r = 0; rc == ENG_OK && r < o->tp * o->ep; r++)
		rc = eng_part_plan(&c, o->tp, o->ep, r, &p, err);
	return rc;
}

int eng_model_plan(const char *dir, double gpu_bytes, int max_seq, int batch, struct eng_mem_need *out,
		   struct eng_err *err)
{
	memset(out, 0, sizeof *out);
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
		return eng_errf(err, ENG_ELIMIT, "%s: path too long", dir);
	struct eng_config c;
	int rc = eng_config_load(path, &c, err);
	if (rc)
		return rc;
	/* bytes per parameter as stored, and the tensors whose presence changes the count */
	double bpp, params;
	int gate_bias, own_head;
	struct eng_part whole;
	eng_part_whole(&c, &whole);
	char st1[4200], sti[4200];
	snprintf(st1, sizeof st1, "%s/model.safetensors", dir);
	snprintf(sti, sizeof sti, "%s/model.safetensors.index.json", dir);
	if (access(st1, F_OK) != 0 && access(sti, F_OK) != 0) {
		/* config.json alone: the V3 / R1 family ships FP8 e4m3 weights with one float32 scale per
		 * block_n x block_k block (counted for every parameter, the BF16 embeddings and norms
		 * too: 0.3% of V3); everything else BF16. The V3 family routes with the correction bias;
		 * a separate lm_head unless the embeddings are tied. */
		gate_bias = c.arch == ENG_ARCH_DEEPSEEK_V3;
		own_head = !c.tie_word_embeddings;
		bpp = c.arch == ENG_ARCH_DEEPSEEK_V3 ? 1.0 + 4.0 / ((double)c.block_n * c.block_k) : 2.0;
		params = (double)eng_part_params(&c, &whole, gate_bias, own_head);
		out->weight_bytes_total = params * bpp;
	} else {
		struct eng_st *st = NULL;
		if ((rc = eng_st_open_dir(dir, &st, err)))
			return rc;
		/* bytes per parameter as stored: the checkpoint's bytes over the parameters the model has
		 * (block scales ride along with FP8 weights) */
		double bytes = 0;
		for (size_t i = 0; i < eng_st_count(st); i++)
			bytes += (double)eng_st_at(st, i)->nbytes;
		gate_bias = eng_st_find(st, "model.layers.0.mlp.gate.e_score_correction_bias") != NULL;
		for (int l = 0; l < c.num_hidden_layers && !gate_bias; l++) {
			char n[128];
			snprintf(n, sizeof n, "model.layers.%d.mlp.gate.e_score_correction_bias", l);
			gate_bias = eng_st_find(st, n) != NULL;
		}
		own_head = eng_st_find(st, "lm_head.weight") != NULL;
		eng_st_close(st);
		params = (double)eng_part_params(&c, &whole, gate_bias, own_head);
		/* tensors the engine does not load (e.g. DeepSeek's MTP layer 61) are not planned for */
		bpp = params > 0 ? bytes / params : 4.0;
		if (bpp > 4.0)
			bpp = 4.0;
		out->weight_bytes_total = bytes;
	}
	struct eng_mem_plan m;
	rc = eng_mem_plan_gpus(&c, bpp, max_seq, batch, gpu_bytes, 0.9, 1024, &m, err);
	out->tp = m.tp;
	out->ep = m.ep;
	out->n_gpus = m.tp * m.ep;
	out->bytes_per_rank = m.total_bytes;
	return rc;
}
