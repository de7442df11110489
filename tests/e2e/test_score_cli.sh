#!/bin/sh
# evalh judge (pairs on stdin -> one verdict line each) and evalh score (re-scoring a run folder with
# the scorers and options of its packs): verdicts, rules, the pack's choices and options applied,
# lines in error and a cut last line left alone, the diff, the new summary, refusals.
. "$(dirname "$0")/lib.sh"

if "$EVALH" judge --scorer math </dev/null 2>&1 | grep -q "unknown command"; then
	echo "skip: this evalh has no judge/score commands yet (dispatch in harness/main.c)"
	exit 0
fi

# ---- judge ------------------------------------------------------------------------------------
cat >"$TMP/pairs.jsonl" <<'J'
{"id": "half", "gold": "0.5", "pred": "So it is $\\boxed{\\frac12}$."}
{"id": "interval", "gold": "(1,2]", "pred": "The final answer is $(1,2)$"}
{"id": "think", "gold": "3", "pred": "<think>The answer is 3"}
{"id": "number", "gold": 1000, "pred": "#### 10^{3}"}

not json
{"id": "nogold", "pred": "\\boxed{1}"}
J
"$EVALH" judge --scorer math <"$TMP/pairs.jsonl" >"$TMP/judge.out" 2>"$TMP/judge.err"
check "judge: a line that failed makes exit 1" [ $? -eq 1 ]
check "judge: one output line per non-blank input line" [ "$(wc -l <"$TMP/judge.out")" -eq 6 ]
jl() { sed -n "${1}p" "$TMP/judge.out" >"$TMP/line.json"; jget "$TMP/line.json" "$2"; }
check "judge: 0.5 vs frac12 correct by boxed, id passed through" \
	[ "$(jl 1 "j['id'], j['verdict'], j['correct'], j['extracted'], j['rule']")" = "half correct True \\frac12 boxed" ]
check "judge: (1,2] vs (1,2) wrong by final_answer" [ "$(jl 2 "j['verdict'], j['rule']")" = "wrong final_answer" ]
check "judge: an answer only in unclosed reasoning is no_answer" [ "$(jl 3 "j['verdict'], j['extracted']")" = "no_answer None" ]
check "judge: a JSON number gold; 10^{3} = 1000 by gsm8k" [ "$(jl 4 "j['verdict'], j['rule']")" = "correct gsm8k" ]
check "judge: bad JSON line gets an error naming stdin:6" [ "$(jl 5 "j['verdict'], j['error']['code'], j['error']['message'][:8]")" = "None format stdin:6:" ]
check "judge: missing gold is an error of that line" [ "$(jl 6 "j['id'], j['error']['code']")" = "nogold format" ]

printf '%s\n' '{"gold": "B", "pred": "The capital of France is\nParis.", "choices": ["London", "Paris", "Rome"], "question": "Capital of France?"}' \
	'{"gold": "B", "pred": "I am not sure."}' | "$EVALH" judge --scorer mcq >"$TMP/mcq.out"
check "judge mcq: option text with choices, exit 0" [ $? -eq 0 ]
sed -n 1p "$TMP/mcq.out" >"$TMP/m1.json"
check "judge mcq: Paris is B by option_text" [ "$(jget "$TMP/m1.json" "j['verdict'], j['extracted'], j['rule']")" = "correct B option_text" ]
sed -n 2p "$TMP/mcq.out" >"$TMP/m2.json"
check "judge mcq: no letter is no_answer, not wrong" [ "$(jget "$TMP/m2.json" "j['verdict']")" = "no_answer" ]

echo '{"gold": "3.14159", "pred": "The answer is 3.1416."}' | "$EVALH" judge --scorer numeric --options '{"tolerance": 1e-4}' >"$TMP/n.json"
check "judge numeric: within the tolerance given" [ "$(jget "$TMP/n.json" "j['verdict']")" = "correct" ]
echo '{"gold": "3.14159", "pred": "The answer is 3.1416."}' | "$EVALH" judge --scorer numeric >"$TMP/n2.json"
check "judge numeric: outside the default tolerance" [ "$(jget "$TMP/n2.json" "j['verdict']")" = "wrong" ]
printf '%s\n' '{"gold": "72", "pred": "so 70 + 2\n#### 72"}' | "$EVALH" judge --scorer regex --options '{"pattern": "#### (\\d+)"}' >"$TMP/r.json"
check "judge regex: group 1 of the match, rule regex" [ "$(jget "$TMP/r.json" "j['verdict'], j['extracted'], j['rule']")" = "correct 72 regex" ]
echo '{"gold": "Paris", "pred": "paris"}' | "$EVALH" judge --scorer exact >"$TMP/e.json"
check "judge exact: case-insensitive by default" [ "$(jget "$TMP/e.json" "j['verdict'], j['rule']")" = "correct whole" ]
echo '{"gold": "1", "pred": "1"}' | "$EVALH" judge --scorer regex >"$TMP/rx.json"
check "judge regex without a pattern: the line's error names it" grep -q '"pattern' "$TMP/rx.json"

"$EVALH" judge --scorer nope </dev/null 2>"$TMP/nope.err"
check "judge: unknown scorer exits 2" [ $? -eq 2 ]
check "judge: unknown scorer named" grep -q 'unknown scorer "nope"' "$TMP/nope.err"
"$EVALH" judge </dev/null 2>/dev/null
check "judge: --scorer is required (exit 2)" [ $? -eq 2 ]

# ---- score ------------------------------------------------------------------------------------
# Two packs of our own: numeric with a tolerance, and multiple choice whose option text needs the
# pack's choices. The run's records carry stale verdicts, as if scored by an older grader.
mkdir -p "$TMP/num" "$TMP/mc"
cat >"$TMP/num/pack.json" <<'J'
{"name": "num", "version": "1", "domain": "science", "scorer": "numeric", "scorer_options": {"tolerance": 0.01}}
J
printf '%s\n' '{"id": "n1", "question": "g?", "answer": "9.81"}' '{"id": "n2", "question": "c?", "answer": "299792458"}' \
	'{"id": "n3", "question": "pi?", "answer": "3.14159"}' >"$TMP/num/items.jsonl"
cat >"$TMP/mc/pack.json" <<'J'
{"name": "mc", "version": "1", "domain": "science", "scorer": "mcq", "prompt_template": "{question}\n{choices}"}
J
printf '%s\n' '{"id": "m1", "question": "Capital of France?", "choices": ["London", "Paris", "Rome", "Berlin"], "answer": "B"}' >"$TMP/mc/items.jsonl"
"$EVALH" pack build "$TMP/num" -o "$TMP/num.tar.gz" >/dev/null && "$EVALH" pack build "$TMP/mc" -o "$TMP/mc.tar.gz" >/dev/null
check "packs built" [ -f "$TMP/num.tar.gz" ] && [ -f "$TMP/mc.tar.gz" ]

R="$TMP/run"
mkdir -p "$R"
cat >"$R/run.json" <<J
{"run_id": "old", "model": {"name": "m"}, "tasks": [
 {"name": "num", "path": "$TMP/num.tar.gz", "scorer": "numeric", "items": 3},
 {"name": "mc", "path": "$TMP/mc.tar.gz", "scorer": "mcq", "items": 1}]}
J
rec() { # task item gold response verdict correct extracted
	printf '{"task": "%s", "item_id": "%s", "sample": 0, "gold": "%s", "response": "%s", "reasoning": null, "rule": "old", "verdict": "%s", "correct": %s, "extracted": %s, "finish_reason": "stop", "tokens_in": 10, "tokens_out": 20, "tokens_reasoning": 0, "ttft_s": 0.1, "total_s": 1.0, "cost_usd": 0.0, "error": null}\n' "$@"
}
{
	rec num n1 9.81 'The answer is 9.8 m/s^2.' wrong false '"9.8"'
	rec num n2 299792458 'The answer is 3.0e8, roughly.' correct true '"3.0e8"'
	echo '{"task": "num", "item_id": "n3", "sample": 0, "gold": "3.14159", "response": null, "verdict": null, "correct": null, "error": {"code": "timeout", "message": "stalled"}}'
	rec mc m1 B 'It has to be\nParis.' no_answer false null
	printf '{"task": "num", "item_id": "n3", "sample": 0, "gold": "3.14'
} >"$R/samples.jsonl"
cp "$R/samples.jsonl" "$TMP/orig.jsonl"

"$EVALH" score "$R" -o "$TMP/new" >"$TMP/score.md" 2>"$TMP/score.err"
check "score: exit 0" [ $? -eq 0 ]
check "score: the old run is untouched" cmp -s "$R/samples.jsonl" "$TMP/orig.jsonl"
check "score: samples.jsonl, summary.json, run.json written" [ -s "$TMP/new/samples.jsonl" ] && [ -s "$TMP/new/summary.json" ] && [ -s "$TMP/new/run.json" ]
check "score: the cut last line is left out, the error line kept" [ "$(wc -l <"$TMP/new/samples.jsonl")" -eq 4 ]
python3 - "$TMP/new/samples.jsonl" >"$TMP/v.txt" <<'P'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["item_id"], r["verdict"], r.get("rule"), r.get("extracted"), r.get("error") and r["error"]["code"])
P
check "score: 9.8 vs 9.81 within the pack's tolerance 0.01 is now correct" grep -qx "n1 correct answer_is 9.8 None" "$TMP/v.txt"
check "score: 3.0e8 is not a number the numeric scorer reads: wrong" grep -q "^n2 wrong answer_is" "$TMP/v.txt"
check "score: the sample in error is left as it was" grep -qx "n3 None None None timeout" "$TMP/v.txt"
check "score: Paris is B through the pack's choices" grep -qx "m1 correct option_text B None" "$TMP/v.txt"
check "score: other fields kept" [ "$(head -n1 "$TMP/new/samples.jsonl" | python3 -c "import json,sys; r=json.load(sys.stdin); print(r['tokens_out'], r['finish_reason'])")" = "20 stop" ]
check "score: summary accuracy recomputed (2 of 3 scored)" [ "$(jget "$TMP/new/summary.json" "round(j['overall']['accuracy'], 4)")" = "0.6667" ]
check "score: run.json says what re-scored it" [ "$(jget "$TMP/new/run.json" "j['run_id'], j['rescored']['changed'], j['rescored']['scored']")" = "old 3 3" ]
check "score: diff lists the three flips" [ "$(grep -c "^| num \|^| mc " "$TMP/score.md")" -ge 5 ]
check "score: diff row for n1" grep -q "^| num | n1 | 0 | wrong -> correct | \`9.8\` -> \`9.8\` | answer_is | .*samples.jsonl#L1 |" "$TMP/score.md"
check "score: diff row for m1" grep -q "^| mc | m1 | 0 | no_answer -> correct | \`-\` -> \`B\` | option_text |" "$TMP/score.md"
check "score: accuracy before and after per task" grep -q "^| num | 50.0% | 50.0% |" "$TMP/score.md"
check "score: the cut line is mentioned" grep -q "samples.jsonl:5: last line cut short" "$TMP/score.err"

"$EVALH" score "$R" -o "$TMP/new" >/dev/null 2>"$TMP/again.err"
check "score: -o onto a recorded run is refused (exit 2)" [ $? -eq 2 ]
"$EVALH" score "$TMP/missing" >/dev/null 2>"$TMP/miss.err"
check "score: a missing run folder exits 2 naming run.json" [ $? -eq 2 ] && grep -q "missing/run.json" "$TMP/miss.err"

# In place, and again: the second pass changes nothing.
"$EVALH" score "$R" --quiet >"$TMP/inplace.md" 2>&1
check "score in place: exit 0" [ $? -eq 0 ]
check "score in place: same records as -o" cmp -s "$R/samples.jsonl" "$TMP/new/samples.jsonl"
"$EVALH" score "$R" --quiet >"$TMP/twice.md" 2>&1
check "score twice: nothing changes the second time" grep -q "3 scored sample(s) re-scored, 0 changed verdict" "$TMP/twice.md"

# A record the scorer cannot judge keeps its old verdict and makes exit 1.
mkdir -p "$TMP/bad" && cp "$R/run.json" "$TMP/bad/"
rec num n1 "not a number" 'The answer is 9.8' wrong false '"9.8"' >"$TMP/bad/samples.jsonl"
"$EVALH" score "$TMP/bad" >/dev/null 2>"$TMP/bad.err"
check "score: a record that cannot be scored exits 1" [ $? -eq 1 ]
check "score: it is named by file and line" grep -q "bad/samples.jsonl:1: scorer numeric: .*needs a number" "$TMP/bad.err"
check "score: its old verdict is kept" grep -q '"verdict":"wrong"' "$TMP/bad/samples.jsonl"
finish
