#!/bin/sh
# Per-event cost of kvmscope's hot-path BPF programs against empty programs
# on the same hooks, in one run (bench/hookcost.c); two kvmscope migrate
# sessions, --fault-program and --fault-latency, so both fault-path ways run. Workloads trigger the
# hooks: faults and whole-slot write protection (get mode), write
# protection by min_level at clears (manual mode), huge page splits (THP
# backing), stats reads (kvmscope stats every 10 ms).
. /opt/kvmscope/add/common.sh
hookcost >/tmp/hc.txt 2>&1 &
hpid=$!
n=0
while ! grep -q ready /tmp/hc.txt; do
	sleep 0.05
	n=$((n + 1))
	[ $n -gt 600 ] && { echo "bench: hookcost did not start: $(cat /tmp/hc.txt)"; exit 1; }
done
# Both fault-path ways in at once: the --fault-program tracepoint program
# (this session) and the --fault-latency pair (a second session). Default
# migrate has no program on the fault path (the cost of its dirty-log
# programs' walk of the vCPUs is bench/run nohook's: docs/design.md, "Why no program on the fault path").
start_migrate /tmp/m2.json -i 1s --fault-latency
mpid2=$mpid
start_migrate /tmp/m.json -i 1s --fault-program
kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 4 --mode get >/dev/null
kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 4 --mode manual --backing thp >/dev/null
kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 4 --mode manual-init-set --backing thp >/dev/null
kvmload --vcpus 1 --mem-per-vcpu 8 --hold-ms 2500 --iterations 1 >/dev/null &
kpid=$!
sleep 0.5
kvmscope stats -i 10ms -d 1500ms >/dev/null
wait $kpid
# Read the statistics while kvmscope's programs are still loaded.
kill -INT $hpid
wait $hpid
stop_migrate
mpid=$mpid2
stop_migrate
grep -v '^ready' /tmp/hc.txt
