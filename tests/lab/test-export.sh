#!/bin/bash
# kvmscope export in the lab (tests/lab/guest/export.sh), checked against
# kvmscope stats and kvmload's ground truth by tests/e2e/check_export.py,
# which also runs promtool on the scraped text. On stock 6.12 a real
# Prometheus, run from the build machine's root (--host-root), scrapes it
# too. The patched 6.12 (the series' tracepoints, rmap bytes avoided) runs
# without Prometheus: the format does not depend on the kernel, and
# Prometheus takes 10-60 s to start under TCG. LAB_KERNELS overrides the list.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
mkdir -p "$root/build/test-logs"
for kernel in ${LAB_KERNELS:-stock-6.12 patched-6.12}; do
	log=$root/build/test-logs/export-$kernel.log
	if [ "$kernel" = stock-6.12 ]; then
		lab=(--host-root) guest=() check=()
	else
		lab=() guest=(--no-prometheus) check=(--no-prometheus)
	fi
	if ! lab_run --kernel "$kernel" "${lab[@]}" --add "$here/guest/export.sh" -- \
		sh /opt/kvmscope/add/export.sh "${guest[@]}" >"$log" 2>&1; then
		echo "FAIL export $kernel: lab run failed: $(grep -m1 '^FAIL' "$log" || tail -n 3 "$log" | tr '\n' ' ')"
		continue
	fi
	python3 "$root/tests/e2e/check_export.py" "${check[@]}" --label "export $kernel" "$log"
done
