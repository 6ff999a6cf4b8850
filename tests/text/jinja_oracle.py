# SPDX-License-Identifier: Apache-2.0
"""The oracle for octo's chat templates: Python jinja2 set up the way
Hugging Face transformers renders chat templates, plus the vLLM-style
request normalisation (written here from the documented behaviour, not from
octo's C code), and a helper that runs tests/text/tool_render on a batch.
"""
import json
import os
import subprocess
import tempfile
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def hf_environment():
    """transformers' _compile_jinja_template: an immutable sandbox with
    trim_blocks, lstrip_blocks and loop controls; tojson is json.dumps with
    ensure_ascii=False by default; raise_exception and strftime_now."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = hf_environment()


_COMPILED = {}


def render(src, ctx):
    """Returns ("ok", text) or ("error", message)."""
    try:
        if src not in _COMPILED:
            _COMPILED[src] = ENV.from_string(src)
        return "ok", _COMPILED[src].render(**ctx)
    except Exception as e:  # any jinja2 / Python error counts as an error
        return "error", f"{type(e).__name__}: {e}"


MEDIA = {"image_url": "image", "input_audio": "audio"}


def vllm_messages(messages, content_format, parse_args=True):
    """vLLM's conversation: content joined with "\\n" (string format) or
    kept as parts (openai format, a plain string becoming one text part);
    tool-call arguments parsed from JSON; reasoning_content kept."""
    out = []
    for m in messages:
        content = m.get("content")
        if content is None:
            parts = []
        elif isinstance(content, str):
            parts = [{"type": "text", "text": content}]
        else:
            parts = content
        if content_format == "openai":
            conv = [{"type": "text", "text": p["text"]} if p["type"] == "text"
                    else {"type": MEDIA[p["type"]]} for p in parts]
        else:
            conv = "\n".join(p["text"] for p in parts if p["type"] == "text")
        msg = {"role": m["role"], "content": conv}
        if m["role"] == "assistant":
            r = m.get("reasoning_content")
            if not isinstance(r, str):
                r = m.get("reasoning")
            if isinstance(r, str):
                msg["reasoning_content"] = r
            if m.get("tool_calls") is not None:
                calls = json.loads(json.dumps(m["tool_calls"]))
                for c in calls:
                    if parse_args and isinstance(c["function"].get("arguments"), str):
                        c["function"]["arguments"] = json.loads(c["function"]["arguments"])
                msg["tool_calls"] = calls
        if m["role"] == "tool" and "tool_call_id" in m:
            msg["tool_call_id"] = m["tool_call_id"]
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out


def chat_context(request, opts, content_format, parse_args=True):
    ctx = {}
    for k in ("bos_token", "eos_token", "pad_token", "unk_token"):
        if opts.get(k) is not None:
            ctx[k] = opts[k]
    ctx.update(request.get("chat_template_kwargs") or {})
    ctx["messages"] = vllm_messages(request["messages"], content_format, parse_args)
    ctx["tools"] = request.get("tools")
    ctx["documents"] = None
    agp = request.get("add_generation_prompt")
    ctx["add_generation_prompt"] = True if agp is None else agp
    return ctx


def tool_path():
    build = os.environ.get("OCTO_BUILD") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build")
    return os.path.join(build, "tool_render")


def run_tool(template, cases):
    """Runs tool_render once over all cases; returns its parsed lines."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False,
                                     encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
        path = f.name
    try:
        p = subprocess.run([tool_path(), template, path], capture_output=True, timeout=600)
    finally:
        os.unlink(path)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    lines = p.stdout.decode("utf-8").split("\n")[:-1]
    assert len(lines) == len(cases), p.stderr.decode(errors="replace")
    return [json.loads(x) for x in lines]


def continue_final(rendered, messages):
    """transformers' continue_final_message: cut after the final message."""
    final = messages[-1]["content"]
    if isinstance(final, (list, tuple)):
        for block in reversed(final):
            if "text" in block:
                final = block["text"]
                break
        else:
            raise ValueError("no text in the final message")
    if final.strip() not in rendered:
        raise ValueError("final message not in the render")
    loc = rendered.rindex(final.strip())
    if rendered[loc:loc + len(final.lstrip())] == final:
        return rendered[:loc + len(final.lstrip())]
    return rendered[:loc + len(final.strip())]
