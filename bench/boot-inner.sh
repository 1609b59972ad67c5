#!/bin/bash
# Runs inside the nested test host: boot time to the guest init's marker,
# kiln against QEMU microvm, same kernel and initramfs, 5 runs each.
set -uo pipefail
. "$(dirname "$0")/../tests/e2e/lib.sh"
RUNS=${RUNS:-5}
kernel=$IMAGES/cloud/vmlinuz
initrd=$IMAGES/cloud/guest.cpio.gz
append="console=hvc0 quiet panic=-1 kiln.test=sleep" # the guest waits after the marker
fifo=${TMPDIR:-/tmp}/kiln-bench.fifo # tmpfs: the 9p work folder cannot hold FIFOs

# run_one CMD...: "<ms to marker> <RssAnon+RssFile kB at the marker>"
run_one() {
	local start end="" rss=0 pid line
	rm -f "$fifo"
	mkfifo "$fifo"
	start=$(date +%s%N)
	timeout 120 "$@" </dev/null >"$fifo" 2>/dev/null &
	pid=$!
	while IFS= read -r line; do
		case $line in *KILN-GUEST-READY*)
			end=$(date +%s%N)
			vmm=$(pgrep -P "$pid" | head -n1)
			rss=$(awk '/^Rss(Anon|File):/ {s += $2} END {print s}' "/proc/${vmm:-$pid}/status")
			break ;;
		esac
	done <"$fifo"
	pkill -P "$pid"
	wait "$pid"
	[ -n "$end" ] || { echo "FAIL"; return; }
	echo "$(((end - start) / 1000000)) $rss"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

kiln=("$KILN" --cpus 1 --memory 256 --kernel "$kernel" --initrd "$initrd" --kernel-cmdline "$append")
qemu=(qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp 1 -m 256 -nodefaults -no-user-config
	-display none -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$append"
	-chardev stdio,id=con,signal=off -device virtio-serial-device -device virtconsole,chardev=con)

: >"$E2E_WORK/bench-kiln" && : >"$E2E_WORK/bench-qemu"
for i in $(seq "$RUNS"); do
	run_one "${kiln[@]}" >>"$E2E_WORK/bench-kiln"
	run_one "${qemu[@]}" >>"$E2E_WORK/bench-qemu"
done
if grep -q FAIL "$E2E_WORK/bench-kiln" "$E2E_WORK/bench-qemu"; then
	echo "boot benchmark: a VM did not reach its init"
	exit 1
fi
k=$(cut -d' ' -f1 "$E2E_WORK/bench-kiln" | median)
q=$(cut -d' ' -f1 "$E2E_WORK/bench-qemu" | median)
rss=$(cut -d' ' -f2 "$E2E_WORK/bench-kiln" | median)
echo "boot kiln runs (ms): $(cut -d' ' -f1 "$E2E_WORK/bench-kiln" | tr '\n' ' ')"
echo "boot qemu-microvm runs (ms): $(cut -d' ' -f1 "$E2E_WORK/bench-qemu" | tr '\n' ' ')"
echo "boot median: kiln $k ms, qemu-microvm $q ms"
awk -v k="$k" -v q="$q" 'BEGIN {printf "boot kiln/qemu-microvm = %.2f\n", k / q}'
awk -v r="$rss" 'BEGIN {printf "kiln rss (excluding guest RAM) = %.1f MiB\n", r / 1024}'
