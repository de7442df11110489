#!/bin/sh
# End to end on the built-in engine: the embedded tiny-arith model solves the arith pack with a
# chain of thought, its reasoning is kept apart from the answer, and engine time is priced.
. "$(dirname "$0")/lib.sh"
# 200 generated questions, greedy (issue 5: at least 95%; the fixture README measured 100% with
# transformers on held-out questions).
"$EVALH" run --model tiny-arith --tasks arith --limit 200 --concurrency 2 --out "$TMP/eng" --quiet
check "engine run exits 0" [ $? -eq 0 ]
check "200 samples" [ "$(wc -l <"$TMP/eng/samples.jsonl")" -eq 200 ]
check "accuracy >= 95% on 200" python3 -c "
import json,sys; j=json.load(open('$TMP/eng/summary.json'))['overall']
print('  tiny-arith: %d/%d correct' % (j['correct'], j['scored']))
sys.exit(0 if j['correct'] >= 190 and j['scored'] == 200 else 1)"
check "reasoning kept apart, answer boxed, tokens counted" python3 -c "
import json,sys
for d in map(json.loads, open('$TMP/eng/samples.jsonl')):
    assert 'units' in d['reasoning'] or 'carry' in d['reasoning'] or '*' in d['reasoning'], d
    assert '</think>' not in d['response'] and 'boxed' in d['response'], d
    assert d['tokens_in'] > 5 and d['tokens_out'] > d['tokens_reasoning'] > 0, d
    assert d['cost_usd'] > 0 and d['rule'] == 'boxed', d
"
# Engine time is priced per request as its share of each batched step: the time billed over all
# samples cannot exceed the run's wall time (a batch serving 2 requests must not bill twice).
check "billed engine time <= wall time of the run" python3 -c "
import json, datetime, sys
r = json.load(open('$TMP/eng/run.json')); p = r['model']['gpu_hour_price']
billed = sum(json.loads(l)['cost_usd'] for l in open('$TMP/eng/samples.jsonl')) / p * 3600
t = lambda s: datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ')
wall = (t(r['ended_at']) - t(r['started_at'])).total_seconds() + 1
print('  billed %.1f s of engine time in %.0f s of wall time' % (billed, wall))
sys.exit(0 if 0 < billed <= wall else 1)"
check "run.json records the engine model path" python3 -c "
import json,sys; j=json.load(open('$TMP/eng/run.json')); sys.exit(0 if j['model']['provider']=='engine' and j['model']['path'].endswith('engine/models/tiny-arith') else 1)"
# The model split over tp=2 x ep=2 ranks (CPU communication backend) answers item by item the same.
"$EVALH" run --model tiny-arith --tasks arith --limit 6 --concurrency 2 --out "$TMP/one" --quiet
"$EVALH" run --model tiny-arith --tasks arith --limit 6 --concurrency 2 --tp 2 --ep 2 --comm cpu \
	--out "$TMP/split" --quiet
check "tp=2 x ep=2 run gives the same responses as one process" python3 -c "
import json, sys
load = lambda d: {r['item_id']: r['response'] for r in map(json.loads, open(d + '/samples.jsonl'))}
a, b = load('$TMP/one'), load('$TMP/split')
o = json.load(open('$TMP/split/run.json'))['options']
sys.exit(0 if len(a) == 6 and a == b and (o['tp'], o['ep'], o['comm']) == (2, 2, 'cpu') else 1)"
# A truncated checkpoint is refused with a message naming the file.
mkdir -p "$TMP/broken"
cp "$ROOT"/engine/models/tiny-arith/*.json "$TMP/broken/"
head -c 100000 "$ROOT/engine/models/tiny-arith/model.safetensors" >"$TMP/broken/model.safetensors"
"$EVALH" run --model "engine:$TMP/broken" --tasks arith --limit 1 --out "$TMP/b" --quiet 2>"$TMP/b.err"
check "truncated model: exit 2 or 1 with the file named" sh -c "[ $? -ne 0 ] && grep -q 'model.safetensors' '$TMP/b.err'"
finish
