#!/bin/sh
# /init of the test guests: load the virtio modules, say we are up, run the
# check named by kiln.test= and report it on the console, then power off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do
	insmod /lib/modules/$m || echo "guest: insmod $m failed"
done
# Hold the console open for the whole run, as a real init does: input that
# arrives while no process has the tty open would be dropped at its last close.
out=/dev/hvc0
[ -c $out ] || out=/dev/console
exec <$out >$out 2>&1
say() { echo "$*"; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
result() { say "KILN-RESULT $test $1 $2"; }
say KILN-GUEST-READY
test=$(arg kiln.test)

case $test in
info)
	result INFO "nproc=$(nproc) memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
	;;
echo)
	# A line typed on the host comes back with a prefix only the guest adds.
	read -r line
	result INFO "echo:$line"
	;;
rng)
	cur=$(cat /sys/devices/virtual/misc/hw_random/rng_current)
	n=$(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)
	result INFO "rng_current=$cur bytes=$n"
	;;
blk-read)
	sum=$(sha256sum /dev/vda | cut -d' ' -f1)
	result INFO "sha256=$sum"
	;;
blk-write)
	# Write, sync, tell the host, then wait to be killed.
	printf 'kiln-sync-marker-%s' "$(arg kiln.tag)" | dd of=/dev/vda bs=512 conv=sync 2>/dev/null
	sync
	result INFO "synced"
	sleep 600
	;;
blk-ro)
	if echo x | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; then
		result INFO "write=accepted"
	else
		result INFO "write=refused"
	fi
	;;
blk-discard)
	if blkdiscard /dev/vda; then
		result INFO "discarded"
	else
		result INFO "discard failed"
	fi
	;;
reboot)
	reboot -f
	;;
panic)
	echo c >/proc/sysrq-trigger
	;;
sleep)
	result INFO "sleeping"
	sleep 600
	;;
powerbutton)
	# As a stock busybox system: acpid turns KEY_POWER from the ACPI power button
	# into /etc/acpi/PWRF/00000080, which powers off.
	mkdir -p /etc/acpi/PWRF
	printf '#!/bin/sh\necho "KILN-RESULT powerbutton INFO pressed"\npoweroff -f\n' \
		>/etc/acpi/PWRF/00000080
	chmod 755 /etc/acpi/PWRF/00000080
	acpid -d -c /etc/acpi 2>/dev/null &
	for _ in $(seq 50); do
		ls -l /proc/$!/fd 2>/dev/null | grep -q /dev/input/event && break
		sleep 0.1
	done
	result INFO "listening $(cat /sys/class/input/*/name 2>/dev/null | grep -c 'Power Button') button(s)"
	sleep 600
	;;
shell)
	echo "Kiln guest: $(uname -r), $(nproc) vCPUs. Type 'exit' to power off."
	setsid cttyhack sh -l
	;;
esac
poweroff -f
