#!/bin/sh
# evalh serve on tiny-arith: `evalh run` through the OpenAI client against it gives the same answers
# as the engine in process; a multi-turn conversation continues as its prompt rendered by Jinja2
# from the model's own chat template does; error statuses with OpenAI error bodies; a client
# leaving mid-stream; 200 concurrent streams all completing while a slow-reading client holds its
# stream unread (its generation still finishes); the server's RSS back near its baseline after it.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 0; }
# Until harness/main.c dispatches `serve` (its owner adds the line), say so instead of failing.
"$EVALH" serve --help >/dev/null 2>&1 || { echo "skip: this evalh has no serve command"; exit 0; }

# start_serve NAME ARGS...: starts evalh serve on a free port; sets SPID and SPORT.
start_serve() {
	name=$1; shift
	# Under ASan, a small quarantine: freed memory held for use-after-free checks would otherwise
	# stay resident and hide whether RSS returns to its baseline.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" \
		"$EVALH" serve --model tiny-arith --port 0 --quiet "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	SPID=$!
	i=0
	while ! grep -q 'http://' "$TMP/$name.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
	SPORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/v1.*|\1|p' "$TMP/$name.out")
	[ -n "$SPORT" ] || { echo "serve did not start: $(cat "$TMP/$name.err")"; exit 1; }
}
stop_serve() { kill -TERM "$1" 2>/dev/null; wait "$1"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# post PORT PATH BODY [curl args]: prints the status; the body goes to $TMP/body.
post() {
	p=$1 path=$2 body=$3; shift 3
	curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
		--data-binary "$body" "http://127.0.0.1:$p$path"
}
is_openai_error() { python3 -c "
import json,sys; e=json.load(open('$TMP/body'))['error']
assert isinstance(e['message'], str) and e['message'] and isinstance(e['type'], str), e"; }

Q='{"model":"tiny-arith","messages":[{"role":"user","content":"What is 12 + 35?"}],"temperature":0'

export EVH_E2E_KEY=k-e2e-123
start_serve main --parallel 2 --max-body 65536 --api-key-env EVH_E2E_KEY
MAIN=$SPID P=$SPORT AUTH="Authorization: Bearer $EVH_E2E_KEY"

# --- same answers as in process ---------------------------------------------------------------
OPENAI_API_KEY=$EVH_E2E_KEY "$EVALH" run --model "openai:tiny-arith@http://127.0.0.1:$P/v1" --tasks arith --limit 8 \
	--temperature 0 --out "$TMP/api" --quiet 2>"$TMP/api.err"
check "run through the server exits 0" [ $? -eq 0 ]
"$EVALH" run --model tiny-arith --tasks arith --limit 8 --out "$TMP/eng" --quiet
check "run in process exits 0" [ $? -eq 0 ]
check "same extracted answers, verdicts, reasoning and accuracy item by item" python3 -c "
import json,sys
a={d['item_id']:d for d in map(json.loads, open('$TMP/api/samples.jsonl'))}
b={d['item_id']:d for d in map(json.loads, open('$TMP/eng/samples.jsonl'))}
assert len(a) == len(b) == 8 and a.keys() == b.keys(), (a.keys(), b.keys())
for k in b:
    for f in ('extracted', 'verdict', 'response', 'reasoning', 'tokens_in', 'tokens_out', 'tokens_reasoning'):
        assert a[k][f] == b[k][f], (k, f, a[k][f], b[k][f])
    assert not a[k]['tokens_estimated'], a[k]
sa=json.load(open('$TMP/api/summary.json'))['overall']; sb=json.load(open('$TMP/eng/summary.json'))['overall']
assert sa['correct'] == sb['correct'] and sa['scored'] == sb['scored'] == 8, (sa, sb)
"

# --- a conversation: history rendered by the model's template ----------------------------------
# The reference prompt comes from Python's Jinja2 (what HF apply_chat_template runs) over
# tokenizer_config.json; the server's chat continuation must equal the raw completion of it.
CONV='[{"role":"user","content":"What is 2 + 3?"},{"role":"assistant","content":"units: 2 + 3 = 5, write 5\n</think>\n\nThe answer is $\\boxed{5}$."},{"role":"user","content":"What is 12 + 35?"}]'
if python3 -c 'import jinja2' 2>/dev/null; then
	python3 - "$ROOT/engine/models/tiny-arith/tokenizer_config.json" "$CONV" >"$TMP/conv_prompt.json" <<'PY'
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
c = json.load(open(sys.argv[1], encoding='utf-8'))
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
p = env.from_string(c['chat_template']).render(messages=json.loads(sys.argv[2]), add_generation_prompt=True,
                                               bos_token=c['bos_token'], eos_token=c['eos_token'])
print(json.dumps({'model': 'tiny-arith', 'prompt': p, 'temperature': 0, 'max_tokens': 40}))
PY
	code=$(post $P /v1/completions "@$TMP/conv_prompt.json" -H "$AUTH"); cp "$TMP/body" "$TMP/conv_raw.json"
	check "raw completion of the Jinja2-rendered conversation: 200" [ "$code" = 200 ]
	code=$(post $P /v1/chat/completions "{\"model\":\"tiny-arith\",\"messages\":$CONV,\"temperature\":0,\"max_tokens\":40,\"reasoning_format\":\"none\"}" -H "$AUTH")
	check "multi-turn chat: 200" [ "$code" = 200 ]
	check "multi-turn chat continues exactly as the rendered prompt does (text, prompt tokens)" python3 -c "
import json
a = json.load(open('$TMP/body')); b = json.load(open('$TMP/conv_raw.json'))
assert a['choices'][0]['message']['content'] == b['choices'][0]['text'], (a, b)
assert a['usage']['prompt_tokens'] == b['usage']['prompt_tokens'] > 30, (a['usage'], b['usage'])
"
else
	echo "skipped the multi-turn check: python3 has no jinja2"
fi

# --- endpoints and errors ---------------------------------------------------------------------
check "/health 200 without a key" [ "$(post $P /health '' -X GET)" = 200 ]
check "/v1/models lists tiny-arith" sh -c "[ \"\$(curl -s -H '$AUTH' http://127.0.0.1:$P/v1/models | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][0][\"id\"])')\" = tiny-arith ]"
check "missing bearer: 401" [ "$(post $P /v1/chat/completions "$Q}")" = 401 ]
is_openai_error && ok "401 body is an OpenAI error" || not_ok "401 body is an OpenAI error"
check "wrong bearer: 401" [ "$(post $P /v1/chat/completions "$Q}" -H 'Authorization: Bearer nope')" = 401 ]
check "malformed JSON: 400" [ "$(post $P /v1/chat/completions '{"model":"tiny-arith","messages":[' -H "$AUTH")" = 400 ]
is_openai_error && ok "400 body is an OpenAI error" || not_ok "400 body is an OpenAI error"
code=$(post $P /v1/chat/completions '{"model":"tiny-arith","messages":[{"role":"user","content":"hi"}],"temperature":-1}' -H "$AUTH")
check "temperature -1: 400 with param temperature" sh -c "[ $code = 400 ] && grep -q '\"param\":\"temperature\"' '$TMP/body'"
check "unknown model: 404" [ "$(post $P /v1/chat/completions '{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}' -H "$AUTH")" = 404 ]
is_openai_error && ok "404 body is an OpenAI error" || not_ok "404 body is an OpenAI error"
head -c 100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
check "oversize body: 413" [ "$(post $P /v1/chat/completions "@$TMP/big.json" -H "$AUTH")" = 413 ]
check "unknown path: 404" [ "$(post $P /v1/nothing '{}' -H "$AUTH")" = 404 ]

# --- streaming --------------------------------------------------------------------------------
curl -sN -H "$AUTH" -H 'Content-Type: application/json' -d "$Q,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" \
	"http://127.0.0.1:$P/v1/chat/completions" >"$TMP/stream.txt"
check "stream chunks parse, one token each, then usage and [DONE]" python3 -c "
import json
ev=[l[6:] for l in open('$TMP/stream.txt').read().split('\n') if l.startswith('data: ')]
assert ev[-1] == '[DONE]', ev[-1]
ch=[json.loads(e) for e in ev[:-1]]
assert all(c['object'] == 'chat.completion.chunk' for c in ch)
u=ch[-1]['usage']; assert ch[-1]['choices'] == [] and u['completion_tokens'] > u['completion_tokens_details']['reasoning_tokens'] > 0, u
text=''.join(c['choices'][0]['delta'].get('content') or '' for c in ch[:-1])
assert '\\\\boxed{47}' in text, text
assert len(ch) - 2 >= u['completion_tokens'] - 4, (len(ch), u)
"
# A client that leaves mid-stream: a long generation cut by --max-time. A question the model was
# never trained on, sampled hot with seed 2, runs past 800 tokens without EOS (measured: over 40 s
# to 4000 in a release build), so "running 0" within 10 s means the server stopped it.
LONG='{"model":"tiny-arith","messages":[{"role":"user","content":"zzzz qqqq"}],"temperature":2,"seed":2,"max_tokens":4000,"stream":true}'
curl -sN --max-time 1 -H "$AUTH" -H 'Content-Type: application/json' -d "$LONG" "http://127.0.0.1:$P/v1/chat/completions" >/dev/null
i=0
while ! curl -s "http://127.0.0.1:$P/health" | grep -q '"running":0' && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
curl -s "http://127.0.0.1:$P/health" -o "$TMP/h.json"
check "the client that left freed its slot (health: running 0)" grep -q '"running":0' "$TMP/h.json"
check "later requests still answered" [ "$(post $P /v1/chat/completions "$Q}" -H "$AUTH")" = 200 ]

# --- storm: 200 concurrent streams beside a slow reader; RSS back near baseline ----------------
post $P /v1/chat/completions "$Q,\"stream\":true}" -H "$AUTH" >/dev/null
BASE=$(rss_kb $MAIN)
# The slow reader: a small receive buffer, the first bytes read, then nothing until slow.go
# appears, then the rest in small reads with pauses. Its stream (~300 chunks, far more than the
# socket buffers hold) is generated while it does not read: the scheduler writes into the call's
# buffer, never into the socket, so neither the other clients nor its own generation wait on it.
SLOW='{"model":"tiny-arith","messages":[{"role":"user","content":"zzzz qqqq"}],"temperature":2,"seed":2,"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}'
python3 - "$P" "$TMP" "$SLOW" <<'PY' >"$TMP/slow.log" 2>&1 &
import http.client, os, socket, sys, time
port, tmp, body = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', port))
c = http.client.HTTPConnection('127.0.0.1', port)
c.sock = s
c.request('POST', '/v1/chat/completions', body, {'Content-Type': 'application/json',
          'Authorization': 'Bearer ' + os.environ['EVH_E2E_KEY']})
r = c.getresponse()
assert r.status == 200, r.status
data = r.read(64)
open(tmp + '/slow.started', 'w').close()
while not os.path.exists(tmp + '/slow.go'):
    time.sleep(0.05)
while True:
    b = r.read(512)
    if not b:
        break
    data += b
    time.sleep(0.002)
open(tmp + '/slow.txt', 'wb').write(data)
PY
SLOWPID=$!
i=0
while [ ! -e "$TMP/slow.started" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "the slow reader got its first bytes" [ -e "$TMP/slow.started" ]
SMALL='{"model":"tiny-arith","messages":[{"role":"user","content":"What is 3 + 4?"}],"max_tokens":4,"stream":true}'
seq 200 | xargs -P 200 -I{} sh -c "curl -sN -H '$AUTH' -H 'Content-Type: application/json' -d '$SMALL' http://127.0.0.1:$P/v1/chat/completions >'$TMP/storm{}.txt'"
n_done=$(grep -l '^data: \[DONE\]' "$TMP"/storm*.txt | wc -l)
check "200 concurrent streams all complete ($n_done) while the slow reader reads nothing" [ "$n_done" -eq 200 ]
i=0
while ! curl -s "http://127.0.0.1:$P/health" | grep -q '"running":0' && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
check "the unread stream's generation finished without its reader (health: running 0)" \
	sh -c "curl -s http://127.0.0.1:$P/health | grep -q '\"running\":0'"
touch "$TMP/slow.go"
wait $SLOWPID
slow_rc=$?
check "the slow reader exits 0 ($(tail -c 300 "$TMP/slow.log"))" [ $slow_rc -eq 0 ]
# Whole: the same seeded request answered at once gives the same reasoning and content.
post $P /v1/chat/completions "$(echo "$SLOW" | sed 's/"stream":true/"stream":false/')" -H "$AUTH" >/dev/null
check "the slow reader's stream is whole: chunks parse, usage, [DONE], the same text as unstreamed" python3 -c "
import json
ev = [l[6:] for l in open('$TMP/slow.txt', encoding='utf-8').read().split('\n') if l.startswith('data: ')]
assert ev[-1] == '[DONE]', ev[-3:]
ch = [json.loads(e) for e in ev[:-1]]
u = ch[-1]['usage']
assert u['completion_tokens'] == 300, u
d = [c['choices'][0]['delta'] for c in ch[:-1]]
m = json.load(open('$TMP/body'))['choices'][0]['message']
assert ''.join(x.get('reasoning_content') or '' for x in d) == m['reasoning_content'], 'reasoning differs'
assert ''.join(x.get('content') or '' for x in d) == m['content'], 'content differs'
assert len(ch) > 250, len(ch)
"
AFTER=$(rss_kb $MAIN)
# Slack: thread stacks and malloc arenas the storm touched may stay mapped (glibc keeps per-thread
# arenas); a leak of per-request buffers would grow with requests instead. 48 MiB or 50%.
check "RSS after the storm near baseline ($BASE kB -> $AFTER kB)" [ "$AFTER" -le $((BASE + BASE / 2 > BASE + 49152 ? BASE + BASE / 2 : BASE + 49152)) ]
# A second storm of the same size reuses what the first left mapped: a per-request leak would add
# its size times 200 again. 8 MiB of slack (measured in a release build: +0.7 MiB); ASan's
# allocator keeps per-thread caches of the 200 new connection threads (measured: +13 MiB), so
# 24 MiB there, where LeakSanitizer at the server's exit checks for leaks besides.
SLACK=8192
grep -q __asan_init "$EVALH" && SLACK=24576
seq 200 | xargs -P 200 -I{} sh -c "curl -sN -H '$AUTH' -H 'Content-Type: application/json' -d '$SMALL' http://127.0.0.1:$P/v1/chat/completions >'$TMP/storm{}.txt'"
n_done=$(grep -l '^data: \[DONE\]' "$TMP"/storm*.txt | wc -l)
AGAIN=$(rss_kb $MAIN)
check "a second storm of 200 completes ($n_done)" [ "$n_done" -eq 200 ]
check "RSS does not grow with the second storm ($AFTER kB -> $AGAIN kB)" [ "$AGAIN" -le $((AFTER + SLACK)) ]
stop_serve $MAIN
check "SIGTERM: clean exit 0" [ $? -eq 0 ]

# --- queue full: 1 slot, no queue; a long stream holds the slot --------------------------------
start_serve q --parallel 1 --max-queue 0
Q1=$SPID P1=$SPORT
curl -sN --max-time 60 -H 'Content-Type: application/json' -d "$LONG" "http://127.0.0.1:$P1/v1/chat/completions" >/dev/null &
HOLD=$!
i=0
while ! curl -s "http://127.0.0.1:$P1/health" | grep -q '"running":1' && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check "queue full: 429" [ "$(post $P1 /v1/chat/completions "$Q}")" = 429 ]
is_openai_error && ok "429 body is an OpenAI error" || not_ok "429 body is an OpenAI error"
kill $HOLD 2>/dev/null; wait $HOLD 2>/dev/null
kill -INT $Q1; wait $Q1
check "SIGINT with a stream in flight: clean exit 0" [ $? -eq 0 ]
finish
