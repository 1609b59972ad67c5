#!/bin/bash
# A Debian root directory for `kiln run` (build/rootfs, debootstrap minbase),
# and the same tree as an ext4 image for the nested test host (build/images/rootfs.ext4).
# MIRROR overrides the Debian mirror (default: the one apt uses here).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
ROOTFS=${ROOTFS:-$BUILD/rootfs}
SUITE=${SUITE:-bookworm}
mirror=${MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
# What the guest file-system tests and the README's example use.
extra=procps,python3,e2fsprogs,attr,xz-utils

if [ ! -x "$ROOTFS/bin/sh" ] || [ ! -f "$ROOTFS/.kiln-rootfs" ]; then
	[ "$(id -u)" = 0 ] || { echo "rootfs: run as root (debootstrap)" >&2; exit 1; }
	echo "rootfs: debootstrap $SUITE (minbase) into $ROOTFS from $mirror"
	rm -rf "$ROOTFS.tmp"
	debootstrap --variant=minbase --include="$extra" "$SUITE" "$ROOTFS.tmp" "$mirror" |
		sed -u -n 's/^I: \(Retrieving\|Validating\|Extracting\|Installing\|Configuring\) .*/&/p' |
		awk '{ n++ } n % 25 == 1 { print "rootfs: " $0 } END { print "rootfs: " n " steps" }'
	echo "kiln test rootfs" >"$ROOTFS.tmp/etc/hostname"
	rm -rf "$ROOTFS.tmp/var/cache/apt/archives/"*.deb
	touch "$ROOTFS.tmp/.kiln-rootfs"
	rm -rf "$ROOTFS"
	mv "$ROOTFS.tmp" "$ROOTFS"
fi
img=$BUILD/images/rootfs.ext4
if [ ! -f "$img" ] || [ "$ROOTFS/.kiln-rootfs" -nt "$img" ]; then
	mkdir -p "$BUILD/images"
	echo "rootfs: $img (ext4 image of $ROOTFS with room for tests, sparse)"
	rm -f "$img.tmp"
	mke2fs -q -t ext4 -d "$ROOTFS" -L kiln-rootfs "$img.tmp" 4G
	mv "$img.tmp" "$img"
fi
# A small package for the guest to install with apt-get (no network in the guest).
mkdir -p "$BUILD/images/debs"
ls "$BUILD"/images/debs/hello_*.deb >/dev/null 2>&1 ||
	(cd "$BUILD/images/debs" && apt-get download -q hello 2>&1 | grep -v "unsandboxed" || true)
echo "rootfs: $ROOTFS ($(du -sm "$ROOTFS" | cut -f1) MiB)"
