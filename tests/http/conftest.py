# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures of the HTTP tests (the server itself: octo_server.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from octo_server import OCTO_BIN, SANITIZED, Server, free_port  # noqa: E402,F401


@pytest.fixture
def serve():
    started = []

    def start(*args, config=None, expect_start=True):
        s = Server(args, config, expect_start)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def wait_exit(proc, timeout=20):
    return proc.wait(timeout=timeout)
