#!/bin/sh
# evalh sandbox run and evalh doctor: Python and C programs through the sandbox give the verdict,
# exit status, signal, output and limits as JSON; compile errors, timeouts, memory and output
# limits have their verdicts; the host's files and secrets stay out of reach; doctor lists the
# protections and finds both toolchains working.
. "$(dirname "$0")/lib.sh"
# Until harness/main.c dispatches `sandbox` and `doctor` (its owner adds the lines), say so.
if "$EVALH" sandbox 2>&1 | grep -q 'unknown command'; then
	echo "skip: this evalh has no sandbox command"
	exit 0
fi

# sbx NAME ARGS...: runs `evalh sandbox run ARGS`, JSON to $TMP/NAME.json, exit code to $TMP/NAME.rc
sbx() {
	name=$1; shift
	"$EVALH" sandbox run "$@" >"$TMP/$name.json" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
}
field() { jget "$TMP/$1.json" "j[$(printf '%s' "'$2'")]"; }
rc() { cat "$TMP/$1.rc"; }
# jtrue NAME EXPR: true when the Python expression over the JSON document `j` of NAME holds.
jtrue() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$TMP/$1.json"; }

cat >"$TMP/sum.py" <<'PY'
import sys
print(sum(int(x) for x in sys.stdin.read().split()))
PY
printf '20 22\n' >"$TMP/in.txt"
sbx py_ok --lang python "$TMP/sum.py" --stdin "$TMP/in.txt"
check "python: verdict ok, exit 0" [ "$(field py_ok verdict) $(rc py_ok)" = "ok 0" ]
check "python: stdout captured" [ "$(field py_ok stdout)" = "42" ]
check "python: exit status 0, no signal" [ "$(field py_ok exit_status) $(field py_ok signal)" = "0 None" ]
check "python: time and peak memory reported" \
	jtrue py_ok "j['time_s'] > 0 and j['peak_memory_bytes'] > 1000000"
check "python: isolation layers listed" jtrue py_ok "'rlimits' in j['isolation']"

cat >"$TMP/mul.c" <<'C'
#include <stdio.h>
int main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 1; printf("%ld\n", a * b); return 0; }
C
sbx c_ok --lang c "$TMP/mul.c" --stdin "$TMP/in.txt" --timeout 5 --memory 64
check "c: compiled in the sandbox and run" [ "$(field c_ok verdict) $(field c_ok stdout) $(rc c_ok)" = "ok 440 0" ]
check "c: compile time reported" jtrue c_ok "j['compile_s'] > 0"

printf 'int main(void) { return undeclared_name; }\n' >"$TMP/bad.c"
sbx c_bad --lang c "$TMP/bad.c"
check "c: compile error verdict, exit 1" [ "$(field c_bad verdict) $(rc c_bad)" = "compile_error 1" ]
check "c: compiler messages kept" grep -q undeclared_name "$TMP/c_bad.json"

printf '#include <stdio.h>\nint main(void){ int *p = 0; printf("%%d", *p); return 0; }\n' >"$TMP/segv.c"
sbx c_segv --lang c "$TMP/segv.c"
check "c: crash is a runtime error with its signal" \
	[ "$(field c_segv verdict) $(field c_segv signal) $(field c_segv exit_status)" = "runtime_error 11 None" ]

printf 'import sys\nsys.exit(3)\n' >"$TMP/exit3.py"
sbx py_exit3 --lang python "$TMP/exit3.py"
check "python: exit status 3 is a runtime error" [ "$(field py_exit3 verdict) $(field py_exit3 exit_status) $(rc py_exit3)" = "runtime_error 3 1" ]

printf 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(0.01)\n' >"$TMP/sleep.py"
sbx py_sleep --lang python "$TMP/sleep.py" --timeout 1
check "python: sleeping past the wall clock is a timeout, killed" \
	[ "$(field py_sleep verdict) $(field py_sleep signal) $(field py_sleep timed_out)" = "timeout 9 True" ]

printf 'x = bytearray(1 << 31)\nprint(len(x))\n' >"$TMP/mem.py"
sbx py_mem --lang python "$TMP/mem.py" --memory 64
check "python: 2 GiB under a 64 MiB limit is a memory verdict" [ "$(field py_mem verdict)" = "memory" ]

printf 'import sys\nwhile True: sys.stdout.write("y" * 65536)\n' >"$TMP/flood.py"
sbx py_flood --lang python "$TMP/flood.py" --timeout 5
check "python: endless output is an output limit, killed before the timeout" \
	[ "$(field py_flood verdict) $(field py_flood timed_out)" = "output_limit False" ]
check "python: printed stdout trimmed" jtrue py_flood "len(j['stdout']) <= 4096 and j['stdout_truncated']"

printf 'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)\nsys.stdout.flush()\n' >"$TMP/garbage.py"
sbx py_garbage --lang python "$TMP/garbage.py"
check "python: binary garbage on stdout still gives valid JSON" \
	jtrue py_garbage "j['verdict'] == 'ok' and j['stdout_bytes'] == 1024"

# Secrets: a planted API key in our environment, the host's /etc/shadow and this test's own files.
cat >"$TMP/snoop.py" <<PY
import os
print('key' if any('sk-planted' in v for v in os.environ.values()) else 'nokey')
for p in ('/etc/shadow', '$TMP/sum.py', '$ROOT/Makefile'):
    try:
        open(p).read(1); print('read', p)
    except OSError:
        print('refused')
PY
EVALH_TEST_API_KEY=sk-planted-secret-123 sbx py_snoop --lang python "$TMP/snoop.py"
check "python: no secret from the environment or host files" \
	jtrue py_snoop "j['stdout'].split() == ['nokey', 'refused', 'refused', 'refused']"
cat >"$TMP/net.c" <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, "1.1.1.1", &a.sin_addr);
	puts(s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0 ? "no network" : "connected");
	return 0;
}
C
sbx c_net --lang c "$TMP/net.c" --timeout 5
check "c: no network" [ "$(field c_net stdout)" = "no network" ]

# usage errors
"$EVALH" sandbox run --lang rust "$TMP/sum.py" >/dev/null 2>&1
r=$?
check "unknown language is a usage error (2)" [ $r -eq 2 ]
"$EVALH" sandbox run --lang python "$TMP/missing.py" >/dev/null 2>"$TMP/missing.err"
r=$?
check "missing file is a usage error (2)" [ $r -eq 2 ]
check "missing file: the message names it" grep -q 'missing.py: cannot open' "$TMP/missing.err"
"$EVALH" sandbox run --lang python "$TMP/sum.py" --timeout -1 >/dev/null 2>&1
r=$?
check "bad --timeout is a usage error" [ $r -eq 2 ]

# doctor
"$EVALH" doctor >"$TMP/doctor.out" 2>&1
r=$?
check "doctor exits 0" [ $r -eq 0 ]
check "doctor lists every layer" sh -c "for l in pidns netns mntns seccomp no_new_privs rlimits cgroup-v1 cgroup-v2; do grep -q \"^  \$l \" '$TMP/doctor.out' || exit 1; done"
check "doctor: rlimits always active" grep -Eq '^  rlimits +active' "$TMP/doctor.out"
check "doctor: python runs in the sandbox" grep -q 'python   ok in the sandbox' "$TMP/doctor.out"
if command -v gcc >/dev/null; then
	check "doctor: C compiles and runs in the sandbox" grep -q 'c        ok in the sandbox' "$TMP/doctor.out"
fi
finish
