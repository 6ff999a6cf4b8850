# SPDX-License-Identifier: Apache-2.0
"""Black-box HTTP tests of `octo serve`: health, models, keys, routes,
errors, limits, ports, metrics, concurrency and graceful shutdown."""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import time

import requests

from conftest import OCTO_BIN, free_port

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
CHAT_MODEL = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")
EMBED_MODEL = os.path.join(SRC, "tests", "fixtures", "qwen3-embed")
TWO_MODELS = f"""
server:
  host: 127.0.0.1
models:
  - name: LLM
    path: {CHAT_MODEL}
    task: generate
    max_model_len: 1024
    aliases: [qwen3]
  - name: EMBEDDING
    path: {EMBED_MODEL}
    task: embed
"""


def test_health_and_version(serve):
    s = serve(config=TWO_MODELS)
    r = requests.get(s.url + "/health")
    assert r.status_code == 200 and r.json()["status"] == "healthy"  # MinerU checks it
    assert r.headers.get("X-Request-Id")
    r = requests.get(s.url + "/version")
    assert r.status_code == 200 and "version" in r.json()
    s.assert_clean_exit()


def test_models_list_has_vllm_fields(serve):
    s = serve(config=TWO_MODELS)
    r = requests.get(s.url + "/v1/models")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == ["LLM", "qwen3", "EMBEDDING"]
    for m in body["data"]:
        for key in ("id", "object", "created", "owned_by", "root", "parent", "max_model_len",
                    "permission"):
            assert key in m, key
        assert m["object"] == "model"
        assert isinstance(m["created"], int)
        assert m["permission"][0]["object"] == "model_permission"
    llm = body["data"][0]
    assert llm["root"] == CHAT_MODEL and llm["max_model_len"] == 1024
    r = requests.get(s.url + "/v1/models/EMBEDDING")
    assert r.status_code == 200 and r.json()["id"] == "EMBEDDING"
    r = requests.get(s.url + "/v1/models/nope")
    assert r.status_code == 404
    err = r.json()["error"]
    assert "nope" in err["message"] and err["type"] and err["code"] == 404
    s.assert_clean_exit()


def test_openai_client_lists_models(serve):
    import openai
    s = serve(config=TWO_MODELS, *["--api-key", "sk-test"])
    client = openai.OpenAI(base_url=s.url + "/v1", api_key="sk-test")
    assert [m.id for m in client.models.list()] == ["LLM", "qwen3", "EMBEDDING"]
    bad = openai.OpenAI(base_url=s.url + "/v1", api_key="sk-wrong", max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("expected 401")
    except openai.AuthenticationError as e:
        assert e.status_code == 401
    s.assert_clean_exit()


def test_api_keys(serve):
    cfg = TWO_MODELS.replace("  host: 127.0.0.1\n", "  host: 127.0.0.1\n  api_keys: [k1, k2]\n")
    cfg = cfg.replace("    task: embed\n", "    task: embed\n    api_key: emb-key\n")
    s = serve(config=cfg)
    u = s.url + "/v1/models"
    r = requests.get(u)
    assert r.status_code == 401 and "missing API key" in r.json()["error"]["message"]
    assert r.headers.get("WWW-Authenticate") == "Bearer"
    r = requests.get(u, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "invalid API key"
    r = requests.get(u, headers={"Authorization": "Basic k1"})
    assert r.status_code == 401
    for k in ("k1", "k2"):
        r = requests.get(u, headers={"Authorization": "Bearer " + k})
        assert r.status_code == 200 and len(r.json()["data"]) == 3
    # a model's own key sees only that model
    r = requests.get(u, headers={"Authorization": "Bearer emb-key"})
    assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == ["EMBEDDING"]
    r = requests.get(s.url + "/v1/models/LLM", headers={"Authorization": "Bearer emb-key"})
    assert r.status_code == 404
    # public routes need no key
    assert requests.get(s.url + "/health").status_code == 200
    assert requests.get(s.url + "/metrics").status_code == 200
    s.assert_clean_exit()


def test_unknown_route_and_method(serve):
    s = serve(config=TWO_MODELS)
    r = requests.get(s.url + "/v2/nothing")
    assert r.status_code == 404 and "no route" in r.json()["error"]["message"]
    r = requests.delete(s.url + "/v1/models")
    assert r.status_code == 405
    s.assert_clean_exit()


def test_malformed_json_and_unknown_model(serve):
    s = serve(config=TWO_MODELS)
    u = s.url + "/v1/chat/completions"
    r = requests.post(u, data=b'{"model": "LLM", "messages": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert "invalid JSON" in msg and "line 1" in msg
    r = requests.post(u, data=b"[1,2]")
    assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]
    r = requests.post(u, data=b"")
    assert r.status_code == 400
    r = requests.post(u, json={"model": "nope", "messages": []})
    assert r.status_code == 404 and r.json()["error"]["param"] == "model"
    r = requests.post(u, json={"model": 3, "messages": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    s.assert_clean_exit()


def test_body_and_header_limits(serve):
    cfg = TWO_MODELS.replace("  host: 127.0.0.1\n",
                             "  host: 127.0.0.1\n  limits:\n    max_body_bytes: 4096\n"
                             "    max_header_bytes: 8192\n")
    s = serve(config=cfg)
    u = s.url + "/v1/chat/completions"
    big = json.dumps({"model": "LLM", "messages": [{"role": "user", "content": "x" * 8000}]})
    r = requests.post(u, data=big)
    assert r.status_code == 413 and "4096" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit must still hold
        for _ in range(10):
            yield b"x" * 1000
    r = requests.post(u, data=chunks())
    assert r.status_code == 413
    r = requests.get(s.url + "/v1/models", headers={"X-Big": "y" * 20000})
    assert r.status_code in (413, 431)
    # the server is still fine
    assert requests.get(s.url + "/health").status_code == 200
    s.assert_clean_exit()


def test_per_model_port(serve):
    p = free_port()
    cfg = TWO_MODELS.replace("    task: embed\n", f"    task: embed\n    port: {p}\n")
    s = serve(config=cfg)
    r = requests.get(f"http://127.0.0.1:{p}/v1/models")
    assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == ["EMBEDDING"]
    r = requests.get(f"http://127.0.0.1:{p}/v1/models/LLM")
    assert r.status_code == 404
    r = requests.get(s.url + "/v1/models")
    assert len(r.json()["data"]) == 3
    s.assert_clean_exit()


def test_metrics_prometheus_format(serve):
    s = serve(config=TWO_MODELS)
    for _ in range(3):
        requests.get(s.url + "/v1/models")
    requests.get(s.url + "/nope")
    # a request is counted when the server finishes it, just after the client
    # has its answer: give the last one a moment
    for _ in range(50):
        text = requests.get(s.url + "/metrics").text
        if 'octo_http_requests_total{code="4xx"} 1' in text:
            break
        time.sleep(0.02)
    lines = text.splitlines()
    assert "# TYPE octo_http_requests_total counter" in lines
    vals = {l.split(" ")[0]: float(l.split(" ")[1]) for l in lines if l and not l.startswith("#")}
    assert vals['octo_http_requests_total{code="2xx"}'] >= 3
    assert vals['octo_http_requests_total{code="4xx"}'] >= 1
    assert vals['octo_model_info{model="LLM",task="generate"}'] == 1
    assert vals["octo_memory_allocated_bytes"] > 0
    for l in lines:  # every sample line is "name{labels} value"
        if l and not l.startswith("#"):
            name, value = l.rsplit(" ", 1)
            float(value)
    s.assert_clean_exit()


def test_access_log(serve):
    s = serve(config=TWO_MODELS)
    r = requests.get(s.url + "/v1/models", headers={"X-Request-Id": "abc123"})
    assert r.headers["X-Request-Id"] == "abc123"
    s.assert_clean_exit()
    assert any("abc123" in l and '"GET /v1/models" 200' in l for l in s.lines), s.log()


def test_concurrent_requests(serve):
    s = serve(config=TWO_MODELS)

    def hit(i):
        with requests.Session() as sess:
            codes = []
            for _ in range(10):
                path = "/v1/models" if i % 2 else "/v1/models/LLM"
                codes.append(sess.get(s.url + path).status_code)
            return codes
    with concurrent.futures.ThreadPoolExecutor(64) as ex:
        results = list(ex.map(hit, range(64)))
    assert all(c == 200 for codes in results for c in codes)
    s.assert_clean_exit()


def test_graceful_shutdown_finishes_in_flight(serve):
    s = serve(config=TWO_MODELS)
    body = json.dumps({"model": "nope", "messages": []}).encode()
    sock = socket.create_connection(("127.0.0.1", s.port))
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[:5])
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert s.proc.poll() is None, "server quit with a request in flight"
    # new connections are refused while draining
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    sock.sendall(body[5:])
    resp = b""
    while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        resp += chunk
    sock.close()
    assert resp.startswith(b"HTTP/1.1 404"), resp
    assert s.proc.wait(timeout=20) == 0
    s.assert_clean_exit()


def test_sigint_stops_cleanly(serve):
    s = serve(config=TWO_MODELS)
    assert requests.get(s.url + "/health").status_code == 200
    assert s.stop(signal.SIGINT) == 0


def test_context_longer_than_the_model_is_refused():
    p = subprocess.run([OCTO_BIN, "serve", CHAT_MODEL, "--max-model-len", "65536", "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "max_model_len" in p.stderr and "2048" in p.stderr


def test_port_in_use_fails_clearly(serve):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = subprocess.run([OCTO_BIN, "serve", "--port", str(port)], capture_output=True,
                           text=True, timeout=20)
    assert p.returncode == 1 and f"{port}" in p.stderr and "cannot listen" in p.stderr


def test_vllm_command_line_works_unchanged(serve):
    # the reference deployment's LLM line, as given to `vllm serve`
    s = serve(CHAT_MODEL, "--served-model-name", "LLM", "--host", "127.0.0.1",
              "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.75",
              "--max-model-len", "1024", "--enable-auto-tool-choice", "--tool-call-parser",
              "hermes", "--api-key", "sk-ref", "--trust-remote-code")
    r = requests.get(s.url + "/v1/models", headers={"Authorization": "Bearer sk-ref"})
    assert r.status_code == 200
    (m,) = r.json()["data"]
    assert m["id"] == "LLM" and m["root"] == CHAT_MODEL
    assert m["max_model_len"] == 1024
    assert requests.get(s.url + "/v1/models").status_code == 401
    s.assert_clean_exit()


def test_reference_config_checks(serve):
    src = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
    ref = os.path.join(src, "examples", "reference-8xL20.yaml")
    text = open(ref).read()
    # same file, but on free ports so the test does not collide
    import re
    ports = {}
    def repl(m):
        ports.setdefault(m.group(1), free_port())
        return f"port: {ports[m.group(1)]}"
    # the weights are not here: --check reads and validates without loading
    p = subprocess.run([OCTO_BIN, "serve", "--config", ref, "--check"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    for n in ("LLM", "VLM", "EMBEDDING", "RERANKER", "ASR", "MINERU"):
        assert re.search(rf"^model {n}: task \w+", p.stdout, re.M), (n, p.stdout)
    assert "port 10000" in p.stdout
