#!/bin/sh
# In the lab: VMs come and go under `kvmscope migrate --json`,
# `kvmscope stats --json` and `kvmscope export` (scraped twice a second over
# loopback). ROUNDS rounds (default 11) of 5 kvmload VMs at
# once, every shape in turn; before and after, the tracers' open fds, RSS
# and kvmscope's kernel map entries. Sections for check.py.
# SOAK_SECONDS=N instead keeps starting rounds for N seconds and prints the
# figures after every round (bench/soak).
set -u
# shellcheck source=tests/lab/dump.sh
. "$(dirname "$0")/dump.sh"
ROUNDS=${ROUNDS:-11}
SOAK_SECONDS=${SOAK_SECONDS:-0}
D=/tmp/churn
mkdir -p $D
wait_for() { # FILE PATTERN
	lab-wait "$1" "$2" 90 || { echo "FAIL waiting for $2 in $1: $(tail -n 2 "$1")"; exit 1; }
}
# figures NAME: one line of what must come back to its baseline.
figures() {
	# The fewest of five looks: a tracer scanning /proc holds a directory
	# fd or two for a moment; what it keeps open is what counts.
	# The exporter also holds a scrape's connection for a moment.
	mfd=999 sfd=999 xfd=999 n=0
	while [ $n -lt 5 ]; do
		a=$(ls /proc/$MP/fd | wc -l); [ "$a" -lt $mfd ] && mfd=$a
		a=$(ls /proc/$SP/fd | wc -l); [ "$a" -lt $sfd ] && sfd=$a
		a=$(ls /proc/$XP/fd | wc -l); [ "$a" -lt $xfd ] && xfd=$a
		n=$((n + 1))
		sleep 0.1
	done
	mrss=$(sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' /proc/$MP/status)
	srss=$(sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' /proc/$SP/status)
	xrss=$(sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' /proc/$XP/status)
	maps=""
	# The tracers' own counters of their stats fd reads (one entry each,
	# kvm 0, in each loaded VM table) are not counted: they live as long as
	# the tracers, and would come and go between looks (migrate deletes
	# them at each rescan, the reads bring them back).
	for m in vm_counters vm_slots vcpu_slots slot_pages untracked; do
		maps="$maps $m=$(map-entries $m $MP $SP $XP | awk '{n += $3} END {print n + 0}')"
	done
	echo "figures $1 t=$(cut -d' ' -f1 /proc/uptime) vms=$2 migrate_fds=$mfd stats_fds=$sfd export_fds=$xfd migrate_rss_kb=$mrss stats_rss_kb=$srss export_rss_kb=$xrss$maps"
}
# round N: 5 kvmload VMs at once, shapes chosen by N.
vm=0
round() {
	i=0 pids=
	while [ $i -lt 5 ]; do
		vm=$((vm + 1))
		set -- anon thp hugetlb
		shift $((vm % 3)); backing=$1
		set -- get manual manual-init-set
		shift $(((vm / 3) % 3)); mode=$1
		vcpus=$((1 + vm % 2)); slots=$((1 + (vm / 2) % 2))
		echo "$backing $mode vcpus=$vcpus slots=$slots" >$D/$vm.name
		( kvmload --vcpus $vcpus --mem-per-vcpu 4 --slots $slots --backing $backing \
			--iterations 2 --write-percent 50 --mode $mode --pause-ms 100 \
			--map-gpa-calls $((1 + vm % 4)) --stats-reads 1 --json \
			>$D/$vm.json 2>$D/$vm.err; echo $? >$D/$vm.rc ) &
		pids="$pids $!"
		i=$((i + 1))
	done
	# Only these: a bare `wait` would wait for the tracers too.
	# shellcheck disable=SC2086
	wait $pids
}

kvmscope migrate --json -i 500ms >$D/migrate.json 2>$D/migrate.err &
MP=$!
kvmscope stats --json -i 100ms >$D/stats.json 2>$D/stats.err &
SP=$!
# The lab's /init leaves the network alone: loopback starts down.
ip link set lo up
URL=http://127.0.0.1:9464/metrics
kvmscope export --listen 127.0.0.1:9464 -i 250ms >$D/export.out 2>$D/export.err &
XP=$!
wait_for $D/migrate.json '"type":"attached"'
wait_for $D/stats.json '"type":"stats"'
wait_for $D/export.out '^kvmscope export: serving'
# A scraper, as Prometheus would be; it keeps the last page and notes
# each failed scrape: wget's exit status (4 network, 8 HTTP error), when
# (seconds of uptime) and what it said.
( while :; do
	if wget -q -O $D/scrape.tmp "$URL" 2>$D/scrape.werr; then
		mv $D/scrape.tmp $D/scrape.txt
	else
		echo "wget exit $? at $(cut -d' ' -f1 /proc/uptime) s: $(head -c 200 $D/scrape.werr)" >>$D/scrape.fail
	fi
	sleep 0.5
done ) &
WP=$!
# Warm-up: the first VMs grow the tracers' heaps to their working size.
round
sleep 2.5
figures baseline $vm
start=$(cut -d. -f1 /proc/uptime)
r=0
while :; do
	round
	r=$((r + 1))
	if [ "$SOAK_SECONDS" -gt 0 ]; then
		[ $((r % 5)) -eq 0 ] && figures soak $vm
		[ $(($(cut -d. -f1 /proc/uptime) - start)) -ge "$SOAK_SECONDS" ] && break
	else
		[ $r -ge "$ROUNDS" ] && break
	fi
done
# Every exit seen, every rescan done (the tracers rescan once a second).
sleep 2.5
figures after $vm
kill $WP
wait $WP 2>/dev/null
kill -INT $MP $SP $XP
wait $MP; mrc=$?
wait $SP; src=$?
wait $XP; xrc=$?
nfail=$(cat $D/scrape.fail 2>/dev/null | wc -l)
[ "$SOAK_SECONDS" -gt 0 ] && {
	echo "=== soak done rounds=$r vms=$vm migrate_exit=$mrc stats_exit=$src export_exit=$xrc failed_scrapes=$nfail"
	cat $D/migrate.err $D/stats.err $D/export.err
	exit 0
}
dump_vms $D $vm name
dump_tracer migrate $mrc $D/migrate.json $D/migrate.err
# The stats rows and schemas are many and long: VM events, and a count of
# rows per VM.
echo "=== stats exit=$src"
grep -v -e '"type":"stats"' -e '"type":"stats_schema"' $D/stats.json
echo "=== stats rows"
sed -n 's/.*"type":"stats",.*"pid":\([0-9]*\),.*/\1/p' $D/stats.json | sort | uniq -c
echo "=== stats stderr"
cat $D/stats.err
echo "=== export exit=$xrc failed_scrapes=$nfail"
grep -c '^kvmscope_' $D/scrape.txt
# What failed, and the exporter's own HTTP counters on its last page.
cat $D/scrape.fail 2>/dev/null
grep '^kvmscope_export' $D/scrape.txt
echo "=== export stderr"
cat $D/export.err
