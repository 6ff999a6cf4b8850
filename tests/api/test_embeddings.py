# SPDX-License-Identifier: Apache-2.0
"""POST /v1/embeddings against the transformers oracle, through the official
`openai` client (and raw HTTP for the error cases).

The model is tests/fixtures/qwen3-embed (tools/fixtures/make_embed_models.py):
a tiny random Qwen3Model saved as Qwen3-Embedding is, whose tokenizer appends
<|endoftext|>; ref.json holds its token ids and the embeddings transformers
computes the official way (left-padded batch, last-token pooling, L2
normalisation, Matryoshka truncations re-normalised).

With OCTO_TEST_DEVICE set (scripts/test-cuda) both models run on that CUDA
device in bf16 and the vectors are checked within the bf16 tolerance of
docs/EMBEDDINGS.md ("Tolerance on the GPU"): 4x the deviation of
transformers' own bf16 run from the same f32 reference, measured by
tools/fixtures/bf16_deviation.py (max |component| 0.0090, 1 - cosine
1.36e-4), rounded up."""
import base64
import concurrent.futures as cf
import json
import os

import numpy as np
import pytest
import requests

from conftest import device_lines, on_device
from octo_server import Server

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
EMBED = os.path.join(SRC, "tests", "fixtures", "qwen3-embed")
RERANK = os.path.join(SRC, "tests", "fixtures", "qwen3-rerank")
REF = json.load(open(os.path.join(EMBED, "ref.json")))
CASES = REF["cases"]
PLAIN = CASES[:len(CASES) - REF["n_instructed"]]
INSTRUCTED = CASES[len(CASES) - REF["n_instructed"]:]
CPU_TOL = 1e-4
TOL = 4e-2 if on_device() else CPU_TOL      # max |component| difference
COS_TOL = 6e-4 if on_device() else 1e-6     # 1 - cosine
# Two octo runs of the same tokens (text vs ids): bit-equal on the CPU. On
# the GPU the test does not rely on cuBLASLt picking the same algorithm for
# every call, so the bf16 tolerance applies.
SAME_TOL = TOL if on_device() else 1e-6


@pytest.fixture(scope="module")
def server():
    s = Server([], f"""
server:
  host: 127.0.0.1
models:
  - name: emb
    path: {EMBED}
    task: embed
{device_lines()}  - name: rr
    path: {RERANK}
    task: score
{device_lines()}""")
    yield s
    s.assert_clean_exit()


@pytest.fixture(scope="module")
def client(server):
    import openai
    return openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)


def post(server, body):
    return requests.post(server.url + "/v1/embeddings", json=body, timeout=60)


def close(a, b, tol=TOL, cos_tol=COS_TOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) < tol, np.max(np.abs(a - b))
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    assert 1 - cos < cos_tol, 1 - cos


def test_batch_matches_transformers(client):
    r = client.embeddings.create(model="emb", input=[c["text"] for c in PLAIN],
                                 encoding_format="float")
    assert [d.index for d in r.data] == list(range(len(PLAIN)))
    for c, d in zip(PLAIN, r.data):
        close(d.embedding, c["embedding"])
        assert abs(np.linalg.norm(d.embedding) - 1) < 1e-5
    n = sum(len(c["ids"]) for c in PLAIN)
    assert r.usage.prompt_tokens == n and r.usage.total_tokens == n
    assert r.model == "emb" and r.object == "list"


def test_single_inputs_match(client):
    # one at a time: the variable lengths need no padding on our side
    for c in PLAIN[:3]:
        r = client.embeddings.create(model="emb", input=c["text"], encoding_format="float")
        close(r.data[0].embedding, c["embedding"])
        assert r.usage.prompt_tokens == len(c["ids"])


def test_eos_appended_like_the_hf_tokenizer(client):
    # the HF post-processor appends <|endoftext|>: the ids with it give the
    # same vector as the text
    c = PLAIN[1]
    assert c["ids"][-1] == 564
    r = client.embeddings.create(model="emb", input=c["ids"], encoding_format="float")
    close(r.data[0].embedding, c["embedding"])
    r2 = client.embeddings.create(model="emb", input=c["ids"][:-1], encoding_format="float")
    # (0.39 in transformers, f32: far outside the GPU's tolerance too)
    assert np.max(np.abs(np.array(r2.data[0].embedding) - c["embedding"])) > 5 * TOL


def test_token_id_lists(client):
    r = client.embeddings.create(model="emb", input=[c["ids"] for c in PLAIN[:4]],
                                 encoding_format="float")
    for c, d in zip(PLAIN[:4], r.data):
        close(d.embedding, c["embedding"])


def test_base64_default_of_the_client(client, server):
    # the openai client asks for base64 by default and decodes it
    r = client.embeddings.create(model="emb", input=PLAIN[0]["text"])
    close(r.data[0].embedding, PLAIN[0]["embedding"])
    raw = post(server, {"model": "emb", "input": PLAIN[0]["text"], "encoding_format": "base64"})
    v = np.frombuffer(base64.b64decode(raw.json()["data"][0]["embedding"]), dtype="<f4")
    close(v, PLAIN[0]["embedding"])


@pytest.mark.parametrize("dims", [8, 32])
def test_dimensions_matryoshka(client, dims):
    r = client.embeddings.create(model="emb", input=[c["text"] for c in PLAIN[:3]],
                                 dimensions=dims, encoding_format="float")
    for c, d in zip(PLAIN[:3], r.data):
        assert len(d.embedding) == dims
        close(d.embedding, c["dimensions"][str(dims)])


def test_instruction_official_format(server, client):
    for q, c in zip(REF["queries"], INSTRUCTED):
        assert c["text"] == f"Instruct: {REF['task']}\nQuery:{q}"
        r = post(server, {"model": "emb", "input": q, "instruction": REF["task"]})
        assert r.status_code == 200, r.text
        close(r.json()["data"][0]["embedding"], c["embedding"])
        assert r.json()["usage"]["prompt_tokens"] == len(c["ids"])
        # sentence-transformers' prompt_name="query" (config_sentence_transformers.json)
        r = client.embeddings.create(model="emb", input=q, encoding_format="float",
                                     extra_body={"prompt_name": "query"})
        close(r.data[0].embedding, c["embedding"])


def test_concurrent_requests_batch_to_the_same_vectors(server, client):
    texts = [c["text"] for c in PLAIN]

    def one(i):
        c = PLAIN[i % len(PLAIN)]
        r = client.embeddings.create(model="emb", input=c["text"], encoding_format="float")
        return i, r.data[0].embedding

    before = pool_counters(server)
    with cf.ThreadPoolExecutor(64) as ex:
        out = list(ex.map(one, range(64)))
    for i, v in out:
        close(v, PLAIN[i % len(PLAIN)]["embedding"])
    after = pool_counters(server)
    assert after["prompts"] - before["prompts"] == 64
    # the batcher merged requests: fewer forwards than requests
    assert after["forwards"] - before["forwards"] < 64, (before, after)
    assert len(texts) == len(PLAIN)


def pool_counters(server):
    text = requests.get(server.url + "/metrics", timeout=30).text
    out = {}
    for line in text.splitlines():
        for key, name in (("prompts", "octo_pool_prompts_total"),
                          ("forwards", "octo_pool_forwards_total")):
            if line.startswith(name + '{model_name="emb"}'):
                out[key] = float(line.split()[-1])
    return out


def test_truncate_prompt_tokens(server):
    long_text = "The quick brown fox jumps over the lazy dog. " * 40
    r = post(server, {"model": "emb", "input": long_text})
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert "maximum context length is 128 tokens" in msg and "you requested" in msg
    r = post(server, {"model": "emb", "input": long_text, "truncate_prompt_tokens": 20,
                      "encoding_format": "float"})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == 20
    # the last 20 tokens (the appended <|endoftext|> included), as vLLM keeps them
    from tokenizers import Tokenizer
    ids = Tokenizer.from_file(os.path.join(EMBED, "tokenizer.json")).encode(long_text).ids
    assert len(ids) > 128 and ids[-1] == 564
    by_ids = post(server, {"model": "emb", "input": ids[-20:], "encoding_format": "float"})
    close(r.json()["data"][0]["embedding"], by_ids.json()["data"][0]["embedding"], SAME_TOL)
    full = post(server, {"model": "emb", "input": long_text, "truncate_prompt_tokens": -1})
    assert full.status_code == 200 and full.json()["usage"]["prompt_tokens"] == 128


@pytest.mark.parametrize("body,param", [
    ({"model": "emb", "input": ""}, "input"),
    ({"model": "emb", "input": []}, "input"),
    ({"model": "emb", "input": [[]]}, "input"),
    ({"model": "emb", "input": ["a", 3]}, "input"),
    ({"model": "emb", "input": [1, 2, 100000]}, "input"),
    ({"model": "emb", "input": 5}, "input"),
    ({"model": "emb", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "emb", "input": "x", "dimensions": 65}, "dimensions"),
    ({"model": "emb", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "emb", "input": "x", "truncate_prompt_tokens": 0}, "truncate_prompt_tokens"),
    ({"model": "emb", "input": "x", "truncate_prompt_tokens": 129}, "truncate_prompt_tokens"),
    ({"model": "emb", "input": [1, 2], "instruction": "t"}, "instruction"),
    ({"model": "rr", "input": "x"}, "model"),
])
def test_bad_requests(server, body, param):
    r = post(server, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_unknown_model_and_invalid_utf8(server):
    r = post(server, {"model": "nope", "input": "x"})
    assert r.status_code == 404
    r = requests.post(server.url + "/v1/embeddings", timeout=30,
                      data=b'{"model": "emb", "input": "\xff\xfe"}')
    assert r.status_code == 400


def test_octo_embed_cli(tmp_path):
    import subprocess
    from octo_server import OCTO_BIN
    f = tmp_path / "texts.txt"
    f.write_text("".join(c["text"] + "\n" for c in PLAIN[:4]))
    out = subprocess.run([OCTO_BIN, "embed", "--model", EMBED, "--file", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    for r, c in zip(rows, PLAIN[:4]):
        assert r["tokens"] == len(c["ids"])
        close(r["embedding"], c["embedding"], CPU_TOL, 1e-6)  # `octo embed` runs on the CPU
    q, c = REF["queries"][0], INSTRUCTED[0]
    out = subprocess.run([OCTO_BIN, "embed", "--model", EMBED, "--instruction", REF["task"],
                          "--dimensions", "8", q], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    close(json.loads(out.stdout)["embedding"], c["dimensions"]["8"], CPU_TOL, 1e-6)
    out = subprocess.run([OCTO_BIN, "embed", "--model", EMBED], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "no text" in out.stderr


def test_context_past_the_model_positions_is_refused():
    s = Server([], f"""
server:
  host: 127.0.0.1
models:
  - name: emb
    path: {EMBED}
    task: embed
    max_model_len: 4096
""", expect_start=False)
    rc = s.proc.wait(timeout=60)
    s._reader.join(timeout=5)
    assert rc != 0
    assert "max_position_embeddings 128" in s.log()
