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
#   nohook       bench/vcpustat alone (docs/design.md, "Why no program on the fault path"; only when named in
#                the third argument)
# The empty hooks say what the bare hook costs the guest; the goal is the
# median ratio of migrate to off <= 1.02. Then (below) the same
# configurations' fault-path programs timed by the kernel: their share of
# the vCPUs' time. Arguments: RUNS (wall-clock rounds, default 10; 0 for the
# in-kernel part alone), KRUNS (in-kernel runs per configuration, default 5;
# 0: the wall-clock part alone), CONFIGS (third, below).
. /opt/kvmscope/add/common.sh
# Many short runs rather than a few long ones: the lab shares a loaded
# 2-core machine, whose load drifts over minutes.
RUNS=${1:-10}
CONFIGS="off tp fentry migrate"
kvmscope migrate --help 2>&1 | grep -q -- --fault-latency && CONFIGS="$CONFIGS migrate-lat"
# Third argument: the configurations to run instead, comma-separated, e.g.
# off,tp,nohook,migrate (nohook: bench/vcpustat alone, the prototype of
# docs/design.md, "Why no program on the fault path": nothing on the fault path, KVM's own fault stats read
# at each dirty-log ioctl).
[ -n "${3:-}" ] && CONFIGS=$(echo "$3" | tr ',' ' ')
# guest_ms: one kvmload run, its guest time in ms.
guest_ms() {
	kvmload --vcpus 2 --mem-per-vcpu 16 --iterations 4 --write-percent 100 --mode get --json |
		awk -F'"guest_ns":' '/"type":"iteration"/ { split($2, a, ","); s += a[1] } END { printf "%.1f\n", s / 1e6 }'
}
# hook_start PROG...: bench/hookonly with those empty programs until "ready".
hook_start() {
	hookonly "$@" >/tmp/hook.out 2>&1 &
	hpid=$!
	lab-wait /tmp/hook.out ready 30 $hpid || { echo "bench: hookonly $* did not attach: $(cat /tmp/hook.out)"; exit 1; }
}
hook_stop() {
	kill -INT $hpid
	wait $hpid
}
nohook_start() {
	vcpustat >/tmp/vs.out 2>&1 &
	vspid=$!
	lab-wait /tmp/vs.out ready 30 $vspid || { echo "bench: vcpustat did not attach: $(cat /tmp/vs.out)"; exit 1; }
}
nohook_stop() {
	kill -INT $vspid
	wait $vspid
}
# measure CONFIG: one guest time under CONFIG.
measure() {
	case $1 in
	off) guest_ms ;;
	tp) hook_start x_pf_tp; guest_ms; hook_stop ;;
	fentry) hook_start x_pf_entry x_pf_exit; guest_ms; hook_stop ;;
	nohook) nohook_start; guest_ms; nohook_stop ;;
	migrate) start_migrate /tmp/m.json -i 1s; guest_ms; stop_migrate ;;
	migrate-fp) start_migrate /tmp/m.json -i 1s --fault-program; guest_ms; stop_migrate ;;
	migrate-lat) start_migrate /tmp/m.json -i 1s --fault-latency; guest_ms; stop_migrate ;;
	esac
}
guest_ms >/dev/null # warm-up: page cache, THP state, first-VM costs
# (ncfg: common.sh's wait loop uses $n.)
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
if [ "$RUNS" -gt 0 ]; then
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
for c in migrate migrate-fp nohook; do
	[ -s "/tmp/sd.$c" ] || continue
	m=$(median <"/tmp/sd.$c")
	awk -v c="$c" -v m="$m" -v o="$off" 'BEGIN { printf "%s vs off: ratio %.3f (goal <= 1.02)\n", c, m / o }'
done
fi

# In-kernel share of guest time, in the same run: with BPF run-time
# statistics on (bench/progtime), KRUNS kvmload runs per configuration, each
# held 2 s after populating so that the programs' run time is read right
# before the dirty-logging phase and right after it. The programs that run
# on the vCPU's fault path (the empty tracepoint program; the empty
# fentry+fexit pair; none in default migrate; with --fault-program its
# tp_page_fault; with --fault-latency its fentry/fexit pair) ran for run_time_ns inside the vCPUs' KVM_RUN, whose
# time kvmload measures itself (summary vcpu_run_ns: every vCPU's time in
# KVM_RUN over the iterations). Their share of it is the guest's slowdown
# from the programs' own work: 1 / (1 - share). Not in it: the dispatch to
# the programs (tracepoint call, trampoline), their effect on caches and
# TLBs. The tracer's userspace taking a CPU the vCPUs would use is measured
# beside it: the tracer's own CPU time (/proc/PID/stat) from the end of the
# hold to kvmload's exit, against one vCPU's time in KVM_RUN (vcpu_run_ns /
# vCPUs): the worst case, all of it falling on the one vCPU the iteration
# then waits for. Both shares together bound the slowdown:
# 1 / (1 - programs - tracer).
KRUNS=${2:-5}
[ "$KRUNS" -gt 0 ] || exit 0
progtime on >/tmp/pt.out 2>&1 &
ptpid=$!
lab-wait /tmp/pt.out ready 30 $ptpid || { echo "bench: progtime on: $(cat /tmp/pt.out)"; exit 1; }
# cpu_ticks PID: user + system CPU time of PID in clock ticks (0 if none).
cpu_ticks() {
	[ -n "$1" ] && awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# kshare CONFIG: one kvmload run under CONFIG, with its figures appended to
# /tmp/ks.CONFIG: "faults fault_prog_ns all_prog_ns vcpu_run_ns".
kshare() {
	case $1 in
	tp) hook_start x_pf_tp; progs="x_pf_tp"; tpid=$hpid ;;
	fentry) hook_start x_pf_entry x_pf_exit; progs="x_pf_entry x_pf_exit"; tpid=$hpid ;;
	# (the kernel keeps 15 characters of a program's name). Default
	# migrate has none on the fault path: its share is 0 by construction,
	# measured anyway (a program there by mistake would show).
	migrate) start_migrate /tmp/m.json -i 1s; progs="tp_page_fault fentry_page_fau fexit_page_faul"; tpid=$mpid ;;
	migrate-fp) start_migrate /tmp/m.json -i 1s --fault-program; progs="tp_page_fault"; tpid=$mpid ;;
	migrate-lat) start_migrate /tmp/m.json -i 1s --fault-latency; progs="fentry_page_fau fexit_page_faul"; tpid=$mpid ;;
	esac
	kvmload --vcpus 2 --mem-per-vcpu 16 --iterations 4 --write-percent 100 --mode get --hold-ms 2000 \
		--json >/tmp/kk.json 2>&1 &
	kp=$!
	lab-wait /tmp/kk.json '"type":"hold"' 300 $kp || { echo "bench: kvmload did not hold: $(tail -c 300 /tmp/kk.json)"; exit 1; }
	progtime list >/tmp/p0
	# The tracer's CPU from the end of the hold (nothing runs in the guest
	# before it; the tracer's idle cost would count otherwise).
	sleep 1.95
	c0=$(cpu_ticks "$tpid")
	wait $kp
	c1=$(cpu_ticks "$tpid")
	progtime list >/tmp/p1
	case $1 in tp | fentry) hook_stop ;; *) stop_migrate ;; esac
	grep -q '"type":"hold"' /tmp/kk.json && grep -q '"ok":true' /tmp/kk.json ||
		{ echo "bench: kvmload failed under $1: $(grep -v '^{' /tmp/kk.json | head -c 300)" \
			"$(grep -o '"exit_code":[0-9]*,"error":"[^"]*"' /tmp/kk.json)"; exit 1; }
	run=$(awk -F'"vcpu_run_ns":' '/"type":"summary"/ { split($2, a, ","); print a[1] }' /tmp/kk.json)
	tns=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" 'BEGIN { printf "%.0f", (b - a) * 1e9 / hz }')
	awk -v progs=" $progs " -v run="$run" -v tns="$tns" '
		FNR == NR { cnt[$1] = $3; ns[$1] = $4; next }
		{
			d = $4 - ns[$1]; all += d
			if (index(progs, " " $2 " ")) { fns += d; if (!f) f = $3 - cnt[$1] }
		}
		END { printf "%.0f %.0f %.0f %.0f %.0f 2\n", f, fns, all, run, tns }' /tmp/p0 /tmp/p1 >>"/tmp/ks.$1"
}
# (nohook has no program on the fault path: nothing to time there.)
KCONFIGS=$(echo " $CONFIGS " | sed -e 's/ off / /' -e 's/ nohook / /')
echo
echo "in-kernel: the fault-path programs' run time (BPF_ENABLE_STATS) over kvmload's vCPU time in KVM_RUN, dirty-logging phase only:"
printf '%-12s %8s %10s %12s %12s %12s %8s %10s %9s\n' config faults ns/fault "fault-prog ms" "all-prog ms" "vcpu-run ms" "share %" "tracer ms" "tracer %"
for c in $KCONFIGS; do : >"/tmp/ks.$c"; done
i=0
while [ $i -lt "$KRUNS" ]; do
	for c in $KCONFIGS; do
		kshare "$c"
		tail -n1 "/tmp/ks.$c" | awk -v c="$c" '{ printf "%-12s %8.0f %10.0f %12.1f %12.1f %12.1f %8.2f %10.1f %9.2f\n",
			c, $1, $1 ? $2 / $1 : 0, $2 / 1e6, $3 / 1e6, $4 / 1e6, $4 ? 100 * $2 / $4 : 0,
			$5 / 1e6, $4 ? 100 * $5 * $6 / $4 : 0 }'
	done
	i=$((i + 1))
done
kill -INT $ptpid
wait $ptpid
echo "median share of the vCPUs' time in KVM_RUN taken by the fault-path programs, and the slowdown it makes (1 / (1 - share));"
echo "with the tracer's own CPU over one vCPU's time, the bound of both (1 / (1 - programs - tracer)):"
for c in $KCONFIGS; do
	s=$(awk '{ print ($4 ? $2 / $4 : 0) }' "/tmp/ks.$c" | median)
	n=$(awk '{ print ($1 ? $2 / $1 : 0) }' "/tmp/ks.$c" | median)
	u=$(awk '{ print ($4 ? $5 * $6 / $4 : 0) }' "/tmp/ks.$c" | median)
	b=$(awk '{ print ($4 ? ($2 + $5 * $6) / $4 : 0) }' "/tmp/ks.$c" | median)
	awk -v c="$c" -v s="$s" -v n="$n" -v u="$u" -v b="$b" 'BEGIN { printf "  %-12s %6.2f%%  slowdown %.4f  (%.0f ns per fault); tracer %5.2f%%; both: slowdown %.4f\n",
		c, 100 * s, 1 / (1 - s), n, 100 * u, 1 / (1 - b) }'
done
