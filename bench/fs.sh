#!/bin/bash
# make bench: kiln's virtio-fs against QEMU's virtio-9p, inside the nested test
# host (no KVM needed here): sequential write and read of FS_MB MiB, and
# FS_FILES small files created; kiln/qemu-9p ratios of the rates, higher is
# better. bench/fs-inner.sh runs it; docs/benchmarks.md has figures.
#
# The 9p peer mounts with cache=mmap (P9_CACHE to change it). cache=loose,
# which caches like virtio-fs does, is no faster with this kernel (6.1): its
# write-back sends one 4 KiB page per 9p write (under 1 MiB/s in the nested
# host: 256 MiB would take some ten minutes, and its small files are slower
# too), and its reads (500 KiB read-ahead) are about as fast as mmap's direct
# 500 KiB reads.
#
# Slow: the issue's sizes (256 MiB, 5000 files) take about 15-20 minutes in
# all on a 2-core TCG host, most of it 9p creating files.
set -euo pipefail
. "$(dirname "$0")/../tests/e2e/lib.sh"
[ -x "$KILN" ] || die "no $KILN: run make"
[ -f "$IMAGES/rootfs.ext4" ] || die "no $IMAGES/rootfs.ext4: run make setup"
mkdir -p "$E2E_WORK"
L1_TIMEOUT=${L1_TIMEOUT:-3600} "$TOP/tests/e2e/l1.sh" env RUNS="${RUNS:-3}" \
	CREATE_RUNS="${CREATE_RUNS:-1}" FS_MB="${FS_MB:-256}" FS_FILES="${FS_FILES:-5000}" \
	P9_CACHE="${P9_CACHE:-mmap}" "$TOP/bench/fs-inner.sh"
