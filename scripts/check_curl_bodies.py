#!/usr/bin/env python3
"""Checks that every curl body (-d '...') in the README's and docs' shell
examples is valid JSON, so a copied example is never refused as malformed
(a newline inside a JSON string, say). Run by scripts/test.

    python3 scripts/check_curl_bodies.py README.md docs/*.md
"""
import json
import re
import sys

BLOCK = re.compile(r"```(?:sh|bash)\n(.*?)```", re.S)
BODY = re.compile(r"-d '(.*?)'", re.S)


def main(paths):
    bad = 0
    checked = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for block in BLOCK.findall(text):
            for body in BODY.findall(block):
                checked += 1
                try:
                    json.loads(body)
                except ValueError as e:
                    bad += 1
                    print(f"{path}: a curl body is not JSON ({e}): {body[:100]!r}")
    print(f"curl bodies: {checked} checked, {bad} not JSON")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
