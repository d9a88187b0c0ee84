#!/bin/bash
# kvmscope stats in the lab against debugfs, and with a VM exiting
# (tests/lab/guest/stats.sh, compared by tests/e2e/check_stats.py).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
mkdir -p "$root/build/test-logs"
for kernel in stock-6.12 stock-6.1; do
	log=$root/build/test-logs/stats-$kernel.log
	if ! lab_run --kernel "$kernel" --add "$here/guest/stats.sh" -- \
		sh /opt/kvmscope/add/stats.sh >"$log" 2>&1; then
		echo "FAIL $kernel: lab run failed: $(tail -n 3 "$log" | tr '\n' ' ')"
		continue
	fi
	python3 "$root/tests/e2e/check_stats.py" --label "$kernel" "$log"
done
