#!/bin/bash
# kvmload in the lab, on each stock lab kernel: every backing × mode must
# run and pass its own invariants (tests/lab/guest/kvmload-matrix.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
for kernel in stock-6.12 stock-6.1; do
	out=$(lab_run --kernel "$kernel" --add "$here/guest/kvmload-matrix.sh" -- \
		sh /opt/kvmscope/add/kvmload-matrix.sh 2>&1)
	rc=$?
	# Prefix each case with the kernel it ran on.
	printf '%s\n' "$out" | sed -n -e "s/^\(PASS\|FAIL\|SKIP\) /\1 $kernel: /p" -e "/^NOTE /p"
	[ $rc -eq 0 ] || echo "FAIL $kernel: lab run exited $rc: $(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')"
done
