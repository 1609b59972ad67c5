#!/bin/bash
# passt.sh ARGS...: passt ARGS, also from the suite's chroot in the test host.
# passt isolates itself in a user namespace, which the kernel refuses to a
# chrooted process, and the suite runs chrooted in the test host (l1-init.sh).
# There, passt gets a mount namespace of its own in which this root is moved
# over the namespace's root, so it is not chrooted. Open file descriptors go
# through (kiln run --net hands passt its end of a socketpair: KILN_PASST).
# $PASST_ARGS: more arguments, after the caller's (a check fixes what passt offers).
# shellcheck disable=SC2086
if [ "$(stat -c %d:%i /)" != "$(stat -Lc %d:%i /proc/1/root)" ] && [ -x /proc/1/root/bin/busybox ]; then
	exec nsenter --root=/proc/1/root /bin/busybox unshare -m /bin/busybox sh -c \
		'mount --make-rprivate / && cd /host && mount --move /host / && exec chroot . "$0" "$@"' \
		/usr/bin/passt "$@" ${PASST_ARGS:-}
fi
exec passt "$@" ${PASST_ARGS:-}
