#!/bin/bash
# Install the Debian packages Kiln needs to build and test (Debian 12, as root).
set -euo pipefail
pkgs=(
	# build
	gcc clang meson ninja-build pkg-config libclang-rt-14-dev
	# GPU pieces: Vulkan headers and the shader compiler (runtime parts come from scripts/gpu-deps.sh)
	libvulkan-dev glslang-tools python3-numpy
	# the nested test host and guest images
	qemu-system-x86 qemu-utils busybox-static cpio kmod xz-utils zstd lz4 python3
	# the Debian root directory for kiln run, and its ext4 image for the test host
	debootstrap e2fsprogs
	# the network backend of the end-to-end network check (virtio-net on a unix stream socket)
	passt
	# GPU dependency fetching (sid packages, unpacked privately)
	dpkg-dev ca-certificates
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all Debian packages present"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "setup: run as root to install: ${missing[*]}" >&2; exit 1; }
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
