#!/bin/sh
# The NVIDIA figures of docs/benchmarks.md, on a machine without network:
# unpack the carried sid .debs, then run kiln-vkbench and llama-bench natively
# and through a Venus socket with the host-memory bridge.
#
# Usage: bench/gpu/device-run.sh CARRY OUTDIR
#   CARRY holds debs/ (scripts/gpu-deps.sh's, less the lavapipe-only LLVM)
#   and build/ (kiln and libkiln.so*, the server; bench/gpu/kiln-vkbench;
#   src/gpu/ layer and manifest).
set -u
CARRY=$(cd "$1" && pwd)
OUT=$2
cd "$(dirname "$0")/../.." || exit 2
export GPU_ROOT=/tmp/kiln-gpu-root BUILD=$CARRY/build
export GPU_HOST_ICD=${GPU_HOST_ICD:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
mkdir -p "$GPU_ROOT" "$OUT"
ln -sfn "$CARRY/debs" "$GPU_ROOT/debs"
scripts/gpu-deps.sh --offline "$GPU_ROOT" | tail -1

. tests/gpu/lib.sh
{
	echo "== versions"
	uname -r
	nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1
	(cd "$CARRY/debs" && ls mesa-vulkan* libvirglrenderer* libvulkan1_* llama* libggml0_* libc6_*)
	echo "== bridge decision (server log)"
	gpu_start_server
	KILN_HOSTMEM_DEBUG=1 venus vulkaninfo --summary 2>&1 | grep -E 'deviceName|driverName'
	venus "$BUILD/bench/gpu/kiln-vkbench" test
	gpu_stop_server
	echo "== kiln-vkbench"
	bench/gpu/run.sh
} 2>&1 | tee "$OUT/vkbench.txt"

[ "${SKIP_LLAMA:-}" ] && exit 0
cd "$GPU_LIBDIR/ggml/backends0" || exit 2
GPU_TIMEOUT=${LLAMA_TIMEOUT:-240}
M=/tmp/kiln-models
mkdir -p $M
{
	echo "== model"
	[ -f $M/f16.gguf ] || python3 "$OLDPWD/bench/gpu/make-gguf.py" $M/f16.gguf
	[ -f $M/q4_0.gguf ] || native llama-quantize $M/f16.gguf $M/q4_0.gguf Q4_0 2>&1 | tail -1
	for m in q4_0 f16; do
		echo "== llama-bench $m native"
		native llama-bench -m $M/$m.gguf -p 512 -n 128 -ngl 99 -r 3 2>&1 | grep -E '^\||ggml_vulkan: 0'
	done
	gpu_start_server
	for m in q4_0 f16; do
		echo "== llama-bench $m venus"
		venus llama-bench -m $M/$m.gguf -p 512 -n 128 -ngl 99 -r 3 2>&1 | grep -E '^\||ggml_vulkan: 0'
	done
	gpu_stop_server
} 2>&1 | tee "$OUT/llama.txt"
gpu_cleanup
