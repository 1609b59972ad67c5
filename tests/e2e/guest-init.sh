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

# Monotonic ns: busybox's date has no %N; the timer list's first "now at" is ktime.
now_ns() {
	local l
	while read -r l; do
		case $l in "now at "*)
			l=${l#now at }
			echo "${l% nsecs}"
			return ;;
		esac
	done </proc/timer_list
}

# The file-system benchmark: sequential write of kiln.mb MiB (fsync inside the
# timing), reading it back with cold guest caches, then kiln.files small files
# (none if 0; sync inside the timing).
fsbench() {
	local fs mb files d t0 t1 t2 t3 t4 t5 blk i rec
	fs=$(arg kiln.fs)
	mb=$(arg kiln.mb)
	files=$(arg kiln.files)
	mkdir -p /mnt
	case $fs in
	virtiofs) mount -t virtiofs bench /mnt ;;
	9p) mount -t 9p -o "$(arg kiln.9p)" bench /mnt ;;
	*) false ;;
	esac || { result FAIL "cannot mount $fs"; return; }
	d=/mnt/kiln-fsbench
	rm -rf $d && mkdir $d $d/small || { result FAIL "cannot write the share"; return; }
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(now_ns)
	rec=$(dd if=/dev/zero of=$d/big bs=1M count="$mb" conv=fsync 2>&1) || {
		result FAIL "write: $rec"; return; }
	t1=$(now_ns)
	echo 3 >/proc/sys/vm/drop_caches
	t2=$(now_ns)
	rec=$(dd if=$d/big of=/dev/null bs=1M 2>&1) || { result FAIL "read: $rec"; return; }
	t3=$(now_ns)
	case $rec in "$mb+0 records in"*) ;; *) result FAIL "read short: $rec"; return ;; esac
	rec="fs=$fs write_ns=$((t1 - t0)) read_ns=$((t3 - t2))"
	# 4 KiB per file, written by the shell itself: no process per file.
	if [ "${files:-0}" -gt 0 ]; then
		blk=$(head -c 4096 /dev/zero | tr '\0' k)
		t4=$(now_ns)
		i=0
		while [ $i -lt "$files" ]; do
			echo -n "$blk" >$d/small/f$i || { result FAIL "create f$i"; return; }
			i=$((i + 1))
		done
		sync
		t5=$(now_ns)
		[ "$(wc -c <$d/small/f0)" = 4096 ] || { result FAIL "small file size"; return; }
		rec="$rec create_ns=$((t5 - t4))"
	fi
	result INFO "$rec"
}

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
blk-qcow2)
	# /dev/vda is a qcow2 image with 0xab over its first MiB. Write 4 MiB at
	# 8 MiB (fresh clusters), then read it back past the guest's page cache.
	first=$(dd if=/dev/vda bs=1M count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
	dd if=/dev/urandom of=/qcow2-data bs=1M count=4 2>/dev/null
	new=$(sha256sum </qcow2-data | cut -d' ' -f1)
	dd if=/qcow2-data of=/dev/vda bs=1M seek=8 conv=fsync 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	back=$(dd if=/dev/vda bs=1M skip=8 count=4 2>/dev/null | sha256sum | cut -d' ' -f1)
	result INFO "first=$first written=$new read=$back"
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
balloon)
	# Fill kiln.mb MiB (a file on a tmpfs of its own: the initramfs's holds
	# half of RAM), then free it once the host has measured (a line on the
	# console) and idle: page reporting hands the freed memory to the
	# balloon a few seconds later.
	mb=$(arg kiln.mb)
	mkdir -p /fill
	if mount -t tmpfs -o size=$((mb + 1))m fill /fill &&
		dd if=/dev/zero of=/fill/data bs=1M count="$mb" 2>/dev/null; then
		result INFO "filled $mb MiB"
	else
		result INFO "fill failed: $(df -m /fill | tail -n1)"
	fi
	read -r line
	rm -f /fill/data
	result INFO "freed"
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
vsock)
	# Services the host reaches through kiln's "connect" sockets, then podman's
	# ready signal (the guest dials host port 1025), and a port nobody maps.
	vsock-guest listen 5000 &
	vsock-guest greet 5001 bye-from-guest &
	vsock-guest connect 2 7777 </dev/null >/dev/null 2>&1 && un=accepted || un=refused
	echo Ready | vsock-guest connect 2 1025 >/dev/null
	result INFO "ready-sent=$? unmapped=$un"
	sleep 600
	;;
fsbench)
	# bench/fs-inner.sh: the share tagged "bench", over virtio-fs (kiln.fs=virtiofs)
	# or 9p (kiln.fs=9p, mount options in kiln.9p=). Times in ns, taken here.
	fsbench
	;;
net)
	# eth0 by DHCP from passt, then a page from the test host's loopback through
	# the gateway address (passt maps it to the host); the other NICs come up too
	# and get whatever their backends send.
	for i in /sys/class/net/eth*; do ip link set "${i##*/}" up; done
	cat >/tmp/udhcpc.sh <<-'EOF'
	#!/bin/sh
	case $1 in bound | renew)
		ip addr add "$ip/${mask:-24}" dev "$interface"
		ip route add default via "${router%% *}" dev "$interface"
		echo "${router%% *}" >/tmp/gw
		;;
	esac
	EOF
	chmod 755 /tmp/udhcpc.sh
	nics=$(ls -d /sys/class/net/eth* | wc -l)
	mac=$(cat /sys/class/net/eth0/address)
	if udhcpc -i eth0 -s /tmp/udhcpc.sh -q -n -t 20 -T 1 >/dev/null 2>&1; then
		# (busybox 1.35's static wget crashes with -T: timeout bounds it instead)
		timeout 30 wget -q -O /tmp/page "http://$(cat /tmp/gw):$(arg kiln.port)/" 2>/tmp/wget.err
		w=$?
		page=$(head -c 200 /tmp/page 2>/dev/null)
		[ -n "$page" ] || say "guest: wget exit $w: $(cat /tmp/wget.err); $(ip addr show eth0 | grep inet); $(ip route)"
		result INFO "nics=$nics mac=$mac macs=$(cat /sys/class/net/eth*/address | tr '\n' ,) page=$page"
	else
		result INFO "nics=$nics mac=$mac dhcp=failed"
	fi
	;;
shell)
	echo "Kiln guest: $(uname -r), $(nproc) vCPUs. Type 'exit' to power off."
	setsid cttyhack sh -l
	;;
esac
poweroff -f
