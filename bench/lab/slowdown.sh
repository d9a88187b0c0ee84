#!/bin/sh
# Guest slowdown: kvmload's guest time (its vCPUs dirtying memory during
# dirty logging, summed over iterations; 2 vCPUs x 16 MiB, 4 iterations:
# 32768 write-protect faults) under several configurations, alternating in
# one run, RUNS rounds (default 10) after a warm-up:
#   off          nothing attached
#   tp           an empty program on tp_btf/kvm_page_fault (bench/hookonly)
#   fentry       empty fentry+fexit programs on kvm_mmu_page_fault
#   migrate      kvmscope migrate -i 1s (default: faults counted, no latency)
#   migrate-lat  kvmscope migrate -i 1s --fault-latency (when it has the option)
# The empty hooks say what the bare hook costs the guest; the goal is the
# median ratio of migrate to off <= 1.02.
. /opt/kvmscope/add/common.sh
# Many short runs rather than a few long ones: the lab shares a loaded
# 2-core machine, whose load drifts over minutes.
RUNS=${1:-10}
CONFIGS="off tp fentry migrate"
kvmscope migrate --help 2>&1 | grep -q -- --fault-latency && CONFIGS="$CONFIGS migrate-lat"
# guest_ms: one kvmload run, its guest time in ms.
guest_ms() {
	kvmload --vcpus 2 --mem-per-vcpu 16 --iterations 4 --write-percent 100 --mode get --json |
		awk -F'"guest_ns":' '/"type":"iteration"/ { split($2, a, ","); s += a[1] } END { printf "%.1f\n", s / 1e6 }'
}
# hook_start PROG...: bench/hookonly with those empty programs until "ready".
hook_start() {
	hookonly "$@" >/tmp/hook.out 2>&1 &
	hpid=$!
	n=0
	while ! grep -q ready /tmp/hook.out; do
		sleep 0.05
		n=$((n + 1))
		if [ $n -gt 600 ] || ! kill -0 $hpid 2>/dev/null; then
			echo "bench: hookonly $* did not attach: $(cat /tmp/hook.out)"
			exit 1
		fi
	done
}
hook_stop() {
	kill -INT $hpid
	wait $hpid
}
# measure CONFIG: one guest time under CONFIG.
measure() {
	case $1 in
	off) guest_ms ;;
	tp) hook_start x_pf_tp; guest_ms; hook_stop ;;
	fentry) hook_start x_pf_entry x_pf_exit; guest_ms; hook_stop ;;
	migrate) start_migrate /tmp/m.json -i 1s; guest_ms; stop_migrate ;;
	migrate-lat) start_migrate /tmp/m.json -i 1s --fault-latency; guest_ms; stop_migrate ;;
	esac
}
guest_ms >/dev/null # warm-up: page cache, THP state, first-VM costs
# (ncfg: common.sh's and hook_start's wait loops use $n.)
ncfg=0
for c in $CONFIGS; do
	: >"/tmp/sd.$c"
	ncfg=$((ncfg + 1))
done
printf 'run'
for c in $CONFIGS; do printf '  %12s' "$c"; done
echo "   (guest ms)"
i=0
while [ $i -lt "$RUNS" ]; do
	# Rotate which configuration goes first, so drift in the machine's
	# load spreads over all of them.
	order=$(echo $CONFIGS | awk -v k=$((i % ncfg)) '{ for (j = 0; j < NF; j++) printf "%s ", $((j + k) % NF + 1) }')
	for c in $order; do
		measure "$c" >>"/tmp/sd.$c"
	done
	printf '%-3s' "$i"
	for c in $CONFIGS; do printf '  %12s' "$(tail -n1 "/tmp/sd.$c")"; done
	echo
	i=$((i + 1))
done
off=$(median </tmp/sd.off)
# Two estimates: the ratio of the medians, and the median of the per-run
# ratios (each configuration against nothing attached in the same round,
# which cancels drift slower than a round).
echo "median guest time, ratio to off (of medians; median of per-run ratios):"
for c in $CONFIGS; do
	m=$(median <"/tmp/sd.$c")
	r=$(paste /tmp/sd.off "/tmp/sd.$c" | awk '{ print $2 / $1 }' | median)
	awk -v c="$c" -v m="$m" -v o="$off" -v r="$r" 'BEGIN { printf "  %-12s %10.1f ms  %.3f  %.3f\n", c, m, m / o, r }'
done
m=$(median </tmp/sd.migrate)
awk -v m="$m" -v o="$off" 'BEGIN { printf "migrate vs off: ratio %.3f (goal <= 1.02)\n", m / o }'
