#!/bin/bash
# The library's default guest (build/guest): Debian's kernel, and an initramfs
# with Kiln's init and the modules a Kiln guest needs, in load order. The init
# loads them, mounts the virtio-fs root and runs /init.krun from it.
# Needs the kernel that tests/e2e/prepare.sh unpacks and a built kiln-init.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
IMAGES=${IMAGES:-$BUILD/images}
root=$IMAGES/generic/root
init=$BUILD/src/init/kiln-init
out=$BUILD/guest
modules="virtio_mmio virtio_console virtio_blk virtio-rng virtio_balloon pvpanic-mmio button evdev fuse virtiofs
	vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
	failover net_failover virtio_net"

[ -x "$init" ] || { echo "guest-kernel: $init missing; build first (make)" >&2; exit 1; }
[ -d "$root/boot" ] || { echo "guest-kernel: no kernel in $root; run tests/e2e/prepare.sh" >&2; exit 1; }
mkdir -p "$out"
cp "$root"/boot/vmlinuz-* "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
BUSYBOX=0 "$TOP/tests/e2e/mkinitramfs.sh" "$root" "$out/initrd.img.tmp" "$init" $modules
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "guest-kernel: $out/vmlinuz ($(ls "$root/lib/modules")), $out/initrd.img ($(du -k "$out/initrd.img" | cut -f1) KiB)"
