# SPDX-License-Identifier: Apache-2.0
"""POST /v1/completions, /tokenize and /detokenize against the fixture chat
model; the oracle is the transformers greedy continuation in ref.json."""
import requests

from conftest import CASES


def test_text_prompt(client):
    c = CASES["capital"]
    r = client.completions.create(model="chat", prompt=c["prompt"], max_tokens=64, temperature=0)
    assert r.choices[0].text == c["completion_text"]
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens == len(c["prompt_ids"])


def test_token_prompt_and_list(client):
    a, b = CASES["capital"], CASES["nothink"]
    r = client.completions.create(model="chat", prompt=a["prompt_ids"], max_tokens=64,
                                  temperature=0)
    assert r.choices[0].text == a["completion_text"]
    r = client.completions.create(model="chat", prompt=[a["prompt"], b["prompt"]], max_tokens=64,
                                  temperature=0)
    assert [c.text for c in r.choices] == [a["completion_text"], b["completion_text"]]
    assert r.usage.prompt_tokens == len(a["prompt_ids"]) + len(b["prompt_ids"])


def test_echo_and_logprobs(client):
    c = CASES["nothink"]
    r = client.completions.create(model="chat", prompt=c["prompt"], max_tokens=64, temperature=0,
                                  echo=True, logprobs=2)
    ch = r.choices[0]
    assert ch.text == c["prompt"] + c["completion_text"]
    lp = ch.logprobs
    assert "".join(lp.tokens) == c["completion_text"]
    assert all(len(t) == 2 for t in lp.top_logprobs)
    assert lp.text_offset[0] == len(c["prompt"])


def test_streaming_completion(client):
    c = CASES["haiku"]
    text = "".join(ch.choices[0].text for ch in client.completions.create(
        model="chat", prompt=c["prompt"], max_tokens=64, temperature=0, stream=True)
        if ch.choices)
    assert text == c["completion_text"]


def test_tokenize_detokenize(server):
    c = CASES["hermes"]
    r = requests.post(server.url + "/tokenize", json={"model": "chat", "prompt": c["prompt"]})
    assert r.status_code == 200
    body = r.json()
    assert body["tokens"] == c["prompt_ids"] and body["count"] == len(c["prompt_ids"])
    assert body["max_model_len"] > 0
    r = requests.post(server.url + "/tokenize",
                      json={"model": "chat", "messages": c["messages"], "tools": c["tools"],
                            "add_generation_prompt": True})
    assert r.json()["tokens"] == c["prompt_ids"]
    r = requests.post(server.url + "/detokenize", json={"model": "chat", "tokens": c["prompt_ids"]})
    assert r.json()["prompt"] == c["prompt"]
    r = requests.post(server.url + "/detokenize", json={"model": "chat", "tokens": [10 ** 9]})
    assert r.status_code == 400
