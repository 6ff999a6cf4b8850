# SPDX-License-Identifier: Apache-2.0
"""Served throughput and latency of `octo serve` with a dummy-weight model, in
the workloads of a published vLLM run, so the two compare like for like.

Starts octo serve on GPU DEVICE with CONFIG (a config.json; random bf16
weights) next to the real Qwen3 tokenizer (OCTO_TEST_DATA/qwen/qwen3), then runs
bench/loadgen.py (closed loop, random-word prompts of an exact token count,
ignore_eos, streamed /v1/completions; one untimed warm-up request first) for
each scenario:

- ttft-2048:   concurrency 1, 2048-token prompts, 16 output tokens (TTFT);
- decode-c1:   concurrency 1, 128-token prompts, 256 output tokens (ITL);
- decode-c64:  concurrency 64, 128-token prompts, 1024 output tokens
               (output tok/s, TPOT and ITL at 64 running sequences).

The vLLM figures these match (silybench, vLLM 0.30.0 on one H100 SXM,
Qwen3-8B bf16, `vllm bench serve` random prompts, ignore_eos, closed loop)
are quoted in docs/BENCHMARKS-cuda.md. Prints one JSON line per scenario.

    python3 bench/serve_bench.py --device 0 [--config CONFIG] [--scenarios ...]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
SHARED = os.environ.get("OCTO_TEST_DATA", os.path.join(ROOT, "tests", "data"))
os.environ.setdefault("OCTO_BIN", os.path.join(ROOT, "build", "octo"))
from octo_server import Server  # noqa: E402
import requests  # noqa: E402

ENGINE = ("octo_engine_schedule_seconds_total", "octo_engine_forward_seconds_total",
          "octo_engine_output_seconds_total", "octo_engine_steps_total")


def engine_counters(url):
    """The engine thread's time split (octo's /metrics counters)."""
    text = requests.get(url + "/metrics", timeout=10).text
    out = {}
    for name in ENGINE:
        m = re.search(r"^" + name + r"\{[^}]*\} ([0-9.e+-]+)$", text, re.M)
        out[name] = float(m.group(1)) if m else 0.0
    return out

SCENARIOS = {
    "ttft-2048": dict(concurrency=1, requests=50, input_len=2048, output_len=16),
    "decode-c1": dict(concurrency=1, requests=4, input_len=128, output_len=256),
    "decode-c64": dict(concurrency=64, requests=192, input_len=128, output_len=1024),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(SHARED, "configs",
                                                     "Qwen__Qwen3-8B.config.json"))
    ap.add_argument("--device", type=int, default=0, help="-1: the CPU")
    ap.add_argument("--gpu-mem", type=float, default=0.9)
    ap.add_argument("--max-model-len", type=int, default=16384)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--start-timeout", type=float, default=180)
    ap.add_argument("--smoke", action="store_true",
                    help="tiny versions of the scenarios (a dry run of the driver)")
    a = ap.parse_args()
    tok = os.path.join(SHARED, "qwen", "qwen3", "tokenizer.json")
    if not os.path.exists(tok):
        sys.exit(f"serve_bench: no tokenizer at {tok} (set OCTO_TEST_DATA)")
    tmp = tempfile.mkdtemp(prefix="octo-serve-bench-")
    d = os.path.join(tmp, "m")
    os.makedirs(d)
    shutil.copy(a.config, os.path.join(d, "config.json"))
    shutil.copy(tok, d)
    cfg = ("server:\n  host: 127.0.0.1\nmodels:\n  - name: m\n"
           f"    path: {d}\n    load_format: dummy\n    max_model_len: {a.max_model_len}\n")
    if a.device >= 0:
        cfg += f"    devices: [{a.device}]\n    gpu_memory_utilization: {a.gpu_mem}\n"
    server = Server([], cfg, start_timeout=a.start_timeout)
    for line in server.log().splitlines():
        if "KV cache" in line or "CUDA device" in line:
            print("# " + line.strip(), file=sys.stderr)
    try:
        for name in a.scenarios.split(","):
            sc = dict(SCENARIOS[name])
            if a.smoke:
                sc.update(concurrency=min(2, sc["concurrency"]), requests=2, input_len=16,
                          output_len=4)
            cmd = [sys.executable, os.path.join(HERE, "loadgen.py"), "--url", server.url,
                   "--model", "m", "--warmup", "1"] + [x for k, v in sc.items()
                                      for x in ("--" + k.replace("_", "-"), str(v))]
            before = engine_counters(server.url)
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            after = engine_counters(server.url)
            if out.returncode:
                sys.exit(f"serve_bench: {name} failed:\n{out.stderr}")
            r = json.loads(out.stdout)
            r["scenario"] = name
            steps = after[ENGINE[3]] - before[ENGINE[3]]
            if steps > 0:  # ms per engine step, by phase (warm-up request included)
                r["engine_ms_per_step"] = {
                    k.split("_")[2]: round(1e3 * (after[k] - before[k]) / steps, 3)
                    for k in ENGINE[:3]}
            print(json.dumps(r), flush=True)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
