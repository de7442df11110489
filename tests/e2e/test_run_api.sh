#!/bin/sh
# End to end against a real local HTTP server: accuracy, errors never scored, resume after
# kill -9 loses and redoes nothing, API keys appear nowhere.
. "$(dirname "$0")/lib.sh"
start_server
PACK="$ROOT/build/packs/arith.tar.gz"

# 1. A server that answers correctly: 100% on 30 items, streamed, usage from the server.
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 30 --concurrency 8 --out "$TMP/good" --quiet
check "good run exits 0" [ $? -eq 0 ]
check "30 samples written" [ "$(wc -l <"$TMP/good/samples.jsonl")" -eq 30 ]
check "accuracy 1.0" [ "$(jget "$TMP/good/summary.json" "j['tasks']['arith']['accuracy']")" = "1" ]
check "usage tokens from the server" [ "$(jget "$TMP/good/summary.json" "j['overall']['tokens']['estimated']")" = "False" ]
check "run.json names model and pack digest" \
	[ "$(jget "$TMP/good/run.json" "j['model']['name'] + ' ' + str(len(j['tasks'][0]['digest']) > 0)")" = "openai:good@$BASE True" ]

# 2. Wrong answers are wrong, not errors.
"$EVALH" run --model "openai:scenario:wrong@$BASE" --tasks "$PACK" --limit 10 --out "$TMP/wrong" --quiet
check "wrong run exits 0" [ $? -eq 0 ]
check "accuracy 0 and 10 scored" [ "$(jget "$TMP/wrong/summary.json" "(j['overall']['accuracy'], j['overall']['scored'])")" = "(0, 10)" ]

# 3. A server failing every request: errors recorded, never scored; exit 3; resume retries them.
"$EVALH" run --model "openai:scenario:500x10@$BASE" --tasks "$PACK" --limit 10 --concurrency 1 \
	--max-attempts 1 --out "$TMP/err" --quiet 2>"$TMP/err.stderr"
check "failing run exits 3" [ $? -eq 3 ]
check "errors counted, none scored" [ "$(jget "$TMP/err/summary.json" "(j['overall']['errors'], j['overall']['scored'])")" = "(10, 0)" ]
check "error names the HTTP status" grep -q '500' "$TMP/err/samples.jsonl"
"$EVALH" run --model "openai:scenario:500x10@$BASE" --tasks "$PACK" --limit 10 --concurrency 1 \
	--max-attempts 1 --out "$TMP/err" --resume --quiet
check "resume after errors exits 0" [ $? -eq 0 ]
check "resume scored all 10 correctly" [ "$(jget "$TMP/err/summary.json" "(j['overall']['errors'], j['overall']['scored'], j['overall']['accuracy'])")" = "(0, 10, 1)" ]

# 4. Retries: 429 twice with Retry-After then success, within the default attempts.
"$EVALH" run --model "openai:scenario:429x2,ra=1@$BASE" --tasks "$PACK" --limit 1 --out "$TMP/r429" --quiet
check "429 storm retried to success" [ "$(jget "$TMP/r429/summary.json" "(j['overall']['errors'], j['overall']['correct'])")" = "(0, 1)" ]
check "attempts recorded" [ "$(python3 -c "import json;print(json.loads(open('$TMP/r429/samples.jsonl').readline())['attempts'])")" = "3" ]

# 5. kill -9 in the middle, then --resume: no finished sample lost or redone; summary as uninterrupted.
"$EVALH" run --model "openai:scenario:slow=0.15@$BASE" --tasks "$PACK" --limit 40 --concurrency 2 \
	--out "$TMP/kill" --quiet &
PID=$!
# Kill once a few samples are on disk (a slow machine may take a while to start), well before 40.
i=0
while [ "$(cat "$TMP/kill/samples.jsonl" 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $PID
wait $PID 2>/dev/null
before=$(grep -c '' "$TMP/kill/samples.jsonl")
check "some but not all samples written before the kill ($before)" sh -c "[ $before -gt 0 ] && [ $before -lt 40 ]"
cp "$TMP/kill/samples.jsonl" "$TMP/before.jsonl"
"$EVALH" run --model "openai:scenario:slow=0.15@$BASE" --tasks "$PACK" --limit 40 --concurrency 2 \
	--out "$TMP/kill" --resume --quiet
check "resume exits 0" [ $? -eq 0 ]
check "lines written before the kill are kept byte for byte" \
	sh -c "head -c \$(wc -c <'$TMP/before.jsonl') '$TMP/kill/samples.jsonl' | cmp -s - '$TMP/before.jsonl' || \
	       python3 - '$TMP/before.jsonl' '$TMP/kill/samples.jsonl' <<'PY'
import sys
b = open(sys.argv[1]).read().split('\n')
a = open(sys.argv[2]).read().split('\n')
full = [l for l in b if l.endswith('}')]
sys.exit(0 if a[:len(full)] == full else 1)
PY"
check "each of the 40 samples exactly once" python3 - "$TMP/kill/samples.jsonl" <<'PY'
import json, sys
keys = [(d['task'], d['item_id'], d['sample']) for d in map(json.loads, open(sys.argv[1]))]
sys.exit(0 if len(keys) == 40 and len(set(keys)) == 40 else 1)
PY
"$EVALH" run --model "openai:scenario:slow=0.15@$BASE" --tasks "$PACK" --limit 40 --concurrency 8 \
	--out "$TMP/nokill" --quiet
check "summary after kill+resume equals an uninterrupted run's" python3 - "$TMP/kill/summary.json" "$TMP/nokill/summary.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ['items', 'scored', 'errors', 'correct', 'accuracy', 'ci95', 'pass_at_k', 'cons_at_k', 'tokens', 'cost_usd']
sys.exit(0 if all(a['overall'][k] == b['overall'][k] for k in keys) else 1)
PY

# 6. The API key never reaches any file or message, even when the server echoes it (401).
OPENAI_API_KEY=sk-e2e-SECRET-4242 "$EVALH" run --model "openai:scenario:401@$BASE" --tasks "$PACK" --limit 2 \
	--out "$TMP/key" --quiet 2>"$TMP/key.stderr"
check "401 run exits 3" [ $? -eq 3 ]
check "key was sent to the server" grep -q 'sk-e2e-SECRET-4242' "$TMP/server.log"
check "key in no result file or message" sh -c "! grep -rq 'sk-e2e-SECRET-4242' '$TMP/key' '$TMP/key.stderr'"

# 7. Bad input: unknown model and task give clear errors and exit 2.
"$EVALH" run --model nosuch --tasks "$PACK" --out "$TMP/x" 2>"$TMP/e1"
check "unknown model exits 2 naming it" sh -c "[ $? -eq 2 ] && grep -q 'nosuch' '$TMP/e1'"
"$EVALH" run --model "openai:good@$BASE" --tasks nosuchpack --out "$TMP/x" 2>"$TMP/e2"
check "unknown task exits 2 naming it" sh -c "[ $? -eq 2 ] && grep -q 'nosuchpack' '$TMP/e2'"
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 1 --out "$TMP/good" --quiet 2>"$TMP/e3"
check "refuses to overwrite a run without --resume" sh -c "[ $? -eq 2 ] && grep -q -- '--resume' '$TMP/e3'"
finish
