# SPDX-License-Identifier: Apache-2.0
"""The knowledge layer with remote models: server A serves the embedding,
reranker and chat fixtures (OpenAI-compatible, with a key); server B has
no model of its own and points server.knowledge's embedding_url,
rerank_url and chat_url at A. Oracles: A's own /v1/embeddings (cosines in
numpy), /v1/rerank and /v1/chat/completions."""
import json
import os
import tempfile

import numpy as np
import pytest
import requests

from conftest import EMBED, KEY_A, RERANK, SERVER_KEY, SRC, KB, Server
from test_kb_chat import CONTEXT

CHAT = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")


def models_config():
    return f"""
server:
  host: 127.0.0.1
  api_keys: [{SERVER_KEY}]
models:
  - {{name: emb, path: {EMBED}, task: embed}}
  - {{name: rr, path: {RERANK}, task: score}}
  - {{name: chat, path: {CHAT}, task: generate}}
"""


def kb_config(storage, url, key=SERVER_KEY):
    return f"""
server:
  host: 127.0.0.1
  storage:
    path: {storage}
  knowledge:
    api_keys: [{KEY_A}]
    embedding_model: emb
    embedding_url: {url}/v1
    rerank_model: rr
    rerank_url: {url}/v1
    chat_model: chat
    chat_url: {url}/v1
    remote_api_key: {key}
"""


@pytest.fixture(scope="module")
def servers():
    a = Server([], models_config(), start_timeout=60)
    b = Server([], kb_config(tempfile.mkdtemp(prefix="octo-kb-remote-"), a.url),
               start_timeout=60)
    yield a, b
    b.assert_clean_exit()
    a.assert_clean_exit()


def call(a, path, body):
    r = requests.post(a.url + path, json=body, headers={"Authorization": f"Bearer {SERVER_KEY}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_remote_models(servers):
    a, b = servers
    kb = KB(b.url, KEY_A)
    ds = kb.dataset("remote")
    ds_info = kb.ok("GET", f"/datasets/{ds}")
    assert ds_info["embedding_model"] == "emb"
    # lines of about 45 estimated tokens: one segment each, within the remote model's
    # 128-token context (its tokenizer is not ours: the split uses octo's estimate)
    rule = {"mode": "custom", "rules": {"segmentation": {"separator": "\\n", "max_tokens": 50}}}
    text = "\n".join(f"Fact {i}: the {c} lamp is on shelf {i}." + " " * 140 for i, c in
                     enumerate(["red", "green", "blue", "white", "black", "amber"]))
    r = kb.text(ds, "lamps", text, rule)
    st = kb.wait(ds, r["batch"])[0]
    assert st["indexing_status"] == "completed", st
    q = "where is the blue lamp"
    rec = kb.retrieve(ds, q, search_method="semantic_search", top_k=4)
    docs = [x["segment"]["content"] for x in rec]
    e = call(a, "/v1/embeddings", {"model": "emb", "input": [q] + docs})["data"]
    v = np.array([d["embedding"] for d in e], dtype=np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert np.allclose([x["score"] for x in rec], v[1:] @ v[0], atol=1e-4)
    rec = kb.retrieve(ds, q, search_method="semantic_search", top_k=3, reranking_enable=True,
                      reranking_model={"reranking_model_name": "rr"})
    docs = [x["segment"]["content"] for x in rec]
    want = {x["index"]: x["relevance_score"] for x in call(a, "/v1/rerank", {
        "model": "rr", "query": q, "documents": docs})["results"]}
    assert all(abs(x["score"] - want[i]) < 1e-4 for i, x in enumerate(rec))
    app = kb.ok("POST", "/apps", json={"name": "remote", "dataset_ids": [ds],
                                       "temperature": 0, "max_tokens": 16,
                                       "retrieval_model": {"search_method": "full_text_search",
                                                           "top_k": 2}})
    h = {"Authorization": f"Bearer {app['api_key']}"}
    res = requests.post(b.url + "/v1/chat-messages", headers=h,
                        json={"query": "blue lamp?", "user": "u"}).json()
    ctx = "\n\n".join(x["content"] for x in res["metadata"]["retriever_resources"])
    msgs = [{"role": "system", "content": CONTEXT.format(ctx)},
            {"role": "user", "content": "blue lamp?"}]
    want = call(a, "/v1/chat/completions", {"model": "chat", "messages": msgs,
                                            "temperature": 0, "max_tokens": 16})
    assert res["answer"] == want["choices"][0]["message"]["content"]
    assert res["metadata"]["usage"]["completion_tokens"] == want["usage"]["completion_tokens"]
    with requests.post(b.url + "/v1/chat-messages", headers=h, stream=True,
                       json={"query": "blue lamp?", "user": "u",
                             "response_mode": "streaming"}) as s:
        ev = [json.loads(x[6:]) for x in s.iter_lines(decode_unicode=True)
              if x.startswith("data: ")]
    assert "".join(e["answer"] for e in ev if e["event"] == "message") == res["answer"]
    assert ev[-1]["event"] == "message_end"


def test_bad_remote_key_stops_start(servers):
    a, _ = servers
    s = Server([], kb_config(tempfile.mkdtemp(prefix="octo-kb-remote-"), a.url, key="wrong"),
               expect_start=False)
    rc = s.proc.wait(timeout=60)
    assert rc != 0
    log = "".join(s.lines)
    assert "knowledge models" in log and "401" in log, log
