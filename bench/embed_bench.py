# SPDX-License-Identifier: Apache-2.0
"""Embedding and rerank throughput of `octo serve` with dummy weights.

Starts octo serve with two models given by their config.json
(--load-format dummy, random bf16 weights) next to the real Qwen3 tokenizer:
an embedding model (default: the Qwen3-Embedding-0.6B config) and a reranker
(default: the Qwen3-0.6B config, the shape of Qwen3-Reranker-0.6B). Then:

- embed: one /v1/embeddings request of BATCH inputs of TOKENS token ids each
  (also as BATCH concurrent one-input requests with --concurrent);
- rerank: one /v1/rerank request of PAIRS documents of DOC_TOKENS words.

Prints JSON lines (embeddings/s, tokens/s, pairs/s, wall and the server's
CPU time). Wall numbers on a shared machine count other processes' time too.

    .venv/bin/python bench/embed_bench.py [--batch 64] [--tokens 512] [--pairs 64]
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
SHARED = os.environ.get("OCTO_SHARED", os.path.join(ROOT, "..", "shared", "data"))
os.environ.setdefault("OCTO_BIN", os.path.join(ROOT, "build", "octo"))
from octo_server import Server  # noqa: E402

WORDS = ("the of and to in is was for on that with as by at from his her this which "
         "city river paris model token server fast slow water light house green").split()


def model_dir(tmp, name, config):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    shutil.copy(config, os.path.join(d, "config.json"))
    shutil.copy(os.path.join(SHARED, "qwen", "qwen3", "tokenizer.json"), d)
    return d


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(server, fn):
    c0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu_seconds(server.proc.pid) - c0


def bench_embed(server, args, rng):
    inputs = [[rng.randrange(1000, 150000) for _ in range(args.tokens)]
              for _ in range(args.batch)]
    out = {}

    def one_request():
        r = requests.post(server.url + "/v1/embeddings", timeout=3600,
                          json={"model": "emb", "input": inputs, "encoding_format": "base64"})
        r.raise_for_status()
        out["usage"] = r.json()["usage"]

    def concurrent():
        def go(x):
            requests.post(server.url + "/v1/embeddings", timeout=3600,
                          json={"model": "emb", "input": x}).raise_for_status()
        th = [threading.Thread(target=go, args=(x,)) for x in inputs]
        for t in th:
            t.start()
        for t in th:
            t.join()

    requests.post(server.url + "/v1/embeddings", json={"model": "emb", "input": [inputs[0][:16]]})
    modes = [("one_request", one_request)] + ([("concurrent", concurrent)] if args.concurrent
                                              else [])
    for name, fn in modes:
        wall, cpu = timed(server, fn)
        n_tok = args.batch * args.tokens
        print(json.dumps({"bench": "embed", "mode": name, "batch": args.batch,
                          "batch_tokens": args.batch_tokens or "default",
                          "tokens_per_input": args.tokens, "wall_s": round(wall, 2),
                          "server_cpu_s": round(cpu, 2),
                          "embeddings_per_s": round(args.batch / wall, 3),
                          "tokens_per_s": round(n_tok / wall, 1),
                          "tokens_per_cpu_s": round(n_tok / cpu, 1)}), flush=True)


def bench_rerank(server, args, rng):
    docs = [" ".join(rng.choice(WORDS) for _ in range(args.doc_tokens))
            for _ in range(args.pairs)]
    out = {}

    def go():
        r = requests.post(server.url + "/v1/rerank", timeout=3600,
                          json={"model": "rr", "query": "which city has a green river",
                                "documents": docs, "return_documents": False})
        r.raise_for_status()
        out["usage"] = r.json()["usage"]

    wall, cpu = timed(server, go)
    tok = out["usage"]["prompt_tokens"]
    print(json.dumps({"bench": "rerank", "pairs": args.pairs, "prompt_tokens": tok,
                      "batch_tokens": args.batch_tokens or "default",
                      "wall_s": round(wall, 2), "server_cpu_s": round(cpu, 2),
                      "pairs_per_s": round(args.pairs / wall, 3),
                      "tokens_per_s": round(tok / wall, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    cfg = os.path.join(SHARED, "configs")
    ap.add_argument("--embed-config", default=os.path.join(cfg, "Qwen__Qwen3-Embedding-0.6B.config.json"))
    ap.add_argument("--rerank-config", default=os.path.join(cfg, "Qwen__Qwen3-0.6B.config.json"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--doc-tokens", type=int, default=200)
    ap.add_argument("--batch-tokens", type=int, default=0,
                    help="max_num_batched_tokens: tokens per forward (0: octo default)")
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("--skip-rerank", action="store_true")
    ap.add_argument("--skip-embed", action="store_true")
    args = ap.parse_args()
    rng = random.Random(7)
    tmp = tempfile.mkdtemp(prefix="octo-embed-bench-")
    emb = model_dir(tmp, "emb", args.embed_config)
    rr = model_dir(tmp, "rr", args.rerank_config)
    extra = f"    max_num_batched_tokens: {args.batch_tokens}\n" if args.batch_tokens else ""
    server = Server([], f"""
server:
  host: 127.0.0.1
models:
  - name: emb
    path: {emb}
    task: embed
    load_format: dummy
    max_model_len: 8192
{extra}  - name: rr
    path: {rr}
    task: score
    load_format: dummy
    max_model_len: 8192
{extra}""")
    try:
        if not args.skip_embed:
            bench_embed(server, args, rng)
        if not args.skip_rerank:
            bench_rerank(server, args, rng)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
