#!/bin/sh
# bench_comm.sh — `make bench`, multi-GPU plan (issue 11): bytes each rank moves per decode step for
# DeepSeek-V3 shapes at ep=8 and ep=64, from the dispatch plan, beside DeepEP's published figures.
set -eu
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:-build/bench}
mkdir -p "$D"
[ -f build/release/libengine.a ] || make build/release/libengine.a
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -pthread -Wall -Wextra -Werror -I. -o "$D/comm_plan" tests/bench/comm_plan.c \
	build/release/libengine.a $(pkg-config --libs libcjson libpcre2-8 libutf8proc) -lm -pthread
"$D/comm_plan"
