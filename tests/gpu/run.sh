#!/bin/sh
# GPU tests over the vtest socket with sid's Mesa Venus driver on the host's
# Vulkan driver (lavapipe in CI): vulkaninfo, the project's compute test with
# host-visible buffers, and llama.cpp's test-backend-ops on the Venus device.
# All of these need the host-memory bridge on drivers without dma-buf export.
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
