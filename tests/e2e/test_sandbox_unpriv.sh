#!/bin/sh
# The sandbox started by an unprivileged user (a user namespace instead of setuid, no cgroup):
# as root, this test runs evalh as `nobody` through setpriv. Programs run and give their output;
# loops time out; no network; the harness's secrets stay out of reach, including through init's
# /proc/1/mem (init is a copy of the harness); a daemon does not outlive its run.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "skip: needs root and setpriv to run evalh as nobody"
	exit 0
fi
NB=65534
# A host that refuses user namespaces to unprivileged users gives nobody no sandbox to test.
if ! setpriv --reuid=$NB --regid=$NB --clear-groups unshare -U true 2>/dev/null; then
	echo "skip: this host refuses unprivileged user namespaces"
	exit 0
fi
D="$TMP/nobody"
mkdir -p "$D" && chmod 755 "$TMP" "$D"
cp "$EVALH" "$D/evalh" && chmod 755 "$D/evalh"
# as_nobody ARGS...: evalh as nobody, in $D, with a planted secret in its environment.
as_nobody() {
	(cd "$D" && env EVALH_PLANTED_KEY=sk-planted-e2e-secret PATH=/usr/local/bin:/usr/bin:/bin \
		setpriv --reuid=$NB --regid=$NB --clear-groups "$D/evalh" "$@")
}
sbx() {
	name=$1; shift
	as_nobody sandbox run "$@" >"$TMP/$name.json" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
}
field() { jget "$TMP/$1.json" "j[$(printf '%s' "'$2'")]"; }
py() { printf '%s\n' "$2" >"$D/$1.py" && chmod 644 "$D/$1.py"; }

as_nobody doctor >"$TMP/doctor.txt" 2>&1
check "doctor as nobody exits 0" [ $? -eq 0 ]
check "doctor: user namespace active, setuid not used" \
	sh -c "grep -q '^  userns *active' '$TMP/doctor.txt' && grep -q '^  setuid *not used' '$TMP/doctor.txt'"
check "doctor: python and C run in the sandbox" \
	sh -c "grep -q '^  python *ok in the sandbox' '$TMP/doctor.txt' && grep -q '^  c *ok in the sandbox' '$TMP/doctor.txt'"

py hello 'print(6 * 7)'
sbx hello --lang python "$D/hello.py" --timeout 5
check "hello: ok, 42" [ "$(field hello verdict) $(field hello stdout)" = "ok 42" ]
check "hello: in a user namespace" python3 -c "import json,sys; sys.exit(0 if 'userns' in json.load(open('$TMP/hello.json'))['isolation'] else 1)"

py loop 'while True: pass'
sbx loop --lang python "$D/loop.py" --timeout 1
check "loop: timeout" [ "$(field loop verdict)" = "timeout" ]

py net 'import socket
def tcp(h, p):
    try:
        socket.create_connection((h, p), timeout=0.5); return "connected"
    except OSError: return "refused"
print(tcp("127.0.0.1", 22), tcp("1.1.1.1", 80))'
sbx net --lang python "$D/net.py" --timeout 5
check "network: refused" [ "$(field net stdout)" = "refused refused" ]

py snoop 'import os
def read(p):
    try:
        return "read" if open(p, "rb").read(64) is not None else "empty"
    except OSError: return "denied"
print("planted" if any("sk-planted" in v for v in os.environ.values()) else "clean",
      read("/proc/1/environ"), read("/proc/1/mem"), read("/etc/shadow"))'
sbx snoop --lang python "$D/snoop.py" --timeout 5
check "secrets: not in the environment, init's memory and environ unreadable, no /etc/shadow" \
	[ "$(field snoop stdout)" = "clean denied denied denied" ]

before=$(pgrep -u $NB | wc -l)
py daemon 'import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(30)
    os._exit(0)
print("parent done")'
sbx daemon --lang python "$D/daemon.py" --timeout 5
sleep 0.3
check "daemon: the run ends" [ "$(field daemon stdout)" = "parent done" ]
check "daemon: nothing of nobody's outlives the run" [ "$(pgrep -u $NB | wc -l)" -le "$before" ]
finish
