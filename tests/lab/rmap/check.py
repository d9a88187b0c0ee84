#!/usr/bin/env python3
"""Check `kvmscope rmap --json` against kvmload's memslots (guest.sh).

Every memslot kvmload created must be reported with the bytes the formula
gives for its gfn range (docs/rmap.md), computed here independently from
kvmload's own start record; with the TDP MMU as avoided, with shadow paging
(--shadow) as allocated at creation. Both for a VM found at start (the
memslot iterator) and for one created while watching (live events).
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, ground, records, require, result, rmap_bytes, sections  # noqa: E402

# A line of the series' rmap tracepoints in tracefs (kernel/patches/0003).
TP = re.compile(r"kvm_mmu_rmap_(alloc|skip): pid (\d+) as (\d+) slot (\d+) npages (\d+) "
                r"bytes (\d+) reason (\S+) ret (-?\d+)")


def kvm_figures(lines):
    """{(event, pid, slot): bytes} from KVM's own tracepoints."""
    out = {}
    for line in lines:
        m = TP.search(line)
        if m and m.group(8) == "0":  # ret: the allocation succeeded
            out[(m.group(1), int(m.group(2)), int(m.group(4)))] = int(m.group(6))
    return out


def check_kvm(label, recs, truth, shadow, kvm):
    """kvmscope's bytes per memslot against KVM's own (the series'
    tracepoints: bytes allocated with shadow paging, bytes skipped with the
    TDP MMU), slot by slot."""
    pid, slots = expected_slots(truth)
    got = {r["slot"]: r for r in recs if r["type"] == "rmap_slot" and r["pid"] == pid}
    event = "alloc" if shadow else "skip"
    field = "bytes_allocated" if shadow else "bytes_avoided"
    pairs = [(sid, got.get(sid, {}).get(field), kvm.get((event, pid, sid))) for sid, _, _ in slots]
    require(all(k is not None for _, _, k in pairs), label,
            f"KVM's kvm_mmu_rmap_{event} seen for every memslot", pairs)
    bad = [p for p in pairs if p[1] != p[2]]
    ground(not bad, label, f"{field} equal KVM's own kvm_mmu_rmap_{event} bytes for each of "
           f"{len(pairs)} memslots ({sum(k or 0 for _, _, k in pairs)} bytes)",
           f"(slot, kvmscope, KVM): {bad}")

def expected_slots(truth):
    start = next(r for r in truth if r["type"] == "start")
    slots = [(s["id"], s["gpa"] >> 12, s["npages"]) for s in start["slots"]]
    cs = start["code_slot"]
    slots.append((cs["id"], cs["gpa"] >> 12, cs["bytes"] >> 12))
    return start["pid"], slots


def check(label, recs, truth, shadow):
    pid, slots = expected_slots(truth)
    got = {r["slot"]: r for r in recs if r["type"] == "rmap_slot" and r["pid"] == pid}
    result(sorted(got) == sorted(s[0] for s in slots), label,
           f"all {len(slots)} memslots of the VM reported", f"got {sorted(got)}")
    bad = []
    for sid, gfn, npages in slots:
        r = got.get(sid)
        want = rmap_bytes(gfn, npages)
        if r is None:
            continue
        if shadow:
            ok = r["state"] in ("at_create", "before_start") and r["bytes_allocated"] == want \
                and r["bytes_avoided"] == 0
        else:
            ok = r["state"] == "never" and r["bytes_avoided"] == want and r["bytes_allocated"] == 0
        if not ok:
            bad.append((sid, r["state"], r["bytes_allocated"], r["bytes_avoided"], want))
    what = "allocated" if shadow else "avoided"
    total = sum(rmap_bytes(g, n) for _, g, n in slots)
    result(not bad, label, f"bytes {what} equal the formula for each slot ({total} bytes)",
           f"(slot, state, allocated, avoided, formula): {bad}")


def main():
    a = labcheck.args("lab", ("--shadow", "the lab ran with shadow paging (kvm_amd.npt=0)"))
    sec = {k: records(v) for k, v in sections(a.log).items()}
    once = next((k for k in sec if k.startswith("once")), None)
    live = next((k for k in sec if k.startswith("live")), None)
    result(once == "once exit=0", a.label, "rmap --once ran", once)
    result(live == "live exit=0", a.label, "rmap live ran", live)
    for name, k in (("existing VM", "kvmload k1"), ("VM created while watching", "kvmload k2")):
        ok = any(r["type"] == "start" for r in sec.get(k, []))
        require(ok, a.label, f"{name}: kvmload ran", "no start record")
    if once and any(r["type"] == "start" for r in sec.get("kvmload k1", [])):
        check(f"{a.label}: existing VM", sec[once], sec["kvmload k1"], a.shadow)
    if live and any(r["type"] == "start" for r in sec.get("kvmload k2", [])):
        check(f"{a.label}: VM created while watching", sec[live], sec["kvmload k2"], a.shadow)
        summ = [r for r in sec[live] if r["type"] == "rmap_summary"]
        result(summ and summ[0]["lost"] == 0, a.label, "no memslots lost", summ)
    # The series kernel gives KVM's own figure: it must be there, and equal.
    raw = sections(a.log).get("kvm rmap tracepoints")
    if a.series and require(raw is not None, a.label, "KVM's rmap tracepoints were read",
                            "no 'kvm rmap tracepoints' section"):
        kvm = kvm_figures(raw)
        for name, k, t in (("existing VM", once, "kvmload k1"),
                           ("VM created while watching", live, "kvmload k2")):
            if k and any(r["type"] == "start" for r in sec.get(t, [])):
                check_kvm(f"{a.label}: {name}", sec[k], sec[t], a.shadow, kvm)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
