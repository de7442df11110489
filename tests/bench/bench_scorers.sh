#!/bin/sh
# bench_scorers.sh — `make bench`, scorer part (issue 3): math scoring throughput over 100,000 pairs
# drawn from tests/cases/math_equiv.jsonl and the slowest pair, beside the targets (scorer_bench.c).
# Built against the release archives; exits 1 when a target is missed.
set -eu
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:-build/bench}
mkdir -p "$D"
make -s build/release/libscorers.a build/release/libutil.a
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -pthread -Wall -Wextra -Werror -I. $(pkg-config --cflags libcjson) \
	-o "$D/scorer_bench" tests/bench/scorer_bench.c build/release/libscorers.a build/release/libutil.a \
	$(pkg-config --libs libcjson libpcre2-8 libutf8proc libseccomp) -lm
"$D/scorer_bench" tests/cases/math_equiv.jsonl "${BENCH_PAIRS:-100000}"
