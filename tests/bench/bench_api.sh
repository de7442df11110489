#!/bin/sh
# bench_api.sh — `make bench`: the harness's own overhead per API request. 2,000 chat-completion requests
# at concurrency 64 against a local server that answers at once (tests/server/fast_server.c), made
# by the harness's OpenAI provider (tests/bench/openai_bench.c, streaming and not) and by
# `curl --parallel --parallel-max 64` with the same request body; requests/s and client CPU ms per
# request side by side, as a ratio to curl. Each client runs 3 times; the fastest run is shown.
#   sh tests/bench/bench_api.sh    (the binary is not needed until `evalh bench` exists)
# Environment: BENCH_N (2000), BENCH_C (64), BENCH_DIR (build/bench), CC (cc).
set -eu
cd "$(dirname "$0")/../.."
N=${BENCH_N:-2000}
C=${BENCH_C:-64}
D=${BENCH_DIR:-build/bench}
CC=${CC:-cc}
mkdir -p "$D"

FLAGS="-std=c11 -D_GNU_SOURCE -O2 -pthread -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla -I."
PKG="$(pkg-config --cflags --libs libcurl libcjson) -lm"
$CC -O2 -Wall -Wextra -Werror -o "$D/fast_server" tests/server/fast_server.c
# Against the release archives `make bench` has just built from the current sources (make all).
make -s build/release/libharness.a build/release/libutil.a
$CC $FLAGS -o "$D/openai_bench" tests/bench/openai_bench.c build/release/libharness.a build/release/libutil.a $PKG

: > "$D/port"
"$D/fast_server" > "$D/port" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$D/port" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "bench: fast_server did not start" >&2; exit 1; }
	sleep 0.05
done
PORT=$(cat "$D/port")
URL="http://127.0.0.1:$PORT/v1"

# The body the provider sends for the bench request, so curl does the same work on the wire.
printf '%s' '{"model":"bench","messages":[{"role":"user","content":"What is 2 + 3?"}],"temperature":0.6,"top_p":0.95,"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}' > "$D/body.json"
awk -v n="$N" -v u="$URL/chat/completions" 'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' > "$D/urls.cfg"

# best LABEL CMD...: runs CMD 3 times, keeps the line of the fastest run.
best() {
	label=$1; shift
	: > "$D/runs"
	for r in 1 2 3; do
		"$@" >> "$D/runs" || { echo "bench: $label failed" >&2; exit 1; }
	done
	sort -t= -k2 -n "$D/runs" | head -1 | sed "s/^/$label /"
}

"$D/openai_bench" --url "$URL" --n 200 --c "$C" > /dev/null # warm-up: page cache, server accept queue
{
	best curl "$D/openai_bench" --exec curl -sS --no-progress-meter --fail --parallel --parallel-max "$C" \
		-K "$D/urls.cfg" -H 'Content-Type: application/json' -d @"$D/body.json"
	best evalh-stream "$D/openai_bench" --url "$URL" --n "$N" --c "$C" --stream 1
	best evalh-json "$D/openai_bench" --url "$URL" --n "$N" --c "$C" --stream 0
} > "$D/results"

awk -v n="$N" -v c="$C" '
{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2] }; order[NR] = $1 }
END {
	cw = v["curl", "wall_s"]; cc = v["curl", "cpu_s"]
	printf "bench: %d requests, concurrency %d, local canned-reply server (one epoll thread)\n\n", n, c
	printf "| client       |  wall s |   req/s | CPU ms/req | req/s vs curl | CPU vs curl |\n"
	printf "|--------------|--------:|--------:|-----------:|--------------:|------------:|\n"
	pass = 1
	for (k = 1; k <= NR; k++) {
		l = order[k]; w = v[l, "wall_s"]; u = v[l, "cpu_s"]
		printf "| %-12s | %7.3f | %7.0f | %10.3f | %13.2f | %11.2f |\n", l, w, n / w, 1000 * u / n, cw / w, u / cc
		if (l != "curl" && (1000 * u / n >= 1 || cw / w < 0.8)) pass = 0
	}
	printf "\ntarget: evalh under 1 ms CPU per request and at least 0.8x curl'"'"'s request rate: %s\n", pass ? "met" : "NOT met"
}' "$D/results"
