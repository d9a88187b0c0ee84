#!/bin/sh
# The no-fault-hook prototype (docs/design.md, "Why no program on the fault path"), in the lab: for each
# kvmload shape below, bench/vcpustat (fault stats read from KVM's memory
# at each dirty-log ioctl) and kvmscope migrate (its fault program) attached
# together while kvmload dirties memory and reads its own stats fds after
# each iteration (--stats-reads 1: pf_taken/pf_fast per vCPU). Prints every
# line of the three, tagged "V|M|K CASE ", for bench/nohook-compare.py; no
# verdict here. Arguments: MIGRATE (1, default: attach kvmscope migrate too;
# 0: vcpustat alone), then case sets (default "basic cost"; "huge": huge-page backed
# cases, whose write-protect faults go to KVM's slow path where huge pages
# are not split eagerly: boot with kvm.eager_page_split=0 to see them).
. /opt/kvmscope/add/common.sh
MIGRATE=${1:-1}
[ $# -gt 0 ] && shift
CASES=${*:-basic cost}
# CASE VCPUS MIB ITERATIONS MODE [KVMLOAD-OPTION...]
run_case() {
	c=$1 vcpus=$2 mib=$3 iters=$4 mode=$5
	shift 5
	vcpustat --stats >/tmp/v.out 2>/tmp/v.err &
	vpid=$!
	lab-wait /tmp/v.out ready 30 $vpid || { echo "bench: vcpustat did not attach: $(cat /tmp/v.err)"; exit 1; }
	[ "$MIGRATE" = 1 ] && start_migrate /tmp/m.out -i 1s
	kvmload --vcpus "$vcpus" --mem-per-vcpu "$mib" --iterations "$iters" --mode "$mode" --write-percent 100 \
		--stats-reads 1 "$@" --json >/tmp/k.out 2>/tmp/k.err || echo "bench: kvmload failed: $(cat /tmp/k.err)"
	[ "$MIGRATE" = 1 ] && stop_migrate
	kill -INT $vpid
	wait $vpid
	sed "s/^/V $c /" /tmp/v.out
	[ -s /tmp/v.err ] && sed "s/^/V $c stderr: /" /tmp/v.err
	[ "$MIGRATE" = 1 ] && sed "s/^/M $c /" /tmp/m.out
	sed "s/^/K $c /" /tmp/k.out
}
for set in $CASES; do
	case $set in
	basic)
		run_case get-2 2 16 4 get
		run_case manual-2 2 16 4 manual
		run_case get-1 1 32 3 get
		run_case get-8 8 4 3 get
		run_case get-64 64 2 2 get ;;
	cost) # many small iterations: the median is of warm runs (the first run
		# of a freshly loaded program is slow under TCG: its code is translated)
		run_case cost-2 2 2 40 get
		run_case cost-64 64 2 20 get ;;
	huge)
		run_case huge-get 2 16 4 get --backing hugetlb
		run_case huge-manual 2 16 4 manual --backing hugetlb
		run_case huge-init-set 2 16 4 manual-init-set --backing hugetlb ;;
	*) echo "bench: unknown case set $set"; exit 2 ;;
	esac
done
