# SPDX-License-Identifier: Apache-2.0
"""The default that serves: `octo serve` on the shipped octo.yaml (what
./scripts/run starts) serves the demo models, marks them as demo models in
/v1/models, and answers every curl example of README.md. The examples are
read from README.md's ```sh blocks, so a new one is tested as soon as it is
written; each must answer 2xx with a body."""
import json
import os
import re
import sys

import pytest

from octo_server import Server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from readme_curls import readme_curls, run_curl  # noqa: E402

SRC = os.path.abspath(os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__),
                                                               "..", "..")))
DEMOS = {"demo-chat": "generate", "demo-embed": "embed", "demo-rerank": "score"}


CURLS = readme_curls()


@pytest.fixture(scope="module")
def server():
    # the shipped file as it is (relative model paths: from the top of the
    # tree, where ./scripts/run starts it); only the port is free-picked
    old = os.getcwd()
    os.chdir(SRC)
    try:
        s = Server(["--config", os.path.join(SRC, "octo.yaml"), "--port", "0"])
    finally:
        os.chdir(old)
    yield s
    s.assert_clean_exit()


def test_readme_has_the_examples():
    paths = " ".join(CURLS)
    for p in ("/health", "/v1/models", "/v1/chat/completions", "/v1/completions",
              "/v1/embeddings", "/v1/rerank", "/file_parse"):
        assert p in paths, p


def test_demo_models_marked(server):
    import openai
    c = openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)
    models = {m.id: m for m in c.models.list().data}
    assert set(DEMOS) <= set(models), models
    for name, task in DEMOS.items():
        card = models[name].model_dump()
        assert card["task"] == task
        assert card["octo"]["demo"] is True
        assert card["octo"]["state"] == "ready"
        assert "gibberish" in card["octo"]["note"] or "mean nothing" in card["octo"]["note"]
    log = server.log()
    assert re.search(r"^\s+demo-chat\s+generate\s+cpu\s+-\s+\d+\s+ready \(demo\)", log, re.M), log


@pytest.mark.parametrize("cmd", CURLS, ids=[re.sub(r"\s+", " ", c)[:60] for c in CURLS])
def test_readme_curl(server, cmd):
    status, body, err = run_curl(cmd, f"127.0.0.1:{server.port}")
    assert status.startswith("2"), (cmd, status, body, err)
    assert body.strip(), cmd
    if '"stream": true' in cmd:
        events = [ln[6:] for ln in body.splitlines() if ln.startswith("data: ")]
        assert events[-1] == "[DONE]", body
        assert all("choices" in json.loads(e) for e in events[:-1]), body
    else:
        j = json.loads(body)
        assert "error" not in j, body
    if "get_weather" in cmd:  # the README's claim under it
        call = j["choices"][0]["message"]["tool_calls"][0]["function"]
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
    if "/file_parse" in cmd:
        md = next(iter(j["results"].values()))["md_content"]
        assert "Introduction" in md, md
