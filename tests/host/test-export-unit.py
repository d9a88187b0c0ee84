#!/usr/bin/env python3
"""kvmscope export within the limits of its systemd unit
(deploy/kvmscope-export.service), on this machine: started with only the
unit's capabilities (its CapabilityBoundingSet, via setpriv) and
no_new_privs, under strace. It must serve pages (text, gzip, OpenMetrics)
and end with 0 on SIGTERM, and every system call it made must pass the
unit's SystemCallFilter (expanded by `systemd-analyze syscall-filter`),
every socket be of an address family in RestrictAddressFamilies. This
machine's kernel may refuse the BPF programs (then export serves the
binary stats alone): the BPF calls are in the filter by name, and the lab
tests them under the same capabilities (docs/reliability.md, Privileges)."""
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KVMSCOPE = os.environ.get("KVMSCOPE_BIN", os.path.join(ROOT, "build", "bin", "kvmscope"))
UNIT = os.path.join(ROOT, "deploy", "kvmscope-export.service")
failed = 0


def result(ok, what, detail=""):
    global failed
    print(f"PASS {what}" if ok else f"FAIL {what}: {detail}")
    failed += 0 if ok else 1


def settings():
    out = {}
    for line in open(UNIT):
        line = line.strip()
        if line and line[0] not in "#;[":
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def groups():
    """{@group: [members]} from systemd-analyze syscall-filter."""
    out, cur = {}, None
    text = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True).stdout
    for line in text.splitlines():
        if line.startswith("@"):
            cur = line.split()[0]
            out[cur] = []
        elif cur and line.strip() and not line.strip().startswith("#"):
            out[cur].append(line.strip())
    return out


def expand(names, g):
    r = set()
    for n in names:
        r |= expand(g.get(n, []), g) if n.startswith("@") else {n}
    return r


def fetch(url, headers):
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        if r.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return r.headers.get("Content-Type", ""), body.decode()


def main():
    missing = [t for t in ("strace", "setpriv", "systemd-analyze") if not shutil.which(t)]
    if missing or os.geteuid() != 0:
        print(f"SKIP export under its unit's limits: needs root and {' '.join(missing) or 'nothing more'} (scripts/deps)")
        return 0
    s = settings()
    caps = " ".join(s["CapabilityBoundingSet"]).split()
    g = groups()
    allow, deny = set(), set()
    for f in s["SystemCallFilter"]:
        if f.startswith("~"):
            deny |= expand(f[1:].split(), g)
        else:
            allow |= expand(f.split(), g)
    families = set(" ".join(s["RestrictAddressFamilies"]).split())
    result(len(allow) > 300 and {"bpf", "pidfd_getfd", "perf_event_open"} <= allow - deny and "mount" in deny,
           f"the unit's syscall filter expands to {len(allow - deny)} calls, the tracer's among them",
           f"{len(allow)} allowed, {len(deny)} denied")

    tmp = tempfile.mkdtemp()
    log = os.path.join(tmp, "strace")
    bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    cmd = ["strace", "-f", "-qq", "-o", log, "setpriv", "--no-new-privs", f"--bounding-set={bounding}",
           f"--inh-caps={bounding}", "--", KVMSCOPE, "export", "--listen", "127.0.0.1:0", "-i", "100ms"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.time() + 30
        while time.time() < deadline and "serving" not in line:
            line = p.stdout.readline()
            if not line and p.poll() is not None:
                break
        m = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", line)
        result(m is not None, "export starts with the unit's capabilities and no_new_privs",
               f"{line!r} (status {p.poll()})")
        if m:
            url = f"http://{m.group(1)}/metrics"
            pages = []
            time.sleep(0.5)
            for h in ({}, {"Accept-Encoding": "gzip"},
                      {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"}):
                try:
                    pages.append(fetch(url, h))
                except OSError as e:
                    pages.append(("", str(e)))
            ok = all(re.search(r"^kvmscope_export_collections_total [1-9]", b, re.M) for _, b in pages[:2])
            om = "openmetrics" in pages[2][0] and pages[2][1].rstrip().endswith("# EOF")
            result(ok and om, "it serves pages: text, gzip and OpenMetrics",
                   f"{[(c, b[:80]) for c, b in pages]}")
    finally:
        # SIGTERM to kvmscope itself (setpriv exec'd it: strace's child);
        # strace then exits with its status.
        kids = []
        if p.poll() is None:
            for t in os.listdir(f"/proc/{p.pid}/task"):
                with open(f"/proc/{p.pid}/task/{t}/children") as f:
                    kids += [int(k) for k in f.read().split()]
            for k in kids:
                os.kill(k, signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=15)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            for k in kids:
                os.kill(k, signal.SIGKILL)
            p.kill()
            _, err = p.communicate()
            rc = "timeout"
    result(rc == 0, "SIGTERM ends it with status 0", f"status {rc}: {err[-300:]}")

    calls, sockets = set(), set()
    exe = False
    for l in open(log):
        m = re.match(r"^\d+\s+([a-z_0-9]+)\((.*)", l)
        if not m:
            continue
        name, args = m.group(1), m.group(2)
        # strace runs setpriv, setpriv execs kvmscope: count from that exec.
        if name == "execve" and KVMSCOPE in args:
            exe = True
            continue
        if not exe:
            continue
        calls.add(name)
        if name == "socket":
            sockets.add(args.split(",")[0])
    shutil.rmtree(tmp)
    refused = sorted(c for c in calls if c not in allow or c in deny)
    result(exe and len(calls) > 20 and not refused,
           f"every system call it made ({len(calls)} kinds) passes the unit's SystemCallFilter", f"refused: {refused}")
    # The calls the unit adds to @system-service by name: those made here
    # would have been refused without them (a check that can fail).
    named = calls - expand(["@system-service"], g)
    print(f"NOTE calls outside @system-service, allowed by name: {' '.join(sorted(named)) or 'none'}")
    result(sockets and sockets <= families, f"its sockets' address families ({' '.join(sorted(sockets))}) are in RestrictAddressFamilies",
           f"{sockets} vs {families}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
