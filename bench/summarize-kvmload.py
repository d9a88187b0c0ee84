#!/usr/bin/env python3
"""Medians and ratios of kvmload's own ioctl timings, by configuration.

Input: logs in which "=== CONFIG MODE" lines head kvmload --json output
(bench/kernel-tracepoints writes them). Per configuration and mode, prints
the median of: enabling dirty logging (KVM_SET_USER_MEMORY_REGION with
KVM_MEM_LOG_DIRTY_PAGES), KVM_GET_DIRTY_LOG, and KVM_CLEAR_DIRTY_LOG of
iteration 0 (the initially-set bitmap: every page) and of later iterations;
then each configuration's medians over the baseline's ("stock" if present,
else the first configuration seen), the interquartile range as a share of
the median (the noise), and "on" over "off" (the tracepoints' own cost,
measured within the same boots) when both are present.
"""
import json
import statistics
import sys
from collections import defaultdict

# metric name -> predicate on a dirty_log record
METRICS = {
    "enable_ms": lambda r: r["op"] == "enable_log",
    "get_ms": lambda r: r["op"] == "get_dirty_log",
    "clear0_ms": lambda r: r["op"] == "clear_dirty_log" and r["iteration"] == 0,
    "clear_ms": lambda r: r["op"] == "clear_dirty_log" and (r["iteration"] or 0) > 0,
}


def iqr(v):
    """Interquartile range (0 for fewer than 2 samples)."""
    if len(v) < 2:
        return 0.0
    q = statistics.quantiles(v, n=4)
    return q[2] - q[0]


def parse(paths):
    samples = defaultdict(list)  # (config, mode, metric) -> [ms]
    runs = defaultdict(int)
    order = []
    for path in paths:
        cfg = mode = None
        for line in open(path, errors="replace"):
            line = line.strip()
            if line.startswith("=== FAILED"):
                sys.exit(f"summarize: a run failed in {path}: {line}")
            if line.startswith("=== "):
                cfg, mode = line[4:].split()[:2]
                if cfg not in order:
                    order.append(cfg)
                runs[(cfg, mode)] += 1
                continue
            if not line.startswith("{") or cfg is None:
                continue
            r = json.loads(line)
            if r.get("type") == "summary" and not r.get("ok"):
                sys.exit(f"summarize: kvmload failed in {path}: {r.get('error')}")
            if r.get("type") != "dirty_log":
                continue
            for name, pred in METRICS.items():
                if pred(r):
                    samples[(cfg, mode, name)].append(r["dur_ns"] / 1e6)
    return samples, runs, order


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: summarize-kvmload.py LOG...")
    samples, runs, order = parse(sys.argv[1:])
    if not samples:
        sys.exit("summarize: no kvmload records found")
    modes = sorted({k[1] for k in samples})
    if "stock" in order:
        order.remove("stock")
        order.insert(0, "stock")
    base = order[0]
    for mode in modes:
        print(f"\nmode {mode}: median ms (samples) per configuration; ratio to {base}")
        names = [n for n in METRICS if (base, mode, n) in samples]
        print(f"  {'config':8} {'runs':>4}  " + "  ".join(f"{n:>24}" for n in names))
        for cfg in order:
            cells = []
            for n in names:
                v = samples.get((cfg, mode, n))
                if not v:
                    cells.append(f"{'-':>18}")
                    continue
                m, b = statistics.median(v), statistics.median(samples[(base, mode, n)])
                cells.append(f"{m:9.3f} ({len(v):2d}) x{m / b:4.2f} ±{iqr(v) / m * 50:3.0f}%")
            print(f"  {cfg:8} {runs[(cfg, mode)]:>4}  " + "  ".join(cells))
        if ("on", mode, names[0]) in samples and ("off", mode, names[0]) in samples:
            print("  on/off   " + " " * 4 + "  " + "  ".join(
                f"{'x%.2f' % (statistics.median(samples[('on', mode, n)]) / statistics.median(samples[('off', mode, n)])):>24}"
                for n in names))


if __name__ == "__main__":
    main()
