"""What the lab checkers (tests/lab/*/check.py) share: PASS/FAIL lines,
preconditions, the console log split into the "=== NAME" sections the guest
scripts print, the rule of docs/overhead.md for comparing counted events
with KVM's statistics, and one checker's functions for another."""
import argparse
import importlib.util
import json
import os
import sys

_failed = 0
_required = 0
_passed = 0
_ground = 0
_label = None


def result(ok, label, what, detail=""):
    """One case line for tests/run; remembers failures for exit_status()."""
    global _failed, _passed, _label
    print(f"PASS {label}: {what}" if ok else f"FAIL {label}: {what}: {detail}")
    _failed += 0 if ok else 1
    _passed += 1 if ok else 0
    _label = _label or label.split(":")[0]


def ground(ok, label, what, detail=""):
    """A check against ground truth: what kvmload measured or KVM reported
    to it, KVM's own statistics, QEMU's answers, /proc. One case line as
    result(); counted apart (exit_status() prints how many passed)."""
    global _ground
    result(ok, label, what, detail)
    _ground += 1 if ok else 0


def require(ok, label, what, detail=""):
    """A precondition: a fact of the test's own setup (the workload ran, a
    section is there, one summary per VM), not a finding about kvmscope.
    Silent when it holds (not counted as a pass); a FAIL line, like any
    failed check, when it does not. Returns ok, so a checker can stop."""
    global _failed, _required, _label
    _required += 1
    _label = _label or label.split(":")[0]
    if not ok:
        print(f"FAIL {label}: precondition: {what}: {detail}")
        _failed += 1
    return bool(ok)


def exit_status():
    """The checker's exit status, after its closing NOTE: how many of its
    passes compared kvmscope with ground truth (tests/run adds them up),
    and how many preconditions it checked."""
    print(f"NOTE {_label}: {_ground} of {_passed} passes against ground truth; "
          f"{_required} preconditions checked (not counted as passes)")
    return 1 if _failed else 0


def sections(path):
    """{"NAME": [lines]} for every "=== NAME" header of a console log."""
    out, cur = {}, None
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        if line.startswith("=== "):
            cur = line[4:]
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def records(lines):
    """The JSON lines among lines."""
    return [json.loads(l) for l in lines if l.startswith("{")]


def args(default_label, *extra):
    """The checkers' command line: --label (default_label), --series (the
    kernel has the KVM series: its fields must be there), any extra (flag,
    help) switches, and the console log."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default=default_label)
    ap.add_argument("--series", action="store_true",
                    help="the lab kernel has the KVM series: fields only it gives must be there")
    for flag, what in extra:
        ap.add_argument(flag, action="store_true", help=what)
    ap.add_argument("log")
    return ap.parse_args()


def checker(name):
    """tests/lab/NAME/check.py as a module (check_NAME), for the checkers
    that apply another test's checks to their own runs."""
    mod = "check_" + name.replace("-", "_")
    if mod in sys.modules:
        return sys.modules[mod]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name, "check.py")
    spec = importlib.util.spec_from_file_location(mod, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[mod] = m
    spec.loader.exec_module(m)
    return m


def agrees(a):
    """One entry of an interval's `agreement` (docs/json.md) judged from its
    raw fields by the rule docs/overhead.md states, not by the tracer's own
    `agree`: "equal" within max(2, 1%) of the counted events (counters and
    stats are read microseconds apart while the guest runs); "within" (faults
    vs pf_taken) from 10% fewer (MMIO and retried faults KVM does not count)
    to 5% more; "exact" equal, no slack. A compared relation without its
    stat (no stat_delta) does not agree. "info" is shown only: None."""
    rel = a["relation"]
    if rel == "info":
        return None
    if "stat_delta" not in a:
        return False
    seen, stat = a["seen"], a["stat_delta"]
    if rel == "equal":
        return abs(stat - seen) <= max(2, seen / 100)
    if rel == "within":
        return seen * 0.9 <= stat <= seen * 1.05
    if rel == "exact":
        return stat == seen
    return False


def rmap_bytes(base_gfn, npages):
    """The rmap bytes of a memslot: 8 per gfn for each of the 4K, 2M and 1G
    levels over its gfn range (docs/rmap.md)."""
    return sum((((base_gfn + npages - 1) >> s) - (base_gfn >> s) + 1) * 8 for s in (0, 9, 18))


def tracer_run(secs, name, label):
    """The JSON records of the section "NAME exit=RC" among secs (as
    check_migrate.parse_sections returns them), with its clean exit on
    SIGINT and its valid JSON asserted; None, and a failure, if absent."""
    got = [s for s in secs if s[0].startswith(name + " exit=")]
    if not require(got, label, f"{name} output present", [s[0] for s in secs][-3:]):
        return None
    head, recs, other = got[0]
    result(head.endswith("exit=0"), label, f"{name} ended cleanly on SIGINT", head)
    bad = [l for l in other if l.startswith("bad JSON")]
    result(not bad, label, f"{name} output is valid JSON lines", bad[:2])
    return recs
