# SPDX-License-Identifier: Apache-2.0
"""Many models in one process: a chat, an embedding and a reranker model,
each reachable by name on the main port and alone on its own port (a
one-model server, as a vLLM process of that model), under concurrent
traffic to all three; plus a broken entry (a path that does not exist)
that is reported in /health and /v1/models, answers 503 naming its error,
and takes nothing else down. Answers are checked against the transformers
oracles of the fixtures. Also: the settings that this build cannot honour
are refused at start with a message naming the model and the key."""
import concurrent.futures as cf
import json
import os
import re
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import CASES, MODEL, device_lines, on_device
from octo_server import OCTO_BIN, Server, free_port

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
EMBED = os.path.join(SRC, "tests", "fixtures", "qwen3-embed")
RERANK = os.path.join(SRC, "tests", "fixtures", "qwen3-rerank")
EMB_REF = json.load(open(os.path.join(EMBED, "ref.json")))["cases"][0]
RR_REF = json.load(open(os.path.join(RERANK, "ref.json")))["cases"]
RR_DEFAULT = [c for c in RR_REF if c["instruction"] is None]
TOL = 4e-2 if on_device() else 1e-4
PORTS = {n: free_port() for n in ("chat", "emb", "rr", "broken", "parser")}


@pytest.fixture(scope="module")
def server():
    s = Server(["--port", "0"], f"""
server:
  host: 127.0.0.1
models:
  - name: chat
    path: {MODEL}
    port: {PORTS["chat"]}
{device_lines()}  - name: emb
    path: {EMBED}
    task: embed
    port: {PORTS["emb"]}
{device_lines()}  - name: broken
    path: /nonexistent/octo-model
    port: {PORTS["broken"]}
  - name: rr
    path: {RERANK}
    task: score
    aliases: [reranker]
    port: {PORTS["rr"]}
{device_lines()}  - name: parser
    task: parse
    path: builtin
    port: {PORTS["parser"]}
""")
    # the model ports open after the main one: wait for the start-up table
    deadline = time.time() + 20
    while "STATE" not in s.log() and time.time() < deadline:
        time.sleep(0.05)
    yield s
    s.assert_clean_exit()


def at(port):
    return f"http://127.0.0.1:{port}"


def chat(url, model="chat"):
    c = CASES["capital"]
    return requests.post(url + "/v1/chat/completions", timeout=60, json={
        "model": model, "messages": c["messages"], "temperature": 0,
        "max_tokens": len(c["completion_ids"])})


def embed(url, model="emb"):
    return requests.post(url + "/v1/embeddings", timeout=60,
                         json={"model": model, "input": EMB_REF["text"]})


def rerank(url, model="rr"):
    q = RR_DEFAULT[0]["query"]
    docs = [c for c in RR_DEFAULT if c["query"] == q]
    return docs, requests.post(url + "/v1/rerank", timeout=60, json={
        "model": model, "query": q, "documents": [c["document"] for c in docs]})


def check_chat(r):
    assert r.status_code == 200, r.text
    # no reasoning parser configured: the reply as the oracle printed it
    assert r.json()["choices"][0]["message"]["content"] == CASES["capital"]["completion_text"]


def check_embed(r):
    assert r.status_code == 200, r.text
    v = r.json()["data"][0]["embedding"]
    assert max(abs(a - b) for a, b in zip(v, EMB_REF["embedding"])) < TOL


def check_rerank(docs, r):
    assert r.status_code == 200, r.text
    for x in r.json()["results"]:
        assert abs(x["relevance_score"] - docs[x["index"]]["score"]) < TOL, x


def test_startup_table(server):
    log = server.log()
    for name, task, port in (("chat", "generate", PORTS["chat"]), ("emb", "embed", PORTS["emb"]),
                             ("rr", "score", PORTS["rr"])):
        assert re.search(rf"^\s+{name}\s+{task}\s+(cpu|cuda:\d+)\s+{port}\s+\d+\s+ready$", log,
                         re.M), log
    assert re.search(rf"^\s+broken\s+generate\s+cpu\s+{PORTS['broken']}\s+-\s+error$", log, re.M), log
    assert re.search(r"^\s+error: .*/nonexistent/octo-model", log, re.M), log


def test_by_name_on_the_main_port(server):
    check_chat(chat(server.url))
    check_embed(embed(server.url))
    check_rerank(*rerank(server.url))
    check_rerank(*rerank(server.url, "reranker"))  # an alias


def test_each_on_its_own_port(server):
    check_chat(chat(at(PORTS["chat"])))
    check_embed(embed(at(PORTS["emb"])))
    check_rerank(*rerank(at(PORTS["rr"])))
    # without a model name, a model's port serves its model
    r = requests.post(at(PORTS["emb"]) + "/v1/embeddings", json={"input": "x"}, timeout=60)
    assert r.status_code == 200 and r.json()["model"] == "emb", r.text
    # /v1/models there lists that model alone
    ids = [m["id"] for m in requests.get(at(PORTS["rr"]) + "/v1/models", timeout=10).json()["data"]]
    assert ids == ["rr", "reranker"]


def test_other_models_on_a_model_port_are_unknown(server):
    # as a vLLM server of one model: another name does not exist there
    r = embed(at(PORTS["chat"]), "emb")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["message"] == "The model `emb` does not exist."
    r = chat(at(PORTS["rr"]), "chat")
    assert r.status_code == 404, r.text
    r = requests.get(at(PORTS["emb"]) + "/v1/models/chat", timeout=10)
    assert r.status_code == 404
    # a name of the right model but the wrong API
    r = chat(at(PORTS["emb"]), "emb")
    assert r.status_code == 400 and "does not support the Chat Completions API" in r.text


def test_broken_entry_reported(server):
    h = requests.get(server.url + "/health", timeout=10)
    assert h.status_code == 200, h.text
    j = h.json()
    assert j["status"] == "degraded"
    assert j["models"]["broken"]["state"] == "error"
    assert "/nonexistent/octo-model" in j["models"]["broken"]["error"]
    for n in ("chat", "emb", "rr"):
        assert j["models"][n] == {"state": "ready"}
    cards = {m["id"]: m for m in requests.get(server.url + "/v1/models", timeout=10).json()["data"]}
    assert cards["broken"]["octo"]["state"] == "error"
    assert "/nonexistent/octo-model" in cards["broken"]["octo"]["error"]
    assert cards["chat"]["octo"] == {"state": "ready"}
    # requests naming it: 503 with the error, on the main port and its own
    for url in (server.url, at(PORTS["broken"])):
        r = chat(url, "broken")
        assert r.status_code == 503, r.text
        msg = r.json()["error"]["message"]
        assert msg.startswith("The model `broken` failed to load: ") and "/nonexistent" in msg
    # its own port is a server of that model alone, and that model is down
    h = requests.get(at(PORTS["broken"]) + "/health", timeout=10)
    assert h.status_code == 503 and h.json()["status"] == "degraded"
    h = requests.get(at(PORTS["emb"]) + "/health", timeout=10)
    assert h.status_code == 200 and h.json() == {"status": "healthy", "version": j["version"],
                                                 "models": {"emb": {"state": "ready"}}}


def test_builtin_parser_entry_on_its_port(server):
    # `task: parse` with `path: builtin`: the built-in parser, also on its own
    # port (as mineru-api on 10018 in the reference deployment)
    with open(os.path.join(SRC, "examples", "demo.pdf"), "rb") as f:
        pdf = f.read()
    r = requests.post(at(PORTS["parser"]) + "/file_parse", timeout=60,
                      files={"files": ("demo.pdf", pdf, "application/pdf")})
    assert r.status_code == 200, r.text
    assert "Introduction" in r.json()["results"]["demo"]["md_content"]
    h = requests.get(at(PORTS["parser"]) + "/health", timeout=10).json()
    assert h == {"status": "healthy", "version": h["version"], "models": {"parser": {"state": "ready"}}}


def test_the_openai_client_lists_every_model(server):
    import openai
    c = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)
    assert {m.id for m in c.models.list().data} == {"chat", "emb", "broken", "rr", "reranker",
                                                    "parser"}
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="broken", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 503


def test_concurrent_traffic_to_all(server):
    jobs = []
    for i in range(36):
        url = server.url if i % 2 else None
        kind = i % 3
        if kind == 0:
            jobs.append(("chat", url or at(PORTS["chat"])))
        elif kind == 1:
            jobs.append(("emb", url or at(PORTS["emb"])))
        else:
            jobs.append(("rr", url or at(PORTS["rr"])))

    def run(job):
        kind, url = job
        if kind == "chat":
            check_chat(chat(url))
        elif kind == "emb":
            check_embed(embed(url))
        else:
            check_rerank(*rerank(url))
        return kind

    with cf.ThreadPoolExecutor(12) as ex:
        done = list(ex.map(run, jobs))
    assert sorted(done) == sorted(k for k, _ in jobs)


def refused(config_text):
    tmp = os.path.join(tempfile.mkdtemp(prefix="octo-test-"), "octo.yaml")
    with open(tmp, "w") as f:
        f.write(config_text)
    p = subprocess.run([OCTO_BIN, "serve", "--config", tmp, "--port", "0"], capture_output=True,
                       text=True, timeout=60)
    return p, tmp


@pytest.mark.parametrize("extra,why", [
    ("    tensor_parallel_size: 2\n", r"tensor_parallel_size 2 needs as many GPUs, but \d+ "
                                      r"(is|are) visible|tensor_parallel_size 2: octo runs a "
                                      r"model on one GPU today"),
    ("    devices: [200]\n", r"devices: GPU 200 (does not exist|cannot be used: this octo is "
                           r"built without CUDA)"),
    ("    quantization: awq\n", r"quantization awq: this build has no kernels for it"),
    ("    dtype: float16\n", r"dtype float16: on the (CPU|GPU) octo computes in"),
    ("    enable_expert_parallel: true\n", r"enable_expert_parallel: expert parallelism is not "
                                         r"implemented yet"),
    ("    task: transcribe\n", r"task transcribe: speech recognition is not built into this "
                             r"octo yet"),
    ("    task: parse\n", r"task parse: octo parses documents with its built-in pipeline and "
                        r"cannot load the model at"),
])
def test_unsupported_settings_refused_at_start(extra, why):
    p, path = refused(f"models:\n  - name: ok\n    path: {EMBED}\n    task: embed\n"
                      f"  - name: m\n    path: {MODEL}\n{extra}")
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert re.search(rf"^octo serve: {re.escape(path)}:5: models\[1\] \(m\): (?:{why})", p.stderr,
                     re.M), p.stderr
    assert "listening" not in p.stdout + p.stderr


def test_every_model_broken_stops():
    p, _ = refused("models:\n  - name: a\n    path: /nonexistent/a\n")
    assert p.returncode == 1, p.stderr
    assert "model a:" in p.stderr and "/nonexistent/a" in p.stderr
