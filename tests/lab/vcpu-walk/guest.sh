#!/bin/sh
# In the lab: `kvmscope migrate --json` in its default mode (no program on
# the fault path: each dirty-log event's program walks kvm->vcpu_array and
# sums KVM's per-vCPU pf_fast/pf_taken, bpf/vcpu_stats.bpf.h) traces kvmload
# VMs of 1 (the xarray's single-entry head), 2, 8 and 64 vCPUs (one node of
# 64 slots) and 66 (two levels: a node of nodes), each reading its own stats fds after every iteration: the
# ground truth check.py compares the walk's sums with.
set -u
# shellcheck source=tests/lab/dump.sh
. "$(dirname "$0")/dump.sh"
taskset -c 1 kvmscope migrate --json -i 250ms >/tmp/migrate.json 2>/tmp/migrate.err &
mpid=$!
lab-wait /tmp/migrate.json '"type":"attached"' 30 $mpid ||
	{ echo "FAIL migrate did not attach: $(cat /tmp/migrate.err)"; exit 1; }
# VCPUS MIB MODE: one traced VM, every page written in each iteration.
run() {
	taskset -c 0 kvmload --vcpus $1 --mem-per-vcpu $2 --iterations 2 --mode $3 \
		--write-percent 100 --pause-ms 100 --stats-reads 1 --json >/tmp/k.json 2>/tmp/k.err
	echo "=== kvmload $3 vcpus=$1 exit=$?"
	cat /tmp/k.json /tmp/k.err
}
run 1 8 get
run 2 4 manual
run 8 2 get
run 64 2 get
run 66 1 get
sleep 0.5
kill -INT $mpid
wait $mpid
dump_tracer migrate $? /tmp/migrate.json /tmp/migrate.err
