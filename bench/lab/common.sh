# shellcheck shell=sh
# Shared by the bench scripts that run in the lab (sourced; busybox sh).
# The bench helpers are in /opt/kvmscope/bench (bench/run adds them), or
# in $BENCH_BIN when a benchmark runs on the build machine itself
# (bench/run --host); scratch files go to $T ($BENCH_TMP there, else /tmp).
PATH=${BENCH_BIN:-/opt/kvmscope/bench}:$PATH
T=${BENCH_TMP:-/tmp}

# median: the median of the numbers on stdin, one per line.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# start_migrate OUT [ARGS]: kvmscope migrate --json in the background until
# its "attached" record (bounded: 30 s); sets $mpid.
start_migrate() {
	out=$1
	shift
	kvmscope migrate --json "$@" >"$out" 2>"$out.err" &
	mpid=$!
	n=0
	while ! grep -q '"type":"attached"' "$out" 2>/dev/null; do
		sleep 0.05
		n=$((n + 1))
		if [ $n -gt 600 ] || ! kill -0 $mpid 2>/dev/null; then
			echo "bench: kvmscope migrate did not attach: $(cat "$out.err")"
			exit 1
		fi
	done
}

stop_migrate() {
	kill -INT $mpid
	wait $mpid
}
