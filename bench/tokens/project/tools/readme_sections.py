#!/usr/bin/env python3
"""Lists README.md's sections, or with --commands the commands its code blocks show."""

import re
import sys


def sections(text):
    out, name, body = [], None, []
    for line in text.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*)", line)
        if m:
            if name is not None:
                out.append((name, body))
            name, body = m.group(2).strip(), []
        else:
            body.append(line)
    if name is not None:
        out.append((name, body))
    return out


def commands(body):
    inside, cmds = False, []
    for line in body:
        if line.startswith("```"):
            inside = not inside
        elif inside and line.strip():
            cmds.append(line.strip())
    return cmds


def main(argv):
    text = open("README.md", encoding="utf-8").read()
    for name, body in sections(text):
        if "--commands" in argv:
            for c in commands(body):
                print(f"{name}\t{c}")
        else:
            print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
