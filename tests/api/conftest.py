# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures of the OpenAI API tests: one `octo serve` per module on
the tiny chat model of tests/fixtures/qwen3-chat (made by
tools/fixtures/make_chat_model.py with transformers; ref.json holds the
transformers oracle: prompts, prompt ids and greedy completions).

OCTO_TEST_DEVICE=N puts the model on CUDA device N (`devices: [N]`, bf16
weights and activations) with a small share of the card
(OCTO_TEST_GPU_MEM, default 0.1) so that the test servers fit side by
side; unset, the model runs on the CPU."""
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
from octo_server import Server  # noqa: E402

SRC = os.environ.get("OCTO_SRC", os.path.join(HERE, "..", ".."))
MODEL = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")
REF = json.load(open(os.path.join(MODEL, "ref.json")))
CASES = {c["name"]: c for c in REF["cases"]}


def model_config(name="chat", tool_parser="hermes", reasoning="qwen3", extra=""):
    return f"""
server:
  host: 127.0.0.1
models:
  - name: {name}
    path: {MODEL}
    task: generate
    enable_auto_tool_choice: true
    tool_call_parser: {tool_parser}
    reasoning_parser: {reasoning}
{device_lines()}{extra}"""


def on_device():
    """True when OCTO_TEST_DEVICE puts the test models on a CUDA device."""
    return bool(os.environ.get("OCTO_TEST_DEVICE", ""))


def device_lines():
    """The model entry's device lines from OCTO_TEST_DEVICE (none: CPU)."""
    dev = os.environ.get("OCTO_TEST_DEVICE", "")
    if not dev:
        return ""
    mem = os.environ.get("OCTO_TEST_GPU_MEM", "0.1")
    return f"    devices: [{int(dev)}]\n    gpu_memory_utilization: {float(mem)}\n"


def split_reply(text):
    """The oracle's reply split by hand into (reasoning, content) the way
    vLLM's qwen3 reasoning parser does: verbatim text between the tags, and
    after the closing tag (leading newlines included)."""
    if text.startswith("<think>"):
        body, _, rest = text[len("<think>"):].partition("</think>")
        return body, rest
    return None, text


@pytest.fixture(scope="module")
def server():
    s = Server([], model_config())
    yield s
    s.assert_clean_exit()


@pytest.fixture(scope="module")
def client(server):
    import openai
    return openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)
