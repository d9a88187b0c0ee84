#!/usr/bin/env python3
"""kernel/test-lab, run stats-reads: compares what tp_btf -p saw (READ lines:
the VMM's kvm_stats_read events with its VM's kvm_mmu_page_stats deltas
summed up to each) with kvmload's --stats-reads ground truth (stats_read
records): the same reads, one to one (VM or vCPU fd, offset, size, result),
and at every read of the VM's data block, the summed deltas equal the
pages_4k/2m/1g values that read returned.

Usage: check_stats_reads.py LABEL LOG   (PASS/FAIL lines; exit 1 on failure)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "lab"))
from labcheck import exit_status, ground, result  # noqa: E402
import json  # noqa: E402


def main():
    label, path = sys.argv[1], sys.argv[2]
    events, truth, lost = [], [], None
    for line in open(path, errors="replace"):
        w = line.split()
        if w[:1] == ["READ"]:
            events.append(tuple(int(x) for x in w[1:8]))
        elif w[:1] == ["READS_LOST"]:
            lost = int(w[1])
        elif line.startswith("{"):
            r = json.loads(line)
            if r.get("type") == "stats_read":
                truth.append(r)
    result(lost == 0, label, "no kvm_stats_read event lost", f"READS_LOST {lost}")
    want = [(-1 if r["vcpu"] is None else r["vcpu"], r["offset"], r["size"], r["ret"])
            for r in truth]
    got = [e[:4] for e in events]
    nvm = sum(1 for w in want if w[0] < 0)
    bad = [(i, w, g) for i, (w, g) in enumerate(zip(want, got)) if w != g]
    ground(want and got == want, label,
           f"kvm_stats_read events = kvmload's {len(want)} reads, in order "
           f"({nvm} VM, {len(want) - nvm} vCPU): fd, offset, size, result",
           f"{len(got)} events for {len(want)} reads; first differences (index, "
           f"kvmload, event): {bad[:3]}")
    # Page-size stats: at each VM data read (vCPUs stopped), the updates
    # summed from VM creation equal the values read.
    pairs = [(r, e) for r, e in zip(truth, events)
             if r["fd"] == "vm" and r["part"] == "data"]
    diff = [(r["phase"], r["iteration"], (r["pages_4k"], r["pages_2m"], r["pages_1g"]), e[4:7])
            for r, e in pairs if (r["pages_4k"], r["pages_2m"], r["pages_1g"]) != e[4:7]]
    values = {(r["pages_4k"], r["pages_2m"]) for r, _ in pairs}
    last = pairs[-1][0] if pairs else {}
    ground(pairs and not diff and len(values) > 1, label,
           f"page-size stats updates summed = pages_4k/2m/1g at each of {len(pairs)} VM stats "
           f"reads ({len(values)} distinct values; last 4k {last.get('pages_4k')} "
           f"2m {last.get('pages_2m')})",
           f"{len(diff)} differ (phase, iteration, read, summed): {diff[:3]}"
           if pairs else "no VM data read")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
