/* provider_engine.h — the built-in engine as a provider: one model loaded once, requests submitted
 * to the engine's continuous batch, so the runner's concurrency becomes the batch size. */
#ifndef EVH_PROVIDER_ENGINE_H
#define EVH_PROVIDER_ENGINE_H

#include "harness/provider.h"

/* Loads the checkpoint folder `path`. Engine errors are mapped to EVH_EENGINE / EVH_ENOTFOUND
 * with the engine's message. */
struct eng_par_opts;
/* slots: requests generating at once (the runner's concurrency); more are queued. par: the model
 * split over tp x ep ranks (`--tp N --ep M --comm cpu|nccl`), NULL for the whole model here. */
int evh_engine_provider_create(const char *path, int slots, const struct eng_par_opts *par,
			       struct evh_provider **out, struct evh_err *err);

/* Architecture and parameter count of the loaded model, for run.json. */
const char *evh_engine_provider_arch(const struct evh_provider *p);

#endif
