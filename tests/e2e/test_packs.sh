#!/bin/sh
# Bundled packs, `evalh pack import`, `evalh pack validate` (golds through the real scorers and the
# sandbox) and `evalh pack fetch` against python3's http.server on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
mkdir -p "$TMP/tmp"
export TMPDIR="$TMP/tmp" # pack_import and pack_fetch must leave nothing here

# ---- every bundled pack builds and its golds score 100% ----
for d in "$ROOT"/tasks/packs/*/; do
	n=$(basename "$d")
	"$EVALH" pack build "$d" -o "$TMP/$n.tar.gz" >/dev/null 2>"$TMP/$n.err"
	check "$n builds" [ $? -eq 0 ]
	"$EVALH" pack validate "$TMP/$n.tar.gz" >"$TMP/$n.val" 2>&1
	check "$n validates through its scorer" [ $? -eq 0 ]
	check "$n: every gold scored" grep -q "ok ($n, .* items; .* golds score correct" "$TMP/$n.val"
	grep -q "without a reference solution" "$TMP/$n.val" && not_ok "$n: an item has no reference solution"
done
items() { "$EVALH" pack inspect "$TMP/$1.tar.gz" | sed -n 's/^items: //p'; }
check "math-mini has 30+ problems" [ "$(items math-mini)" -ge 30 ]
check "science-mini has 20+ questions" [ "$(items science-mini)" -ge 20 ]
check "code-mini has 25+ problems" [ "$(items code-mini)" -ge 25 ]
check "code-mini has 5+ stdin/stdout problems" \
	[ "$(grep -c '"style": *"stdio"' "$ROOT/tasks/packs/code-mini/items.jsonl")" -ge 5 ]

# ---- validate catches a broken reference solution and an unreadable gold ----
mkdir -p "$TMP/badcode" "$TMP/badmath"
cp "$ROOT/tasks/packs/code-mini/pack.json" "$TMP/badcode/"
sed '2s/return not stack/return True/' "$ROOT/tasks/packs/code-mini/items.jsonl" >"$TMP/badcode/items.jsonl"
check "mutation applied" sh -c "! cmp -s '$TMP/badcode/items.jsonl' '$ROOT/tasks/packs/code-mini/items.jsonl'"
"$EVALH" pack build "$TMP/badcode" -o "$TMP/badcode.tar.gz" >/dev/null
"$EVALH" pack validate "$TMP/badcode.tar.gz" >"$TMP/badcode.out" 2>&1
check "wrong reference solution: exit 1" [ $? -eq 1 ]
check "names the item and the verdict" grep -q "item code-mini-02 (items.jsonl:2): gold scored fail" "$TMP/badcode.out"
cp "$ROOT/tasks/packs/math-mini/pack.json" "$TMP/badmath/"
sed '5s/"answer": "[^"]*"/"answer": "3}{4"/' "$ROOT/tasks/packs/math-mini/items.jsonl" >"$TMP/badmath/items.jsonl"
"$EVALH" pack build "$TMP/badmath" -o "$TMP/badmath.tar.gz" >/dev/null
"$EVALH" pack validate "$TMP/badmath.tar.gz" >"$TMP/badmath.out" 2>&1
check "gold the extraction cannot return whole: exit 1" [ $? -eq 1 ]
check "names the item" grep -q "item math-mini-05 (items.jsonl:5): gold scored wrong" "$TMP/badmath.out"

# ---- import from the command line ----
printf '{"question": "Ada has 3 apples and buys 4 more. How many?", "answer": "3+4=7\\n#### 7"}\n' >"$TMP/gsm.jsonl"
printf '{"question": "Then she eats 2. How many are left?", "answer": "7-2=5\\n#### 5"}\n' >>"$TMP/gsm.jsonl"
"$EVALH" pack import gsm8k "$TMP/gsm.jsonl" -o "$TMP/gsm.tar.gz" --name gsm-e2e >"$TMP/imp.out" 2>&1
check "import gsm8k" [ $? -eq 0 ]
check "import reports the items" grep -q "gsm-e2e, 2 items" "$TMP/imp.out"
"$EVALH" pack validate "$TMP/gsm.tar.gz" >/dev/null 2>&1
check "imported pack validates" [ $? -eq 0 ]
printf '{"question": "ok", "answer": "#### 1"}\n{"question": "no marker", "answer": "2"}\n' >"$TMP/bad.jsonl"
"$EVALH" pack import gsm8k "$TMP/bad.jsonl" -o "$TMP/bad.tar.gz" 2>"$TMP/bad.err"
check "malformed line: exit 2" [ $? -eq 2 ]
check "error names file and line" grep -q "bad.jsonl:2: field \"answer\"" "$TMP/bad.err"
check "no pack left" [ ! -e "$TMP/bad.tar.gz" ]
"$EVALH" pack import nosuch "$TMP/gsm.jsonl" -o "$TMP/x.tar.gz" 2>"$TMP/fmt.err"
check "unknown format lists the known ones" grep -q "livecodebench" "$TMP/fmt.err"

# ---- fetch against a local server ----
SRV="$TMP/srv"
mkdir -p "$SRV/dataset"
cp "$TMP/gsm.jsonl" "$SRV/test.jsonl" # served as gsm8k's and (unpinned content) as math-500's file
printf 'Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3,Subdomain,Record ID\n' >"$SRV/dataset/gpqa_diamond.csv"
printf '"Which gas makes up most of Earth'"'"'s atmosphere?",nitrogen,oxygen,argon,carbon dioxide,Earth science,r1\n' >>"$SRV/dataset/gpqa_diamond.csv"
(cd "$SRV" && zip -q -P deserted-untouched-panther dataset.zip dataset/gpqa_diamond.csv)
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$SRV" >"$TMP/http.out" 2>"$TMP/http.err" &
SERVER_PID=$!
i=0
while ! grep -q "port" "$TMP/http.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
HPORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$TMP/http.out" | head -n1)
[ -n "$HPORT" ] || { echo "http.server did not start: $(cat "$TMP/http.err")"; exit 1; }
export EVALH_FETCH_BASE="http://127.0.0.1:$HPORT"
SUM=$(sha256sum "$SRV/test.jsonl" | cut -d' ' -f1)

"$EVALH" pack fetch gsm8k -o "$TMP/f1.tar.gz" >/dev/null 2>"$TMP/f1.err"
check "no pinned digest: refused" [ $? -eq 2 ]
check "the refusal gives the digest downloaded" grep -q "sha256 $SUM" "$TMP/f1.err"
check "no pack after the refusal" [ ! -e "$TMP/f1.tar.gz" ]
"$EVALH" pack fetch gsm8k --sha256 "$SUM" -o "$TMP/f2.tar.gz" >/dev/null 2>"$TMP/f2.err"
check "fetch with the digest" [ $? -eq 0 ]
"$EVALH" pack inspect "$TMP/f2.tar.gz" >"$TMP/f2.ins"
check "fetched pack records URL and digest" grep -q "source: http://127.0.0.1:$HPORT/test.jsonl (sha256 $SUM)" "$TMP/f2.ins"
check "fetched pack has the items" grep -q "items: 2" "$TMP/f2.ins"
"$EVALH" pack fetch math-500 -o "$TMP/f3.tar.gz" >/dev/null 2>"$TMP/f3.err"
check "pinned digest differs: refused" [ $? -eq 2 ]
check "mismatch named" grep -q "sha256 mismatch: expected 35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132, got $SUM" "$TMP/f3.err"
check "no pack after a mismatch" [ ! -e "$TMP/f3.tar.gz" ]
"$EVALH" pack fetch humaneval --sha256 "$SUM" -o "$TMP/f4.tar.gz" >/dev/null 2>"$TMP/f4.err"
check "missing file: HTTP 404" grep -q "HTTP 404" "$TMP/f4.err"
check "no pack after a 404" [ ! -e "$TMP/f4.tar.gz" ]
ZSUM=$(sha256sum "$SRV/dataset.zip" | cut -d' ' -f1)
"$EVALH" pack fetch gpqa-diamond --sha256 "$ZSUM" -o "$TMP/f5.tar.gz" >/dev/null 2>"$TMP/f5.err"
check "gpqa-diamond from its encrypted zip" [ $? -eq 0 ]
"$EVALH" pack validate "$TMP/f5.tar.gz" >/dev/null 2>&1
check "fetched gpqa pack validates" [ $? -eq 0 ]
"$EVALH" pack fetch gsm8k --sha256 "$SUM" --url "$EVALH_FETCH_BASE/test.jsonl" --name gsm-url -o "$TMP/f6.tar.gz" >/dev/null 2>&1
check "--url and --name" sh -c "'$EVALH' pack inspect '$TMP/f6.tar.gz' | grep -q '^name: gsm-url'"
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""
"$EVALH" pack fetch gsm8k --sha256 "$SUM" -o "$TMP/f7.tar.gz" >/dev/null 2>"$TMP/f7.err"
check "server gone: network error" [ $? -eq 2 ]
check "no pack after a network error" [ ! -e "$TMP/f7.tar.gz" ]
check "no temporary files left" [ -z "$(ls -A "$TMP/tmp")" ]
finish
