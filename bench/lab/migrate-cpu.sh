#!/bin/sh
# migrate's own CPU per interval against the fault rate, in one session:
# `kvmscope migrate --json -i 1s` traces ONE VM (kvmload, 2 vCPUs x 96 MiB,
# get mode) that alternates idle phases (its hold before logging, then
# PAUSE_MS between iterations: vCPUs stopped) and fault storms (each
# iteration writes every page under dirty logging: 49152 write-protect
# faults), ITER times. Every interval record carries the tracer's own CPU
# over that interval (tracer_user_ns, tracer_sys_ns), so each interval is
# one point (faults/s, CPU/s); the VM count is the same throughout.
# Printed: every interval, the medians per phase (idle: no fault; storm: at
# least half the highest rate; the rest straddle a phase boundary) and
# their ratio, and the least-squares line CPU = intercept + slope x rate
# over all intervals, with the slope's standard error. Flat in the event
# rate: the slope's contribution at the storm phase's median rate is under
# 10% of the intercept (the idle cost), by more than two standard errors.
# The tracer runs on lab CPU 1 and the VM's threads on CPU 0, so that under
# TCG the storm's vCPUs do not take the tracer's CPU (the lab's kernel sees
# no steal time: time taken from an emulated CPU is charged to whatever task
# it was running).
# Then the tracer's memory: VmRSS after attaching, and VmRSS and VmHWM at the
# end (its heap after loading is what malloc_trim returns).
# Last, the same shape again under strace: system calls per interval by
# kind, idle against storm (counted work, which the lab cannot blur).
# bench: host-root
. /opt/kvmscope/add/common.sh
ITER=${1:-8}
PAUSE_MS=${2:-5000}
HOLD_MS=8000
rss_of() { awk -v k="$2:" '$1 == k { print $2 }' /proc/$1/status; }

taskset -c 1 kvmscope migrate --json -i 1s >/tmp/mig.json 2>/tmp/mig.err &
tp=$!
lab-wait /tmp/mig.json '"type":"attached"' 120 $tp || { echo "bench: migrate did not attach: $(cat /tmp/mig.err)"; exit 1; }
sleep 2
rss_att=$(rss_of $tp VmRSS)
rss_anon=$(rss_of $tp RssAnon)
rss_file=$(rss_of $tp RssFile)
# Tracers attach and detach only while no VM runs (docs/lab.md, kvm-hold).
taskset -c 0 kvmload --vcpus 2 --mem-per-vcpu 96 --iterations "$ITER" --mode get \
	--pause-ms "$PAUSE_MS" --hold-ms $HOLD_MS --json >/tmp/kl.json 2>&1 &
kp=$!
wait $kp
krc=$?
rss_end=$(rss_of $tp VmRSS)
hwm=$(rss_of $tp VmHWM)
sleep 1.5
kill -INT $tp
wait $tp
[ $krc -eq 0 ] || { echo "bench: kvmload exited $krc: $(tail -c 300 /tmp/kl.json)"; exit 1; }
hold_ts=$(awk -F'"ts_ns":' '/"type":"hold"/ { split($2, a, ","); print a[1] }' /tmp/kl.json)

# The VM's intervals from 2 s into its hold (migrate has found it and its
# stats) to the one before its exit (cut short by it).
awk -v pid=$kp -v t0="$hold_ts" -v iter="$ITER" -v pause="$PAUSE_MS" '
function f(name,   m) {
	if (!match($0, "\"" name "\":[0-9.]+")) return -1
	return substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 3) + 0
}
index($0, "\"type\":\"interval\"") && index($0, "\"pid\":" pid ",") {
	ts = f("ts_ns"); dt = f("interval_ns")
	if (ts - dt < t0 + 2e9) next
	n++
	T[n] = (ts - t0) / 1e9; D[n] = dt / 1e9
	X[n] = f("faults") / D[n] / 1000                       # thousand faults/s
	U[n] = f("tracer_user_ns") / D[n] / 1e6; S[n] = f("tracer_sys_ns") / D[n] / 1e6
	Y[n] = U[n] + S[n]                                    # ms of CPU per s
	if (X[n] > xmax) xmax = X[n]
}
# (busybox awk may lack math: no ^, no sqrt)
function root(v,   r, i) {
	if (v <= 0) return 0
	r = v > 1 ? v : 1
	for (i = 0; i < 60; i++) r = (r + v / r) / 2
	return r
}
# quantile(a, k, p): the p-quantile of a[1..k] (nearest rank).
function quantile(a, k, p,   i, j, t, b, r) {
	for (i = 1; i <= k; i++) b[i] = a[i]
	for (i = 2; i <= k; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
	r = int(p * k + 0.5)
	return k ? b[r < 1 ? 1 : r] : 0
}
END {
	n-- # the last interval is the one cut short by the exit
	if (n < 6) { print "bench: only " n " intervals of the VM"; exit 1 }
	printf "migrate -i 1s on one VM (2 vCPUs x 96 MiB, get mode), %d storms %d ms apart, one session:\n", iter, pause
	printf "%8s %8s %12s %10s %10s %10s  %s\n", "t s", "span s", "faults/s", "cpu ms/s", "user", "sys", "phase"
	for (i = 1; i <= n; i++) {
		ph = X[i] == 0 ? "idle" : X[i] >= xmax / 2 ? "storm" : "mixed"
		if (ph == "idle") I[++ni] = Y[i]
		if (ph == "storm") { Sy[++ns] = Y[i]; Sx[ns] = X[i] }
		printf "%8.1f %8.3f %12.0f %10.1f %10.1f %10.1f  %s\n", T[i], D[i], X[i] * 1000, Y[i], U[i], S[i], ph
		sx += X[i]; sy += Y[i]
	}
	mx = sx / n; my = sy / n
	for (i = 1; i <= n; i++) { sxx += (X[i] - mx) * (X[i] - mx); sxy += (X[i] - mx) * (Y[i] - my) }
	b = sxx > 0 ? sxy / sxx : 0; a = my - b * mx
	for (i = 1; i <= n; i++) { e = Y[i] - a - b * X[i]; res += e * e }
	se = sxx > 0 && n > 2 ? root(res / (n - 2) / sxx) : 0
	mi = quantile(I, ni, 0.5); ms = quantile(Sy, ns, 0.5); rate = quantile(Sx, ns, 0.5)
	li = quantile(I, ni, 0.25); ls = quantile(Sy, ns, 0.25)
	printf "intervals: %d (idle %d, storm %d, mixed %d)\n", n, ni, ns, n - ni - ns
	printf "median CPU per s: idle %.1f ms, storm %.1f ms at %.0f faults/s; storm/idle %.2f\n", mi, ms, rate * 1000, (mi > 0 ? ms / mi : 0)
	# Time the host takes from the lab'"'"'s emulated CPU is charged to the task it
	# was running: it only adds, so the lower quartile is the least disturbed.
	printf "lower quartile of CPU per s: idle %.1f ms, storm %.1f ms; storm/idle %.2f\n", li, ls, (li > 0 ? ls / li : 0)
	printf "least squares over all intervals: CPU = %.1f ms/s + %.1f us (+- %.1f, 1 SE) per 1000 faults\n", a, b * 1000, se * 1000
	c = a > 0 ? 100 * b * rate / a : 0; ce = a > 0 ? 100 * 2 * se * rate / a : 0
	printf "slope at the storm rate: %.1f ms/s, %.1f%% of the intercept (+- %.1f%% at 2 SE): ", b * rate, c, ce
	if (c + ce < 10) print "flat (below 10% of the idle cost)"
	else if (c - ce > 10) print "NOT flat (grows with the event rate)"
	else print "not resolved (the 10% line is within 2 SE)"
}' /tmp/mig.json
echo "migrate RSS: $rss_att KiB attached (anon $rss_anon, file $rss_file), $rss_end KiB at the end, peak $hwm KiB"
grep '"type":"summary"' /tmp/mig.json | sed -n 's/.*"tracer_user_ns":\([0-9]*\),"tracer_sys_ns":\([0-9]*\).*/migrate whole run: user \1 ns, sys \2 ns/p'

# What the tracer does per interval, counted rather than timed (CPU time in
# this lab is charged with whatever the host takes from the emulated CPU):
# a second session, traced by the build machine's strace (bench/run boots
# this benchmark with the build machine's root shared), 4 storms. Each
# interval record is one write(2) to stdout; the system calls between two
# of them are that interval's work, by kind, against its fault count.
lab-mount-host /host >/dev/null 2>&1 && [ -x /host/usr/bin/strace ] ||
	{ echo "(no host root with strace: system calls per interval not counted)"; exit 0; }
taskset -c 1 kvmscope migrate --json -i 1s >/tmp/mig2.json 2>/tmp/mig2.err &
tp=$!
lab-wait /tmp/mig2.json '"type":"attached"' 120 $tp || { echo "bench: migrate did not attach: $(cat /tmp/mig2.err)"; exit 1; }
chroot /host strace -qq -s 1000 -o /tmp/st.txt -p $tp &
sp=$!
sleep 2
taskset -c 0 kvmload --vcpus 2 --mem-per-vcpu 96 --iterations 4 --mode get \
	--pause-ms "$PAUSE_MS" --hold-ms $HOLD_MS --json >/tmp/kl2.json 2>&1 &
kp=$!
wait $kp
sleep 1.5
kill -INT $tp
wait $tp
wait $sp
awk -v pid=$kp '
function kind(l) {
	if (l ~ /^(openat|getdents64|readlink|close|newfstatat|fstat|read)\(/) return "scan"
	if (l ~ /^bpf\(/) return "bpf"
	if (l ~ /^pread64\(/) return "pread"
	if (l ~ /^epoll_wait\(/) return "epoll"
	if (l ~ /^write\(/) return "write"
	return "other"
}
function quantile(a, k, p,   i, j, t, b, r) {
	for (i = 1; i <= k; i++) b[i] = a[i]
	for (i = 2; i <= k; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
	r = int(p * k + 0.5)
	return k ? b[r < 1 ? 1 : r] : 0
}
{
	k = kind($0)
	if (k == "write" && index($0, "\\\"type\\\":\\\"interval\\\"") && index($0, "\\\"pid\\\":" pid ",")) {
		match($0, /\\"faults\\":[0-9]+/)
		f = substr($0, RSTART + 11, RLENGTH - 11) + 0
		n++
		F[n] = f
		for (c in cnt) { C[c, n] = cnt[c] }
		cnt["scan"] = cnt["bpf"] = cnt["pread"] = cnt["epoll"] = cnt["write"] = cnt["other"] = 0
		next
	}
	cnt[k]++
}
END {
	# The first interval of the VM starts before it existed; the last is cut short by its exit.
	for (i = 2; i < n; i++) {
		if (F[i] > fmax) fmax = F[i]
	}
	printf "system calls per interval, second session under strace (%d intervals of the VM):\n", n - 2
	printf "%-6s %8s %8s %8s %8s %8s %8s %8s\n", "phase", "n", "bpf", "pread", "epoll", "write", "scan", "other"
	split("idle storm", P, " ")
	for (q = 1; q <= 2; q++) {
		m = 0
		for (i = 2; i < n; i++) {
			ph = F[i] == 0 ? "idle" : F[i] >= fmax / 2 ? "storm" : "mixed"
			if (ph != P[q]) continue
			m++
			B[m] = C["bpf", i]; R[m] = C["pread", i]; E[m] = C["epoll", i]
			W[m] = C["write", i]; S[m] = C["scan", i]; O[m] = C["other", i]
		}
		printf "%-6s %8d %8d %8d %8d %8d %8d %8d   (medians)\n", P[q], m, quantile(B, m, 0.5), quantile(R, m, 0.5),
			quantile(E, m, 0.5), quantile(W, m, 0.5), quantile(S, m, 0.5), quantile(O, m, 0.5)
	}
}' /host/tmp/st.txt
