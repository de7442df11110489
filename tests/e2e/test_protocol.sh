#!/bin/sh
# Reasoning-model protocol and run controls against the local fake server: sample states and
# truncation rates, fail-fast statuses, budgets, dry run and prices, presets seen in the request
# bodies, the same seeded subset for every model, adaptive concurrency under an in-flight limit.
. "$(dirname "$0")/lib.sh"
start_server
PACK="$ROOT/build/packs/arith.tar.gz"
# summ DIR EXPR: a value of summary.json's overall block.
summ() { jget "$1/summary.json" "(j['overall']$2)"; }

# 1. finish_reason "length": truncated, still scored from the answer it holds, and flagged.
"$EVALH" run --model "openai:scenario:lengthx3@$BASE" --tasks "$PACK" --limit 10 --concurrency 1 --out "$TMP/len" --quiet
check "truncated run exits 0" [ $? -eq 0 ]
check "3 of 10 truncated, rate 0.3" [ "$(summ "$TMP/len" "['states']['truncated'], j['overall']['truncation_rate']")" = "(3, 0.3)" ]
check "truncated samples are scored (accuracy 1)" [ "$(summ "$TMP/len" "['accuracy']")" = "1" ]
check "each sample records its state" [ "$(grep -c '"state":"truncated"' "$TMP/len/samples.jsonl")" -eq 3 ]
check "finish reason kept" [ "$(grep -c '"finish_reason":"length"' "$TMP/len/samples.jsonl")" -eq 3 ]
"$EVALH" run --model "openai:scenario:filterx2@$BASE" --tasks "$PACK" --limit 4 --concurrency 1 --out "$TMP/filt" --quiet
check "content_filter is refused" [ "$(summ "$TMP/filt" "['states']['refused']")" = "2" ]

# 2. Errors count against accuracy over all samples, not over completed ones.
"$EVALH" run --model "openai:scenario:500x4@$BASE" --tasks "$PACK" --limit 10 --concurrency 1 --max-attempts 1 \
	--out "$TMP/err" --quiet
check "errors exit 3" [ $? -eq 3 ]
check "error rate 0.4, accuracy_all 0.6, accuracy_completed 1" \
	[ "$(summ "$TMP/err" "['error_rate'], j['overall']['accuracy_all'], j['overall']['accuracy_completed']")" = "(0.4, 0.6, 1)" ]
"$EVALH" run --model "openai:scenario:stall=3x1@$BASE" --tasks "$PACK" --limit 1 --max-attempts 1 --timeout 0.5 \
	--out "$TMP/tmo" --quiet
check "a timed-out sample is in state timeout" [ "$(summ "$TMP/tmo" "['states']['timeout']")" = "1" ]

# 3. 402 after 5 answers: the run stops at once with the server's words, keeps the 5, resume ends it.
t0=$(date +%s)
"$EVALH" run --model "openai:scenario:402,after=5,until=6@$BASE" --tasks "$PACK" --limit 20 --concurrency 1 \
	--out "$TMP/402" --quiet 2>"$TMP/402.err"
rc=$?
t1=$(date +%s)
check "402 stops with exit 3" [ $rc -eq 3 ]
check "within seconds" [ $((t1 - t0)) -le 5 ]
check "the error names the status and the message" sh -c "grep -q '402' '$TMP/402.err' && grep -q 'Insufficient Balance' '$TMP/402.err'"
check "5 finished samples kept" [ "$(grep -c '"error":null' "$TMP/402/samples.jsonl")" -eq 5 ]
check "402 is not retried" [ "$(grep -c '"attempts":1' "$TMP/402/samples.jsonl")" -eq 6 ]
check "run.json says why it stopped" [ "$(jget "$TMP/402/run.json" "j['stopped']['reason']")" = "fatal_status" ]
"$EVALH" run --model "openai:scenario:402,after=5,until=6@$BASE" --tasks "$PACK" --limit 20 --concurrency 1 \
	--out "$TMP/402" --resume --quiet
check "resume completes it" [ "$(summ "$TMP/402" "['scored'], j['overall']['errors']")" = "(20, 0)" ]
for code in 400 401 403 404 422; do
	"$EVALH" run --model "openai:scenario:$code@$BASE" --tasks "$PACK" --limit 30 --concurrency 2 --out "$TMP/f$code" \
		--quiet 2>"$TMP/f$code.err"
	rc=$?
	n=$(grep -c '' "$TMP/f$code/samples.jsonl")
	check "HTTP $code fails fast (exit $rc, $n of 30 tried)" sh -c "[ $rc -eq 3 ] && [ $n -le 2 ] && grep -q 'HTTP $code' '$TMP/f$code.err'"
done

# 4. Budgets: stop cleanly with exit 3, resume to a summary equal to an uninterrupted run's.
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 12 --concurrency 1 --price 1000/1000 \
	--max-cost 0.2 --out "$TMP/cost" --quiet 2>"$TMP/cost.err"
check "--max-cost stops with exit 3" [ $? -eq 3 ]
n=$(grep -c '' "$TMP/cost/samples.jsonl")
check "some but not all samples ($n)" sh -c "[ $n -gt 0 ] && [ $n -lt 12 ]"
check "the message names the budget" grep -q -- '--max-cost' "$TMP/cost.err"
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 12 --concurrency 1 --price 1000/1000 \
	--out "$TMP/cost" --resume --quiet
check "resume without the budget exits 0" [ $? -eq 0 ]
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 12 --concurrency 3 --price 1000/1000 \
	--out "$TMP/costfull" --quiet
check "summary equal to an uninterrupted run's" python3 - "$TMP/cost/summary.json" "$TMP/costfull/summary.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ['items', 'scored', 'errors', 'correct', 'accuracy', 'ci95', 'tokens', 'cost_usd', 'states', 'accuracy_all']
sys.exit(0 if all(a['overall'][k] == b['overall'][k] for k in keys) and a['overall']['cost_usd'] > 0 else 1)
PY
"$EVALH" run --model "openai:scenario:slow=0.3@$BASE" --tasks "$PACK" --limit 20 --concurrency 1 --max-time 1s \
	--out "$TMP/time" --quiet 2>"$TMP/time.err"
check "--max-time stops with exit 3" [ $? -eq 3 ]
n=$(grep -c '' "$TMP/time/samples.jsonl")
check "some but not all samples ($n)" sh -c "[ $n -gt 0 ] && [ $n -lt 20 ] && grep -q -- '--max-time' '$TMP/time.err'"
"$EVALH" run --model "openai:scenario:slow=0.3@$BASE" --tasks "$PACK" --limit 20 --concurrency 4 --out "$TMP/time" --resume --quiet
check "resume finishes the timed run" [ "$(summ "$TMP/time" "['scored']")" = "20" ]

# 5. --dry-run: the plan, estimated tokens marked so, cost from --price; nothing sent, nothing written.
lines=$(grep -c '' "$TMP/server.log")
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 10 --samples 3 --max-tokens 100 --price 2/10 \
	--dry-run --out "$TMP/dry" >"$TMP/dry.out"
check "dry run exits 0" [ $? -eq 0 ]
check "plan: 10 items x 3 samples = 30 requests" grep -q '| arith | 10 | 3 | 30 |' "$TMP/dry.out"
check "tokens marked estimated" grep -q 'estimated' "$TMP/dry.out"
check "output cost bound 30 x 100 x 10 / 1e6 = 0.03" grep -q 'output at most 0.0300 USD' "$TMP/dry.out"
check "nothing sent, nothing written" sh -c "[ $(grep -c '' "$TMP/server.log") -eq $lines ] && [ ! -e '$TMP/dry' ]"

# 6. Presets: the values in the request bodies, run.json records them and the overrides.
"$EVALH" run --model "openai:preset-r1@$BASE" --tasks "$PACK" --limit 3 --samples 2 --preset r1 --out "$TMP/r1" --quiet
check "r1 run exits 0" [ $? -eq 0 ]
check "r1 values in every request body" python3 - "$TMP/server.log" <<'PY'
import json, sys
bodies = [r['body'] for r in map(json.loads, open(sys.argv[1])) if r['model'] == 'preset-r1']
ok = len(bodies) == 6 and all(b['temperature'] == 0.6 and b['top_p'] == 0.95 and b['max_tokens'] == 32768
	and [m['role'] for m in b['messages']] == ['user']
	and b['messages'][0]['content'].endswith('\nPlease reason step by step, and put your final answer within \\boxed{}.')
	for b in bodies)
sys.exit(0 if ok else 1)
PY
check "run.json: preset, values set, samples overridden" \
	[ "$(jget "$TMP/r1/run.json" "(j['preset']['name'], j['preset']['set']['temperature'], j['preset']['overridden']['samples'])")" = "('r1', 0.6, 2)" ]
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --preset r1 --dry-run >"$TMP/r1dry.out"
check "r1 takes 4 samples for a 500-item pack" grep -q '| arith | 500 | 4 | 2000 |' "$TMP/r1dry.out"
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 20 --preset r1 --dry-run >"$TMP/r1dry2.out"
check "k by pack size, not by --limit" grep -q '| arith | 20 | 4 | 80 |' "$TMP/r1dry2.out"
"$EVALH" run --model "openai:preset-greedy@$BASE" --tasks "$PACK" --limit 2 --preset greedy --out "$TMP/greedy" --quiet
check "greedy sends temperature 0, one sample" python3 - "$TMP/server.log" <<'PY'
import json, sys
bodies = [r['body'] for r in map(json.loads, open(sys.argv[1])) if r['model'] == 'preset-greedy']
sys.exit(0 if len(bodies) == 2 and all(b['temperature'] == 0 for b in bodies) else 1)
PY
"$EVALH" list presets >"$TMP/presets.out"
check "list presets shows r1 and greedy with values" sh -c "grep -q '^r1 .*0.6.*0.95.*32768' '$TMP/presets.out' && grep -q '^greedy' '$TMP/presets.out'"
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --preset nosuch --out "$TMP/x" 2>"$TMP/np.err"
check "unknown preset exits 2 naming it" sh -c "[ $? -eq 2 ] && grep -q nosuch '$TMP/np.err'"

# 7. The same seeded subset for every model; another seed, another subset; strata kept.
"$EVALH" run --model "openai:modelA@$BASE" --tasks "$PACK" --limit 10 --out "$TMP/subA" --quiet
"$EVALH" run --model "openai:scenario:wrong@$BASE" --tasks "$PACK" --limit 10 --concurrency 1 --out "$TMP/subB" --quiet
"$EVALH" run --model "openai:modelA@$BASE" --tasks "$PACK" --limit 10 --subsample-seed 7 --out "$TMP/subC" --quiet
ids() { jget "$1/run.json" "sorted(j['tasks'][0]['item_ids'])"; }
check "two models, same ids" [ "$(ids "$TMP/subA")" = "$(ids "$TMP/subB")" ]
check "the ids are the ones run" [ "$(python3 -c "import json;print(sorted(json.loads(l)['item_id'] for l in open('$TMP/subA/samples.jsonl')))")" = "$(ids "$TMP/subA")" ]
check "another seed, other ids" [ "$(ids "$TMP/subA")" != "$(ids "$TMP/subC")" ]
check "not simply the first 10" [ "$(ids "$TMP/subA")" != "$(python3 -c "print(['arith-%04d' % i for i in range(1, 11)])")" ]
mkdir -p "$TMP/strat"
python3 - "$TMP/strat" <<'PY'
import json, sys
d = sys.argv[1]
json.dump({"name": "strat", "version": "1", "domain": "math", "scorer": "math"}, open(d + "/pack.json", "w"))
with open(d + "/items.jsonl", "w") as f:
    for i in range(40):
        subj = "algebra" if i < 30 else "geometry"
        f.write(json.dumps({"id": "s%02d" % i, "question": "What is %d + 1?" % i, "answer": str(i + 1),
                            "metadata": {"subject": subj}}) + "\n")
PY
"$EVALH" pack build "$TMP/strat" -o "$TMP/strat.tar.gz" >/dev/null
"$EVALH" run --model "openai:good@$BASE" --tasks "$TMP/strat.tar.gz" --limit 8 --out "$TMP/st" --quiet
check "stratified: 6 of 30 algebra, 2 of 10 geometry" \
	[ "$(jget "$TMP/st/run.json" "sum(1 for i in j['tasks'][0]['item_ids'] if int(i[1:]) >= 30)")" = "2" ]

# 8. Adaptive concurrency: the server answers 429 above 2 in flight; every item is scored and the
#    share of 429s falls as the run goes on.
: >"$TMP/server.log"
"$EVALH" run --model "openai:scenario:inflight=2,slow=0.1@$BASE" --tasks "$PACK" --limit 150 --concurrency 8 \
	--max-concurrency 8 --max-attempts 12 --out "$TMP/aimd" 2>"$TMP/aimd.err" >/dev/null
check "AIMD run exits 0" [ $? -eq 0 ]
check "every item scored" [ "$(summ "$TMP/aimd" "['scored'], j['overall']['errors']")" = "(150, 0)" ]
check "share of 429s falls" python3 - "$TMP/server.log" <<'PY'
import json, sys
r = [x['in_flight'] > 2 for x in map(json.loads, open(sys.argv[1]))]
h = len(r) // 2
first, second = sum(r[:h]) / h, sum(r[h:]) / (len(r) - h)
print("429 share: first half %.2f, second half %.2f, %d requests" % (first, second, len(r)))
sys.exit(0 if first > second and first > 0 else 1)
PY
check "progress shows the concurrency" grep -q 'conc [0-9]' "$TMP/aimd.err"
finish
