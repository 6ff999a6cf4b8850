# SPDX-License-Identifier: Apache-2.0
"""Load generator for an OpenAI-compatible server (octo or vLLM): N requests
at a given concurrency (and optional Poisson request rate), each a streamed
/v1/completions call with a fixed input length (in tokens, measured with the
server's /tokenize) and a fixed output length (ignore_eos). Prints one JSON
object: throughput, TTFT and inter-token latency percentiles.

    .venv/bin/python bench/loadgen.py --url http://127.0.0.1:8000 --model chat \
        --concurrency 16 --requests 64 --input-len 128 --output-len 64
"""
import argparse
import json
import random
import threading
import time

import requests

WORDS = ("the of and to in is was for on that with as by at from his her this which "
         "city river paris model token server fast slow water light house green").split()


def make_prompt(url, model, n_tokens, rng):
    words = [rng.choice(WORDS) for _ in range(n_tokens)]
    while True:
        text = " ".join(words)
        r = requests.post(url + "/tokenize", json={"model": model, "prompt": text,
                                                   "add_special_tokens": False}).json()
        if r["count"] <= n_tokens or len(words) <= 1:
            return text, r["count"]
        words = words[:-max(1, (r["count"] - n_tokens) // 2)]


def one(url, model, prompt, out_len, res):
    t0 = time.perf_counter()
    times = []
    body = {"model": model, "prompt": prompt, "max_tokens": out_len, "temperature": 0,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    n_out = 0
    with requests.post(url + "/v1/completions", json=body, stream=True, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                n_out = chunk["usage"]["completion_tokens"]
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                times.append(time.perf_counter())
    end = time.perf_counter()
    ttft = times[0] - t0 if times else end - t0
    res.append({"ttft": ttft, "itl": [b - a for a, b in zip(times, times[1:])],
                "tpot": (end - t0 - ttft) / (n_out - 1) if n_out > 1 else None,
                "latency": end - t0, "output_tokens": n_out})


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--model", required=True)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--rate", type=float, default=0, help="requests/s (Poisson); 0: all at once")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0,
                    help="requests run one by one before the timed ones (not counted)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    prompts = [make_prompt(a.url, a.model, a.input_len, rng) for _ in range(a.requests)]
    for text, _ in prompts[:a.warmup]:
        one(a.url, a.model, text, a.output_len, [])
    res, lock_sem = [], threading.Semaphore(a.concurrency)
    threads = []

    def run(p):
        with lock_sem:
            one(a.url, a.model, p, a.output_len, res)
    t0 = time.perf_counter()
    for text, _ in prompts:
        th = threading.Thread(target=run, args=(text,))
        th.start()
        threads.append(th)
        if a.rate > 0:
            time.sleep(rng.expovariate(a.rate))
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    ttft = [r["ttft"] for r in res]
    itl = [x for r in res for x in r["itl"]]
    tpot = [r["tpot"] for r in res if r["tpot"] is not None]
    out = sum(r["output_tokens"] for r in res)
    inp = sum(n for _, n in prompts)
    print(json.dumps({
        "concurrency": a.concurrency, "requests": a.requests, "input_len": a.input_len,
        "output_len": a.output_len, "rate": a.rate, "wall_s": round(wall, 3),
        "request_throughput": round(len(res) / wall, 3),
        "output_tokens_per_s": round(out / wall, 1),
        "total_tokens_per_s": round((out + inp) / wall, 1),
        "ttft_ms": {p: round(1e3 * pct(ttft, p), 2) for p in (50, 90, 95, 99)},
        "tpot_ms": {p: round(1e3 * pct(tpot, p), 2) for p in (50, 95, 99)} if tpot else None,
        "itl_ms": {p: round(1e3 * pct(itl, p), 2) for p in (50, 90, 95, 99)} if itl else None,
    }))


if __name__ == "__main__":
    main()
