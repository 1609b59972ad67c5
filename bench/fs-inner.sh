#!/bin/bash
# Runs inside the nested test host: kiln's virtio-fs against QEMU's virtio-9p
# (-fsdev local + virtio-9p-device on microvm): the same kernel, initramfs,
# vCPUs, memory and shared directory (ext4), runs alternating between the two.
# The guest (tests/e2e/guest-init.sh, kiln.test=fsbench) times each test.
# RUNS runs of the sequential write and read; the small-file test, the longest
# by far, only in the first CREATE_RUNS of them. Medians over the runs.
set -uo pipefail
. "$(dirname "$0")/../tests/e2e/lib.sh"
RUNS=${RUNS:-3}
CREATE_RUNS=${CREATE_RUNS:-1}
MB=${FS_MB:-256}
FILES=${FS_FILES:-5000}
CPUS=${FS_CPUS:-1}
MEM=${FS_MEM:-512}
# 9p as a user after speed would mount it: 9P2000.L, the largest msize the
# virtio transport takes (500 KiB), and cache=mmap, 9p's fastest mode for
# these tests with this kernel (bench/fs.sh says why not cache=loose).
P9_OPTS=trans=virtio,version=9p2000.L,msize=512000,cache=${P9_CACHE:-mmap}
kernel=$IMAGES/generic/vmlinuz # the cloud kernel has no 9p
initrd=$IMAGES/generic/guest.cpio.gz
root=/run/rootfs # build/images/rootfs.ext4, mounted by the test host (ext4)
share=$root/kiln-bench-share
fifo=${TMPDIR:-/tmp}/kiln-fsbench.fifo # tmpfs: the 9p work folder cannot hold FIFOs

mountpoint -q "$root" || die "no $root in the test host (build/images/rootfs.ext4: make setup)"
mkdir -p "$share"

# run_one CMD...: the guest's result (k=v fields), or FAIL <why>. Every run
# starts from an empty share and cold caches in the test host.
run_one() {
	local pid line res="FAIL no result"
	rm -rf "$share/kiln-fsbench" && sync && echo 3 >/proc/sys/vm/drop_caches
	rm -f "$fifo"
	mkfifo "$fifo"
	timeout 1800 "$@" </dev/null >"$fifo" 2>&1 &
	pid=$!
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"KILN-RESULT fsbench INFO "*) res=${line#KILN-RESULT fsbench INFO } && break ;;
		"KILN-RESULT fsbench FAIL "*) res="FAIL ${line#KILN-RESULT fsbench FAIL }" && break ;;
		esac
	done <"$fifo"
	pkill -P "$pid"
	wait "$pid"
	echo "$res"
}

kiln_cmd() { # guest arguments
	cmd=("$KILN" --cpus "$CPUS" --memory "$MEM" --kernel "$kernel" --initrd "$initrd"
		--kernel-cmdline "console=hvc0 quiet panic=-1 kiln.test=fsbench $1 kiln.fs=virtiofs"
		--device "virtio-fs,sharedDir=$share,mountTag=bench")
}
qemu_cmd() { # guest arguments
	cmd=(qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp "$CPUS" -m "$MEM" -nodefaults
		-no-user-config -display none -no-reboot -kernel "$kernel" -initrd "$initrd"
		-append "console=hvc0 quiet panic=-1 kiln.test=fsbench $1 kiln.fs=9p kiln.9p=$P9_OPTS"
		-chardev stdio,id=con,signal=off -device virtio-serial-device
		-device virtconsole,chardev=con
		-fsdev "local,id=fs0,path=$share,security_model=none"
		-device virtio-9p-device,fsdev=fs0,mount_tag=bench)
}

out=$E2E_WORK/bench-fs
: >"$out-kiln" && : >"$out-qemu"
for i in $(seq "$RUNS"); do
	files=0
	[ "$i" -le "$CREATE_RUNS" ] && files=$FILES
	for v in kiln qemu; do
		"${v}_cmd" "kiln.mb=$MB kiln.files=$files"
		start=$(date +%s)
		r=$(run_one "${cmd[@]}")
		echo "fs run $i $v ($(($(date +%s) - start)) s in all): $r"
		echo " $r" >>"$out-$v"
	done
done
rm -rf "$share" "$fifo"
if grep -q FAIL "$out-kiln" "$out-qemu"; then
	echo "fs benchmark: a run failed"
	exit 1
fi

echo "fs: both VMMs: $(basename "$kernel") $(ls "$IMAGES/generic/root/lib/modules"), $CPUS vCPU," \
	"$MEM MiB, the share $share (ext4 in the test host)"
echo "fs: kiln: --device virtio-fs,sharedDir=,mountTag= ; mount -t virtiofs"
echo "fs: qemu-9p: -fsdev local,security_model=none -device virtio-9p-device ; mount -t 9p -o $P9_OPTS"
echo "fs: write: dd bs=1M conv=fsync; read: dd bs=1M after drop_caches; create: 4 KiB files" \
	"from the shell, then sync; $RUNS runs (create: $CREATE_RUNS), medians"

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
median() {
	sort -g | awk '{a[NR] = $1} END {printf "%.0f\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
rates() { # KEY UNITS VMM: each run's rate
	for n in $(field "$1" <"$out-$3"); do
		awk -v n="$n" -v u="$2" 'BEGIN {printf "%.1f ", u * 1e9 / n}'
	done
}
# figure KEY UNITS UNIT LABEL: each run's rate, the medians, and kiln/qemu-9p
# as the ratio of the rates (higher is better for kiln).
figure() {
	local k q
	printf 'fs %s runs, kiln (%s): %s\n' "$4" "$3" "$(rates "$1" "$2" kiln)"
	printf 'fs %s runs, qemu-9p (%s): %s\n' "$4" "$3" "$(rates "$1" "$2" qemu)"
	k=$(field "$1" <"$out-kiln" | median)
	q=$(field "$1" <"$out-qemu" | median)
	awk -v k="$k" -v q="$q" -v u="$2" -v l="$4" -v n="$3" 'BEGIN {
		printf "virtiofs kiln/qemu-9p = %.2f  %s (median %s: kiln %.1f, qemu-9p %.1f)\n",
			q / k, l, n, u * 1e9 / k, u * 1e9 / q }'
}
figure write_ns "$MB" MiB/s "sequential write $MB MiB"
figure read_ns "$MB" MiB/s "sequential read $MB MiB"
figure create_ns "$FILES" files/s "create $FILES small files"
