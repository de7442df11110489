#!/bin/sh
# `evalh tokenize` and `evalh generate` against the transformers references of the fixture:
# prompt ids, greedy continuation and the first step's top logits.
. "$(dirname "$0")/lib.sh"
REF="$ROOT/tests/fixtures/tiny-arith/reference.safetensors"
MODEL="$ROOT/engine/models/tiny-arith"
python3 - "$REF" "$TMP" <<'PY'
import json, struct, sys
f = open(sys.argv[1], 'rb'); n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n)); base = 8 + n
def t(name):
    d = h[name]; a, b = d['data_offsets']; f.seek(base + a); raw = f.read(b - a)
    fmt = {'I32': 'i', 'F32': 'f'}[d['dtype']]
    return list(struct.unpack('<%d%s' % (len(raw) // 4, fmt), raw)), d['shape']
ids, _ = t('prompt0_ids'); greedy, _ = t('prompt0_greedy'); logits, shape = t('prompt0_logits')
last = logits[(shape[0] - 1) * shape[1]:]
top = sorted(range(len(last)), key=lambda i: -last[i])[:5]
if 1 in greedy: greedy = greedy[:greedy.index(1)]  # EOS ends generation
json.dump({'ids': ids, 'greedy': greedy, 'top': [[i, last[i]] for i in top]}, open(sys.argv[2] + '/ref.json', 'w'))
PY
echo "$(jget "$TMP/ref.json" "j['ids']")" | "$EVALH" tokenize "$MODEL" --decode >"$TMP/prompt.txt"
check "decode of the reference prompt ids" grep -q 'What is' "$TMP/prompt.txt"
"$EVALH" tokenize "$MODEL" <"$TMP/prompt.txt" >"$TMP/ids.json"
check "tokenize gives the reference prompt ids" python3 -c "
import json,sys; sys.exit(0 if json.load(open('$TMP/ids.json')) == json.load(open('$TMP/ref.json'))['ids'] else 1)"
"$EVALH" generate --model "engine:$MODEL" --prompt-file "$TMP/prompt.txt" --max-tokens 48 --json >"$TMP/gen.json"
check "generate exits 0" [ $? -eq 0 ]
check "greedy continuation equals the reference" python3 -c "
import json,sys; g=json.load(open('$TMP/gen.json')); r=json.load(open('$TMP/ref.json'))
sys.exit(0 if g['prompt_ids'] == r['ids'] and g['completion_ids'] == r['greedy'] else 1)"
check "first step's top-5 logits match transformers to 1e-3" python3 -c "
import json,sys; g=json.load(open('$TMP/gen.json'))['top_logits'][0]; r=json.load(open('$TMP/ref.json'))['top']
sys.exit(0 if [p[0] for p in g] == [p[0] for p in r] and all(abs(a[1]-b[1]) <= 1e-3*max(1,abs(b[1])) for a,b in zip(g,r)) else 1)"
# The same model split over 2 x 2 ranks (CPU communication backend) gives the same tokens.
"$EVALH" generate --model "engine:$MODEL" --prompt-file "$TMP/prompt.txt" --max-tokens 48 --json --tp 2 --ep 2 \
	--comm cpu >"$TMP/split.json"
check "tp=2 x ep=2 generates the same tokens as one process" python3 -c "
import json,sys; a=json.load(open('$TMP/gen.json')); b=json.load(open('$TMP/split.json'))
sys.exit(0 if a['completion_ids'] == b['completion_ids'] else 1)"
"$EVALH" generate --model tiny-arith --chat "What is 347 + 85?" --tp 3 >"$TMP/tp3.txt" 2>/dev/null
check "an uneven split (tp=3 over 4 heads) still answers 432" grep -q 'boxed{432}' "$TMP/tp3.txt"
"$EVALH" generate --model tiny-arith --chat hi --tp 5 2>"$TMP/tp.err"
check "more ranks than attention heads is refused, naming tp" sh -c "[ $? -ne 0 ] && grep -q 'tp 5' '$TMP/tp.err'"
"$EVALH" generate --model tiny-arith --chat "What is 347 + 85?" --stop "</think>" >"$TMP/stop.txt" 2>/dev/null
check "--stop ends the text before the stop string" sh -c "grep -q 'hundreds' '$TMP/stop.txt' && ! grep -q 'think' '$TMP/stop.txt'"
echo '[0, 5, 99999]' | "$EVALH" tokenize "$MODEL" --decode 2>"$TMP/bad.err"
check "out-of-vocabulary id: exit 2 naming the element" sh -c "[ $? -eq 2 ] && grep -q 'element 2' '$TMP/bad.err'"
"$EVALH" generate --model deepseek-reasoner --chat hi 2>"$TMP/api.err"
check "generate refuses an API model with a clear message" sh -c "[ $? -eq 2 ] && grep -q 'built-in engine' '$TMP/api.err'"
finish
