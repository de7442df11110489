# lib.sh — helpers for the end-to-end tests: a temp folder, the fake OpenAI server, assertions.
# Sourced by tests/e2e/test_*.sh; $EVALH is the evalh binary under test.
set -u
: "${EVALH:?EVALH must name the evalh binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/evalh-e2e.XXXXXX)
SERVER_PID=""
FAILS=0
PASSES=0
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# start_server: starts tests/server/fake_openai.py on a free port; sets PORT and BASE.
start_server() {
	python3 "$ROOT/tests/server/fake_openai.py" --port 0 --log "$TMP/server.log" >"$TMP/port" 2>"$TMP/server.err" &
	SERVER_PID=$!
	i=0
	while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	PORT=$(head -n1 "$TMP/port")
	[ -n "$PORT" ] || { echo "fake server did not start: $(cat "$TMP/server.err")"; exit 1; }
	BASE="http://127.0.0.1:$PORT/v1"
}

ok() { PASSES=$((PASSES + 1)); echo "ok - $1"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $1"; }
check() { # check "description" command...
	d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# jget FILE EXPR: evaluates a Python expression over the JSON document `j`.
jget() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
