#!/bin/sh
# Tracer CPU time and peak RSS (busybox time -v):
#  1. kvmscope stats sampling 4 VMs x 2 vCPUs every 10 ms for 30 s;
#  2. kvmscope migrate (1 s intervals) while one VM is idle, then while the
#     same VM takes a fault storm (kvmload dirtying memory under dirty
#     logging): the BPF side aggregates faults in maps, so the tracer's CPU
#     per interval must not grow with the event rate.
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

# cpu_of PID: "user_s sys_s hwm_kib" of a live process (/proc: clock ticks
# of 10 ms, the kernel's USER_HZ, and VmHWM).
cpu_of() {
	awk '{ printf "%.2f %.2f ", $14 / 100, $15 / 100 }' /proc/$1/stat
	awk '/^VmHWM:/ { print $2 }' /proc/$1/status
}
# uptime_s: seconds since boot, to 10 ms.
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# faults_in FILE FROM TO: KVM MMU faults in the interval records of lines
# FROM+1..TO of FILE.
faults_in() {
	sed -n "$(($2 + 1)),$3p" "$1" |
		awk -F'"faults":' '/"type":"interval"/ { split($2, a, ","); s += a[1] } END { print s + 0 }'
}

# migrate while one and the same VM (2 vCPUs x 32 MiB) is first idle, then
# dirtying memory under dirty logging: the VM count is the same in both
# windows, so CPU per interval compares the fault rate alone. kvmload holds
# its VM populated for HOLD s (idle: vCPUs not running), then runs 6
# iterations in get mode (the storm). Tracers attach and detach only while
# no VM runs: patching the entry of KVM's fault handler while a vCPU
# executes it can crash the lab's emulated CPU (docs/lab.md, kvm-hold).
HOLD=20
kvmscope migrate --json -i 1s >/tmp/mig.json 2>/tmp/mig.err &
tp=$!
lab-wait /tmp/mig.json '"type":"attached"' 120 $tp || { echo "bench: migrate did not attach: $(cat /tmp/mig.err)"; exit 1; }
kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 6 --mode get --hold-ms $((HOLD * 1000)) --json \
	>/tmp/kl.json 2>&1 &
kp=$!
# Populating 64 MiB with the fault programs attached is slow under TCG.
lab-wait /tmp/kl.json '"type":"hold"' 300 $kp ||
	{ echo "bench: kvmload did not reach its hold: $(tail -c 300 /tmp/kl.json)"; exit 1; }
held=$(uptime_s)
# Idle window: from 2 s into the hold (migrate has found the VM: it looks
# every second) to 1 s before its end.
sleep 2
set -- $(cpu_of $tp); i_u0=$1 i_s0=$2; i_t0=$(uptime_s); i_l0=$(wc -l </tmp/mig.json)
sleep $(awk -v h="$held" -v n="$(uptime_s)" -v H=$HOLD 'BEGIN { s = h + H - 1 - n; print (s > 0 ? s : 0) }')
set -- $(cpu_of $tp); i_u1=$1 i_s1=$2; i_t1=$(uptime_s); i_l1=$(wc -l </tmp/mig.json)
# Storm window: from the end of the hold to kvmload's exit.
sleep $(awk -v h="$held" -v n="$(uptime_s)" -v H=$HOLD 'BEGIN { s = h + H - n; print (s > 0 ? s : 0) }')
set -- $(cpu_of $tp); s_u0=$1 s_s0=$2; s_t0=$(uptime_s); s_l0=$(wc -l </tmp/mig.json)
wait $kp
set -- $(cpu_of $tp); s_u1=$1 s_s1=$2; s_t1=$(uptime_s); hwm=$3
kill -INT $tp
wait $tp
i_f=$(faults_in /tmp/mig.json "$i_l0" "$i_l1")
s_f=$(faults_in /tmp/mig.json "$s_l0" "$(wc -l </tmp/mig.json)")
ev=$(tail -n +$((s_l0 + 1)) /tmp/mig.json | grep -c -E '"type":"(dirty_log|memslot)"')
window() { # LABEL T0 T1 U0 U1 S0 S1 FAULTS EVENTS
	awk -v l="$1" -v t0="$2" -v t1="$3" -v u="$(awk -v a=$5 -v b=$4 'BEGIN { print a - b }')" \
		-v s="$(awk -v a=$7 -v b=$6 'BEGIN { print a - b }')" -v f="$8" -v e="$9" 'BEGIN {
		t = t1 - t0
		printf "migrate -i 1s, same VM %s, %.1f s: %d faults (%.0f/s), %d ring-buffer events: cpu %.0f ms (user %.2f s, sys %.2f s); CPU per 1 s interval %.1f ms\n",
			l, t, f, f / t, e, (u + s) * 1000, u, s, (u + s) * 1000 / t }'
}
window idle "$i_t0" "$i_t1" "$i_u0" "$i_u1" "$i_s0" "$i_s1" "$i_f" 0
window storm "$s_t0" "$s_t1" "$s_u0" "$s_u1" "$s_s0" "$s_s1" "$s_f" "$ev"
echo "migrate max RSS $hwm KiB"
