# Shared settings for the nested test host scripts (sourced).
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGES=${IMAGES:-$TOP/build/images}
E2E_WORK=${E2E_WORK:-$TOP/build/e2e}
KILN=${KILN:-$TOP/build/kiln}
# Debian kernel flavours the guests boot; the generic one is also the test host's kernel.
FLAVOURS="cloud generic"

log() { printf '%s\n' "e2e: $*" >&2; }
die() { log "$*"; exit 1; }
