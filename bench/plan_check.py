# SPDX-License-Identifier: Apache-2.0
"""Checks `octo plan`'s prediction against what `octo serve` really allocates
on a GPU (the acceptance check of issue 17: within 3 %).

1. `octo plan CONFIG --gpus auto --json` at the given utilisation and
   max_model_len: weights, workspace, KV bytes and the per-GPU total
   (weights + workspace + KV + the runtime reserve) it predicts;
2. `octo serve` of the same model on GPU DEVICE with dummy bf16 weights
   (CONFIG next to the real Qwen3 tokenizer from OCTO_TEST_DATA/qwen/qwen3);
   its start-up log line "device allocations: ... weights W, workspace A,
   KV K bytes" gives the engine's phases from the CUDA backend's own
   cudaMalloc counters;
3. concurrent traffic (long prompts, then decoding batches: prefill
   scratch, CUDA graphs, the GPU sampler), then /metrics'
   octo_device_allocated_bytes and octo_device_allocated_peak_bytes (every
   byte octo's cudaMalloc calls hold: weights + KV + everything else).

Prints one JSON line with each figure predicted and measured and their
ratio; exits 1 when the total (or the weights or the KV) is off by more
than --tolerance (default 3 %).

    python3 bench/plan_check.py --device 0            # Qwen3-8B, 0.90, 32768
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
SHARED = os.environ.get("OCTO_TEST_DATA", os.path.join(ROOT, "tests", "data"))
os.environ.setdefault("OCTO_BIN", os.path.join(ROOT, "build", "octo"))
from octo_server import Server  # noqa: E402


def metric(url, name):
    text = requests.get(url + "/metrics", timeout=10).text
    m = re.search(r"^" + name + r"(\{[^}]*\})? ([0-9.e+-]+)$", text, re.M)
    if not m:
        sys.exit(f"plan_check: /metrics has no {name}")
    return float(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(ROOT, "tests", "data", "configs",
                                                     "Qwen__Qwen3-8B.config.json"))
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--gpu-mem", type=float, default=0.90)
    ap.add_argument("--max-model-len", type=int, default=32768)
    ap.add_argument("--gpus", default="auto", help="octo plan --gpus (auto: nvidia-smi)")
    ap.add_argument("--tolerance", type=float, default=0.03)
    ap.add_argument("--start-timeout", type=float, default=300)
    a = ap.parse_args()
    bin_ = os.environ["OCTO_BIN"]
    tok = os.path.join(SHARED, "qwen", "qwen3", "tokenizer.json")
    if not os.path.exists(tok):
        sys.exit(f"plan_check: no tokenizer at {tok} (set OCTO_TEST_DATA)")

    plan = subprocess.run([bin_, "plan", a.config, "--gpus", a.gpus, "--json",
                           "--gpu-memory-utilization", str(a.gpu_mem),
                           "--max-model-len", str(a.max_model_len),
                           "--devices", str(a.device)],
                          capture_output=True, text=True)
    if not plan.stdout.strip():
        sys.exit(f"plan_check: octo plan failed:\n{plan.stderr}")
    pred = json.loads(plan.stdout)["models"][0]

    tmp = tempfile.mkdtemp(prefix="octo-plan-check-")
    d = os.path.join(tmp, "m")
    os.makedirs(d)
    shutil.copy(a.config, os.path.join(d, "config.json"))
    shutil.copy(tok, d)
    cfg = ("server:\n  host: 127.0.0.1\nmodels:\n  - name: m\n"
           f"    path: {d}\n    load_format: dummy\n    max_model_len: {a.max_model_len}\n"
           f"    devices: [{a.device}]\n    gpu_memory_utilization: {a.gpu_mem}\n")
    server = Server([], cfg, start_timeout=a.start_timeout)
    try:
        m = re.search(r"device allocations: before (\d+), weights (\d+), workspace (\d+), "
                      r"KV (\d+) bytes", server.log())
        if not m:
            sys.exit("plan_check: no 'device allocations' line in the log:\n" + server.log())
        before, weights, ws, kv = (int(x) for x in m.groups())
        # traffic: 2048-token prompts (prefill scratch), then 64 decoding streams
        for conc, n, inp, out in ((4, 8, 2048, 8), (64, 64, 128, 32)):
            r = subprocess.run([sys.executable, os.path.join(HERE, "loadgen.py"),
                                "--url", server.url, "--model", "m", "--concurrency",
                                str(conc), "--requests", str(n), "--input-len", str(inp),
                                "--output-len", str(out)], capture_output=True, text=True,
                               timeout=900)
            if r.returncode:
                sys.exit(f"plan_check: loadgen failed:\n{r.stderr}")
        live = metric(server.url, "octo_device_allocated_bytes")
        peak = metric(server.url, "octo_device_allocated_peak_bytes")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    predicted_total = pred["used_bytes_per_gpu"]  # weights + workspace + reserve + KV
    rows = {
        "weights": (pred["weight_bytes_per_gpu"], weights),
        "workspace": (pred["workspace_bytes"], ws),
        "kv": (pred["kv_bytes"], kv),
        "everything_else": (pred["reserve_bytes"], peak - weights - ws - kv),
        "total": (predicted_total, peak),
    }
    res = {"device": a.device, "gpu_memory_utilization": a.gpu_mem,
           "max_model_len": a.max_model_len, "live_bytes": live, "peak_bytes": peak,
           "allocated_before_model": before}
    ok = True
    for k, (p, got) in rows.items():
        ratio = got / p if p else float("nan")
        res[k] = {"predicted": p, "allocated": got, "ratio": round(ratio, 5)}
        if k in ("weights", "kv", "total") and abs(ratio - 1) > a.tolerance:
            ok = False
    res["within_tolerance"] = ok
    print(json.dumps(res))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
