#!/usr/bin/env python3
"""Check a VMM with 256 memslots (guest.sh) against kvmload's ground truth.

Every one of kvmload's memslots must be in kvmscope's output: logging
turned on and off, and for each slot and iteration the dirty pages KVM
reported to kvmload (KVM_GET_DIRTY_LOG) and the pages kvmload cleared
(KVM_CLEAR_DIRTY_LOG), equal; `kvmscope rmap --once` must list them all
with the bytes of the formula (docs/rmap.md). A memslot kvmscope cannot
hold must show up as a reported drop (the summary's `lost`), never as a
silently missing slot.
"""
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, ground, records, require, result, rmap_bytes, sections  # noqa: E402


def section(sec, prefix):
    k = next((k for k in sec if k.startswith(prefix)), None)
    return (k, sec[k]) if k else (None, [])


def missing(want, got):
    """The keys of want that got lacks or holds with another value."""
    return sorted(k for k in want if got.get(k) != want[k])


def main():
    a = labcheck.args("lab")
    sec = sections(a.log)
    head, lines = section(sec, "kvmload exit=")
    truth = records(lines)
    start = next((r for r in truth if r["type"] == "start"), None)
    summ = next((r for r in truth if r["type"] == "summary"), None)
    if not require(head == "kvmload exit=0" and start and summ and summ.get("ok"), a.label,
                   "kvmload ran and its invariants held", (head, summ, lines[-3:])):
        return exit_status()
    pid = start["pid"]
    ids = sorted(s["id"] for s in start["slots"])
    require(len(ids) >= 200, a.label, "kvmload made 200 or more memslots", len(ids))

    h, l = section(sec, "migrate exit=")
    if require(h == "migrate exit=0", a.label, "migrate ran and ended on SIGINT", (h, l[-2:])):
        mig = records(l)
        label = f"{a.label}: {len(ids)} memslots"
        on = sorted(r["slot"] for r in mig if r["type"] == "memslot" and r["pid"] == pid
                    and r["logging"] == "on")
        off = sorted(r["slot"] for r in mig if r["type"] == "memslot" and r["pid"] == pid
                     and r["logging"] == "off")
        ground(on == ids and off == ids, label, "dirty logging seen turned on and off for every memslot",
               f"on for {len(on)}, off for {len(off)}; missing on: {sorted(set(ids) - set(on))[:8]}")
        t_get = {(r["slot"], r["iteration"]): r["pages_dirty"] for r in truth
                 if r.get("op") == "get_dirty_log"}
        m_get = {(r["slot"], r["iteration"]): r["pages_dirty"] for r in mig
                 if r["type"] == "dirty_log" and r.get("pid") == pid and r["op"] == "get"}
        bad = missing(t_get, m_get)
        ground(t_get and not bad, label,
               f"dirty pages of every memslot and iteration ({len(t_get)}) equal KVM's report to kvmload",
               f"{len(bad)} differ or missing, first (slot, iteration): {bad[:6]}")
        t_clr, m_clr = defaultdict(int), defaultdict(int)
        for r in truth:
            if r.get("op") == "clear_dirty_log":
                t_clr[(r["slot"], r["iteration"])] += r["pages_cleared"]
        for r in mig:
            if r["type"] == "dirty_log" and r.get("pid") == pid and r["op"] == "clear":
                m_clr[(r["slot"], r["iteration"])] += r["pages_cleared"]
        bad_c = missing(t_clr, m_clr)
        ground(t_clr and not bad_c, label,
               f"pages cleared of every memslot and iteration ({len(t_clr)}) equal kvmload's",
               f"{len(bad_c)} differ or missing, first: {bad_c[:6]}")
        fin = [r for r in mig if r["type"] == "summary"]
        lost = sum(fin[0]["lost"].values()) if fin and isinstance(fin[0].get("lost"), dict) else None
        absent = sorted({k[0] for k in t_get} - {k[0] for k in m_get})
        result(not absent or (lost or 0) > 0, label, "no memslot dropped silently",
               f"{len(absent)} memslots missing from the output (first {absent[:6]}), "
               f"summary reports {lost} events lost")

    h, l = section(sec, "rmap exit=")
    if require(h == "rmap exit=0", a.label, "rmap --once ran", (h, l[-2:])):
        recs = records(l)
        want = {s["id"]: rmap_bytes(s["gpa"] >> 12, s["npages"]) for s in start["slots"]}
        cs = start["code_slot"]
        want[cs["id"]] = rmap_bytes(cs["gpa"] >> 12, cs["bytes"] >> 12)
        got = {r["slot"]: r["bytes_avoided"] + r["bytes_allocated"] for r in recs
               if r["type"] == "rmap_slot" and r["pid"] == pid}
        bad = missing(want, got)
        ground(not bad, f"{a.label}: rmap", f"all {len(want)} memslots listed, rmap bytes equal the formula",
               f"{len(bad)} missing or different, first: {bad[:6]}")
        rs = [r for r in recs if r["type"] == "rmap_summary"]
        result(rs and rs[0]["lost"] == 0, f"{a.label}: rmap", "no memslots lost", rs)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
