#!/usr/bin/env python3
"""Summarize a log of bench/lab/ioctlcost.sh (bench/run ioctlcost).

usage: bench/summarize-ioctlcost.py LOG [--markdown]

For every point (SLOT_MIB:VCPUS:SLOTS:MODE) and ioctl (enable, get, clear,
disable): the median of kvmload's own dur_ns over the calls its thread was
not preempted in (preempted 0), per configuration, and each configuration's
ratio to nothing attached (off). GET and CLEAR count from iteration 1: in
manual-init-set, iteration 0 reports and clears every page of every slot
(the initially-set bitmap), a different operation. Then how the time grows:
microseconds per GiB of slot (two points: 128 MiB and 16 GiB, 1 vCPU, 1
slot) and per vCPU (1 and 64 vCPUs, 1 GiB, 1 slot), KVM's own (off) beside
what each configuration adds; the KVM_RUN round trips per second of the
--io-exits guest; and the BPF programs' run time per point (progtime).
"""
import json
import statistics
import sys
from collections import defaultdict

OPS = [("enable_log", "enable"), ("get_dirty_log", "get"),
       ("clear_dirty_log", "clear"), ("disable_log", "disable")]


def parse(path):
    calls = defaultdict(list)      # (cfg, point, op) -> [dur_ns]
    preempted = defaultdict(int)   # (cfg, point, op) -> calls dropped
    rt = defaultdict(list)         # cfg -> [ns per round trip]
    prog = defaultdict(lambda: [0, 0])  # (cfg, point, name) -> [cnt, ns]
    progruns = defaultdict(set)
    failures, notes = [], []
    cfg = point = None
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.startswith("=== "):
            _, cfg, point, _rnd = line.split()[:4]
            continue
        if line.startswith("progtime "):
            _, c, p, name, cnt, ns = line.split()[:6]
            prog[(c, p, name)][0] += int(cnt)
            prog[(c, p, name)][1] += int(ns)
            continue
        if line.startswith("bench:") or line.startswith("migrate-records"):
            (failures if line.startswith("bench:") else notes).append(line)
            continue
        if not line.startswith("{") or cfg is None:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("type") == "dirty_log":
            op = r["op"]
            it = r.get("iteration")
            if it is not None and it < 1:
                continue
            key = (cfg, point, op)
            if r.get("preempted", 0):
                preempted[key] += 1
                continue
            calls[key].append(r["dur_ns"])
        elif r.get("type") == "vcpu" and point == "io" and r.get("phase") == "iteration":
            n = r.get("io_exits", 0)
            if n:
                rt[cfg].append(r["dur_ns"] / n)
    return calls, preempted, rt, prog, failures, notes


def med(v):
    return statistics.median(v) if v else None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    calls, preempted, rt, prog, failures, notes = parse(sys.argv[1])
    cfgs = []
    for (c, _, _) in calls:
        if c not in cfgs:
            cfgs.append(c)
    cfgs.sort(key=lambda c: (c != "off", c))
    points = []
    for (_, p, _) in calls:
        if p not in points:
            points.append(p)

    def pkey(p):
        sz, v, k, m = p.split(":")
        return (m, int(k), int(v), int(sz))
    points.sort(key=pkey)
    others = [c for c in cfgs if c != "off"]
    hdr = "| slot MiB | vCPUs | slots | mode | ioctl | n | off µs |" + "".join(
        f" {c} µs | ratio |" for c in others)
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    worst = defaultdict(float)
    for p in points:
        sz, v, k, m = p.split(":")
        for op, name in OPS:
            base = med(calls.get(("off", p, op), []))
            if base is None:
                continue
            n = len(calls[("off", p, op)])
            row = f"| {sz} | {v} | {k} | {m} | {name} | {n} | {base / 1e3:.1f} |"
            for c in others:
                x = med(calls.get((c, p, op), []))
                if x is None:
                    row += " - | - |"
                    continue
                ratio = x / base
                worst[(c, name)] = max(worst[(c, name)], ratio)
                row += f" {x / 1e3:.1f} | {ratio:.2f} |"
            print(row)
    print()
    print("worst ratio per ioctl: " + "; ".join(
        f"{c} {n} {r:.2f}" for (c, n), r in sorted(worst.items())))

    # Growth: two-point slopes.
    def slope(c, op, p0, p1, unit):
        a0 = med(calls.get((c, p0, op), []))
        a1 = med(calls.get((c, p1, op), []))
        b0 = med(calls.get(("off", p0, op), []))
        b1 = med(calls.get(("off", p1, op), []))
        if None in (a0, a1, b0, b1):
            return None
        kvm = (b1 - b0) / unit / 1e3
        added = ((a1 - b1) - (a0 - b0)) / unit / 1e3
        return kvm, added
    print()
    print("growth (µs per GiB of slot: 128 MiB -> 16 GiB, 1 vCPU, 1 slot; "
          "µs per vCPU: 1 -> 64 vCPUs, 1 GiB, 1 slot): KVM's own (off), and added by each configuration")
    for m in ("get", "mis"):
        for op, name in OPS[1:3]:
            if m == "get" and op == "clear_dirty_log":
                continue
            for c in others:
                g = slope(c, op, f"128:1:1:{m}", f"16384:1:1:{m}", (16384 - 128) / 1024)
                vv = slope(c, op, f"1024:1:1:{m}", f"1024:64:1:{m}", 63)
                gs = f"{g[0]:.1f} KVM, {g[1]:+.1f} {c}" if g else "-"
                vs = f"{vv[0]:.2f} KVM, {vv[1]:+.2f} {c}" if vv else "-"
                print(f"  {m:4} {name:5} per GiB: {gs:32} per vCPU: {vs}")

    if rt:
        print()
        print("KVM_RUN round trips to the VMM (--io-exits, 1 vCPU):")
        base = med(rt.get("off", []))
        for c in cfgs:
            x = med(rt[c])
            if x is None:
                continue
            s = f"  {c:11} {x / 1e3:7.2f} µs each, {1e9 / x:8.0f}/s"
            if base and c != "off":
                s += f", rate ratio {base / x:.3f}"
            print(s)
    if prog:
        print()
        print("BPF programs per point run (progtime: calls, µs in all, ns per call):")
        for (c, p, name), (cnt, ns) in sorted(prog.items()):
            if ns < 1000:
                continue
            print(f"  {c:10} {p:18} {name:16} {cnt:8} {ns / 1e3:10.1f} {ns / max(cnt, 1):9.0f}")
    dropped = sum(preempted.values())
    print()
    print(f"calls left out as preempted: {dropped}")
    for n in notes:
        print("  " + n)
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
