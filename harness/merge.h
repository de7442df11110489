/* merge.h — `evalh merge RUN... -o OUT`: joins the folders of `evalh run --shard I/N` (shard.h)
 * into one run folder whose samples.jsonl holds every sample once and whose summary.json is what a
 * single machine running every item would have computed (harness/stats). Reads run folders as
 * results/README.md describes them; knows nothing of providers or packs. */
#ifndef EVH_MERGE_H
#define EVH_MERGE_H

#include <stddef.h>

#include "harness/util/err.h"

struct evh_merge_info {
	size_t shards;   /* folders joined */
	size_t samples;  /* sample lines written (last line per (task, item, sample) of each shard) */
	size_t errors;   /* of which not scored (the request failed): resume that shard, merge again */
	char notes[512]; /* warnings worth printing (shards built from different git revisions) */
};

/* Joins shard folders dirs[0..n) into out_dir (created; refused when it already holds a
 * samples.jsonl). Refuses, with EVH_EUNSUPPORTED and a message naming the folder and the first
 * difference, shards that are not one experiment: different model, pack digests or versions,
 * result-changing options (samples, temperature, top_p, max_tokens, limit, seeds, system prompt,
 * math instruction, reasoning effort or budget, preset) or shard counts. Refuses incomplete or
 * overlapping coverage: a shard index missing or given twice, an item listed by two shards, a
 * sample of a listed item absent, a sample of an item the shard does not list (each error names
 * the shard, item or file:line). Unreadable or malformed input is EVH_ENOTFOUND / EVH_EFORMAT.
 * On failure nothing is written to out_dir. info may be NULL. */
int evh_merge(const char *const *dirs, size_t n, const char *out_dir, struct evh_merge_info *info,
	      struct evh_err *err);

/* `evalh merge RUN... -o OUT`; argv[0] is "merge" (main passes argc - 1, argv + 1). Exit codes:
 * 0 merged, 2 refused or bad input, 3 merged but some samples are errors (resume their shard). */
int evh_merge_main(int argc, char **argv);

#endif
