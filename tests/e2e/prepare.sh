#!/bin/bash
# Prepare the nested test host and the guests from Debian packages: kernels,
# the test host's initramfs (kvm-amd, 9p) and one guest initramfs per flavour.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
debs=$IMAGES/debs
mkdir -p "$debs"

kernel_pkg() { # metapackage -> the versioned image package it depends on
	apt-cache depends "$1" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

fetch() { # flavour metapackage
	local flavour=$1 pkg root
	pkg=$(kernel_pkg "$2")
	[ -n "$pkg" ] || die "cannot resolve $2 (run apt-get update)"
	root=$IMAGES/$flavour/root
	if [ ! -f "$IMAGES/$flavour/.pkg" ] || [ "$(cat "$IMAGES/$flavour/.pkg")" != "$pkg" ]; then
		log "downloading $pkg"
		rm -rf "$IMAGES/$flavour"
		mkdir -p "$root"
		(cd "$debs" && apt-get download -q "$pkg" >/dev/null)
		dpkg -x "$debs/${pkg}"_*.deb "$root"
		echo "$pkg" >"$IMAGES/$flavour/.pkg"
	fi
	cp "$root"/boot/vmlinuz-* "$IMAGES/$flavour/vmlinuz"
}

guest_modules="virtio_mmio virtio_blk virtio_console virtio-rng virtio_balloon pvpanic-mmio button evdev fuse virtiofs
	vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
	failover net_failover virtio_net"
# 9p (QEMU's -virtfs, the file-system benchmark's peer): only the generic kernel has it.
declare -A flavour_modules=([generic]="9p 9pnet_virtio")

fetch generic linux-image-amd64
fetch cloud linux-image-cloud-amd64
log "vsock-guest (the guest end of the vsock checks)"
cc -static -O2 -Wall -o "$IMAGES/vsock-guest" "$TOP/tests/e2e/vsock-guest.c"
for f in $FLAVOURS; do
	log "guest initramfs ($f)"
	EXTRA_BINS=$IMAGES/vsock-guest "$TOP/tests/e2e/mkinitramfs.sh" "$IMAGES/$f/root" "$IMAGES/$f/guest.cpio.gz" \
		"$TOP/tests/e2e/guest-init.sh" $guest_modules ${flavour_modules[$f]:-}
done
log "ELF vmlinux of the cloud kernel (for the ELF boot path)"
"$TOP/tests/e2e/extract-vmlinux.py" "$IMAGES/cloud/vmlinuz" "$IMAGES/cloud/vmlinux"
log "test host initramfs"
"$TOP/tests/e2e/mkinitramfs.sh" "$IMAGES/generic/root" "$IMAGES/l1.cpio.gz" \
	"$TOP/tests/e2e/l1-init.sh" irqbypass kvm ccp kvm-amd 9p 9pnet_virtio virtio_pci virtio_blk crc32c_generic ext4 dummy
log "images ready in $IMAGES"
