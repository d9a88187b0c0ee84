#!/bin/sh
# In the lab: `kvmscope stats` against debugfs for a VM that is not running
# (kvmload holds it after populating), then a VM that exits mid-run.
# Sections for check.py.
#
# Nothing here depends on how fast the lab runs: the held VM is held until
# this script has read debugfs (then killed), and the exiting VM exits only
# once the tracer has sampled it; every wait is bounded.
set -u

# wait_for FILE PATTERN WHAT: up to 60 s for PATTERN to appear in FILE.
wait_for() {
	lab-wait "$1" "$2" 60 && return 0
	echo "FAIL $3 (waited 60 s): $(tail -c 300 "$1" 2>/dev/null)"
	dmesg | tail -n 5
	exit 1
}

kvmload --vcpus 2 --mem-per-vcpu 8 --backing thp --iterations 1 --hold-ms 600000 --json \
	>/tmp/hold.json 2>&1 &
kp=$!
wait_for /tmp/hold.json '"type":"hold"' "kvmload did not reach its hold"
echo "=== kvmload pid=$kp"
echo "=== stats exit=$(kvmscope stats -p $kp --json --raw -i 100ms -d 150ms >/tmp/stats.json 2>/tmp/stats.err; echo $?)"
cat /tmp/stats.json /tmp/stats.err
echo "=== debugfs"
for dir in /sys/kernel/debug/kvm/$kp-*; do
	for f in "$dir"/*; do
		if [ -d "$f" ]; then
			for g in "$f"/*; do
				[ -f "$g" ] && echo "$(basename "$f") $(basename "$g") $(cat "$g" 2>/dev/null)"
			done
		elif [ -f "$f" ]; then
			echo "vm $(basename "$f") $(cat "$f" 2>/dev/null)"
		fi
	done
done
kill $kp
wait $kp

# A VM that exits while stats watches every VM: it exits (killed, as a VMM
# may be) after the tracer has sampled it at least once.
kvmload --vcpus 1 --mem-per-vcpu 8 --iterations 1 --hold-ms 600000 --json >/tmp/k2.json 2>&1 &
kp2=$!
wait_for /tmp/k2.json '"type":"hold"' "second kvmload did not reach its hold"
kvmscope stats --json -i 100ms -d 600s >/tmp/churn.json 2>/tmp/churn.err &
sp=$!
wait_for /tmp/churn.json "\"type\":\"stats\".*\"pid\":$kp2," "stats did not sample the second VM"
kill $kp2
wait $kp2
wait_for /tmp/churn.json '"event":"exited"' "stats did not report the exit"
# A few more intervals: none may sample the VM that is gone.
sleep 0.5
kill -INT $sp
wait $sp
echo "=== churn pid=$kp2 exit=$?"
cat /tmp/churn.json /tmp/churn.err
