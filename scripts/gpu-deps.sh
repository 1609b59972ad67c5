#!/bin/sh
# Fetch the GPU userspace from Debian sid into build/gpu-root without touching
# the system: Mesa (Venus guest driver and lavapipe), virglrenderer 1.3, the
# Vulkan loader and tools, llama.cpp's tests and Vulkan backend, and sid's own
# libc so those binaries run on bookworm through sid's loader.
#
# Idempotent: packages already in build/gpu-root/debs are not fetched again and
# the unpacked tree is rebuilt only when the package set changed.
#
# Usage: scripts/gpu-deps.sh [--offline] [ROOT]      (default build/gpu-root)
#   --offline: no apt; unpack whatever .debs ROOT/debs holds (for machines
#              without network that were handed the .debs)
set -eu

OFFLINE=
if [ "${1:-}" = --offline ]; then
	OFFLINE=1
	shift
fi
ROOT=${1:-build/gpu-root}
SUITE=${GPU_SUITE:-sid}
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
APTDIR=$ROOT/apt
DEBS=$ROOT/debs

# What the GPU work needs; everything else comes from their dependencies.
WANT="mesa-vulkan-drivers libvirglrenderer1 virgl-server libvulkan1 vulkan-tools
libc6 llama.cpp-tests llama.cpp-tools libggml0-backend-vulkan"

# Never needed to run binaries out of an unpacked tree: maintainer-script
# tooling, essential packages with no libraries we load, and data-only
# packages whose absence only costs locale or keyboard data.
SKIP="debconf dpkg perl-base perl adduser init-system-helpers sensible-utils
lsb-base libc-bin tzdata ucf bash coreutils base-files debianutils
usr-is-merged passwd login gcc-14-base gcc-15-base gcc-16-base
libdrm-common libx11-data xkb-data wget curl"

say() { printf 'gpu-deps: %s\n' "$*"; }

apt_opts() {
	echo "-o Dir::Etc::SourceList=$APTDIR/sources.list" \
		"-o Dir::Etc::SourceParts=/dev/null" \
		"-o Dir::State::Lists=$APTDIR/lists" \
		"-o Dir::Cache=$APTDIR/cache" \
		"-o APT::Architecture=amd64 -o APT::Architectures=amd64" \
		"-o Debug::NoLocking=1"
}

# A private sources file with the system's Debian mirror, so the system's
# own apt configuration stays bookworm-only.
write_sources() {
	mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' \
		/etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
		"$mirror" "$SUITE" >"$APTDIR/sources.list.new"
	mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"
}

update_lists() {
	# Lists younger than a day are good enough; sid moves slowly enough.
	if [ -n "$(find "$APTDIR/lists" -name '*_Packages*' -mtime -1 2>/dev/null)" ]; then
		say "package lists for $SUITE are fresh"
		return
	fi
	say "updating package lists for $SUITE"
	# shellcheck disable=SC2046
	apt-get $(apt_opts) -q update >/dev/null 2>&1
}

# Depends and Pre-Depends, level by level from WANT, never descending into
# SKIP; of alternatives ("a | b") only the first is taken, and virtual
# packages (<name>) are left out.
direct_deps() {
	# shellcheck disable=SC2046,SC2086
	apt-cache $(apt_opts) depends --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
		awk '/^ *\|?(Pre)?Depends:/ {
			if (!skip && $2 !~ /^</) print $2
			skip = ($1 ~ /^\|/)
			next
		}
		{ skip = 0 }'
}

resolve() {
	# shellcheck disable=SC2086,SC2116 # one line, single spaces
	skip=" $(echo $SKIP) "
	all=""
	level=$WANT
	while [ -n "$level" ]; do
		next=""
		for p in $level; do
			case "$skip$all " in *" $p "*) continue ;; esac
			all="$all $p"
			next="$next $p"
		done
		[ -n "$next" ] || break
		# shellcheck disable=SC2086
		level=$(direct_deps $next | sort -u)
	done
	echo "$all" | tr ' ' '\n' | sed '/^$/d' | sort -u
}

# .debs of packages no longer needed (an older version, a dropped
# dependency) would be unpacked by --offline runs; drop them.
prune() {
	for f in "$DEBS"/*.deb; do
		[ -e "$f" ] || continue
		p=$(basename "$f" | cut -d_ -f1)
		if grep -qx "$p" "$ROOT/packages.new" &&
			[ "$f" = "$(ls -t "$DEBS/${p}_"*.deb | head -1)" ]; then
			continue
		fi
		say "dropping $(basename "$f")"
		rm -f "$f"
	done
}

download() {
	mkdir -p "$DEBS"
	n=0
	total=$(wc -l <"$ROOT/packages.new")
	while read -r p; do
		n=$((n + 1))
		if ls "$DEBS/${p}_"*.deb >/dev/null 2>&1; then
			continue
		fi
		say "[$n/$total] downloading $p"
		# shellcheck disable=SC2046
		(cd "$DEBS" && apt-get $(apt_opts) -o APT::Sandbox::User=root -q download "$p" >/dev/null)
	done <"$ROOT/packages.new"
}

unpack() {
	if [ -f "$ROOT/packages" ] && cmp -s "$ROOT/packages" "$ROOT/packages.new" &&
		[ -x "$ROOT/usr/lib64/ld-linux-x86-64.so.2" ]; then
		say "unpacked tree is up to date"
		return
	fi
	say "unpacking $(wc -l <"$ROOT/packages.new") packages into $ROOT"
	for d in usr etc lib lib64 bin sbin; do rm -rf "${ROOT:?}/$d"; done
	while read -r p; do
		for f in "$DEBS/${p}_"*.deb; do dpkg -x "$f" "$ROOT"; done
	done <"$ROOT/packages.new"
	cp "$ROOT/packages.new" "$ROOT/packages"
}

write_wrapper() {
	# sid's binaries need sid's glibc: run them through sid's own loader.
	cat >"$ROOT/run" <<'EOF'
#!/bin/sh
# Run a binary from this tree (or any program) with this tree's loader and libraries.
R=$(cd "$(dirname "$0")" && pwd)
L=$R/usr/lib/x86_64-linux-gnu
exe=$1; shift
case $exe in */*) ;; *) exe=$R/usr/bin/$exe ;; esac
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$R/usr/share/vulkan/icd.d/lvp_icd.json}
exec "$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "${GPU_ROOT_EXTRA_LIBS:+$GPU_ROOT_EXTRA_LIBS:}$L:$L/llama:$L/ggml/backends0" "$exe" "$@"
EOF
	chmod +x "$ROOT/run"
}

if [ -n "$OFFLINE" ]; then
	for f in "$DEBS"/*.deb; do basename "$f" | cut -d_ -f1; done | sort -u >"$ROOT/packages.new"
else
	write_sources
	update_lists
	resolve >"$ROOT/packages.new"
	say "$(wc -l <"$ROOT/packages.new") packages needed"
	download
	prune
fi
unpack
write_wrapper
say "done: $(du -sh "$DEBS" | cut -f1) of .debs; run sid binaries with $ROOT/run BINARY"
