#!/bin/bash
# A real VMM: Debian's QEMU (the build machine's own, shared into the lab
# read-only with --host-root) live-migrates a guest that dirties memory,
# traced by kvmscope migrate and stats; tests/e2e/check_qemu.py compares
# with QEMU's query-migrate and query-stats. The guest kernel is the stock
# 6.12 lab kernel, nested on the lab's SVM; its initramfs is the dirtier
# (build/lab/qemu-guest.cpio, made by `make`).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
logs=$root/build/test-logs
mkdir -p "$logs"
initrd=$root/build/lab/qemu-guest.cpio
if [ ! -s "$initrd" ]; then
	echo "FAIL qemu: $initrd missing (run make)"
	exit 1
fi
guest_kdir=$("$root/scripts/lab-kernel" stock-6.12) || { echo "FAIL qemu: no stock-6.12 kernel for the guest"; exit 1; }
for kernel in ${LAB_QEMU_KERNELS:-stock-6.12}; do
	log=$logs/qemu-migrate-$kernel.log
	start=$SECONDS
	# No huge pages reserved: QEMU's 128 MiB guest needs the memory.
	lab_run --kernel "$kernel" --host-root --hugepages 0 \
		--add "$here/guest/qemu-migrate.sh" -- \
		sh /opt/kvmscope/add/qemu-migrate.sh "$root" "$guest_kdir/vmlinuz" "$initrd" \
		>"$log" 2>&1
	rc=$?
	echo "NOTE $kernel: lab run took $((SECONDS - start)) s"
	if [ $rc -ne 0 ]; then
		echo "FAIL $kernel: lab run exited $rc: $(grep -m3 -E '^(FAIL|lab:|qemu-migrate:)' "$log" | tr '\n' ' ')"
		continue
	fi
	python3 "$root/tests/e2e/check_qemu.py" --label "qemu $kernel" "$log"
done
