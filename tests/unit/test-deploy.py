#!/usr/bin/env python3
"""deploy/: the systemd unit, the Prometheus rules and scrape config, the
Grafana dashboard (docs/usage.md, "Running it as a service").

  - the unit as `make install` writes it passes `systemd-analyze verify`
    without a word (and a broken copy does not), holds exactly the
    capabilities docs/reliability.md lists and the hardening settings;
    its `systemd-analyze security` exposure is printed as a NOTE;
  - `promtool check rules` and `promtool test rules` pass (and the tests
    fail on rules with a threshold moved); the scrape snippet with the
    rules is a valid Prometheus configuration;
  - the dashboard is a Grafana dashboard model whose panels use the
    ${datasource} variable, lie on the grid without overlapping, and whose
    queries name only metrics the exporter writes (a misspelt one is
    caught). That each query returns data from a real Prometheus is
    tests/lab/export's check.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
sys.path.insert(0, os.path.join(ROOT, "tests", "lab", "export"))
import dashboard  # noqa: E402

failed = 0


def result(ok, what, detail=""):
    global failed
    print(f"PASS {what}" if ok else f"FAIL {what}: {detail}")
    failed += 0 if ok else 1


def skip(what, why):
    print(f"SKIP {what}: {why}")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def unit_settings(text):
    """{key: [values]} of a unit file (later lines append)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        k, _, v = line.partition("=")
        out.setdefault(k.strip(), []).append(v.strip())
    return out


def systemd_checks(tmp):
    prefix = os.path.join(tmp, "p")
    p = run("make", "-C", ROOT, "--no-print-directory", "-s", "install", f"PREFIX={prefix}")
    unit = os.path.join(prefix, "lib", "systemd", "system", "kvmscope-export.service")
    result(p.returncode == 0 and os.path.isfile(unit), "make install PREFIX=... writes lib/systemd/system/kvmscope-export.service",
           (p.stdout + p.stderr)[-500:])
    if not os.path.isfile(unit):
        return
    text = open(unit).read()
    s = unit_settings(text)
    want = f"{prefix}/bin/kvmscope export --listen 127.0.0.1:9464"
    result(s.get("ExecStart", [""])[0].startswith(want) and "@BINDIR@" not in text,
           "ExecStart names the installed binary, loopback listener", s.get("ExecStart"))

    # The capabilities: exactly those of docs/reliability.md's Privileges table.
    doc = open(os.path.join(ROOT, "docs", "reliability.md")).read()
    priv = doc[doc.index("## Privileges"):]
    listed = set(re.findall(r"^\| (CAP_[A-Z_]+) \|", priv, re.M))
    bounding = set(" ".join(s.get("CapabilityBoundingSet", [])).split())
    ambient = set(" ".join(s.get("AmbientCapabilities", [])).split())
    result(len(listed) >= 5 and bounding == listed and ambient == listed,
           f"capabilities are exactly docs/reliability.md's ({' '.join(sorted(listed))})",
           f"bounding {sorted(bounding)}, ambient {sorted(ambient)}, listed {sorted(listed)}")

    hardening = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
        "RestrictNamespaces": "yes", "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
        "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "SystemCallArchitectures": "native",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "DevicePolicy": "closed",
        "IPAddressDeny": "any", "IPAddressAllow": "localhost",
        # It finds VMMs in /proc: other processes must stay visible.
        "ProcSubset": "all", "ProtectProc": "default",
    }
    off = {k: s.get(k) for k, v in hardening.items() if s.get(k) != [v]}
    # What would stop it working: another user, a private /proc or devices,
    # a user namespace (capabilities there are not the host's), no network.
    forbidden = [k for k in ("User", "DynamicUser", "PrivateDevices", "PrivateUsers", "PrivateNetwork") if k in s]
    filt = " ".join(s.get("SystemCallFilter", []))
    tracer = [c for c in ("bpf", "perf_event_open", "pidfd_open", "pidfd_getfd") if c not in filt.split()]
    result(not off and not forbidden and not tracer,
           f"hardening: {len(hardening)} settings, syscall filter with the tracer's syscalls, nothing that hides /proc",
           f"differ {off}, forbidden {forbidden}, filter lacks {tracer}")

    sa = shutil.which("systemd-analyze")
    if not sa:
        skip("systemd-analyze verify", "systemd-analyze not installed (scripts/deps)")
        return
    env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"))
    p = run(sa, "verify", unit, env=env)
    out = (p.stdout + p.stderr).strip()
    result(p.returncode == 0 and not out, "systemd-analyze verify: the installed unit, without a word", out[:500])
    # A check that cannot fail is none: a broken copy must be reported.
    bad = os.path.join(tmp, "bad", "kvmscope-export.service")
    os.makedirs(os.path.dirname(bad))
    open(bad, "w").write(text.replace("ProtectSystem=strict", "ProtectSystem=stric")
                         .replace(f"{prefix}/bin/kvmscope", "/nonexistent/kvmscope"))
    p = run(sa, "verify", bad, env=env)
    out = (p.stdout + p.stderr)
    result(p.returncode != 0 and "protect system value" in out.lower() and "/nonexistent/kvmscope" in out, "systemd-analyze verify reports a broken copy",
           f"status {p.returncode}: {out[:300]}")
    p = run(sa, "security", "--offline=yes", unit, env=env)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+ \w+)", p.stdout + p.stderr)
    print(f"NOTE systemd-analyze security: exposure {m.group(1) if m else 'unknown'} (0 safest, 10 least safe)")


def promtool_checks(tmp):
    pt = shutil.which("promtool")
    if not pt:
        skip("promtool check rules / test rules", "promtool not installed (scripts/deps: prometheus)")
        return
    rules = os.path.join(DEPLOY, "prometheus", "kvmscope.rules.yml")
    p = run(pt, "check", "rules", rules)
    m = re.search(r"SUCCESS: (\d+) rules found", p.stdout)
    result(p.returncode == 0 and m and int(m.group(1)) >= 15, f"promtool check rules ({m.group(1) if m else 0} rules)",
           (p.stdout + p.stderr)[-300:])
    p = run(pt, "test", "rules", "kvmscope.rules.test.yml", cwd=os.path.join(DEPLOY, "prometheus"))
    result(p.returncode == 0 and "SUCCESS" in p.stdout, "promtool test rules: alerts fire and stay quiet as the tests expect",
           (p.stdout + p.stderr)[-800:])
    # The tests can fail: the same tests on rules with the sync threshold moved.
    mut = os.path.join(tmp, "mut")
    os.makedirs(mut)
    text = open(rules).read()
    moved = text.replace("> 0.1\n", "> 1\n")
    open(os.path.join(mut, "kvmscope.rules.yml"), "w").write(moved)
    shutil.copy(os.path.join(DEPLOY, "prometheus", "kvmscope.rules.test.yml"), mut)
    p = run(pt, "test", "rules", "kvmscope.rules.test.yml", cwd=mut)
    result(moved != text and p.returncode != 0 and "KvmVmDirtyLogSyncSlow" in p.stdout + p.stderr,
           "promtool test rules fails on rules with a threshold moved", (p.stdout + p.stderr)[-300:])
    # The scrape snippet, with the rules, as a whole configuration.
    conf = os.path.join(tmp, "prometheus.yml")
    open(conf, "w").write(f"rule_files: [ '{rules}' ]\n" + open(os.path.join(DEPLOY, "prometheus", "scrape.yml")).read())
    p = run(pt, "check", "config", conf)
    result(p.returncode == 0 and "job_name: kvmscope" in open(conf).read(),
           "promtool check config: scrape.yml with the rules", (p.stdout + p.stderr)[-300:])


def exporter_names():
    """Every metric name the exporter itself writes: its families in
    export_render.c with their sample suffixes, and the golden pages'."""
    src = open(os.path.join(ROOT, "tracer", "export", "export_render.c")).read()
    fams = set(re.findall(r'"((?:kvmscope|process)_[a-z0-9_]+)"', src))
    names = set()
    for f in fams:
        names |= {f, f + "_total", f + "_bucket", f + "_sum", f + "_count"}
    for g in ("export-stats.prom", "export-latency.prom"):
        for line in open(os.path.join(ROOT, "tests", "unit", "golden", g)):
            if line[0] != "#":
                names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names | {"up"}


NAME = re.compile(r"(?<![\w:.\"])((?:kvmscope|process)_[a-z0-9_]+|up)\b(?!\s*\()")


def unknown_names(exprs, known, records):
    out = []
    for e in exprs:
        for n in NAME.findall(e):
            # KVM's own stats (kvmscope_vm_*, kvmscope_vcpu_*) depend on the
            # kernel: the lab test runs those queries.
            if n not in known and n not in records and not re.match(r"kvmscope_(vm|vcpu)_", n):
                out.append(n)
    return out


def dashboard_checks(tmp):
    try:
        dash = dashboard.load()
    except (OSError, ValueError) as e:
        result(False, "deploy/grafana/kvmscope.json is JSON", str(e))
        return
    panels = list(dashboard.panels(dash))
    vars_ = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = vars_.get("datasource", {})
    result(ds.get("type") == "datasource" and ds.get("query") == "prometheus" and dash.get("uid") and
           dash.get("title") and isinstance(dash.get("schemaVersion"), int),
           "dashboard: title, uid, schemaVersion, a Prometheus ${datasource} variable", f"{ds}")
    ids = [p["id"] for p in panels]
    content = [p for p in panels if p["type"] != "row"]
    nods = [p["title"] for p in content
            if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"} or not p.get("targets") or
            any(t.get("datasource") != p["datasource"] or not t.get("expr") for t in p["targets"]) or
            len({t["refId"] for t in p["targets"]}) != len(p["targets"])]
    result(len(ids) == len(set(ids)) and len(content) >= 15 and not nods,
           f"dashboard: {len(content)} panels, unique ids, every target on ${{datasource}} with an expr and its own refId",
           f"ids {ids}, wrong: {nods}")
    cells, overlap = {}, []
    for p in panels:
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            overlap.append((p["title"], "outside the 24 columns"))
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    overlap.append((p["title"], cells[(x, y)]))
                cells[(x, y)] = p["title"]
    result(not overlap, "dashboard: panels within the grid, none overlapping", f"{sorted(set(overlap))[:5]}")
    used = set()
    for p in content:
        for t in p["targets"]:
            used |= set(m[0] or m[1] for m in re.findall(r"\$\{(\w+)\}|\$(\w+)", t["expr"]))
    undefined = used - set(vars_) - {"__rate_interval"}
    try:
        qs = dashboard.queries(dash)
        err = ""
    except ValueError as e:
        qs, err = [], str(e)
    result(not undefined and not err and len(qs) >= len(content),
           f"dashboard: every template variable used is defined ({' '.join(sorted(used))})", f"{undefined} {err}")

    known = exporter_names()
    rules = open(os.path.join(DEPLOY, "prometheus", "kvmscope.rules.yml")).read()
    records = set(re.findall(r"record: (\S+)", rules))
    rule_exprs = re.findall(r"expr: (?:>-\n)?((?:.+\n)(?:\s{10}.+\n)*)", rules)
    exprs = [q for _, q in qs]
    bad = unknown_names(exprs, known, records)
    result(exprs and not bad, f"dashboard: its {len(exprs)} queries name only metrics the exporter writes", f"{bad}")
    bad = unknown_names(rule_exprs, known, records)
    result(len(rule_exprs) >= 15 and not bad,
           f"rules: their {len(rule_exprs)} expressions name only metrics the exporter writes", f"{bad}")
    bad = unknown_names(["rate(kvmscope_dirty_page_total[1m])"], known, records)
    result(bad == ["kvmscope_dirty_page_total"], "a misspelt metric name is caught", f"{bad}")


def main():
    tmp = tempfile.mkdtemp()
    try:
        systemd_checks(tmp)
        promtool_checks(tmp)
        dashboard_checks(tmp)
    finally:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
