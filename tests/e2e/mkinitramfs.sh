#!/bin/bash
# mkinitramfs.sh KERNEL_ROOT OUT INIT MODULE... : an initramfs with INIT as /init
# and the named modules (and what they depend on) listed in load order in
# /modules.order; with busybox unless BUSYBOX=0 (Kiln's own init needs none),
# and the programs named in EXTRA_BINS (space-separated paths) in /bin.
set -euo pipefail
kroot=$1 out=$2 init=$3
shift 3
kver=$(ls "$kroot/lib/modules")
mdir=$kroot/lib/modules/$kver
[ -f "$mdir/modules.dep" ] || depmod -b "$kroot" "$kver"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w"/{bin,dev,proc,sys,tmp,lib/modules,host,etc}
if [ "${BUSYBOX:-1}" = 1 ]; then
	cp /bin/busybox "$w/bin/busybox"
	for a in $("$w/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$w/bin/$a"
	done
fi
for b in ${EXTRA_BINS:-}; do install -m 755 "$b" "$w/bin/"; done
mknod -m 600 "$w/dev/console" c 5 1

declare -A seen=()
order=()
add() {
	local m=$1 line path dep b
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	line=$(grep -E "(^|/)${m//-/[-_]}\.ko(\.xz)?:" "$mdir/modules.dep" | head -n1) || true
	[ -n "$line" ] || { echo "mkinitramfs: no module $m in $kver" >&2; exit 1; }
	path=${line%%:*}
	for dep in ${line#*:}; do
		b=$(basename "$dep")
		b=${b%.xz}
		add "${b%.ko}"
	done
	order+=("$path")
}
for m in "$@"; do add "$m"; done
: >"$w/modules.order"
for p in "${order[@]}"; do
	b=$(basename "$p")
	cp "$mdir/$p" "$w/lib/modules/"
	if [[ $b == *.xz ]]; then
		xz -d "$w/lib/modules/$b"
		b=${b%.xz}
	fi
	echo "$b" >>"$w/modules.order"
done
install -m 755 "$init" "$w/init"
(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
