#!/bin/sh
# Guest slowdown: kvmload's guest time (its vCPUs dirtying memory during
# dirty logging, summed over iterations) with `kvmscope migrate` attached
# and without, alternating, RUNS runs each. Goal: median ratio <= 1.02.
. /opt/kvmscope/add/common.sh
RUNS=${1:-6}
# guest_ms: one kvmload run, its guest time in ms.
guest_ms() {
	kvmload --vcpus 2 --mem-per-vcpu 32 --iterations 4 --write-percent 100 --mode get --json |
		awk -F'"guest_ns":' '/"type":"iteration"/ { split($2, a, ","); s += a[1] } END { printf "%.1f\n", s / 1e6 }'
}
guest_ms >/dev/null # warm-up: page cache, THP state, first-VM costs
: >/tmp/off
: >/tmp/on
echo "run  without-ms  with-ms"
i=0
while [ $i -lt "$RUNS" ]; do
	# Alternate which goes first, so drift in the machine's load cancels.
	if [ $((i % 2)) -eq 0 ]; then
		off=$(guest_ms)
		start_migrate /tmp/m.json -i 1s
		on=$(guest_ms)
		stop_migrate
	else
		start_migrate /tmp/m.json -i 1s
		on=$(guest_ms)
		stop_migrate
		off=$(guest_ms)
	fi
	echo "$off" >>/tmp/off
	echo "$on" >>/tmp/on
	echo "$i    $off  $on"
	i=$((i + 1))
done
moff=$(median </tmp/off)
mon=$(median </tmp/on)
awk -v a="$mon" -v b="$moff" 'BEGIN { printf "median guest time: without %.1f ms, with %.1f ms; ratio %.3f (goal <= 1.02)\n", b, a, a / b }'
