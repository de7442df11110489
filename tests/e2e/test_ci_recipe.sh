#!/bin/sh
# The CI recipe as committed: .github/workflows/evalh-gate.yml parses, names a baseline folder
# that exists and is a complete run, and its commands work here: the candidate run with the
# workflow's RUN_ARGS against the committed baseline passes the gate (the baseline reproduces with
# this build), the Markdown table is the one the comment carries, and a candidate with other
# sampling options is refused as not comparable (exit 2).
. "$(dirname "$0")/lib.sh"
WF="$ROOT/.github/workflows/evalh-gate.yml"
PY=""
for py in python3 /usr/bin/python3; do
	"$py" -c "import yaml" 2>/dev/null && { PY=$py; break; }
done
if [ -z "$PY" ]; then
	echo "skip - PyYAML missing (Debian package python3-yaml): the workflow was not read"
	finish
	exit
fi
"$PY" - "$WF" >"$TMP/wf.env" <<'PY'
import sys, yaml
wf = yaml.safe_load(open(sys.argv[1]))
env = wf["env"]
steps = wf["jobs"]["gate"]["steps"]
runs = "\n".join(s.get("run", "") for s in steps)
assert "evalh gate --baseline \"$BASELINE\" --candidate results/candidate" in runs, runs
assert "make deps" in runs and "make -j" in runs, runs
assert any(s.get("uses", "").startswith("actions/checkout@") for s in steps)
assert wf[True]["pull_request"]["paths"], "no trigger paths"
print("BASELINE='%s'" % env["BASELINE"])
print("RUN_ARGS='%s'" % env["RUN_ARGS"])
PY
check "workflow parses and runs make deps, make, evalh gate on \$BASELINE" [ $? -eq 0 ]
. "$TMP/wf.env"
B="$ROOT/$BASELINE"
check "baseline $BASELINE is a complete run folder" sh -c \
	"[ -s '$B/run.json' ] && [ -s '$B/samples.jsonl' ] && [ -s '$B/summary.json' ] && [ -s '$ROOT/results/baselines/README.md' ]"
check "baseline README gives the command that made it" grep -q -- "$RUN_ARGS" "$ROOT/results/baselines/README.md"

PACK="$ROOT/build/packs/arith.tar.gz"
if [ ! -f "$PACK" ]; then
	echo "skip - $PACK not built: the recipe was not run"
	finish
	exit
fi
# shellcheck disable=SC2086  # RUN_ARGS is a list of options, split as the workflow splits it
"$EVALH" run --model tiny-arith $RUN_ARGS --out "$TMP/candidate" --quiet
check "candidate run with the workflow's options exits 0" [ $? -eq 0 ]
"$EVALH" gate --baseline "$B" --candidate "$TMP/candidate" >"$TMP/gate.md" 2>"$TMP/gate.err"
code=$?
check "gate against the committed baseline passes (exit $code)" [ $code -eq 0 ]
check "the table the comment carries" grep -q "^| task | items | baseline | candidate | delta (95% CI), points | p-value | test | verdict |" "$TMP/gate.md"
check "the table names the task and its items" grep -q "^| arith | 50 |" "$TMP/gate.md"
"$EVALH" report "$B" "$TMP/candidate" -o "$TMP/report" 2>/dev/null
check "report over baseline and candidate exits 0" [ $? -eq 0 ]

# Sampling differs from the baseline's: refused rather than compared.
mkdir -p "$TMP/other"
"$PY" - "$TMP/candidate" "$TMP/other" <<'PY'
import json, shutil, sys
src, dst = sys.argv[1:3]
shutil.copy(src + "/samples.jsonl", dst)
shutil.copy(src + "/summary.json", dst)
r = json.load(open(src + "/run.json"))
r["options"]["temperature"] = 0.6
json.dump(r, open(dst + "/run.json", "w"))
PY
"$EVALH" gate --baseline "$B" --candidate "$TMP/other" >/dev/null 2>"$TMP/other.err"
check "candidate with other sampling: exit 2 naming the option" sh -c "[ $? -eq 2 ] && grep -q temperature '$TMP/other.err'"
finish
