#!/bin/sh
# bench: mem 3072
# bench: native
# bench: native-args 3 64:1:1:get,64:1:1:mis,64:8:1:get,64:8:1:mis,64:64:1:get,4:1:16:get,4:1:16:mis off,empty,migrate 1
# The VMM's own dirty-log ioctls with kvmscope watching: kvmload's per-call
# timings of KVM_SET_USER_MEMORY_REGION (logging on/off), KVM_GET_DIRTY_LOG
# and KVM_CLEAR_DIRTY_LOG, measured by kvmload itself around each ioctl
# (dur_ns, and preempted: calls during which its thread waited for a CPU),
# under each configuration, alternating in one run:
#   off         nothing attached
#   migrate     kvmscope migrate --json -i 1s
#   migrate-fp  kvmscope migrate --json -i 1s --fault-program
#   empty       empty programs on the same hooks (bench/hookonly): the floor
# Each round runs every point of the matrix under each configuration, the
# configurations in a rotated order (drift in the machine's load spreads
# over all of them). A point is SLOT_MIB:VCPUS:SLOTS:MODE (MODE get, or
# mis = manual-init-set: GET and CLEAR): kvmload --slot-mib SLOT_MIB, 64 MiB
# of test memory split over the vCPUs and the slots (the rest of each slot
# never touched), 5 iterations writing 1%. Then the KVM_RUN round trips of a
# guest exiting to the VMM 2000 times per iteration (kvmload --io-exits),
# under the same configurations. Last (PROGRUNS > 0), per point one run
# under migrate with BPF run-time statistics on (bench/progtime): each
# program's run count and run time over the run, which say where the added
# time goes (the timing rounds run without statistics).
# The log is summarized on the build machine by bench/summarize-ioctlcost.py.
# Arguments: ROUNDS (default 3), MATRIX (default | full | points separated
# by commas), CONFIGS (comma-separated, default off,empty,migrate,migrate-fp),
# PROGRUNS (default 1).
# Also runs on the build machine's own KVM where it has one (bench/run
# --host ioctlcost: points whose slots are all test memory, as kvmload's
# guest page tables for --slot-mib may need what a native KVM lacks;
# configurations off,empty,migrate; its files in $BENCH_TMP).
. "${BENCH_ADD:-/opt/kvmscope/add}/common.sh"
ROUNDS=${1:-3}
MATRIX=${2:-default}
CONFIGS=$(echo "${3:-off,empty,migrate,migrate-fp}" | tr ',' ' ')
PROGRUNS=${4:-1}
case $MATRIX in
default)
	POINTS="128:1:1:get 1024:1:1:get 16384:1:1:get 128:1:1:mis 1024:1:1:mis 16384:1:1:mis
		1024:8:1:get 1024:64:1:get 1024:8:1:mis 1024:64:1:mis 1024:1:16:get 1024:1:16:mis" ;;
full)
	POINTS=""
	for sz in 128 1024 16384; do for v in 1 8 64; do for k in 1 16; do for m in get mis; do
		POINTS="$POINTS $sz:$v:$k:$m"
	done; done; done; done ;;
*) POINTS=$(echo "$MATRIX" | tr ',' ' ') ;;
esac
TEST_MIB=64
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 90"

# kvmload_point POINT: kvmload's dirty_log records of one run of POINT.
kvmload_point() {
	IFS=: read -r sz v k m <<EOF
$1
EOF
	[ "$m" = mis ] && m=manual-init-set
	# Bounded: a run that hangs (seen once in TCG, 8 vCPUs) is reported
	# and the benchmark goes on.
	$TIMEOUT kvmload --vcpus "$v" --mem-per-vcpu $((TEST_MIB / v)) --slots "$k" --slot-mib "$sz" \
		--iterations 5 --write-percent 1 --mode "$m" --json >$T/kl.json 2>$T/kl.err
	rc=$?
	grep -E '"type":"(dirty_log|summary)"' $T/kl.json
	[ $rc -eq 0 ] || echo "bench: kvmload $1 exit $rc: $(cat $T/kl.err)"
}
# kvmload_io: KVM_RUN round trips, one vCPU, 2000 exits per iteration.
kvmload_io() {
	$TIMEOUT kvmload --vcpus 1 --mem-per-vcpu 2 --iterations 5 --write-percent 1 --io-exits 2000 \
		--json 2>$T/kl.err | grep -E '"type":"(vcpu|summary)"'
}
# empty: bench/hookonly with empty programs on the hooks migrate uses for
# these ioctls (kvm_vm_ioctl entry and exit; the KVM function's entry, and
# its exit or the series' tracepoint; where fentry is refused, the
# raw_syscalls tracepoints): the floor any program there costs.
empty_start() {
	for progs in "x_ioctl_in x_ioctl_out x_get_in x_get_tp x_clear_in x_clear_tp x_tlb" \
		"x_ioctl_in x_ioctl_out x_get_in x_get_out x_clear_in x_clear_out x_tlb" \
		"x_sys_in x_sys_out"; do
		# shellcheck disable=SC2086
		hookonly $progs >$T/hook.out 2>&1 &
		hpid=$!
		lab-wait $T/hook.out ready 30 $hpid && { echo "empty programs: $progs"; return; }
	done
	echo "bench: hookonly did not attach: $(cat $T/hook.out)"
	exit 1
}
cfg_start() {
	case $1 in
	off) ;;
	empty) empty_start ;;
	migrate) start_migrate $T/m.json -i 1s ;;
	migrate-fp) start_migrate $T/m.json -i 1s --fault-program ;;
	*) echo "bench: unknown configuration $1"; exit 2 ;;
	esac
}
cfg_stop() {
	[ "$1" = off ] && return
	if [ "$1" = empty ]; then
		kill -INT $hpid
		wait $hpid
		return
	fi
	stop_migrate
	# What migrate saw: its dirty-log records and drops (a check that it
	# traced what it timed, not a figure).
	echo "migrate-records $1 dirty_log=$(grep -c '"type":"dirty_log"' $T/m.json) drops=$(grep -o '"drops":[^,}]*' $T/m.json | tail -n1)"
}

echo "ioctlcost: kernel $(uname -r), lab ${LAB_KERNEL:-?}, rounds $ROUNDS, configs $CONFIGS"
echo "points: $(echo $POINTS)"
kvmload_point 128:1:1:get >/dev/null # warm-up
ncfg=0
for c in $CONFIGS; do ncfg=$((ncfg + 1)); done
i=0
while [ $i -lt "$ROUNDS" ]; do
	order=$(echo $CONFIGS | awk -v k=$((i % ncfg)) '{ for (j = 0; j < NF; j++) printf "%s ", $((j + k) % NF + 1) }')
	for c in $order; do
		cfg_start "$c"
		for p in $POINTS; do
			echo "=== $c $p $i"
			kvmload_point "$p"
		done
		echo "=== $c io $i"
		# Short runs: three, for more samples of the same session.
		kvmload_io
		kvmload_io
		kvmload_io
		cfg_stop "$c"
	done
	i=$((i + 1))
done

[ "$PROGRUNS" -gt 0 ] || exit 0
progtime on >$T/pt.out 2>&1 &
ptpid=$!
lab-wait $T/pt.out ready 30 $ptpid || { echo "bench: progtime on: $(cat $T/pt.out)"; exit 1; }
for c in $CONFIGS; do
	case $c in off | empty) continue ;; esac
	cfg_start "$c"
	for p in $POINTS io; do
		r=0
		while [ $r -lt "$PROGRUNS" ]; do
			progtime list >$T/pt.before
			if [ "$p" = io ]; then kvmload_io >/dev/null; else kvmload_point "$p" >/dev/null; fi
			progtime list >$T/pt.after
			# ID NAME RUN_CNT RUN_TIME_NS deltas of programs that ran.
			awk -v tag="$c $p" 'NR == FNR { c[$1] = $3; t[$1] = $4; next }
				$3 > c[$1] { printf "progtime %s %s %d %d\n", tag, $2, $3 - c[$1], $4 - t[$1] }' \
				$T/pt.before $T/pt.after
			r=$((r + 1))
		done
	done
	cfg_stop "$c"
done
kill -INT $ptpid
wait $ptpid
