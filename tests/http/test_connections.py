# SPDX-License-Identifier: Apache-2.0
"""Black-box tests of the connection layer of `octo serve`: floods of idle
and slow connections, whole-request deadlines, connection limits (global and
per client address, 503 with Retry-After), the per-key rate limit (429), the
lingering close after an early 413, and streaming with disconnect detection.

Floods come from other loopback addresses (127.0.0.2, 127.0.0.3) so that the
per-address limit can be told apart from the global one; the probes come
from 127.0.0.1."""
import json
import os
import re
import resource
import socket
import threading
import time

import requests

from conftest import SANITIZED

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
CHAT_MODEL = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")
# The probes must answer within this; sanitizer builds get more room.
FAST_S = 1.0 if not SANITIZED else 3.0


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def config(limits="", keys=""):
    lim = "".join(f"    {line}\n" for line in limits.strip().splitlines()) if limits else ""
    return (f"server:\n  host: 127.0.0.1\n{keys}" + (f"  limits:\n{lim}" if lim else "") +
            f"models:\n  - name: chat\n    path: {CHAT_MODEL}\n    task: generate\n"
            f"    max_model_len: 512\n")


def connect(port, src="127.0.0.1", timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(src, 0))


def read_all(sock, limit_s=5):
    sock.settimeout(limit_s)
    out = b""
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def metric(url, name):
    text = requests.get(url + "/metrics", timeout=5).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


def chat(url):
    return requests.post(url + "/v1/chat/completions", timeout=10, json={
        "model": "chat", "temperature": 0, "max_tokens": 4,
        "messages": [{"role": "user", "content": "Hello"}]})


def test_flood_of_2000_idle_and_slow_connections(serve):
    """1 000 idle and 1 000 slow-header connections (a line every 0.5 s):
    /health and a chat request are answered within a second throughout;
    the slow ones get 408 at the head deadline and the idle ones are closed,
    so the flood is bounded in time."""
    raise_fd_limit(8192)
    s = serve(config=config("""
max_connections: 3000
max_connections_per_address: 1200
header_timeout_s: 4
"""))
    idle, slow = [], []
    t0 = time.monotonic()
    for _ in range(1000):
        idle.append(connect(s.port, "127.0.0.2"))
    for _ in range(1000):
        c = connect(s.port, "127.0.0.3")
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        slow.append(c)
    stop = threading.Event()

    def drip():  # one more header line on every slow connection each 0.5 s
        i = 0
        while not stop.is_set():
            for c in slow:
                try:
                    c.sendall(b"X-Slow-%d: y\r\n" % i)
                except OSError:
                    pass
            i += 1
            stop.wait(0.5)
    th = threading.Thread(target=drip, daemon=True)
    th.start()
    try:
        # every flood connection is open at the server
        deadline = time.monotonic() + 3
        while metric(s.url, "octo_http_connections_open") < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metric(s.url, "octo_http_connections_open") >= 2000
        worst = 0.0
        for _ in range(5):
            r, dt = timed(lambda: requests.get(s.url + "/health", timeout=5))
            assert r.status_code == 200
            worst = max(worst, dt)
            r, dt = timed(lambda: chat(s.url))
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] is not None
            worst = max(worst, dt)
        print(f"flood: 2000 connections open after {time.monotonic() - t0:.2f}s; "
              f"worst /health or chat latency {worst * 1e3:.1f} ms")
        assert worst < FAST_S, worst
        assert time.monotonic() - t0 < 4, "the probes ran past the head deadline"
    finally:
        stop.set()
        th.join()
    # bounded in time: slow heads get 408, idle connections are closed
    got_408 = sum(read_all(c, 6).startswith(b"HTTP/1.1 408") for c in slow)
    assert got_408 == 1000
    assert sum(read_all(c, 6) == b"" for c in idle) == 1000
    print(f"flood: all 1000 slow connections got 408 and all 1000 idle ones were closed "
          f"{time.monotonic() - t0:.2f}s after the flood began (header_timeout_s 4)")
    assert time.monotonic() - t0 < 15
    for c in idle + slow:
        c.close()
    deadline = time.monotonic() + 5
    while metric(s.url, "octo_http_connections_open") > 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metric(s.url, "octo_http_connections_open") <= 3
    assert metric(s.url, "octo_http_request_timeouts_total") >= 1000
    s.assert_clean_exit()


def test_over_capacity_answers_503_with_retry_after(serve):
    s = serve(config=config("""
max_connections: 40
max_connections_per_address: 0
retry_after_s: 7
"""))
    held = [connect(s.port, "127.0.0.2") for _ in range(40)]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        extra = connect(s.port, "127.0.0.4")
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = read_all(extra, 3)
        extra.close()
        if resp.startswith(b"HTTP/1.1 503"):
            break
        time.sleep(0.05)  # the held connections may still be in the backlog
    assert resp.startswith(b"HTTP/1.1 503"), resp
    assert b"Retry-After: 7\r\n" in resp
    assert b"connection limit" in resp
    for c in held:
        c.close()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            if requests.get(s.url + "/health", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    assert requests.get(s.url + "/health", timeout=2).status_code == 200
    assert metric(s.url, "octo_http_connections_rejected_total") >= 1
    s.assert_clean_exit()


def test_max_connections_above_1024_is_honoured(serve):
    raise_fd_limit(8192)
    s = serve(config=config("""
max_connections: 1500
max_connections_per_address: 0
"""))
    held = [connect(s.port, "127.0.0.2") for _ in range(1400)]
    deadline = time.monotonic() + 3
    while metric(s.url, "octo_http_connections_open") < 1400 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(s.url, "octo_http_connections_open") >= 1400
    r = requests.get(s.url + "/health", timeout=2)  # connection number 1401
    assert r.status_code == 200
    for c in held:
        c.close()
    s.assert_clean_exit()


def test_per_address_limit(serve):
    s = serve(config=config("""
max_connections_per_address: 20
"""))
    held = [connect(s.port, "127.0.0.2") for _ in range(20)]
    time.sleep(0.3)
    extra = connect(s.port, "127.0.0.2")
    extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = read_all(extra, 3)
    assert resp.startswith(b"HTTP/1.1 503"), resp
    assert b"Retry-After: 1\r\n" in resp and b"this address" in resp
    # another address is not affected
    r, dt = timed(lambda: requests.get(s.url + "/health", timeout=2))
    assert r.status_code == 200 and dt < FAST_S
    held[0].close()
    time.sleep(0.3)
    again = connect(s.port, "127.0.0.2")
    again.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_all(again, 3).startswith(b"HTTP/1.1 200")
    for c in held[1:]:
        c.close()
    s.assert_clean_exit()


def test_whole_request_deadline_counts_the_body(serve):
    s = serve(config=config("""
read_timeout_s: 2
header_timeout_s: 2
"""))
    c = connect(s.port)
    c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    t0 = time.monotonic()
    got = b""
    c.settimeout(0.2)
    while time.monotonic() - t0 < 6:  # one body byte every 0.2 s is never "silent"
        try:
            c.sendall(b"x")
        except OSError:
            break
        try:
            b = c.recv(4096)
            if not b:
                break
            got += b
        except socket.timeout:
            pass
    elapsed = time.monotonic() - t0
    got += read_all(c, 1)
    assert got.startswith(b"HTTP/1.1 408"), got
    assert b"Connection: close" in got
    assert 1.5 < elapsed < 4, elapsed
    # a slow head is cut the same way
    c = connect(s.port)
    t0 = time.monotonic()
    c.sendall(b"GET /health HTTP/1.1\r\n")
    got = b""
    c.settimeout(0.3)
    while time.monotonic() - t0 < 6 and not got:
        try:
            c.sendall(b"X-A: b\r\n")
            got = c.recv(4096)
        except socket.timeout:
            pass
        except OSError:
            break
    assert got.startswith(b"HTTP/1.1 408"), got
    assert time.monotonic() - t0 < 4
    s.assert_clean_exit()


def test_early_413_is_read_by_a_client_that_writes_first(serve):
    s = serve(config=config("""
max_body_bytes: 4096
"""))
    body = b"x" * (4 << 20)
    for _ in range(3):
        c = connect(s.port)
        c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        c.sendall(body)  # the whole body before reading, like many clients
        resp = read_all(c, 5)
        c.close()
        assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
        assert b"4096" in resp
    # requests (writes the whole body, then reads)
    r = requests.post(s.url + "/v1/chat/completions", data=body, timeout=10)
    assert r.status_code == 413
    assert requests.get(s.url + "/health", timeout=2).status_code == 200
    s.assert_clean_exit()


def test_rate_limit_per_key_answers_429(serve):
    s = serve(config=config("""
rate_limit_per_minute: 60
rate_limit_burst: 2
""", keys="  api_keys: [k1, k2]\n"))
    h1 = {"Authorization": "Bearer k1"}
    codes = [requests.get(s.url + "/v1/models", headers=h1, timeout=2).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429], codes
    r = requests.get(s.url + "/v1/models", headers=h1, timeout=2)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["type"] == "rate_limit_error"
    # another key has its own bucket; public routes are not limited
    assert requests.get(s.url + "/v1/models", headers={"Authorization": "Bearer k2"},
                        timeout=2).status_code == 200
    assert all(requests.get(s.url + "/health", timeout=2).status_code == 200 for _ in range(5))
    time.sleep(1.1)
    assert requests.get(s.url + "/v1/models", headers=h1, timeout=2).status_code == 200
    s.assert_clean_exit()


def test_stream_and_disconnect_detection(serve):
    s = serve(config=config())
    body = {"model": "chat", "temperature": 0, "max_tokens": 16, "stream": True,
            "messages": [{"role": "user", "content": "Hello"}]}
    with requests.post(s.url + "/v1/chat/completions", json=body, stream=True, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert r.headers.get("Transfer-Encoding") == "chunked"
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == b"data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"
    # a client that leaves mid-stream cancels its request
    body["max_tokens"] = 400
    body["ignore_eos"] = True
    c = connect(s.port)
    payload = json.dumps(body).encode()
    c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
              b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
    c.settimeout(5)
    assert c.recv(4096).startswith(b"HTTP/1.1 200")
    c.close()
    deadline = time.monotonic() + 10
    while "client went away" not in s.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "client went away" in s.log()
    # keep-alive: two requests on one connection, then a pipelined pair
    c = connect(s.port)
    c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    resp = read_all(c, 3)
    assert resp.count(b"HTTP/1.1 200 OK") == 2 and b'"version"' in resp
    s.assert_clean_exit()
