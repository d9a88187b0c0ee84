#!/bin/bash
# kvmscope migrate --trace in the lab (stock 6.12): the Chrome trace is
# checked for structure and against the run's JSON lines and kvmload's
# ground truth (tests/lab/guest/trace.sh, tests/e2e/check_trace.py). The
# trace is kept as build/test-logs/trace-lab.json for tests/manual/trace-view.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
logs=$root/build/test-logs
mkdir -p "$logs"
kernel=${LAB_TRACE_KERNEL:-stock-6.12}
log=$logs/trace-$kernel.log
if ! lab_run --kernel "$kernel" --add "$here/guest/trace.sh" -- \
	sh /opt/kvmscope/add/trace.sh >"$log" 2>&1; then
	echo "FAIL $kernel: lab run failed: $(tail -n 3 "$log" | tr '\n' ' ')"
	exit 1
fi
python3 "$root/tests/e2e/check_trace.py" --label "trace $kernel" --save "$logs/trace-lab.json" "$log"
