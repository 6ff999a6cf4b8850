# SPDX-License-Identifier: Apache-2.0
"""Strict input against the real server: booleans are JSON booleans only (0,
"false", "true" are 400 naming the field in every boolean field, the six
that used to read them loosely included), a NUL byte in a model name or a
header value is refused, and a prompt of token ids is bounded by the
model's context rather than by a count of 1 024."""
import os
import socket

import pytest
import requests

from conftest import MODEL, Server

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
FIX = os.path.join(SRC, "tests", "fixtures")
CONFIG = f"""
server:
  host: 127.0.0.1
  api_keys: [sk-key]
models:
  - name: chat
    path: {MODEL}
    task: generate
    max_model_len: 2048
  - name: emb
    path: {FIX}/qwen3-embed
    task: embed
  - name: rr
    path: {FIX}/qwen3-rerank
    task: score
"""
AUTH = {"Authorization": "Bearer sk-key"}
MSGS = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def srv():
    s = Server([], CONFIG)
    yield s
    s.assert_clean_exit()


def post(srv, path, body):
    return requests.post(srv.url + path, json=body, headers=AUTH, timeout=30)


CASES = [  # (path, body without the boolean, field, where the field goes)
    ("/v1/embeddings", {"model": "emb", "input": "hello"}, "normalize", None),
    ("/v1/embeddings", {"model": "emb", "input": "hello"}, "add_special_tokens", None),
    ("/v1/rerank", {"model": "rr", "query": "q", "documents": ["a", "b"]}, "return_documents",
     None),
    ("/v1/completions", {"model": "chat", "prompt": "hi", "max_tokens": 1},
     "add_special_tokens", None),
    ("/tokenize", {"model": "chat", "prompt": "hi"}, "add_special_tokens", None),
    ("/v1/chat/completions", {"model": "chat", "messages": MSGS, "max_tokens": 1},
     "enable_thinking", "chat_template_kwargs"),
    ("/v1/chat/completions", {"model": "chat", "messages": MSGS, "max_tokens": 1}, "stream",
     None),
    ("/v1/completions", {"model": "chat", "prompt": "hi", "max_tokens": 1}, "echo", None),
    ("/v1/chat/completions", {"model": "chat", "messages": MSGS, "max_tokens": 1},
     "ignore_eos", None),
]


@pytest.mark.parametrize("path,base,field,outer", CASES)
@pytest.mark.parametrize("bad", [0, 1, "false", "true", [], {}])
def test_booleans_are_json_booleans(srv, path, base, field, outer, bad):
    body = dict(base)
    if outer:
        body[outer] = {field: bad}
    else:
        body[field] = bad
    r = post(srv, path, body)
    assert r.status_code == 400, (r.status_code, r.text)
    err = r.json()["error"]
    assert field in err["message"] and field in (err["param"] or ""), err


@pytest.mark.parametrize("path,base,field,outer", CASES)
def test_real_booleans_still_work(srv, path, base, field, outer):
    for v in (True, False):
        body = dict(base)
        if outer:
            body[outer] = {field: v}
        else:
            body[field] = v
        r = post(srv, path, body)
        assert r.status_code == 200, (field, v, r.text)


def test_normalize_false_is_honoured(srv):
    a = post(srv, "/v1/embeddings", {"model": "emb", "input": "hello"}).json()
    b = post(srv, "/v1/embeddings", {"model": "emb", "input": "hello",
                                     "normalize": False}).json()
    na = sum(x * x for x in a["data"][0]["embedding"]) ** 0.5
    nb = sum(x * x for x in b["data"][0]["embedding"]) ** 0.5
    assert abs(na - 1) < 1e-4 and abs(nb - 1) > 1e-3


def test_nul_in_model_name(srv):
    r = requests.post(srv.url + "/v1/chat/completions", headers={**AUTH,
                      "Content-Type": "application/json"},
                      data=b'{"model": "chat\\u0000x", "messages": [{"role": "user", '
                           b'"content": "Hi"}], "max_tokens": 1}', timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "model", r.text
    r = requests.post(srv.url + "/v1/embeddings", headers={**AUTH,
                      "Content-Type": "application/json"},
                      data=b'{"model": "emb\\u0000", "input": "x"}', timeout=10)
    assert r.status_code == 400


def test_nul_in_authorization_header(srv):
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    c.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-key\x00junk\r\n"
              b"\r\n")
    resp = c.recv(65536)
    c.close()
    assert resp.startswith(b"HTTP/1.1 400"), resp
    assert requests.get(srv.url + "/v1/models", headers=AUTH, timeout=5).status_code == 200


def test_token_id_prompt_is_bounded_by_the_context(srv):
    ids = [(i % 400) + 10 for i in range(1500)]  # over the old limit of 1 024 ids
    r = post(srv, "/v1/completions", {"model": "chat", "prompt": ids, "max_tokens": 2,
                                      "temperature": 0})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == 1500
    r = post(srv, "/v1/completions", {"model": "chat", "prompt": ids * 2, "max_tokens": 2})
    assert r.status_code == 400
    assert "maximum context length is 2048 tokens" in r.json()["error"]["message"]
    r = post(srv, "/v1/completions", {"model": "chat", "prompt": ["a"] * 1025, "max_tokens": 1})
    assert r.status_code == 400 and "1024 prompts" in r.json()["error"]["message"]
