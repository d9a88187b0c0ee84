#!/usr/bin/env python3
"""The tracer's dependency direction, checked from its #include lines
(docs/design.md, "Code layout"): commands -> session -> model <- sinks.

Every file under tracer/ belongs to a layer; a file may include files of its
own layer and of the layers below it, and nothing else. The session and the
sinks sit side by side above the model: neither includes the other (the
session knows the sink interface, migrate/sink.h, which is the model's).
And no two units (a .c with its .h) include each other, directly or round
a longer loop.

A FAIL line names the file, the include and the rule. The check is run a
second time on the tree with one bad include added, which must be reported:
a check that cannot fail is no check."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# Layer of each path (first match wins), lowest first.
LAYERS = [
    ("lib", 0, r"lib/"),
    ("kvm", 1, r"kvm/"),
    ("export-protocol", 1, r"export/(httpd|promtext)\."),
    ("hooks", 2, r"hooks/"),
    ("model", 3, r"migrate/(model|interval|counters|sink)\."),
    ("sinks", 4, r"migrate/sink_|export/prom_sink\."),
    ("session", 4, r"session/"),
    ("commands", 5, r"."),
]
SIDE_BY_SIDE = {("session", "sinks"), ("sinks", "session")}


def layer(path):
    for name, rank, pattern in LAYERS:
        if re.match(pattern, path):
            return name, rank
    raise AssertionError(path)


def includes(tree):
    """{file: [included tracer files]} for every .c and .h under tree."""
    out = {}
    for d, _, files in os.walk(tree):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            p = os.path.relpath(os.path.join(d, f), tree)
            with open(os.path.join(d, f)) as fh:
                inc = re.findall(r'^#include "([^"]+)"', fh.read(), re.M)
            out[p] = [i for i in inc if os.path.exists(os.path.join(tree, i))]
    return out


def violations(graph):
    bad = []
    for f, incs in sorted(graph.items()):
        lf, rf = layer(f)
        for i in incs:
            li, ri = layer(i)
            if (lf, li) in SIDE_BY_SIDE:
                bad.append(f"{f} includes {i}: the {lf} and the {li} must not know each other")
            elif ri > rf:
                bad.append(f"{f} ({lf}) includes {i} ({li}), a layer above it")
    # Units: a .c and its .h are one; a loop between units is a cycle.
    unit = lambda p: os.path.splitext(p)[0]
    edges = {}
    for f, incs in graph.items():
        edges.setdefault(unit(f), set()).update(unit(i) for i in incs if unit(i) != unit(f))
    state = {}

    def visit(u, stack):
        state[u] = 1
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                loop = stack[stack.index(v):] + [v] if v in stack else [u, v]
                bad.append("include loop: " + " -> ".join(loop))
            elif not state.get(v):
                visit(v, stack + [v])
        state[u] = 2

    for u in sorted(edges):
        if not state.get(u):
            visit(u, [u])
    return bad


def main():
    tree = os.path.join(ROOT, "tracer")
    graph = includes(tree)
    bad = violations(graph)
    for b in bad:
        print(f"FAIL layout: {b}")
    if not bad:
        print(f"PASS layout: {len(graph)} files of tracer/ include only their own layer and those below "
              "(commands -> session -> model <- sinks) and no two units include each other")
    # The check can fail: the model made to know a sink, and a loop.
    graph["migrate/model.c"] = graph.get("migrate/model.c", []) + ["migrate/sink_text.c"]
    graph["lib/json.c"] = graph.get("lib/json.c", []) + ["lib/log.h"]
    graph["lib/log.c"] = graph.get("lib/log.c", []) + ["lib/json.h"]
    planted = violations(graph)
    want = ["migrate/model.c (model) includes migrate/sink_text.c (sinks)", "include loop: "]
    if all(any(w in b for b in planted) for w in want):
        print("PASS layout: a planted upward include and a planted loop are reported")
    else:
        print("FAIL layout: planted faults not reported: " + "; ".join(planted))
        bad.append("planted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
