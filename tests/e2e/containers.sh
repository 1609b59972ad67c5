# shellcheck shell=bash
# Checks of `kiln run` and the libkrun API on the Debian root (sourced by suite.sh,
# inside the test host, where the rootfs disk is mounted at /run/rootfs).
ROOT=${KILN_ROOTFS:-/run/rootfs}

# krun NAME ARGS...: kiln run with the Debian root; sets $log (stderr), $out (stdout), $rc.
krun() {
	local name=$1
	shift
	log=$E2E_WORK/$name.err
	out=$E2E_WORK/$name.out
	timeout -k 30 "${RUN_TIMEOUT:-300}" "$KILN" run --rootfs "$ROOT" "$@" <"${STDIN:-/dev/null}" >"$out" 2>"$log"
	rc=$?
}

check_run_status() {
	krun run-42 -- sh -c 'exit 42'
	check "kiln run: sh -c 'exit 42' exits 42" "$([ "$rc" = 42 ]; echo $?)" "exit $rc: $(tail -n3 "$log")"
	krun run-127 -- /no/such/program
	check "kiln run: a missing command exits 127" \
		"$([ "$rc" = 127 ] && grep -q "no/such/program" "$log"; echo $?)" "exit $rc: $(tail -n3 "$log")"
	krun run-126 -- /etc/passwd
	check "kiln run: a non-executable file exits 126" "$([ "$rc" = 126 ]; echo $?)" \
		"exit $rc: $(tail -n3 "$log")"
}

check_run_env() {
	krun run-env -e FOO=bar -e "SPACED=a b" -w /tmp --rlimit NOFILE=123:456 -- \
		sh -c 'echo "$FOO|$SPACED|$(pwd)|$(ulimit -n)|$(ulimit -Hn)|$HOME|$PATH"'
	check "kiln run: env, workdir and rlimits reach the command" \
		"$(grep -qx 'bar|a b|/tmp|123|456|/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$out"; echo $?)" \
		"exit $rc, got '$(cat "$out")' $(tail -n3 "$log")"
}

check_run_stdio() {
	head -c 3000000 /dev/urandom >"$E2E_WORK/stdin.bin"
	STDIN=$E2E_WORK/stdin.bin krun run-cat -- cat
	check "kiln run: stdin to stdout is binary-safe (3 MB through cat)" \
		"$([ "$rc" = 0 ] && cmp -s "$E2E_WORK/stdin.bin" "$out"; echo $?)" \
		"exit $rc, $(stat -c %s "$out") bytes out; $(tail -n3 "$log")"
	krun run-split -- sh -c 'echo to-out; echo to-err >&2; exit 3'
	check "kiln run: stdout and stderr stay separate" \
		"$([ "$rc" = 3 ] && [ "$(cat "$out")" = to-out ] && grep -qx to-err "$log" && ! grep -q to-err "$out"; echo $?)" \
		"exit $rc, out '$(cat "$out")', err '$(cat "$log")'"
	# A pipe, as in the README: echo hi | kiln run ... -- cat
	printf 'hi\n' | timeout -k 30 300 "$KILN" run --rootfs "$ROOT" -- cat >"$E2E_WORK/pipe.out" 2>&1
	check "kiln run: echo hi | kiln run -- cat" "$([ "$(cat "$E2E_WORK/pipe.out")" = hi ]; echo $?)" \
		"got '$(cat "$E2E_WORK/pipe.out")'"
}

# check_run_net: kiln run --net starts passt itself (through tests/e2e/passt.sh,
# named by KILN_PASST: passt cannot sandbox itself in the suite's chroot); the
# guest's init takes eth0 by DHCP, and the command fetches a page from the test
# host's loopback through the gateway address (passt maps it to the host) and
# shows /etc/resolv.conf, which must hold the DNS server that passt offered
# (told with --dns, not taken from the test host's resolv.conf, which may name
# a loopback resolver); on a read-only root too.
check_run_net() {
	local t=${TMPDIR:-/tmp}/kiln-run-net word="kiln-run-net-$RANDOM$RANDOM" port=8090 hpid dns py
	has_root || return
	rm -rf "$t" && mkdir -p "$t/www"
	echo "$word" >"$t/www/index.html"
	net_host_up
	python3 -m http.server --bind 127.0.0.1 --directory "$t/www" "$port" >"$E2E_WORK/run-net-httpd.log" 2>&1 &
	hpid=$!
	dns=198.51.100.53
	# The gateway from the default route, as the guest's init set it.
	py='import os, socket, struct, urllib.request
gw = [socket.inet_ntoa(struct.pack("<L", int(f[2], 16))) for f in map(str.split, open("/proc/net/route"))
      if f[1] == "00000000"][0]
print("gw=" + gw)
print("page=" + urllib.request.urlopen("http://%s:%s/" % (gw, os.environ["PORT"]), timeout=60).read().decode().strip())
print("resolv=" + open("/etc/resolv.conf").read().replace("\n", ";"))'
	# The root's own file names another server, which the guest must not show.
	cp -a "$ROOT/etc/resolv.conf" "$t/resolv.conf.orig"
	echo "nameserver 192.0.2.99" >"$ROOT/etc/resolv.conf"
	# A read-only root cannot take the file: the init mounts one over it.
	KILN_PASST=$TOP/tests/e2e/passt.sh PASST_ARGS="--dns $dns" krun run-net-ro --net --read-only -- cat /etc/resolv.conf
	check "kiln run --net --read-only: the DNS server in a resolv.conf mounted over the root's" \
		"$([ "$rc" = 0 ] && [ "$(cat "$out")" = "nameserver $dns" ]; echo $?)" \
		"exit $rc, out '$(tr '\n' ' ' <"$out")', err '$(tail -n5 "$log" | tr '\n' ' ')'"
	KILN_PASST=$TOP/tests/e2e/passt.sh PASST_ARGS="--dns $dns" krun run-net --net -e PORT=$port -- python3 -c "$py"
	cp -a "$t/resolv.conf.orig" "$ROOT/etc/resolv.conf"
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	check "kiln run --net: DHCP by the init, a page from the host's loopback through the gateway" \
		"$([ "$rc" = 0 ] && grep -qx "page=$word" "$out"; echo $?)" \
		"exit $rc, out '$(tr '\n' ' ' <"$out")', err '$(tail -n5 "$log" | tr '\n' ' ')'"
	check "kiln run --net: /etc/resolv.conf holds the DNS server passt offered ($dns)" \
		"$(grep -qx "resolv=nameserver $dns;" "$out"; echo $?)" "guest's '$(grep ^resolv= "$out")'"
	sleep 1
	check "kiln run --net: passt ends with the VM" \
		"$(! pgrep -f "passt.*--fd" >/dev/null; echo $?)" "$(pgrep -af passt)"
	PATH=/nonexistent "$KILN" run --rootfs "$ROOT" --net -- true >"$E2E_WORK/run-net-nopasst.err" 2>&1
	rc=$?
	check "kiln run --net without passt: one clear error, exit 125" \
		"$([ "$rc" = 125 ] && grep -q "passt not found: install the passt package" "$E2E_WORK/run-net-nopasst.err"; echo $?)" \
		"exit $rc: $(cat "$E2E_WORK/run-net-nopasst.err")"
}

check_run_fs() {
	local big=${KILN_FS_BIG_BYTES:-1073741824} hmd5 v
	echo "SECRET-$RANDOM" >/run/kiln-outside-secret
	cp "$TOP/tests/e2e/fs-suite.sh" "$ROOT/root/fs-suite.sh"
	# Where apt's unprivileged download user (_apt) may read it: not /root (mode 700).
	mkdir -p -m 755 "$ROOT/kiln-debs"
	cp "$IMAGES"/debs/hello_*.deb "$ROOT/kiln-debs/" 2>/dev/null && chmod 644 "$ROOT"/kiln-debs/*.deb
	head -c 8000000 /dev/urandom >"$ROOT/root/hostfile"
	hmd5=$(md5sum <"$ROOT/root/hostfile" | cut -d" " -f1)
	# The nested test host runs this guest at a small fraction of native speed:
	# 10 000 files and a 1 GiB file take minutes there.
	# The guest's progress reaches the console as it comes ("... " lines): the
	# stall watchdog of tests/e2e/l1.sh counts them.
	(
		n=0
		while sleep 20; do
			m=$(wc -l <"$E2E_WORK/run-fs.out" 2>/dev/null || echo 0)
			[ "$m" != "$n" ] && echo "... guest fs: $(tail -n1 "$E2E_WORK/run-fs.out")"
			n=$m
		done
	) &
	local progress=$!
	RUN_TIMEOUT=1800 krun run-fs -e KILN_FS_BIG="$big" -- /root/fs-suite.sh
	kill "$progress" 2>/dev/null
	while read -r line; do
		case $line in
		FS-PASS*) ok "guest fs: ${line#FS-PASS }" ;;
		FS-FAIL*) bad "guest fs: ${line#FS-FAIL }" "" ;;
		esac
	done <"$out"
	check "guest fs: the suite ran to the end" "$(grep -q FS-DONE "$out"; echo $?)" \
		"exit $rc: $(tail -n5 "$log")"
	v=$(sed -n 's/^FS-VALUE hostfile_md5 //p' "$out")
	check "guest fs: a file written on the host reads the same in the guest" \
		"$([ "$v" = "$hmd5" ]; echo $?)" "host $hmd5, guest $v"
	v=$(sed -n 's/^FS-VALUE bigfile_md5 //p' "$out")
	check "guest fs: a $((big >> 20)) MiB file written in the guest has the same checksum on the host" \
		"$([ -n "$v" ] && [ "$v" = "$(md5sum <"$ROOT/kiln-fs-test/bigfile" | cut -d" " -f1)" ]; echo $?)" \
		"guest '$v'"
	check "guest fs: mmap shared writes reach the host file" \
		"$([ "$(dd if="$ROOT/kiln-fs-test/mm" bs=1 skip=100 count=8 2>/dev/null)" = MMAPDATA ]; echo $?)" \
		"host reads '$(dd if="$ROOT/kiln-fs-test/mm" bs=1 skip=100 count=8 2>/dev/null)'"
	check "guest fs: chown is real on the host" \
		"$([ "$(stat -c %u:%g "$ROOT/kiln-fs-test/a")" = 1234:5678 ]; echo $?)" \
		"$(stat -c %u:%g "$ROOT/kiln-fs-test/a")"
	v=$(find "$ROOT/kiln-fs-test/big" -maxdepth 1 -type f -name 'entry-*' 2>/dev/null | wc -l)
	check "guest fs: the 10000 entries made in the guest are on the host" "$([ "$v" = 10000 ]; echo $?)" \
		"the host sees $v"
	rm -rf "$ROOT/kiln-fs-test" "$ROOT/kiln-debs"
}

check_run_volume() {
	local share=$TMPDIR/share
	mkdir -p "$share" && echo from-host >"$share/in"
	krun run-vol -v "$share:data" -v "$share:dataro:ro" -- sh -c \
		'mkdir -p /mnt/a /mnt/b && mount -t virtiofs data /mnt/a && mount -t virtiofs dataro /mnt/b &&
		 cat /mnt/a/in && echo from-guest >/mnt/a/out && ! echo x 2>/dev/null >/mnt/b/nope'
	check "kiln run -v: shares by tag, read-write and read-only" \
		"$([ "$rc" = 0 ] && grep -qx from-host "$out" && [ "$(cat "$share/out")" = from-guest ] && [ ! -e "$share/nope" ]; echo $?)" \
		"exit $rc, out '$(cat "$out")' $(tail -n3 "$log")"
}

check_run_abi() { # the installed header and libkrun.so.1, as crun uses them
	local inst=$E2E_WORK/inst lib
	lib=$(find "$inst" -name libkrun.so.1 | head -n1)
	check "install: libkrun.so.1, libkrun.h and libkrun.pc are installed" \
		"$([ -n "$lib" ] && [ -f "$inst/usr/local/include/libkrun.h" ] && find "$inst" -name libkrun.pc | grep -q .; echo $?)" \
		"$(find "$inst" | head -20)"
	LD_LIBRARY_PATH=$(dirname "$lib") timeout 300 "$E2E_WORK/abi-client" "$ROOT" /bin/sh -c \
		'[ "$KILN_ABI" = yes ] && exit 7' >"$E2E_WORK/abi.out" 2>&1
	rc=$?
	check "libkrun client (dlopen libkrun.so.1): set_root, set_exec, start_enter exits 7" \
		"$([ "$rc" = 7 ]; echo $?)" "exit $rc: $(tail -n3 "$E2E_WORK/abi.out")"
}

# krun_bg NAME ARGS...: kiln run in the background; sets $pid, $log, $out. Wait for output with
# wait_out TEXT SECONDS.
krun_bg() {
	local name=$1
	shift
	log=$E2E_WORK/$name.err
	out=$E2E_WORK/$name.out
	"$KILN" run --rootfs "$ROOT" "$@" </dev/null >"$out" 2>"$log" &
	pid=$!
}
wait_out() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q "$1" "$out" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

check_run_stop() { # SIGTERM to kiln run stops the workload in order: the power button, then SIGTERM
	local name="kiln run: SIGTERM stops the workload in order (exit 143 = SIGTERM) within 15 s" t
	krun_bg run-stop --krun-log-level 3 -- sh -c 'echo up; exec sleep 1000'
	if ! wait_out up 120; then
		kill -9 "$pid" 2>/dev/null
		bad "$name" "the workload never started: $(tail -n3 "$log")"
		return
	fi
	t=$SECONDS
	kill -TERM "$pid"
	if wait_gone 15; then
		check "$name" "$([ "$rc" = 143 ] && grep -q "pressed the power button" "$log"; echo $?)" \
			"exit $rc after $((SECONDS - t)) s: $(tail -n3 "$log")"
		check "kiln run: the VM is gone after the orderly stop" \
			"$(! pgrep -f "exec sleep 1000" >/dev/null; echo $?)" \
			"$(pgrep -af "kiln run")"
	else
		kill -9 "$pid"
		bad "$name" "still running 15 s later: $(tail -n3 "$log")"
	fi
	# A workload that ignores SIGTERM: a second SIGTERM stops the VM at once.
	name="kiln run: a second SIGTERM stops the VM at once (exit 143)"
	krun_bg run-stop2 -- sh -c "trap '' TERM; echo up; while :; do sleep 1; done"
	if ! wait_out up 120; then
		kill -9 "$pid" 2>/dev/null
		bad "$name" "the workload never started: $(tail -n3 "$log")"
		return
	fi
	kill -TERM "$pid"
	sleep 1
	kill -TERM "$pid"
	if wait_gone 5; then
		check "$name" "$([ "$rc" = 143 ]; echo $?)" "exit $rc: $(tail -n3 "$log")"
	else
		kill -9 "$pid"
		bad "$name" "still running 5 s later: $(tail -n3 "$log")"
	fi
}

# has_root: the Debian root is there, else one failure that says so.
has_root() {
	[ -x "$ROOT/bin/sh" ] && return 0
	bad "kiln run" "no Debian root at $ROOT (make setup: scripts/rootfs.sh)"
	return 1
}

check_containers() {
	has_root || return
	for c in check_run_status check_run_env check_run_stdio check_run_volume check_run_abi \
		check_run_stop check_run_net check_run_fs; do
		echo "--- $c (at ${SECONDS}s)"
		$c
	done
}
