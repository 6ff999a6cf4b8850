# SPDX-License-Identifier: Apache-2.0
"""Remote models: a gateway octo whose entries name a `base_url` proxies
chat (blocking and streaming), completions, embeddings, rerank and score to
an upstream octo (a second process on the fixtures, with an API key), and
the official `openai` client against the gateway gets what it would get from
the upstream itself, with the gateway's model names. Also: an upstream that
is down (502 naming the model), a wrong upstream key (502: octo's key, not
the client's), upstream errors relayed with their status, and a client that
leaves a stream ending the upstream transfer."""
import json
import os
import re
import time

import pytest
import requests

from conftest import CASES, MODEL, device_lines
from octo_server import Server, free_port

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
EMBED = os.path.join(SRC, "tests", "fixtures", "qwen3-embed")
RERANK = os.path.join(SRC, "tests", "fixtures", "qwen3-rerank")
KEY = "sk-upstream"


@pytest.fixture(scope="module")
def upstream():
    s = Server(["--port", "0"], f"""
server:
  host: 127.0.0.1
  api_keys: [{KEY}]
models:
  - name: chat
    path: {MODEL}
    enable_auto_tool_choice: true
    tool_call_parser: hermes
    reasoning_parser: qwen3
{device_lines()}  - name: emb
    path: {EMBED}
    task: embed
{device_lines()}  - name: rr
    path: {RERANK}
    task: score
{device_lines()}""")
    yield s
    s.assert_clean_exit()


@pytest.fixture(scope="module")
def gateway(upstream):
    base = upstream.url + "/v1"
    down = f"http://127.0.0.1:{free_port()}/v1"
    s = Server(["--port", "0"], f"""
server:
  host: 127.0.0.1
models:
  - name: far-chat
    base_url: {base}
    remote_model: chat
    remote_api_key: {KEY}
    remote_timeout_s: 60
  - name: far-emb
    task: embed
    base_url: {base}
    remote_model: emb
    remote_api_key: {KEY}
  - name: rr
    task: score
    base_url: {upstream.url}
    remote_api_key: {KEY}
  - name: down
    base_url: {down}
    remote_connect_timeout_s: 2
  - name: badkey
    base_url: {base}
    remote_model: chat
    remote_api_key: sk-wrong
  - name: slow
    base_url: {base}
    remote_model: chat
    remote_api_key: {KEY}
    remote_timeout_s: 1
""")
    yield s
    s.assert_clean_exit()


def client(server, key="none"):
    import openai
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


MSGS = CASES["capital"]["messages"]


def test_models_listed_as_remote(gateway):
    cards = {m.id: m.model_dump() for m in client(gateway).models.list().data}
    assert set(cards) == {"far-chat", "far-emb", "rr", "down", "badkey", "slow"}
    assert cards["far-chat"]["octo"] == {"state": "remote", "remote": True}
    assert cards["far-chat"]["root"] == "chat"
    assert re.search(r"^\s+far-chat\s+generate\s+remote\s+-\s+-\s+remote$", gateway.log(), re.M)


def test_chat_blocking_same_as_upstream(gateway, upstream):
    want = client(upstream, KEY).chat.completions.create(model="chat", messages=MSGS,
                                                          temperature=0, max_tokens=24)
    got = client(gateway).chat.completions.create(model="far-chat", messages=MSGS,
                                                  temperature=0, max_tokens=24)
    assert got.model == "far-chat"
    assert got.choices[0].message.content == want.choices[0].message.content
    assert got.usage.prompt_tokens == want.usage.prompt_tokens
    # the reasoning parser of the upstream is the upstream's
    assert got.choices[0].message.model_extra.get("reasoning_content") == \
        want.choices[0].message.model_extra.get("reasoning_content")


def test_chat_streaming(gateway, upstream):
    want = client(upstream, KEY).chat.completions.create(model="chat", messages=MSGS,
                                                          temperature=0, max_tokens=24)
    chunks = list(client(gateway).chat.completions.create(
        model="far-chat", messages=MSGS, temperature=0, max_tokens=24, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == want.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == want.usage.completion_tokens
    assert len(chunks) > 3  # passed on as chunks, not as one answer


def test_stream_chunks_arrive_as_they_are_made(gateway):
    # the first chunk comes before the generation ends
    r = requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=60, json={
        "model": "far-chat", "messages": MSGS, "stream": True, "max_tokens": 200,
        "temperature": 1.0, "ignore_eos": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    lines = r.iter_lines()
    first = next(ln for ln in lines if ln)
    assert first.startswith(b"data: {")
    rest = [ln for ln in lines if ln]
    assert rest[-1] == b"data: [DONE]"
    assert len(rest) > 100


def test_completions(gateway, upstream):
    p = "The capital of France is"
    want = client(upstream, KEY).completions.create(model="chat", prompt=p, max_tokens=8,
                                                    temperature=0)
    got = client(gateway).completions.create(model="far-chat", prompt=p, max_tokens=8,
                                             temperature=0)
    assert got.choices[0].text == want.choices[0].text and got.model == "far-chat"


def test_embeddings(gateway, upstream):
    inp = ["What is the capital of France?", "Paris."]
    want = client(upstream, KEY).embeddings.create(model="emb", input=inp)
    got = client(gateway).embeddings.create(model="far-emb", input=inp)
    assert got.model == "far-emb"
    assert [d.embedding for d in got.data] == [d.embedding for d in want.data]


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/score"])
def test_rerank_and_score(gateway, upstream, path):
    body = {"model": "rr", "query": "capital of France",
            "documents": ["Paris is the capital of France.", "Bananas are yellow."]}
    if path == "/score":
        body = {"model": "rr", "text_1": "capital of France", "text_2": body["documents"]}
    want = requests.post(upstream.url + path, json=body, timeout=60,
                         headers={"Authorization": f"Bearer {KEY}"})
    got = requests.post(gateway.url + path, json=body, timeout=60)
    assert want.status_code == 200 and got.status_code == 200, (want.text, got.text)
    key = "data" if path == "/score" else "results"
    assert got.json()[key] == want.json()[key]


def test_upstream_down(gateway):
    import openai
    t0 = time.time()
    with pytest.raises(openai.APIStatusError) as e:
        client(gateway).chat.completions.create(model="down", messages=MSGS)
    assert e.value.status_code == 502
    msg = e.value.body["message"]
    assert msg.startswith("the upstream server of model `down` cannot be reached"), msg
    assert time.time() - t0 < 10
    r = requests.post(gateway.url + "/v1/chat/completions", timeout=30,
                      json={"model": "down", "messages": MSGS, "stream": True})
    assert r.status_code == 502 and r.json()["error"]["type"] == "server_error"


def test_wrong_upstream_key(gateway):
    import openai
    with pytest.raises(openai.APIStatusError) as e:
        client(gateway).chat.completions.create(model="badkey", messages=MSGS)
    assert e.value.status_code == 502  # octo's key is wrong, not the client's
    assert "refused octo's remote_api_key (HTTP 401" in e.value.body["message"]


def test_upstream_errors_relayed(gateway):
    import openai
    with pytest.raises(openai.BadRequestError) as e:
        client(gateway).chat.completions.create(model="far-chat", messages=MSGS, n=0)
    assert "upstream of model `far-chat` answered HTTP 400" in e.value.body["message"]
    # the gateway's own checks stand before the upstream's
    with pytest.raises(openai.BadRequestError):
        client(gateway).embeddings.create(model="far-chat", input="x")
    with pytest.raises(openai.NotFoundError):
        client(gateway).chat.completions.create(model="nope", messages=MSGS)


def test_upstream_time_out(gateway):
    # 8 choices of 2000 tokens take the tiny model far longer than the 1 s allowed
    t0 = time.time()
    r = requests.post(gateway.url + "/v1/chat/completions", timeout=60, json={
        "model": "slow", "messages": MSGS, "n": 8, "max_tokens": 2000, "ignore_eos": True})
    assert r.status_code == 504, r.text
    assert "the upstream server of model `slow` did not answer in time" in \
        r.json()["error"]["message"]
    assert time.time() - t0 < 5


def upstream_aborts(upstream):
    m = requests.get(upstream.url + "/metrics", timeout=10).text
    v = re.search(r"^octo_http_client_aborts_total\S* (\d+)", m, re.M)
    return int(v.group(1)) if v else None


def test_client_leaving_ends_the_upstream_stream(gateway, upstream):
    before = upstream_aborts(upstream)
    r = requests.post(gateway.url + "/v1/chat/completions", stream=True, timeout=60, json={
        "model": "far-chat", "messages": MSGS, "stream": True, "max_tokens": 2000,
        "ignore_eos": True, "temperature": 1.0})
    it = r.iter_lines()
    assert next(ln for ln in it if ln).startswith(b"data: {")
    r.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        if "upstream stream of far-chat closed" in gateway.log():
            break
        time.sleep(0.1)
    assert "upstream stream of far-chat closed" in gateway.log(), gateway.log()[-2000:]
    if before is not None:
        while time.time() < deadline and upstream_aborts(upstream) <= before:
            time.sleep(0.1)
        assert upstream_aborts(upstream) > before
