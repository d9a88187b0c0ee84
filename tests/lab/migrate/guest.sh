#!/bin/sh
# In the lab: one `kvmscope migrate --json` session (no program on the
# fault path: faults from KVM's per-vCPU stats) traces a series of kvmload
# VMs (every backing × mode, 1, 2 and 5 vCPUs, 1 and 3 memslots), then a
# `--fault-program` session three more (the fault program's checks: the
# slow-path case, hugetlb manual, and 5 vCPUs sharing a fault cache entry),
# and a `--fault-latency` session two more; then the text report of one
# more, with two kvmscope processes at once.
# Prints each run's ground truth and the tracer's output in sections for
# check.py, which compares them on the host.
set -u
# session NAME ARGS...: kvmscope migrate --json ARGS in the background until
# attached.
session() {
	taskset -c 1 kvmscope migrate --json -i 250ms "$@" >/tmp/migrate.json 2>/tmp/migrate.err &
	mpid=$!
	lab-wait /tmp/migrate.json '"type":"attached"' 30 $mpid ||
		{ echo "FAIL migrate did not attach: $(cat /tmp/migrate.err)"; exit 1; }
}
# kvmload_run BACKING MODE VCPUS SLOTS STATS_READS TAG [OPTION...]: one
# traced VM, its ground truth in a section named after it (TAG: the
# session it belongs to), with kvmload's further OPTIONs.
kvmload_run() {
	name="$1 $2 vcpus=$3 slots=$4$6"
	a1=$1 a2=$2 a3=$3 a4=$4 a5=$5
	shift 6
	taskset -c 0 kvmload --vcpus $a3 --mem-per-vcpu 12 --slots $a4 --backing $a1 \
		--iterations 3 --write-percent 60 --mode $a2 --pause-ms 200 --map-gpa-calls 7 --json \
		--stats-reads $a5 "$@" >/tmp/k.json 2>/tmp/k.err
	echo "=== kvmload $name exit=$?"
	cat /tmp/k.json
	cat /tmp/k.err
}
# end_session NAME: lets the tracer see the last exit, then ends it as a
# user would, and prints its output.
end_session() {
	sleep 0.5
	# The tracer's CPU so far (clock ticks of user and system time), which
	# its interval records' own CPU figures must not exceed in sum.
	echo "=== $1 cpu_ticks $(cut -d' ' -f14,15 /proc/$mpid/stat) hz 100"
	kill -INT $mpid
	wait $mpid
	echo "=== $1 exit=$?"
	cat /tmp/migrate.json
	echo "=== $1 stderr"
	cat /tmp/migrate.err
}
# The default session: faults from KVM's stats, no program on the fault
# path. Every VM reads its own stats fds (--stats-reads 1 to 3), the ground
# truth its write-protect faults per iteration must equal.
session
i=0
for backing in anon thp hugetlb; do
	for mode in get manual manual-init-set; do
		i=$((i + 1))
		# Alternate the shapes so every backing and mode sees both.
		if [ $i -eq 5 ]; then vcpus=5 slots=1
		elif [ $((i % 2)) -eq 0 ]; then vcpus=2 slots=3; else vcpus=1 slots=1; fi
		# One VMM maps its slots in both address spaces, as QEMU does.
		if [ $i -eq 6 ]; then
			kvmload_run $backing $mode $vcpus $slots $((i % 3 + 1)) " smm" --smm-slots
		else
			kvmload_run $backing $mode $vcpus $slots $((i % 3 + 1)) ""
		fi
	done
done
end_session migrate
# With --fault-program: a program on the fault path counts every fault.
# One VM has 5 vCPUs on one CPU: vCPUs 0 and 4 share a fault cache entry
# there, so every switch between them evicts one with its faults
# (bpf/kvmscope.h), and the per-vCPU sums must stay exact. hugetlb manual
# takes some write-protect faults in KVM's slow path, which only the
# program counts.
session --fault-program
kvmload_run thp manual 5 1 0 " program"
kvmload_run hugetlb manual 2 3 1 " program"
kvmload_run anon manual-init-set 1 1 2 " program"
end_session migrate-program
# With --fault-latency: the same checks, and every fault timed.
session --fault-latency
kvmload_run anon get 2 3 1 " latency"
# This VMM opens its stats fds 2 s late (found before: debugfs, then them).
kvmload_run thp manual-init-set 1 1 0 " late-stats latency" --stats-fd-delay-ms 2000
end_session migrate-latency
# The text report, as a user reads it: a VMM with both address spaces that
# holds no stats fd (read through debugfs: migrate makes its reference VM
# for the descriptors), and `kvmscope stats` reading it the same way
# meanwhile (its own reference VM, made while migrate traces). Neither
# kvmscope may report a reference VM as a VM.
taskset -c 1 kvmscope migrate -i 250ms >/tmp/migrate.txt 2>/tmp/migrate.err &
mpid=$!
lab-wait /tmp/migrate.txt 'programs attached' 30 $mpid ||
	{ echo "FAIL migrate did not attach: $(cat /tmp/migrate.err)"; exit 1; }
taskset -c 0 kvmload --vcpus 2 --mem-per-vcpu 12 --slots 2 --backing thp --iterations 3 \
	--write-percent 60 --mode manual --pause-ms 300 --no-stats-fd --smm-slots --json \
	>/tmp/k.json 2>/tmp/k.err &
kpid=$!
lab-wait /tmp/k.json '"type":"populate"' 60 $kpid
kvmscope stats --json -i 100ms -d 1500ms >/tmp/stats.json 2>/tmp/stats.err &
spid=$!
wait $spid
src=$?
wait $kpid
echo "=== text kvmload exit=$?"
cat /tmp/k.json /tmp/k.err
sleep 0.5
kill -INT $mpid
wait $mpid
mrc=$?
echo "=== text pids migrate=$mpid stats=$spid kvmload=$kpid hold=$(pidof kvm-hold | tr " " ,)"
echo "=== text migrate exit=$mrc"
cat /tmp/migrate.txt
echo "=== text migrate stderr"
cat /tmp/migrate.err
echo "=== text stats exit=$src"
cat /tmp/stats.json /tmp/stats.err
