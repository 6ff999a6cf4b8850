#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tools/readme_curls.py [URL] — run every curl example of README.md against
a running `octo serve` (default http://127.0.0.1:8000, what ./scripts/run
serves) and fail unless each answers 2xx with a body. Standard library only,
so that tools/fresh-debian-test can run it where no Python package index is
reachable; tests/api/test_readme.py reads the examples with the same code."""
import os
import re
import subprocess
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def readme_curls(readme=os.path.join(TOP, "README.md")):
    """Every command of README.md's sh blocks that starts with curl, with its
    continuation lines (a trailing backslash or an open single quote)."""
    text = open(readme).read()
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        cur = None
        for line in block.splitlines():
            if cur is None:
                if not line.lstrip().startswith("curl "):
                    continue
                cur = line
            else:
                cur += "\n" + line
            if cur.count("'") % 2 == 0 and not cur.rstrip().endswith("\\"):
                cmds.append(cur)
                cur = None
        if cur is not None:
            raise ValueError(f"unterminated curl example in README.md: {cur}")
    return cmds


def run_curl(cmd, hostport):
    """Runs one example against hostport; returns (status, body, stderr)."""
    run = cmd.replace("localhost:8000", hostport, 1)
    if run == cmd:
        raise ValueError(f"a README curl example does not talk to localhost:8000: {cmd}")
    run = re.sub(r"^(\s*)curl ", r"\1curl -sS -w '\\n%{http_code}' ", run, count=1)
    p = subprocess.run(["bash", "-c", run], cwd=TOP, capture_output=True, text=True,
                       timeout=120)
    body, _, status = p.stdout.rpartition("\n")
    return (status if p.returncode == 0 else f"curl exit {p.returncode}"), body, p.stderr


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    hostport = re.sub(r"^https?://", "", url).rstrip("/")
    bad = 0
    for cmd in readme_curls():
        status, body, err = run_curl(cmd, hostport)
        ok = status.startswith("2") and body.strip()
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {status} {' '.join(cmd.split())[:90]}")
        if not ok:
            print(body[:500], err[:500])
    print(f"readme_curls: {bad} failed" if bad else "readme_curls: every example answered")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
