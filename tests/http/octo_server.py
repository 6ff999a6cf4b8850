# SPDX-License-Identifier: Apache-2.0
"""The real `octo serve` under test: start it on a free port with a config
written to a temp dir on a free port with a config written to a temp dir, read its
log, stop it with a signal and check it exited cleanly."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import requests

OCTO_BIN = os.environ.get("OCTO_BIN", os.path.join(os.path.dirname(__file__), "../../build/octo"))
SANITIZED = os.environ.get("OCTO_SANITIZE", "OFF").upper() in ("ON", "1", "TRUE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, config_text=None, expect_start=True, start_timeout=20):
        self.tmp = tempfile.mkdtemp(prefix="octo-test-")
        cmd = [OCTO_BIN, "serve"]
        if config_text is not None:
            path = os.path.join(self.tmp, "octo.yaml")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        cmd += list(args)
        if "--port" not in args and not (config_text and re.search(r"^\s*port:", config_text, re.M)):
            cmd += ["--port", "0"]
        self.lines = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = None
        if expect_start:
            self._wait_listening(start_timeout)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def _wait_listening(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in list(self.lines):
                m = re.search(r"listening on http://[^:]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("octo serve exited early:\n" + "".join(self.lines))
            time.sleep(0.02)
        raise RuntimeError("octo serve did not start:\n" + "".join(self.lines))

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return "".join(self.lines)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def assert_clean_exit(self):
        rc = self.stop()
        log = self.log()
        assert rc == 0, f"exit code {rc}\n{log}"
        for bad in ("LeakSanitizer", "AddressSanitizer", "runtime error:", "assertion failed"):
            assert bad not in log, log


