#!/usr/bin/env python3
"""Every relative link of the docs resolves: the file it names exists and,
for a #fragment into a Markdown file, a heading of that file makes that
anchor (GitHub's rule: lower case, punctuation dropped, spaces to dashes,
-1, -2... for repeats). One FAIL line per broken link; one PASS line when
there is none. A planted broken link must be reported."""
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def slug(heading):
    h = re.sub(r"[`*_]", "", heading.strip().lower())
    return "".join(c for c in h if c.isalnum() or c in "-_ ").replace(" ", "-")


def prose(path):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced:
                yield n, line


def anchors(path, cache={}):
    if path not in cache:
        seen, out = {}, set()
        for _, line in prose(path):
            m = re.match(r"#+\s+(.*)", line)
            if m:
                a = slug(m.group(1))
                seen[a] = seen.get(a, -1) + 1
                out.add(a if not seen[a] else f"{a}-{seen[a]}")
        cache[path] = out
    return cache[path]


def broken(path, lines):
    for n, line in lines:
        for m in re.finditer(r"\]\(([^)\s]+)\)", line):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue  # a URL, not a file of ours
            file, _, frag = target.partition("#")
            to = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
            rel = os.path.relpath(path, ROOT)
            if not os.path.exists(to):
                yield f"{rel}:{n}: {target}: no such file"
            elif frag and to.endswith(".md") and frag not in anchors(to):
                yield f"{rel}:{n}: {target}: no such heading"


def main():
    docs = sorted(glob.glob(f"{ROOT}/docs/*.md") + [f"{ROOT}/README.md"] +
                  glob.glob(f"{ROOT}/bench/**/*.md", recursive=True) +
                  glob.glob(f"{ROOT}/tests/**/*.md", recursive=True))
    bad = [b for d in docs for b in broken(d, prose(d))]
    for b in bad:
        print(f"FAIL links: {b}")
    if not bad:
        print(f"PASS links: every relative link and anchor of {len(docs)} Markdown files resolves")
    planted = list(broken(f"{ROOT}/README.md", [(1, "[x](docs/design.md#no-such-heading) [y](docs/nope.md)")]))
    if len(planted) == 2:
        print("PASS links: a planted link to a missing heading and one to a missing file are reported")
    else:
        print(f"FAIL links: planted broken links reported as {planted}")
        bad.append("planted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
