#!/bin/sh
# The same client through several Venus servers on one machine, runs
# interleaved round by round so that a machine's drift (load, clocks, a
# cold start) falls on all of them: kiln-vkbench's round trip and cost per
# dispatch, or llama-bench's token generation, and the median of each.
#
# Usage: bench/gpu/servers.sh ROUNDS VARIANT...
#   native          the client on the host driver, no server
#   vts             virglrenderer's virgl_test_server --venus --no-virgl,
#                   with the host-memory bridge in its render server
#   NAME=KILN[,ARG...]
#                   kiln gpu-serve from the binary KILN with ARGs (e.g.
#                   new=build/kiln old=../main/build/kiln,--log-level=0)
# Environment: BUILD, GPU_ROOT, GPU_HOST_ICD as in tests/gpu/lib.sh;
# KILN_BENCH_N for kiln-vkbench; LLAMA_MODEL=FILE runs llama-bench on FILE
# instead (LLAMA_ARGS, default "-p 0 -n 128 -r 3": token generation only);
# DEADLINE_S: start no run after this many seconds.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/gpu/lib.sh
trap gpu_cleanup EXIT INT TERM
gpu_render_server_wrapper
ROUNDS=$1
shift
START=$(date +%s)
export GPU_TIMEOUT="${GPU_TIMEOUT:-120}"
RESULTS=$GPU_TMP/results
: >"$RESULTS"

# serve VARIANT: a server for VARIANT on $GPU_SOCK (pid in GPU_SERVER_PID).
serve() {
	rm -f "$GPU_SOCK"
	case $1 in
	vts)
		RENDER_SERVER_EXEC_PATH=$GPU_TMP/render_server \
		VK_DRIVER_FILES=$GPU_HOST_ICD \
		VK_LAYER_PATH=$BUILD/src/gpu VK_INSTANCE_LAYERS=VK_LAYER_KILN_hostmem \
			"$GPU_ROOT/run" virgl_test_server --venus --no-virgl \
			--socket-path "$GPU_SOCK" >>"$GPU_TMP/server.log" 2>&1 &
		;;
	*=*)
		spec=${1#*=}
		bin=${spec%%,*}
		args=
		[ "$bin" = "$spec" ] || args=$(echo "${spec#*,}" | tr , ' ')
		# shellcheck disable=SC2086
		RENDER_SERVER_EXEC_PATH=$GPU_TMP/render_server \
		VK_DRIVER_FILES=$GPU_HOST_ICD \
			"$GPU_ROOT/run" "$bin" gpu-serve --socket "$GPU_SOCK" $args \
			>>"$GPU_TMP/server.log" 2>&1 &
		;;
	*)
		echo "servers.sh: unknown variant '$1'" >&2
		exit 2
		;;
	esac
	GPU_SERVER_PID=$!
	gpu_wait_socket "$GPU_SOCK" "$GPU_SERVER_PID" && return 0
	echo "servers.sh: $1 did not come up:" >&2
	cat "$GPU_TMP/server.log" >&2
	return 1
}

# client native|venus: one run of the measuring program, "metric value" lines.
client() {
	if [ -z "${LLAMA_MODEL:-}" ]; then
		"$@" "$BUILD/bench/gpu/kiln-vkbench" bench |
			awk '$1 == "gpu.roundtrip_us" || $1 == "gpu.dispatch_us"'
		return
	fi
	# shellcheck disable=SC2086
	(cd "$GPU_LIBDIR/ggml/backends0" &&
		"$@" llama-bench -m "$LLAMA_MODEL" -ngl 99 ${LLAMA_ARGS:--p 0 -n 128 -r 3} 2>&1) |
		awk -F'|' 'NF > 4 && $(NF-2) ~ /(pp|tg)[0-9]/ {
			t = $(NF-2); gsub(/ /, "", t); v = $(NF-1); sub(/±.*/, "", v)
			print "llama." t "_tps", v + 0 }'
}

for round in $(seq "$ROUNDS"); do
	for v in "$@"; do
		if [ -n "${DEADLINE_S:-}" ] && [ $(($(date +%s) - START)) -ge "$DEADLINE_S" ]; then
			echo "servers.sh: deadline reached; $v round $round and later not run"
			break 2
		fi
		name=${v%%=*}
		if [ "$v" = native ]; then
			client native >"$GPU_TMP/run"
		elif serve "$v"; then
			client venus >"$GPU_TMP/run"
			gpu_stop_server
		else
			continue
		fi
		awk -v n="$name" '{ print n, $0 }' "$GPU_TMP/run" | tee -a "$RESULTS"
	done
done

echo "== medians over $ROUNDS round(s)"
sort -k2,2 -k1,1 "$RESULTS" | awk '
	function flush() {
		if (!n) return
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		printf "%-10s %-18s median %10.2f  n=%d\n", key1, key2, m, n
		n = 0
	}
	$1 != key1 || $2 != key2 { flush(); key1 = $1; key2 = $2 }
	{ # insertion sort of this key'"'"'s values
		x = $3 + 0; i = ++n
		while (i > 1 && v[i - 1] > x) { v[i] = v[i - 1]; i-- }
		v[i] = x
	}
	END { flush() }'
