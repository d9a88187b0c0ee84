"""What the lab checkers share: PASS/FAIL lines, and the console log split
into the "=== NAME" sections the guest scripts print."""
import argparse
import json

_failed = 0


def result(ok, label, what, detail=""):
    """One case line for tests/run; remembers failures for exit_status()."""
    global _failed
    print(f"PASS {label}: {what}" if ok else f"FAIL {label}: {what}: {detail}")
    _failed += 0 if ok else 1


def exit_status():
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
    """The checkers' command line: --label (default_label), any extra
    (flag, help) switches, and the console log."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default=default_label)
    for flag, what in extra:
        ap.add_argument(flag, action="store_true", help=what)
    ap.add_argument("log")
    return ap.parse_args()


def tracer_run(secs, name, label):
    """The JSON records of the section "NAME exit=RC" among secs (as
    check_migrate.parse_sections returns them), with its clean exit on
    SIGINT and its valid JSON asserted; None, and a failure, if absent."""
    got = [s for s in secs if s[0].startswith(name + " exit=")]
    if not got:
        result(False, label, f"{name} output present", [s[0] for s in secs][-3:])
        return None
    head, recs, other = got[0]
    result(head.endswith("exit=0"), label, f"{name} ended cleanly on SIGINT", head)
    bad = [l for l in other if l.startswith("bad JSON")]
    result(not bad, label, f"{name} output is valid JSON lines", bad[:2])
    return recs
