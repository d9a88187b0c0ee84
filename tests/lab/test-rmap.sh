#!/bin/bash
# kvmscope rmap in the lab: TDP MMU (nothing allocated, bytes avoided equal
# the formula) and shadow paging (kvm_amd.npt=0: allocated bytes equal the
# formula), on stock and patched 6.12 (tests/e2e/check_rmap.py).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
mkdir -p "$root/build/test-logs"
for kernel in stock-6.12 patched-6.12; do
	for paging in tdp shadow; do
		log=$root/build/test-logs/rmap-$kernel-$paging.log
		append=() shadow=()
		if [ $paging = shadow ]; then append=(--append kvm_amd.npt=0); shadow=(--shadow); fi
		if ! lab_run --kernel "$kernel" "${append[@]}" --add "$here/guest/rmap.sh" -- \
			sh /opt/kvmscope/add/rmap.sh >"$log" 2>&1; then
			echo "FAIL $kernel $paging: lab run failed: $(tail -n 3 "$log" | tr '\n' ' ')"
			continue
		fi
		python3 "$root/tests/e2e/check_rmap.py" "${shadow[@]}" --label "$kernel $paging" "$log"
	done
done
