#!/bin/sh
# In the lab: `kvmscope stats` against debugfs for a VM that is not running
# (kvmload holds it after populating), then a VM that exits mid-run.
# Sections for tests/e2e/check_stats.py.
set -u
kvmload --vcpus 2 --mem-per-vcpu 8 --backing thp --iterations 1 --hold-ms 6000 --json \
	>/tmp/hold.json 2>&1 &
kp=$!
n=0
while ! grep -q '"type":"hold"' /tmp/hold.json 2>/dev/null; do
	sleep 0.1; n=$((n + 1))
	[ $n -gt 600 ] && { echo "FAIL kvmload did not reach its hold: $(cat /tmp/hold.json)"; dmesg | tail -n 5; exit 1; }
done
echo "=== kvmload pid=$kp"
echo "=== stats exit=$(kvmscope stats -p $kp --json -i 100ms -d 150ms >/tmp/stats.json 2>/tmp/stats.err; echo $?)"
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
wait $kp
# A VM that exits while stats watches every VM.
kvmload --vcpus 1 --mem-per-vcpu 8 --iterations 1 --hold-ms 700 >/dev/null 2>&1 &
kp2=$!
sleep 0.3
echo "=== churn pid=$kp2 exit=$(kvmscope stats --json -i 100ms -d 2s >/tmp/churn.json 2>/tmp/churn.err; echo $?)"
cat /tmp/churn.json /tmp/churn.err
wait $kp2
