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
	kvmload --vcpus 2 --mem-per-vcpu 8 --hold-ms 35000 --iterations 1 >/dev/null 2>&1 &
	i=$((i + 1))
done
sleep 2
time -v kvmscope stats --json -i 10ms -d 30s >/tmp/stats.json 2>/tmp/time-stats.txt
samples=$(grep -c '"type":"stats"' /tmp/stats.json)
cpu_line "stats, 4 VMs x 2 vCPUs, 10 ms, 30 s ($samples records)" /tmp/time-stats.txt
awk -v n="$samples" -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
	END { printf "  per VM sample (VM + 2 vCPUs): %.1f us of CPU\n", (u + s) * 1e6 / (n / 3) }' /tmp/time-stats.txt
wait

# cpu_of PID: "user_s sys_s hwm_kib" of a live process (/proc: clock ticks
# of 10 ms, the kernel's USER_HZ, and VmHWM).
cpu_of() {
	awk '{ printf "%.2f %.2f ", $14 / 100, $15 / 100 }' /proc/$1/stat
	awk '/^VmHWM:/ { print $2 }' /proc/$1/status
}

# Tracers attach and detach only while no VM runs: patching the entry of
# KVM's fault handler while a vCPU executes it can crash the lab's emulated
# CPU (docs/lab.md, kvm-hold).
for run in idle storm; do
	kvmscope migrate --json -i 1s >/tmp/mig-$run.json 2>/dev/null &
	tp=$!
	# Count from the attached record on: loading and attaching the
	# programs is the startup benchmark's.
	n=0
	while ! grep -q '"type":"attached"' /tmp/mig-$run.json; do
		sleep 0.05
		n=$((n + 1))
		[ $n -gt 1200 ] && { echo "bench: migrate did not attach"; exit 1; }
	done
	set -- $(cpu_of $tp)
	u0=$1 s0=$2
	sleep 1
	if [ $run = storm ]; then
		# Dirty logging: 2 vCPUs rewriting 64 MiB, 6 iterations.
		kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 6 --mode get >/dev/null
	else
		sleep 20
	fi
	sleep 1.5
	set -- $(cpu_of $tp)
	kill -INT $tp
	wait $tp
	faults=$(awk -F'"faults":' '/"type":"interval"/ { split($2, a, ","); s += a[1] } END { print s + 0 }' /tmp/mig-$run.json)
	ev=$(grep -c -E '"type":"(dirty_log|memslot)"' /tmp/mig-$run.json)
	secs=$(awk -F'"duration_ns":' '/"type":"summary"/ { split($2, a, ","); printf "%.1f", a[1] / 1e9 }' /tmp/mig-$run.json)
	awk -v r=$run -v t="$secs" -v u="$(awk -v a=$1 -v b=$u0 'BEGIN { print a - b }')" \
		-v s="$(awk -v a=$2 -v b=$s0 'BEGIN { print a - b }')" -v m=$3 -v f="$faults" -v e="$ev" 'BEGIN {
		printf "migrate -i 1s, %s, %s s after attach: %d faults (%.0f/s), %d ring-buffer events: cpu %.0f ms (user %.2f s, sys %.2f s), max RSS %d KiB; CPU per 1 s interval %.1f ms\n",
			r, t, f, f / t, e, (u + s) * 1000, u, s, m, (u + s) * 1000 / t }'
done
