#!/bin/sh
# In the lab: `kvmscope export` on loopback, scraped by busybox wget and by
# a real Prometheus (the build machine's own, run from its root shared over
# 9p: tests/lab/run --host-root), while kvmload's VM sits paused between two
# dirty-log iterations so every value is stable. Sections ("=== NAME") for
# check.py. --no-prometheus: the same without Prometheus.
set -u
PORT=9464
PROM=127.0.0.1:9090
URL=http://127.0.0.1:$PORT/metrics
WITH_PROM=1
[ "${1:-}" = --no-prometheus ] && WITH_PROM=0
fail() { echo "FAIL $*"; exit 1; }
# wait_for FILE PATTERN TENTHS: until FILE has a line matching PATTERN.
wait_for() {
	_n=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.1; _n=$((_n + 1))
		[ $_n -gt "$3" ] && return 1
	done
	return 0
}
# Prometheus' HTTP API; POSTed as a form, so the query needs no escaping
# as long as it has no '&', '+', '%' or ';'.
query() { wget -q -O - --post-data "query=$1" "http://$PROM/api/v1/query"; }

# The lab's /init leaves the network alone: loopback starts down.
ip link set lo up || fail "cannot bring up loopback"
t0=$(cut -d' ' -f1 /proc/uptime)
# --fault-latency: the page fault latency histogram is checked too.
kvmscope export --listen 127.0.0.1:$PORT -i 250ms --fault-latency >/tmp/export.out 2>/tmp/export.err &
xp=$!
# It prints its URL once the BPF programs are attached: from then on every
# dirty-log ioctl counts.
wait_for /tmp/export.out '^kvmscope export: serving' 600 || { cat /tmp/export.err; fail "export did not start"; }
# A second exporter in the default mode: no program on the fault path, the
# fault series from KVM's per-vCPU stats (checked against them).
DURL=http://127.0.0.1:9465/metrics
kvmscope export --listen 127.0.0.1:9465 -i 250ms >/tmp/export-d.out 2>/tmp/export-d.err &
dp=$!
wait_for /tmp/export-d.out '^kvmscope export: serving' 600 || { cat /tmp/export-d.err; fail "default export did not start"; }
# Its first look at /proc done before the VM exists: it then sees the VM
# from its creation, and KVM's counts are all since tracing began.
n=0
until wget -q -O - "$DURL" 2>/dev/null | grep -q '^kvmscope_export_collections_total [1-9]'; do
	sleep 0.1; n=$((n + 1))
	[ $n -gt 600 ] && fail "the default exporter never collected"
done
if [ $WITH_PROM = 1 ]; then
	lab-mount-host /host || fail "cannot mount the build machine's root over 9p"
	[ -x /host/usr/bin/prometheus ] || fail "/usr/bin/prometheus missing on the build machine (scripts/deps)"
	mkdir -p /host/tmp/prom
	# deploy/'s rules, evaluated on what it scrapes (check.py: no rule in error).
	cp /opt/kvmscope/add/kvmscope.rules.yml /host/tmp/prom/ || fail "no kvmscope.rules.yml in the lab"
	printf '%s\n' \
		'global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }' \
		'rule_files: [ /tmp/prom/kvmscope.rules.yml ]' \
		'scrape_configs:' \
		'  - job_name: kvmscope' \
		"    static_configs: [ { targets: [ '127.0.0.1:$PORT' ] } ]" >/host/tmp/prom/prometheus.yml
	chroot /host /usr/bin/prometheus --config.file=/tmp/prom/prometheus.yml \
		--storage.tsdb.path=/tmp/prom/data --web.listen-address=$PROM >/tmp/prom.log 2>&1 &
	pp=$!
	n=0
	until wget -q -O /dev/null "http://$PROM/-/ready" 2>/dev/null; do
		sleep 0.5; n=$((n + 1))
		[ $n -gt 400 ] && { tail -n 20 /tmp/prom.log; fail "Prometheus not ready after 200 s"; }
	done
	echo "=== prometheus ready after $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s"
fi

# A VMM whose comm needs escaping: quote, backslash and a byte that is not UTF-8.
weird=/tmp/$(printf 'kv"m\\l\377d')
cp "$(command -v kvmload)" "$weird"
"$weird" --json --vcpus 2 --mem-per-vcpu 8 --slots 2 --iterations 2 --mode manual \
	--pause-ms 30000 >/tmp/kvmload.json 2>&1 &
kp=$!
wait_for /tmp/kvmload.json '"type":"iteration"' 900 || { cat /tmp/kvmload.json; fail "kvmload did not finish iteration 0"; }
echo "=== kvmload pid=$kp"
# Paused now (30 s): let the exporter (and Prometheus) catch up.
gets=$(grep -c '"op":"get_dirty_log"' /tmp/kvmload.json)
if [ $WITH_PROM = 1 ]; then
	n=0
	until query "sum(kvmscope_dirty_log_ioctl_seconds_count{op=\"get\",pid=\"$kp\"})" |
		grep -q "\"$gets\"\]"; do
		sleep 0.5; n=$((n + 1))
		[ $n -gt 40 ] && { query "kvmscope_dirty_log_ioctl_seconds_count"; fail "Prometheus never saw $gets GET ioctls"; }
	done
else
	# Until a collection has the VM's and both vCPUs' stats and every GET:
	# the exporter finds a new VMM at its next look at /proc (once a
	# second), later than that on a loaded lab.
	n=0
	until wget -q -O /tmp/scrape1.txt "$URL" &&
		grep -q "^kvmscope_vm_[a-z_]*{pid=\"$kp\"," /tmp/scrape1.txt &&
		[ "$(grep -c "^kvmscope_vcpu_exits_total{pid=\"$kp\"," /tmp/scrape1.txt)" = 2 ] &&
		grep -q "^kvmscope_dirty_log_ioctl_seconds_count{pid=\"$kp\",.*op=\"get\"} $gets\$" /tmp/scrape1.txt; do
		sleep 0.5; n=$((n + 1))
		[ $n -gt 40 ] && { cat /tmp/scrape1.txt; fail "the exporter never showed the VM's stats and $gets GET ioctls"; }
	done
fi
wget -q -O /tmp/scrape1.txt "$URL" || fail "scrape failed"
# The default exporter, once it has both vCPUs' fault series (paused VM).
n=0
until wget -q -O /tmp/scrape-d.txt "$DURL" &&
	[ "$(grep -c "^kvmscope_write_protect_faults_total{pid=\"$kp\"," /tmp/scrape-d.txt)" = 2 ]; do
	sleep 0.5; n=$((n + 1))
	[ $n -gt 40 ] && { cat /tmp/scrape-d.txt; fail "the default exporter never showed both vCPUs' faults"; }
done
wget -q -O /tmp/scrape.om --header 'Accept: application/openmetrics-text; version=1.0.0; charset=utf-8' \
	"$URL" || fail "OpenMetrics scrape failed"
wget -q -S -O /dev/null --header 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' \
	"$URL" 2>&1 | grep -i 'content-type' | sed 's/^ */=== om-content-type /'
kvmscope stats -p "$kp" --json -i 100ms -d 150ms >/tmp/stats.json 2>&1
if [ $WITH_PROM = 1 ]; then
	query "{__name__=~\"kvmscope_(vm|vcpu)_.*\",pid=\"$kp\"}" >/tmp/q-stats.json
	query "{__name__=~\"kvmscope_(dirty|page|write_protect|huge|remote|rmap).*\",pid=\"$kp\"}" >/tmp/q-migrate.json
	query "kvmscope_bpf_attached" >/tmp/q-bpf.json
fi
# N concurrent scrapes while the collector keeps its schedule.
c0=$(grep '^kvmscope_export_collections_total ' /tmp/scrape1.txt | cut -d' ' -f2)
s0=$(cut -d' ' -f1 /proc/uptime)
pids=
i=0
while [ $i -lt 32 ]; do
	wget -q -O "/tmp/par.$i" "$URL" &
	pids="$pids $!"
	i=$((i + 1))
done
wait_ok=0
for p in $pids; do
	wait "$p" && wait_ok=$((wait_ok + 1))
done
s1=$(cut -d' ' -f1 /proc/uptime)
wget -q -O /tmp/scrape2.txt "$URL"
c1=$(grep '^kvmscope_export_collections_total ' /tmp/scrape2.txt | cut -d' ' -f2)
# Every query of the Grafana dashboard (URL-encoded by test.conf) while
# the VM lives (after scrape2: they take a while under TCG), and the rules
# as Prometheus evaluated them.
if [ $WITH_PROM = 1 ]; then
	i=0
	while read -r q; do
		# A rate() needs two samples of its series: one that appeared
		# within the last scrape interval is asked again, 5 s at most.
		t=0
		while :; do
			wget -q -O "/tmp/q-dash.$i" --post-data "query=$q" "http://$PROM/api/v1/query" ||
				echo "wget failed" >"/tmp/q-dash.$i"
			grep -q '"result":\[\]' "/tmp/q-dash.$i" && [ $t -lt 5 ] || break
			sleep 1
			t=$((t + 1))
		done
		i=$((i + 1))
	done </opt/kvmscope/add/dashboard-queries.txt
	wget -q -O /tmp/q-rules.json "http://$PROM/api/v1/rules"
fi
echo "=== parallel scrapes=32 complete=$wait_ok seconds=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }') collections_before=$c0 collections_after=$c1"
echo "=== kvmload-json"
cat /tmp/kvmload.json
echo "=== stats-json"
cat /tmp/stats.json
if [ $WITH_PROM = 1 ]; then
	echo "=== query-stats"
	cat /tmp/q-stats.json; echo
	echo "=== query-migrate"
	cat /tmp/q-migrate.json; echo
	echo "=== query-bpf"
	cat /tmp/q-bpf.json; echo
	j=0
	while [ $j -lt $i ]; do
		echo "=== dashboard-query $j"
		cat "/tmp/q-dash.$j"; echo
		j=$((j + 1))
	done
	echo "=== rules"
	cat /tmp/q-rules.json; echo
fi
echo "=== scrape1"
cat /tmp/scrape1.txt
echo "=== scrape2"
cat /tmp/scrape2.txt
echo "=== scrape-om"
cat /tmp/scrape.om
echo "=== scrape-default"
cat /tmp/scrape-d.txt
# The VMM exits: its series leave the export.
kill "$kp"
wait "$kp" 2>/dev/null
sleep 0.6
wget -q -O /tmp/scrape3.txt "$URL"
echo "=== after-exit vm-series=$(grep -c "pid=\"$kp\"" /tmp/scrape3.txt)"
kill -TERM "$dp"
wait "$dp"
echo "=== default export exit=$?"
kill -TERM "$xp"
wait "$xp"
echo "=== export exit=$?"
cat /tmp/export.out /tmp/export.err
if [ $WITH_PROM = 1 ]; then
	kill "$pp" 2>/dev/null
	wait "$pp" 2>/dev/null
fi
echo "=== end"
