#!/usr/bin/env python3
"""Check a run of guest.sh: the kernel's VM table sized
for 3 VMs (--max-vms 3) under `kvmscope migrate --json` and `kvmscope
export`; one kvmload VM, then 5 at once (phase 1), then 3 one after
another (phase 2).

Asserted: the VMs that did not fit are counted (lost.vm_table_full), named
on stderr and in the summary line, and reported with null counters; every
VM that fit, and every phase-2 VM (entries freed by the phase-1 VMs reused),
has per-VM numbers exact against its own ground truth (the checks of
check_migrate.py); the events of the VMs that did not fit (syncs, dirty
pages) are exact too. export counts the drops, names the VM and leaves its
counter series out. Prints PASS/FAIL/NOTE lines; exits 1 on a failure.
"""
import contextlib
import io
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, require, result  # noqa: E402

check_migrate = labcheck.checker("migrate")
by_type = check_migrate.by_type

MAX_VMS = 3


def main():
    a = labcheck.args("vm-table")
    label = a.label
    secs = check_migrate.parse_sections(a.log)
    get = {h.split(" exit=")[0]: (h, recs, other) for h, recs, other in secs}
    mrecs = labcheck.tracer_run(secs, "migrate", label)
    require("export" in get, label, "export output present", [s[0] for s in secs][-3:])
    if mrecs is None or "export" not in get:
        return exit_status()
    summ = by_type(mrecs, "summary")
    lost = summ[0]["lost"] if summ else {}
    if by_type(mrecs, "attached"):
        check_migrate.check_session(f"{label}: migrate", mrecs, False, False)
    merr = get.get("migrate stderr", ("", [], []))[2]

    # Per VM: tracked ones against all of check_migrate.py, the others
    # against what their events say, and their counters null.
    vms = []
    for head, recs, other in secs:
        m = re.match(r"kvmload phase=(\d) exit=(\d+)", head)
        if not m:
            continue
        phase, code = m.groups()
        n = len(vms) + 1
        if not require(code == "0" and by_type(recs, "start"), label, f"VM {n} (phase {phase}): kvmload ran",
                       f"exit {code}: {other[:2]}"):
            continue
        pid = by_type(recs, "start")[0]["pid"]
        vs = by_type(mrecs, "vm_summary", pid)
        tracked = not (vs and vs[0].get("vm_table_full"))
        vms.append((n, phase, pid, tracked))
        with contextlib.redirect_stdout(io.StringIO()) as out:
            check_migrate.check_run(f"{label}: VM {n} (phase {phase}, {'tracked' if tracked else 'not tracked'})",
                                    recs, mrecs, "manual", "anon", counters=tracked)
        # Timing figures of check_migrate.py (NOTE lines) are not this test's.
        for line in out.getvalue().splitlines():
            if not line.startswith("NOTE "):
                print(line)
        if not tracked:
            said = [l for l in merr if f"PID {pid} (" in l and "VM table is full (--max-vms 3)" in l]
            result(len(said) == 1, label, f"VM {n}: stderr names it once as not tracked", merr[:3])

    p1 = [v for v in vms if v[1] == "1"]
    p2 = [v for v in vms if v[1] == "2"]
    untracked = [v for v in vms if not v[3]]
    require(len(p1) == 6 and len(p2) == 3, label, "1 VM, 5 more at once, then 3 one at a time",
            f"{len(p1)} and {len(p2)}")
    # The first VM had its entries before the others started; of the five
    # started together, which fit depends on which fault first (each needs
    # two entries; the tracers' own stats reads hold one each).
    result(p1 and p1[0][3] and any(not v[3] for v in p1[1:]), label,
           f"phase 1: the first VM tracked; {sum(v[3] for v in p1[1:])} of the 5 after it fit "
           f"in a table for {MAX_VMS} VMs, {sum(not v[3] for v in p1[1:])} did not",
           [v[2:] for v in p1])
    result(p2 and all(v[3] for v in p2), label,
           "phase 2: every VM tracked (the entries of the VMs gone were reused)",
           [v[2:] for v in p2])
    result(lost.get("vm_table_full", 0) > 0 and
           not any(v for k, v in lost.items() if k != "vm_table_full"), label,
           f"summary: lost.vm_table_full {lost.get('vm_table_full')}, nothing else lost", lost)
    result(summ and summ[0].get("vms_not_tracked") == len(untracked), label,
           f"summary: vms_not_tracked {len(untracked)}",
           summ[0].get("vms_not_tracked") if summ else "no summary")
    want = f"{len(untracked)} VM{'' if len(untracked) == 1 else 's'} not tracked: " \
           f"the kernel's VM table (--max-vms {MAX_VMS}) was full"
    result(any(want in l for l in merr) and any("events lost (vm_table_full" in l for l in merr),
           label, "stderr: the lost events and the VMs not tracked, one line each", merr[-3:])

    # export: the same table size, its own maps.
    xhead = get["export"][0]
    result(xhead == "export exit=0", label, "export ended cleanly on SIGINT", xhead)
    xerr = get.get("export stderr", ("", [], []))[2]
    xun = [l.split() for l in get.get("export untracked", ("", [], []))[2]]
    xtr = get.get("export tracked", ("", [], []))[2]
    named = [p for p, _ in xun if any(f"PID {p} (" in l and "VM table is full" in l for l in xerr)]
    result(xun and len(named) == len(xun), label,
           f"export: {len(xun)} VMs shown as not tracked (kvmscope_vm_counters_tracked 0), "
           "each named on stderr", f"{xun} vs stderr {xerr[:3]}")
    result(xun and all(n == "0" for _, n in xun), label,
           "export: no fault series for a VM not tracked", xun)
    result(xtr, label, f"export: {len(xtr)} VMs tracked (kvmscope_vm_counters_tracked 1)", "none")
    xlost = get.get("export lost", ("", [], []))[2]
    result(xlost and float(xlost[0].split()[-1]) > 0, label,
           f"export: {xlost[0] if xlost else 'no'} lost-events line", xlost)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
