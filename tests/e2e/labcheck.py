"""What the lab checkers share: PASS/FAIL lines, and the console log split
into the "=== NAME" sections the guest scripts print."""
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
