#!/usr/bin/env python3
"""Compare `kvmscope stats --json` with debugfs (guest.sh).

For a VM that is not running, every VM statistic read through the binary
stats fd must equal debugfs, and every vCPU statistic summed over the vCPUs
must equal debugfs (which shows vCPU statistics per VM, summed); histograms must
decode; a VM that exits while watched must be reported gone, and the run
must end cleanly. One PASS/FAIL line per check; exit 1 on any failure.
"""
import json
import os
import re
import sys
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, records, require, result, sections, ground  # noqa: E402

def main():
    a = labcheck.args("lab")
    sec = sections(a.log)
    L = a.label
    head = next((k for k in sec if k.startswith("stats exit=")), None)
    if not require(head is not None, L, "stats -p PID output present", "no output"):
        return exit_status()
    result(head == "stats exit=0", L, "stats -p PID ran", head)
    recs = records(sec[head])
    stats = [r for r in recs if r["type"] == "stats"]
    schemas = [r for r in recs if r["type"] == "stats_schema"]
    dbg = {}
    for l in sec.get("debugfs", []):
        parts = l.split()
        if len(parts) == 3 and re.fullmatch(r"-?\d+", parts[2]):
            dbg[(parts[0], parts[1])] = int(parts[2])
    require(len(dbg) > 10, L, f"debugfs has the VM's statistics ({len(dbg)} files)", "too few")
    vm = [r for r in stats if "vcpu" not in r]
    vcpus = [r for r in stats if "vcpu" in r]
    result(vm and len({r["vcpu"] for r in vcpus}) == 2, L, "VM and both vCPUs sampled",
           f"{len(vm)} VM samples, vCPUs {sorted({r['vcpu'] for r in vcpus})}")
    if not vm:
        return exit_status()
    # The last sample of each source, compared with debugfs value by value.
    last_vm = vm[-1]
    last_vcpu = {r["vcpu"]: r for r in vcpus}
    compared, mismatch = 0, []
    for name, raw in last_vm["raw"].items():
        if ("vm", name) in dbg:
            compared += 1
            if dbg[("vm", name)] != raw:
                mismatch.append(("vm", name, raw, dbg[("vm", name)]))
    # debugfs shows each vCPU statistic once per VM, summed over its vCPUs.
    sums = {}
    for r in last_vcpu.values():
        for name, raw in r["raw"].items():
            sums[name] = sums.get(name, 0) + raw
    for name, total in sums.items():
        if ("vm", name) in dbg:
            compared += 1
            if dbg[("vm", name)] != total:
                mismatch.append(("vcpus", name, total, dbg[("vm", name)]))
    ground(compared >= 20 and not mismatch, L,
           f"{compared} values equal debugfs (VM, and vCPU sums)",
           f"compared {compared}; mismatches (where, stat, fd, debugfs): {mismatch[:5]}")
    # Units applied: a stat in seconds with exponent -9 is the raw ns / 1e9.
    ns = [(n, v) for n, v in last_vcpu.get(0, {}).get("raw", {}).items() if n.endswith("_ns")]
    sch = {s["id"]: s["stats"] for s in schemas}
    vcpu_schema = next((v for k, v in sch.items() if "/vcpu-" in k), {})
    ok = all(vcpu_schema[n]["unit"] == "seconds" and vcpu_schema[n]["exponent"] == -9 and
             abs(last_vcpu[0]["values"][n] - v / 1e9) <= 1e-12 * max(1, v) for n, v in ns)
    result(ns and ok, L, f"units and exponents applied ({len(ns)} nanosecond stats in seconds)",
           str(ns[:3]))
    hists = [(n, v) for n, v in last_vcpu.get(0, {}).get("values", {}).items() if isinstance(v, list)]
    ok = all(vcpu_schema[n]["type"] in ("linear_hist", "log_hist") and len(v) == vcpu_schema[n]["size"]
             for n, v in hists)
    result(hists and ok, L, f"{len(hists)} histograms decoded with their bucket counts",
           str([(n, len(v)) for n, v in hists][:3]))

    # Exact values (schema 2): every value is raw x 10^exponent to the last
    # digit, and deltas are exactly the cumulative statistics that moved
    # since the source's previous sample (json.md). Parsed as decimals.
    exact = [json.loads(l, parse_float=Decimal) for l in sec[head] if l.startswith("{")]
    exps = {r["id"].split("/")[-1] if "/" in r["id"] else "vm": r["stats"]
            for r in exact if r["type"] == "stats_schema"}
    def schema_of(r):
        return next((v for k, v in exps.items() if k.startswith("vcpu")), {}) if "vcpu" in r \
            else exps.get("vm", {})
    bad, checked, prev = [], 0, {}
    for r in (x for x in exact if x["type"] == "stats"):
        sch = schema_of(r)
        for name, raw in r.get("raw", {}).items():
            want = Decimal(raw).scaleb(sch[name]["exponent"]) if sch[name]["base"] == 10 else None
            checked += 1
            if want is not None and r["values"][name] != want:
                bad.append((r["id"], name, str(r["values"][name]), raw))
        p = prev.get(r["id"])
        if p is None:
            ok = r["interval_ns"] == 0 and r["deltas"] == {}
        else:
            moved = {n: (Decimal(v) - Decimal(p["raw"][n])).scaleb(sch[n]["exponent"])
                     for n, v in r["raw"].items()
                     if sch[n]["type"] == "cumulative" and v != p["raw"][n]}
            ok = r["interval_ns"] == r["ts_ns"] - p["ts_ns"] and r["deltas"] == moved
        if not ok:
            bad.append((r["id"], "interval_ns/deltas", r["interval_ns"], r["deltas"]))
        prev[r["id"]] = r
    result(checked >= 20 and "raw" in stats[0] and not bad, L,
           f"values exactly raw x 10^exponent, deltas exactly what moved ({checked} values)",
           f"{checked} checked; wrong: {bad[:4]}")

    churn = next((k for k in sec if k.startswith("churn ")), None)
    m = re.match(r"churn pid=(\d+) exit=(\d+)", churn or "")
    result(m and m.group(2) == "0", L, "stats over all VMs ran while a VM exited", churn)
    if m:
        pid = int(m.group(1))
        crecs = records(sec[churn])
        seen = [r for r in crecs if r["type"] == "stats" and r["pid"] == pid]
        gone = [r for r in crecs if r["type"] == "vm" and r["event"] == "exited" and r["pid"] == pid]
        after = [r for r in crecs if r["type"] == "stats" and r["pid"] == pid and gone and
                 r["ts_ns"] > gone[0]["ts_ns"]]
        result(seen and len(gone) == 1 and not after, L,
               "the exiting VM was sampled, reported gone once, and dropped",
               f"{len(seen)} samples, {len(gone)} exit records, {len(after)} samples after")
        errs = [l for l in sec[churn] if l.startswith("kvmscope:")]
        result(not errs, L, "no errors while the VM exited", errs[:2])
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
