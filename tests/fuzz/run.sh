#!/bin/sh
# run.sh — fuzzes the scorers' parsers of untrusted text under libFuzzer with ASan/UBSan (clang):
# fuzz_latex (normaliser, expression parser, math comparison) and fuzz_extract (answer extraction,
# multiple-choice letters). Not part of `make test`; the corpus it keeps is, through
# tests/unit/scorers/test_fuzz_corpus.c.
# usage: tests/fuzz/run.sh [SECONDS_PER_TARGET (default 300)] [latex] [extract]
# Seeds come from tests/cases/*.jsonl; what the run finds is merged (minimised: the fewest inputs
# that keep every coverage feature) into tests/fuzz/corpus/<target>/. A crash, hang (-timeout),
# leak or failed check stops the script with the input under build/fuzz/artifacts/.
set -eu
cd "$(dirname "$0")/../.."
SECS=${1:-300}
[ $# -gt 0 ] && shift
TARGETS=${*:-latex extract}
D=${FUZZ_DIR:-build/fuzz}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null 2>&1 || { echo "run.sh: $CC not found (apt-get install clang)"; exit 2; }
SRC="scorers/latex.c scorers/expr.c scorers/math.c scorers/extract.c scorers/mcq.c scorers/numeric.c scorers/rx.c
     harness/util/err.c harness/util/buf.c"
mkdir -p "$D/artifacts"

# Seeds: every answer, answer pair and response of the case tables.
python3 - "$D" <<'PY'
import json, os, sys
d = sys.argv[1]
seeds = {"latex": set(), "extract": set()}
for line in open("tests/cases/math_equiv.jsonl"):
    r = json.loads(line)
    seeds["latex"].update([r["gold"], r["pred"], r["gold"] + "\n" + r["pred"]])
    seeds["extract"].add("So the final answer is $\\boxed{%s}$." % r["pred"])
for f in ("tests/cases/extract.jsonl", "tests/cases/mcq.jsonl"):
    for line in open(f):
        seeds["extract"].add(json.loads(line)["response"])
for t, ss in seeds.items():
    os.makedirs(os.path.join(d, "seed-" + t), exist_ok=True)
    for i, s in enumerate(sorted(ss)):
        open(os.path.join(d, "seed-%s/%04d" % (t, i)), "w").write(s)
PY

for t in $TARGETS; do
	echo "== fuzz_$t: build"
	# shellcheck disable=SC2086
	$CC -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -I. $(pkg-config --cflags libcjson libpcre2-8) \
		-o "$D/fuzz_$t" "tests/fuzz/fuzz_$t.c" $SRC $(pkg-config --libs libcjson libpcre2-8 libutf8proc) -lm -pthread
	mkdir -p "tests/fuzz/corpus/$t" "$D/work-$t"
	echo "== fuzz_$t: $SECS s"
	"$D/fuzz_$t" -max_total_time="$SECS" -timeout=2 -rss_limit_mb=2048 -max_len=2048 \
		-dict=tests/fuzz/scorers.dict -print_final_stats=1 -artifact_prefix="$D/artifacts/$t-" \
		"$D/work-$t" "tests/fuzz/corpus/$t" "$D/seed-$t" 2>"$D/$t.log" || {
		tail -n 40 "$D/$t.log"; echo "run.sh: fuzz_$t failed; input in $D/artifacts/"; exit 1; }
	grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "$D/$t.log" || true
	echo "== fuzz_$t: merge into tests/fuzz/corpus/$t"
	rm -rf "$D/min-$t" && mkdir -p "$D/min-$t"
	"$D/fuzz_$t" -merge=1 -timeout=2 -max_len=2048 "$D/min-$t" "tests/fuzz/corpus/$t" "$D/work-$t" "$D/seed-$t" \
		2>"$D/$t.merge.log"
	rm -rf "tests/fuzz/corpus/$t" && mv "$D/min-$t" "tests/fuzz/corpus/$t"
	echo "fuzz_$t: corpus $(ls "tests/fuzz/corpus/$t" | wc -l) files, $(cat "tests/fuzz/corpus/$t"/* | wc -c) bytes"
done
