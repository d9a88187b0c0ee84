#!/bin/bash
# kvmscope migrate against kvmload's ground truth, in the lab, on each lab
# kernel: tests/lab/guest/migrate-e2e.sh runs the VMs under the tracer,
# tests/e2e/check_migrate.py compares (one PASS/FAIL line per check).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
logs=$root/build/test-logs
mkdir -p "$logs"
for kernel in ${LAB_KERNELS:-stock-6.12 stock-6.1 patched-6.12}; do
	log=$logs/migrate-e2e-$kernel.log
	lab_run --kernel "$kernel" --add "$here/guest/migrate-e2e.sh" -- \
		sh /opt/kvmscope/add/migrate-e2e.sh >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL $kernel: lab run exited $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
		continue
	fi
	python3 "$root/tests/e2e/check_migrate.py" --label "$kernel" "$log"
done
