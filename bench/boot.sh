#!/bin/bash
# make bench: the boot benchmark, inside the nested test host (no KVM needed here).
set -euo pipefail
. "$(dirname "$0")/../tests/e2e/lib.sh"
[ -x "$KILN" ] || die "no $KILN: run make"
mkdir -p "$E2E_WORK"
"$TOP/tests/e2e/l1.sh" "$TOP/bench/boot-inner.sh"
