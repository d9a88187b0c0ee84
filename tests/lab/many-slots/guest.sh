#!/bin/sh
# In the lab: a VMM with more memslots than a small table holds. kvmload
# splits 64 MiB of test memory into 256 memslots (plus its code slot), as a
# VMM with memory hotplug may have, and runs the manual dirty-log protocol
# under `kvmscope migrate`; `kvmscope rmap --once` reads the VM's memslots
# during kvmload's hold. Sections for check.py.
set -u
# wait_for FILE TYPE WHAT: until FILE has a JSON record of TYPE (60 s at most).
wait_for() {
	lab-wait "$1" "\"type\":\"$2\"" 60 ||
		{ echo "FAIL $3: $(cat "$1")"; dmesg | tail -n 5; exit 1; }
}
slots=${1:-256}
taskset -c 1 kvmscope migrate --json -i 250ms >/tmp/migrate.json 2>/tmp/migrate.err &
mp=$!
wait_for /tmp/migrate.json attached "migrate did not attach"
taskset -c 0 kvmload --vcpus 2 --mem-per-vcpu 32 --slots "$slots" --iterations 2 \
	--write-percent 40 --mode manual --hold-ms 4000 --json >/tmp/k.json 2>/tmp/k.err &
kp=$!
wait_for /tmp/k.json hold "kvmload did not reach its hold"
echo "=== rmap exit=$(kvmscope rmap --once --json -p $kp >/tmp/rmap.json 2>&1; echo $?)"
cat /tmp/rmap.json
wait $kp
echo "=== kvmload exit=$?"
cat /tmp/k.json /tmp/k.err
sleep 0.5
kill -INT $mp
wait $mp
echo "=== migrate exit=$?"
cat /tmp/migrate.json /tmp/migrate.err
