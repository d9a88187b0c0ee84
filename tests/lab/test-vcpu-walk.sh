#!/bin/bash
# The vCPU walk of default `kvmscope migrate` (KVM's per-vCPU fault stats
# read from kernel memory at each dirty-log ioctl, bpf/vcpu_stats.bpf.h)
# on 1, 2, 8, 64 and 66 vCPUs (one and two xarray levels), on each lab kernel: tests/lab/guest/vcpu-walk.sh
# runs the VMs under the tracer, tests/e2e/check_vcpu_walk.py compares the
# sums with kvmload's own stats fd reads.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
logs=$root/build/test-logs
mkdir -p "$logs"
for kernel in ${LAB_KERNELS:-stock-6.12 stock-6.1 patched-6.12}; do
	log=$logs/vcpu-walk-$kernel.log
	lab_run --kernel "$kernel" --add "$here/guest/vcpu-walk.sh" -- \
		sh /opt/kvmscope/add/vcpu-walk.sh >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL $kernel: lab run exited $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
		continue
	fi
	python3 "$root/tests/e2e/check_vcpu_walk.py" --label "$kernel" "$log"
done
