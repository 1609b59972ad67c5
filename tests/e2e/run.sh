#!/bin/bash
# The nested end-to-end suite: boots the test host (no KVM needed here) and runs
# suite.sh inside it. Prints one line per check and "N passed, N failed".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -x "$KILN" ] || die "no $KILN: run make"
rm -rf "$E2E_WORK"
mkdir -p "$E2E_WORK"
if [ ! -e /dev/kvm ]; then
	# Here, without KVM, kiln must say so clearly.
	msg=$("$KILN" --kernel "$IMAGES/cloud/vmlinuz" 2>&1 || true)
	case $msg in
	*"no /dev/kvm"*) echo "PASS no /dev/kvm: one clear error (host)" ;;
	*) echo "FAIL no /dev/kvm message: $msg"; exit 1 ;;
	esac
fi
# What the API checks use: an install tree and a client built against it.
make -s -C "$TOP" install DESTDIR="$E2E_WORK/inst" >"$E2E_WORK/install.log" 2>&1 ||
	die "make install failed: $(tail -n 5 "$E2E_WORK/install.log")"
cc -o "$E2E_WORK/abi-client" -I "$E2E_WORK/inst/usr/local/include" "$TOP/tests/e2e/abi-client.c" -ldl
start=$(date +%s)
# The whole suite takes about 10 minutes on an idle 2-core machine; a test host
# that runs past L1_TIMEOUT in all is taken as hung.
export L1_TIMEOUT=${L1_TIMEOUT:-2700}
# The emulated test host (QEMU TCG running kvm-amd) now and then stalls: lost
# timer interrupts, tasks blocked in its own kernel, soft lockups; that says
# nothing about kiln. l1.sh's watchdog stops a host that prints no result for
# L1_STALL seconds (longer than any check's silence), and the suite goes on in
# a fresh host from the check that stalled, twice at most. What a stalled
# check printed before the stall is dropped; every other line counts.
export L1_STALL=${L1_STALL:-600}
skip=0
boot=0
status=0
failed_before=0
while :; do
	boot=$((boot + 1))
	status=0
	left=$((L1_TIMEOUT - ($(date +%s) - start)))
	[ "$left" -ge 60 ] || left=60
	L1_TIMEOUT=$left "$TOP/tests/e2e/l1.sh" "${E2E_SUITE:-$TOP/tests/e2e/suite.sh}" --skip "$skip" ||
		status=$?
	cp "$E2E_WORK/l1-console.log" "$E2E_WORK/l1-console.$boot.log"
	[ "$status" = 125 ] && [ -f "$E2E_WORK/l1-stalled" ] && [ "$boot" -le 2 ] || break
	# Checks begun in this host (their "-- " lines); the last one stalled.
	sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' "$E2E_WORK/l1-console.log" >"$E2E_WORK/l1-results.log"
	begun=$(grep -ac '^-- ' "$E2E_WORK/l1-results.log")
	stalled=$(grep -a '^-- ' "$E2E_WORK/l1-results.log" | tail -n1)
	# Failures before the stalled check still count.
	n=$(awk '/^-- /{last=NR} {line[NR]=$0} END {for (i = 1; i < last; i++) if (line[i] ~ /^FAIL/) c++; print c + 0}' \
		"$E2E_WORK/l1-results.log")
	failed_before=$((failed_before + n))
	[ "$begun" -gt 0 ] && skip=$((skip + begun - 1))
	log "the nested test host stalled${stalled:+ in ${stalled#-- }}; booting a fresh one from there"
done
log "suite took $(($(date +%s) - start)) s in $boot test host(s)"
if [ "$failed_before" -gt 0 ]; then
	echo "$failed_before check(s) failed in a test host that stalled later"
	[ "$status" = 0 ] && status=1
fi
exit $status
