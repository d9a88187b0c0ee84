#!/usr/bin/env python3
"""Check a churn run (guest.sh): many kvmload VMs started
and stopped, five at a time, under `kvmscope migrate --json`,
`kvmscope stats --json` and `kvmscope export` (scraped twice a second).

Per VM, the numbers `migrate` reported are held to that VM's own ground
truth with the checks of check_migrate.py (each check is one line here,
over all VMs; its preconditions, such as kvmload having run, are
preconditions here too). Then the resources: open fds, the kernel map entries and
RSS of the tracers after the VMs are gone against their baseline taken
after a warm-up round. Prints PASS/FAIL/NOTE lines; exits 1 on a failure.
"""
import contextlib
import io
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import labcheck  # noqa: E402
from labcheck import exit_status, require, result  # noqa: E402

check_migrate = labcheck.checker("migrate")

# RSS may move by a few pages (allocator, stdio buffers) but must not grow
# with the number of VMs seen: the budget is 64 pages for 50+ VMs.
RSS_SLACK_KB = 256
# Timing, not counts: ioctl durations; faults counted by the tracer
# against pf_taken read from the stats fd a moment apart while vCPUs run
# (relation "within"); with the fault program, write-protect faults against
# pf_fast, whose stats baseline is read when the tracer gets to a new VM,
# late under this load (by default, without the program, they are KVM's
# own counts and compared with kvmload's exactly: asserted). With five VMs and two tracers on the lab's two TCG
# vCPUs they are reported, not asserted; check_migrate.py asserts them on
# a quiet lab. The exact relations ("equal") are asserted below.
# kvmload's error when its guest read a page tag as an address
# (tests/workload/vcpu.c, unexpected_exit()): see main().
NESTED_TCG_SIGNATURE = re.compile(
    r"unexpected exit reason 6 \(KVM_EXIT_MMIO\): read of \d+ bytes at unbacked gpa 0x4b4c[0-9a-f]{4} ")
TIMING = ("ioctl durations", "ioctl's duration", "event counts agree with stats deltas",
          "agree with the stats fd's pf_fast")


def figures(path):
    out = {}
    for line in open(path, errors="replace"):
        if line.startswith("figures "):
            f = line.split()
            out[f[1]] = {k: float(v) for k, v in (x.split("=") for x in f[2:])}
    return out


def main():
    a = labcheck.args("churn")
    label = a.label
    secs = check_migrate.parse_sections(a.log)
    get = {h.split(" exit=")[0]: (h, recs, other) for h, recs, other in secs}

    mrecs = labcheck.tracer_run(secs, "migrate", label)
    st = [s for s in secs if s[0].startswith("stats exit=")]
    require(st, label, "stats output present", [s[0] for s in secs][-3:])
    if mrecs is None or not st:
        return exit_status()
    merr = get.get("migrate stderr", ("", [], []))[2]
    result(not merr, label, "migrate said nothing on stderr", merr[:3])
    if check_migrate.by_type(mrecs, "attached"):
        check_migrate.check_session(f"{label}: migrate", mrecs, False, False)
    summ = check_migrate.by_type(mrecs, "summary")
    result(summ and not any(summ[0]["lost"].values()), label, "no events lost",
           summ[0]["lost"] if summ else "no summary")

    # Every VM's checks, collected and reported per check over all VMs;
    # its preconditions likewise, as preconditions.
    outcomes = defaultdict(list)
    preconditions = defaultdict(list)

    def collect(ok, vm_label, what, detail="", ground=False):
        outcomes[re.sub(r"\d+", "N", what)].append((ok, vm_label, what, detail, ground))

    def collect_ground(ok, vm_label, what, detail=""):
        collect(ok, vm_label, what, detail, ground=True)

    def collect_required(ok, vm_label, what, detail=""):
        preconditions[re.sub(r"\d+", "N", what)].append((ok, vm_label, what, detail))
        return bool(ok)

    real = labcheck.result, labcheck.require, labcheck.ground
    check_migrate.result, check_migrate.require, check_migrate.ground = collect, collect_required, collect_ground
    vms = nnotes = 0
    failed, tolerated = [], []
    for head, recs, other in secs:
        m = re.match(r"kvmload (\S+) (\S+) (.*) exit=(\d+)", head)
        if not m:
            continue
        vms += 1
        backing, mode, shape, code = m.groups()
        vm_label = f"VM {vms} ({backing} {mode} {shape})"
        if code != "0" or not check_migrate.by_type(recs, "start"):
            # The workload's own failure leaves no ground truth to compare
            # with, and fails the run; with one exception, shown, not
            # judged: a read of a page tag (KL_TAG_BASE + generation) as an
            # address. The guest code (tests/workload/guest.c) never uses a
            # tag as an address: EAX holds it at the phase's `out`, and the
            # bytes inside `mov eax, 12` (00 00, 01 00) decode as
            # `add [eax], al` / `add [eax], eax`, so the guest resumed after
            # an exit at a wrong RIP: seen once, five VMs at a time under
            # the lab's nested TCG (its SVM emulation), never on its own.
            tag_read = any(NESTED_TCG_SIGNATURE.search(l) for l in other)
            (tolerated if tag_read else failed).append((vm_label, code, other[:2]))
            print(f"NOTE {label}: {vm_label}: kvmload failed (exit {code}): {other[:2]}")
            continue
        # Its per-VM NOTE lines (timing figures) would be one per VM here.
        with contextlib.redirect_stdout(io.StringIO()) as notes:
            check_migrate.check_run(vm_label, recs, mrecs, mode, backing)
        nnotes += notes.getvalue().count("NOTE ")
    check_migrate.result, check_migrate.require, check_migrate.ground = real
    print(f"NOTE {label}: {nnotes} per-VM timing notes of check_migrate.py left out")
    # The "equal" agreements between counted events and stats deltas, every
    # VM, every interval, judged from the raw fields by the rule of
    # docs/overhead.md (labcheck.agrees), not by the tracer's `agree`; one
    # without its stat does not agree.
    eq = [(r["pid"], a) for r in check_migrate.by_type(mrecs, "interval")
          for a in r["agreement"] if a["relation"] == "equal"]
    bad_eq = [e for e in eq if not labcheck.agrees(e[1])]
    labcheck.ground(eq and not bad_eq, label,
           f"{len(eq)} agreements of event counts with stats deltas (equal within max(2, 1%))", bad_eq[:3])
    require(vms >= 50, label, f"{vms} VMs started and stopped, five at a time", f"only {vms}")
    ran = vms - len(failed) - len(tolerated)
    require(not failed and len(tolerated) <= 1 and ran >= 50, label,
            f"kvmload ran in {ran} of {vms} VMs (their numbers compared)",
           f"{len(failed)} kvmload failures: {failed[:3]}; tag read as an address (nested TCG): "
           f"{tolerated[:2]}")
    for what, runs in outcomes.items():
        bad = [r for r in runs if not r[0]]
        text = f"{len(runs)} VMs: {what}"
        if any(t in what for t in TIMING):
            print(f"NOTE {label}: {text}: {len(runs) - len(bad)} of {len(runs)} within the quiet-lab bound")
            continue
        (labcheck.ground if all(r[4] for r in runs) else result)(
            not bad, label, text, "; ".join(f"{b[1]}: {b[2]}: {b[3]}" for b in bad[:3]))
    for what, runs in preconditions.items():
        bad = [r for r in runs if not r[0]]
        require(not bad, label, f"{len(runs)} VMs: {what}", "; ".join(f"{b[1]}: {b[2]}: {b[3]}" for b in bad[:3]))

    # stats: every VM it showed, it let go exactly once; nothing on stderr.
    shead, srecs, sother = st[0]
    result(shead.endswith("exit=0"), label, "stats ended cleanly on SIGINT", shead)
    serr = get.get("stats stderr", ("", [], []))[2]
    # A VM caught before its VMM opened its stats fds is announced once:
    # the one warning stats may give here.
    other = [l for l in serr if "no binary stats: the VMM holds no binary stats fd" not in l]
    result(not other, label, "stats said nothing on stderr but 'no binary stats yet' warnings",
           other[:3])
    rows = {}
    for line in get.get("stats rows", ("", [], []))[2]:
        n, pid = line.split()
        rows[int(pid)] = int(n)
    exits = defaultdict(int)
    for r in check_migrate.by_type(srecs, "vm"):
        if r.get("event") in ("exited", "closed"):
            exits[r["pid"]] += 1
    pids = [check_migrate.by_type(recs, "start")[0]["pid"] for h, recs, o in secs
            if h.startswith("kvmload ") and check_migrate.by_type(recs, "start")]
    shown = [p for p in pids if p in rows]
    # How many of the short-lived VMs a sampling tool catches depends on how
    # fast the lab runs (a quiet machine makes them shorter): reported. What
    # must hold is that every VM it caught was let go exactly once.
    print(f"NOTE {label}: stats caught {len(shown)} of {len(pids)} short-lived VMs")
    result(shown and all(exits[p] == 1 for p in shown), label,
           f"stats let each of the {len(shown)} VMs it showed go exactly once",
           {p: exits[p] for p in shown if exits[p] != 1} if shown else "no VM shown")

    # export: every scrape answered, a clean stop, nothing on stderr.
    xhead = get.get("export", ("export missing", [], []))[0]
    result(xhead.startswith("export exit=0 "), label, "export ended cleanly on SIGINT", xhead)
    xlines = get.get("export", ("", [], ["0"]))[2]
    result(xhead.endswith(" failed_scrapes=0"), label, "every scrape of export answered",
           f"{xhead}: {[l for l in xlines if l.startswith('wget ') or l.startswith('kvmscope_export')]}")
    result(xlines and xlines[0].isdigit() and int(xlines[0]) > 0, label,
           "export's last scrape has kvmscope metrics", xlines[:1])
    xerr = get.get("export stderr", ("", [], []))[2]
    result(not xerr, label, "export said nothing on stderr", xerr[:3])

    # Resources back to their baseline.
    fig = figures(a.log)
    if not require("baseline" in fig and "after" in fig, label, "resource figures present", list(fig)):
        return exit_status()
    b, e = fig["baseline"], fig["after"]
    print(f"NOTE {label}: baseline {b}")
    print(f"NOTE {label}: after    {e}")
    for k in ("migrate_fds", "stats_fds", "export_fds"):
        result(e[k] <= b[k], label, f"{k.replace('_', ' ')} back to baseline ({b[k]:.0f} -> {e[k]:.0f})",
               f"{b[k]:.0f} -> {e[k]:.0f}")
    # (A thread's entry times, held event and pending memslot live in its
    # task storage, freed with the thread: no map of them to count.)
    for k in ("vm_counters", "vm_slots", "vcpu_slots", "slot_pages", "untracked"):
        result(e[k] == b[k], label, f"BPF map {k}: {b[k]:.0f} entries before, {e[k]:.0f} after",
               "entries left behind by exited VMs")
    # export maps its rendered pages on their own (mallopt in cmd_export.c):
    # before that its collector arena fragmented and its RSS rose by up to
    # 0.9 MB over the first VMs (docs/reliability.md).
    for k in ("migrate_rss_kb", "stats_rss_kb", "export_rss_kb"):
        result(e[k] <= b[k] + RSS_SLACK_KB, label,
               f"{k.split('_')[0]} RSS {b[k]:.0f} kB -> {e[k]:.0f} kB (budget +{RSS_SLACK_KB} kB)",
               "grew")
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
