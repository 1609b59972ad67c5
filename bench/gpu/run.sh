#!/bin/sh
# kiln-vkbench on the host's Vulkan driver, natively and through a Venus
# server on a socket (kiln gpu-serve), then "gpu venus/native <metric> = R"
# for each figure.
#
# Usage: bench/gpu/run.sh     (BUILD, GPU_ROOT, GPU_HOST_ICD as in tests/gpu/lib.sh;
#                              KILN_BENCH_N: elements of the FMA dispatch)
set -eu
cd "$(dirname "$0")/../.."
. tests/gpu/lib.sh
gpu_require
trap gpu_cleanup EXIT INT TERM

BENCH=$BUILD/bench/gpu/kiln-vkbench
native "$BENCH" bench | tee "$GPU_TMP/native"
gpu_start_server
venus "$BENCH" bench | tee "$GPU_TMP/venus"
gpu_stop_server

awk 'FNR == NR { if ($1 != "gpu.device") nat[$1] = $2; next }
     $1 in nat && nat[$1] > 0 {
	sub(/^gpu\./, "", $1)
	printf "gpu venus/native %s = %.3f\n", $1, $2 / nat["gpu." $1]
     }' "$GPU_TMP/native" "$GPU_TMP/venus"
