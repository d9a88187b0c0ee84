#!/usr/bin/env python3
"""Check 1 GiB hugetlb backing (guest.sh) against ground truth.

kvmload's test memory is one 1 GiB hugetlb page, in get mode and in
manual-init-set mode (where the first KVM_CLEAR_DIRTY_LOG, not the start of
logging, protects and splits it); KVM's own page-size statistics (pages_1g, pages_2m, read by kvmload after populating and
after each iteration) say how it was mapped and what became of the
mapping. Against them and kvmload's dirty-log results:

- the dirty pages per slot and iteration kvmscope migrate reports equal
  what KVM_GET_DIRTY_LOG returned to kvmload;
- the huge pages kvmscope saw split, by the level split from, equal what
  KVM's statistics lost: 1g splits = pages_1g after populating minus
  after the last iteration; 2m splits = pages_2m after populating plus
  512 per 1 GiB page split minus after the last iteration (each 1 GiB
  page splits into 512 2 MiB ones, which dirty logging splits in turn).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, ground, records, require, sections  # noqa: E402

GIB = 1 << 30


def section(sec, prefix):
    k = next((k for k in sec if k.startswith(prefix)), None)
    return (k, sec[k]) if k else (None, [])


def vm_pages(truth, phase, iteration=None):
    """KVM's pages_4k/2m/1g as kvmload read them from the VM's stats fd."""
    got = [r for r in truth if r["type"] == "stats_read" and r["fd"] == "vm" and "pages_1g" in r
           and r["phase"] == phase and (iteration is None or r["iteration"] == iteration)]
    return (got[-1]["pages_4k"], got[-1]["pages_2m"], got[-1]["pages_1g"]) if got else None


def check_run(label, head, truth, mig):
    """One kvmload VM: its dirty pages and the splits kvmscope saw."""
    start = next((r for r in truth if r["type"] == "start"), None)
    summ = next((r for r in truth if r["type"] == "summary"), None)
    if not require(head.endswith("exit=0") and start and summ and summ.get("ok"), label,
                   "kvmload --backing hugetlb-1g ran and its invariants held", (head, summ)):
        return
    pid = start["pid"]
    pop = next((r for r in truth if r["type"] == "populate"), {})
    require(pop.get("host_huge_bytes") == GIB, label, "the test memory is one 1 GiB hugetlb page",
            pop.get("host_huge_bytes"))
    before = vm_pages(truth, "populate")
    after = vm_pages(truth, "iteration", start["iterations"] - 1)
    if not require(before and after and before[2] >= 1, label,
                   "KVM mapped the test memory with a 1 GiB page (its pages_1g after populating)",
                   (before, after)):
        return
    t_get = {(r["slot"], r["iteration"]): r["pages_dirty"] for r in truth if r.get("op") == "get_dirty_log"}
    m_get = {(r["slot"], r["iteration"]): r["pages_dirty"] for r in mig
             if r["type"] == "dirty_log" and r.get("pid") == pid and r["op"] == "get"}
    ground(t_get and m_get == t_get, label,
           f"dirty pages per slot and iteration equal KVM's report to kvmload ({sorted(t_get.items())})",
           f"tracer {sorted(m_get.items())}")
    vs = [r for r in mig if r["type"] == "vm_summary" and r["pid"] == pid]
    if not require(vs and isinstance(vs[0].get("splits"), dict), label,
                   "migrate's vm_summary with splits by level", vs[:1]):
        return
    sp = vs[0]["splits"]
    want_1g = before[2] - after[2]
    want_2m = before[1] + 512 * want_1g - after[1]
    ground(want_1g >= 1 and sp["1g"] == want_1g, label,
           f"1 GiB pages split ({want_1g}) equal what KVM's pages_1g lost",
           f"kvmscope splits {sp}, KVM pages_1g {before[2]} -> {after[2]}")
    ground(sp["2m"] == want_2m, label,
           f"2 MiB pages split ({want_2m}) equal KVM's pages_2m change plus 512 per 1 GiB split",
           f"kvmscope splits {sp}, KVM pages_2m {before[1]} -> {after[1]}")


def main():
    a = labcheck.args("lab")
    sec = sections(a.log)
    hp, _ = section(sec, "hugepages 1g=")
    require(hp and hp != "hugepages 1g=" and int(hp.split("=")[1]) >= 1, a.label,
            "the lab kernel reserved a 1 GiB huge page (hugepagesz=1G hugepages=1)", hp)
    h, l = section(sec, "migrate exit=")
    if not require(h == "migrate exit=0", a.label, "migrate ran and ended on SIGINT", (h, l[-2:])):
        return exit_status()
    mig = records(l)
    runs = [k for k in sec if k.startswith("kvmload ")]
    require(len(runs) == 2, a.label, "two kvmload runs (get, manual-init-set)", runs)
    for k in runs:
        check_run(f"{a.label}: 1 GiB pages, {k.split()[1]}", k, records(sec[k]), mig)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
