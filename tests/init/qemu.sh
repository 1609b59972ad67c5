#!/bin/bash
# kiln-init in a real guest, with QEMU (TCG is enough) and virtiofsd standing in for the VMM:
# the module initramfs stage, the virtio-fs root, init.krun, krun-std* ports, power-off.
# A manual check, not part of `make check`: it needs qemu-system-x86_64, /usr/lib/qemu/virtiofsd,
# busybox, and a Debian kernel unpacked with dpkg -x (virtiofs, virtio_pci, virtio_console as
# modules), e.g.
#   apt-get download linux-image-6.1.0-XX-cloud-amd64 && dpkg -x linux-image-*.deb kroot
# usage: tests/init/qemu.sh KERNEL_ROOT [path/to/kiln-init]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
kroot=$(realpath "$1")
init=$(realpath "${2:-$top/build/src/init/kiln-init}")
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
passed=0
failed=0

"$top/tests/e2e/mkinitramfs.sh" "$kroot" "$w/init.cpio.gz" "$init" \
	virtio_pci virtiofs virtio_console >/dev/null

# boot NAME CMDLINE [QEMU ARGS...]: console in $w/NAME.console, ports in $w/NAME.{out,err}.
boot() {
	local name=$1 cmdline=$2 vpid
	shift 2
	rm -rf "$w/root" "$w/sock"
	mkdir -p "$w/root/bin" "$w/root/tmp"
	cp /bin/busybox "$w/root/bin/"
	for a in sh echo cat ls mount hostname sleep touch env tty; do
		ln -s busybox "$w/root/bin/$a"
	done
	cp "$init" "$w/root/init.krun"
	[ -f "$w/config.json" ] && mv "$w/config.json" "$w/root/.krun_config.json"
	/usr/lib/qemu/virtiofsd --socket-path="$w/sock" -o source="$w/root" -o cache=none \
		-o sandbox=chroot -d >"$w/$name.vfsd" 2>&1 &
	vpid=$!
	for _ in $(seq 50); do [ -S "$w/sock" ] && break; sleep 0.1; done
	: >"$w/$name.out"
	: >"$w/$name.err"
	timeout 180 qemu-system-x86_64 -M q35 -m 512 -nographic -no-reboot \
		-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
		-chardev socket,id=vfs,path="$w/sock" \
		-device vhost-user-fs-pci,chardev=vfs,tag=/dev/root \
		-kernel "$(ls "$kroot"/boot/vmlinuz-*)" -initrd "$w/init.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet $cmdline" "$@" \
		</dev/null >"$w/$name.console" 2>&1 || echo "qemu ($name): status $?"
	kill "$vpid" 2>/dev/null || true
	wait "$vpid" 2>/dev/null || true
}

# has NAME.SUFFIX TEXT: the file holds TEXT.
has() {
	if grep -qF -- "$2" "$w/$1"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $1 lacks '$2':"
		tail -15 "$w/$1"
	fi
}

boot args 'KRUN_INIT=/bin/sh FOO=kernel KRUN_X=1 -- -c "echo hi from $(hostname) $FOO ${KRUN_X:-nokrun} $TERM $HOME; mount; exit 3"'
has args.console "hi from localhost kernel nokrun xterm /root"
has args.console "/dev/root on / type virtiofs (rw"
for m in "devtmpfs on /dev" "proc on /proc" "sysfs on /sys" "cgroup2 on /sys/fs/cgroup" \
	"devpts on /dev/pts" "tmpfs on /dev/shm"; do
	has args.console "$m"
done
has args.console "reboot: Power down"
has args.vfsd "opcode: IOCTL (39), nodeid: 1"

cat >"$w/config.json" <<'JSON'
{"args": ["/bin/sh", "-c", "echo out $FOO $(hostname) $(pwd) $(ulimit -n); echo err >&2; tty"],
 "env": ["FOO=bar"], "cwd": "/tmp", "rlimits": ["NOFILE=123:456"], "hostname": "flatvm"}
JSON
boot ports '' -device virtio-serial-pci \
	-chardev file,id=o,path="$w/ports.out" -device virtserialport,chardev=o,name=krun-stdout \
	-chardev file,id=e,path="$w/ports.err" -device virtserialport,chardev=e,name=krun-stderr
has ports.out "out bar flatvm /tmp 123"
has ports.out "/dev/console"
has ports.err "err"

boot ro 'KRUN_ROOT_RO=1 KRUN_INIT=/bin/touch -- /x'
has ro.console "touch: /x: Read-only file system"

boot missing 'KRUN_INIT=/no/such'
has missing.console "kiln-init: /no/such: No such file or directory"

boot badtag 'KRUN_ROOT_TAG=nosuch'
has badtag.console "kiln-init: mount virtiofs nosuch on /newroot: Invalid argument"
has badtag.console "reboot: Power down"

# Ctrl-Alt-Del, the orderly shutdown, arrives at init as SIGINT and goes on to the workload.
(
	for _ in $(seq 600); do grep -q ready "$w/cad.console" 2>/dev/null && break; sleep 0.1; done
	[ -S "$w/mon" ] || exit 0
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.5)
s.sendall(b"sendkey ctrl-alt-delete\n")
time.sleep(0.5)' "$w/mon"
) &
cat >"$w/config.json" <<'JSON'
{"args": ["/bin/sh", "-c", "trap 'echo got INT; exit 5' INT; echo ready; while :; do sleep 1; done"]}
JSON
boot cad '' \
	-monitor unix:"$w/mon",server=on,wait=off
wait
has cad.console "got INT"
has cad.console "reboot: Power down"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
