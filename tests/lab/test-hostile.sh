#!/bin/bash
# kvmscope under hostile and bad conditions in the lab (stock 6.12): not
# root, signals during attach and run, closed output pipe, VMM exits, VM
# closed under a live VMM, ring buffer overflow, more VMMs than tracked,
# KVM modules unloaded, kvm module without BTF. tests/lab/guest/hostile.sh prints the case lines;
# docs/reliability.md lists what each case expects.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
root=$(dirname "$(dirname "$here")")
log=$root/build/test-logs/hostile.log
mkdir -p "$(dirname "$log")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The lab kernel's own kvm.ko without its BTF section, for the case of a
# kernel built without CONFIG_DEBUG_INFO_BTF_MODULES.
kdir=$("$root/scripts/lab-kernel" stock-6.12) || { echo "FAIL hostile: no lab kernel"; exit 1; }
objcopy --remove-section=.BTF "$kdir"/lib/modules/*/kvm.ko "$tmp/kvm-nobtf.ko" ||
	{ echo "FAIL hostile: cannot strip BTF from kvm.ko"; exit 1; }
lab_run --kernel stock-6.12 --timeout 900 --add "$here/guest/hostile.sh" --add "$tmp/kvm-nobtf.ko" -- \
	sh /opt/kvmscope/add/hostile.sh >"$log" 2>&1
rc=$?
grep -E '^(PASS|FAIL|SKIP|NOTE) ' "$log"
if [ $rc -ne 0 ]; then
	echo "FAIL hostile: lab run exited $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
fi
grep -q '^PASS ' "$log" || echo "FAIL hostile: no case ran (log: ${log#"$root"/})"
