#!/bin/sh
# Tracer CPU time and peak RSS (busybox time -v):
#  1. kvmscope stats sampling 4 VMs x 2 vCPUs every 10 ms for 30 s;
#  2. kvmscope migrate (1 s intervals, 20 s) with no guest activity, then
#     during a fault storm (kvmload dirtying memory under dirty logging):
#     the BPF side aggregates faults in maps, so the tracer's CPU per
#     interval must not grow with the event rate.
. /opt/kvmscope/add/common.sh
# cpu_line LABEL FILE: "LABEL: user+sys ms, max RSS KiB" from time -v output.
cpu_line() {
	awk -v l="$1" -F': ' '
		/User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { m = $2 }
		END { printf "%s: cpu %.0f ms (user %.2f s, sys %.2f s), max RSS %d KiB\n", l, (u + s) * 1000, u, s, m }' "$2"
}
i=0
while [ $i -lt 4 ]; do
	kvmload --vcpus 2 --mem-per-vcpu 8 --hold-ms 40000 --iterations 1 >/dev/null 2>&1 &
	i=$((i + 1))
done
sleep 2
time -v kvmscope stats --json -i 10ms -d 30s >/tmp/stats.json 2>/tmp/time-stats.txt
samples=$(grep -c '"type":"stats"' /tmp/stats.json)
cpu_line "stats, 4 VMs x 2 vCPUs, 10 ms, 30 s ($samples records)" /tmp/time-stats.txt
awk -v n="$samples" -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
	END { printf "  per VM sample (VM + 2 vCPUs): %.1f us of CPU\n", (u + s) * 1e6 / (n / 3) }' /tmp/time-stats.txt
wait

# Tracers attach and detach only while no VM runs: patching the entry of
# KVM's fault handler while a vCPU executes it can crash the lab's emulated
# CPU (docs/lab.md, kvm-hold).
for run in idle storm; do
	time -v kvmscope migrate --json -i 1s >/tmp/mig-$run.json 2>/tmp/time-$run.txt &
	tp=$!
	sleep 2
	if [ $run = storm ]; then
		# Dirty logging: 2 vCPUs rewriting 64 MiB, 8 iterations, twice.
		kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 8 --mode get >/dev/null
		kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 8 --mode get >/dev/null
	else
		sleep 20
	fi
	sleep 1.5
	# $tp is time(1): signal the kvmscope it runs.
	kill -INT "$(pgrep -P $tp)"
	wait $tp
	faults=$(awk -F'"faults":' '/"type":"interval"/ { split($2, a, ","); s += a[1] } END { print s + 0 }' /tmp/mig-$run.json)
	ev=$(grep -c -E '"type":"(dirty_log|memslot)"' /tmp/mig-$run.json)
	secs=$(awk -F'"duration_ns":' '/"type":"summary"/ { split($2, a, ","); printf "%.1f", a[1] / 1e9 }' /tmp/mig-$run.json)
	cpu_line "migrate -i 1s, $run, ${secs} s: $faults faults, $ev ring-buffer events" /tmp/time-$run.txt
	awk -v t="$secs" -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
		END { printf "  CPU per 1 s interval: %.1f ms\n", (u + s) * 1000 / t }' /tmp/time-$run.txt
done
