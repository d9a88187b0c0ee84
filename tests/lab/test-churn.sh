#!/bin/bash
# VM churn in the lab (stock 6.12): 55 kvmload VMs, five at a time, under
# kvmscope migrate and stats; per-VM numbers against each VM's ground
# truth, fds, BPF map entries and RSS back to baseline
# (tests/lab/guest/churn.sh, checked by tests/e2e/check_churn.py).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
log=$root/build/test-logs/churn.log
mkdir -p "$(dirname "$log")"
if ! lab_run --kernel stock-6.12 --timeout 900 --add "$here/guest/churn.sh" --add "$here/guest/dump.sh" -- \
	sh /opt/kvmscope/add/churn.sh >"$log" 2>&1; then
	echo "FAIL churn: lab run failed: $(tail -n 3 "$log" | tr '\n' ' ')"
	exit 1
fi
python3 "$root/tests/e2e/check_churn.py" --label churn "$log"
