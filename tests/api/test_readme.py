# SPDX-License-Identifier: Apache-2.0
"""The default that serves: `octo serve` on the shipped octo.yaml (what
./scripts/run starts) serves the demo models, marks them as demo models in
/v1/models, and answers every curl example of README.md. The examples are
read from README.md's ```sh blocks, so a new one is tested as soon as it is
written; each must answer 2xx with a body."""
import json
import os
import re
import subprocess

import pytest

from octo_server import Server

SRC = os.path.abspath(os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__),
                                                               "..", "..")))
DEMOS = {"demo-chat": "generate", "demo-embed": "embed", "demo-rerank": "score"}


def readme_curls():
    """Every command of README.md's sh blocks that starts with curl, with its
    continuation lines (a trailing backslash or an open single quote)."""
    text = open(os.path.join(SRC, "README.md")).read()
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        cur = None
        for line in block.splitlines():
            if cur is None:
                if not line.lstrip().startswith("curl "):
                    continue
                cur = line
            else:
                cur += "\n" + line
            if cur.count("'") % 2 == 0 and not cur.rstrip().endswith("\\"):
                cmds.append(cur)
                cur = None
        assert cur is None, f"unterminated curl example in README.md: {cur}"
    return cmds


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
    run = cmd.replace("localhost:8000", f"127.0.0.1:{server.port}", 1)
    assert run != cmd, "README curl examples talk to localhost:8000"
    run = re.sub(r"^(\s*)curl ", r"\1curl -sS -w '\\n%{http_code}' ", run, count=1)
    p = subprocess.run(["bash", "-c", run], cwd=SRC, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (cmd, p.stderr)
    body, _, status = p.stdout.rpartition("\n")
    assert status.startswith("2"), (cmd, status, body)
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
