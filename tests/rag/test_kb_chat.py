# SPDX-License-Identifier: Apache-2.0
"""Dify's chat service API for octo's chat apps, on the real binary with
the tiny chat fixture (tests/fixtures/qwen3-chat) as the app's model.

Oracle for answers: the same messages (the app's system prompt, the
retrieved context in the documented prompt, the query) sent to
/v1/chat/completions at temperature 0, whose output the OpenAI API tests
check against transformers. Streaming must give the same text as
blocking; usage and retriever resources come with message_end."""
import json
import os
import tempfile
import threading

import pytest
import requests

from conftest import KEY_A, KEY_B, SERVER_KEY, SRC, KB, Server, kb_config

CHAT = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")
CONTEXT = ("Use the following context as your learned knowledge, inside <context></context> "
           "XML tags.\n<context>\n{}\n</context>\nWhen answering the user: if you don't know, "
           "just say that you don't know; if you are not sure, ask for clarification. Avoid "
           "mentioning that you obtained the information from the context, and answer in the "
           "language of the user's question.")


def config(storage, default_chat=True):
    cfg = kb_config(storage) + f"""  - name: chat
    path: {CHAT}
    task: generate
"""
    if default_chat:
        cfg = cfg.replace("    rerank_model: rr\n", "    rerank_model: rr\n    chat_model: chat\n")
    return cfg


@pytest.fixture(scope="module")
def srv():
    s = Server([], config(tempfile.mkdtemp(prefix="octo-kb-chat-")), start_timeout=60)
    yield s
    s.assert_clean_exit()


@pytest.fixture(scope="module")
def setup(srv):
    kb = KB(srv.url, KEY_A)
    ds = kb.dataset("chat-kb")
    rule = {"mode": "custom", "rules": {"segmentation": {"separator": "\\n",
                                                          "max_tokens": 60}}}
    r = kb.text(ds, "facts", "The capital of France is Paris.\nThe capital of Japan is Tokyo.\n"
                "Bananas are yellow.", rule)
    assert kb.wait(ds, r["batch"])[0]["indexing_status"] == "completed"
    app = kb.ok("POST", "/apps", json={
        "name": "helper", "model": "chat", "system_prompt": "You are a helpful assistant.",
        "dataset_ids": [ds], "temperature": 0, "max_tokens": 24,
        "opening_statement": "Ask me about capitals.",
        "retrieval_model": {"search_method": "full_text_search", "top_k": 2}})
    assert app["api_key"].startswith("app-") and app["mode"] == "chat"
    return kb, ds, app


def api(srv, key, method, path, **kw):
    return requests.request(method, srv.url + "/v1" + path,
                            headers={"Authorization": f"Bearer {key}"}, timeout=120, **kw)


def expected_answer(srv, query, resources, history=()):
    ctx = "\n\n".join(r["content"] for r in resources)
    msgs = [{"role": "system", "content": "You are a helpful assistant.\n\n" +
             CONTEXT.format(ctx)}]
    for q, a in history:
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    msgs.append({"role": "user", "content": query})
    r = requests.post(srv.url + "/v1/chat/completions",
                      headers={"Authorization": f"Bearer {SERVER_KEY}"},
                      json={"model": "chat", "messages": msgs, "temperature": 0,
                            "max_tokens": 24, "skip_special_tokens": True})
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def sse(resp):
    events = []
    for line in resp.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
        elif line.startswith("event: "):
            events.append({"event": line[7:]})
    return events


def test_keys_are_separate(srv, setup):
    kb, ds, app = setup
    r = api(srv, KEY_A, "POST", "/chat-messages", json={"query": "hi", "user": "u"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = api(srv, app["api_key"], "GET", "/datasets")
    assert r.status_code == 401
    r = api(srv, KEY_B, "GET", "/apps")
    assert all(a["id"] != app["id"] for a in r.json()["data"])
    r = api(srv, KEY_B, "POST", "/apps", json={"name": "x", "dataset_ids": [ds]})
    assert r.status_code == 404  # B cannot attach A's dataset
    r = api(srv, KEY_A, "POST", "/apps", json={"name": "x", "model": "emb"})
    assert r.status_code == 400


def test_parameters_and_info(srv, setup):
    _, _, app = setup
    p = api(srv, app["api_key"], "GET", "/parameters").json()
    assert p["opening_statement"] == "Ask me about capitals."
    assert p["retriever_resource"] == {"enabled": True}
    i = api(srv, app["api_key"], "GET", "/info").json()
    assert i["name"] == "helper" and i["mode"] == "chat"


def test_blocking_and_streaming(srv, setup):
    _, ds, app = setup
    key = app["api_key"]
    q = "What is the capital of Japan?"
    r = api(srv, key, "POST", "/chat-messages", json={"inputs": {}, "query": q, "user": "u1",
                                                      "response_mode": "blocking"})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["event"] == "message" and b["mode"] == "chat" and b["task_id"]
    assert b["id"] == b["message_id"] and b["conversation_id"]
    res = b["metadata"]["retriever_resources"]
    assert res and res[0]["dataset_id"] == ds and "Tokyo" in res[0]["content"]
    assert res[0]["position"] == 1 and res[0]["dataset_name"] == "chat-kb"
    u = b["metadata"]["usage"]
    assert u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 24
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert b["answer"] == expected_answer(srv, q, res)

    with api(srv, key, "POST", "/chat-messages", stream=True,
             json={"inputs": {}, "query": q, "user": "u1", "response_mode": "streaming"}) as s:
        assert s.status_code == 200
        assert s.headers["Content-Type"].startswith("text/event-stream")
        ev = sse(s)
    msgs = [e for e in ev if e["event"] == "message"]
    end = [e for e in ev if e["event"] == "message_end"]
    assert msgs and len(end) == 1 and ev[-1]["event"] == "message_end"
    assert "".join(m["answer"] for m in msgs) == b["answer"]
    assert {m["message_id"] for m in msgs} == {end[0]["message_id"]}
    assert end[0]["metadata"]["retriever_resources"] == res
    assert end[0]["metadata"]["usage"]["completion_tokens"] == u["completion_tokens"]


def test_conversations_and_messages(srv, setup):
    _, _, app = setup
    key = app["api_key"]
    q1, q2 = "What is the capital of France?", "And what colour are bananas?"
    a = api(srv, key, "POST", "/chat-messages", json={"query": q1, "user": "u2"}).json()
    conv = a["conversation_id"]
    b = api(srv, key, "POST", "/chat-messages", json={"query": q2, "user": "u2",
                                                      "conversation_id": conv}).json()
    assert b["conversation_id"] == conv
    # the second turn saw the first one
    assert b["answer"] == expected_answer(srv, q2, b["metadata"]["retriever_resources"],
                                          [(q1, a["answer"])])
    m = api(srv, key, "GET", "/messages", params={"user": "u2", "conversation_id": conv}).json()
    assert [x["query"] for x in m["data"]] == [q1, q2]
    assert [x["answer"] for x in m["data"]] == [a["answer"], b["answer"]]
    assert m["data"][0]["retriever_resources"] == a["metadata"]["retriever_resources"]
    page = api(srv, key, "GET", "/messages", params={"user": "u2", "conversation_id": conv,
                                                     "limit": 1}).json()
    assert page["has_more"] and [x["query"] for x in page["data"]] == [q2]
    older = api(srv, key, "GET", "/messages", params={
        "user": "u2", "conversation_id": conv, "first_id": page["data"][0]["id"]}).json()
    assert [x["query"] for x in older["data"]] == [q1]
    c = api(srv, key, "GET", "/conversations", params={"user": "u2"}).json()
    assert [x["id"] for x in c["data"]] == [conv]
    assert c["data"][0]["name"].startswith("What is the capital")
    # another user sees none of it, and cannot continue it
    assert api(srv, key, "GET", "/conversations", params={"user": "u3"}).json()["data"] == []
    r = api(srv, key, "GET", "/messages", params={"user": "u3", "conversation_id": conv})
    assert r.status_code == 404
    r = api(srv, key, "POST", "/chat-messages", json={"query": "x", "user": "u3",
                                                      "conversation_id": conv})
    assert r.status_code == 404
    r = api(srv, key, "POST", f"/conversations/{conv}/name", json={"name": "Capitals",
                                                                   "user": "u2"})
    assert r.status_code == 200 and r.json()["name"] == "Capitals"
    r = api(srv, key, "DELETE", f"/conversations/{conv}", json={"user": "u2"})
    assert r.status_code == 204
    assert api(srv, key, "GET", "/conversations", params={"user": "u2"}).json()["data"] == []


def test_stop(srv, setup):
    kb, ds, _ = setup
    long_app = kb.ok("POST", "/apps", json={"name": "long", "model": "chat",
                                            "dataset_ids": [ds], "max_tokens": 1500,
                                            "temperature": 1.0})
    key = long_app["api_key"]
    seen = {}

    def stop_soon(task):
        r = api(srv, key, "POST", f"/chat-messages/{task}/stop", json={"user": "u4"})
        seen["stop"] = r.json()

    with api(srv, key, "POST", "/chat-messages", stream=True,
             json={"query": "Tell me everything.", "user": "u4",
                   "response_mode": "streaming"}) as s:
        n, t = 0, None
        events = []
        for line in s.iter_lines(decode_unicode=True):
            if not line.startswith("data: "):
                continue
            e = json.loads(line[6:])
            events.append(e)
            if e["event"] == "message":
                n += 1
                if n == 2:
                    t = threading.Thread(target=stop_soon, args=(e["task_id"],))
                    t.start()
        t.join()
    assert seen["stop"] == {"result": "success"}
    assert events[-1]["event"] == "message_end"
    assert events[-1]["metadata"]["usage"]["completion_tokens"] < 1500


def test_errors(srv, setup):
    _, _, app = setup
    key = app["api_key"]
    for body in ({"user": "u"}, {"query": "x"}, {"query": "x", "user": "u",
                                                 "response_mode": "fast"},
                 {"query": "x", "user": "u", "inputs": []}):
        r = api(srv, key, "POST", "/chat-messages", json=body)
        assert r.status_code == 400 and r.json()["code"] == "invalid_param", body


def test_no_chat_model():
    """Retrieval works without a chat model; chat says why it cannot answer."""
    s = Server([], config(tempfile.mkdtemp(prefix="octo-kb-nochat-"), default_chat=False),
               start_timeout=60)
    kb = KB(s.url, KEY_A)
    ds = kb.dataset("nochat")
    r = kb.text(ds, "f", "Owls hunt at night.")
    assert kb.wait(ds, r["batch"])[0]["indexing_status"] == "completed"
    assert kb.retrieve(ds, "owls", search_method="full_text_search", top_k=1)
    app = kb.ok("POST", "/apps", json={"name": "nomodel", "dataset_ids": [ds]})
    for mode in ("blocking", "streaming"):
        r = api(s, app["api_key"], "POST", "/chat-messages",
                json={"query": "owls?", "user": "u", "response_mode": mode})
        if mode == "blocking":
            assert r.status_code == 400 and r.json()["code"] == "provider_not_initialize"
            assert "chat model" in r.json()["message"]
        else:
            ev = [json.loads(x[6:]) for x in r.text.splitlines() if x.startswith("data: ")]
            assert ev[-1]["event"] == "error" and ev[-1]["code"] == "provider_not_initialize"
    s.assert_clean_exit()


def test_dify_chat_client_calls(srv, setup):
    """chat-messages and friends driven as Dify's Python SDK drives them
    (ChatClient of dify-client 0.1.10 on PyPI and of the current SDK):
    requests with the Bearer key and Content-Type application/json on every
    call, `files: None` in the body, None query parameters left out."""
    _, _, app = setup
    base, key = srv.url + "/v1", app["api_key"]

    def send(method, endpoint, json=None, params=None, stream=False):
        return requests.request(method, base + endpoint, json=json, params=params,
                                headers={"Authorization": f"Bearer {key}",
                                         "Content-Type": "application/json"}, stream=stream)

    r = send("GET", "/parameters", params={"user": "sdk"})      # get_application_parameters
    assert r.status_code == 200 and "opening_statement" in r.json()
    assert send("GET", "/info").json()["name"] == "helper"      # get_app_info
    body = {"inputs": {}, "query": "What is the capital of France?", "user": "sdk",
            "response_mode": "blocking", "files": None}
    r = send("POST", "/chat-messages", body)                    # create_chat_message
    assert r.status_code == 200, r.text
    first = r.json()
    conv = first["conversation_id"]
    body = {**body, "query": "And Japan?", "response_mode": "streaming",
            "conversation_id": conv}
    r = send("POST", "/chat-messages", body, stream=True)
    ev = sse(r)
    assert ev[-1]["event"] == "message_end" and ev[-1]["conversation_id"] == conv
    r = send("GET", "/messages", params={"user": "sdk", "conversation_id": conv})
    assert [m["query"] for m in r.json()["data"]] == ["What is the capital of France?",
                                                      "And Japan?"]
    r = send("GET", "/conversations", params={"user": "sdk", "last_id": None, "limit": None,
                                              "pinned": None})  # get_conversations
    assert [c["id"] for c in r.json()["data"]] == [conv]
    r = send("POST", f"/conversations/{conv}/name", {"name": "Geo", "user": "sdk"})
    assert r.json()["name"] == "Geo"                            # rename_conversation
    r = send("POST", "/chat-messages/some-task/stop", {"user": "sdk"})  # stop_message
    assert r.json() == {"result": "success"}
    r = send("DELETE", f"/conversations/{conv}", {"user": "sdk"})  # delete_conversation
    assert r.status_code == 204
