#!/bin/bash
# BPF in the lab: `kvmscope check` passes, and every program loads, attaches
# and is triggered by a kvmload VM (tests/host/bpf_attach --all) on each
# stock lab kernel; with shadow paging (kvm_amd.npt=0) the rmap program must
# see allocations, with the TDP MMU none.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
attach=$root/build/tests/bpf_attach

lab() { # KERNEL APPEND CMD...: runs CMD, prefixes case lines with the kernel
	local kernel=$1 append=$2 tag=$1 out rc
	shift 2
	[ -n "$append" ] && tag="$kernel $append"
	out=$(lab_run --kernel "$kernel" ${append:+--append "$append"} --add "$attach" -- "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed -n -e "s/^\(PASS\|FAIL\|SKIP\) /\1 $tag: /p" -e "/^NOTE /p"
	if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
		echo "FAIL $tag: lab run exited $rc: $(printf '%s\n' "$out" | tail -n 4 | tr '\n' ' ')"
	fi
}

for kernel in stock-6.12 stock-6.1 patched-6.12; do
	series=
	[ "$kernel" = patched-6.12 ] && series=--series
	lab "$kernel" "" sh -c '
		if kvmscope check > /tmp/check.out 2>&1; then
			echo "PASS kvmscope check: $(grep -c "^    \*" /tmp/check.out) metrics with a way in"
		else
			echo "FAIL kvmscope check: $(grep -E "missing|UNAVAILABLE|FAILED|result" /tmp/check.out | tr "\n" " ")"
		fi
		/opt/kvmscope/add/bpf_attach --all '"$series"' --kvmload /opt/kvmscope/bin/kvmload'
done
lab stock-6.12 kvm_amd.npt=0 /opt/kvmscope/add/bpf_attach --all --rmap --kvmload /opt/kvmscope/bin/kvmload
lab patched-6.12 kvm_amd.npt=0 /opt/kvmscope/add/bpf_attach --all --series --rmap --kvmload /opt/kvmscope/bin/kvmload
