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
	# Watchdog: with L1_STALL set, a test host that prints no result line (PASS,
	# FAIL, "--" check headers, "... " progress) for that many seconds is taken as stalled and
	# stopped; its kernel may still print (hung-task reports), so those lines do
	# not count. The caller decides what to run next (tests/e2e/run.sh).
	rm -f "$E2E_WORK/l1-stalled"
	: >"$console"
	if [ -n "${L1_STALL:-}" ]; then
		(
			last=-1 since=$(date +%s)
			while sleep 15; do
				n=$(grep -ac -e '^PASS' -e '^FAIL' -e '^--' -e '^\.\.\. ' -e '^L1-EXIT' "$console" 2>/dev/null)
				if [ "$n" != "$last" ]; then
					last=$n since=$(date +%s)
				elif [ $(($(date +%s) - since)) -ge "$L1_STALL" ]; then
					date +%s >"$E2E_WORK/l1-stalled"
					pkill -f "e2e.work=$E2E_WORK( |\$)" || true
					break
				fi
			done
		) &
		watchdog=$!
	fi
	timeout "${L1_TIMEOUT:-2700}" "${qemu[@]}" </dev/null 2>&1 | tee "$console" |
		grep --line-buffered -v -e '^\[ *[0-9.]*\]' -e 'SeaBIOS' -e 'Booting from ROM' |
		sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g'
	[ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null
fi
set -e
status=$(sed -n 's/^L1-EXIT \([0-9]*\).*/\1/p' "$console" | tail -n1)
if [ -z "$status" ]; then
	if [ -f "$E2E_WORK/l1-stalled" ]; then
		log "the test host printed no result for ${L1_STALL} s and was stopped (see $console); its last lines:"
	else
		log "the test host did not finish (see $console); its last lines:"
	fi
	tail -n 5 "$console" >&2
	exit 125 # distinct from any suite status: the test host itself failed
fi
exit "$status"
