# SPDX-License-Identifier: Apache-2.0
"""octo's YAML reading checked against PyYAML's pure-Python loader (an
independent YAML implementation): the example configs, the same data
written in other YAML styles (block, flow, canonical with tags, folded
long lines), awkward strings, and the line numbers octo puts in its
messages and in each model's `line`, taken from PyYAML's node marks."""

import json
import os
import random
import subprocess
import tempfile

import pytest
import yaml

DUMP = os.path.join(os.environ.get("OCTO_BUILD", "build"), "tool_config_dump")
SRC = os.environ.get("OCTO_SRC", ".")
EXAMPLES = [os.path.join(SRC, "examples", "reference-8xL20.yaml"), os.path.join(SRC, "octo.yaml")]

LOADER = yaml.SafeLoader  # pure Python, not libyaml's CSafeLoader

SERVER_DEFAULTS = {
    "host": "127.0.0.1", "port": 8000, "api_keys": [], "max_body_bytes": 64 << 20,
    "max_header_bytes": 64 << 10, "max_connections": 4096, "request_timeout_s": 600,
    "max_connections_per_address": 512, "keepalive_timeout_s": 60, "header_timeout_s": 10,
    "read_timeout_s": 120, "retry_after_s": 1, "rate_limit_per_minute": 0,
    "rate_limit_burst": 0, "parse_concurrency": 0, "parse_queue": 16,
    "shutdown_grace_s": 30, "storage_path": "./octo-data", "log_level": "info",
    "access_log": True,
}
MODEL_DEFAULTS = {
    "aliases": [], "task": "generate", "devices": [], "gpu_memory_utilization": 0.9,
    "max_model_len": 0, "tensor_parallel_size": 1, "enable_expert_parallel": False,
    "max_num_seqs": 256, "max_num_batched_tokens": 0, "enable_auto_tool_choice": False,
    "tool_call_parser": None, "reasoning_parser": None, "chat_template": None,
    "api_key": None, "port": 0, "dtype": "auto", "quantization": None,
    "load_format": "auto", "trust_remote_code": False, "seed": 0,
    "base_url": None, "remote_model": None, "remote_api_key": None, "remote_timeout_s": 0,
    "remote_connect_timeout_s": 10, "demo": False, "note": None,
}
TASK_ALIASES = {"embedding": "embed", "rerank": "score", "reranker": "score",
                "transcription": "transcribe"}


def run_dump(path):
    p = subprocess.run([DUMP, path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.strip()


def dump_text(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as f:
        f.write(text)
        name = f.name
    try:
        return run_dump(name) + (name,)
    finally:
        os.unlink(name)


def expected(doc, model_lines):
    """What octo should hold after reading `doc` (as PyYAML parsed it)."""
    doc = doc or {}
    srv = dict(SERVER_DEFAULTS)
    s = doc.get("server") or {}
    for k in ("host", "port", "log_level", "access_log"):
        if k in s:
            srv[k] = s[k]
    if srv["log_level"] == "warning":
        srv["log_level"] = "warn"
    keys = s.get("api_keys", s.get("api_key"))
    srv["api_keys"] = [] if keys is None else ([keys] if isinstance(keys, str) else keys)
    srv.update(s.get("limits") or {})
    if "storage_path" in s:
        srv["storage_path"] = s["storage_path"]
    if s.get("storage"):
        srv["storage_path"] = s["storage"]["path"]
    models = []
    for m, line in zip(doc.get("models") or [], model_lines):
        e = dict(MODEL_DEFAULTS)
        e.update(m)
        e["path"] = e.pop("model", e.get("path"))
        e["task"] = TASK_ALIASES.get(e["task"], e["task"])
        e["line"] = line
        models.append(e)
    return {"server": srv, "models": models}


def model_lines(text):
    """1-based line of each model mapping, from PyYAML's node marks."""
    root = yaml.compose(text, Loader=LOADER)
    if root is None:
        return []
    for k, v in root.value:
        if k.value == "models" and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


def check_same(text):
    rc, out, err, _ = dump_text(text)
    assert rc == 0, err
    got = json.loads(out)
    want = expected(yaml.load(text, Loader=LOADER), model_lines(text))
    assert got["server"] == want["server"]
    assert len(got["models"]) == len(want["models"])
    for g, w in zip(got["models"], want["models"]):
        for k, v in w.items():
            assert g[k] == v, (g["name"], k, g[k], v)


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_match_pyyaml(path):
    with open(path, encoding="utf-8") as f:
        check_same(f.read())


STYLES = {
    "block": dict(default_flow_style=False),
    "flow": dict(default_flow_style=True),
    "canonical": dict(canonical=True),
    "narrow": dict(default_flow_style=False, width=12),
    "double_quoted": dict(default_flow_style=False, default_style='"'),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_other_yaml_styles(style):
    with open(EXAMPLES[0], encoding="utf-8") as f:
        doc = yaml.load(f, Loader=LOADER)
    text = yaml.dump(doc, Dumper=yaml.SafeDumper, allow_unicode=True, **STYLES[style])
    check_same(text)


AWKWARD = ["LLM: v2", "a #not-a-comment", "quote'single", 'quote"double', "back\\slash",
           "ünïcødé-模型", "emoji 🚀", "  leading", "trailing  ", "x" * 200, "- dash",
           "[bracket]", "{brace}", "&anchor", "*star", "!bang", "%percent", "@at", "yes",
           "null", "123", "0.5", "~"]


def test_awkward_strings_roundtrip():
    rng = random.Random(1234)
    models = []
    for i, name in enumerate(AWKWARD):
        models.append({"name": name, "path": "/m/" + name, "aliases": [f"alias-{i}"],
                       "chat_template": rng.choice(AWKWARD)})
    doc = {"server": {"api_keys": AWKWARD[:5], "storage": {"path": "/data/ö"}},
           "models": models}
    for style in STYLES.values():
        text = yaml.dump(doc, Dumper=yaml.SafeDumper, allow_unicode=True, **style)
        check_same(text)
    # folded and literal block scalars
    text = ("models:\n- name: >-\n    folded\n    name\n  path: |-\n    lit\n"
            "  chat_template: \"a\\u00e9\\x41\"\n")
    check_same(text)


def test_error_lines_match_pyyaml_marks():
    """Inject a bad key or value somewhere in the reference file: octo's
    message must carry the line PyYAML reports for that node."""
    with open(EXAMPLES[0], encoding="utf-8") as f:
        base = yaml.load(f, Loader=LOADER)
    rng = random.Random(7)
    for trial in range(12):
        doc = json.loads(json.dumps(base))
        i = rng.randrange(len(doc["models"]))
        if trial % 2:
            doc["models"][i]["prot"] = 1
            bad_key, what = "prot", f"models[{i}]: unknown key 'prot'"
        else:
            doc["models"][i]["max_num_seqs"] = "many"
            bad_key, what = "max_num_seqs", f"models[{i}].max_num_seqs: expected an integer"
        text = yaml.dump(doc, Dumper=yaml.SafeDumper, sort_keys=bool(trial % 3),
                         default_flow_style=False)
        root = yaml.compose(text, Loader=LOADER)
        models = dict((k.value, v) for k, v in root.value)["models"]
        node = dict((k.value, (k, v)) for k, v in models.value[i].value)[bad_key]
        line = (node[0] if bad_key == "prot" else node[1]).start_mark.line + 1
        rc, _, err, name = dump_text(text)
        assert rc == 1
        assert err.startswith(f"{name}:{line}: {what}"), (err, line)


SYNTAX_ERRORS = [
    "server:\n  port: 1\n host: x\n",
    "server: [1, 2\n",
    "models:\n- name: a\n  path: 'p\n",
    "server:\n  host: a\n\tport: 1\n",
    "a: b: c\n",
    "server: {port: 1\nmodels: []\n",
]


@pytest.mark.parametrize("text", SYNTAX_ERRORS)
def test_syntax_error_lines_match_pyyaml(text):
    with pytest.raises(yaml.MarkedYAMLError) as ex:
        yaml.load(text, Loader=LOADER)
    mark = ex.value.problem_mark
    rc, _, err, name = dump_text(text)
    assert rc == 1
    assert err.startswith(f"{name}:{mark.line + 1}:{mark.column + 1}: YAML syntax error"), \
        (err, mark.line + 1, mark.column + 1)
