#!/bin/sh
# In the lab (booted with hugepagesz=1G hugepages=1): a VM whose test
# memory is one 1 GiB hugetlb page, so KVM maps it with a 1 GiB TDP entry;
# two such VMs run two iterations each under `kvmscope migrate`: get mode
# (KVM splits the 1 GiB mapping when logging starts) and manual-init-set
# (nothing is write-protected then; the first KVM_CLEAR_DIRTY_LOG protects
# and splits it, the series' lazy path). kvmload reads
# KVM's own page-size statistics (pages_4k/2m/1g) after populating and
# after each iteration. Sections for check.py.
set -u
# wait_for FILE TYPE WHAT: until FILE has a JSON record of TYPE (60 s at most).
wait_for() {
	lab-wait "$1" "\"type\":\"$2\"" 60 ||
		{ echo "FAIL $3: $(cat "$1")"; dmesg | tail -n 5; exit 1; }
}
echo "=== hugepages 1g=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null)"
taskset -c 1 kvmscope migrate --json -i 250ms >/tmp/migrate.json 2>/tmp/migrate.err &
mp=$!
wait_for /tmp/migrate.json attached "migrate did not attach"
for mode in get manual-init-set; do
	taskset -c 0 kvmload --vcpus 1 --mem-per-vcpu 1024 --backing hugetlb-1g --iterations 2 \
		--write-percent 2 --mode $mode --stats-reads 1 --json >/tmp/k.json 2>/tmp/k.err
	echo "=== kvmload $mode exit=$?"
	cat /tmp/k.json /tmp/k.err
done
sleep 0.5
kill -INT $mp
wait $mp
echo "=== migrate exit=$?"
cat /tmp/migrate.json /tmp/migrate.err
