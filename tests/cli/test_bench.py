# SPDX-License-Identifier: Apache-2.0
"""`octo bench` on the CPU (the CI smoke test; the GPU run is scripts/test-cuda):
every measurement is a JSON line with positive numbers, on a fixture model and
on dummy weights shaped by a config.json; bad options are usage errors."""
import json
import os
import subprocess

OCTO_BIN = os.environ.get("OCTO_BIN", os.path.join(os.path.dirname(__file__), "../../build/octo"))
SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))


def bench(*args):
    return subprocess.run([OCTO_BIN, "bench", *args], capture_output=True, text=True,
                          timeout=120)


def lines(p):
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


def test_fixture_model_on_cpu():
    p = bench("--model", os.path.join(SRC, "tests/fixtures/qwen3-f32-tied"))
    assert p.returncode == 0, p.stderr
    rows = lines(p)
    kinds = [r["bench"] for r in rows]
    assert kinds.count("prefill") == 2 and kinds.count("decode") == 2
    for k in ("model", "bandwidth", "roofline", "memory"):
        assert k in kinds
    for r in rows:
        assert r["device"] == "cpu"
        if r["bench"] in ("prefill", "decode"):
            assert r["tokens_per_s"] > 0
    roof = next(r for r in rows if r["bench"] == "roofline")
    assert roof["copy_gbps"] > 0 and 0 < roof["fraction"]
    model = next(r for r in rows if r["bench"] == "model")
    assert model["params"] > 0 and model["layers"] == 2
    assert "prefill" in p.stderr and "roofline" in p.stderr  # the table


def test_dummy_config_quick():
    cfg = os.path.join(SRC, "tests/kernels/data/qwen3-d128.config.json")
    p = bench("--model", cfg, "--load-format", "dummy", "--quick")
    assert p.returncode == 0, p.stderr
    kinds = [r["bench"] for r in lines(p)]
    assert kinds.count("prefill") == 1 and kinds.count("decode") == 1


def test_chosen_sizes():
    cfg = os.path.join(SRC, "tests/kernels/data/qwen3-d128.config.json")
    p = bench("--model", cfg, "--load-format", "dummy", "--quick", "--prefill", "16,48",
              "--batch", "2,3")
    assert p.returncode == 0, p.stderr
    rows = lines(p)
    assert [r["tokens"] for r in rows if r["bench"] == "prefill"] == [16, 48]
    assert [r["batch"] for r in rows if r["bench"] == "decode"] == [2, 3]
    p = bench("--model", cfg, "--load-format", "dummy", "--quick", "--prefill", "0",
              "--batch", "1")
    rows = lines(p)
    assert not [r for r in rows if r["bench"] == "prefill"]
    assert [r["batch"] for r in rows if r["bench"] == "decode"] == [1]


def test_usage_errors():
    assert bench().returncode == 2
    assert bench("--model", "x", "--device", "zero").returncode == 2
    assert bench("--model", "x", "--load-format", "gguf").returncode == 2
    for bad in ("", "1,,2", "-1", "1,x", "1,2,3,4,5,6,7,8,9", "2000000"):
        assert bench("--model", "x", "--batch", bad).returncode == 2, bad
    p = bench("--model", "/nonexistent/model")
    assert p.returncode == 1 and "/nonexistent/model" in p.stderr


def test_device_without_gpu_is_a_clear_error():
    """Where there is no GPU (CI) or no CUDA build, --device fails with a message."""
    if os.path.exists("/dev/nvidia0"):
        return  # a GPU machine: scripts/test-cuda runs the real thing
    cfg = os.path.join(SRC, "tests/kernels/data/qwen3-d128.config.json")
    p = bench("--model", cfg, "--load-format", "dummy", "--device", "0")
    assert p.returncode in (1, 3), p.stderr
    assert "device" in p.stderr.lower() or "cuda" in p.stderr.lower()
