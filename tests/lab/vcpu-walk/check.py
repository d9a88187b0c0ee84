#!/usr/bin/env python3
"""Check the vCPU walk of default `kvmscope migrate` against kvmload.

Input: the console log of guest.sh: sections
"=== kvmload MODE vcpus=N exit=RC" (kvmload's JSON lines, with its own
reads of every vCPU's stats fd after each iteration) and "=== migrate
exit=RC" (the tracer's). Per VM, the write-protect faults and faults of
each dirty-log iteration (KVM's pf_fast and pf_taken summed over the vCPUs
by walking kvm->vcpu_array at the iteration's ioctls) must equal kvmload's
own deltas exactly: a vCPU the walk missed or counted twice would show.
Prints one PASS/FAIL line per check; exits 1 on any failure.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, require, result  # noqa: E402

check_migrate = labcheck.checker("migrate")
by_type, check_kvm_stat_faults = check_migrate.by_type, check_migrate.check_kvm_stat_faults
parse_sections = check_migrate.parse_sections


def main():
    a = labcheck.args("lab")
    sections = parse_sections(a.log)
    mig = labcheck.tracer_run(sections, "migrate", a.label)
    if mig is None:
        return 1
    att = by_type(mig, "attached")
    result(att and att[0].get("fault_source") == "kvm_vcpu_stat" and
           att[0]["hooks"].get("faults") == "kvm_vcpu_stat", a.label,
           "faults from KVM's per-vCPU stats, no program on the fault path",
           att[0] if att else "no attached record")
    summ = by_type(mig, "summary")
    result(summ and not any(summ[0]["lost"].values()), a.label, "no events lost",
           summ[0]["lost"] if summ else "no summary")
    shapes = []
    for head, recs, other in sections:
        m = re.match(r"kvmload (\S+) vcpus=(\d+) exit=(\d+)", head)
        if not m:
            continue
        mode, vcpus, code = m.groups()
        label = f"{a.label}: {mode} {vcpus} vCPUs"
        start = by_type(recs, "start")
        summary = by_type(recs, "summary")
        if not require(code == "0" and start and summary and summary[0]["ok"], label,
                       "kvmload ran and its invariants held", f"exit {code}: {other[:2]}"):
            continue
        shapes.append(int(vcpus))
        pid = start[0]["pid"]
        vs = by_type(mig, "vm_summary", pid)
        require(len(vs) == 1, label, "one VM summary", f"{len(vs)}")
        if vs:
            check_kvm_stat_faults(label, recs, mig, pid, vs[0])
    require(sorted(shapes) == [1, 2, 8, 64, 66], a.label, "VMs of 1, 2, 8, 64 and 66 vCPUs traced",
            f"{sorted(shapes)}")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
