#!/bin/sh
# evalh diff on runs whose flipped items are known; the Anthropic Messages provider (streaming and
# not, with thinking, stop reasons, stream errors, fail-fast statuses); OpenAI reasoning-model
# parameters. All against the local fake server.
. "$(dirname "$0")/lib.sh"
start_server
PACK="$ROOT/build/packs/arith.tar.gz"
summ() { jget "$1/summary.json" "(j['overall']$2)"; }

# 1. diff: B answers its first 3 requests wrongly (concurrency 1: the first 3 items in run order).
"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 8 --concurrency 1 --out "$TMP/A" --quiet
"$EVALH" run --model "openai:scenario:wrongx3@$BASE" --tasks "$PACK" --limit 8 --concurrency 1 --out "$TMP/B" --quiet
"$EVALH" diff "$TMP/A" "$TMP/B" >"$TMP/diff.md"
check "diff exits 0" [ $? -eq 0 ]
first3=$(python3 -c "import json;print(' '.join(json.loads(l)['item_id'] for l in list(open('$TMP/B/samples.jsonl'))[:3]))")
check "3 regressions, 0 improvements" grep -q 'arith: 3 regressions, 0 improvements of 8 items' "$TMP/diff.md"
check "the flipped items are the 3 answered wrongly" python3 - "$TMP/diff.md" $first3 <<'PY'
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith('| regression |')]
ids = sorted(r.split('|')[2].strip().replace('\\', '') for r in rows)
sys.exit(0 if ids == sorted(sys.argv[2:]) else 1)
PY
check "rows carry both answers, gold and links" python3 - "$TMP/diff.md" "$TMP/B/samples.jsonl" <<'PY'
import json, sys
rows = [l.split('|') for l in open(sys.argv[1]) if l.startswith('| regression |')]
b = {d['item_id']: d for d in map(json.loads, open(sys.argv[2]))}
ok = True
for r in rows:
    item = r[2].strip().replace('\\', '')
    gold, a_ans, b_ans = r[3].strip(), r[4].split('(')[0].strip(), r[5].split('(')[0].strip()
    ok &= gold == b[item]['gold'] == a_ans and b_ans == b[item]['extracted'] and b_ans != gold
    ok &= 'A/samples.jsonl#L' in r[6] and 'B/samples.jsonl#L' in r[7]
sys.exit(0 if ok and len(rows) == 3 else 1)
PY
"$EVALH" diff "$TMP/B" "$TMP/A" >"$TMP/diff2.md"
check "reversed: 3 improvements" grep -q 'arith: 0 regressions, 3 improvements' "$TMP/diff2.md"
"$EVALH" diff "$TMP/A" "$TMP/nosuch" 2>"$TMP/diff.err"
check "missing run exits 2 naming it" sh -c "[ $? -eq 2 ] && grep -q nosuch '$TMP/diff.err'"

# 2. Anthropic, streamed, with thinking: reasoning from thinking blocks, answer from text blocks.
export ANTHROPIC_API_KEY=sk-ant-e2e-SECRET-77
AB="http://127.0.0.1:$PORT/v1"
"$EVALH" run --model "anthropic:claude-fake@$AB" --tasks "$PACK" --limit 5 --reasoning-budget 2048 --max-tokens 4096 \
	--out "$TMP/an" --quiet
check "anthropic streamed run exits 0" [ $? -eq 0 ]
check "all correct" [ "$(summ "$TMP/an" "['accuracy'], j['overall']['scored']")" = "(1, 5)" ]
check "thinking kept as reasoning" [ "$(python3 -c "import json;print(json.loads(open('$TMP/an/samples.jsonl').readline())['reasoning'])")" = "Let me think. I add the numbers carefully." ]
check "usage from message_start/message_delta (cache reads counted in)" python3 - "$TMP/an/samples.jsonl" <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if all(x['tokens_cached'] == 7 and x['tokens_out'] == len(x['response']) + len(x['reasoning'])
	and x['finish_reason'] == 'end_turn' and x['state'] == 'ok' for x in d) else 1)
PY
check "request: path, headers, thinking, no temperature" python3 - "$TMP/server.log" <<'PY'
import json, sys
r = [x for x in map(json.loads, open(sys.argv[1])) if x['model'] == 'claude-fake']
ok = len(r) == 5 and all(x['path'] == '/v1/messages' and x['headers'].get('anthropic-version') == '2023-06-01'
	and x['headers'].get('x-api-key') == 'sk-ant-e2e-SECRET-77' and x['body']['stream'] is True
	and x['body']['thinking'] == {'type': 'enabled', 'budget_tokens': 2048} and x['body']['max_tokens'] == 4096
	and 'temperature' not in x['body'] for x in r)
sys.exit(0 if ok else 1)
PY
check "key in no result file" sh -c "! grep -rq 'sk-ant-e2e-SECRET-77' '$TMP/an'"

# 3. Not streamed; stop reasons mapped to states; a stream error event is retried.
"$EVALH" run --model "anthropic:scenario:lengthx2@$AB" --tasks "$PACK" --limit 4 --concurrency 1 --no-stream \
	--out "$TMP/an2" --quiet
check "non-streamed: max_tokens counted as truncated" [ "$(summ "$TMP/an2" "['states']['truncated'], j['overall']['accuracy']")" = "(2, 1)" ]
"$EVALH" run --model "anthropic:scenario:filterx1@$AB" --tasks "$PACK" --limit 2 --concurrency 1 --out "$TMP/an3" --quiet
check "refusal counted as refused" [ "$(summ "$TMP/an3" "['states']['refused']")" = "1" ]
"$EVALH" run --model "anthropic:scenario:erreventx1@$AB" --tasks "$PACK" --limit 1 --out "$TMP/an4" --quiet 2>/dev/null
check "stream error event retried to success" python3 - "$TMP/an4/samples.jsonl" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).readline())
sys.exit(0 if d['correct'] and d['attempts'] == 2 else 1)
PY
"$EVALH" run --model "anthropic:scenario:402@$AB" --tasks "$PACK" --limit 10 --concurrency 1 --out "$TMP/an5" \
	--quiet 2>"$TMP/an5.err"
check "anthropic 402 fails fast with the message" sh -c "[ $? -eq 3 ] && grep -q 'HTTP 402' '$TMP/an5.err' && [ \$(grep -c '' '$TMP/an5/samples.jsonl') -eq 1 ]"
"$EVALH" run --model "anthropic:claude-fake@$AB" --tasks "$PACK" --limit 1 --reasoning-budget 4096 --max-tokens 2048 \
	--out "$TMP/an6" --quiet 2>"$TMP/an6.err"
check "budget above max tokens refused clearly" sh -c "[ $? -eq 3 ] && grep -q 'must be below max tokens' '$TMP/an6.err'"
check "registry carries Claude prices" sh -c "'$EVALH' list models | grep -q '^claude-sonnet-5 .*anthropic.*2.00 *10.00'"

# 3b. The current Claude models think adaptively: the server (as the real API) answers 400 to a
#     thinking budget or a sampling parameter, so evalh sends thinking.type adaptive and the effort.
"$EVALH" run --model "anthropic:claude-sonnet-5@$AB" --tasks "$PACK" --limit 3 --reasoning-effort medium \
	--temperature 0.6 --top-p 0.95 --out "$TMP/an7" --quiet 2>"$TMP/an7.err"
check "adaptive model: run exits 0 ($(head -c 200 "$TMP/an7.err"))" [ $? -eq 0 ]
check "adaptive model: all correct, thinking kept" python3 - "$TMP/an7" <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1] + '/samples.jsonl')]
sys.exit(0 if len(d) == 3 and all(x['verdict'] == 'correct' and x['reasoning'] for x in d) else 1)
PY
check "adaptive model: thinking adaptive, effort, no budget, no sampling, room to think" python3 - "$TMP/server.log" <<'PY'
import json, sys
r = [x['body'] for x in map(json.loads, open(sys.argv[1])) if x['model'] == 'claude-sonnet-5']
sys.exit(0 if len(r) == 3 and all(b['thinking'] == {'type': 'adaptive'} and b['output_config'] == {'effort': 'medium'}
	and not {'temperature', 'top_p', 'top_k'} & set(b) and b['max_tokens'] == 32000 for b in r) else 1)
PY
"$EVALH" run --model "anthropic:claude-opus-5@$AB" --tasks "$PACK" --limit 1 --reasoning-budget 2048 \
	--out "$TMP/an8" --quiet 2>"$TMP/an8.err"
check "adaptive model: a budget is not sent, and evalh says so" \
	sh -c "[ $? -eq 0 ] && grep -q 'thinks adaptively' '$TMP/an8.err'"
check "adaptive model without an effort: the API default" python3 - "$TMP/server.log" <<'PY'
import json, sys
r = [x['body'] for x in map(json.loads, open(sys.argv[1])) if x['model'] == 'claude-opus-5']
sys.exit(0 if len(r) == 1 and r[0]['thinking'] == {'type': 'adaptive'} and 'output_config' not in r[0] else 1)
PY

# 4. OpenAI reasoning models: max_completion_tokens and reasoning_effort, never max_tokens.
"$EVALH" run --model "openai:o3-mini@$BASE" --tasks "$PACK" --limit 2 --max-tokens 5000 --reasoning-effort high \
	--out "$TMP/o3" --quiet
check "o-series body" python3 - "$TMP/server.log" <<'PY'
import json, sys
r = [x['body'] for x in map(json.loads, open(sys.argv[1])) if x['model'] == 'o3-mini']
sys.exit(0 if len(r) == 2 and all(b.get('max_completion_tokens') == 5000 and 'max_tokens' not in b
	and b.get('reasoning_effort') == 'high' for b in r) else 1)
PY
finish
