# SPDX-License-Identifier: Apache-2.0
"""The oracle for octo's chat templates: Python jinja2 set up the way
Hugging Face transformers renders chat templates, plus the vLLM-style
request normalisation (written here from the documented behaviour, not from
octo's C code), and a helper that runs tests/template/tool_render on a batch.
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


TEXT_KEYS = {"text": "text", "input_text": "text", "output_text": "text",
             "refusal": "refusal", "thinking": "thinking"}
MEDIA = {"image_url": "image", "input_image": "image", "image_embeds": "image",
         "image_pil": "image", "audio_url": "audio", "input_audio": "audio",
         "audio_embeds": "audio", "video_url": "video"}


def vllm_part(part, openai):
    """vLLM's _parse_chat_message_content_part for a text-only model."""
    if isinstance(part, str):
        return {"type": "text", "text": part} if openai else part
    ptype = part["type"]
    if ptype in TEXT_KEYS:
        text = part.get(TEXT_KEYS[ptype])
        if text is None and ptype in ("text", "refusal"):
            return None
        return {"type": "text", "text": text} if openai else text
    if ptype == "tool_reference":
        return {"type": "tool_reference", "name": part.get("name")} if openai \
            else part.get("name")
    if ptype not in MEDIA:
        raise ValueError(f"unsupported part type {ptype}")
    if not openai:
        raise ValueError("text-only model got media")
    return {"type": MEDIA[ptype]}


def vllm_messages(messages, content_format, parse_args=True):
    """vLLM's parse_chat_messages + _postprocess_messages (chat_utils.py):
    content parts joined with "\n" (string format, falsy parts dropped) or
    kept as parts (openai format, a plain string becoming one text part);
    text-only tool results flattened to a string; "reasoning" copied to
    reasoning and reasoning_content; tool-call arguments parsed from JSON
    (invalid -> {}). octo also keeps a bare reasoning_content."""
    openai = content_format == "openai"
    out = []
    for m in messages:
        content = m.get("content")
        if content is None:
            content = []
        elif isinstance(content, str):
            content = [{"type": "text", "text": content}]
        parts = [vllm_part(p, openai) for p in content]
        parts = [p for p in parts if p]
        msg = {"role": m["role"], "content": parts if openai else "\n".join(parts)}
        if m["role"] == "assistant":
            if m.get("tool_calls") is not None:
                msg["tool_calls"] = json.loads(json.dumps(m["tool_calls"]))
            if m.get("reasoning") is not None:
                msg["reasoning"] = m["reasoning"]
                msg["reasoning_content"] = m["reasoning"]
            elif m.get("reasoning_content") is not None:
                msg["reasoning_content"] = m["reasoning_content"]
        elif m["role"] == "tool":
            if "tool_call_id" in m:
                msg["tool_call_id"] = m["tool_call_id"]
            c = msg["content"]
            if isinstance(c, list) and not any(
                    isinstance(i, dict) and i.get("type") != "text" for i in c):
                texts = [i.get("text", "") for i in c]
                msg["content"] = "\n".join(texts) if texts else ""
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        if isinstance(m.get("task"), str):
            msg["task"] = m["task"]
        if m["role"] == "developer":
            msg["tools"] = m.get("tools")
        out.append(msg)
    for msg in out:
        calls = msg.get("tool_calls")
        if msg["role"] != "assistant" or not isinstance(calls, list):
            continue
        if not calls:
            del msg["tool_calls"]
            continue
        for c in calls:
            args = c["function"].get("arguments")
            if isinstance(args, str):
                if not parse_args:
                    continue
                try:
                    c["function"]["arguments"] = json.loads(args)
                except json.JSONDecodeError:
                    c["function"]["arguments"] = {}
            elif not isinstance(args, (dict, list)):
                c["function"]["arguments"] = {}
    return out


def vllm_tools(tools):
    """What vLLM hands the template: ChatCompletionToolsParam.model_dump() —
    declared fields first (absent ones as None), then extra keys."""
    if tools is None:
        return None
    out = []
    for t in tools:
        fn = t["function"]
        nf = {"name": fn["name"], "description": fn.get("description"),
              "parameters": fn.get("parameters")}
        nf.update({k: v for k, v in fn.items() if k not in nf})
        nt = {"type": t.get("type", "function"), "function": nf}
        nt.update({k: v for k, v in t.items() if k not in nt})
        out.append(nt)
    return out


def chat_context(request, opts, content_format, parse_args=True):
    ctx = {}
    for k in ("bos_token", "eos_token", "pad_token", "unk_token"):
        if opts.get(k) is not None:
            ctx[k] = opts[k]
    ctx.update(request.get("chat_template_kwargs") or {})
    ctx["messages"] = vllm_messages(request["messages"], content_format, parse_args)
    ctx["tools"] = vllm_tools(request.get("tools"))
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
