#!/bin/sh
# GPU tests over the vtest socket served by kiln gpu-serve, with sid's Mesa
# Venus driver on the host's Vulkan driver (lavapipe in CI): vulkaninfo, the
# project's compute test with host-visible buffers, and llama.cpp's
# test-backend-ops on the Venus device (all of which need the host-memory
# bridge on drivers without dma-buf export); then the server itself: hostile
# clients are dropped while others are served, requests split anywhere or
# larger than the read-ahead are served whole, a live socket is not taken
# over, a missing virglrenderer is said so, SIGTERM removes the socket.
#
# Usage: tests/gpu/run.sh      (BUILD, GPU_ROOT, GPU_HOST_ICD as in lib.sh)
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/gpu/lib.sh

passed=0
failed=0
LOG=$GPU_TMP/test.log

# check NAME TIMEOUT FUNCTION ARGS...: one line per test, the log's tail on
# failure. The function runs in a fresh copy of this script so that
# timeout can bound it.
check() {
	name=$1 limit=$2
	shift 2
	start=$(date +%s)
	KILN_GPU_TMP=$GPU_TMP timeout "$limit" "$0" --call "$@" >"$LOG" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name ($(($(date +%s) - start)) s)"
	else
		failed=$((failed + 1))
		echo "FAIL $name (exit $rc, $(($(date +%s) - start)) s)"
		tail -n 15 "$LOG" | sed 's/^/     | /'
	fi
}

vulkaninfo_venus() {
	venus vulkaninfo --summary | tee /dev/stderr | grep -q 'driverName *= venus'
}

compute_test() {
	venus "$BUILD/bench/gpu/kiln-vkbench" test
}

# test-backend-ops finds its backends in the current directory, and skips
# CPU-type devices (llvmpipe under Venus) unless they are named.
backend_ops() {
	(cd "$GPU_LIBDIR/ggml/backends0" && GGML_VK_VISIBLE_DEVICES=0 \
		venus "$GPU_ROOT/usr/libexec/x86_64-linux-gnu/llama.cpp-tests/test-backend-ops" \
		-b Vulkan0 "$@") | grep -v 'failed to enumerate' | tee /dev/stderr |
		grep -q 'Backend Vulkan0: .*OK'
}

# Two clients at once on one socket, each in its own server process.
both() {
	compute_test & a=$!
	compute_test & b=$!
	wait $a && wait $b
}

# Clients that break the protocol in different ways are each dropped (the
# server says why in its log) while a good client's compute test runs, and
# the server still serves afterwards.
hostile_clients() {
	compute_test & good=$!
	for scenario in garbage oversize no-context bad-submit; do
		python3 tests/gpu/vtest_client.py "$GPU_SOCK" $scenario || return 1
	done
	wait $good || return 1
	cat "$GPU_TMP/server.log" >&2
	[ "$(grep -c "('vtest_client.py') dropped: " "$GPU_TMP/server.log")" -eq 3 ] &&
		grep -q "('?') dropped: unknown or unsupported command" "$GPU_TMP/server.log" &&
		compute_test
}

# Requests written in pieces of any size, and one larger than the server's
# read-ahead buffer, are served whole and in order.
split_requests() {
	python3 tests/gpu/vtest_client.py "$GPU_SOCK" split
}

# A second server on a live socket refuses to start and leaves it alone.
second_server() {
	gpu_serve "$GPU_SOCK" "$GPU_TMP/second.log"
	wait $! && return 1
	cat "$GPU_TMP/second.log" >&2
	grep -q 'another server is listening' "$GPU_TMP/second.log" && [ -S "$GPU_SOCK" ] &&
		compute_test
}

# The socket of a server killed outright is taken over by the next one.
stale_socket() {
	sock=$GPU_TMP/stale.sock
	gpu_serve "$sock" "$GPU_TMP/stale.log"
	pid=$!
	gpu_wait_socket "$sock" $pid || return 1
	kill -KILL $pid
	wait $pid
	[ -S "$sock" ] || return 1
	gpu_serve "$sock" "$GPU_TMP/stale.log"
	pid=$!
	# The stale file is there already: wait for the server to say it serves.
	for _ in $(seq 100); do
		[ "$(grep -c "serving Venus on $sock" "$GPU_TMP/stale.log")" -eq 2 ] && break
		kill -0 $pid || return 1
		sleep 0.1
	done
	GPU_SOCK=$sock compute_test
	rc=$?
	kill -TERM $pid
	wait $pid && [ $rc -eq 0 ]
}

# One line, naming what is missing, when virglrenderer cannot be loaded.
no_virglrenderer() {
	gpu_serve "$GPU_TMP/none.sock" "$GPU_TMP/none.log" --virglrenderer "$GPU_TMP/libnone.so"
	wait $! && return 1
	cat "$GPU_TMP/none.log" >&2
	[ "$(wc -l <"$GPU_TMP/none.log")" -eq 1 ] &&
		grep -q 'virglrenderer >= 1.0 not found: .*libnone.so' "$GPU_TMP/none.log" &&
		[ ! -e "$GPU_TMP/none.sock" ]
}

# SIGTERM stops a server with a client connected: it exits 0, the client's
# process ends (the client sees its connection close) and the socket is gone.
sigterm() {
	sock=$GPU_TMP/term.sock
	gpu_serve "$sock" "$GPU_TMP/term.log"
	pid=$!
	gpu_wait_socket "$sock" $pid || return 1
	python3 tests/gpu/vtest_client.py "$sock" hold >"$GPU_TMP/hold.out" & client=$!
	for _ in $(seq 100); do
		grep -q sent "$GPU_TMP/hold.out" && break
		sleep 0.1
	done
	sleep 0.5 # for the server to fork and read
	kill -TERM $pid
	wait $pid || return 1
	wait $client || return 1
	cat "$GPU_TMP/term.log" >&2
	[ ! -e "$sock" ]
}

if [ "${1:-}" = --call ]; then
	shift
	"$@"
	exit
fi

gpu_require
trap gpu_cleanup EXIT INT TERM
if ! gpu_start_server; then
	echo "0 passed, 1 failed"
	exit 1
fi
check "venus vulkaninfo" 60 vulkaninfo_venus
check "venus compute test (host-visible buffers)" 120 compute_test
check "venus test-backend-ops ADD" 120 backend_ops -o ADD -p 'type=f32,ne=\[10,5,4,3\]'
check "venus test-backend-ops MUL_MAT" 240 backend_ops -o MUL_MAT \
	-p 'type_a=(f32|f16|q4_0|q8_0),type_b=f32,m=16,n=(1|9),k=256,bs=\[1,1\]'
check "venus test-backend-ops SOFT_MAX" 120 backend_ops -o SOFT_MAX -p 'type=f32,ne=\[16,16,1,1\]'
check "venus test-backend-ops ROPE" 120 backend_ops -o ROPE -p 'type=f32,ne_a=\[128,32,2,1\]'
check "venus two clients at once" 120 both
check "gpu-serve drops hostile clients, serves others" 120 hostile_clients
check "gpu-serve serves requests split anywhere, and larger than its buffer" 60 split_requests
check "gpu-serve refuses a live socket" 60 second_server
check "gpu-serve replaces a stale socket" 60 stale_socket
check "gpu-serve without virglrenderer: one message" 30 no_virglrenderer
check "gpu-serve SIGTERM stops clients, removes the socket" 60 sigterm

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
