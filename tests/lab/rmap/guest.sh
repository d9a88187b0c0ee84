#!/bin/sh
# In the lab: `kvmscope rmap` on a VM that exists before it starts (--once,
# the memslot iterator) and on one created while it watches (live events).
# Sections for check.py.
set -u

# wait_for FILE TYPE WHAT: until FILE has a JSON record of TYPE (60 s at most).
wait_for() {
	lab-wait "$1" "\"type\":\"$2\"" 60 ||
		{ echo "FAIL $3: $(cat "$1")"; dmesg | tail -n 5; exit 1; }
}

# KVM's own figure where the series gives it: its rmap tracepoints, read
# through tracefs, apart from kvmscope (check.py compares the two).
ev=/sys/kernel/tracing/events/kvmmmu
if [ -d $ev/kvm_mmu_rmap_alloc ]; then
	: >/sys/kernel/tracing/trace
	echo 1 >$ev/kvm_mmu_rmap_alloc/enable
	echo 1 >$ev/kvm_mmu_rmap_skip/enable
fi

kvmload --vcpus 1 --mem-per-vcpu 8 --slots 2 --iterations 1 --hold-ms 4000 --json >/tmp/k1.json 2>&1 &
k1=$!
wait_for /tmp/k1.json hold "kvmload did not reach its hold"
echo "=== once exit=$(kvmscope rmap --once --json -p $k1 >/tmp/once.json 2>&1; echo $?)"
cat /tmp/once.json
echo "=== kvmload k1"
cat /tmp/k1.json
wait $k1
kvmscope rmap --json -d 8s >/tmp/live.json 2>&1 &
rp=$!
# Live events count from the "attached" record on.
wait_for /tmp/live.json attached "rmap did not attach"
kvmload --vcpus 1 --mem-per-vcpu 12 --slots 3 --iterations 1 --json >/tmp/k2.json 2>&1
wait $rp
echo "=== live exit=$?"
cat /tmp/live.json
echo "=== kvmload k2"
cat /tmp/k2.json
if [ -d $ev/kvm_mmu_rmap_alloc ]; then
	echo 0 >$ev/kvm_mmu_rmap_alloc/enable
	echo 0 >$ev/kvm_mmu_rmap_skip/enable
	echo "=== kvm rmap tracepoints"
	grep -E 'kvm_mmu_rmap_(alloc|skip):' /sys/kernel/tracing/trace
fi
