#!/bin/sh
# /init of the nested test host: load KVM, mount the host's root (read-only)
# and the work folder (writable) over 9p, and run the requested script there.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do
	insmod /lib/modules/$m 2>/dev/null || echo "l1: insmod $m failed"
done
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
work=$(arg e2e.work)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host || echo "l1: cannot mount the host root"
mount --bind /dev /host/dev
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
# Scratch space on tmpfs under /run; /tmp stays the host's (read-only) so a
# checkout under /tmp remains visible.
mount -t tmpfs run /host/run
mkdir -p /host/run/tmp
export TMPDIR=/run/tmp
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 work /host$work || echo "l1: cannot mount $work"
# The Debian root for kiln run (build/images/rootfs.ext4), when the host attached it.
if [ -b /dev/vda ]; then
	mkdir -p /host/run/rootfs
	mount -t ext4 /dev/vda /host/run/rootfs || echo "l1: cannot mount the rootfs disk"
fi
[ -c /dev/kvm ] || echo "l1: no /dev/kvm in the test host"
# Let memfd-backed guest RAM use huge pages where the VMM asks (MADV_HUGEPAGE),
# as anonymous memory already does by default: see docs/architecture.md.
echo advise >/sys/kernel/mm/transparent_hugepage/shmem_enabled
chroot /host /bin/bash "$work/l1-cmd"
echo "L1-EXIT $?"
poweroff -f
