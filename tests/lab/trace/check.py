#!/usr/bin/env python3
"""Check `kvmscope migrate --trace` against the same run's JSON lines.

Input: the console log of guest.sh: sections "=== kvmload
NAME exit=N" (kvmload's ground truth), "=== migrate exit=N" (the tracer's
JSON lines), "=== interrupted kvmload pid=N" (a VM still logging when the
tracer got SIGINT), "=== full disk exit=N" (a run whose trace file filled
its disk) and "=== trace bytes=N" (the trace, gzip + base64).

Structure: valid JSON in the object form, the fields each phase needs,
names for every process and track, timestamps non-decreasing per track,
slices on a track nested (never partly overlapping), async spans balanced.
Content: every dirty-log ioctl, memslot logging change, eager write
protect and interval count in the JSON lines is in the trace with the same
instant, duration and numbers, and nothing else is; the per-vCPU fault
counters add up to the pf_taken delta the JSON lines compared; kvmload's
own record of its gets matches the slices. Prints PASS/FAIL lines.
"""
import argparse
import base64
import gzip
import json
import os
import re
import sys
from collections import defaultdict
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from labcheck import exit_status, records, require, result, sections, ground  # noqa: E402

PHASES = set("XbeCM")


def ns(us):
    """A trace timestamp (us, exact decimal) as integer ns."""
    return int(Decimal(us) * 1000)


def structure(label, events):
    """Per-phase fields, naming, per-track order, nesting, balance."""
    bad = []
    for i, e in enumerate(events):
        ph = e.get("ph")
        if ph not in PHASES or not isinstance(e.get("name"), str) or not isinstance(e.get("pid"), int):
            bad.append((i, "ph/name/pid", e))
        elif ph != "M" and not isinstance(e.get("ts"), Decimal):
            bad.append((i, "ts", e))
        elif ph == "X" and (not isinstance(e.get("dur"), Decimal) or e["dur"] < 0 or "tid" not in e):
            bad.append((i, "dur/tid", e))
        elif ph == "C" and (not isinstance(e.get("args"), dict) or not e["args"] or
                            not all(isinstance(v, (int, Decimal)) for v in e["args"].values())):
            bad.append((i, "counter args", e))
        elif ph in "be" and not (e.get("id") and e.get("cat")):
            bad.append((i, "async id/cat", e))
        elif ph == "M" and not isinstance(e.get("args"), dict):
            bad.append((i, "metadata args", e))
    result(not bad, label, f"all {len(events)} events have the fields their phase needs", bad[:3])

    named_p = {e["pid"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    named_t = {(e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e["name"] == "thread_name"}
    pids = {e["pid"] for e in events if e.get("ph") != "M"}
    tracks = {(e["pid"], e["tid"]) for e in events if e.get("ph") in "Xbe" and "tid" in e}
    result(pids <= named_p and tracks <= named_t, label,
           f"{len(pids)} processes and {len(tracks)} tracks all named",
           f"unnamed: {sorted(pids - named_p)} {sorted(tracks - named_t)}")

    def key(e):
        if e["ph"] == "X":
            return ("X", e["pid"], e["tid"])
        if e["ph"] == "C":
            return ("C", e["pid"], e["name"])
        return ("async", e["pid"], e["cat"], e["id"])
    last, back = {}, []
    for e in events:
        if e.get("ph") == "M":
            continue
        k = key(e)
        if k in last and e["ts"] < last[k]:
            back.append((k, last[k], e["ts"]))
        last[k] = e["ts"]
    result(not back, label, f"timestamps non-decreasing on each of {len(last)} tracks", back[:3])

    # Slices of one track: nested or disjoint, as the viewers draw them.
    partial = []
    by_track = defaultdict(list)
    for e in events:
        if e.get("ph") == "X":
            by_track[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"], e["name"]))
    for k, sl in by_track.items():
        stack = []
        for s, t, n in sorted(sl, key=lambda x: (x[0], -x[1])):
            while stack and stack[-1][1] <= s:
                stack.pop()
            if stack and t > stack[-1][1]:
                partial.append((k, stack[-1][2], n))
            stack.append((s, t, n))
    result(not partial, label, "slices on each track nest or follow each other", partial[:3])

    open_, unbalanced = defaultdict(int), []
    for e in events:
        if e.get("ph") in "be":
            k = (e["pid"], e["cat"], e["id"], e["name"])
            open_[k] += 1 if e["ph"] == "b" else -1
            if open_[k] not in (0, 1):
                unbalanced.append(k)
    unbalanced += [k for k, v in open_.items() if v]
    result(not unbalanced, label, f"{len(open_)} async spans balanced (b/e)", unbalanced[:3])


def content(label, events, mig, runs, interrupted):
    def slices(prefix):
        return [e for e in events if e.get("ph") == "X" and e["name"].startswith(prefix)]

    # Every get/clear, both ways.
    def levels(v):
        return None if v is None else (v["4k"], v["2m"], v["1g"])
    want = {(r["pid"], r["op"], r["slot"], r["iteration"], r["ts_ns"], r["dur_ns"],
             r.get("pages_dirty", r.get("pages_cleared")), levels(r["wp_calls"]), levels(r["wp_changed"]),
             r["wp_faults"])
            for r in mig if r["type"] == "dirty_log"}
    got = {(e["pid"], e["args"]["op"], e["args"]["slot"], e["args"]["iteration"], ns(e["ts"]),
            ns(e["dur"]), e["args"].get("pages_dirty", e["args"].get("pages_cleared")),
            levels(e["args"]["wp_calls"]), levels(e["args"]["wp_changed"]), e["args"]["wp_faults"])
           for e in slices("KVM_")}
    result(want == got and want, label,
           f"{len(got)} get/clear slices equal the JSON lines (instant, duration, slot, iteration, "
           f"pages, write protect by min_level, write-protect faults)",
           f"only in JSON lines {sorted(want - got)[:2]}, only in trace {sorted(got - want)[:2]}")

    # Memslot ioctls that turned logging on/off, and the spans they open and close.
    mem = [r for r in mig if r["type"] == "memslot" and r["logging"] in ("on", "off")]
    want = {(r["pid"], r["slot"], r["logging"], r["ts_ns"], r["dur_ns"], r["wp_faults"]) for r in mem}
    got = {(e["pid"], e["args"]["slot"], e["args"]["logging"], ns(e["ts"]), ns(e["dur"]),
            e["args"]["wp_faults"]) for e in slices("memslot ioctl")}
    result(want == got and want, label, f"{len(got)} logging on/off memslot ioctl slices equal the JSON lines",
           f"only in JSON lines {sorted(want - got)[:2]}, only in trace {sorted(got - want)[:2]}")
    spans_want = []
    opened = {}
    for r in mem:
        k = (r["pid"], r["slot"])
        if r["logging"] == "on":
            opened[k] = r["ts_ns"]
        elif k in opened:
            spans_want.append((r["pid"], r["slot"], opened.pop(k), r["ts_ns"] + r["dur_ns"], "logging off"))
    begins = {}
    spans_got, still_open = [], []
    for e in events:
        if e.get("ph") == "b":
            begins[(e["pid"], e["id"])] = e
        elif e.get("ph") == "e":
            b = begins.pop((e["pid"], e["id"]), None)
            if b is None:
                continue  # unbalanced: reported by the structure checks
            span = (e["pid"], b["args"]["slot"], ns(b["ts"]), ns(e["ts"]), e["args"]["ended_by"])
            (spans_got if span[4] == "logging off" else still_open).append(span)
    result(sorted(spans_want) == sorted(spans_got) and spans_want, label,
           f"{len(spans_got)} dirty-logging spans from logging on to logging off, as in the JSON lines",
           f"want {sorted(spans_want)[:2]} got {sorted(spans_got)[:2]}")
    result(interrupted is not None and
           sorted((p, s) for (p, s) in opened) == sorted((p, s) for p, s, *_ in still_open) and
           all(p == interrupted and why == "end of trace" for p, _, _, _, why in still_open) and
           still_open, label,
           f"SIGINT while VM {interrupted} was logging: its {len(still_open)} span(s) end with the trace",
           f"open in JSON lines {sorted(opened)}, ended otherwise in trace {still_open}")

    want = {(r["pid"], r["slot"], r["ts_ns"], r["dur_ns"]) for r in mig if r["type"] == "slot_write_protect"}
    got = {(e["pid"], e["args"]["slot"], ns(e["ts"]), ns(e["dur"])) for e in slices("write-protect slot")}
    result(want == got, label, f"{len(got)} eager whole-slot write-protect slices equal the JSON lines",
           f"only in JSON lines {sorted(want - got)[:2]}, only in trace {sorted(got - want)[:2]}")

    # Interval counters: stamped at the interval's start.
    counters = {(e["pid"], e["name"], ns(e["ts"])): e["args"] for e in events if e.get("ph") == "C"}
    wrong, n = [], 0
    for r in mig:
        if r["type"] != "interval":
            continue
        start = r["ts_ns"] - r["interval_ns"]
        checks = [("faults", {"all": r["faults"]}), ("write faults", {"write": r["write_faults"]}),
                  ("write-protect faults", {"wp": r["wp_faults"]}),
                  ("write-protect calls by min_level", r["wp_calls"]), ("huge pages split", {k: r["splits"][k] for k in ("2m", "1g")}),
                  ("remote TLB flushes", {"flushes": r["tlb_flushes"]}), ("syncs", {"get": r["syncs"]})]
        for name, vals in checks:
            n += 1
            got = counters.get((r["pid"], name, start))
            # A null in the JSON lines (not known: write faults without the
            # fault program, faults of a VM without stats) has no counter.
            if None in vals.values():
                vals = None
            if got != vals:
                wrong.append((r["pid"], name, start, vals, got))
        # Per vCPU: the interval's faults and write-protect faults.
        for v in r["vcpu_faults"] or []:
            n += 2
            for name, key in ((f"vCPU {v['vcpu']} faults", "faults"),
                              (f"vCPU {v['vcpu']} write-protect faults", "wp_faults")):
                got = counters.get((r["pid"], name, start))
                if got != {key: v[key]}:
                    wrong.append((r["pid"], name, start, v[key], got))
    result(n and not wrong, label, f"{n} interval counter values equal the JSON lines' intervals",
           wrong[:3])

    # Binary stats as counters: present for VMs with stats, cumulative ones never fall.
    with_stats = {r["pid"] for r in mig if r["type"] == "vm" and r.get("stats")}
    series = defaultdict(list)
    for e in events:
        if e.get("ph") == "C" and e["name"].startswith(("stat ", "vcpu stat ")):
            series[(e["pid"], e["name"])].append(e["args"]["value"])
    have = {p for p, _ in series}
    falling = [k for k, v in series.items() if k[1] in ("vcpu stat pf_taken (sum)", "vcpu stat exits (sum)")
               and any(b < a for a, b in zip(v, v[1:]))]
    result(with_stats and with_stats <= have and not falling, label,
           f"binary stats as {len(series)} counter tracks for the {len(with_stats)} VMs with stats",
           f"VMs with stats {with_stats}, with stats counters {have}, falling {falling[:2]}")

    # Ground truth: what kvmload itself saw of its gets.
    for name, truth in runs:
        start = [r for r in truth if r.get("type") == "start"]
        if not require(start, label, f"kvmload {name} ran", "no start record"):
            continue
        pid = start[0]["pid"]
        t_get = {(r["slot"], r["iteration"]): r for r in truth if r.get("op") == "get_dirty_log"}
        m_get = {(e["args"]["slot"], e["args"]["iteration"]): e for e in slices("KVM_GET_DIRTY_LOG")
                 if e["pid"] == pid}
        same = set(t_get) == set(m_get) and all(
            m_get[k]["args"]["pages_dirty"] == t_get[k]["pages_dirty"] and
            t_get[k]["ts_ns"] <= ns(m_get[k]["ts"]) and
            ns(m_get[k]["ts"]) + ns(m_get[k]["dur"]) <= t_get[k]["ts_ns"] + t_get[k]["dur_ns"]
            for k in t_get)
        ground(t_get and same, label,
               f"kvmload {name}: its {len(t_get)} gets are slices with its dirty pages, inside its own timing",
               f"kvmload {sorted(t_get)} trace {sorted(m_get)}")
        # Under the TDP MMU, write protection by min_level happens only
        # inside gets and clears: the slices' counts add up to the VM's.
        vs = [r for r in mig if r["type"] == "vm_summary" and r["pid"] == pid]
        per = [e["args"]["wp_calls"] for e in slices("KVM_") if e["pid"] == pid]
        if vs and per and all(p is not None for p in per):
            sums = {l: sum(p[l] for p in per) for l in ("4k", "2m", "1g")}
            result(sums == vs[0]["wp_calls"], label,
                   f"kvmload {name}: write protect by min_level per get/clear sums to the VM's {sums}",
                   f"VM total {vs[0]['wp_calls']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="trace")
    ap.add_argument("--save", help="write the decoded trace here")
    ap.add_argument("log")
    a = ap.parse_args()
    sec = sections(a.log)
    mig_head = [h for h in sec if h.startswith("migrate exit=")]
    trace_head = [h for h in sec if h.startswith("trace bytes=")]
    if not require(mig_head and trace_head, a.label, "migrate output and trace present",
                   f"sections: {list(sec)[:8]}"):
        return exit_status()
    result(mig_head[0] == "migrate exit=0", a.label, "migrate with --trace ended cleanly on SIGINT",
           mig_head[0] + " " + " ".join(sec.get("migrate stderr", [])[:2]))
    mig = records(sec[mig_head[0]])
    try:
        raw = gzip.decompress(base64.b64decode("".join(sec[trace_head[0]])))
    except (ValueError, OSError) as e:
        require(False, a.label, "trace transferred", str(e))
        return exit_status()
    size = int(trace_head[0].split("=")[1])
    require(len(raw) == size, a.label, f"trace transferred whole ({size} bytes)", f"{len(raw)} bytes")
    if a.save:
        with open(a.save, "wb") as f:
            f.write(raw)
    try:
        doc = json.loads(raw, parse_float=Decimal)
    except ValueError as e:
        result(False, a.label, "trace is valid JSON after SIGINT", str(e))
        return exit_status()
    ok = isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list) and doc.get("displayTimeUnit") == "ns"
    result(ok, a.label, "trace is valid JSON in the object form with displayTimeUnit ns", str(doc)[:200])
    if not ok:
        return exit_status()
    events = doc["traceEvents"]
    structure(a.label, events)
    runs = []
    for h, lines in sec.items():
        m = re.match(r"kvmload (.*) exit=(\d+)$", h)
        if m:
            require(m.group(2) == "0", a.label, f"kvmload {m.group(1)} ran", lines[-2:])
            runs.append((m.group(1), records(lines)))
    intr = [h for h in sec if h.startswith("interrupted kvmload pid=")]
    interrupted = int(intr[0].split("=")[1]) if intr else None
    content(a.label, events, mig, runs, interrupted)
    full = [h for h in sec if h.startswith("full disk exit=")]
    err = [l for l in sec.get(full[0], []) if l.strip()] if full else []
    result(full and full[0] == "full disk exit=1" and len(err) == 1 and
           "--trace /tmp/small/t.json: write failed: No space left on device" in err[0], a.label,
           "a trace file filling its disk mid-run: one line on stderr, exit status 1",
           f"{full[:1]} stderr {err[:3]}")
    kinds = defaultdict(int)
    for e in events:
        kinds[e.get("ph")] += 1
    print(f"NOTE {a.label}: {len(events)} events ({dict(kinds)}), {size} bytes")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
