#!/bin/sh
# Scale-out: `evalh run --shard I/3` three times against the fake OpenAI server, `evalh merge` of
# the three folders, compared with one unsharded run of the same experiment: the same samples
# (each once), the same summary (all but the wall-clock figures), the same item selection, a gate
# between them passing. Two tasks: arith limited to 40 items (a --limit subset), and a small pack
# made here whose answers are right, wrong or missing, so that verdicts differ between items.
. "$(dirname "$0")/lib.sh"
PACK="$ROOT/build/packs/arith.tar.gz"
[ -f "$PACK" ] || { echo "skip - $PACK not built (make packs)"; finish; exit; }
start_server
M="openai:good@$BASE"

# Until cmd_run.c parses --shard, say so and stop (getopt: "unrecognized option").
"$EVALH" run --model "$M" --tasks "$PACK" --limit 1 --shard 1/3 --dry-run >/dev/null 2>"$TMP/probe.err"
if grep -q "unrecognized option" "$TMP/probe.err"; then
	echo "skip - evalh run does not accept --shard yet: $(head -n1 "$TMP/probe.err")"
	finish
	exit
fi

# A pack of 30: sums with the right gold, sums with a wrong gold, questions the server cannot answer.
mkdir -p "$TMP/mix"
cat >"$TMP/mix/pack.json" <<'EOF'
{"name": "mix", "version": "1", "domain": "math", "scorer": "math", "prompt_template": "{question}"}
EOF
python3 - "$TMP/mix/items.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(30):
        a, b = 17 * i + 3, 5 * i + 1
        if i % 3 == 2:
            q, gold = "Name prime number %d." % i, "2"
        else:
            q, gold = "What is %d + %d?" % (a, b), str(a + b + (i % 3))
        f.write(json.dumps({"id": "mix-%02d" % i, "question": q, "answer": gold}) + "\n")
PY
"$EVALH" pack build "$TMP/mix" -o "$TMP/mix.tar.gz" >/dev/null
check "mixed pack built" [ -s "$TMP/mix.tar.gz" ]

run() { # run OUT [--shard I/N]
	out=$1; shift
	"$EVALH" run --model "$M" --tasks "$PACK,$TMP/mix.tar.gz" --limit 40 --samples 2 --concurrency 4 --price 0.55/2.19 \
		--out "$TMP/$out" --quiet "$@"
}
run whole
check "unsharded run exits 0" [ $? -eq 0 ]
for i in 1 2 3; do
	run s$i --shard $i/3
	check "shard $i/3 exits 0" [ $? -eq 0 ]
done
check "each shard ran part of the items, together all, none twice" python3 - "$TMP" <<'PY'
import json, sys
t = sys.argv[1]
lines = lambda d: [json.loads(l) for l in open("%s/%s/samples.jsonl" % (t, d))]
whole = {(s["task"], s["item_id"], s["sample"]) for s in lines("whole")}
parts = [[(s["task"], s["item_id"], s["sample"]) for s in lines("s%d" % i)] for i in (1, 2, 3)]
allp = [k for p in parts for k in p]
ok = all(0 < len(p) < len(whole) for p in parts) and len(allp) == len(set(allp)) == len(whole) and set(allp) == whole
for i in (1, 2, 3):
    sh = json.load(open("%s/s%d/run.json" % (t, i)))["shard"]
    ok = ok and sh == {"index": i, "count": 3}
print("  shard sizes:", [len(p) for p in parts], "of", len(whole))
sys.exit(0 if ok else 1)
PY

"$EVALH" merge "$TMP/s3" "$TMP/s1" "$TMP/s2" -o "$TMP/merged" >"$TMP/merge.out" 2>"$TMP/merge.err"
check "merge exits 0" [ $? -eq 0 ]
check "merged samples equal the unsharded run's (all but timings)" python3 - "$TMP/whole" "$TMP/merged" <<'PY'
import json, sys
def load(d):
    out = {}
    for l in open(d + "/samples.jsonl"):
        s = json.loads(l)
        for k in ("ttft_s", "total_s"):
            s.pop(k)
        out[(s["task"], s["item_id"], s["sample"])] = s
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
n = sum(1 for _ in open(sys.argv[2] + "/samples.jsonl"))
verdicts = sorted({s["verdict"] for s in a.values()})
print("  %d samples, verdicts %s" % (len(a), verdicts))
sys.exit(0 if a == b and n == len(b) and len(verdicts) >= 3 else 1)
PY
check "merged summary equals the unsharded run's (all but wall-clock figures)" python3 - "$TMP/whole" "$TMP/merged" <<'PY'
import json, sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("latency", "output_tokens_per_s", "run_id")}
    return x
a, b = (strip(json.load(open(d + "/summary.json"))) for d in sys.argv[1:3])
o = a["overall"]
print("  overall: %d items, accuracy %.3f, no_answer %d, cost %.6f" % (o["items"], o["accuracy"], o["no_answer"], o["cost_usd"]))
sys.exit(0 if a == b and a["tasks"].keys() == {"arith", "mix"} else 1)
PY
check "merged run.json: same experiment, same selection, no shard" python3 - "$TMP/whole" "$TMP/merged" <<'PY'
import json, sys
a, b = (json.load(open(d + "/run.json")) for d in sys.argv[1:3])
ok = "shard" not in b and len(b["merged_from"]) == 3 and b["model"] == a["model"]
for ta, tb in zip(a["tasks"], b["tasks"]):
    ok = ok and ta["digest"] == tb["digest"] and sorted(ta.get("item_ids", [])) == tb.get("item_ids", [])
ok = ok and len(b["tasks"][0]["item_ids"]) == 40 and "item_ids" not in b["tasks"][1]
skip = ("concurrency", "max_concurrency")
ok = ok and {k: v for k, v in a["options"].items() if k not in skip} == {k: v for k, v in b["options"].items() if k not in skip}
sys.exit(0 if ok else 1)
PY
"$EVALH" gate --baseline "$TMP/whole" --candidate "$TMP/merged" >"$TMP/gate.md" 2>&1
check "gate unsharded -> merged: pass, exit 0" [ $? -eq 0 ]

# Refusals: a shard missing, a shard of another split, a bad spec.
"$EVALH" merge "$TMP/s1" "$TMP/s3" -o "$TMP/m2" >/dev/null 2>"$TMP/m2.err"
check "missing shard: exit 2 naming it" sh -c "[ $? -eq 2 ] && grep -q 'shard 2/3 is missing' '$TMP/m2.err'"
check "nothing written for a refused merge" [ ! -e "$TMP/m2/samples.jsonl" ]
run h1 --shard 1/2
"$EVALH" merge "$TMP/h1" "$TMP/s2" "$TMP/s3" -o "$TMP/m3" >/dev/null 2>"$TMP/m3.err"
check "shards of two splits: exit 2" sh -c "[ $? -eq 2 ] && grep -q 'one split of N only' '$TMP/m3.err'"
run bad --shard 4/3 2>"$TMP/bad.err"
check "--shard 4/3: exit 2 naming the option" sh -c "[ $? -eq 2 ] && grep -q -- '--shard' '$TMP/bad.err'"
finish
