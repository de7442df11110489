/* err.h — the engine's one error helper (internal; not part of engine.h). */
#ifndef ENG_ERR_H
#define ENG_ERR_H

#include "engine/engine.h"

/* Records code and a formatted one-line message in err (NULL allowed) and returns code. The first
 * failure wins: a later call on an err that already holds a code keeps the root cause. */
int eng_errf(struct eng_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
