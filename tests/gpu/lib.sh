# shellcheck shell=sh disable=SC2034
# Shared by tests/gpu/run.sh and bench/gpu/run.sh: start a Venus server
# (kiln gpu-serve) on a socket and run programs as its clients, or natively.
#
# Inputs (environment): GPU_ROOT (sid userspace from scripts/gpu-deps.sh),
# BUILD (meson build dir), GPU_HOST_ICD (host driver manifest; lavapipe from
# GPU_ROOT by default).
GPU_ROOT=$(cd "${GPU_ROOT:-build/gpu-root}" && pwd)
BUILD=$(cd "${BUILD:-build}" && pwd)
GPU_LIBDIR=$GPU_ROOT/usr/lib/x86_64-linux-gnu
GPU_HOST_ICD=${GPU_HOST_ICD:-$GPU_ROOT/usr/share/vulkan/icd.d/lvp_icd.json}
# A test's helper processes share their parent's folder (KILN_GPU_TMP);
# every other user of this file gets its own.
GPU_TMP=${KILN_GPU_TMP:-$(mktemp -d /tmp/kiln-gpu.XXXXXX)}
GPU_SOCK=$GPU_TMP/gpu.sock
GPU_SERVER_PID=
export GPU_ROOT BUILD GPU_HOST_ICD

gpu_require() {
	if [ ! -x "$GPU_ROOT/run" ]; then
		echo "gpu: $GPU_ROOT is missing; run scripts/gpu-deps.sh" >&2
		exit 2
	fi
	for f in "$BUILD/kiln" "$BUILD/bench/gpu/kiln-vkbench" "$BUILD/src/gpu/kiln_hostmem_layer.json"; do
		if [ ! -e "$f" ]; then
			echo "gpu: $f is missing; build first (make)" >&2
			exit 2
		fi
	done
}

# The render server is spawned by libvirglrenderer, which execs a path;
# a wrapper gives it sid's loader.
gpu_render_server_wrapper() {
	cat >"$GPU_TMP/render_server" <<EOS
#!/bin/sh
exec "$GPU_ROOT/run" "$GPU_ROOT/usr/libexec/virgl_render_server" "\$@"
EOS
	chmod +x "$GPU_TMP/render_server"
}

# gpu_serve SOCKET LOG [ARGS...]: kiln gpu-serve on SOCKET in the background
# (pid in $!), through sid's loader so that it can load sid's virglrenderer.
# It puts the bridge layer (a no-op on drivers that export dma-bufs) into
# the render server itself, from the build tree.
gpu_serve() {
	sock=$1 log=$2
	shift 2
	RENDER_SERVER_EXEC_PATH=$GPU_TMP/render_server \
	VK_DRIVER_FILES=$GPU_HOST_ICD \
		"$GPU_ROOT/run" "$BUILD/kiln" gpu-serve --socket "$sock" --log-level 3 "$@" \
		>>"$log" 2>&1 &
}

# gpu_wait_socket SOCKET PID: wait for the server PID to listen on SOCKET.
gpu_wait_socket() {
	for _ in $(seq 50); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Serves Venus on $GPU_SOCK.
gpu_start_server() {
	gpu_render_server_wrapper
	rm -f "$GPU_SOCK"
	gpu_serve "$GPU_SOCK" "$GPU_TMP/server.log"
	GPU_SERVER_PID=$!
	gpu_wait_socket "$GPU_SOCK" "$GPU_SERVER_PID" && return 0
	echo "gpu: server did not come up:" >&2
	cat "$GPU_TMP/server.log" >&2
	return 1
}

gpu_stop_server() {
	if [ -n "$GPU_SERVER_PID" ]; then
		kill "$GPU_SERVER_PID" 2>/dev/null
		wait "$GPU_SERVER_PID" 2>/dev/null || true
		GPU_SERVER_PID=
	fi
}

gpu_cleanup() {
	gpu_stop_server
	rm -rf "$GPU_TMP"
}

# venus CMD...: CMD as a Venus client of the server (sid's Mesa), bounded
# by GPU_TIMEOUT seconds where that is set.
venus() {
	VK_DRIVER_FILES=$GPU_ROOT/usr/share/vulkan/icd.d/virtio_icd.json \
	VN_DEBUG=vtest VTEST_SOCKET_NAME=$GPU_SOCK \
		${GPU_TIMEOUT:+timeout "$GPU_TIMEOUT"} "$GPU_ROOT/run" "$@"
}

# native CMD...: CMD straight on the host driver.
native() {
	VK_DRIVER_FILES=$GPU_HOST_ICD ${GPU_TIMEOUT:+timeout "$GPU_TIMEOUT"} "$GPU_ROOT/run" "$@"
}
