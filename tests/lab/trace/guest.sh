#!/bin/sh
# In the lab: `kvmscope migrate --json --trace` over two kvmload runs, then
# a third run still logging when the tracer gets SIGINT (its spans must be
# closed by the end of the trace); then a trace file on a full disk. Prints the runs' ground truth, the JSON
# lines and the trace (gzip + base64) in sections for check.py.
set -u
kvmscope migrate --json -i 250ms --trace /tmp/trace.json >/tmp/migrate.json 2>/tmp/migrate.err &
mpid=$!
lab-wait /tmp/migrate.json '"type":"attached"' 30 $mpid ||
	{ echo "FAIL migrate did not attach: $(cat /tmp/migrate.err)"; exit 1; }
run() { # NAME ARGS...
	name=$1
	shift
	kvmload --mem-per-vcpu 12 --iterations 3 --write-percent 60 --pause-ms 200 --json "$@" \
		>/tmp/k.json 2>/tmp/k.err
	echo "=== kvmload $name exit=$?"
	cat /tmp/k.json /tmp/k.err
}
run "thp manual-init-set vcpus=2 slots=2" --vcpus 2 --slots 2 --backing thp --mode manual-init-set
run "anon get vcpus=1 slots=1" --vcpus 1 --slots 1 --backing anon --mode get
sleep 0.5
# The third VM: SIGINT to the tracer while its slot is logging.
ons=$(grep -c '"logging":"on"' /tmp/migrate.json)
kvmload --vcpus 1 --mem-per-vcpu 12 --iterations 20 --pause-ms 200 --mode manual \
	>/dev/null 2>&1 &
kpid=$!
n=0
while [ "$(grep -c '"logging":"on"' /tmp/migrate.json)" -le "$ons" ] && [ $n -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
sleep 0.3
kill -INT $mpid
wait $mpid
echo "=== migrate exit=$?"
cat /tmp/migrate.json
echo "=== migrate stderr"
cat /tmp/migrate.err
echo "=== interrupted kvmload pid=$kpid"
kill $kpid 2>/dev/null
wait $kpid 2>/dev/null
# A trace file that fills its disk mid-run: one line, status 1.
mkdir -p /tmp/small && mount -t tmpfs -o size=16k tmpfs /tmp/small
kvmscope migrate -i 100ms -d 30s --trace /tmp/small/t.json >/dev/null 2>/tmp/full.err
echo "=== full disk exit=$?"
cat /tmp/full.err
echo "=== trace bytes=$(wc -c </tmp/trace.json)"
gzip -c /tmp/trace.json | base64
echo "=== end"
