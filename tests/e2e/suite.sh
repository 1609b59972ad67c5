#!/bin/bash
# The end-to-end checks, run inside the nested test host (needs /dev/kvm).
# Each check boots kiln with a stock Debian kernel and the test initramfs,
# whose init runs the check named by kiln.test= (guest-init.sh).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"
pass=0
fail=0
data=$E2E_WORK/data
mkdir -p "$data"

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
check() { # name condition-result detail
	if [ "$2" = 0 ]; then ok "$1"; else bad "$1" "$3"; fi
}

# kiln_cmd FLAVOUR CPUS MEM TEST [kiln args...]: the command line to boot a test guest.
kiln_cmd() {
	local flavour=$1 cpus=$2 mem=$3 t=$4
	shift 4
	cmd=("$KILN" --cpus "$cpus" --memory "$mem" --kernel "$IMAGES/$flavour/vmlinuz"
		--initrd "$IMAGES/$flavour/guest.cpio.gz"
		--kernel-cmdline "console=hvc0 quiet panic=-1 kiln.test=$t ${GUEST_ARGS:-}" "$@")
}

# boot NAME FLAVOUR CPUS MEM TEST [kiln args...]: run to completion; sets $log, $rc.
boot() {
	local name=$1
	shift
	log=$E2E_WORK/$name.log
	kiln_cmd "$@"
	timeout 240 "${cmd[@]}" <"${STDIN:-/dev/null}" >"$log" 2>&1
	rc=$?
}

# start NAME FLAVOUR CPUS MEM TEST [kiln args...]: boot in the background; sets $pid.
start() {
	local name=$1
	shift
	log=$E2E_WORK/$name.log
	kiln_cmd "$@"
	"${cmd[@]}" <"${STDIN:-/dev/null}" >"$log" 2>&1 &
	pid=$!
}

# wait_for PATTERN SECONDS: until the log shows PATTERN.
wait_for() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		grep -qs "$1" "$log" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}

result() { sed -n 's/^KILN-RESULT [^ ]* INFO //p' "$log" | tr -d '\r' | tail -n1; }

# ---- checks ----

check_info() { # flavour cpus mem
	local f=$1 cpus=$2 mem=$3 r n kb
	boot "info-$f-$cpus" "$f" "$cpus" "$mem" info
	r=$(result)
	n=$(sed -n 's/.*nproc=\([0-9]*\).*/\1/p' <<<"$r")
	kb=$(sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p' <<<"$r")
	check "$f: nproc = --cpus $cpus" "$([ "$rc" = 0 ] && [ "${n:-0}" = "$cpus" ]; echo $?)" \
		"exit $rc, '$r'"
	# The kernel keeps some RAM for itself; MemTotal is a little below --memory.
	check "$f: MemTotal matches --memory $mem" \
		"$([ "${kb:-0}" -le $((mem * 1024)) ] && [ "${kb:-0}" -ge $((mem * 1024 * 80 / 100)) ]; echo $?)" \
		"MemTotal ${kb:-?} kB"
}

check_elf() { # the same kernel as an ELF vmlinux instead of a bzImage
	local r
	log=$E2E_WORK/elf.log
	timeout 240 "$KILN" --cpus 2 --memory 256 --kernel "$IMAGES/cloud/vmlinux" \
		--initrd "$IMAGES/cloud/guest.cpio.gz" \
		--kernel-cmdline "console=hvc0 quiet panic=-1 kiln.test=info" </dev/null >"$log" 2>&1
	rc=$?
	r=$(result)
	check "ELF vmlinux boots (nproc 2)" "$([ "$rc" = 0 ] && [[ $r == nproc=2\ * ]]; echo $?)" \
		"exit $rc, '$r'"
}

check_echo() { # the host types a line once the guest is up; the guest sends it back
	local word="ping-$RANDOM$RANDOM" fifo=${TMPDIR:-/tmp}/kiln-e2e-stdin
	rm -f "$fifo"
	mkfifo "$fifo" # on tmpfs: the 9p work folder cannot hold FIFOs
	STDIN=$fifo start echo cloud 1 256 echo
	exec 3>"$fifo"
	if wait_for KILN-GUEST-READY 180; then
		printf '%s\n' "$word" >&3
		wait_for "KILN-RESULT echo" 60
	fi
	exec 3>&-
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	check "hvc0 echoes input" "$([ "$(result)" = "echo:$word" ]; echo $?)" "got '$(result)'"
}

check_rng() {
	boot rng cloud 1 256 rng --device virtio-rng
	check "virtio-rng delivers bytes" \
		"$([ "$(result)" = "rng_current=virtio_rng.0 bytes=256" ]; echo $?)" "got '$(result)'"
}

check_blk_read() {
	local sum
	head -c $((8 << 20)) /dev/urandom >"$data/read.img"
	sum=$(sha256sum "$data/read.img" | cut -d' ' -f1)
	boot blk-read cloud 2 256 blk-read --device "virtio-blk,path=$data/read.img"
	check "block image reads back with its checksum" \
		"$([ "$(result)" = "sha256=$sum" ]; echo $?)" "host $sum, guest '$(result)'"
}

check_blk_sync_kill() {
	local tag=$RANDOM$RANDOM
	truncate -s 4M "$data/write.img"
	GUEST_ARGS="kiln.tag=$tag" start blk-write cloud 1 256 blk-write \
		--device "virtio-blk,path=$data/write.img"
	if wait_for "KILN-RESULT blk-write INFO synced" 180; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		check "write + sync survives kill -9 of kiln" \
			"$(grep -q "kiln-sync-marker-$tag" "$data/write.img"; echo $?)" \
			"marker not in the host file"
	else
		kill -9 "$pid" 2>/dev/null
		bad "write + sync survives kill -9 of kiln" "guest never synced"
	fi
}

check_blk_ro() {
	local before after
	head -c $((1 << 20)) /dev/urandom >"$data/ro.img"
	before=$(sha256sum <"$data/ro.img")
	boot blk-ro cloud 1 256 blk-ro --device "virtio-blk,path=$data/ro.img,readonly"
	after=$(sha256sum <"$data/ro.img")
	check "read-only disk refuses writes" \
		"$([ "$(result)" = "write=refused" ] && [ "$before" = "$after" ]; echo $?)" \
		"guest '$(result)'"
}

check_blk_discard() { # DISCARD punches holes in the host file
	local before after img=${TMPDIR:-/tmp}/kiln-discard.img # tmpfs: 9p cannot punch holes
	head -c $((16 << 20)) /dev/urandom >"$img"
	before=$(du -k "$img" | cut -f1)
	boot blk-discard cloud 1 256 blk-discard --device "virtio-blk,path=$img"
	after=$(du -k "$img" | cut -f1)
	rm -f "$img"
	check "discard frees space in the host file" \
		"$([ "$(result)" = discarded ] && [ "$after" -lt $((before / 2)) ]; echo $?)" \
		"guest '$(result)', host file ${before} kB -> ${after} kB"
}

check_blk_qcow2() { # qemu-img makes the image, the guest reads and writes it, qemu-img checks it
	local img=$data/disk.qcow2 r first written read host
	rm -f "$img"
	qemu-img create -q -f qcow2 "$img" 64M &&
		qemu-io -f qcow2 -c 'write -P 0xab 0 1M' "$img" >/dev/null ||
		{ bad "qcow2 image written and read by the guest" "qemu-img failed"; return; }
	first=$(head -c $((1 << 20)) /dev/zero | tr '\0' '\253' | sha256sum | cut -d' ' -f1)
	boot blk-qcow2 cloud 1 256 blk-qcow2 --device "virtio-blk,path=$img,format=qcow2"
	r=$(result)
	written=$(sed -n 's/.*written=\([0-9a-f]*\).*/\1/p' <<<"$r")
	read=$(sed -n 's/.*read=\([0-9a-f]*\).*/\1/p' <<<"$r")
	host=$(qemu-img convert -O raw "$img" "$data/disk-qcow2.raw" &&
		dd if="$data/disk-qcow2.raw" bs=1M skip=8 count=4 2>/dev/null | sha256sum | cut -d' ' -f1)
	rm -f "$data/disk-qcow2.raw"
	check "qcow2 image written and read by the guest, clean for qemu-img check" \
		"$([ "$rc" = 0 ] && [[ $r == first=$first\ * ]] && [ -n "$written" ] &&
			[ "$read" = "$written" ] && [ "$host" = "$written" ] &&
			qemu-img check -q "$img"; echo $?)" \
		"exit $rc, guest '$r', host $host"
}

check_exit() { # name test expected-status [stderr pattern]
	boot "exit-$2" cloud 1 256 "$2"
	check "$1 exits with status $3" \
		"$([ "$rc" = "$3" ] && { [ -z "${4:-}" ] || grep -q "$4" "$log"; }; echo $?)" \
		"exit $rc"
}

check_sigterm() { # also: --pidfile exists while the VM runs, --log-file gets kiln's log
	local pidfile=${TMPDIR:-/tmp}/kiln-e2e.pid klog=$E2E_WORK/kiln-own.log
	rm -f "$pidfile" "$klog"
	start sigterm cloud 1 256 sleep --pidfile "$pidfile" --log-file "$klog" --krun-log-level 3
	if wait_for "KILN-RESULT sleep INFO sleeping" 180; then
		check "--pidfile holds kiln's pid while it runs" \
			"$([ "$(cat "$pidfile" 2>/dev/null)" = "$pid" ]; echo $?)" "pidfile '$(cat "$pidfile" 2>/dev/null)', pid $pid"
		kill -TERM "$pid"
		for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid"
			bad "SIGTERM stops the VM" "still running 10 s later"
		else
			wait "$pid"
			check "SIGTERM stops the VM" "$([ $? = 0 ]; echo $?)" "bad exit status"
			check "--pidfile removed and --log-file written at the end" \
				"$([ ! -e "$pidfile" ] && grep -q "stopping the VM on signal 15" "$klog"; echo $?)" \
				"pidfile left or log '$(cat "$klog" 2>/dev/null)'"
		fi
	else
		kill -9 "$pid" 2>/dev/null
		bad "SIGTERM stops the VM" "guest never came up"
	fi
}

# wait_gone SECONDS: until $pid has exited (then sets $rc to its status); 1 if it is still running.
wait_gone() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; return 0; }
		sleep 0.1
	done
	return 1
}

check_powerbutton() { # libkrun's shutdown eventfd presses the ACPI power button; busybox acpid acts on it
	local lib name="power button (krun_get_shutdown_eventfd): busybox acpid powers the guest off, exit 0"
	lib=$(find "$E2E_WORK/inst" -name libkrun.so.1 | head -n1)
	log=$E2E_WORK/powerbutton.log
	LD_LIBRARY_PATH=$(dirname "$lib") "$E2E_WORK/abi-client" --power-button "$IMAGES/cloud/vmlinuz" \
		"$IMAGES/cloud/guest.cpio.gz" "console=hvc0 quiet panic=-1 kiln.test=powerbutton" \
		</dev/null >"$log" 2>&1 &
	pid=$!
	if ! wait_for "KILN-RESULT powerbutton INFO listening" 180; then
		kill -9 "$pid" 2>/dev/null
		bad "$name" "guest never came up: $(tail -n3 "$log")"
		return
	fi
	check "the guest has one ACPI power button" \
		"$([ "$(result)" = "listening 1 button(s)" ]; echo $?)" "got '$(result)'"
	kill -HUP "$pid" # the client writes the eventfd
	if wait_gone 30; then
		check "$name" "$([ "$rc" = 0 ] && [ "$(result)" = pressed ]; echo $?)" \
			"exit $rc, last result '$(result)'"
	else
		kill -9 "$pid"
		bad "$name" "still running 30 s later: $(tail -n3 "$log")"
	fi
}

# rest URI get|stop|hardstop|abuse: one exchange with kiln's REST server (tests/e2e/rest-client.py).
rest() { python3 "$TOP/tests/e2e/rest-client.py" "$@"; }

REST_RUNNING='{"state":"VirtualMachineStateRunning","canStart":false,"canPause":false,"canResume":false,"canStop":true,"canHardStop":true}'

# krunkit's REST API: state, hostile clients, an orderly Stop (over TCP, the guest's acpid
# powers off) and a HardStop (over a unix socket, the guest ignores the button); the pidfile,
# --log-file and virtio-serial,logFilePath around them.
check_rest() {
	local port=$((20000 + RANDOM % 20000)) tmp=${TMPDIR:-/tmp} r out gone
	local pidfile=$tmp/kiln-rest.pid sock=$tmp/kiln-rest.sock klog=$E2E_WORK/rest-kiln.log
	local console=$E2E_WORK/rest-console.log
	ip link set lo up 2>/dev/null
	rm -f "$pidfile" "$sock" "$klog" "$console"

	start rest-tcp cloud 1 256 powerbutton --restful-uri "tcp://127.0.0.1:$port" --pidfile "$pidfile"
	if ! wait_for "KILN-RESULT powerbutton INFO listening" 180; then
		kill -9 "$pid" 2>/dev/null
		bad "REST: GET /vm/state" "guest never came up: $(tail -n3 "$log")"
		return
	fi
	r=$(rest "tcp://127.0.0.1:$port" get)
	check "REST (tcp): GET /vm/state is vfkit's JSON" "$([ "$r" = "200 $REST_RUNNING" ]; echo $?)" "got '$r'"
	check "--pidfile holds kiln's pid while it runs" \
		"$([ "$(cat "$pidfile" 2>/dev/null)" = "$pid" ]; echo $?)" "pidfile '$(cat "$pidfile" 2>/dev/null)', pid $pid"
	out=$(rest "tcp://127.0.0.1:$port" abuse)
	check "REST: garbage, oversized, slow, wrong method/path/state get 4xx" \
		"$([ "$out" = "garbage=400 binary=400 huge-head=431 huge-body=413 bad-method=405 bad-path=404 bad-state=400 bad-json=400 half-closed=400 get-while-flooded=200 flooded-get-fast=yes slow=408 slow-after-5s=yes" ]; echo $?)" "got '$out'"
	r=$(rest "tcp://127.0.0.1:$port" get)
	check "REST: the VM runs on after hostile clients" \
		"$(kill -0 "$pid" && [ "$r" = "200 $REST_RUNNING" ]; echo $?)" "got '$r'"
	r=$(rest "tcp://127.0.0.1:$port" stop)
	check "REST: POST Stop answers Stopping" \
		"$([[ $r == "200 "*'"state":"VirtualMachineStateStopping"'*'"canStop":false'* ]]; echo $?)" "got '$r'"
	if wait_gone 10; then
		check "REST: POST Stop powers the guest off in order within 10 s, exit 0" \
			"$([ "$rc" = 0 ] && [ "$(result)" = pressed ]; echo $?)" "exit $rc, last result '$(result)'"
		r=$(rest "tcp://127.0.0.1:$port" get)
		check "--pidfile removed and the REST port closed at the end" \
			"$([ ! -e "$pidfile" ] && [[ $r == refused* ]]; echo $?)" "pidfile $(ls "$pidfile" 2>&1), GET '$r'"
	else
		kill -9 "$pid"
		bad "REST: POST Stop powers the guest off in order within 10 s, exit 0" "still running: $(tail -n3 "$log")"
	fi

	# The console goes to a file (virtio-serial,logFilePath); the sleep test ignores the button.
	start rest-unix cloud 1 256 sleep --restful-uri "unix://$sock" --log-file "$klog" \
		--krun-log-level 3 --device "virtio-serial,logFilePath=$console"
	log=$console
	if ! wait_for "KILN-RESULT sleep INFO sleeping" 180; then
		kill -9 "$pid" 2>/dev/null
		bad "REST (unix): HardStop" "guest never came up: $(tail -n3 "$E2E_WORK/rest-unix.log")"
		return
	fi
	check "virtio-serial,logFilePath gets the guest console" \
		"$(grep -q KILN-GUEST-READY "$console"; echo $?)" "$(head -c 300 "$console")"
	r=$(rest "unix://$sock" get)
	check "REST (unix): GET /vm/state is vfkit's JSON" "$([ "$r" = "200 $REST_RUNNING" ]; echo $?)" "got '$r'"
	r=$(rest "unix://$sock" hardstop)
	if wait_gone 3; then
		check "REST: POST HardStop ends the VM at once, exit 0" \
			"$([ "$rc" = 0 ] && [[ $r == "200 "*Stopping* ]]; echo $?)" "exit $rc, answer '$r'"
		check "REST: the unix socket is removed, --log-file has kiln's log" \
			"$([ ! -e "$sock" ] && grep -q "hard stop was requested" "$klog"; echo $?)" \
			"socket $(ls "$sock" 2>&1), log '$(tail -n3 "$klog" 2>/dev/null)'"
	else
		kill -9 "$pid"
		bad "REST: POST HardStop ends the VM at once, exit 0" "still running 3 s later (answer '$r')"
	fi
}

# rss_mb: kiln's ($pid) resident memory in MiB; guest RAM counts once touched.
rss_mb() { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$pid/status" 2>/dev/null; }

# balloon_run NAME MB SECONDS [kiln args...]: a 1 GiB guest fills MB MiB, frees it on our word,
# and we watch kiln's RSS for up to SECONDS until it has dropped by MB/2. Sets $booted,
# $filled, $freed (RSS in MiB after boot, filled, at the end), $fill_s (seconds the
# guest took to fill) and $waited (seconds from freed to the end).
balloon_run() {
	local name=$1 mb=$2 secs=$3 fifo=${TMPDIR:-/tmp}/kiln-e2e-balloon
	shift 3
	local t
	booted=? filled=? freed=? fill_s=? waited=0
	rm -f "$fifo"
	mkfifo "$fifo"
	GUEST_ARGS="kiln.mb=$mb" STDIN=$fifo start "$name" cloud 1 1024 balloon "$@"
	exec 3>"$fifo"
	wait_for KILN-GUEST-READY 180 && booted=$(rss_mb)
	t=$SECONDS
	if wait_for "KILN-RESULT balloon INFO fill" 300 && [[ $(result) == filled* ]]; then
		fill_s=$((SECONDS - t))
		filled=$(rss_mb)
		echo free >&3
		if wait_for "KILN-RESULT balloon INFO freed" 60; then
			for ((waited = 0; waited < secs; waited++)); do
				freed=$(rss_mb)
				[ $((filled - freed)) -ge $((mb / 2)) ] && break
				sleep 1
			done
			freed=$(rss_mb)
		fi
	fi
	exec 3>&-
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# check_balloon: free page reporting gives what the guest frees back to the host (kiln's RSS
# drops); with --no-balloon it stays resident.
check_balloon() {
	local mb=512 on off
	balloon_run balloon "$mb" 60
	on="RSS ${booted} MiB booted, ${filled} MiB filled (in ${fill_s} s), ${freed} MiB ${waited} s after freeing"
	echo "... balloon: guest fills and frees $mb MiB: $on"
	check "balloon: the guest frees $mb MiB, kiln's RSS drops by half of that or more" \
		"$([[ $filled == [0-9]* && $freed == [0-9]* ]] && [ $((filled - freed)) -ge $((mb / 2)) ]; echo $?)" \
		"$on; guest '$(result)'"
	# As long as the balloon needed, and some more: without it, nothing comes back.
	balloon_run balloon-off "$mb" $((waited + 10)) --no-balloon
	off="RSS ${booted} MiB booted, ${filled} MiB filled (in ${fill_s} s), ${freed} MiB ${waited} s after freeing"
	echo "... balloon: the same with --no-balloon: $off"
	check "balloon: with --no-balloon the RSS stays" \
		"$([[ $filled == [0-9]* && $freed == [0-9]* ]] && [ $((filled - freed)) -lt $((mb / 4)) ] &&
			[ "$(result)" = freed ]; echo $?)" "$off; guest '$(result)'"
}

# count PATTERN: lines of the log that match.
count() { grep -c "$1" "$log" 2>/dev/null; }

check_vsock() { # podman's ready port, host clients of guest services, either side closing
	local d=${TMPDIR:-/tmp}/kiln-vsock host=$TOP/tests/e2e/vsock-host.py r rpid i
	local ready_name="vsock: podman's ready signal (guest -> host port 1025, listen)"
	rm -rf "$d" && mkdir -p "$d" # tmpfs: the 9p work folder cannot hold sockets
	python3 "$host" ready "$d/ready.sock" "$d/ready.out" &
	rpid=$!
	for _ in $(seq 50); do [ -S "$d/ready.sock" ] && break; sleep 0.1; done
	start vsock cloud 2 256 vsock --device "virtio-vsock,port=1025,socketURL=$d/ready.sock,listen" \
		--device "virtio-vsock,port=5000,socketURL=$d/echo.sock,connect" \
		--device "virtio-vsock,port=5001,socketURL=$d/greet.sock,connect"
	if ! wait_for "KILN-RESULT vsock INFO" 180; then
		kill -9 "$pid" "$rpid" 2>/dev/null
		bad "$ready_name" "the guest never reported: $(tail -n3 "$log")"
		return
	fi
	wait "$rpid"
	check "$ready_name" "$([ "$(cat "$d/ready.out")" = Ready ] && [[ $(result) == ready-sent=0* ]]; echo $?)" \
		"host read '$(cat "$d/ready.out" 2>/dev/null)', guest '$(result)'"
	check "vsock: a port nobody maps is refused at once (RST)" \
		"$([[ $(result) == *unmapped=refused ]]; echo $?)" "guest '$(result)'"
	r=$(timeout 180 python3 "$host" echo "$d/echo.sock" 5 262144 2>&1)
	check "vsock: 5 concurrent host clients of a guest echo service (connect)" \
		"$([ "$r" = ok ]; echo $?)" "$r"
	r=$(timeout 300 python3 "$host" echo "$d/echo.sock" 1 $((4 << 20)) 2>&1)
	check "vsock: 4 MiB each way through one stream, checksummed (flow control)" \
		"$([ "$r" = ok ]; echo $?)" "$r"
	r=$(timeout 60 python3 "$host" read "$d/greet.sock" 2>&1)
	check "vsock: the guest closing ends the host client's stream" \
		"$([ "$r" = bye-from-guest ]; echo $?)" "got '$r'"
	timeout 60 python3 "$host" hostclose "$d/echo.sock" >/dev/null 2>&1
	for ((i = 0; i < 60; i++)); do [ "$(count "KILN-VSOCK echo")" -ge 7 ] && break; sleep 0.5; done
	r=$(timeout 60 python3 "$host" echo "$d/echo.sock" 1 1000 2>&1)
	check "vsock: a host client closing ends the guest's stream; the device keeps serving" \
		"$([ "$(count "KILN-VSOCK echo")" -ge 7 ] && [ "$r" = ok ]; echo $?)" \
		"guest saw $(count "KILN-VSOCK echo") echo streams end, then '$r'"
	kill -TERM "$pid"
	if wait_gone 30; then
		check "vsock: kiln ends cleanly and removes the sockets it listened on" \
			"$([ "$rc" = 0 ] && [ ! -e "$d/echo.sock" ] && [ ! -e "$d/greet.sock" ]; echo $?)" \
			"exit $rc, left: $(ls "$d")"
	else
		kill -9 "$pid"
		bad "vsock: kiln ends cleanly" "still running 30 s after SIGTERM"
	fi
}

# run_passt SOCKET ARGS...: passt serving SOCKET, from the chroot too (passt.sh).
run_passt() {
	local sock=$1
	shift
	"$TOP/tests/e2e/passt.sh" -s "$sock" "$@"
}

# net_host_up: the test host has only loopback; passt takes its addresses from
# an interface with a default route, so it gets a dummy one.
net_host_up() {
	ip link set lo up
	ip link show kiln-up0 >/dev/null 2>&1 || ip link add kiln-up0 type dummy
	ip link set kiln-up0 up
	ip addr replace 192.168.77.2/24 dev kiln-up0
	ip route replace default via 192.168.77.1 dev kiln-up0
}

# check_net: the guest gets an address from passt by DHCP on eth0 and fetches a
# page from the test host's loopback; eth1 (unixgram, vfkitMagic) and eth2
# (unixstream) are wired to net-junk.py, which sends garbage: the guest and
# kiln must not mind.
check_net() {
	local t=${TMPDIR:-/tmp}/kiln-net word="kiln-net-$RANDOM$RANDOM" port=8089 pids=() r
	rm -rf "$t" && mkdir -p "$t/www" && chmod 777 "$t" # passt binds its socket as nobody
	echo "$word" >"$t/www/index.html"
	net_host_up
	python3 -m http.server --bind 127.0.0.1 --directory "$t/www" "$port" >"$E2E_WORK/net-httpd.log" 2>&1 &
	pids+=($!)
	run_passt "$t/passt.sock" -f -e -1 -4 >"$E2E_WORK/net-passt.log" 2>&1 &
	pids+=($!)
	"$TOP/tests/e2e/net-junk.py" gram "$t/gram.sock" "$t/magic" >"$E2E_WORK/net-junk-gram.log" 2>&1 &
	pids+=($!)
	"$TOP/tests/e2e/net-junk.py" stream "$t/stream.sock" >"$E2E_WORK/net-junk-stream.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		[ -S "$t/passt.sock" ] && [ -S "$t/gram.sock" ] && [ -S "$t/stream.sock" ] && break
		sleep 0.2
	done
	GUEST_ARGS="kiln.port=$port" boot net cloud 1 256 net \
		--device "virtio-net,type=unixstream,path=$t/passt.sock,mac=5a:94:ef:e4:0c:10" \
		--device "virtio-net,type=unixgram,path=$t/gram.sock,vfkitMagic=on,offloading=on" \
		--device "virtio-net,type=unixstream,path=$t/stream.sock"
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	r=$(result)
	check "virtio-net: DHCP from passt, a page from the host's loopback through the gateway" \
		"$([[ $r == *"page=$word"* ]]; echo $?)" "exit $rc, '$r', passt: $(tail -n2 "$E2E_WORK/net-passt.log" | tr '\n' ' ')"
	check "virtio-net: three NICs, eth0 with its mac=, eth2 with the default MAC" \
		"$([[ $r == *"nics=3 mac=5a:94:ef:e4:0c:10 macs=5a:94:ef:e4:0c:10,5a:94:ef:e4:0c:ef,5a:94:ef:e4:0c:f0,"* ]]; echo $?)" "'$r'"
	check "virtio-net: unixgram sends the VFKT magic first" \
		"$([ "$(cat "$t/magic" 2>/dev/null)" = VFKT ]; echo $?)" "got '$(cat "$t/magic" 2>/dev/null)'"
	check "virtio-net: garbage from two backends leaves kiln running to a clean exit" \
		"$([ "$rc" = 0 ]; echo $?)" "exit $rc: $(grep -v KILN "$log" | tail -n3 | tr '\n' ' ')"
}

check_errors() {
	"$KILN" --kernel /nonexistent/vmlinuz >"$E2E_WORK/err1.log" 2>&1
	check "missing kernel: one clear error" \
		"$([ $? = 1 ] && grep -q "kernel /nonexistent/vmlinuz: not found" "$E2E_WORK/err1.log"; echo $?)" \
		"$(cat "$E2E_WORK/err1.log")"
	"$KILN" --memory 64G --kernel "$IMAGES/cloud/vmlinuz" >"$E2E_WORK/err2.log" 2>&1
	check "too much memory: one clear error" \
		"$([ $? = 1 ] && grep -q "more than this host has" "$E2E_WORK/err2.log"; echo $?)" \
		"$(cat "$E2E_WORK/err2.log")"
}

[ -c /dev/kvm ] || { echo "FAIL no /dev/kvm in the test host"; echo "0 passed, 1 failed"; exit 1; }
skip=0
if [ "${1:-}" = --skip ]; then
	# The default list less its first N checks: run.sh resumes a test host that stalled.
	skip=$2
	shift 2
fi
if [ $# -gt 0 ]; then
	# Only the named checks, e.g. suite.sh check_echo "check_info cloud 1 256".
	checks=("$@")
else
	checks=(check_errors "check_info cloud 1 256" "check_info cloud 2 512" "check_info generic 2 384"
		check_elf check_echo check_rng check_blk_read check_blk_sync_kill check_blk_ro
		check_blk_discard check_blk_qcow2
		'check_exit "guest power-off" info 0' 'check_exit "guest reboot" reboot 0'
		'check_exit "guest panic" panic 2 "guest kernel panicked"' check_sigterm check_powerbutton
		check_rest check_vsock check_net check_balloon check_containers)
fi
for c in "${checks[@]:$skip}"; do
	# Where the time goes, in CI logs too; run.sh counts these lines.
	echo "-- $c (at ${SECONDS}s)"
	eval "$c"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
