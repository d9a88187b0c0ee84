#!/bin/sh
# In the lab: `kvmscope rmap` on a VM that exists before it starts (--once,
# the memslot iterator) and on one created while it watches (live events).
# Sections for tests/e2e/check_rmap.py.
set -u
kvmload --vcpus 1 --mem-per-vcpu 8 --slots 2 --iterations 1 --hold-ms 4000 --json >/tmp/k1.json 2>&1 &
k1=$!
n=0
while ! grep -q '"type":"hold"' /tmp/k1.json 2>/dev/null; do
	sleep 0.1; n=$((n + 1))
	[ $n -gt 600 ] && { echo "FAIL kvmload did not reach its hold: $(cat /tmp/k1.json)"; dmesg | tail -n 5; exit 1; }
done
echo "=== once exit=$(kvmscope rmap --once --json -p $k1 >/tmp/once.json 2>&1; echo $?)"
cat /tmp/once.json
echo "=== kvmload k1"
cat /tmp/k1.json
wait $k1
kvmscope rmap --json -d 8s >/tmp/live.json 2>&1 &
rp=$!
# Live events count from the "attached" record on.
n=0
while ! grep -q '"type":"attached"' /tmp/live.json 2>/dev/null; do
	sleep 0.1; n=$((n + 1))
	[ $n -gt 600 ] && { echo "FAIL rmap did not attach: $(cat /tmp/live.json)"; dmesg | tail -n 5; exit 1; }
done
kvmload --vcpus 1 --mem-per-vcpu 12 --slots 3 --iterations 1 --json >/tmp/k2.json 2>&1
wait $rp
echo "=== live exit=$?"
cat /tmp/live.json
echo "=== kvmload k2"
cat /tmp/k2.json
