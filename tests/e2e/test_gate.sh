#!/bin/sh
# evalh gate on the hand-made runs of tests/fixtures/runs (make_runs.py there): exit codes 0/1/2,
# the p-value known in closed form (McNemar 10 vs 0: 2 / 2^10 = 0.001953125), the Markdown table.
. "$(dirname "$0")/lib.sh"
R="$ROOT/tests/fixtures/runs"

"$EVALH" gate --baseline "$R/gate-base" --candidate "$R/gate-cand10" >"$TMP/t10.md" 2>"$TMP/t10.err"
check "10 newly wrong of 30: regression, exit 1" [ $? -eq 1 ]
check "table row with p = 0.00195 and the McNemar counts" \
	grep -q "| arith | 30 | 100.0% | 66.7% | -33.3 \[.*\] | 0.00195 | McNemar exact (10 vs 0) | \*\*REGRESSION\*\* |" "$TMP/t10.md"
check "table header" grep -q "^| task | items | baseline | candidate | delta (95% CI), points | p-value | test | verdict |" "$TMP/t10.md"

"$EVALH" gate --baseline "$R/gate-base" --candidate "$R/gate-cand10" --max-drop 40 >/dev/null 2>&1
check "same drop under --max-drop 40: pass, exit 0" [ $? -eq 0 ]

"$EVALH" gate --baseline "$R/gate-base" --candidate "$R/gate-cand1" >"$TMP/t1.md" 2>&1
check "1 flip: p = 1, exit 0" [ $? -eq 0 ]
check "1 flip row says ok" grep -q "| 1 | McNemar exact (1 vs 0) | ok |" "$TMP/t1.md"

"$EVALH" gate --baseline "$R/gate-base" --candidate "$R/gate-base" >/dev/null 2>&1
check "identical runs: exit 0" [ $? -eq 0 ]

"$EVALH" gate --baseline "$R/gate-base" --candidate "$R/gate-shifted" >"$TMP/sh.out" 2>"$TMP/sh.err"
check "different item sets: exit 2" [ $? -eq 2 ]
check "names the items on each side" grep -q "only in baseline: it-000; only in candidate: it-030" "$TMP/sh.err"

"$EVALH" gate --baseline "$R/gate-base" --candidate "$R/report-a" >/dev/null 2>"$TMP/task.err"
check "different tasks: exit 2" [ $? -eq 2 ]

"$EVALH" gate --baseline "$R/gate-base" --candidate "$TMP/missing" >/dev/null 2>"$TMP/miss.err"
check "missing run folder: exit 2" [ $? -eq 2 ]
check "missing run.json named" grep -q "missing/run.json" "$TMP/miss.err"

mkdir -p "$TMP/bad" && cp "$R/gate-base/run.json" "$TMP/bad/" && head -n 4 "$R/gate-base/samples.jsonl" >"$TMP/bad/samples.jsonl"
echo '{"task": "arith", "item_id": "it-004", "sample": 0, "correct": tru}' >>"$TMP/bad/samples.jsonl"
"$EVALH" gate --baseline "$R/gate-base" --candidate "$TMP/bad" >/dev/null 2>"$TMP/bad.err"
check "malformed JSON: exit 2" [ $? -eq 2 ]
check "names file and line" grep -q "bad/samples.jsonl:5: malformed JSON" "$TMP/bad.err"

"$EVALH" gate --baseline "$R/gate-base" >/dev/null 2>&1
check "missing --candidate: exit 2" [ $? -eq 2 ]
finish
