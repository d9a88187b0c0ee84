#!/usr/bin/env python3
"""Check `kvmscope export` in the lab (guest.sh).

kvmload's VM is paused between two dirty-log iterations while the exporter
is scraped, `kvmscope stats --json` reads the same stats fds and a real
Prometheus scrapes the exporter. Checked, one PASS/FAIL line each:
  - the text output passes `promtool check metrics` without a word;
  - kvmscope_build_info and the process_* metrics are there;
  - every binary stat the exporter shows equals what `kvmscope stats` read
    from the stats fd (raw value x 10^exponent; histograms bucket by bucket);
  - kvmload's ground truth: io exits per vCPU = phases run, GET/CLEAR ioctl
    counts and dirty/cleared pages = kvmload's own records, ioctl time no
    more than kvmload measured around each call;
  - histograms: cumulative buckets, +Inf = _count;
  - Prometheus' HTTP API returns exactly the exporter's values, and the
    comm label (quote, backslash, a byte that is not UTF-8) comes back as
    escaped (not with --no-prometheus);
  - rmaps: none allocated under the TDP MMU; on series kernels the bytes
    avoided are the rmaps of kvmload's memslots;
  - OpenMetrics: content type, # EOF, counter families without _total, the
    same samples as the text format minus _count of histograms without _sum;
  - deploy/: every query of the Grafana dashboard returns data from that
    Prometheus, and it evaluated every rule of kvmscope.rules.yml without
    an error (not with --no-prometheus);
  - 32 concurrent scrapes all answered while collection went on;
  - the VM's series leave when the VMM exits; SIGTERM ends export with 0.
"""
import json
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, records, require, result, rmap_bytes, sections, ground  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse(lines):
    """{(name, frozenset(labels)): float} and the order of samples."""
    out, order = {}, []
    for l in lines:
        if not l or l.startswith("#"):
            continue
        m = SAMPLE.match(l)
        if not m:
            raise ValueError(f"unparsable sample line: {l!r}")
        labels = frozenset((k, unescape(v)) for k, v in LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        out[key] = float(m.group(4))
        order.append(key)
    return out, order


def lab(key):
    return dict(key[1])


def family(scope, name, schema):
    """The exporter's name for a binary stat (tracer/export/export_render.c)."""
    base = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    unit = schema["unit"]
    suffix = ""
    if unit == "seconds":
        for s in ("_ns", "_us", "_ms", "_seconds", "_time"):
            if base.endswith(s) and len(base) > len(s):
                base = base[: -len(s)]
                break
        suffix = "_seconds"
    elif unit in ("bytes", "cycles"):
        if base.endswith("_" + unit) and len(base) > len(unit) + 1:
            base = base[: -len(unit) - 1]
        suffix = "_" + unit
    if schema["type"] == "cumulative" and base.endswith("_total"):
        base = base[:-6]
    return f"kvmscope_{scope}_{base}{suffix}"


def main():
    a = labcheck.args("lab", ("--no-prometheus", "the run had no Prometheus"))
    L = a.label
    sec = sections(a.log)
    kp_head = next((k for k in sec if k.startswith("kvmload pid=")), None)
    require(kp_head is not None and "scrape1" in sec and "end" in sec, L, "lab script ran to the end",
            "missing sections: " + ", ".join(k for k in ("kvmload pid", "scrape1", "end")
                                             if not any(s.startswith(k) for s in sec)))
    if kp_head is None or "scrape1" not in sec:
        return exit_status()
    kp = kp_head.split("=")[1]

    # promtool, on the text the lab printed
    text1 = "\n".join(sec["scrape1"]) + "\n"
    p = subprocess.run(["promtool", "check", "metrics"], input=text1, capture_output=True, text=True)
    result(p.returncode == 0 and not (p.stdout + p.stderr).strip(), L,
           "promtool check metrics: the page with the VMs is clean (no error, no lint)",
           (p.stdout + p.stderr).strip()[:500])

    s1, order1 = parse(sec["scrape1"])
    s2, _ = parse(sec["scrape2"])

    # The exporter's own: build_info, and process_* as client libraries
    # give them (their values against /proc: tests/host/test-export.py).
    build = [lab(k) for k in s1 if k[0] == "kvmscope_build_info" and s1[k] == 1]
    result(len(build) == 1 and set(build[0]) == {"version", "revision"} and
           re.fullmatch(r"[0-9a-f]{7,}(-dirty)?|unknown", build[0]["revision"]), L,
           f"kvmscope_build_info 1, version and revision labels ({build[0] if build else None})", str(build))
    proc = {k[0]: v for k, v in s1.items() if k[0].startswith("process_")}
    want = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
            "process_open_fds", "process_max_fds", "process_start_time_seconds")
    # With two VMs' stats fds copied, the exporter holds more than a few fds.
    result(all(proc.get(k, 0) > 0 for k in want) and proc["process_open_fds"] > 8 and
           proc["process_open_fds"] <= proc["process_max_fds"], L,
           f"process_* metrics present and positive (fds {proc.get('process_open_fds')}, "
           f"rss {proc.get('process_resident_memory_bytes')})", str(proc))
    stable = {k: v for k, v in s1.items() if s2.get(k) == v}
    mine = {k: v for k, v in s1.items() if lab(k).get("pid") == kp}
    result(len(mine) > 100, L, f"the paused VM has series ({len(mine)})", "too few")
    moving = [k[0] for k in mine if k not in stable]
    result(not moving, L, "the paused VM's series are stable across scrapes", f"changed: {moving[:5]}")

    # binary stats: exporter vs `kvmscope stats --json`
    recs = records(sec.get("stats-json", []))
    schemas = {}
    for r in recs:
        if r["type"] == "stats_schema":
            schemas["vcpu" if "/vcpu" in r["id"] else "vm"] = r["stats"]
    samples = [r for r in recs if r["type"] == "stats"]
    compared, bad = 0, []
    for r in samples:
        scope = "vcpu" if "vcpu" in r else "vm"
        want = {"pid": kp, "vm": f"kvm-{kp}"}
        if scope == "vcpu":
            want["vcpu"] = str(r["vcpu"])
        for name, sch in schemas.get(scope, {}).items():
            fam = family(scope, name, sch)
            exp = 10.0 ** sch["exponent"] if sch["base"] == 10 else 2.0 ** sch["exponent"]
            if sch["type"] in ("linear_hist", "log_hist"):
                buckets = sorted(((float(lab(k)["le"]), v) for k, v in mine.items()
                                  if k[0] == fam + "_bucket" and all(lab(k).get(x) == y for x, y in want.items())))
                counts = r["values"][name]
                cum = [sum(counts[: i + 1]) for i in range(len(counts))]
                ok = [b[1] for b in buckets] == cum and math.isinf(buckets[-1][0])
                # le: KVM's inclusive upper bounds, in seconds
                for i, (le, _) in enumerate(buckets[:-1]):
                    raw = (i + 1) * sch.get("bucket_size", 0) - 1 if sch["type"] == "linear_hist" \
                        else (0 if i == 0 else 2 ** i - 1)
                    ok = ok and math.isclose(le, raw * exp, rel_tol=1e-12, abs_tol=0)
                compared += 1
                if not ok:
                    bad.append((scope, name, cum[:4], buckets[:4]))
                continue
            key = next((k for k in mine if k[0] in (fam, fam + "_total")
                        and all(lab(k).get(x) == y for x, y in want.items()) and len(lab(k)) == len(want) + 1),
                       None)
            compared += 1
            if key is None:
                bad.append((scope, name, "missing", fam))
            # values: the stats fd's u64 x base^exponent, written exactly
            elif not math.isclose(mine[key], r["values"][name], rel_tol=1e-12, abs_tol=1e-300):
                bad.append((scope, name, r["values"][name], mine[key]))
    result(compared > 50 and not bad, L,
           f"every binary stat equals the stats fd's value, in base units ({compared} compared)",
           f"{len(bad)} differ: {bad[:4]}")

    # kvmload's ground truth
    kl = records(sec.get("kvmload-json", []))
    iters = [r for r in kl if r["type"] == "iteration"]
    gets = [r for r in kl if r.get("op") == "get_dirty_log"]
    clears = [r for r in kl if r.get("op") == "clear_dirty_log"]

    def val(name, **labels):
        labels["pid"] = kp
        ks = [k for k in mine if k[0] == name and all(lab(k).get(x) == y for x, y in labels.items())]
        return mine[ks[0]] if len(ks) == 1 else None

    for v in ("0", "1"):
        got = val("kvmscope_vcpu_io_exits_total", vcpu=v)
        ground(got == 1 + len(iters), L, f"vCPU {v} io exits = phases kvmload ran ({1 + len(iters)})", f"{got}")
    for op, recs_op in (("get", gets), ("clear", clears)):
        n = val("kvmscope_dirty_log_ioctl_seconds_count", op=op)
        ground(n == len(recs_op) and n > 0, L, f"{op} ioctls counted = kvmload's ({len(recs_op)})", f"{n}")
        # Each ioctl is timed whole in the kernel; kvmload times it around
        # the system call, which under TCG adds hundreds of microseconds
        # (check_migrate.py compares single ioctls): so no ioctl may look
        # longer to the exporter than to kvmload. For the histogram: at
        # every bound, at least as many observations as kvmload has ioctls
        # that short; for the sum: no more than kvmload's.
        s = val("kvmscope_dirty_log_ioctl_seconds_sum", op=op)
        measured = sum(r["dur_ns"] for r in recs_op) / 1e9
        ground(s is not None and 0 < s <= measured, L,
               f"{op} ioctl time {s * 1e3:.3f} ms, kvmload measured {measured * 1e3:.3f} ms around the calls",
               f"{s} vs {measured}")
        buckets = sorted((float(lab(k)["le"]), v) for k, v in mine.items()
                         if k[0] == "kvmscope_dirty_log_ioctl_seconds_bucket" and lab(k).get("op") == op)
        short = [(le, v, sum(1 for r in recs_op if r["dur_ns"] / 1e9 <= le)) for le, v in buckets]
        ground(buckets and all(v >= n for _, v, n in short), L,
               f"{op} ioctl latency histogram: never slower than kvmload's timing of the same calls",
               f"(le, exporter, kvmload): {[x for x in short if x[1] < x[2]][:3]}")
    d = val("kvmscope_dirty_pages_total")
    ground(d == sum(r["pages_dirty"] for r in gets), L, f"dirty pages = kvmload's ({d})",
           f"{d} vs {sum(r['pages_dirty'] for r in gets)}")
    c = val("kvmscope_dirty_pages_cleared_total")
    ground(c == sum(r["pages_cleared"] for r in clears), L, f"cleared pages = kvmload's ({c})",
           f"{c} vs {sum(r['pages_cleared'] for r in clears)}")

    # histogram shape, every histogram of the scrape
    hist_bad = []
    for key in s1:
        if not key[0].endswith("_bucket"):
            continue
        base = key[0][:-7]
        rest = frozenset(x for x in key[1] if x[0] != "le")
        series = [k for k in order1 if k[0] == key[0] and frozenset(x for x in k[1] if x[0] != "le") == rest]
        if series[0] != key:
            continue
        vals = [s1[k] for k in series]
        les = [float(lab(k)["le"]) for k in series]
        cnt = s1.get((base + "_count", rest))
        if vals != sorted(vals) or les != sorted(les) or not math.isinf(les[-1]) or cnt != vals[-1]:
            hist_bad.append(base)
    nh = sum(1 for k in s1 if k[0].endswith("_bucket") and lab(k).get("le") == "+Inf")
    result(nh > 0 and not hist_bad, L, f"{nh} histograms: buckets cumulative, +Inf last, = _count",
           f"{hist_bad[:5]}")
    pf, faults = val("kvmscope_page_fault_seconds_count"), val("kvmscope_page_faults_total")
    if pf is None:
        # Faults counted through the kvm_page_fault tracepoint (the
        # default, or a kernel that cannot time kvm_mmu_page_fault) have no
        # latency: the family is left out.
        result(faults is not None and faults > 0, L,
               f"faults counted ({faults}); no latency histogram (not timed)", "no fault counts")
    else:
        result(pf == faults and pf > 0, L, f"page fault latency histogram counts every fault ({pf})",
               f"{pf} vs {faults}")

    # Write-protect faults per vCPU: one per page the vCPU wrote after
    # logging started (kvmload's --mode manual protects at enable), within
    # 1% as in check_migrate.py.
    written = {}
    for r in kl:
        if r["type"] == "vcpu" and r["phase"] == "iteration":
            written[str(r["vcpu"])] = written.get(str(r["vcpu"]), 0) + r["pages_written"]
    wpf = {v: val("kvmscope_write_protect_faults_total", vcpu=v) for v in written}
    off = [(v, wpf[v], n) for v, n in written.items() if wpf[v] is None or abs(wpf[v] - n) > 0.01 * n]
    ground(written and not off, L, f"write-protect faults per vCPU within 1% of the pages each wrote "
           f"while protected ({written})", f"(vcpu, faults, pages): {off}")

    # The default exporter (no program on the fault path): the fault series
    # are KVM's own per-vCPU stats since the VM's creation, so in one scrape
    # of the paused VM each vCPU's write-protect faults equal its pf_fast
    # series and the VM's faults the sum of pf_taken, exactly; write faults
    # (only a fault program tells them) are left out.
    if "scrape-default" in sec:
        sd, _ = parse(sec["scrape-default"])
        dm = {k: v for k, v in sd.items() if lab(k).get("pid") == kp}

        def dval(name, **labels):
            ks = [k for k in dm if k[0] == name and all(lab(k).get(x) == y for x, y in labels.items())]
            return dm[ks[0]] if len(ks) == 1 else None
        vcpus = sorted(written)
        got = {v: (dval("kvmscope_write_protect_faults_total", vcpu=v),
                   dval("kvmscope_vcpu_pf_fast_total", vcpu=v)) for v in vcpus}
        taken = [dval("kvmscope_vcpu_pf_taken_total", vcpu=v) for v in vcpus]
        faults_d = dval("kvmscope_page_faults_total")
        result(vcpus and all(w is not None and w == f for w, f in got.values()) and
               None not in taken and faults_d == sum(taken) and
               dval("kvmscope_page_write_faults_total") is None, L,
               f"default export: write-protect faults per vCPU = its pf_fast {got}, faults = "
               f"the vCPUs' pf_taken ({faults_d}), no write-fault series",
               f"per vCPU (series, pf_fast) {got}; faults {faults_d} vs pf_taken {taken}; "
               f"write faults {dval('kvmscope_page_write_faults_total')}")
        result(sec.get("default export exit=0") is not None, L, "default export ended cleanly on SIGTERM",
               [k for k in sec if k.startswith("default export")])

    # rmaps: the TDP MMU allocates none for kvmload's VM; series kernels
    # report what that saved, which is the formula over its memslots.
    start = next((r for r in kl if r["type"] == "start"), None)
    alloc, avoided = val("kvmscope_rmap_allocated_bytes_total"), val("kvmscope_rmap_avoided_bytes")
    result(alloc == 0, L, "TDP MMU: no rmap bytes allocated", f"{alloc}")
    # Series kernels only; there it must be reported.
    if (avoided is not None or a.series) and start:
        slots = [(x["gpa"] >> 12, x["npages"]) for x in start["slots"]]
        slots.append((start["code_slot"]["gpa"] >> 12, start["code_slot"]["bytes"] >> 12))
        want = sum(rmap_bytes(g, n) for g, n in slots)
        result(avoided == want, L, f"rmap bytes avoided = rmaps of kvmload's {len(slots)} memslots ({want})",
               f"{avoided} vs {want}")

    # Prometheus' view
    if not a.no_prometheus:
        prometheus_checks(L, sec, stable)
        deploy_checks(L, sec)
    om_checks(L, sec, kp, mine)
    tail_checks(L, sec)
    return exit_status()


def prometheus_checks(L, sec, stable):
    try:
        qs = json.loads(sec["query-stats"][0])["data"]["result"] + \
            json.loads(sec["query-migrate"][0])["data"]["result"]
        qb = json.loads(sec["query-bpf"][0])["data"]["result"]
    except (KeyError, IndexError, ValueError) as e:
        result(False, L, "Prometheus answered the queries", str(e))
        return
    agree, differ, missing = 0, [], 0
    comms = set()
    for r in qs:
        m = dict(r["metric"])
        name = m.pop("__name__")
        m.pop("instance", None)
        m.pop("job", None)
        comms.add(m.get("comm"))
        key = (name, frozenset(m.items()))
        if key not in stable:
            missing += 1
            continue
        if float(r["value"][1]) == stable[key]:
            agree += 1
        else:
            differ.append((name, r["value"][1], stable[key]))
    result(agree > 100 and not differ and not missing, L,
           f"Prometheus' query API returns the exporter's values ({agree} series)",
           f"{len(differ)} differ {differ[:3]}, {missing} not in the scrape")
    result(comms == {'kv"m\\l\ufffdd'}, L, "comm label survives escaping (quote, backslash, non-UTF-8 byte)",
           f"{comms}")
    result(len(qb) == 1 and qb[0]["value"][1] == "1", L, "Prometheus sees kvmscope_bpf_attached 1", f"{qb}")


def deploy_checks(L, sec):
    """deploy/'s Grafana dashboard and Prometheus rules on the real data."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import dashboard
    qs = dashboard.queries(dashboard.load())
    got = sorted(int(k.split()[1]) for k in sec if k.startswith("dashboard-query "))
    require(got == list(range(len(qs))), L, f"the lab ran the dashboard's {len(qs)} queries", f"sections {got}")
    for i, (name, q) in enumerate(qs):
        lines = sec.get(f"dashboard-query {i}", [])
        try:
            r = json.loads(lines[0])
            ok = r["status"] == "success" and len(r["data"]["result"]) > 0
            detail = f"{r.get('status')} {r.get('error', '')} {len(r.get('data', {}).get('result', []))} series"
            n = len(r["data"]["result"])
        except (IndexError, ValueError, KeyError, TypeError) as e:
            ok, detail, n = False, f"{e}: {lines[:1]}", 0
        result(ok, L, f"dashboard {name}: Prometheus returns data ({n} series)", f"{detail}; query {q}")
    try:
        groups = json.loads(sec["rules"][0])["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
    except (KeyError, IndexError, ValueError) as e:
        result(False, L, "Prometheus loaded kvmscope.rules.yml", str(e))
        return
    bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
    rec = [r for r in rules if r["type"] == "recording"]
    alerts = [r for r in rules if r["type"] == "alerting"]
    result(len(rec) >= 5 and len(alerts) >= 10 and not bad, L,
           f"Prometheus evaluated every rule of kvmscope.rules.yml without error "
           f"({len(rec)} recording, {len(alerts)} alerting)", f"{bad}")
    firing = sorted({a["labels"]["alertname"] for r in alerts for a in r.get("alerts", [])
                     if a.get("state") == "firing"})
    result(not firing, L, "no kvmscope alert fires on the healthy lab exporter", f"{firing}")


def om_checks(L, sec, kp, mine):
    # OpenMetrics
    ct = next((k for k in sec if k.startswith("om-content-type")), "")
    result("application/openmetrics-text; version=1.0.0; charset=utf-8" in ct, L,
           "Prometheus' Accept header gets OpenMetrics", ct or "no content type")
    om = sec.get("scrape-om", [])
    result(om and om[-1] == "# EOF" and om.count("# EOF") == 1, L, "OpenMetrics ends with # EOF",
           om[-1] if om else "empty")
    om_counter_total = [l for l in om if l.startswith("# TYPE") and l.endswith(" counter")
                        and l.split()[2].endswith("_total")]
    result(not om_counter_total and any(l.endswith(" counter") for l in om if l.startswith("# TYPE")), L,
           "OpenMetrics counter families are named without _total", f"{om_counter_total[:3]}")
    oms, _ = parse([l for l in om if l != "# EOF"])
    om_mine = {k: v for k, v in oms.items() if lab(k).get("pid") == kp}
    text_mine = {k: v for k, v in mine.items()
                 if not (k[0].endswith("_count") and (k[0][:-6] + "_sum", k[1]) not in mine)}
    result(om_mine == text_mine, L, f"OpenMetrics has the text format's samples ({len(om_mine)}), "
           "minus _count of histograms without _sum",
           f"only OM: {list(set(om_mine) - set(text_mine))[:2]} only text: {list(set(text_mine) - set(om_mine))[:2]}")


def tail_checks(L, sec):
    """Concurrency, the VMM's exit, export's own exit."""
    par = next((k for k in sec if k.startswith("parallel ")), "")
    m = re.search(r"scrapes=(\d+) complete=(\d+) seconds=([\d.]+) collections_before=(\d+) collections_after=(\d+)", par)
    result(m and m.group(1) == m.group(2), L, f"concurrent scrapes all answered ({par})", par)
    if m:
        result(int(m.group(5)) > int(m.group(4)), L, "collection went on during the scrapes", par)
    gone = next((k for k in sec if k.startswith("after-exit")), "")
    result(gone == "after-exit vm-series=0", L, "the VMM's series leave the export when it exits", gone)
    ex = next((k for k in sec if k.startswith("export exit=")), "")
    result(ex == "export exit=0", L, "SIGTERM ends export with status 0", ex)
    errs = [l for l in sec.get(ex, []) if l.startswith("kvmscope:")]
    result(not errs, L, "export printed no error", f"{errs[:3]}")


if __name__ == "__main__":
    sys.exit(main())
