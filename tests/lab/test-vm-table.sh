#!/bin/bash
# The kernel's VM table full (issue: BPF map full with many VMs) in the lab
# (stock 6.12): `--max-vms 3` under migrate and export, one kvmload VM,
# then 5 at once, then 3 one after another (tests/lab/guest/vm-table.sh), checked
# by tests/e2e/check_vm_table.py against each VM's ground truth.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
log=$root/build/test-logs/vm-table.log
mkdir -p "$(dirname "$log")"
if ! lab_run --kernel stock-6.12 --timeout 900 --add "$here/guest/vm-table.sh" --add "$here/guest/dump.sh" -- \
	sh /opt/kvmscope/add/vm-table.sh >"$log" 2>&1; then
	echo "FAIL vm-table: lab run failed: $(tail -n 3 "$log" | tr '\n' ' ')"
	exit 1
fi
python3 "$root/tests/e2e/check_vm_table.py" --label vm-table "$log"
