# SPDX-License-Identifier: Apache-2.0
"""`octo pull` against a local stand-in of the hub (tests/cli/hub_server.py):
the huggingface_hub cache layout (checked by huggingface_hub itself, reading
octo's cache with local_files_only), include/exclude patterns, a transfer
cut in the middle that resumes with a Range request, a partial file left by
an earlier run, a corrupted transfer that is detected, ModelScope's
endpoints, tokens, and ORG/NAME found in the cache by `octo plan`."""
import hashlib
import os
import random
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from hub_server import Hub, Repo  # noqa: E402

OCTO_BIN = os.environ.get("OCTO_BIN", os.path.join(os.path.dirname(__file__), "../../build/octo"))
SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
COMMIT = "a" * 8 + "0123456789abcdef0123456789abcdef"
REPO = "acme/tiny"


def content():
    rnd = random.Random(7)
    with open(os.path.join(SRC, "tests/data/configs/Qwen__Qwen3-8B.config.json"), "rb") as f:
        cfg = f.read()
    return {
        "config.json": cfg,
        "README.md": b"# tiny\n",
        "model.safetensors": bytes(rnd.getrandbits(8) for _ in range(3 << 20)),
        "sub/extra.bin": bytes(rnd.getrandbits(8) for _ in range(100_000)),
    }


@pytest.fixture
def hub():
    h = Hub()
    h.add(REPO, "main", Repo(content(), ["model.safetensors", "sub/extra.bin"], COMMIT))
    yield h
    h.stop()


def pull(hub, cache, *args, env_extra=None):
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(cache), HF_TOKEN="hf_secret")
    env.pop("HF_HOME", None)
    env.update(env_extra or {})
    return subprocess.run([OCTO_BIN, "pull", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def snapshot(cache):
    return cache / "models--acme--tiny" / "snapshots" / COMMIT


def test_layout_and_huggingface_hub_reads_it(hub, tmp_path):
    cache = tmp_path / "hub"
    p = pull(hub, cache, REPO, "--parallel", "3")
    assert p.returncode == 0, p.stderr
    snap = snapshot(cache)
    assert p.stdout.strip() == str(snap)
    root = cache / "models--acme--tiny"
    assert (root / "refs" / "main").read_text() == COMMIT  # no newline
    files = content()
    for path, data in files.items():
        f = snap / path
        assert f.is_symlink(), path
        assert f.read_bytes() == data, path
    sha = hashlib.sha256(files["model.safetensors"]).hexdigest()
    assert os.readlink(snap / "model.safetensors") == f"../../blobs/{sha}"
    sha2 = hashlib.sha256(files["sub/extra.bin"]).hexdigest()
    assert os.readlink(snap / "sub" / "extra.bin") == f"../../../blobs/{sha2}"
    blob_sha1 = hashlib.sha1(b"blob %d\0" % len(files["config.json"]) +
                             files["config.json"]).hexdigest()
    assert os.readlink(snap / "config.json") == f"../../blobs/{blob_sha1}"
    assert not list((root / "blobs").glob("*.incomplete"))
    assert all(r["auth"] == "Bearer hf_secret" for r in hub.log)
    # huggingface_hub itself finds octo's files, offline
    import huggingface_hub as hf  # tools/requirements-test.txt
    got = hf.snapshot_download(REPO, cache_dir=str(cache), local_files_only=True)
    assert os.path.realpath(got) == os.path.realpath(snap)
    f = hf.try_to_load_from_cache(REPO, "sub/extra.bin", cache_dir=str(cache))
    assert isinstance(f, str) and open(f, "rb").read() == files["sub/extra.bin"]
    # a second pull fetches nothing again
    n = len(hub.log)
    assert pull(hub, cache, REPO).returncode == 0
    assert [r for r in hub.log[n:] if "/resolve/" in r["path"] or "/cdn/" in r["path"]] == []


def test_include_exclude(hub, tmp_path):
    cache = tmp_path / "hub"
    p = pull(hub, cache, REPO, "--include", "*.json", "--include", "sub/*")
    assert p.returncode == 0, p.stderr
    snap = snapshot(cache)
    assert sorted(str(x.relative_to(snap)) for x in snap.rglob("*") if not x.is_dir()) == \
        ["config.json", "sub/extra.bin"]
    cache2 = tmp_path / "hub2"
    p = pull(hub, cache2, REPO, "--exclude", "*.safetensors", "--exclude", "*.md")
    assert p.returncode == 0, p.stderr
    snap2 = snapshot(cache2)
    assert not (snap2 / "model.safetensors").exists() and (snap2 / "config.json").exists()
    p = pull(hub, tmp_path / "hub3", REPO, "--include", "*.gguf")
    assert p.returncode == 1 and "no file matches" in p.stderr


def test_cut_transfer_resumes_with_range(hub, tmp_path):
    hub.faults["model.safetensors"] = "drop"
    cache = tmp_path / "hub"
    p = pull(hub, cache, REPO, "--include", "model.safetensors")
    assert p.returncode == 0, p.stderr
    data = content()["model.safetensors"]
    assert (snapshot(cache) / "model.safetensors").read_bytes() == data
    cdn = [r for r in hub.log if r["path"].startswith("/cdn/")]
    assert len(cdn) == 2 and cdn[0]["range"] is None
    assert cdn[1]["range"] == f"bytes={len(data) // 2}-"  # what arrived before the cut


def test_partial_file_of_an_earlier_run_resumes(hub, tmp_path):
    data = content()["model.safetensors"]
    sha = hashlib.sha256(data).hexdigest()
    blobs = tmp_path / "hub" / "models--acme--tiny" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{sha}.incomplete").write_bytes(data[:1_000_000])
    p = pull(hub, tmp_path / "hub", REPO, "--include", "model.safetensors")
    assert p.returncode == 0, p.stderr
    assert (blobs / sha).read_bytes() == data
    cdn = [r for r in hub.log if r["path"].startswith("/cdn/")]
    assert [r["range"] for r in cdn] == ["bytes=1000000-"]


def test_corrupted_transfer_is_detected(hub, tmp_path):
    hub.faults["model.safetensors"] = "corrupt"
    cache = tmp_path / "hub"
    p = pull(hub, cache, REPO)
    assert p.returncode == 1
    assert "model.safetensors: corrupted: its sha256 is not" in p.stderr
    blobs = cache / "models--acme--tiny" / "blobs"
    sha = hashlib.sha256(content()["model.safetensors"]).hexdigest()
    assert not (blobs / sha).exists() and not (blobs / f"{sha}.incomplete").exists()
    assert not (cache / "models--acme--tiny" / "refs" / "main").exists()


def test_missing_repo_and_bad_arguments(hub, tmp_path):
    p = pull(hub, tmp_path, "acme/nothing")
    assert p.returncode == 1 and "404" in p.stderr
    p = pull(hub, tmp_path, f"{REPO}@v9")
    assert p.returncode == 1 and "no such repository or revision" in p.stderr
    for args in ([], ["notarepo"], ["a/b/c"], ["../x"], [REPO, "--source", "ftp"],
                 [REPO, "--parallel", "0"], [REPO, "--frobnicate"]):
        p = pull(hub, tmp_path, *args)
        assert p.returncode == 2, args


def test_modelscope(hub, tmp_path):
    hub.add("acme/tiny", "master", Repo(content(), [], COMMIT))
    cache = tmp_path / "hub"
    p = pull(hub, cache, REPO, "--source", "modelscope",
             env_extra={"MODELSCOPE_DOMAIN": hub.url, "MODELSCOPE_API_TOKEN": "ms_tok"})
    assert p.returncode == 0, p.stderr
    snap = cache / "models--acme--tiny" / "snapshots" / "master"
    assert p.stdout.strip() == str(snap)
    for path, data in content().items():
        assert (snap / path).read_bytes() == data
    ms = [r for r in hub.log if r["path"].startswith("/api/v1/")]
    assert ms and all(r["auth"] == "Bearer ms_tok" for r in ms)
    assert any("Recursive=true" in r["query"] for r in ms)


def test_plan_finds_org_name_in_the_cache(hub, tmp_path):
    cache = tmp_path / "hub"
    assert pull(hub, cache, REPO, "--include", "config.json").returncode == 0
    env = dict(os.environ, HF_HUB_CACHE=str(cache))
    p = subprocess.run([OCTO_BIN, "plan", REPO, "--gpus", "1xH100-80G", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert str(snapshot(cache)) in p.stdout
    p = subprocess.run([OCTO_BIN, "plan", "acme/absent", "--gpus", "1xH100-80G"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and "octo pull acme/absent" in p.stderr
    # octo serve (and an octo.yaml path) resolve the same way
    p = subprocess.run([OCTO_BIN, "serve", REPO, "--check"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert f"path {snapshot(cache)}" in p.stdout
    yaml = tmp_path / "octo.yaml"
    yaml.write_text(f"models:\n  - name: m\n    path: {REPO}@main\n")
    p = subprocess.run([OCTO_BIN, "serve", "--config", str(yaml), "--check"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and f"path {snapshot(cache)}" in p.stdout, p.stdout + p.stderr
    p = subprocess.run([OCTO_BIN, "serve", "acme/absent", "--check"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert "octo pull acme/absent" in p.stderr


def test_progress_bar_and_help(hub, tmp_path):
    p = pull(hub, tmp_path / "hub", REPO, "--progress", "--parallel", "2")
    assert p.returncode == 0, p.stderr
    assert "100.0%" in p.stderr and "[##############################]" in p.stderr
    p = pull(hub, tmp_path / "hub2", REPO)  # stderr is not a terminal: no bar
    assert p.returncode == 0 and "%" not in p.stderr
    h = subprocess.run([OCTO_BIN, "pull", "--help"], capture_output=True, text=True).stdout
    for flag in ["--source", "--include", "--exclude", "--parallel", "--cache-dir",
                 "--endpoint", "--token", "--quiet", "--progress"]:
        assert flag in h, flag
