# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures of the formats tests: `octo` runs tests/formats/tool_formats
(built in $OCTO_BUILD) and returns its JSON; `shared` is tests/data."""
import json
import os
import pathlib
import subprocess

import pytest

ERR = {0: "OK", -1: "NOMEM", -2: "TOO_LARGE", -3: "PARSE", -4: "IO", -5: "UNSUPPORTED",
       -9: "NOT_FOUND", -10: "INVALID", -14: "INTERNAL"}


def _tool():
    build = os.environ.get("OCTO_BUILD")
    if build:
        return pathlib.Path(build) / "tool_formats"
    return pathlib.Path(__file__).resolve().parents[2] / "build" / "tool_formats"


class Result(dict):
    @property
    def ok(self):
        return self.get("ok") is True

    @property
    def code(self):
        return ERR.get(self.get("rc", 0), str(self.get("rc")))


def run_tool(*args):
    p = subprocess.run([str(_tool()), *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode in (0, 1), f"tool crashed ({p.returncode}): {p.stderr}"
    r = Result(json.loads(p.stdout))
    assert r.ok == (p.returncode == 0)
    return r


@pytest.fixture
def octo():
    return run_tool


@pytest.fixture
def shared():
    return pathlib.Path(os.environ.get(
        "OCTO_TEST_DATA", pathlib.Path(__file__).resolve().parents[1] / "data"))
