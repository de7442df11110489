#!/bin/sh
# bench_engine.sh — `make bench`, engine part (issue 5): CPU engine prompt and generation tokens/s
# beside the memory-bandwidth limit measured in the same run (see engine_bench.c).
set -eu
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:-build/bench}
mkdir -p "$D"
[ -f build/release/libengine.a ] || make build/release/libengine.a
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -pthread -Wall -Wextra -Werror -I. $(pkg-config --cflags libcjson) \
	-o "$D/engine_bench" tests/bench/engine_bench.c build/release/libengine.a \
	$(pkg-config --libs libcjson libpcre2-8 libutf8proc) -lm
"$D/engine_bench" "$D/engine" tests/fixtures/tiny-tokenizer
