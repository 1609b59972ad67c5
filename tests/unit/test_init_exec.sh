#!/bin/bash
# kiln-init on the host, not as PID 1: it runs the workload and exits with libkrun's statuses.
# usage: test_init_exec.sh path/to/kiln-init
set -u
init=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# expect STATUS DESCRIPTION ENV... -- ARGS...: run kiln-init with a clean environment.
expect() {
	local want=$1 what=$2 envs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	env -i "${envs[@]}" "$init" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local got=$?
	if [ "$got" = "$want" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $what: status $got, want $want; stderr: $(cat "$tmp/err")"
	fi
}

# stderr_has TEXT DESCRIPTION: the last run's stderr.
stderr_has() {
	if grep -qF -- "$1" "$tmp/err"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $2: stderr '$(cat "$tmp/err")' lacks '$1'"
	fi
}

expect 42 "exit status" KRUN_INIT=/bin/sh -- -c 'exit 42'
expect 0 "arguments" KRUN_INIT=/bin/sh -- -c '[ "$0" = "a b" ] && [ "$1" = c ]' 'a b' c
expect 137 "killed by a signal is 128 + signal" KRUN_INIT=/bin/sh -- -c 'kill -9 $$'
expect 127 "missing program" KRUN_INIT=/nonexistent/prog --
stderr_has "kiln-init: /nonexistent/prog: No such file or directory" "127 message"
expect 127 "not on PATH" KRUN_INIT=no-such-program-kiln --
touch "$tmp/plain"
expect 126 "not executable" KRUN_INIT="$tmp/plain" --
stderr_has "kiln-init: $tmp/plain: Permission denied" "126 message"
expect 126 "a directory" KRUN_INIT="$tmp" --
expect 125 "bad workdir" KRUN_INIT=/bin/true KRUN_WORKDIR="$tmp/nowhere" --
stderr_has "kiln-init: chdir $tmp/nowhere" "125 message"
expect 0 "PATH lookup with the default PATH" KRUN_INIT=sh -- -c 'exit 0'
expect 0 "workload environment" KRUN_INIT=/bin/sh KRUN_OTHER=1 FOO=bar HOME=/ -- -c \
	'[ -z "${KRUN_OTHER+x}${KRUN_INIT+x}" ] && [ "$FOO" = bar ] && [ "$HOME" = /root ] &&
	 [ "$HOSTNAME" = localhost ] && [ "$PWD" = / ]'

cat >"$tmp/flat.json" <<JSON
{"args": ["/bin/sh", "-c", "[ \"\$FOO\" = bar ] && [ \"\$(pwd)\" = \"$tmp\" ] && [ \"\$(ulimit -n)\" = 100 ] && [ \"\$(ulimit -Hn)\" = 200 ] && exit 7"],
 "env": ["FOO=bar"], "cwd": "$tmp", "rlimits": ["RLIMIT_NOFILE=100:200"], "hostname": "flat"}
JSON
expect 7 "flat config" KRUN_CONFIG="$tmp/flat.json" --
expect 5 "KRUN_INIT over the config's args" KRUN_CONFIG="$tmp/flat.json" KRUN_INIT=/bin/sh -- \
	-c '[ "$FOO" = bar ] && exit 5'
expect 0 "KRUN_RLIMITS over the config's" KRUN_CONFIG="$tmp/flat.json" KRUN_RLIMITS=7=50:60 \
	KRUN_INIT=/bin/sh -- -c '[ "$(ulimit -n)" = 50 ]'
# Above fs.nr_open even root cannot raise NOFILE; above the hard limit nobody else can.
nr_open=$(cat /proc/sys/fs/nr_open)
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -lt "$nr_open" ] && hard=$nr_open
expect 125 "rlimit that cannot be set" KRUN_INIT=/bin/true KRUN_RLIMITS="NOFILE=1:$((hard + 1))" --
stderr_has "kiln-init: setrlimit RLIMIT_NOFILE: Operation not permitted" "setrlimit message"
echo '{"process": {"args": ["/bin/sh", "-c", "exit 3"], "cwd": "/"}}' >"$tmp/oci.json"
expect 3 "OCI config" KRUN_CONFIG="$tmp/oci.json" --
echo '{"config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["exit 4"]}}' >"$tmp/docker.json"
expect 4 "Docker config" KRUN_CONFIG="$tmp/docker.json" --
echo '{"args": ["/bin/true"' >"$tmp/bad.json"
expect 125 "bad JSON" KRUN_CONFIG="$tmp/bad.json" --
stderr_has "kiln-init: $tmp/bad.json: bad JSON: expected ',' or ']' at end of input" "bad JSON message"
expect 125 "missing KRUN_CONFIG file" KRUN_CONFIG="$tmp/none.json" --

# Orphans are reaped, and do not hold up the workload's status.
start=$SECONDS
expect 3 "orphans" KRUN_INIT=/bin/sh -- -c '(sleep 30 >/dev/null 2>&1 &); exit 3'
[ $((SECONDS - start)) -lt 10 ] && passed=$((passed + 1)) ||
	{ failed=$((failed + 1)); echo "FAIL orphans held up the status"; }

# SIGTERM to init reaches the workload.
env -i KRUN_INIT=/bin/sh "$init" -c 'trap "exit 9" TERM; touch '"$tmp/ready"'; while :; do sleep 0.05; done' \
	</dev/null >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
kill -TERM $pid
wait $pid
got=$?
[ "$got" = 9 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL SIGTERM forwarding: status $got, want 9"; }

# The power button: KEY_POWER read from an event device ($KRUN_INPUT_DIR/event*; FIFOs stand in
# for evdev here) stops the workload with SIGTERM, then SIGKILL 10 s later.
# event TYPE CODE VALUE: one struct input_event as x86_64 lays it out (time zeroed).
event() { head -c 16 /dev/zero; printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
	$(($1 & 255)) $(($1 >> 8)) $(($2 & 255)) $(($2 >> 8)) $(($3 & 255)) 0 0 0)"; }
# power_run SCRIPT: kiln-init runs sh -c SCRIPT watching $tmp/input/event0 (held open on fd 3
# for writing, as a device stays); sets $pid.
power_run() {
	rm -rf "$tmp/input" "$tmp/ready"
	mkdir "$tmp/input"
	mkfifo "$tmp/input/event0"
	env -i KRUN_INPUT_DIR="$tmp/input" KRUN_INIT=/bin/sh "$init" -c "$1" </dev/null >/dev/null 2>"$tmp/err" &
	pid=$!
	for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
	exec 3>"$tmp/input/event0"
}
power_send() { # EVENTS...: each "TYPE CODE VALUE", all in one write, as evdev hands them out
	local e
	for e in "$@"; do event $e; done >"$tmp/ev"
	cat "$tmp/ev" >&3
}
power_run "touch $tmp/ready; exec sleep 100"
power_send "1 116 0" "1 30 1" "0 0 0" # KEY_POWER up, KEY_A down, SYN
sleep 0.5
kill -0 $pid 2>/dev/null && passed=$((passed + 1)) ||
	{ failed=$((failed + 1)); echo "FAIL power button: a release or another key stopped the workload"; }
power_send "4 4 0" "1 116 1" "0 0 0" # MSC_SCAN, KEY_POWER down, SYN
wait $pid
got=$?
exec 3>&-
[ "$got" = 143 ] && passed=$((passed + 1)) ||
	{ failed=$((failed + 1)); echo "FAIL power button: status $got, want 143 (SIGTERM)"; }
start=$SECONDS
power_run "trap '' TERM; touch $tmp/ready; while :; do sleep 0.1; done"
power_send "1 116 1" "0 0 0"
wait $pid
got=$?
exec 3>&-
[ "$got" = 137 ] && [ $((SECONDS - start)) -ge 9 ] && [ $((SECONDS - start)) -le 20 ] &&
	grep -qF "did not stop within 10 s" "$tmp/err" && passed=$((passed + 1)) ||
	{ failed=$((failed + 1)); echo "FAIL power button, TERM ignored: status $got after $((SECONDS - start)) s, want 137 after 10 s; stderr $(cat "$tmp/err")"; }

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
