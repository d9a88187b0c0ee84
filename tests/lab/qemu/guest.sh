#!/bin/sh
# In the lab (tests/lab/run --host-root): the build machine's QEMU runs a
# guest that dirties memory and live-migrates it (tests/lab/qemu/migrate.py,
# under chroot /host), while `kvmscope migrate --json` traces it; once the
# migration completed (guest paused), `kvmscope stats --json` reads QEMU's
# statistics. Prints sections for check.py.
#
# usage: qemu-migrate.sh REPO GUEST_KERNEL GUEST_INITRD   (host paths)
set -u
repo=$1 kernel=$2 initrd=$3
# The checkout (driver, initramfs) and the guest kernel's directory stay
# visible in the chroot even when they live under the host's /tmp.
lab-mount-host /host "$repo" "$(dirname "$kernel")" ||
	{ echo "FAIL cannot mount the host root"; exit 1; }
# The chroot's /tmp (a tmpfs lab-mount-host puts there) is /host/tmp here:
# the driver's files are exchanged through it.
dir=/host/tmp/qemu
mkdir -p $dir

# wait_file FILE SECONDS WHAT: bounded wait, gives up if the driver died.
wait_file() {
	n=0
	while [ ! -e "$1" ]; do
		sleep 0.1
		n=$((n + 1))
		if [ $n -gt $(($2 * 10)) ] || ! kill -0 $dpid 2>/dev/null; then
			echo "FAIL waiting for $3 ($1)"
			return 1
		fi
	done
}

kvmscope migrate --json -i 250ms >/tmp/migrate.json 2>/tmp/migrate.err &
mpid=$!
lab-wait /tmp/migrate.json '"type":"attached"' 30 $mpid ||
	{ echo "FAIL migrate did not attach: $(cat /tmp/migrate.err)"; exit 1; }

start=$(cut -d' ' -f1 /proc/uptime)
chroot /host /usr/bin/python3 "$repo/tests/lab/qemu/migrate.py" \
	--kernel "$kernel" --initrd "$initrd" --dir /tmp/qemu --timeout 150 \
	>/tmp/qmp.json 2>/tmp/qmp.err &
dpid=$!
ok=1
if wait_file $dir/started 200 "the guest to start"; then
	# kvmscope migrate rescans /proc every second: let it find QEMU and
	# its stats fds before logging starts.
	sleep 1.5
	: >$dir/go
	if wait_file $dir/migrated 200 "the migration"; then
		# Through debugfs (QEMU holds no stats fd): this kvmscope makes
		# a reference VM while migrate traces; migrate must not report it.
		kvmscope stats --json --raw -i 10ms -d 10ms -p "$(cat $dir/qemu.pid)" \
			>/tmp/stats.json 2>/tmp/stats.err &
		spid=$!
		wait $spid
		echo "=== stats exit=$?"
		cat /tmp/stats.json /tmp/stats.err
		echo "=== pids migrate=$mpid stats=$spid"
		: >$dir/stats-done
	else
		ok=0
	fi
else
	ok=0
fi
wait $dpid
echo "=== qmp exit=$?"
cat /tmp/qmp.json
cat /tmp/qmp.err
echo "=== qemu-run seconds=$(awk -v s="$start" '{ printf "%.1f", $1 - s }' /proc/uptime)"
echo "=== serial"
tail -n 5 $dir/serial.log
[ $ok = 1 ] || { echo "=== dmesg"; dmesg | tail -n 20; }
sleep 0.3
kill -INT $mpid
wait $mpid
echo "=== migrate exit=$?"
cat /tmp/migrate.json
echo "=== migrate stderr"
cat /tmp/migrate.err
[ $ok = 1 ]
