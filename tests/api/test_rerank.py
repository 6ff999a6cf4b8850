# SPDX-License-Identifier: Apache-2.0
"""POST /v1/rerank, /rerank, /score and /v1/score with raw HTTP against the
transformers oracle.

The model is tests/fixtures/qwen3-rerank (tools/fixtures/make_embed_models.py):
a tiny random Qwen3ForCausalLM with "yes" and "no" tokens; ref.json holds,
for each (query, document, instruction), the official prompt, its ids and
P(yes) = softmax([logit_no, logit_yes])[1] at the last position as
transformers computes it from a left-padded batch.

With OCTO_TEST_DEVICE set (scripts/test-cuda) both models run on that CUDA
device in bf16 and P(yes) is checked within 0.07: 4x the deviation of
transformers' own bf16 run from the same f32 reference (0.0172, measured
by tools/fixtures/bf16_deviation.py; docs/EMBEDDINGS.md, "Tolerance on the
GPU"), rounded up."""
import concurrent.futures as cf
import json
import os

import pytest
import requests

from conftest import device_lines, on_device
from octo_server import Server

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
EMBED = os.path.join(SRC, "tests", "fixtures", "qwen3-embed")
RERANK = os.path.join(SRC, "tests", "fixtures", "qwen3-rerank")
REF = json.load(open(os.path.join(RERANK, "ref.json")))
CASES = REF["cases"]
DEFAULT = [c for c in CASES if c["instruction"] is None]
QUERIES = sorted({c["query"] for c in DEFAULT}, key=[c["query"] for c in DEFAULT].index)
TOL = 7e-2 if on_device() else 1e-4  # |P(yes) - reference|


def docs_of(q):
    return [c for c in DEFAULT if c["query"] == q]


@pytest.fixture(scope="module")
def server():
    s = Server([], f"""
server:
  host: 127.0.0.1
models:
  - name: rr
    path: {RERANK}
    task: score
{device_lines()}  - name: emb
    path: {EMBED}
    task: embed
{device_lines()}""")
    yield s
    s.assert_clean_exit()


def post(server, path, body):
    return requests.post(server.url + path, json=body, timeout=60)


def test_prompt_is_the_official_one():
    c = CASES[0]
    assert c["text"].startswith("<|im_start|>system\nJudge whether the Document meets the "
                                "requirements based on the Query and the Instruct provided. "
                                "Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
                                "<|im_start|>user\n<Instruct>: ")
    assert c["text"].endswith("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank"])
def test_rerank_matches_transformers(server, path):
    q = QUERIES[0]
    cases = docs_of(q)
    r = post(server, path, {"model": "rr", "query": q, "documents": [c["document"] for c in cases]})
    assert r.status_code == 200, r.text
    j = r.json()
    res = j["results"]
    assert sorted(x["index"] for x in res) == list(range(len(cases)))
    scores = [x["relevance_score"] for x in res]
    assert scores == sorted(scores, reverse=True)
    for x in res:
        c = cases[x["index"]]
        assert abs(x["relevance_score"] - c["score"]) < TOL, (x, c["score"])
        assert x["document"] == {"text": c["document"]}
    n = sum(len(c["ids"]) for c in cases)
    assert j["usage"]["prompt_tokens"] == n and j["usage"]["total_tokens"] == n
    assert j["model"] == "rr"


def test_rerank_top_n_objects_no_documents(server):
    q = QUERIES[1]
    cases = docs_of(q)
    best = sorted(cases, key=lambda c: -c["score"])
    r = post(server, "/v1/rerank", {"query": q, "documents": [{"text": c["document"]} for c in cases],
                                    "top_n": 2, "return_documents": False})
    assert r.status_code == 200, r.text  # no model: the one score model
    res = r.json()["results"]
    assert len(res) == 2
    assert [cases[x["index"]]["document"] for x in res] == [c["document"] for c in best[:2]]
    assert all("document" not in x for x in res)


def test_instruction(server):
    c = [c for c in CASES if c["instruction"]][0]
    r = post(server, "/rerank", {"model": "rr", "query": c["query"], "documents": [c["document"]],
                                 "instruction": c["instruction"]})
    assert r.status_code == 200, r.text
    assert abs(r.json()["results"][0]["relevance_score"] - c["score"]) < TOL


@pytest.mark.parametrize("path", ["/score", "/v1/score"])
def test_score_one_to_many(server, path):
    q = QUERIES[0]
    cases = docs_of(q)
    r = post(server, path, {"model": "rr", "text_1": q, "text_2": [c["document"] for c in cases]})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["object"] == "list"
    assert [d["index"] for d in j["data"]] == list(range(len(cases)))
    for d, c in zip(j["data"], cases):
        assert d["object"] == "score"
        assert abs(d["score"] - c["score"]) < TOL
    assert j["usage"]["prompt_tokens"] == sum(len(c["ids"]) for c in cases)


def test_score_many_to_many_and_one_to_one(server):
    pick = [DEFAULT[0], DEFAULT[-1], DEFAULT[5]]
    r = post(server, "/score", {"model": "rr", "text_1": [c["query"] for c in pick],
                                "text_2": [c["document"] for c in pick]})
    assert r.status_code == 200, r.text
    for d, c in zip(r.json()["data"], pick):
        assert abs(d["score"] - c["score"]) < TOL
    r = post(server, "/score", {"model": "rr", "text_1": [pick[1]["query"]],
                                "text_2": pick[1]["document"]})
    assert abs(r.json()["data"][0]["score"] - pick[1]["score"]) < TOL


def test_concurrent_pairs(server):
    def one(i):
        c = DEFAULT[i % len(DEFAULT)]
        r = post(server, "/v1/score", {"model": "rr", "text_1": c["query"], "text_2": c["document"]})
        return c, r.json()["data"][0]["score"]

    with cf.ThreadPoolExecutor(24) as ex:
        for c, s in ex.map(one, range(24)):
            assert abs(s - c["score"]) < TOL


def test_over_long_and_truncation(server):
    doc = "The quick brown fox jumps over the lazy dog. " * 40
    r = post(server, "/v1/rerank", {"model": "rr", "query": "fox", "documents": [doc]})
    assert r.status_code == 400
    assert "maximum context length is 512 tokens" in r.json()["error"]["message"]
    r = post(server, "/v1/rerank", {"model": "rr", "query": "fox", "documents": [doc],
                                    "truncate_prompt_tokens": 200})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == 200
    assert 0 < r.json()["results"][0]["relevance_score"] < 1


@pytest.mark.parametrize("path,body,status", [
    ("/v1/rerank", {"model": "rr", "query": "q", "documents": []}, 400),
    ("/v1/rerank", {"model": "rr", "documents": ["a"]}, 400),
    ("/v1/rerank", {"model": "rr", "query": "", "documents": ["a"]}, 400),
    ("/v1/rerank", {"model": "rr", "query": "q", "documents": [3]}, 400),
    ("/v1/rerank", {"model": "rr", "query": "q", "documents": ["a"], "top_n": -1}, 400),
    ("/v1/rerank", {"model": "emb", "query": "q", "documents": ["a"]}, 400),
    ("/v1/rerank", {"model": "nope", "query": "q", "documents": ["a"]}, 404),
    ("/score", {"model": "rr", "text_1": ["a", "b"], "text_2": ["c", "d", "e"]}, 400),
    ("/score", {"model": "rr", "text_1": [], "text_2": "c"}, 400),
    ("/score", {"model": "rr", "text_1": "a"}, 400),
])
def test_bad_requests(server, path, body, status):
    r = post(server, path, body)
    assert r.status_code == status, r.text
    assert "error" in r.json()


def test_documents_as_content_lists(server):
    """Dify (vision on) and vLLM's multimodal form give documents as content
    parts: every form scores the same as plain strings; image parts are a
    clear 400 on this text-only reranker."""
    q = QUERIES[1]
    texts = [c["document"] for c in docs_of(q)]
    plain = post(server, "/v1/rerank", {"query": q, "documents": texts}).json()["results"]
    want = {x["index"]: x["relevance_score"] for x in plain}
    forms = [
        [{"type": "text", "text": t} for t in texts],
        [{"content": [{"type": "text", "text": t}]} for t in texts],
        [[{"type": "text", "text": t}] for t in texts],
        {"content": [{"type": "text", "text": t} for t in texts]},  # vLLM: a part per document
    ]
    for docs in forms:
        r = post(server, "/v1/rerank", {"query": q, "documents": docs})
        assert r.status_code == 200, (docs, r.text)
        got = {x["index"]: x["relevance_score"] for x in r.json()["results"]}
        assert got.keys() == want.keys()
        assert all(abs(got[i] - want[i]) < 1e-6 for i in want)
        assert {x["document"]["text"] for x in r.json()["results"]} == set(texts)
    # two text parts are one document, joined by a newline
    r = post(server, "/v1/rerank", {"query": q, "documents": [
        {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})
    assert r.status_code == 200 and r.json()["results"][0]["document"]["text"] == "a\nb"
    r = post(server, "/v1/rerank", {"query": q, "documents": [
        {"content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]})
    assert r.status_code == 400 and "text only" in r.json()["error"]["message"]
    r = post(server, "/v1/rerank", {"query": q, "documents": [{"type": "image_url"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "documents"


def test_v2_rerank_is_the_same(server):
    q = QUERIES[1]
    texts = [c["document"] for c in docs_of(q)]
    a = post(server, "/v1/rerank", {"query": q, "documents": texts}).json()["results"]
    b = post(server, "/v2/rerank", {"query": q, "documents": texts}).json()["results"]
    assert [(x["index"], round(x["relevance_score"], 6)) for x in a] == \
           [(x["index"], round(x["relevance_score"], 6)) for x in b]


def test_docs_page_and_json_health(server):
    r = requests.get(server.url + "/docs", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "/file_parse" in r.text
    r = requests.get(server.url + "/health", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "healthy"
