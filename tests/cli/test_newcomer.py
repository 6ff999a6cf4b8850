# SPDX-License-Identifier: Apache-2.0
"""What a new user meets first: model-path errors that name the path (and
point a hub id at `octo pull`), the port checked before any model loads,
every `octo serve` flag in --help and docs/CONFIGURATION.md, `scripts/run`
needing no Python package index, and a test suite that reads nothing from
outside the repository (every data file listed in tests/data/MANIFEST.md)."""
import os
import re
import socket
import subprocess
import time

SRC = os.path.abspath(os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../..")))
OCTO = os.path.abspath(os.environ.get("OCTO_BIN", os.path.join(SRC, "build", "octo")))
CHAT = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")


def serve(*args, timeout=30):
    return subprocess.run([OCTO, "serve", *args], capture_output=True, text=True, timeout=timeout)


def test_model_path_errors_name_the_path():
    bad = CHAT + "t"
    r = serve(bad, "--port", "0")
    assert r.returncode == 1
    assert f"model path '{bad}' does not exist" in r.stderr, r.stderr
    r = serve("Qwen/Qwen3-8B", "--port", "0")
    assert r.returncode == 1
    assert "'Qwen/Qwen3-8B' does not exist" in r.stderr
    assert "octo pull Qwen/Qwen3-8B" in r.stderr
    r = serve(os.path.dirname(CHAT), "--port", "0")
    assert r.returncode == 1 and "has no config.json" in r.stderr, r.stderr
    r = subprocess.run([OCTO, "run", "--model", "Org/Nope", "hi"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "octo pull Org/Nope" in r.stderr


def test_port_is_checked_before_the_model_loads():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        t0 = time.monotonic()
        r = serve(CHAT, "--port", str(port), "--log-level", "info")
        took = time.monotonic() - t0
    assert r.returncode == 1 and "cannot listen" in r.stderr and str(port) in r.stderr
    assert "loaded" not in r.stderr, r.stderr  # failed before loading anything
    assert took < 5


def accepted_flags():
    """Every flag `octo serve` accepts, from the config table and the
    argument reader (the source is part of the repository)."""
    cfg = open(os.path.join(SRC, "src", "config", "config.c")).read()
    flags = set(re.findall(r'^\s*\{"[a-z_]+", (?:NULL|"[a-z_]+"), "([a-z0-9-]+)"', cfg, re.M))
    args = open(os.path.join(SRC, "src", "config", "config_args.c")).read()
    ignored = re.search(r"ignored_flags\[\] = \{(.*?)\};", args, re.S).group(1)
    flags |= set(re.findall(r'"([a-z-]+)"', ignored))
    flags |= {"config", "model", "served-model-name", "check"}
    assert len(flags) > 25
    return flags


def test_every_flag_is_in_help_and_docs():
    helptext = subprocess.run([OCTO, "serve", "--help"], capture_output=True, text=True).stdout
    docs = open(os.path.join(SRC, "docs", "CONFIGURATION.md")).read()
    missing_help = sorted(f for f in accepted_flags() if f"--{f}" not in helptext)
    missing_docs = sorted(f for f in accepted_flags() if f"`--{f}" not in docs)
    assert not missing_help, missing_help
    assert not missing_docs, missing_docs


def test_every_limits_key_is_documented():
    cfg = open(os.path.join(SRC, "src", "config", "config.c")).read()
    keys = re.findall(r'^\s*\{"([a-z_]+)", [^,]+, [^,]+, CS_LIMITS', cfg, re.M)
    docs = open(os.path.join(SRC, "docs", "CONFIGURATION.md")).read()
    assert len(keys) > 10
    assert not [k for k in keys if f"| `{k}` |" not in docs]


def test_scripts_run_needs_no_package_index():
    run = open(os.path.join(SRC, "scripts", "run")).read()
    setup = open(os.path.join(SRC, "scripts", "setup")).read()
    test = open(os.path.join(SRC, "scripts", "test")).read()
    assert "./scripts/setup\n" in run and "--test" not in run
    assert "./scripts/setup --test" in test
    # pip runs only past the --test gate
    gate = setup.index('"${1:-}" != --test')
    assert setup.index("pip install") > gate
    assert "exit 0" in setup[gate:setup.index("pip install")]


def test_tests_read_nothing_outside_the_repository():
    # the patterns are cut in two so that this file does not match itself
    # (naming where a file came from, "shared/data", in a comment is fine)
    pat = re.compile("|".join([r"\.\./" + "shared", "OCTO_" + "SHARED", "/" + "work/"]))
    bad = []
    for d, _, files in os.walk(os.path.join(SRC, "tests")):
        if os.sep + "data" in d[len(SRC):] or os.sep + "fixtures" in d[len(SRC):]:
            continue
        for f in files:
            if f.endswith((".py", ".c", ".h")):
                p = os.path.join(d, f)
                if pat.search(open(p, errors="replace").read()):
                    bad.append(os.path.relpath(p, SRC))
    for f in ("CMakeLists.txt", "scripts/test-cuda", "tools/fixtures/make_chat_model.py"):
        if re.search(r"\.\./" + "shared|OCTO_" + "SHARED", open(os.path.join(SRC, f)).read()):
            bad.append(f)
    assert not bad, bad


def test_every_data_file_is_in_the_manifest():
    data = os.path.join(SRC, "tests", "data")
    manifest = open(os.path.join(data, "MANIFEST.md")).read()
    files = [os.path.relpath(os.path.join(d, f), data) for d, _, fs in os.walk(data) for f in fs
             if f != "MANIFEST.md"]
    assert len(files) > 10
    assert not [f for f in files if f"`{f}`" not in manifest]
