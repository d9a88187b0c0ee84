#!/usr/bin/env python3
"""Check lazy rmap allocation at a VM's first shadow root (guest.sh).

kvmload --nested runs a nested guest with nested paging once; its
`nested` record gives the span of the KVM_RUN in which KVM shadowed the
guest's nested page table, i.e. allocated the VM's first shadow root and,
with it, the rmaps of every memslot. Against that ground truth:

- `kvmscope rmap --once` before (kvmload's hold): every memslot of the VM
  `never`, its bytes avoided equal to the formula (docs/rmap.md) computed
  here from kvmload's own memslots; after (its pause after iteration 0):
  every memslot allocated, the same bytes;
- `kvmscope rmap` live: one "rmaps allocated lazily" event per memslot,
  inside the nested run's span and after every memslot was created; each
  memslot `lazy` at the end with its bytes, time and duration;
- `kvmscope migrate`: one rmap_alloc record per memslot, inside that span,
  bytes equal to the formula, a duration field; and the dirty pages per
  slot and iteration, logged now with rmaps, equal to kvmload's;
- with --series (the kernel has the series): KVM's own account, its
  kvm_mmu_rmap_alloc tracepoint read through tracefs, gives per memslot
  reason shadow_root, the bytes, the time (monotonic clock): kvmscope's
  bytes must equal KVM's, KVM's the formula, KVM's time the span.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, ground, records, require, result, rmap_bytes, sections  # noqa: E402

# Preconditions and ground-truth comparisons: labcheck's, where it has them.

SVM_EXIT_VMMCALL = 0x81
TP_RE = re.compile(r"\s(\d+)\.(\d+): kvm_mmu_rmap_alloc: pid (\d+) as (\d+) slot (\d+) "
                   r"npages (\d+) bytes (\d+) reason (\w+) ret (-?\d+)")


def section(sec, prefix):
    """(header, lines) of the first section whose header starts with prefix."""
    k = next((k for k in sec if k.startswith(prefix)), None)
    return (k, sec[k]) if k else (None, [])


def kvm_trace(lines, pid):
    """KVM's kvm_mmu_rmap_alloc events of the VM: one dict per line."""
    out = []
    for l in lines:
        m = TP_RE.search(l)
        if m and int(m[3]) == pid:
            out.append({"ts_ns": int(m[1]) * 10**9 + int(m[2].ljust(9, "0")[:9]),
                        "us": len(m[2]) == 6, "as_id": int(m[4]), "slot": int(m[5]),
                        "npages": int(m[6]), "bytes": int(m[7]), "reason": m[8], "ret": int(m[9])})
    return out


def check_once(label, recs, pid, slots, allocated):
    """A `kvmscope rmap --once -p PID` snapshot: every memslot, its state and
    bytes, and the summary's totals."""
    got = {r["slot"]: r for r in recs if r["type"] == "rmap_slot" and r["pid"] == pid}
    ground(sorted(got) == sorted(slots), label, f"all {len(slots)} memslots of the VM reported",
           f"got {sorted(got)}, kvmload's {sorted(slots)}")
    bad = []
    for sid, want in slots.items():
        r = got.get(sid)
        if r is None:
            continue
        if allocated:
            ok = r["state"] == "before_start" and r["bytes_allocated"] == want and r["bytes_avoided"] == 0
        else:
            ok = r["state"] == "never" and r["bytes_avoided"] == want and r["bytes_allocated"] == 0
        if not ok:
            bad.append((sid, r["state"], r["bytes_allocated"], r["bytes_avoided"], want))
    total = sum(slots.values())
    what = "allocated (seen at start)" if allocated else "never allocated, avoided"
    ground(not bad, label, f"every memslot {what}: bytes equal the formula ({total} bytes)",
           f"(slot, state, allocated, avoided, formula): {bad}")
    summ = [r for r in recs if r["type"] == "rmap_summary"]
    want = (total, 0) if allocated else (0, total)
    got_t = (summ[0]["bytes_allocated"], summ[0]["bytes_avoided"]) if summ else None
    ground(got_t == want, label, f"summary: bytes allocated, avoided = {want}", got_t)


def in_span(ts, nested):
    return nested["ts_ns"] <= ts <= nested["end_ns"]


def check_live(label, recs, pid, slots, nested, series):
    """`kvmscope rmap` watching live from before the VM was made."""
    created = [r for r in recs if r["type"] == "rmap_event" and r["pid"] == pid
               and r["event"] == "memslot created"]
    lazy = [r for r in recs if r["type"] == "rmap_event" and r["pid"] == pid
            and r["event"] == "rmaps allocated lazily"]
    ground(sorted(r["slot"] for r in created) == sorted(slots), label,
           "every memslot seen created (without rmaps)", [r["slot"] for r in created])
    ground(sorted(r["slot"] for r in lazy) == sorted(slots), label,
           "one lazy rmap allocation per memslot", [r["slot"] for r in lazy])
    bad = [(r["slot"], r["bytes"], slots.get(r["slot"])) for r in lazy if r["bytes"] != slots.get(r["slot"])]
    ground(lazy and not bad, label, "lazy allocations: bytes equal the formula",
           f"(slot, bytes, formula): {bad}")
    out = [(r["slot"], r["ts_ns"]) for r in lazy if not in_span(r["ts_ns"], nested)]
    ground(lazy and not out, label,
           f"lazy allocations inside the nested run ({(nested['end_ns'] - nested['ts_ns']) / 1e6:.1f} ms)",
           f"span {nested['ts_ns']}..{nested['end_ns']}, outside: {out}")
    last_create = max((r["ts_ns"] for r in created), default=None)
    ground(lazy and last_create is not None and min(r["ts_ns"] for r in lazy) > last_create, label,
           "lazy allocations after every memslot was created",
           f"last created {last_create}, lazy {[r['ts_ns'] for r in lazy]}")
    result(lazy and all("dur_ns" in r for r in lazy), label, "lazy allocation events have a duration",
           lazy[:1])
    got = {r["slot"]: r for r in recs if r["type"] == "rmap_slot" and r["pid"] == pid}
    bad = []
    for sid, want in slots.items():
        r = got.get(sid)
        if not r or r["state"] != "lazy" or r["bytes_allocated"] != want or r["bytes_avoided"] \
                or "alloc_ns" not in r or not in_span(r.get("alloc_ts_ns", 0), nested):
            bad.append(r or sid)
    ground(not bad, label, "each memslot `lazy` at the end: bytes allocated equal the formula, "
           "allocation time inside the nested run, its duration present", bad[:3])
    summ = [r for r in recs if r["type"] == "rmap_summary"]
    result(summ and summ[0]["lost"] == 0, label, "no memslots lost", summ)


def check_migrate(label, recs, pid, slots, nested, truth, series):
    """`kvmscope migrate`: its rmap_alloc records, and the dirty log after."""
    ra = [r for r in recs if r["type"] == "rmap_alloc" and r["pid"] == pid]
    ground(sorted(r["slot"] for r in ra) == sorted(slots), label,
           "one rmap_alloc record per memslot", [(r["slot"], r["ts_ns"]) for r in ra])
    bad = [(r["slot"], r["bytes"], r["result"], slots.get(r["slot"])) for r in ra
           if r["bytes"] != slots.get(r["slot"]) or r["result"] != 0]
    ground(ra and not bad, label, "rmap_alloc bytes equal the formula, result 0",
           f"(slot, bytes, result, formula): {bad}")
    out = [(r["slot"], r["ts_ns"]) for r in ra if not in_span(r["ts_ns"], nested)]
    ground(ra and not out, label, "rmap_alloc inside the nested run, none at memslot creation",
           f"span {nested['ts_ns']}..{nested['end_ns']}, outside: {out}")
    # The fentry/fexit way times memslot_rmap_alloc; the series' tracepoint
    # fires once it is done (dur_ns 0).
    nodur = [r["slot"] for r in ra if "dur_ns" not in r or (not series and r["dur_ns"] <= 0)]
    result(ra and not nodur, label, "rmap_alloc records carry their duration"
           + ("" if series else " (> 0: fentry/fexit)"), nodur)
    t_get = {(r["slot"], r["iteration"]): r["pages_dirty"] for r in truth
             if r.get("op") == "get_dirty_log"}
    m_get = {(r["slot"], r["iteration"]): r["pages_dirty"] for r in recs
             if r["type"] == "dirty_log" and r.get("pid") == pid and r["op"] == "get"}
    ground(t_get and m_get == t_get, label,
           "with rmaps allocated: dirty pages per slot and iteration equal KVM's report to kvmload",
           f"tracer {sorted(m_get.items())} vs kvmload {sorted(t_get.items())}")
    return {r["slot"]: r for r in ra}


def check_kvm(label, kvm, slots, nested, live, mig):
    """KVM's own account through the series' tracepoint."""
    shadow = [e for e in kvm if e["reason"] == "shadow_root"]
    ground(sorted(e["slot"] for e in shadow) == sorted(slots) and len(kvm) == len(shadow), label,
           "KVM: rmaps allocated for every memslot at the first shadow root, none at memslot creation",
           [(e["slot"], e["reason"]) for e in kvm])
    bad = [(e["slot"], e["bytes"], slots.get(e["slot"]), e["ret"]) for e in shadow
           if e["bytes"] != slots.get(e["slot"]) or e["ret"] != 0]
    ground(shadow and not bad, label, "KVM's rmap bytes equal the formula (ret 0)",
           f"(slot, KVM's bytes, formula, ret): {bad}")
    # tracefs prints microseconds: allow the truncation.
    out = [(e["slot"], e["ts_ns"]) for e in shadow
           if not nested["ts_ns"] - 1000 <= e["ts_ns"] <= nested["end_ns"]]
    ground(shadow and not out, label, "KVM allocated them inside the nested run",
           f"span {nested['ts_ns']}..{nested['end_ns']}, KVM's: {out}")
    kb = {e["slot"]: e["bytes"] for e in shadow}
    mb = {s: r["bytes"] for s, r in mig.items()}
    lb = {r["slot"]: r["bytes"] for r in live}
    ground(kb and mb == kb, label, "kvmscope migrate's rmap_alloc bytes equal KVM's, per memslot",
           f"kvmscope {mb} vs KVM {kb}")
    ground(kb and lb == kb, label, "kvmscope rmap's lazy allocation bytes equal KVM's, per memslot",
           f"kvmscope {lb} vs KVM {kb}")


def main():
    a = labcheck.args("lab")
    sec = sections(a.log)
    head, lines = section(sec, "kvmload exit=")
    truth = records(lines)
    start = next((r for r in truth if r["type"] == "start"), None)
    nested = next((r for r in truth if r["type"] == "nested"), None)
    summ = next((r for r in truth if r["type"] == "summary"), None)
    if not require(head == "kvmload exit=0" and start and summ and summ.get("ok"), a.label,
                   "kvmload --nested ran and its invariants held", (head, summ, lines[-3:])):
        return exit_status()
    if not require(nested and nested["exit_code"] == SVM_EXIT_VMMCALL and nested["l2_marker"],
                   a.label, "the nested guest ran to its VMMCALL", nested):
        return exit_status()
    pid = start["pid"]
    slots = {s["id"]: rmap_bytes(s["gpa"] >> 12, s["npages"]) for s in start["slots"]}
    cs = start["code_slot"]
    slots[cs["id"]] = rmap_bytes(cs["gpa"] >> 12, cs["bytes"] >> 12)
    host, _ = section(sec, "host ")
    require(host and "tdp_mmu=Y" in host and "nested=1" in host, a.label,
            "the lab's KVM has the TDP MMU and nested SVM", host)

    for name, allocated in (("before", False), ("after", True)):
        h, l = section(sec, name + " exit=")
        if require(h == name + " exit=0", a.label, f"rmap --once {name} the nested run ran", (h, l[-2:])):
            check_once(f"{a.label}: {name} the nested run", records(l), pid, slots, allocated)

    h, l = section(sec, "live exit=")
    live = []
    if require(h == "live exit=0", a.label, "rmap live ran and ended on SIGINT", (h, l[-2:])):
        recs = records(l)
        live = [r for r in recs if r["type"] == "rmap_event" and r["pid"] == pid
                and r["event"] == "rmaps allocated lazily"]
        check_live(f"{a.label}: rmap live", recs, pid, slots, nested, a.series)

    h, l = section(sec, "migrate exit=")
    mig = {}
    if require(h == "migrate exit=0", a.label, "migrate ran and ended on SIGINT", (h, l[-2:])):
        mig = check_migrate(f"{a.label}: migrate", records(l), pid, slots, nested, truth, a.series)

    tp = "kvm tracepoint present" in sec
    if a.series:
        # The kernel has the series: its tracepoint must be there.
        result(tp, a.label, "KVM's kvm_mmu_rmap_alloc tracepoint present", sorted(sec)[:8])
        if tp:
            check_kvm(f"{a.label}: KVM's tracepoint", kvm_trace(sec.get("kvm trace", []), pid),
                      slots, nested, live, mig)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
