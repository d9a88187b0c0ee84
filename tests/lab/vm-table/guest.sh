#!/bin/sh
# In the lab: the kernel's VM table sized for 3 VMs (--max-vms 3) under
# `kvmscope migrate --json` and `kvmscope export`. Phase 1 runs one kvmload
# VM, then 5 more at once: more than fit. Phase 2 runs 3 more one after another, once
# the first ones are gone: their entries must have been freed for them.
# Sections for check.py.
set -u
# shellcheck source=tests/lab/dump.sh
. "$(dirname "$0")/dump.sh"
D=/tmp/vmtable
mkdir -p $D
# The lab's /init leaves the network alone: loopback starts down.
ip link set lo up
URL=http://127.0.0.1:9464/metrics
kvmscope migrate --json -i 500ms --max-vms 3 >$D/migrate.json 2>$D/migrate.err &
MP=$!
kvmscope export --listen 127.0.0.1:9464 -i 250ms --max-vms 3 >$D/export.out 2>$D/export.err &
XP=$!
lab-wait $D/migrate.json '"type":"attached"' 90 $MP ||
	{ echo "FAIL migrate did not attach: $(cat $D/migrate.err)"; exit 1; }
lab-wait $D/export.out '^kvmscope export: serving' 90 $XP ||
	{ echo "FAIL export did not start: $(cat $D/export.err)"; exit 1; }
vm=0
# --pause-ms 600: each VM lives well over two of migrate's 500 ms
# intervals, the least its stats comparisons need (a baseline boundary,
# then one to compare at); with 300 ms one VM lived 0.5 s and had none.
start_vm() { # PHASE
	vm=$((vm + 1))
	echo "$1" >$D/$vm.phase
	( kvmload --vcpus 1 --mem-per-vcpu 4 --slots 1 --backing anon --iterations 2 \
		--write-percent 50 --mode manual --pause-ms 600 --map-gpa-calls 2 --stats-reads 1 --json \
		>$D/$vm.json 2>$D/$vm.err; echo $? >$D/$vm.rc ) &
}
# Phase 1: one VM, and once it has both its entries (its struct kvm's at
# its first fault, its process's at its first hypercall, in iteration 0)
# five more at once, which do not all fit; export is scraped meanwhile.
start_vm 1
pids=$!
lab-wait $D/1.json '"type":"iteration"' 120 ||
	{ echo "FAIL first VM did not finish iteration 0: $(cat $D/1.err)"; exit 1; }
for i in 2 3 4 5 6; do
	start_vm 1
	pids="$pids $!"
done
n=0
while [ "$(ls $D/*.rc 2>/dev/null | wc -l)" -lt 6 ] && [ $n -lt 400 ]; do
	wget -q -O $D/scrape.$n "$URL"
	n=$((n + 1))
	sleep 0.5
done
# shellcheck disable=SC2086
wait $pids
# Both tracers rescan once a second: the exited VMs' entries are gone.
sleep 2.5
# Phase 2: one VM at a time.
for i in 1 2 3; do
	start_vm 2
	wait $!
	sleep 1.5
done
wget -q -O $D/scrape.last "$URL"
kill -INT $MP $XP
wait $MP; mrc=$?
wait $XP; xrc=$?
dump_vms $D $vm phase
dump_tracer migrate $mrc $D/migrate.json $D/migrate.err
echo "=== export exit=$xrc"
echo "=== export stderr"
cat $D/export.err
echo "=== export untracked"
# Every VM a scrape showed as not tracked, and the series it had there.
for f in $D/scrape.*; do
	for pid in $(sed -n 's/^kvmscope_vm_counters_tracked{pid="\([0-9]*\)".*} 0$/\1/p' "$f"); do
		echo "$pid $(grep -c "^kvmscope_page_faults_total{pid=\"$pid\"" "$f")"
	done
done | sort -u
echo "=== export tracked"
for f in $D/scrape.*; do
	sed -n 's/^kvmscope_vm_counters_tracked{pid="\([0-9]*\)".*} 1$/\1/p' "$f"
done | sort -u
echo "=== export lost"
grep '^kvmscope_events_lost_total{reason="vm_table_full"}' $D/scrape.last
