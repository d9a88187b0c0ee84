"""The Grafana dashboard's queries (deploy/grafana/kvmscope.json) as plain
PromQL, for the checks that run them: every panel target, and each query
variable's label_values(SELECTOR, LABEL) as `count by (LABEL) (SELECTOR)`.
Template variables become what Grafana sends for "All": $instance and $vm
the regex .*, $__rate_interval 1m."""
import json
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
PATH = os.path.join(ROOT, "deploy", "grafana", "kvmscope.json")
VALUES = {"__rate_interval": "1m", "instance": ".*", "vm": ".*"}
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$")


def load(path=PATH):
    with open(path) as f:
        return json.load(f)


def substitute(expr):
    """expr with the template variables replaced; ValueError if one is unknown."""
    def var(m):
        name = m.group(1) or m.group(2)
        if name not in VALUES:
            raise ValueError(f"unknown template variable ${name} in {expr!r}")
        return VALUES[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, expr)


def panels(dash):
    """Every panel, those inside collapsed rows too."""
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])


def queries(dash):
    """[(name, promql)]: every panel target, then every query variable."""
    out = []
    for p in panels(dash):
        for t in p.get("targets", []):
            out.append((f"panel {p['id']} '{p['title']}' {t['refId']}", substitute(t["expr"])))
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = LABEL_VALUES.match(q)
        if not m:
            raise ValueError(f"variable {v['name']}: not label_values(SELECTOR, LABEL): {q!r}")
        out.append((f"variable {v['name']}", f"count by ({m.group(2)}) ({substitute(m.group(1))})"))
    return out
