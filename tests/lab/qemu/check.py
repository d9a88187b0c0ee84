#!/usr/bin/env python3
"""kvmscope against QEMU's own numbers for one live migration in the lab.

Reads the console log of guest.sh: QEMU's QMP
answers (=== qmp: query-migrate, query-stats before and after kvmscope read
the stats), `kvmscope stats --json` at the same point (=== stats) and
`kvmscope migrate --json` over the whole run (=== migrate). One PASS/FAIL
line per check; the reasoning behind each criterion is next to it.

The guest (dirtier.c, here) fills FILL_MB once and then rewrites a
WORK_MB working set in a loop, so every dirty-log sync after the first must
find at least that many pages dirty.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from labcheck import exit_status, records, require, result, sections, ground  # noqa: E402

PAGE = 4096


def dirtier_const(name):
    """FILL_MB / WORK_MB as dirtier.c (beside this file) defines them."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dirtier.c")
    m = re.search(rf"#define {name} (\d+)", open(src).read())
    return int(m.group(1))


def section(secs, prefix):
    for name, lines in secs.items():
        if name.startswith(prefix):
            return name, lines
    return None, []


def qemu_stats(ret):
    """{name: value} of one query-stats answer, vCPUs summed; booleans as 0/1,
    histograms (lists) left out: kvmscope's debugfs view has none."""
    out = {}
    for target in ret:
        for s in target["stats"]:
            v = s["value"]
            if isinstance(v, list):
                continue
            out[s["name"]] = out.get(s["name"], 0) + int(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="qemu")
    ap.add_argument("log")
    a = ap.parse_args()
    L = a.label
    secs = sections(a.log)

    name, qlines = section(secs, "qmp exit=")
    if not require(name == "qmp exit=0", L, "QEMU migrated under the lab's KVM",
                   f"{name}: {' '.join(qlines[-3:])}"):
        return exit_status()
    for l in qlines:
        if l.startswith("NOTE "):
            print(l)  # a guest boot the driver retried
    qmp = [json.loads(l) for l in qlines if l.startswith('{"qmp"')]
    by = {}
    for r in qmp:
        by.setdefault(r["qmp"], []).append(r)
    mig = by["query-migrate"][-1]["return"]
    t_migrate = by["migrate"][0]["t_ns"]
    ram = mig["ram"]
    require(mig["status"] == "completed", L, "QEMU's migration completed", mig["status"])
    print(f"NOTE QEMU: total-time {mig['total-time']} ms, setup-time {mig['setup-time']} ms, "
          f"downtime {mig['downtime']} ms, dirty-sync-count {ram['dirty-sync-count']}, "
          f"pages sent {ram['duplicate'] + ram['normal']} (zero {ram['duplicate']}), "
          f"RAM {ram['total'] // PAGE} pages")

    name, mlines = section(secs, "migrate exit=")
    if name != "migrate exit=0":
        result(False, L, "kvmscope migrate ran", name or "no output")
        return exit_status()
    recs = records(mlines)
    # The QEMU that migrated (the driver may have booted the guest twice).
    qpid = by["qemu"][-1]["return"]["pid"]
    found = any(r["type"] == "vm" and r["pid"] == qpid for r in recs)
    result(found, L, "kvmscope migrate found QEMU", f"no vm record for PID {qpid}")
    if not found:
        qpid = None
    if qpid is None:
        return exit_status()
    mine = [r for r in recs if r.get("pid") == qpid]
    result(not any(v for s in recs if s["type"] == "summary" for v in s["lost"].values()),
           L, "kvmscope lost no events", "summary.lost not all 0")

    # --- kvmscope's own reference VMs. Both kvmscope processes read QEMU
    # through debugfs, so each made (and closed) a VM of its own for the
    # statistics' descriptors, `stats` while migrate traced: migrate must
    # report neither as a VM.
    name, _ = section(secs, "pids ")
    ids = dict(w.split("=", 1) for w in name.split()[1:]) if name else {}
    ours = {int(v) for v in ids.values()}
    vms = {r["pid"] for r in recs if r["type"] in ("vm", "interval", "vm_summary")}
    ground(len(ours) == 2 and not vms & ours, L,
           "no VM reported for a kvmscope process (migrate's own, or stats' reading alongside)",
           f"kvmscope pids {sorted(ours)}, VMs reported {sorted(vms)}")
    summ = [r for r in recs if r["type"] == "summary"]
    ground(summ and summ[0]["vms"] == len(vms), L,
           f"the summary counts the VMs reported ({len(vms)}), no other",
           f"summary vms {summ[0]['vms'] if summ else None}, reported {sorted(vms)}")

    # --- Faults: in every interval and dirty-log record, at least the
    # write-protect faults KVM fixed in its fast path (QEMU is read through
    # debugfs, one file per statistic, while its vCPUs run).
    pairs = [(r["type"], r["ts_ns"], r["faults"], r["wp_faults"]) for r in mine
             if r["type"] in ("interval", "dirty_log", "memslot")
             and r.get("faults") is not None and r.get("wp_faults") is not None
             and r["faults"] >= 0 and r["wp_faults"] >= 0]
    bad = [p for p in pairs if p[2] < p[3]]
    result(pairs and not bad, L, f"faults >= write-protect faults in each of {len(pairs)} records",
           f"(record, ts, faults, wp_faults): {bad[:3]}" if pairs else "no record with faults")

    # --- Dirty-log syncs. QEMU's dirty-sync-count counts its bitmap syncs
    # (setup, each time the pending estimate falls below the threshold, and
    # the final one with the guest stopped); each sync reads the dirty log of
    # every memslot with logging on, once. So each such slot must show
    # exactly that many KVM_GET_DIRTY_LOG iterations. Both address spaces
    # (q35 maps RAM in the SMM space too) are synced the same way.
    logged = {}
    for r in mine:
        if r["type"] == "memslot" and r["logging"] == "on" and r["ts_ns"] >= t_migrate:
            logged[(r["slot"], r["as_id"])] = r
    gets = [r for r in mine if r["type"] == "dirty_log" and r["op"] == "get"]
    iters = {}
    for g in gets:
        k = (g["slot"], g["as_id"])
        iters[k] = max(iters.get(k, 0), g["iteration"] + 1)
    n_sync = ram["dirty-sync-count"]
    result(len(logged) > 0, L, "dirty logging turned on during the migration",
           "no memslot record with logging on")
    bad = {f"{k[1]}:{k[0]}": iters.get(k, 0) for k in logged if iters.get(k, 0) != n_sync}
    ground(not bad and logged, L,
           f"sync iterations per logged slot = QEMU dirty-sync-count ({n_sync}, {len(logged)} slots)",
           f"as:slot -> iterations seen {bad}")

    # --- Setup. QEMU's setup-time (ms, rounded down) spans the migration
    # thread's setup: dirty logging turned on for every slot, then the first
    # sync. The span from the first logging-on memslot update to the end of
    # the last first-iteration get, and the sum of the enables' own
    # durations, are set next to it (timing figures: reported, not judged);
    # asserted: the enables came after QMP's migrate command was sent.
    if logged:
        first_on = min(r["ts_ns"] for r in logged.values())
        enable_ns = sum(r["dur_ns"] for r in logged.values())
        first_sync_end = max((g["ts_ns"] + g["dur_ns"] for g in gets
                              if g["iteration"] == 0 and (g["slot"], g["as_id"]) in logged), default=0)
        setup_ns = (mig["setup-time"] + 1) * 1_000_000
        span = first_sync_end - first_on
        print(f"NOTE dirty-log enable: {len(logged)} slots, {enable_ns / 1e6:.2f} ms in "
              f"KVM_SET_USER_MEMORY_REGION; enable to end of first sync {span / 1e6:.1f} ms; "
              f"QEMU setup-time {mig['setup-time']} ms")
        ground(first_on >= t_migrate, L, "dirty logging turned on after QMP migrate",
               f"{(t_migrate - first_on) / 1e6:.1f} ms before")
        print(f"NOTE enable + first sync {'within' if 0 < span <= setup_ns else 'NOT within'} "
              f"QEMU's setup-time; time enabling dirty logging "
              f"{'within' if 0 < enable_ns <= setup_ns else 'NOT within'} it")

    # --- Pages. QEMU's migration bitmap starts all set: its first pass sends
    # every page of RAM once (zero pages as "duplicate", the rest as
    # "normal"). Every page it sends again was set again by a sync, i.e.
    # reported dirty by KVM_GET_DIRTY_LOG after the first sync. So:
    #   sent - RAM pages <= sum of pages_dirty over gets of iteration >= 1.
    # With manual clearing (KVM_CLEAR_DIRTY_LOG, QEMU's default) a page not
    # yet cleared is reported again at the next sync, so the sum may exceed
    # the resends: an upper bound, not an equality.
    # The guest rewrites WORK_MB continuously: the first sync after setup
    # comes seconds into the first pass, so it must report at least the
    # working set (ground truth of the dirtier) -- and every logged slot
    # of address space 0 together is guest RAM, at most QEMU's RAM total.
    sent = ram["duplicate"] + ram["normal"]
    ram_pages = ram["total"] // ram["page-size"]
    later = sum(g["pages_dirty"] for g in gets if g["iteration"] >= 1 and g["pages_dirty"] >= 0)
    per_iter = {}
    for g in gets:
        if g["as_id"] == 0 and g["pages_dirty"] >= 0:
            per_iter[g["iteration"]] = per_iter.get(g["iteration"], 0) + g["pages_dirty"]
    work = dirtier_const("WORK_MB") << 20 >> 12
    fill = dirtier_const("FILL_MB") << 20 >> 12
    logged_pages = sum(r["npages"] for k, r in logged.items() if k[1] == 0)
    print(f"NOTE pages: QEMU sent {sent}, RAM {ram_pages}, resent {sent - ram_pages}; KVM "
          f"reported dirty per sync (address space 0) {[per_iter[i] for i in sorted(per_iter)]}; "
          f"logged slots {logged_pages} pages")
    ground(ram_pages <= sent <= ram_pages + later, L,
           "QEMU's resent pages <= dirty pages KVM reported after the first sync",
           f"sent {sent}, RAM {ram_pages}, dirty after first sync {later}")
    ground(per_iter.get(1, 0) >= work, L,
           f"first sync after setup reports the guest's working set (>= {work} pages)",
           f"{per_iter.get(1, 0)} pages")
    ground(fill < logged_pages <= ram_pages, L,
           "logged slots hold the guest's RAM (filled region < logged pages <= QEMU RAM)",
           f"logged {logged_pages}, filled {fill}, RAM {ram_pages}")
    result(ram["normal"] >= fill, L, "QEMU sent the guest's filled pages as data",
           f"normal {ram['normal']} < {fill}")

    # --- Statistics. After completion the guest is paused (postmigrate): the
    # statistics QEMU read before and after kvmscope's sample, and did not
    # change in between, were stable at the compare point: kvmscope's value
    # must equal QEMU's exactly. QEMU 7.2 holds no stats fd, so kvmscope reads
    # debugfs there: VM statistics, and vCPU statistics summed over vCPUs.
    name, slines = section(secs, "stats exit=")
    srecs = [r for r in records(slines) if r["type"] == "stats" and r["pid"] == qpid]
    result(name == "stats exit=0" and srecs, L, "kvmscope stats read QEMU's VM",
           f"{name}: {' '.join(slines[-2:])}")
    for target, want in (("vm", lambda r: "vcpu" not in r and "vcpus_summed" not in r),
                         ("vcpu", lambda r: "vcpu" in r or "vcpus_summed" in r)):
        answers = by.get(f"query-stats-{target}", [])
        if not require(len(answers) >= 3, L, f"QEMU query-stats {target} read around kvmscope's",
                       f"{len(answers)} answers"):
            continue
        before, after = qemu_stats(answers[-2]["return"]), qemu_stats(answers[-1]["return"])
        stable = {k: v for k, v in before.items() if after.get(k) == v}
        ks = {}
        for r in srecs:
            if want(r):
                for k, v in r["raw"].items():
                    ks[k] = ks.get(k, 0) + v
        common = [k for k in stable if k in ks]
        diff = {k: (stable[k], ks[k]) for k in common if stable[k] != ks[k]}
        missing = [k for k in stable if k not in ks]
        nonzero = sum(1 for k in common if stable[k])
        print(f"NOTE stats {target}: {len(before)} from QEMU, {len(stable)} stable, "
              f"{len(common)} compared ({nonzero} non-zero), {len(diff)} differ")
        ground(not missing, L, f"every stable QEMU {target} statistic is in kvmscope stats",
               f"missing {missing[:8]}")
        ground(common and nonzero and not diff, L,
               f"{target} statistics equal QEMU's ({len(common)} compared, {nonzero} non-zero)",
               f"QEMU vs kvmscope {dict(list(diff.items())[:8])}")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
