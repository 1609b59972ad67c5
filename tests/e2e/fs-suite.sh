#!/bin/bash
# The guest file-system suite, run by `kiln run` inside the guest on the
# virtio-fs root (Debian rootfs). One line per check: FS-PASS name, or
# FS-FAIL name: detail. Values the host verifies afterwards: FS-VALUE k v.
set -u
t=/kiln-fs-test
rm -rf "$t"
mkdir -p "$t" && cd "$t" || { echo "FS-FAIL setup: cannot use $t"; exit 1; }
# Each line ends with the seconds since the suite began: where the time goes, in CI logs too.
ok() { echo "FS-PASS $1 (at ${SECONDS}s)"; }
bad() { echo "FS-FAIL $1: $2 (at ${SECONDS}s)"; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-$2}"; fi; }

echo data >a
check "create and read back" '[ "$(cat a)" = data ]'
echo one >x; echo two >y; mv y x
check "rename over an existing file" '[ "$(cat x)" = two ] && [ ! -e y ]'
mkdir d1 d2; echo in >d1/f; mv -T d1 d2 2>/dev/null || mv d1 d2/
check "rename directories" '[ -f d2/f ] || [ -f d2/d1/f ]'
ln a h
check "hard link: two names, one inode" '[ "$(stat -c %h a)" = 2 ] && [ "$(stat -c %i a)" = "$(stat -c %i h)" ]'
echo more >>h
check "hard link: writes through one name show in the other" '[ "$(tail -n1 a)" = more ]'
ln -s a s
check "symlink" '[ "$(readlink s)" = a ] && [ "$(head -n1 s)" = data ]'
ln -s /nonexistent/target dangling
check "dangling symlink" '[ -L dangling ] && [ ! -e dangling ]'
if setfattr -n user.kiln -v value a 2>/dev/null; then
	check "xattr set/get" '[ "$(getfattr --only-values -n user.kiln a)" = value ]'
	setfattr -x user.kiln a
	check "xattr remove" '! getfattr -n user.kiln a >/dev/null 2>&1'
	setfattr -n trusted.kiln -v t a
	check "trusted xattr (root)" '[ "$(getfattr --only-values -n trusted.kiln a)" = t ]'
else
	bad "xattr set/get" "setfattr failed"
fi
chmod 640 a
check "chmod" '[ "$(stat -c %a a)" = 640 ]'
chown 1234:5678 a
check "chown" '[ "$(stat -c %u:%g a)" = 1234:5678 ]'
touch -d "2001-02-03 04:05:06 UTC" a
check "utimes" '[ "$(stat -c %Y a)" = 981173106 ]'
truncate -s 100000 a
check "truncate up" '[ "$(stat -c %s a)" = 100000 ]'
truncate -s 3 a
check "truncate down" '[ "$(cat a)" = dat ]'
mkfifo fifo
check "mkfifo" '[ -p fifo ]'
(echo through >fifo &) ; sleep 0.2
check "a FIFO works inside the guest" '[ "$(timeout 5 cat fifo)" = through ]'
python3 - <<'PY'
import mmap, os
fd = os.open("mm", os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
m[100:108] = b"MMAPDATA"
m.flush()
m.close()
os.close(fd)
PY
check "mmap shared write (read back)" '[ "$(dd if=mm bs=1 skip=100 count=8 2>/dev/null)" = MMAPDATA ]'
python3 -c 'import os; fd=os.open("synced", os.O_WRONLY|os.O_CREAT, 0o644); os.write(fd, b"durable"); os.fsync(fd); os.fdatasync(fd); os.close(fd)'
check "fsync, fdatasync" '[ "$(cat synced)" = durable ]'
sync
# 10 000 empty regular files by mknod(2): two round trips each (LOOKUP, MKNOD), where
# open+close costs three; the nested test host makes every round trip count. The host
# counts them afterwards and removes them (10 000 UNLINKs here would take minutes).
mkdir big && python3 -c 'import os
for i in range(10000): os.mknod("big/entry-%05d" % i)'
check "10000-entry directory: ls" '[ "$(ls big | wc -l)" = 10000 ]'
check "10000-entry directory: stat all" '[ "$(find big -type f | wc -l)" = 10000 ]'
rm big/entry-0000*
check "10000-entry directory: unlink in it" '[ "$(ls big | wc -l)" = 9990 ] && [ ! -e big/entry-00005 ]'
python3 -c 'import os
for i in range(10): os.mknod("big/entry-%05d" % i)'
# Leaving the share: the guest resolves "..", absolute symlinks and hard links itself,
# always inside its own root; nothing of the host outside the share is reachable.
ln -s /run/kiln-outside-secret esc 2>/dev/null
check "escape: .. at the root stays at the root" '[ "$(ls -di /.. | cut -d" " -f1)" = "$(ls -di / | cut -d" " -f1)" ]'
check "escape: a symlink to a host path finds nothing" '! cat esc 2>/dev/null | grep -q SECRET'
check "escape: the host's secret is not in the guest" '! grep -rqs SECRET /run 2>/dev/null'
if [ -f /root/hostfile ]; then
	echo "FS-VALUE hostfile_md5 $(md5sum </root/hostfile | cut -d" " -f1)"
fi
if [ -n "${KILN_FS_BIG:-}" ]; then
	head -c "$KILN_FS_BIG" /dev/urandom >bigfile && sync
	echo "FS-VALUE bigfile_md5 $(md5sum <bigfile | cut -d" " -f1)"
	echo "FS-VALUE bigfile_size $(stat -c %s bigfile)"
fi
if ls /kiln-debs/*.deb >/dev/null 2>&1; then
	if apt-get install -y -q /kiln-debs/*.deb >/tmp/apt.log 2>&1 && hello | grep -q "Hello, world"; then
		ok "apt-get install of a package, and it runs"
	else
		bad "apt-get install" "$(tail -n 5 /tmp/apt.log)"
	fi
fi
echo FS-DONE
