#!/bin/sh
# In the lab: one `kvmscope migrate --json` session traces a series of
# kvmload VMs (every backing × mode, 1 and 2 vCPUs, 1 and 3 memslots).
# Prints each run's ground truth and the tracer's output in sections for
# tests/e2e/check_migrate.py, which compares them on the host.
set -u
taskset -c 1 kvmscope migrate --json -i 250ms >/tmp/migrate.json 2>/tmp/migrate.err &
mpid=$!
lab-wait /tmp/migrate.json '"type":"attached"' 30 $mpid ||
	{ echo "FAIL migrate did not attach: $(cat /tmp/migrate.err)"; exit 1; }
i=0
for backing in anon thp hugetlb; do
	for mode in get manual manual-init-set; do
		i=$((i + 1))
		# Alternate the shapes so every backing and mode sees both.
		if [ $((i % 2)) -eq 0 ]; then vcpus=2 slots=3; else vcpus=1 slots=1; fi
		name="$backing $mode vcpus=$vcpus slots=$slots"
		taskset -c 0 kvmload --vcpus $vcpus --mem-per-vcpu 12 --slots $slots --backing $backing \
			--iterations 3 --write-percent 60 --mode $mode --pause-ms 200 --map-gpa-calls 7 --json \
			--stats-reads $((i % 3)) \
			>/tmp/k.json 2>/tmp/k.err
		echo "=== kvmload $name exit=$?"
		cat /tmp/k.json
		cat /tmp/k.err
	done
done
# Let the tracer see the last exit, then end it as a user would.
sleep 0.5
kill -INT $mpid
wait $mpid
echo "=== migrate exit=$?"
cat /tmp/migrate.json
echo "=== migrate stderr"
cat /tmp/migrate.err
