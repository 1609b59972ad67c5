#!/bin/bash
# make demo: boot an interactive VM (2 vCPUs, 512 MiB, Debian's cloud kernel,
# a busybox shell on hvc0). With /dev/kvm, kiln runs here; without it, inside
# the nested test host. Type 'exit' in the guest to power it off.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -x "$KILN" ] || die "no $KILN: run make"
[ -f "$IMAGES/cloud/guest.cpio.gz" ] || die "no guest images: run make setup"
vm=("$KILN" --cpus 2 --memory 512 --kernel "$IMAGES/cloud/vmlinuz"
	--initrd "$IMAGES/cloud/guest.cpio.gz" --kernel-cmdline "console=hvc0 quiet kiln.test=shell"
	--device virtio-rng)
if [ -c /dev/kvm ] && [ -z "${DEMO_NESTED:-}" ]; then
	exec "${vm[@]}"
fi
log "no /dev/kvm here: booting the nested test host first (QEMU TCG, about 10 s)"
L1_INTERACTIVE=1 exec "$TOP/tests/e2e/l1.sh" "${vm[@]}"
