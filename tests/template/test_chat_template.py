# SPDX-License-Identifier: Apache-2.0
"""octo's chat formatting against Python jinja2 on the real chat templates.

For each template a seeded generator makes conversations (system or not,
multi-turn, tools, single/multiple/nested/non-ASCII tool calls, single and
consecutive tool results, reasoning_content, <think> in content,
enable_thinking true/false/absent, add_generation_prompt on/off, content
parts, empty content, unicode). jinja2 (configured as transformers does, in
jinja_oracle.py) renders the vLLM-normalised context; octo gets the raw
OpenAI request through tests/template/tool_render (octo_text_chat_format). The
outputs must be byte-identical, and where jinja2 raises octo must fail too.
"""
import json
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from jinja_oracle import chat_context, continue_final, render, run_tool  # noqa: E402

DATA = os.environ.get("OCTO_TEST_DATA") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
TDIR = os.path.join(DATA, "templates")
TEMPLATES = sorted(
    [os.path.join(TDIR, f) for f in os.listdir(TDIR) if f.endswith(".jinja")]
    + [os.path.join(DATA, "qwen", "qwen3", "chat_template.Qwen3-4B-Thinking-2507.jinja"),
       # a tokenizer_config.json: octo loads its "chat_template" itself
       os.path.join(DATA, "qwen", "qwen3", "tokenizer_config.Qwen3-hybrid-DERIVED.json")]) \
    if os.path.isdir(TDIR) else []

# Templates that loop over message content get OpenAI-style parts (vLLM's
# "openai" content format); octo must detect the same by itself.
OPENAI_FORMAT = ("Qwen3.5", "GLM", "glm")

PER_TEMPLATE = 220
EXTRA_PER_TEMPLATE = 60

TEXTS = [
    "Hello", "What's the weather in Paris?", "你好，世界", "Привет! Как дела?",
    "emoji 🎉🚀 and ümlauts", "  leading and trailing spaces  ", "line1\nline2\n\nline4",
    "quotes ' and \" and \\ backslash", "tab\tseparated\tvalues", "<b>html</b> & stuff",
    "", " ", "\n", "ends with newline\n", "日本語のテキスト", "a" * 300, "{{ not a tag }}",
    "{% raw %}", "/nothink", "<tool_response>\nfake\n</tool_response>", "x = 1.0; y = 'z'",
    "مرحبا بالعالم", "\u00a0nbsp\u3000ideographic space", "null", "True",
]
THINKS = ["Let me think.", "思考中……", "step 1\nstep 2\n", "", "\nleading newline",
          "I should call a tool."]


def rtext(rng):
    return rng.choice(TEXTS)


def rvalue(rng, depth=0):
    k = rng.randrange(10 if depth < 2 else 7)
    if k == 0:
        return rng.randint(-1000, 10 ** 6)
    if k == 1:
        return rng.choice([0.5, 1.0, -2.25, 3.14159, 1e20, 1e-7, 0.1, -0.0, 100.0])
    if k == 2:
        return rng.choice([True, False])
    if k == 3:
        return None
    if k in (4, 5, 6):
        return rtext(rng)
    if k == 7:
        return [rvalue(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "b", "城市", "key with space", "n"]) + str(i): rvalue(rng, depth + 1)
            for i in range(rng.randrange(4))}


def rargs(rng):
    if rng.random() < 0.04:  # not an object: templates iterating items fail
        return rng.choice([[1, 2], "just a string", 42])
    return {rng.choice(["location", "unit", "query", "城市", "options", "count"]) + str(i):
            rvalue(rng) for i in range(rng.randrange(5))}


def rtool(rng, i):
    props = {}
    for j in range(rng.randrange(4)):
        p = {"type": rng.choice(["string", "integer", "number", "boolean", "array", "object"]),
             "description": rng.choice(["The city", "温度单位", "A list\nof things", "  pad  "])}
        if rng.random() < 0.3:
            p["enum"] = ["celsius", "fahrenheit"]
        if rng.random() < 0.2:
            p["items"] = {"type": "string"}
        if rng.random() < 0.2:
            p["default"] = rvalue(rng, 1)
        props[f"param_{j}"] = p
    fn = {"name": f"tool_{i}_" + rng.choice(["get_weather", "search", "计算"])}
    if rng.random() < 0.9:
        fn["parameters"] = {"type": "object", "properties": props, "required": list(props)[:1]}
    if rng.random() < 0.2:  # clients may send the keys in any order
        fn = dict(reversed(list(fn.items())))
    if rng.random() < 0.8:
        fn["description"] = rng.choice(["Get the weather", "搜索网页 🔍", "Multi\nline", ""])
    if rng.random() < 0.1:
        fn["strict"] = True
    return {"type": "function", "function": fn}


MEDIA = False  # set per template: media parts only where the template takes parts


def rpart(rng):
    r = rng.random()
    if r < 0.08:
        return rtext(rng)  # a bare string part
    if r < 0.12:
        return {"type": "text", "text": ""}
    if r < 0.15:
        return {"type": rng.choice(["input_text", "output_text"]), "text": rtext(rng)}
    if r < 0.17:
        return {"type": "refusal", "refusal": "I can't help with that."}
    if r < 0.19:
        return {"type": "thinking", "thinking": rng.choice(THINKS)}
    if MEDIA and rng.random() < 0.25:
        if rng.random() < 0.7:
            return {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        return {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    return {"type": "text", "text": rtext(rng)}


def rcontent(rng, allow_none=False):
    r = rng.random()
    if allow_none and r < 0.1:
        return None
    if r < 0.25:
        return [rpart(rng) for _ in range(rng.randrange(1, 4))]
    return rtext(rng)


def rconversation(rng):
    msgs = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": rcontent(rng)})
    turns = rng.randrange(1, 5)
    call_id = 0
    for t in range(turns):
        msgs.append({"role": "user", "content": rcontent(rng)})
        if rng.random() < 0.1:
            msgs[-1]["name"] = "alice"
        if t == turns - 1 and rng.random() < 0.6:
            break
        a = {"role": "assistant"}
        r = rng.random()
        if r < 0.2:
            a["content"] = "<think>\n" + rng.choice(THINKS) + "\n</think>\n\n" + rtext(rng)
        else:
            a["content"] = rcontent(rng, allow_none=True)
        if rng.random() < 0.35:
            a[rng.choice(["reasoning", "reasoning_content"])] = rng.choice(THINKS)
        if rng.random() < 0.4:
            calls = []
            for _ in range(rng.choice([0, 1, 1, 2, 3, 1, 1, 2, 3, 1, 2])):
                call_id += 1
                args = json.dumps(rargs(rng), ensure_ascii=rng.random() < 0.5)
                if rng.random() < 0.05:
                    args = rng.choice(["{not json", "", None, "[1, 2"])
                calls.append({"id": f"call_{call_id}", "type": "function",
                              "function": {"name": rng.choice(["get_weather", "搜索", "f"]),
                                           "arguments": args}})
            a["tool_calls"] = calls
            if rng.random() < 0.5:
                a["content"] = None if rng.random() < 0.5 else ""
            msgs.append(a)
            for c in calls:
                msgs.append({"role": "tool", "tool_call_id": c["id"],
                             "content": rcontent(rng)})
            if rng.random() < 0.5:
                msgs.append({"role": "assistant", "content": rtext(rng)})
        else:
            msgs.append(a)
    req = {"messages": msgs}
    if rng.random() < 0.4:
        req["tools"] = [rtool(rng, i) for i in range(rng.randrange(1, 4))]
    r = rng.random()
    if r < 0.3:
        req["chat_template_kwargs"] = {"enable_thinking": True}
    elif r < 0.6:
        req["chat_template_kwargs"] = {"enable_thinking": False}
    if rng.random() < 0.4:
        req["add_generation_prompt"] = rng.random() < 0.5
    return req


def template_id(path):
    return os.path.basename(path).replace(".jinja", "").replace(".json", "")


def load_src(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith(".json"):
            return json.load(f)["chat_template"]
        return f.read()


def check(path, kind, requests, want, got, min_ok=0.5):
    ok = 0
    for req, (wk, text), g in zip(requests, want, got):
        ctx = json.dumps(req, ensure_ascii=False)[:3000]
        if wk == "error":
            assert not g["ok"], f"jinja2 raised {text!r} but octo rendered; request: {ctx}"
            continue
        assert g["ok"], f"octo failed: {g.get('error')}; jinja2 rendered; request: {ctx}"
        assert g["text"] == text, f"render differs for request: {ctx}"
        ok += 1
    print(f"{template_id(path)} [{kind}]: {ok} rendered, {len(requests) - ok} errors (both)")
    # the generator must mostly produce renderable conversations
    assert ok >= len(requests) * min_ok, f"only {ok} of {len(requests)} rendered"


def template_opts(path):
    if "deepseek" in path:
        return {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}
    return {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}


@pytest.mark.skipif(not TEMPLATES, reason="test templates not found")
@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_template_matches_jinja2(path):
    """octo_text_chat_format with automatic content format (as vLLM)."""
    global MEDIA
    src = load_src(path)
    fmt = "openai" if any(k in os.path.basename(path) for k in OPENAI_FORMAT) else "string"
    MEDIA = fmt == "openai"
    rng = random.Random(template_id(path))
    opts = template_opts(path)
    requests = [rconversation(rng) for _ in range(PER_TEMPLATE)]
    want = [render(src, chat_context(r, opts, fmt)) for r in requests]
    got = run_tool(path, [{"request": r, "opts": opts} for r in requests])
    check(path, "auto " + fmt, requests, want, got)


@pytest.mark.skipif(not TEMPLATES, reason="test templates not found")
@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_template_other_shapes(path):
    """The other content format forced, and raw HF contexts whose tool-call
    arguments stay JSON strings (rendered with octo_text_template_render)."""
    global MEDIA
    MEDIA = False
    src = load_src(path)
    auto = "openai" if any(k in os.path.basename(path) for k in OPENAI_FORMAT) else "string"
    fmt = "string" if auto == "openai" else "openai"
    rng = random.Random("other-" + template_id(path))
    opts = dict(template_opts(path), content_format=fmt)
    requests = [rconversation(rng) for _ in range(EXTRA_PER_TEMPLATE)]
    want = [render(src, chat_context(r, opts, fmt)) for r in requests]
    got = run_tool(path, [{"request": r, "opts": opts} for r in requests])
    check(path, "forced " + fmt, requests, want, got, min_ok=0)  # may all fail, alike
    requests = [rconversation(rng) for _ in range(EXTRA_PER_TEMPLATE)]
    ctxs = [chat_context(r, opts, auto, parse_args=False) for r in requests]
    want = [render(src, c) for c in ctxs]
    got = run_tool(path, [{"context": c} for c in ctxs])
    check(path, "raw context", requests, want, got, min_ok=0.3)


@pytest.mark.skipif(not TEMPLATES, reason="test templates not found")
@pytest.mark.parametrize("path", TEMPLATES, ids=template_id)
def test_continue_final_message(path):
    """continue_final_message: the render is cut after the last assistant
    message as transformers does."""
    global MEDIA
    MEDIA = False
    src = load_src(path)
    fmt = "openai" if any(k in os.path.basename(path) for k in OPENAI_FORMAT) else "string"
    rng = random.Random("continue-" + template_id(path))
    opts = template_opts(path)
    requests = []
    for _ in range(40):
        r = rconversation(rng)
        r["messages"].append({"role": "assistant", "content": rng.choice(
            ["The answer is", "  padded  ", "多语言 continuation", "x\n"])})
        r["add_generation_prompt"] = False
        r["continue_final_message"] = True
        requests.append(r)
    want = []
    for r in requests:
        ctx = chat_context(r, opts, fmt)
        kind, text = render(src, ctx)
        if kind == "ok":
            try:
                text = continue_final(text, ctx["messages"])
            except ValueError as e:
                kind, text = "error", str(e)
        want.append((kind, text))
    got = run_tool(path, [{"request": r, "opts": opts} for r in requests])
    check(path, "continue_final_message", requests, want, got, min_ok=0.25)
