#!/bin/sh
# In the lab: lazy rmap allocation at a VM's first shadow root. kvmload
# --nested runs a nested guest with nested paging once (after its hold),
# so KVM shadows the guest's nested page table: its first shadow root, at
# which it allocates the rmaps of every memslot of the VM.
# Watching: `kvmscope rmap` live and `kvmscope migrate`, both started
# before the VM; `kvmscope rmap --once` during kvmload's hold (before) and
# during its pause after iteration 0 (after). KVM's own account, where
# the kernel has the series: its kvm_mmu_rmap_alloc tracepoint through
# tracefs, on the monotonic clock kvmload and kvmscope use.
# Sections for check.py.
set -u
T=/sys/kernel/tracing
# wait_for FILE TYPE WHAT: until FILE has a JSON record of TYPE (60 s at most).
wait_for() {
	lab-wait "$1" "\"type\":\"$2\"" 60 ||
		{ echo "FAIL $3: $(cat "$1")"; dmesg | tail -n 5; exit 1; }
}

echo "=== host nested=$(cat /sys/module/kvm_amd/parameters/nested) tdp_mmu=$(cat /sys/module/kvm/parameters/tdp_mmu)"
echo mono >$T/trace_clock
tp=$T/events/kvmmmu/kvm_mmu_rmap_alloc
if [ -d $tp ]; then echo 1 >$tp/enable; echo "=== kvm tracepoint present"; fi

kvmscope rmap --json >/tmp/live.json 2>/tmp/live.err &
rp=$!
wait_for /tmp/live.json attached "rmap did not attach"
kvmscope migrate --json -i 250ms >/tmp/migrate.json 2>/tmp/migrate.err &
mp=$!
wait_for /tmp/migrate.json attached "migrate did not attach"

kvmload --vcpus 1 --mem-per-vcpu 8 --slots 2 --iterations 2 --write-percent 50 \
	--hold-ms 4000 --pause-ms 4000 --nested --json >/tmp/k.json 2>/tmp/k.err &
kp=$!
wait_for /tmp/k.json hold "kvmload did not reach its hold"
echo "=== before exit=$(kvmscope rmap --once --json -p $kp >/tmp/before.json 2>&1; echo $?)"
cat /tmp/before.json
wait_for /tmp/k.json iteration "kvmload did not finish iteration 0"
echo "=== after exit=$(kvmscope rmap --once --json -p $kp >/tmp/after.json 2>&1; echo $?)"
cat /tmp/after.json
wait $kp
echo "=== kvmload exit=$?"
cat /tmp/k.json /tmp/k.err
sleep 0.5
kill -INT $rp $mp
wait $rp
echo "=== live exit=$?"
cat /tmp/live.json /tmp/live.err
wait $mp
echo "=== migrate exit=$?"
cat /tmp/migrate.json /tmp/migrate.err
[ -d $tp ] && { echo 0 >$tp/enable; echo "=== kvm trace"; grep -v '^#' $T/trace; }
exit 0
