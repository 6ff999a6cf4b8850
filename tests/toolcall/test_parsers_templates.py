# SPDX-License-Identifier: Apache-2.0
"""Output parsers against the real chat templates (tests/data), rendered
with Python jinja2 as Hugging Face does (tojson = json.dumps, ensure_ascii
off, keys unsorted).

1. The templates render an assistant turn (reasoning, content, tool calls)
   in exactly the shape the model was trained to produce. Rendering random
   turns and parsing the rendered text back must recover them: hermes with
   the Qwen3 template, glm45 with the GLM-4.5 and GLM-4.6 templates.
2. octo_text_prompt_in_think must say which generation prompts leave the
   think block open.
"""
import json
import os
import random
import subprocess
import tempfile

import jinja2
import pytest

BUILD = os.environ.get("OCTO_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
DATA = os.environ.get("OCTO_TEST_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
TOOL = os.path.join(BUILD, "tool_parsers")

QWEN3 = "templates/llamacpp_Qwen-Qwen3-0.6B.jinja"
QWEN3_THINKING = "qwen/qwen3/chat_template.Qwen3-4B-Thinking-2507.jinja"
QWQ = "templates/llamacpp_Qwen-QwQ-32B.jinja"
R1 = "templates/llamacpp_deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"
GLM45 = "templates/llamacpp_glm_4_5.jinja"
GLM46 = "templates/llamacpp_GLM-4.6.jinja"
QWEN25 = "templates/llamacpp_Qwen-Qwen2.5-7B-Instruct.jinja"


def hf_tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def load(path):
    full = os.path.join(DATA, path)
    if not os.path.exists(full):
        pytest.skip("test data missing: " + path)
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                             extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = hf_tojson

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env.globals["raise_exception"] = raise_exception
    with open(full, encoding="utf-8") as f:
        return env.from_string(f.read())


def run_tool(tools_fmt, reasoning, cases, tools=None):
    args = [TOOL, tools_fmt, reasoning]
    tmp = None
    if tools is not None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(tools, tmp)
        tmp.close()
        args.append(tmp.name)
    try:
        data = b"\0".join(c.encode() for c in cases)
        out = subprocess.run(args, input=data, capture_output=True, check=True, timeout=300)
    finally:
        if tmp:
            os.unlink(tmp.name)
    return [json.loads(line) for line in out.stdout.decode().splitlines()]


TEXT = "Let me check that. 好的，我来查一下天气。 Emoji 🌧️, symbols < > & \" ' {} [] and\nnew lines."


def rand_text(rng, allow_empty=True):
    if allow_empty and rng.random() < 0.3:
        return ""
    words = TEXT.split(" ")
    s = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
    return s.strip()


def rand_json(rng, depth=0):
    k = rng.randint(0, 7 if depth < 2 else 4)
    if k == 0:
        return rng.choice([True, False, None])
    if k == 1:
        return rng.randint(-10**12, 10**12)
    if k == 2:
        return rng.choice([0.5, -3.25, 1e-7, 2.0, 123456.789, 1e21])
    if k in (3, 4):
        return rand_text(rng)
    if k == 5:
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rand_text(rng, False)[:10] or "k": rand_json(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
             dict: "object", type(None): "null"}


def rand_turn(rng, n_max=3):
    calls = []
    for i in range(rng.randint(0, n_max)):
        args = {}
        for j in range(rng.randint(0, 4)):
            args["p%d_%d" % (i, j)] = rand_json(rng)
        calls.append({"name": rng.choice(["get_weather", "search", "send_email", "工具"]) + str(i),
                      "arguments": args})
    tools = []
    for c in calls:
        props = {k: {"type": JSON_TYPE[type(v)]} for k, v in c["arguments"].items()}
        tools.append({"type": "function", "function": {
            "name": c["name"], "description": "d",
            "parameters": {"type": "object", "properties": props}}})
    return rand_text(rng, False), rand_text(rng), calls, tools


def render_output(tpl, user, reasoning, content, calls, tools, **kw):
    """The assistant text: the full conversation minus the generation prompt."""
    msgs = [{"role": "user", "content": user}]
    asst = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    if calls:
        asst["tool_calls"] = [{"type": "function", "function": c} for c in calls]
    kw.update(tools=tools or None, bos_token="")
    prompt = tpl.render(messages=msgs, add_generation_prompt=True, **kw)
    full = tpl.render(messages=msgs + [asst], add_generation_prompt=False, **kw)
    assert full.startswith(prompt)
    return full[len(prompt):]


def test_qwen3_template_turns_parse_back():
    tpl = load(QWEN3)
    rng = random.Random(5)
    cases, want = [], []
    for _ in range(300):
        reasoning, content, calls, tools = rand_turn(rng)
        out = render_output(tpl, "What is the weather?", reasoning, content, calls, tools)
        assert out.endswith("<|im_end|>\n")
        cases.append(out[: -len("<|im_end|>\n")])
        body = "\n\n" + content + ("\n" if content and calls else "")
        want.append(("\n" + reasoning.strip("\n") + "\n", body,
                     [(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in calls]))
    for msg, (r, c, calls), case in zip(run_tool("hermes", "qwen3", cases), want, cases):
        assert msg["reasoning_content"] == r, case
        assert msg["content"] == c, case
        got = [(t["function"]["name"], t["function"]["arguments"]) for t in msg.get("tool_calls", [])]
        assert got == calls, case
        assert msg["stream"]["content"] == c and msg["stream"]["reasoning_content"] == r
        assert [(t["name"], t["arguments"]) for t in msg["stream"]["tool_calls"]] == calls


@pytest.mark.parametrize("path", [GLM45, GLM46])
def test_glm45_template_turns_parse_back(path):
    tpl = load(path)
    rng = random.Random(6)
    for _ in range(150):
        reasoning, content, calls, tools = rand_turn(rng)
        out = render_output(tpl, "天气怎么样？", reasoning, content, calls, tools)
        (msg,) = run_tool("glm45", "glm45", [out], tools)
        assert msg["reasoning_content"] == reasoning.strip(), out
        want_content = ("\n" + content.strip() if content.strip() else "") + ("\n" if calls else "")
        assert (msg["content"] or "") == want_content, out
        want_calls = [(c["name"], json.dumps({k: (v.strip() if isinstance(v, str) else v)
                                              for k, v in c["arguments"].items()}))
                      for c in calls]
        got = [(t["function"]["name"], t["function"]["arguments"]) for t in msg.get("tool_calls", [])]
        assert got == want_calls, out
        assert [(t["name"], t["arguments"]) for t in msg["stream"]["tool_calls"]] == want_calls


@pytest.mark.parametrize("path,kwargs,open_block", [
    (QWEN3, {}, False),
    (QWEN3, {"enable_thinking": False}, False),
    (QWEN3_THINKING, {}, True),
    (QWQ, {}, True),
    (R1, {}, True),
    (GLM45, {}, False),
    (GLM45, {"enable_thinking": False}, False),
    (QWEN25, {}, False),
])
def test_prompt_in_think(path, kwargs, open_block):
    tpl = load(path)
    msgs = [{"role": "system", "content": "You are helpful. Think in <think> tags."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "<think>\nearlier\n</think>\n\nHello!"},
            {"role": "user", "content": "And now?"}]
    prompt = tpl.render(messages=msgs, add_generation_prompt=True, bos_token="", **kwargs)
    out = subprocess.run([TOOL, "prompt-in-think"], input=prompt.encode(), capture_output=True,
                         check=True, timeout=60)
    assert out.stdout.decode().strip() == ("true" if open_block else "false")
