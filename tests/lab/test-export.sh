#!/bin/bash
# kvmscope export in the lab, scraped by busybox wget and by a real
# Prometheus run from the build machine's root (--host-root), compared with
# kvmscope stats and kvmload's ground truth by tests/e2e/check_export.py
# (which also runs promtool on the scraped text). One kernel: the output
# format does not depend on it, and Prometheus under TCG is slow to start.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
mkdir -p "$root/build/test-logs"
kernel=stock-6.12
log=$root/build/test-logs/export-$kernel.log
if ! lab_run --kernel "$kernel" --host-root --add "$here/guest/export.sh" -- \
	sh /opt/kvmscope/add/export.sh >"$log" 2>&1; then
	echo "FAIL $kernel: lab run failed: $(grep -m1 '^FAIL' "$log" || tail -n 3 "$log" | tr '\n' ' ')"
	exit 1
fi
python3 "$root/tests/e2e/check_export.py" --label "export $kernel" "$log"
