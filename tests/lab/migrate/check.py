#!/usr/bin/env python3
"""Compare `kvmscope migrate --json` with kvmload's ground truth.

Input: the console log of guest.sh, made of sections
"=== kvmload NAME exit=N" (kvmload's JSON lines) and "=== migrate exit=N"
(the tracer's). Every number checked here is one the workload measured
itself or one KVM reported to it; nothing is a constant from an earlier run.
Prints one PASS/FAIL line per check; exits 1 on any failure. With
--series (the lab kernel has the KVM series) the series' fields must be
there.
"""
import json
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, require, result, ground  # noqa: E402

# The lab kernel has the KVM series (--series): its fields must be there.
SERIES = False

# The bound on an ioctl's duration: max(10%, this) of kvmload's.
IOCTL_GAP_NS = 100_000
# Ioctls of the whole session, and those compared with the bound above.
IOCTLS = {"all": 0, "compared": 0, "far": [], "before": [], "after": []}


def parse_sections(path):
    """Returns [(header, [json objects], [other lines])]."""
    sections, cur = [], None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("=== "):
                cur = (line[4:], [], [])
                sections.append(cur)
                continue
            if cur is None:
                continue
            if line.startswith("{"):
                try:
                    cur[1].append(json.loads(line))
                    continue
                except json.JSONDecodeError as e:
                    cur[2].append(f"bad JSON ({e}): {line[:120]}")
                    continue
            if line.strip():
                cur[2].append(line)
    return sections


def by_type(records, t, pid=None):
    return [r for r in records if r.get("type") == t and (pid is None or r.get("pid") == pid)]


def sk(r, field="slot"):
    """A memslot's key, (address space, id): kvmload --smm-slots repeats
    the test slots' ids in address space 1, as QEMU does."""
    return (r.get("as_id", 0), r[field])


# What migrate reports from the kernel's VM counters: null for a VM whose
# counters found the VM table full (--max-vms), never a 0 that reads as
# measured. Interval records carry them all; vm_summary all but the
# per-interval ones.
COUNTER_FIELDS = ("wp_calls", "wp_changed", "splits", "faults", "write_faults", "wp_faults",
                  "fault_ns", "tlb_flushes", "map_gpa_range_hypercalls", "map_gpa_range_pages",
                  "migration_control_writes", "vcpu_faults")
INTERVAL_ONLY = ("fault_lat_log2_ns", "vcpu_time_lost_pct", "stats_reads", "stats_read_bytes")


# Without the fault program the faults are KVM's own statistics, read
# from the stats fds: no kernel table of kvmscope's holds them, so a VM
# not tracked still has them.
STATS_FAULT_FIELDS = ("faults", "wp_faults", "vcpu_faults")


def fault_source(mig):
    att = by_type(mig, "attached")
    return att[0].get("fault_source") if att else None


def check_untracked(label, pid, mig, vs):
    """A VM that did not fit: its summary and every interval from the one
    that first said so have null counters and no agreement with the stats."""
    ivs = by_type(mig, "interval", pid)
    first = next((i for i, r in enumerate(ivs) if r.get("vm_table_full")), len(ivs))
    after = ivs[first:]
    fields = COUNTER_FIELDS
    if fault_source(mig) == "kvm_vcpu_stat":
        fields = tuple(k for k in COUNTER_FIELDS if k not in STATS_FAULT_FIELDS)
    bad = [(r["ts_ns"], k) for r in after for k in fields + INTERVAL_ONLY
           if r.get(k, "missing") is not None] + \
          [(r["ts_ns"], "agreement") for r in after if r["agreement"]]
    bad += [("vm_summary", k) for k in fields + ("guest_overhead_pct",)
            if vs.get(k, "missing") is not None]
    result(after and not bad, label,
           f"not tracked: counters null in its summary and its last {len(after)} intervals",
           bad[:4] if after else "no interval says vm_table_full")


def check_exit(label, pid, mig):
    # kvmload closes its VM fd before it exits: a scan in between sees the
    # VM "closed", otherwise the VMM's pidfd reports it "exited". Either,
    # exactly once.
    gone = [r["event"] for r in by_type(mig, "vm", pid) if r["event"] in ("exited", "closed")]
    result(len(gone) == 1, label, "VM exit seen and released",
           f"{len(gone)} exit records: {gone}")


def quiet_windows_busy(truth, margin_ns=5_000_000):
    """kvmload's busy windows (ts, end) in CLOCK_MONOTONIC ns: its phases
    with vCPUs running or an ioctl of its own under way (populate, each
    iteration, each dirty-log ioctl), and from its last such phase to its
    summary (logging disabled, VM torn down). A boundary outside all of them
    can have no page-size update in flight. Widened by margin_ns, the
    span of one sample of the tracer."""
    spans = [(r["ts_ns"], r["ts_ns"] + r["dur_ns"]) for r in truth
             if r["type"] in ("populate", "iteration", "dirty_log") and r.get("dur_ns") is not None]
    summ = by_type(truth, "summary")
    if spans and summ:
        spans.append((max(b for _, b in spans), summ[0]["ts_ns"]))
    return [(a - margin_ns, b + margin_ns) for a, b in spans]


def kvmload_pf(truth):
    """kvmload's own reads of its vCPUs' pf_fast and pf_taken (vCPUs
    stopped): {(phase, iteration): {vcpu: (pf_fast, pf_taken)}}, the last
    read of each vCPU in each phase."""
    out = defaultdict(dict)
    for r in truth:
        if r.get("type") == "stats_read" and r.get("fd") == "vcpu" and r.get("part") == "data" \
                and "pf_fast" in r:
            out[(r["phase"], r.get("iteration"))][r["vcpu"]] = (r["pf_fast"], r["pf_taken"])
    return out


def check_kvm_stat_faults(label, truth, mig, pid, vs):
    """Default mode (no program on the fault path): the write-protect faults
    and faults of each dirty-log iteration are KVM's pf_fast and pf_taken
    summed over the vCPUs, read from kernel memory at the iteration's
    ioctls; kvmload reads the same counters through its stats fds right
    after each iteration (vCPUs stopped in between): the two must be equal,
    exactly. Per vCPU and per VM the tracer sums its own stats samples."""
    reads = kvmload_pf(truth)
    nv = by_type(truth, "start")[0]["vcpus"]
    # Iteration i: from the read after populating (logging was enabled
    # after it, vCPUs stopped) or after iteration i - 1, to the read after i.
    sums = {k: (sum(v[0] for v in r.values()), sum(v[1] for v in r.values()))
            for k, r in reads.items() if len(r) == nv}
    want = {}
    prev = sums.get(("populate", None))
    for it in sorted(i for p, i in sums if p == "iteration"):
        cur = sums[("iteration", it)]
        if prev is not None:
            want[it] = (cur[0] - prev[0], cur[1] - prev[1])
        prev = cur
    got = defaultdict(lambda: [0, 0])
    unknown = []
    for r in by_type(mig, "dirty_log", pid):
        if r["wp_faults"] < 0 or r["faults"] < 0:
            unknown.append((r["op"], r["slot"], r["iteration"]))
        got[r["iteration"]][0] += r["wp_faults"]
        got[r["iteration"]][1] += r["faults"]
    bad = [(it, tuple(got[it]), w) for it, w in sorted(want.items()) if tuple(got[it]) != w]
    ground(want and not bad and not unknown, label,
           f"write-protect faults and faults per iteration equal kvmload's own pf_fast and pf_taken "
           f"deltas, exactly ({', '.join(f'{w[0]}/{w[1]}' for _, w in sorted(want.items()))})",
           f"(iteration, tracer, kvmload): {bad[:3]}; unknown in {unknown[:3]}" if want
           else f"no kvmload stats reads to compare ({sorted(reads)[:4]})")
    # How that compares with the pages written while protected: equal where
    # KVM fixes every write-protect fault in its fast path (4K mappings);
    # fewer where some went through its slow path (huge pages).
    pw = {r["iteration"]: r["pages_written_protected"] for r in by_type(truth, "iteration")}
    print(f"NOTE {label}: pf_fast per iteration {[got[i][0] for i in sorted(pw)]}, "
          f"pages written while protected {[pw[i] for i in sorted(pw)]}")
    # The VM's totals and its vCPUs': KVM's counts in the tracer's last
    # stats sample (at the VM's exit), all of them since the tracer saw the
    # VM created, against kvmload's last read. Through the stats fds, per
    # vCPU and exactly; a VM that exits before the tracer switches from
    # debugfs to its stats fds (at a full scan, once a second) has no
    # per-vCPU figures and its last debugfs read may be older than its
    # exit: at most kvmload's then.
    last = reads.get(("disable", None), {})
    src = [r.get("stats_source") for r in by_type(mig, "vm", pid) if r.get("stats")]
    per_vcpu = {v["vcpu"]: (v["faults"], v["wp_faults"]) for v in vs["vcpu_faults"] or []}
    kl = {v: (p[1], p[0]) for v, p in last.items()}
    klsum = (sum(v[0] for v in kl.values()), sum(v[1] for v in kl.values()))
    if src[-1:] == ["fd"]:
        ground(last and per_vcpu == kl and
               sum(v[1] for v in per_vcpu.values()) == vs["wp_faults"] and
               sum(v[0] for v in per_vcpu.values()) == vs["faults"], label,
               f"faults and write-protect faults per vCPU ({per_vcpu}) equal kvmload's last pf_taken "
               f"and pf_fast and add up to the VM's (stats read through {src})",
               f"VM {vs['faults']}/{vs['wp_faults']}, per vCPU {per_vcpu}, kvmload {kl}")
    else:
        ground(last and not per_vcpu and vs["faults"] <= klsum[0] and vs["wp_faults"] <= klsum[1],
               label, f"stats read through {src} only: no per-vCPU faults, the VM's "
               f"({vs['faults']}/{vs['wp_faults']}) at most kvmload's last pf_taken/pf_fast {klsum}",
               f"per vCPU {per_vcpu}, kvmload {kl}")
    ivs = by_type(mig, "interval", pid)
    iv_wp = sum(r["wp_faults"] for r in ivs if r["wp_faults"] is not None)
    nulls = [r["ts_ns"] for r in ivs if r["write_faults"] is not None]
    cmp = [a["events"] for r in ivs for a in r["agreement"] if a["events"] in ("faults", "wp_faults")]
    result(iv_wp == vs["wp_faults"] and vs["write_faults"] is None and not nulls and not cmp, label,
           f"intervals' write-protect faults add up to the VM's ({iv_wp}); write faults null "
           f"(not counted without the fault program); faults not compared with themselves",
           f"intervals {iv_wp} vs VM {vs['wp_faults']}; write_faults in {nulls[:2]}; compared {cmp[:2]}")


def check_syncs(label, truth, mig, pid, mode):
    """Dirty logging turned on and off per slot, every KVM_GET_DIRTY_LOG by
    address space, slot and iteration with the pages it reported dirty and,
    in the manual modes, the pages KVM_CLEAR_DIRTY_LOG re-protected: the
    tracer's against kvmload's own records, exactly."""
    memslot = by_type(mig, "memslot", pid)
    on = sorted(sk(r) for r in memslot if r["logging"] == "on")
    off = sorted(sk(r) for r in memslot if r["logging"] == "off")
    t_on = sorted(sk(r) for r in truth if r.get("op") == "enable_log")
    t_off = sorted(sk(r) for r in truth if r.get("op") == "disable_log")
    ground(on == t_on and off == t_off, label, f"logging on/off seen for (as, slot) {t_on}",
           f"tracer on {on} off {off}, kvmload on {t_on} off {t_off}")

    # Every sync: count, dirty pages per slot and iteration.
    t_get = {(sk(r), r["iteration"]): r for r in truth if r.get("op") == "get_dirty_log"}
    m_get = {(sk(r), r["iteration"]): r for r in by_type(mig, "dirty_log", pid) if r["op"] == "get"}
    ground(set(t_get) == set(m_get), label,
           f"{len(t_get)} KVM_GET_DIRTY_LOG calls, by address space, slot and iteration",
           f"tracer {sorted(m_get)} vs kvmload {sorted(t_get)}")
    bad = [(k, m_get[k]["pages_dirty"], t_get[k]["pages_dirty"]) for k in t_get
           if k in m_get and m_get[k]["pages_dirty"] != t_get[k]["pages_dirty"]]
    ground(not bad, label, "dirty pages per slot and iteration equal KVM's report to kvmload",
           f"((as, slot), iteration, tracer, kvmload): {bad[:4]}")
    if mode != "get":
        t_clear = defaultdict(int)
        for r in truth:
            if r.get("op") == "clear_dirty_log":
                t_clear[(sk(r), r["iteration"])] += r["pages_cleared"]
        m_clear = defaultdict(int)
        for r in by_type(mig, "dirty_log", pid):
            if r["op"] == "clear":
                m_clear[(sk(r), r["iteration"])] += r["pages_cleared"]
        ground(dict(t_clear) == dict(m_clear), label,
               "pages re-protected by KVM_CLEAR_DIRTY_LOG per slot and iteration",
               f"tracer {dict(m_clear)} vs kvmload {dict(t_clear)}")


def ioctl_timing(truth, mig, pid):
    """Each dirty-log and logging on/off ioctl of kvmload matched with the
    tracer's record of it. The traced duration is the whole ioctl system
    call in the kernel; kvmload's adds the syscall instruction and its two
    clock reads (a few us): each must lie inside kvmload's, and be within
    max(10%, 100 us) of it unless kvmload's thread was preempted during the
    call outside the system call (kvmload counts its involuntary context
    switches across the call, kvmscope those inside the system call): its
    figure then includes waiting for a CPU, which no timing of the ioctl can
    see. Preempted inside, both figures include the wait. Returns matched
    and total counts, the sorted gaps (kvmload's duration minus the
    tracer's), those outside kvmload's span, those beyond the bound
    (key, kvmload ns, traced ns, before ns, after ns), how many were not
    compared, and the gap's two parts: from kvmload's clock read to the
    system call's entry, and from its exit to kvmload's second read."""
    t_all = {(r["op"], sk(r), r.get("iteration")): r for r in truth if r.get("type") == "dirty_log"}
    names = {"get": "get_dirty_log", "clear": "clear_dirty_log"}
    m_all = {(names[r["op"]], sk(r), r["iteration"]): r for r in by_type(mig, "dirty_log", pid)}
    for r in by_type(mig, "memslot", pid):
        if r["logging"] in ("on", "off"):
            m_all[("enable_log" if r["logging"] == "on" else "disable_log", sk(r), None)] = r
    out = {"total": len(t_all), "matched": 0, "gaps": [], "outside": [], "far": [], "preempted": 0,
           "before": [], "after": []}
    for k, t in t_all.items():
        if k not in m_all:
            continue
        m = m_all[k]
        out["matched"] += 1
        out["gaps"].append(t["dur_ns"] - m["dur_ns"])
        if not (t["ts_ns"] <= m["ts_ns"] and m["ts_ns"] + m["dur_ns"] <= t["ts_ns"] + t["dur_ns"]):
            out["outside"].append((k, t["ts_ns"], t["dur_ns"], m["ts_ns"], m["dur_ns"]))
        if t["preempted"] - m.get("preempted", 0) > 0:
            out["preempted"] += 1
            continue
        before = m["ts_ns"] - t["ts_ns"]
        after = t["ts_ns"] + t["dur_ns"] - m["ts_ns"] - m["dur_ns"]
        out["before"].append(before)
        out["after"].append(after)
        if t["dur_ns"] - m["dur_ns"] > max(0.1 * t["dur_ns"], IOCTL_GAP_NS):
            out["far"].append((k, t["dur_ns"], m["dur_ns"], before, after))
    out["gaps"].sort()
    return out


def check_run(label, truth, mig, mode, backing, counters=True, latency=False, program=False):
    """Every check of one kvmload run against its ground truth. With
    counters False (the VM did not fit in the kernel's VM table), the
    checks of what the events say, and that its counters are null."""
    start = by_type(truth, "start")[0]
    pid = start["pid"]
    summary = by_type(truth, "summary")
    slot_ids = {sk(s, "id") for s in start["slots"]}

    require(summary and summary[0]["ok"], label, "kvmload ran and its invariants held",
            summary[0] if summary else "no summary")

    check_syncs(label, truth, mig, pid, mode)
    # The lab pins the tracer to another CPU so that it preempts kvmload
    # rarely. The duration bound is reported over the session (main), not
    # asserted: the whole lab CPU stalls now and then for milliseconds,
    # unseen by the guest; docs/overhead.md ("Why the bound is not asserted
    # in the lab"). The host tier asserts it where KVM runs natively
    # (tests/host/test-migrate-native.py).
    t = ioctl_timing(truth, mig, pid)
    ground(t["matched"] == t["total"] and not t["outside"], label,
           f"{t['matched']} ioctls traced, each inside kvmload's timing of it",
           f"matched {t['matched']}/{t['total']}, outside: {t['outside'][:3]}")
    gaps = t["gaps"]
    if gaps:
        print(f"NOTE {label}: ioctl duration gap to kvmload's: median {gaps[len(gaps) // 2] / 1e3:.1f} us, "
              f"max {gaps[-1] / 1e3:.1f} us; {len(t['far'])} beyond max(10%, 100 us); "
              f"{t['preempted']} of {len(gaps)} not compared (kvmload preempted outside the system call)")
    IOCTLS["before"] += t["before"]
    IOCTLS["after"] += t["after"]
    IOCTLS["compared"] += len(gaps) - t["preempted"]
    IOCTLS["all"] += len(gaps)
    IOCTLS["far"] += [(label.split(": ", 1)[-1],) + f for f in t["far"]]

    # KVM's decision at enable: eager whole-slot write protect, or lazy.
    eager = by_type(mig, "slot_write_protect", pid)
    eager_slots = sorted(sk(r) for r in eager)
    if mode == "manual-init-set":
        result(not eager, label, "initially-set: no whole-slot write protect at enable",
               f"saw it for slots {eager_slots}")
    else:
        result(eager_slots == sorted(slot_ids), label,
               "eager whole-slot write protect at enable, once per slot",
               f"slots {eager_slots}, want {sorted(slot_ids)}")

    vs = by_type(mig, "vm_summary", pid)
    if not require(len(vs) == 1, label, "one VM summary", f"{len(vs)}") and not vs:
        return
    vs = vs[0]
    result(vs.get("vm_table_full") is (not counters), label,
           f"counters {'tracked' if counters else 'not tracked'} (vm_table_full "
           f"{str(not counters).lower()})", f"vm_table_full: {vs.get('vm_table_full')}")
    if not counters:
        check_untracked(label, pid, mig, vs)
        check_exit(label, pid, mig)
        return
    # Series kernels report KVM's decision itself: it must match the mode.
    decided = {sk(sl): sl["kvm_decision"] for sl in vs["slots"] if "kvm_decision" in sl}
    if decided or SERIES:
        want = "lazy" if mode == "manual-init-set" else "eager"
        result(all(decided.get(i) == want for i in slot_ids), label,
               f"KVM's own decision at enable is {want} for every slot", str(decided))
    # Under the TDP MMU write protection by min_level happens only inside
    # gets and clears: their per-ioctl counts add up to the VM's total.
    per = [r["wp_calls"] for r in by_type(mig, "dirty_log", pid)]
    if per and all(p is not None for p in per):
        sums = {l: sum(p[l] for p in per) for l in ("4k", "2m", "1g")}
        result(sums == vs["wp_calls"], label,
               f"write protect by min_level per get/clear sums to the VM's total {sums}",
               f"VM total {vs['wp_calls']}")
    wp2m = vs["wp_calls"]["2m"]
    if mode == "manual-init-set":
        result(wp2m > 0, label, f"initially-set: write protect at 2M on clear ({wp2m} calls)",
               "none seen")
    else:
        result(wp2m == 0, label, "no write protect by 2M min_level outside initially-set",
               f"{wp2m} calls")

    # Which fault source the session used: asserted once per session
    # (check_session); here the run's precondition.
    program = program or latency
    check_session(label, mig, program, latency, check=require)
    if not program:
        check_kvm_stat_faults(label, truth, mig, pid, vs)
    else:
        check_program_faults(label, truth, mig, pid, vs, mode)
    check_latency(label, mig, vs, latency)
    check_run_rest(label, truth, mig, pid, start, vs, mode)


def check_program_faults(label, truth, mig, pid, vs, mode):
    """With the fault program: its write-protect faults against the pages
    kvmload wrote while protected, per iteration and per vCPU."""
    # Guest side: each page written while write-protected costs one
    # write-protect fault, counted per dirty-log iteration (the faults
    # between the previous dirty-log event and each sync).
    wp = defaultdict(int)
    for r in by_type(mig, "dirty_log", pid):
        wp[r["iteration"]] += r["wp_faults"] if r["wp_faults"] >= 0 else -10**12
    errs = []
    for r in by_type(truth, "iteration"):
        want, got = r["pages_written_protected"], wp[r["iteration"]]
        errs.append((abs(got - want) / want if want else (0 if got == 0 else 1), r["iteration"], got, want))
    worst = max(errs) if errs else None
    ground(errs and worst[0] <= 0.01, label,
           f"write-protect faults per iteration within 1% of the pages written while protected "
           f"(worst {worst[0] * 100:.2f}%)" if errs else "write-protect faults per iteration",
           f"(error, iteration, faults, pages): {sorted(errs, reverse=True)[:3]}")

    # Per vCPU: the VM's write-protect faults split by vCPU, each within 1%
    # of the pages that vCPU wrote while they were protected.
    per_vcpu = {v["vcpu"]: v["wp_faults"] for v in vs["vcpu_faults"]}
    want = defaultdict(int)
    for r in by_type(truth, "vcpu"):
        if r["phase"] == "iteration" and not (mode == "manual-init-set" and r["iteration"] == 0):
            want[r["vcpu"]] += r["pages_written"]
    off = [(v, per_vcpu.get(v), n) for v, n in sorted(want.items())
           if abs(per_vcpu.get(v, 0) - n) > 0.01 * n]
    ground(sum(per_vcpu.values()) == vs["wp_faults"] and not off, label,
           f"write-protect faults per vCPU ({per_vcpu}) add up to the VM's and match each vCPU's protected writes",
           f"VM {vs['wp_faults']}, per vCPU {per_vcpu}; (vcpu, faults, pages): {off}")
    # KVM fixes a write-protect fault in its fast path (pf_fast) when the
    # mapping is already 4K; one that must split a huge page first, or that
    # finds the SPTE being changed, takes the slow path and is counted in
    # pf_taken only (seen on hugetlb with manual clears: 256 of 442 in one
    # interval). So over the compared intervals the traced write-protect
    # faults lie between pf_fast and pf_fast plus the slow-path faults
    # (pf_taken - pf_fast) of the same intervals, within 1%: the read skew
    # between the two sides cancels out in the sums.
    wpc, slow = [], 0
    for r in by_type(mig, "interval", pid):
        ag = {a["events"]: a for a in r["agreement"] if "stat_delta" in a}
        if "wp_faults" in ag:
            wpc.append(ag["wp_faults"])
            if "faults" in ag:
                slow += max(ag["faults"]["stat_delta"] - ag["wp_faults"]["stat_delta"], 0)
    seen, stat = sum(a["seen"] for a in wpc), sum(a["stat_delta"] for a in wpc)
    tol = 0.01 * max(seen, 1)
    ground(wpc and stat - tol <= seen <= stat + slow + tol, label,
           f"write-protect faults agree with the stats fd's pf_fast ({seen} vs {stat}, at most "
           f"{slow} more through KVM's slow path, over {len(wpc)} intervals)",
           f"{seen} traced vs pf_fast {stat} + slow path {slow}" if wpc else "nothing compared")
    if wpc and seen > stat + tol:
        print(f"NOTE {label}: {seen - stat} write-protect faults took KVM's slow path")


def check_session(label, mig, program, latency, check=None):
    """What a session's `attached` record says of faults: from KVM's own
    per-vCPU stats (the default) or a program on the fault path, and fault
    latency measured in the --fault-latency session (when the kernel lets
    kvm_mmu_page_fault be traced) only; and what it says of the host's
    dirty logging. Two checks per session; each run of the session has them
    as preconditions (check=require)."""
    check = check or result
    att = by_type(mig, "attached")[0]
    program = program or latency
    want_src = ("fault_program", "kvm_mmu_page_fault" if latency else "kvm_page_fault") if program \
        else ("kvm_vcpu_stat", "kvm_vcpu_stat")
    check((att.get("fault_source"), att["hooks"]["faults"]) == want_src, label,
          f"faults from {want_src[0]} through {want_src[1]}",
          f"attached: {att.get('fault_source')}, {att['hooks']['faults']}")
    timed = att["hooks"]["faults"] == "kvm_mmu_page_fault"
    check(att["fault_latency"] == timed and timed == latency, label,
          f"fault latency {'on (--fault-latency)' if latency else 'off by default'}, "
          f"faults through {att['hooks']['faults']}", f"attached {att}")
    # The lab is AMD SVM with nested paging: dirty logging by write
    # protection, whose faults KVM's pf_fast counts, so they are measured.
    cost = att.get("guest_cost", {})
    check((att.get("kvm_module"), att.get("dirty_logging")) == ("kvm_amd", "write_protect")
          and cost.get("wp_faults", {}).get("measured") is True
          and cost.get("faults", {}).get("measured") is True
          and cost.get("fault_ns", {}).get("measured") is timed
          and "pml_full_exits" not in cost and att["hooks"].get("pml_full") == "unavailable", label,
          "attached: kvm_amd logs by write protection; faults and write-protect faults measured, "
          "no PML-full exits",
          f"attached: {att.get('kvm_module')}, {att.get('dirty_logging')}, {cost}")


def check_latency(label, mig, vs, latency):
    # Fault latency, per VM: measured in the --fault-latency session, else
    # said to be not measured (null), never a 0 that would read as a
    # measurement.
    att = by_type(mig, "attached")[0]
    timed = att["hooks"]["faults"] == "kvm_mmu_page_fault"
    if timed:
        lat = [v for v in vs["vcpu_faults"] if v["faults"] and sum(v["fault_lat_log2_ns"]) != v["faults"]]
        result(not lat and all(v["vcpu_time_lost_pct"] is not None for v in vs["vcpu_faults"])
               and vs["fault_ns"] > 0 and vs["guest_overhead_pct"] is not None, label,
               "each vCPU's latency histogram counts all its faults, and its time lost is reported",
               f"{lat[:2]}")
    else:
        shown = [v for v in vs["vcpu_faults"] or []
                 if (v["fault_ns"], v["fault_lat_log2_ns"], v["vcpu_time_lost_pct"]) != (None, None, None)]
        result(not shown and vs["fault_ns"] is None and vs["guest_overhead_pct"] is None, label,
               "fault time, latency and vCPU time lost are null (not measured), not 0",
               f"VM fault_ns {vs['fault_ns']}, vCPUs {shown[:2]}")


def check_run_rest(label, truth, mig, pid, start, vs, mode):
    """The checks of a run that do not depend on where faults come from."""
    # SEV live-migration interface: every KVM_HC_MAP_GPA_RANGE the guest
    # made (one page each), and no MSR_KVM_MIGRATION_CONTROL write.
    calls = sum(r["map_gpa_calls"] for r in by_type(truth, "vcpu"))
    got = (vs["map_gpa_range_hypercalls"], vs["map_gpa_range_pages"], vs["migration_control_writes"])
    ground(calls and got == (calls, calls, 0), label,
           f"{calls} KVM_HC_MAP_GPA_RANGE hypercalls of one page each, no migration-control MSR write",
           f"traced (calls, pages, MSR writes) {got}")

    # Binary stats: attached, and exact agreements held in every interval.
    vmrec = by_type(mig, "vm", pid)
    result(any(r["stats"] for r in vmrec), label, "binary stats read through the VMM's stats fds",
           [r.get("stats_missing") for r in vmrec] or "VM never found")
    # A VMM that opens its stats fds late (kvmload --stats-fd-delay-ms) is
    # read through debugfs, or not at all, until then; once it holds them
    # the tracer must have switched to them (tracer/kvm/vmstats.h,
    # ks_vmstats_stale), with all of kvmload's vCPUs.
    if start.get("stats_fd_delay_ms"):
        src = [(r["event"], r.get("stats_source")) for r in vmrec if r["stats"]]
        last = [r for r in vmrec if r["stats"]][-1:] or [{}]
        result(last[0].get("stats_source") == "fd" and last[0].get("vcpus") == start["vcpus"],
               label, f"stats fds opened {start['stats_fd_delay_ms']} ms late: read from them "
               f"in the end, {start['vcpus']} vCPUs (sources seen: {src})", f"records {vmrec}")
        if src and src[0][1] == "fd":
            print(f"NOTE {label}: the tracer found the VM only once its stats fds were open")
    # "equal" must hold in every interval the tracer sampled settled (no
    # compared event between its reads of the counters and of the stats;
    # the others are "info"). "within" (faults vs pf_taken) compares two
    # reads made while vCPUs run; when the lab's vCPU running kvmscope is
    # preempted between them, one interval can be off: at most one in five
    # (at least one) may disagree. At least one interval must be settled.
    # Judged here from the raw fields (labcheck.agrees: the rule of
    # docs/overhead.md), not by the tracer's `agree`; a compared relation
    # without its stat fails. The exact page-size comparisons are judged
    # below.
    comps = [(r["ts_ns"], a) for r in by_type(mig, "interval", pid) for a in r["agreement"]
             if a["relation"] in ("equal", "within")]
    nostat = [(r["ts_ns"], a) for r in by_type(mig, "interval", pid) for a in r["agreement"]
              if a["relation"] != "info" and "stat_delta" not in a]
    bad_eq = [c for c in comps if c[1]["relation"] == "equal" and not labcheck.agrees(c[1])]
    within = [c for c in comps if c[1]["relation"] == "within"]
    bad_in = [c for c in within if not labcheck.agrees(c[1])]
    ground(comps and not bad_eq and not nostat and len(bad_in) <= max(1, len(within) // 5), label,
           f"event counts agree with stats deltas ({len(comps)} interval comparisons, "
           f"{len(bad_in)} fault comparisons off)",
           f"equal broken: {bad_eq[:2]}; within broken: {bad_in[:2]}; without their stat: {nostat[:2]}"
           if comps else "nothing compared")
    attached = by_type(mig, "attached")
    if SERIES or (attached and attached[0]["hooks"].get("page_stats", "unavailable") != "unavailable"):
        # Series kernels: the kvm_mmu_page_stats deltas summed per interval
        # equal the change of pages_4k/2m/1g exactly ("exact"), in every
        # interval sampled with no update between the two reads; the others
        # ("info") are shown only, and their sum is checked over the run.
        ivs = [r for r in by_type(mig, "interval", pid)
               if any(a["events"].startswith("page_stats_") and "stat_delta" in a for a in r["agreement"])]
        # Per level, the interval sequence of (relation, stat change - events).
        seq = {}
        for r in ivs:
            for a in r["agreement"]:
                if a["events"].startswith("page_stats_") and "stat_delta" in a:
                    seq.setdefault(a["events"], []).append((r["ts_ns"], a["relation"], a["stat_delta"] - a["seen"],
                                                            a["stat_delta"]))
        exact = [(lvl, i) for lvl, xs in seq.items() for i, x in enumerate(xs) if x[1] == "exact"]
        # Asserted: every interval sampled settled at both ends ("exact")
        # has the two sides equal, except for updates in flight at a
        # boundary: KVM adds ±1 to pages_* and then fires the event, so a
        # thread (a vCPU or the ioctl caller) stalled between the two for
        # the whole sample has its update in the stats before the boundary
        # and in the events after it. The difference summed from the start
        # of the comparisons to a boundary is what is in flight there: at
        # most one update per thread, and given back later (the run check
        # below wants 0 at the last settled boundary); a lost or extra event
        # would stay. At least one interval of the run must show a change
        # at all (changes come in bursts: populate, splits, collapse, and an
        # interval with a burst at its edge is rarely settled at both ends).
        threads = start["vcpus"] + 1
        bad, inflight = [], 0
        for lvl, xs in seq.items():
            cum = 0
            for ts, rel, d, _ in xs:
                cum += d
                if rel != "exact" or not d:
                    continue
                if abs(cum) <= threads:
                    inflight += 1
                else:
                    bad.append((lvl, ts, d, cum))
        moved = sum(1 for xs in seq.values() for x in xs if x[3] != 0)
        moved_exact = sum(1 for lvl, i in exact if seq[lvl][i][3] != 0)
        ground(exact and not bad and moved > 0, label,
               f"page-size stats updates, summed, equal the pages_4k/2m/1g change in every "
               f"settled interval ({len(exact)} of {sum(map(len, seq.values()))} comparisons settled, "
               f"{moved_exact} of them with a change, {moved} in all; {inflight} off by updates in flight "
               f"at a boundary, at most {threads})",
               f"broken (level, ts, stat - events, in flight at its end): {bad[:3]}" if exact
               else "no settled comparison")
        # Asserted over the run, "info" intervals included: from a boundary
        # sampled settled to the last interval whose end was settled (the
        # VM's exit, normally), the summed updates equal the change of
        # pages_* exactly, per level. (Comparing from an unsettled first
        # boundary left pages_4k 1-3 above the events on anon backing:
        # docs/kernel.md.) "Settled" cannot see an update in flight (the
        # thread stalled between KVM's add and its event), so the run is
        # summed from a settled boundary where kvmload itself says nothing
        # could be in flight: no vCPU running and no ioctl of its own
        # (its records time every phase). Without such a boundary, the
        # in-flight bound of the check above applies instead.
        allivs = by_type(mig, "interval", pid)
        last = max((i for i, r in enumerate(allivs) if r.get("settled") and r in ivs), default=-1)
        base = allivs.index(ivs[0]) - 1 if ivs else -1
        busy = quiet_windows_busy(truth)
        quiet = [i for i in range(max(base, 0), last)
                 if allivs[i].get("settled") and not any(a <= allivs[i]["ts_ns"] <= b for a, b in busy)]
        frm = quiet[0] if quiet else base
        run_diff = {}
        for lvl in ("4k", "2m", "1g"):
            run_diff[lvl] = sum(a["stat_delta"] - a["seen"] for r in allivs[frm + 1:last + 1]
                                for a in r["agreement"]
                                if a["events"] == f"page_stats_{lvl}" and "stat_delta" in a)
        bound = 0 if quiet else threads
        if not quiet and last >= 0:
            print(f"NOTE {label}: no settled boundary with kvmload quiet: page-size run sums "
                  f"compared from the tracer's first, within {threads} updates in flight")
        ground(last >= 0 and all(abs(d) <= bound for d in run_diff.values()), label,
               f"page-size stats updates summed over the run ({last - frm} intervals, from a settled "
               f"boundary {'with kvmload quiet' if quiet else '(none quiet)'} to the last settled one) "
               f"equal the pages_4k/2m/1g change" + (f" within {bound}" if bound else ""),
               f"stat change - events: {run_diff}" if last >= 0 else "no interval ended settled")
    # The VMM's own reads of its stats fds (kvmload --stats-reads), through
    # the series' kvm_stats_read tracepoint or the stock kernels' fallback
    # (fexit on kvm_vm_stats_read/kvm_vcpu_stats_read): every one counted.
    start = by_type(truth, "start")[0]
    summ = by_type(truth, "summary")[0]
    if start.get("stats_reads"):
        n = sum(r.get("stats_reads", 0) for r in by_type(mig, "interval", pid))
        b = sum(r.get("stats_read_bytes", 0) for r in by_type(mig, "interval", pid))
        way = attached[0]["hooks"].get("stats_reads") if attached else None
        ground(n == summ["stats_reads"] and b == summ["stats_read_bytes"], label,
               f"stats fd reads counted through {way}: {n} reads, {b} bytes = kvmload's",
               f"kvmload read {summ['stats_reads']} times, {summ['stats_read_bytes']} bytes")
    check_exit(label, pid, mig)


def check_fault_order(label, name, mrecs):
    """Every span's faults are at least its write-protect faults: each
    interval (the VM's and each vCPU's) and each dirty-log or memslot
    record (the faults of the iteration it ends), wherever both are
    known. KVM counts a fault in pf_taken when it starts handling it and in
    pf_fast when its fast path has fixed it; the tracer counts a fault under
    way at a boundary in the span that fixed it too
    (migrate/model.h, ks_faults_at_least)."""
    bad, n = [], 0
    for r in mrecs:
        if r.get("type") == "interval":
            pairs = [(r.get("faults"), r.get("wp_faults"), "VM")]
            pairs += [(v["faults"], v["wp_faults"], f"vCPU {v['vcpu']}") for v in r.get("vcpu_faults") or []]
        elif r.get("type") in ("dirty_log", "memslot"):
            pairs = [(r.get("faults", -1), r.get("wp_faults", -1), r["type"])]
        else:
            continue
        for f, wp, what in pairs:
            if f is None or wp is None or f < 0 or wp < 0:
                continue
            n += 1
            if f < wp:
                bad.append((r["type"], r["pid"], r["ts_ns"], what, f, wp))
    result(n and not bad, label,
           f"{name}: faults >= write-protect faults in every interval, vCPU and dirty-log record ({n} compared)",
           f"(record, pid, ts, whose, faults, wp_faults): {bad[:3]}" if n else "nothing compared")


TEXT_ROW = re.compile(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)"
                      r"\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)$")


def check_text(label, sections):
    """The text report of one VMM with both address spaces and no stats fd
    (read through debugfs), traced while `kvmscope stats` read it too:
    its slot table has one row per address space and slot, equal to what
    kvmload's own ioctls returned; every interval line's faults are at
    least its write-protect faults; and neither kvmscope process reported
    a VM of its own (the reference VM each makes for debugfs stats) or the
    other's."""
    lab = f"{label}: text"
    sec = {p: next((s for s in sections if s[0].startswith(p)), None)
           for p in ("text kvmload exit=", "text pids ", "text migrate exit=", "text stats exit=")}
    if not require(all(sec.values()), lab, "the text session ran",
                   [p for p, s in sec.items() if not s]):
        return
    head, truth, other = sec["text kvmload exit="]
    if not require(head.endswith("exit=0") and by_type(truth, "start"), lab,
                   "kvmload (both address spaces, no stats fd) ran", f"{head}: {other[:2]}"):
        return
    result(sec["text migrate exit="][0].endswith("exit=0"), lab, "migrate (text) ended cleanly on SIGINT",
           sec["text migrate exit="][0])
    ids = dict(w.split("=", 1) for w in sec["text pids "][0].split()[2:])
    mpid, spid, kpid = int(ids["migrate"]), int(ids["stats"]), int(ids["kvmload"])
    vmms = {kpid} | {int(p) for p in ids.get("hold", "").split(",") if p}
    text = sec["text migrate exit="][2]

    # Who is reported: the VMMs, never a kvmscope process.
    named = {int(p) for l in text for p in re.findall(r"\bpid (\d+)\b", l)}
    found = {int(m.group(1)) for l in text for m in [re.search(r"pid (\d+) .*: VM found", l)] if m}
    traced = [int(m.group(1)) for l in text for m in [re.match(r"^(\d+) VMs? traced for", l)] if m]
    ground(found == vmms and named <= vmms and traced == [len(vmms)], lab,
           f"only the VMMs reported ({len(vmms)}: kvmload and the lab's idle VM), not the reference "
           f"VMs of migrate (pid {mpid}) or of the stats reading alongside (pid {spid})",
           f"found {sorted(found)}, named {sorted(named)}, traced {traced}, VMMs {sorted(vmms)}")
    srecs = sec["text stats exit="][1]
    spids = {r.get("pid") for r in srecs if "pid" in r}
    ground(sec["text stats exit="][0].endswith("exit=0") and kpid in spids and not spids & {mpid, spid},
           lab, "kvmscope stats read kvmload through debugfs and listed no kvmscope process",
           f"{sec['text stats exit='][0]}: pids {sorted(p for p in spids if p is not None)}")

    # Interval lines: faults >= write-protect faults fixed in the fast path.
    iv = [(int(m.group(1)), int(m.group(2))) for l in text
          for m in [re.search(r"faults (\d+) \(wp fast (\d+)\)", l)] if m]
    bad = [x for x in iv if x[0] < x[1]]
    result(iv and not bad, lab, f"every interval line's faults >= its wp fast ({len(iv)} lines)",
           f"(faults, wp fast): {bad[:3]}" if iv else "no interval line with faults")

    # The slot table of kvmload's summary against its own ioctls.
    start = by_type(truth, "start")[0]
    want, get_ms = {}, {}
    for s in start["slots"]:
        k = sk(s, "id")
        ops = [r for r in truth if r.get("type") == "dirty_log" and sk(r) == k]
        gets = [r for r in ops if r["op"] == "get_dirty_log"]
        clears = [r for r in ops if r["op"] == "clear_dirty_log"]
        want[k] = (s["npages"], "eager", len(gets), sum(r["pages_dirty"] for r in gets),
                   len(clears), sum(r["pages_cleared"] for r in clears))
        get_ms[k] = sum(r["dur_ns"] for r in gets) / 1e6
    try:
        at = text.index(next(l for l in text if l.startswith(f"VM pid {kpid} (kvmload)")))
    except StopIteration:
        result(False, lab, "kvmload's summary in the text", "no 'VM pid ... (kvmload)' block")
        return
    rows = []
    for l in text[at + 1:]:
        if l.startswith("VM pid") or re.match(r"^\d+ VMs? traced", l):
            break
        m = TEXT_ROW.match(l)
        if m:
            rows.append(m.groups())
    got = {(int(r[1]), int(r[0])): (int(r[2]), r[3], int(r[5]), int(r[7]), int(r[8]), int(r[10]))
           for r in rows}
    order = [(int(r[1]), int(r[0])) for r in rows]
    ground(len(rows) == len(want) and got == want and order == sorted(order), lab,
           f"slot table: one row per (address space, slot), {len(want)} in that order, each with "
           f"kvmload's pages, eager start, GETs, dirty pages, CLEARs and pages cleared",
           f"rows {rows[:6]}; want {want}")
    slow = [(k, float(r[6]), get_ms[k]) for r in rows for k in [(int(r[1]), int(r[0]))]
            if k in get_ms and float(r[6]) > get_ms[k] + 0.001]
    ground(rows and not slow, lab, "each row's time in GETs at most kvmload's own timing of them",
           f"((as, slot), traced ms, kvmload ms): {slow[:3]}")


def check_tracer_cpu(label, name, sections, mrecs):
    """The tracer's own CPU in its records: every interval has it, each VM's
    intervals (contiguous from the start) sum to no more than the process's
    CPU read from /proc before the session ended, and the summary (read
    after) to no less."""
    cpu = [s[0].split() for s in sections if s[0].startswith(name + " cpu_ticks ")]
    if not require(cpu, label, f"{name}: tracer CPU read from /proc", "no cpu_ticks section"):
        return
    words = cpu[0]
    hz = int(words[words.index("hz") + 1])
    proc_ns = (int(words[2]) + int(words[3])) * 1_000_000_000 // hz
    tick_ns = 2 * 1_000_000_000 // hz   # /proc truncates user and system to a tick each
    ivs = by_type(mrecs, "interval")
    bad = [r for r in ivs if not all(isinstance(r.get(k), int) and r[k] >= 0
                                     for k in ("tracer_user_ns", "tracer_sys_ns"))]
    result(ivs and not bad, label, f"{name}: every interval has the tracer's own CPU (user, system)",
           bad[:1] or "no intervals")
    per_vm = defaultdict(int)
    for r in ivs:
        per_vm[r["pid"]] += r.get("tracer_user_ns", 0) + r.get("tracer_sys_ns", 0)
    worst = max(per_vm.values(), default=0)
    ground(worst <= proc_ns + tick_ns, label,
           f"{name}: a VM's intervals sum to at most the tracer's CPU from /proc",
           f"{worst / 1e6:.0f} ms > {proc_ns / 1e6:.0f} ms: {dict(per_vm)}")
    summ = by_type(mrecs, "summary")
    total = summ[0].get("tracer_user_ns", -1) + summ[0].get("tracer_sys_ns", -1) if summ else -2
    ground(total + tick_ns >= proc_ns, label,
           f"{name}: the summary's CPU is the whole process's (at least /proc's before it)",
           f"{total / 1e6:.0f} ms < {proc_ns / 1e6:.0f} ms")
    print(f"NOTE {label}: {name}: tracer CPU {proc_ns / 1e6:.0f} ms (/proc), summary {total / 1e6:.0f} ms, "
          f"longest VM's intervals {worst / 1e6:.0f} ms")


def main():
    global SERIES
    a = labcheck.args("lab")
    SERIES = a.series
    sections = parse_sections(a.log)
    # Three sessions: the default one (no program on the fault path), one
    # with --fault-program and one with --fault-latency.
    sessions = {}
    for name in ("migrate", "migrate-program", "migrate-latency"):
        mrecs = labcheck.tracer_run(sections, name, a.label)
        if mrecs is None:
            return 1
        sessions[name] = mrecs
        summ = by_type(mrecs, "summary")
        result(summ and not any(summ[0]["lost"].values()), a.label, f"{name}: no events lost",
               summ[0]["lost"] if summ else "no summary")
        check_tracer_cpu(a.label, name, sections, mrecs)
        check_fault_order(a.label, name, mrecs)
        # The series' events are there on the patched kernel only; the stock
        # kernels take the fallbacks (stats reads) or have nothing (page stats).
        att = by_type(mrecs, "attached")
        hooks = att[0]["hooks"] if att else {}
        want = (("kvm_stats_read", "kvm_mmu_page_stats") if a.series
                else ("kvm_vm_stats_read", "unavailable"))
        got = (hooks.get("stats_reads"), hooks.get("page_stats", "unavailable"))
        result(got == want, a.label, f"{name}: stats reads through {want[0]}, page-size stats updates: {want[1]}",
               f"got {got}")
        if att:
            check_session(f"{a.label}: {name}", mrecs, name != "migrate", name == "migrate-latency")
    runs = 0
    for head, recs, other in sections:
        m = re.match(r"kvmload (\S+) (\S+) (.*) exit=(\d+)", head)
        if not m:
            continue
        runs += 1
        backing, mode, shape, code = m.groups()
        latency, program = shape.endswith(" latency"), shape.endswith(" program")
        label = f"{a.label}: {backing} {mode} {shape}"
        if not require(code == "0" and by_type(recs, "start"), label, "kvmload ran",
                       f"exit {code}: {other[:2]}"):
            continue
        session = "migrate-latency" if latency else "migrate-program" if program else "migrate"
        check_run(label, recs, sessions[session], mode, backing, latency=latency, program=program)
    require(runs > 0, a.label, f"{runs} kvmload runs traced", "none")
    check_text(a.label, sections)
    # The duration bound is a timing figure: reported, not judged. Twelve
    # sessions had 17 of 1288 compared ioctls beyond max(10%, 100 us), 0 to
    # 4 per session, each by a window before or after the system call
    # (270 us to 13.7 ms) in which the lab CPU ran nothing, kvmload's thread
    # not preempted: the whole lab CPU stalled, which the guest cannot see.
    # What is asserted per ioctl is that the traced time lies inside
    # kvmload's (check_run). docs/overhead.md has the figures.
    far, compared = IOCTLS["far"], IOCTLS["compared"]
    for part in ("before", "after"):
        v = sorted(IOCTLS[part])
        if v:
            print(f"NOTE {a.label}: ioctl gap {part} the system call: median {v[len(v) // 2] / 1e3:.1f} us, "
                  f"p90 {v[len(v) * 9 // 10] / 1e3:.1f} us, max {v[-1] / 1e3:.1f} us ({len(v)} compared)")
    print(f"NOTE {a.label}: {compared - len(far)} of {compared} ioctl durations within "
          f"max(10%, 100 us) of kvmload's ({IOCTLS['all'] - compared} not compared: kvmload preempted "
          f"outside the system call); beyond: (run, ioctl, kvmload ns, traced ns, before ns, after ns) {far[:4]}")
    # Preempted inside the system call, both timings include the wait and
    # the call is compared: only preemption in the few microseconds outside
    # it excludes one, and that must stay the exception.
    result(IOCTLS["all"] > 0 and compared * 2 >= IOCTLS["all"], a.label,
           f"{compared} of {IOCTLS['all']} ioctl durations compared with kvmload's (at least half)",
           f"{compared} of {IOCTLS['all']}")
    for f in far:
        print(f"NOTE {a.label}: ioctl beyond max(10%, 100 us): {f}")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
