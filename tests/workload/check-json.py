#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that a kvmload --json stream is well formed and self-consistent.

Usage: kvmload --json ... | check-json.py
Exits 0 if the stream is a complete successful run, 1 with one line per
problem otherwise.  The schema is described in docs/kvmload.md; this is the
executable form of its consistency rules, for tests and for tracer authors.
"""
import json
import sys

TYPES = {"start", "populate", "hold", "dirty_log", "vcpu", "slot",
         "iteration", "stats_read", "nested", "summary"}
OPS = {"enable_log", "get_dirty_log", "clear_dirty_log", "disable_log"}


def main():
    problems = []
    recs = []
    for n, line in enumerate(sys.stdin, 1):
        try:
            recs.append(json.loads(line))
        except ValueError as e:
            problems.append(f"line {n}: not JSON: {e}")
    if problems:
        return report(problems)
    if not recs:
        return report(["no records"])

    start, summary = recs[0], recs[-1]
    if start.get("type") != "start" or start.get("version") != 1:
        problems.append("first record is not a version 1 start record")
    if summary.get("type") != "summary":
        problems.append("last record is not a summary")
    for r in recs:
        if r.get("type") not in TYPES or not isinstance(r.get("ts_ns"), int):
            problems.append(f"bad record {r}")
    if problems:
        return report(problems)
    if not summary["ok"]:
        problems.append(f"run failed: {summary['error']}")

    ops = [r for r in recs if r["type"] == "dirty_log"]
    slots = [r for r in recs if r["type"] == "slot"]
    iters = [r for r in recs if r["type"] == "iteration"]
    vcpus = [r for r in recs if r["type"] == "vcpu" and r["phase"] == "iteration"]
    # Memslots are (address space, id): --smm-slots repeats the test slots'
    # ids in address space 1.
    def key(r):
        return (r.get("as_id", 0), r["slot"])
    slot_ids = sorted((s.get("as_id", 0), s["id"]) for s in start["slots"])
    n_iter = start["iterations"]
    init_set = start["mode"] == "manual-init-set"

    for o in ops:
        if o["op"] not in OPS or key(o) not in slot_ids or o["dur_ns"] < 0:
            problems.append(f"bad dirty_log record {o}")
    for op in ("enable_log", "disable_log"):
        if sorted(key(o) for o in ops if o["op"] == op) != slot_ids:
            problems.append(f"{op}: not exactly once per slot")
    gets = [o for o in ops if o["op"] == "get_dirty_log"]
    clears = [o for o in ops if o["op"] == "clear_dirty_log"]
    if len(gets) != len(slot_ids) * n_iter:
        problems.append("get_dirty_log: not once per slot and iteration")
    if start["mode"] == "get" and clears:
        problems.append("clear_dirty_log in get mode")
    for c in clears:
        if c["first_page"] % 64 or c["pages_cleared"] > c["num_pages"]:
            problems.append(f"misaligned or overfull clear {c}")

    nested = [r for r in recs if r["type"] == "nested"]
    if len(nested) != (1 if start.get("nested") else 0):
        problems.append("not one nested record with --nested, none without")
    for r in nested:
        if r["exit_code"] != 0x81 or not r["l2_marker"] or not r["ts_ns"] <= r["end_ns"]:
            problems.append(f"nested guest did not run to its VMMCALL: {r}")

    if len(slots) != len(slot_ids) * n_iter or len(iters) != n_iter:
        problems.append("missing slot or iteration records")
    if len(vcpus) != start["vcpus"] * n_iter:
        problems.append("missing vcpu records")
    for s in slots:
        if s["pages_missing"]:
            problems.append(f"slot {s['slot']} iteration {s['iteration']}: {s['pages_missing']} written pages not reported")
        allowed = init_set and s["iteration"] == 0
        if s["pages_unexpected"] and not allowed:
            problems.append(f"slot {s['slot']} iteration {s['iteration']}: {s['pages_unexpected']} unexpected dirty pages")
        if s["pages_dirty"] != s["pages_written"] + s["pages_unexpected"]:
            problems.append(f"slot {s['slot']} iteration {s['iteration']}: dirty != written + unexpected")
        if start["mode"] != "get" and s["pages_cleared"] != s["pages_dirty"]:
            problems.append(f"slot {s['slot']} iteration {s['iteration']}: cleared != dirty")
        get = [g for g in gets if key(g) == key(s) and g["iteration"] == s["iteration"]]
        if len(get) != 1 or get[0]["pages_dirty"] != s["pages_dirty"]:
            problems.append(f"slot {s['slot']} iteration {s['iteration']}: get record disagrees")
    for it in iters:
        w = sum(v["pages_written"] for v in vcpus if v["iteration"] == it["iteration"])
        if w != it["pages_written"]:
            problems.append(f"iteration {it['iteration']}: vCPUs wrote {w}, slots say {it['pages_written']}")
        wp = sum(s["pages_written_protected"] for s in slots if s["iteration"] == it["iteration"])
        if wp != it["pages_written_protected"] or wp > it["pages_written"]:
            problems.append(f"iteration {it['iteration']}: pages_written_protected {it['pages_written_protected']}, slots say {wp}")
        # Everything is protected from enable on, or from the first clear
        # on with initially-set; every later write hits a protected page.
        want = 0 if init_set and it["iteration"] == 0 else it["pages_written"]
        if it["pages_written_protected"] != want:
            problems.append(f"iteration {it['iteration']}: {it['pages_written_protected']} of {it['pages_written']} written pages were protected, want {want}")

    # --stats-reads N: header and descriptors of each fd once, then N data
    # reads of each fd after populate, each iteration and disabling logging.
    reads = [r for r in recs if r["type"] == "stats_read"]
    nfd = 1 + start["vcpus"]
    want = 2 * nfd + start["stats_reads"] * nfd * (n_iter + 2) if start["stats_reads"] else 0
    if len(reads) != want:
        problems.append(f"stats_read: {len(reads)} records, expected {want}")
    for r in reads:
        if r["ret"] != r["size"] or (r["fd"] == "vm" and r["part"] == "data" and "pages_4k" not in r):
            problems.append(f"bad stats_read record {r}")

    totals = {
        "stats_reads": len(reads),
        "stats_read_bytes": sum(r["ret"] for r in reads),
        "pages_written": sum(s["pages_written"] for s in slots),
        "pages_dirty": sum(g["pages_dirty"] for g in gets),
        "pages_cleared": sum(c["pages_cleared"] for c in clears),
        "get_dirty_log_calls": len(gets),
        "clear_dirty_log_calls": len(clears),
        "get_dirty_log_ns": sum(g["dur_ns"] for g in gets),
        "clear_dirty_log_ns": sum(c["dur_ns"] for c in clears),
        "vcpu_run_ns": sum(v["run_ns"] for v in vcpus),
    }
    for k, v in totals.items():
        if summary[k] != v:
            problems.append(f"summary {k} = {summary[k]}, records add up to {v}")
    ts = [r["ts_ns"] for r in recs]
    if min(ts) < start["ts_ns"] or max(ts) > summary["ts_ns"]:
        problems.append("timestamps outside the run")
    return report(problems)


def report(problems):
    for p in problems:
        print(f"check-json: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
