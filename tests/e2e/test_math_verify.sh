#!/bin/sh
# evalh judge --scorer math over Math-Verify's own test tables (tests/fixtures/math_verify/, MIT, see its
# README): every case must agree with Math-Verify's expectation unless it is listed, with the reason, in
# differences.jsonl (config / theirs_wrong) or known_bugs.jsonl (ours_wrong: reported, not failed, until
# fixed). A listed case that now agrees fails too, so the lists stay honest.
. "$(dirname "$0")/lib.sh"

F="$ROOT/tests/fixtures/math_verify"
"$EVALH" judge --scorer math <"$F/cases.jsonl" >"$TMP/verdicts.jsonl" 2>"$TMP/judge.err"
check "judge: exit 0 over all cases (no line in error)" [ $? -eq 0 ]
check "judge: one verdict per case" [ "$(wc -l <"$TMP/verdicts.jsonl")" -eq "$(wc -l <"$F/cases.jsonl")" ]

python3 - "$F" "$TMP/verdicts.jsonl" >"$TMP/cmp.out" <<'PY'
import json, sys
f, verdicts = sys.argv[1], sys.argv[2]
load = lambda p: [json.loads(l) for l in open(p, encoding="utf-8") if l.strip()]
cases = load(f + "/cases.jsonl")
outs = load(verdicts)
listed = {}
for name in ("differences.jsonl", "known_bugs.jsonl"):
    for d in load(f + "/" + name):
        want = "ours_wrong" if name == "known_bugs.jsonl" else ("config", "theirs_wrong")
        if d["class"] not in want:
            print(f"not ok - {name}: {d['id']} has class {d['class']!r} (this file takes {want})")
        if d["id"] in listed:
            print(f"not ok - {d['id']} listed twice")
        listed[d["id"]] = d
ids = {c["id"] for c in cases}
for i in listed:
    if i not in ids:
        print(f"not ok - {i} is listed but is no case")
agree = bugs = config = theirs = 0
for c, o in zip(cases, outs):
    if o.get("id") != c["id"] or o.get("error"):
        print(f"not ok - {c['id']}: no verdict ({o.get('error')})")
        continue
    ours = 1 if o["correct"] else 0
    d = listed.get(c["id"])
    if ours == c["expected"]:
        agree += 1
        if d:
            print(f"not ok - {c['id']} now agrees with Math-Verify ({o['verdict']}): remove it from the {d['class']} list")
        continue
    if not d:
        print(f"not ok - {c['id']}: ours {o['verdict']} (extracted {o.get('extracted')!r}, rule {o.get('rule')}), "
              f"Math-Verify expects {c['expected']}; gold {c['gold'][:80]!r}")
    elif d["class"] == "ours_wrong":
        bugs += 1
        print(f"known bug - {c['id']}: ours {o['verdict']}, expected {c['expected']}: {d['why'][:160]}")
    elif d["class"] == "config":
        config += 1
    else:
        theirs += 1
print(f"{agree} of {len(cases)} agree with Math-Verify's expectations; {bugs} known bugs; {config} config; {theirs} theirs")
PY
cat "$TMP/cmp.out"
check "math: every disagreement with Math-Verify is listed with its class, no listed case agrees" \
	sh -c '! grep -q "^not ok" "$1"' _ "$TMP/cmp.out"
check "math: the agreement line was printed" grep -q "agree with Math-Verify's expectations" "$TMP/cmp.out"
finish
