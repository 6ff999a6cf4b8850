# SPDX-License-Identifier: Apache-2.0
"""Long requests stop when their client leaves, measured by the server
process's CPU time (/proc): an embedding batch of 2048 inputs (245 760 tokens, about 3 CPU-s) and a
non-streamed generation of many choices. (Streams: test_connections.py;
/file_parse: tests/doc/test_parse_cancel.py.)"""
import json
import os
import socket
import time

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
FIX = os.path.join(SRC, "tests", "fixtures")
TICK = os.sysconf("SC_CLK_TCK")
CONFIG = f"""
server:
  host: 127.0.0.1
models:
  - name: chat
    path: {FIX}/qwen3-chat
    task: generate
    max_model_len: 2048
  - name: emb
    path: {FIX}/qwen3-embed
    task: embed
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def send(port, path, obj):
    body = json.dumps(obj).encode()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body)
    return c


def abandon_and_measure(s, path, obj, busy_s=1.0):
    """Starts a request, waits until it has kept the server busy for
    0.6 * busy_s CPU-seconds (sanitizer builds parse the body slower), leaves,
    and returns the CPU seconds burnt 0.5..2.5 s after leaving."""
    c0 = cpu_seconds(s.proc.pid)
    c = send(s.port, path, obj)
    deadline = time.monotonic() + 10 * busy_s
    while cpu_seconds(s.proc.pid) - c0 < 0.6 * busy_s and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = cpu_seconds(s.proc.pid) - c0
    assert busy >= 0.6 * busy_s, f"the request did not keep the server busy ({busy:.2f} CPU-s)"
    c.close()
    time.sleep(0.5)
    c1 = cpu_seconds(s.proc.pid)
    time.sleep(2.0)
    return busy, cpu_seconds(s.proc.pid) - c1


def test_abandoned_embedding_batch_and_generation_stop(serve):
    s = serve(config=CONFIG)
    ids = [[(i * 7 + j) % 500 + 1 for j in range(120)] for i in range(2048)]
    busy, after = abandon_and_measure(s, "/v1/embeddings", {"model": "emb", "input": ids}, 0.8)
    print(f"embeddings: {busy:.2f} CPU-s in the first second, {after:.2f} CPU-s in 2 s "
          f"after the client left")
    assert after < 0.3, after
    assert "batch cancelled" in s.log()
    gen = {"model": "chat", "n": 64, "max_tokens": 2000, "ignore_eos": True, "temperature": 1,
           "messages": [{"role": "user", "content": "Tell me a long story"}]}
    busy, after = abandon_and_measure(s, "/v1/chat/completions", gen, 0.8)
    print(f"generation: {busy:.2f} CPU-s in the first second, {after:.2f} CPU-s in 2 s "
          f"after the client left")
    assert after < 0.3, after
    deadline = time.monotonic() + 5
    while '"POST /v1/chat/completions" 499' not in s.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"POST /v1/chat/completions" 499' in s.log()
    s.assert_clean_exit()
