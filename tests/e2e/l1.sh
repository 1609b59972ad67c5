#!/bin/bash
# l1.sh COMMAND...: run COMMAND inside the nested test host (QEMU TCG with
# kvm-amd, so /dev/kvm exists in it) and exit with its status. The host's root
# is visible read-only; $E2E_WORK is writable.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -f "$IMAGES/l1.cpio.gz" ] || die "no test host image: run make setup (tests/e2e/prepare.sh)"
mkdir -p "$E2E_WORK"
printf 'cd %q\n' "$PWD" >"$E2E_WORK/l1-cmd"
printf '%q ' "$@" >>"$E2E_WORK/l1-cmd"
echo >>"$E2E_WORK/l1-cmd"
console=$E2E_WORK/l1-console.log
qemu=(qemu-system-x86_64 -accel tcg -cpu max -m "${L1_MEM:-2048}" -smp 2 -nographic -no-reboot -nic none
	-kernel "$IMAGES/generic/vmlinuz" -initrd "$IMAGES/l1.cpio.gz"
	-append "console=ttyS0 quiet panic=-1 e2e.work=$E2E_WORK"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs local,path="$E2E_WORK",mount_tag=work,security_model=none)
# The Debian root for kiln run, as a disk of its own (a real file system, xattrs and all);
# snapshot=on: every run starts from the pristine image and writes nothing back.
if [ -f "$IMAGES/rootfs.ext4" ]; then
	qemu+=(-drive "file=$IMAGES/rootfs.ext4,if=virtio,format=raw,snapshot=on,cache=unsafe")
fi
set +e
if [ -n "${L1_INTERACTIVE:-}" ]; then
	# The terminal goes straight through: QEMU's serial is the test host's console.
	"${qemu[@]}" | tee "$console"
else
	timeout "${L1_TIMEOUT:-2700}" "${qemu[@]}" </dev/null 2>&1 | tee "$console" |
		grep --line-buffered -v -e '^\[ *[0-9.]*\]' -e 'SeaBIOS' -e 'Booting from ROM' |
		sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g'
fi
set -e
status=$(sed -n 's/^L1-EXIT \([0-9]*\).*/\1/p' "$console" | tail -n1)
if [ -z "$status" ]; then
	log "the test host did not finish (see $console); its last lines:"
	tail -n 5 "$console" >&2
	exit 125 # distinct from any suite status: the test host itself failed
fi
exit "$status"
