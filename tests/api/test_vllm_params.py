# SPDX-License-Identifier: Apache-2.0
"""vLLM's request parameters beyond OpenAI's, black-box against the tiny chat
model: structured outputs (json and json_object honoured with guided
decoding, choice/regex/grammar a 400 naming them, never ignored), min_tokens
refused rather than ignored, continuous_usage_stats, return_token_ids, a
named tool choice cut by max_tokens returning no half call, /invocations."""
import json

import pytest
import requests

from conftest import CASES, Server, model_config

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
          "required": ["city"]}
MSGS = [{"role": "user", "content": "Where is the Eiffel tower?"}]


@pytest.fixture(scope="module")
def srv():
    s = Server([], model_config())
    yield s
    s.assert_clean_exit()


def post(srv, path, body):
    return requests.post(srv.url + path, json={"model": "chat", **body}, timeout=60)


@pytest.mark.parametrize("path,base", [
    ("/v1/chat/completions", {"messages": MSGS}),
    ("/v1/completions", {"prompt": "The city:"}),
])
@pytest.mark.parametrize("field", [{"structured_outputs": {"json": SCHEMA}},
                                   {"guided_json": SCHEMA}])
def test_structured_json_is_honoured(srv, path, base, field):
    r = post(srv, path, {**base, **field, "max_tokens": 60, "temperature": 0})
    assert r.status_code == 200, r.text
    ch = r.json()["choices"][0]
    text = ch["message"]["content"] if "message" in ch else ch["text"]
    if ch["finish_reason"] == "stop":
        obj = json.loads(text)
        assert isinstance(obj, dict) and isinstance(obj["city"], str)
    else:  # cut by max_tokens: still a prefix of an object
        assert text.lstrip().startswith("{")


def test_json_object_mode(srv):
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "max_tokens": 40, "temperature": 0,
                                           "structured_outputs": {"json_object": True}})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].lstrip().startswith("{")


@pytest.mark.parametrize("field,name", [
    ({"structured_outputs": {"choice": ["a", "b"]}}, "choice"),
    ({"structured_outputs": {"regex": "[a-z]+"}}, "regex"),
    ({"structured_outputs": {"grammar": "root ::= \"a\""}}, "grammar"),
    ({"guided_choice": ["a", "b"]}, "guided_choice"),
    ({"guided_regex": "[a-z]+"}, "guided_regex"),
    ({"guided_grammar": "root ::= \"a\""}, "guided_grammar"),
    ({"structured_outputs": {"json": SCHEMA}, "guided_json": SCHEMA}, "only one"),
    ({"structured_outputs": {"json": "not a schema"}}, "JSON schema"),
    ({"min_tokens": 5}, "min_tokens"),
])
def test_unsupported_is_refused_not_ignored(srv, field, name):
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "max_tokens": 2, **field})
    assert r.status_code == 400, r.text
    assert name in r.json()["error"]["message"]


def test_min_tokens_zero_is_fine(srv):
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "max_tokens": 2, "min_tokens": 0})
    assert r.status_code == 200


def test_continuous_usage_stats(srv):
    body = {"messages": MSGS, "max_tokens": 8, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True,
                                               "continuous_usage_stats": True}}
    with requests.post(srv.url + "/v1/chat/completions", json={"model": "chat", **body},
                       stream=True, timeout=60) as r:
        chunks = [json.loads(ln[6:]) for ln in r.iter_lines()
                  if ln.startswith(b"data: {")]
    with_choices = [c for c in chunks if c["choices"]]
    assert with_choices and all("usage" in c for c in with_choices)
    done = [c["usage"]["completion_tokens"] for c in with_choices]
    assert done == sorted(done) and done[-1] == 8
    assert all(c["usage"]["total_tokens"] == c["usage"]["prompt_tokens"] +
               c["usage"]["completion_tokens"] for c in with_choices)


def test_return_token_ids(srv):
    case = CASES["capital"]
    r = post(srv, "/v1/completions", {"prompt": case["prompt_ids"], "max_tokens": 4,
                                      "temperature": 0, "return_token_ids": True})
    ch = r.json()["choices"][0]
    assert ch["prompt_token_ids"] == case["prompt_ids"]
    assert len(ch["token_ids"]) == r.json()["usage"]["completion_tokens"]
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "max_tokens": 4,
                                           "return_token_ids": True})
    j = r.json()
    assert len(j["prompt_token_ids"]) == j["usage"]["prompt_tokens"]
    assert len(j["choices"][0]["token_ids"]) == j["usage"]["completion_tokens"]
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "stream": True,
                                           "return_token_ids": True})
    assert r.status_code == 400 and r.json()["error"]["param"] == "return_token_ids"


def test_named_tool_choice_cut_by_max_tokens_has_no_half_call(srv):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "tools": tools, "max_tokens": 3,
                                           "tool_choice": {"type": "function",
                                                           "function": {"name": "get_weather"}}})
    assert r.status_code == 200, r.text
    ch = r.json()["choices"][0]
    assert ch["finish_reason"] == "length"
    assert ch["message"]["tool_calls"] == []
    r = post(srv, "/v1/chat/completions", {"messages": MSGS, "tools": tools, "max_tokens": 200,
                                           "tool_choice": {"type": "function",
                                                           "function": {"name": "get_weather"}}})
    calls = r.json()["choices"][0]["message"]["tool_calls"]
    assert len(calls) == 1 and "city" in json.loads(calls[0]["function"]["arguments"])


def test_invocations_dispatches_like_vllm(srv):
    r = post(srv, "/invocations", {"messages": MSGS, "max_tokens": 2})
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    r = post(srv, "/invocations", {"prompt": "Hi", "max_tokens": 2})
    assert r.status_code == 200 and r.json()["object"] == "text_completion"
    r = post(srv, "/invocations", {"nothing": 1})
    assert r.status_code == 400
