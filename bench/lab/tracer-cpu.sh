#!/bin/sh
# Tracer CPU time and peak RSS (busybox time -v) of kvmscope stats sampling
# 4 VMs x 2 vCPUs every 10 ms for 30 s. (migrate's CPU per interval against
# the event rate: bench/lab/migrate-cpu.sh.)
# First, bench/statsout: where stats' CPU per VM sample goes (read, JSON,
# table, a look through /proc for VMMs) on replayed stats, in this lab.
. /opt/kvmscope/add/common.sh
# cpu_line LABEL FILE: "LABEL: user+sys ms, max RSS KiB" from time -v output.
cpu_line() {
	awk -v l="$1" -F': ' '
		/User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { m = $2 }
		END { printf "%s: cpu %.0f ms (user %.2f s, sys %.2f s), max RSS %d KiB\n", l, (u + s) * 1000, u, s, m }' "$2"
}
statsout 200 /tmp/statsout.out
echo "processes in the lab: $(ls /proc | grep -c '^[0-9]'); clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# stats_run LABEL ARGS: kvmscope stats ARGS over 4 fresh kvmload VMs
# (2 vCPUs each, holding their stats fds, idle) for 30 s at 10 ms.
stats_run() {
	label=$1
	shift
	i=0
	while [ $i -lt 4 ]; do
		kvmload --vcpus 2 --mem-per-vcpu 8 --hold-ms 35000 --iterations 1 >/dev/null 2>&1 &
		i=$((i + 1))
	done
	sleep 2
	time -v kvmscope stats "$@" -i 10ms -d 30s >/tmp/stats.out 2>/tmp/time-stats.txt
	# VM samples of the kvmload VMs (the lab's kvm-hold VM, without vCPUs,
	# is sampled too): their VM records, or their table headers.
	if [ "$1" = --json ]; then
		n=$(grep '"type":"stats"' /tmp/stats.out | grep '"comm":"kvmload"' | grep -vc '"vcpu":')
	else
		n=$(grep -c '^VM pid .*(kvmload)' /tmp/stats.out)
	fi
	cpu_line "stats $label, 4 VMs x 2 vCPUs, 10 ms, 30 s ($(wc -c </tmp/stats.out) bytes)" /tmp/time-stats.txt
	awk -v n="$n" -F': ' '/User time/ { u = $2 } /System time/ { s = $2 }
		END { printf "  VM samples %d of 12000 asked; per VM sample (VM + 2 vCPUs): %.1f us of CPU\n", n, (u + s) * 1e6 / n }' /tmp/time-stats.txt
	wait
}
# The loop alone: the same run with no kvmload VM (only kvm-hold's).
time -v kvmscope stats --json -i 10ms -d 30s >/tmp/stats.out 2>/tmp/time-stats.txt
cpu_line "stats --json, no kvmload VM (the loop, kvm-hold's VM), 10 ms, 30 s ($(grep -c '"type":"stats"' /tmp/stats.out) records)" /tmp/time-stats.txt
for run in 1 2 3; do
	stats_run "--json (run $run)" --json
done
stats_run "table" 
