#!/bin/sh
# bench_sandbox.sh — `make bench`, sandbox part (issue 4): 1,000 trivial correct Python test
# executions through the sandbox with all workers, beside a plain fork/exec of python3 with no
# isolation, as executions per second and a ratio (target: under 25% overhead). See
# tests/bench/sandbox_bench.c. BENCH_SANDBOX_N and BENCH_SANDBOX_WORKERS override the defaults.
set -eu
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:-build/bench}
mkdir -p "$D"
[ -f build/release/libscorers.a ] && [ -f build/release/libutil.a ] ||
	make build/release/libscorers.a build/release/libutil.a
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -pthread -Wall -Wextra -Werror -I. $(pkg-config --cflags libcjson libseccomp) \
	-o "$D/sandbox_bench" tests/bench/sandbox_bench.c build/release/libscorers.a build/release/libutil.a \
	$(pkg-config --libs libcjson libseccomp) -lm
"$D/sandbox_bench" "${BENCH_SANDBOX_N:-1000}" ${BENCH_SANDBOX_WORKERS:-}
