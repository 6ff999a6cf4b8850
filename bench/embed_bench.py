# SPDX-License-Identifier: Apache-2.0
"""Embedding and rerank throughput of `octo serve` with dummy weights, on
the CPU or on a CUDA device, as a fraction of a bf16 compute peak.

Starts octo serve once with two models given by their config.json
(--load-format dummy, random bf16 weights) next to the real Qwen3 tokenizer
(OCTO_TEST_DATA/qwen/qwen3/tokenizer.json; OCTO_TEST_DATA defaults to
the repository's tests/data): an embedding model (default: the Qwen3-Embedding-0.6B
config) and a reranker (default: the Qwen3-0.6B config, the shape of
Qwen3-Reranker-0.6B). With --device N both go on CUDA device N
(`devices: [N]`, --gpu-mem split between them) and the server log must say
so. Then, after one warm-up request per model (a full forward's worth, so
that workspaces and GEMM plans exist before the clock starts):

- embed: for each batch size of --batches, one /v1/embeddings request of
  BATCH inputs of TOKENS random token ids each (--repeat times; also as
  BATCH concurrent one-input requests with --concurrent);
- rerank: one /v1/rerank request of PAIRS documents of DOC_TOKENS random
  words (--repeat times).

Prints JSON lines: embeddings/s (pairs/s), tokens/s, the server's CPU time,
the model FLOPs of the work and their rate as a fraction of --peak-tflops
(default 989.4: H100 SXM dense bf16, the spec sheet) and of
--ceiling-tflops when given (a measured GEMM ceiling of the card). FLOPs
(model_flops below): 2 x the non-embedding weights per token (q, k, v, o,
gate, up, down; norms neglected), causal attention 4 x ctx x heads x
head_dim per layer and token with ctx averaging (L+1)/2 over a prompt of L
tokens, and for the reranker the LM head on each pair's last row (2 x
hidden x vocab). The embedding model computes no LM head. Wall numbers
include HTTP, JSON and tokenisation (the server's whole path).

    .venv/bin/python bench/embed_bench.py [--batches 64,256] [--tokens 512] [--pairs 64]
        [--device 0] [--ceiling-tflops 804]
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
SHARED = os.environ.get("OCTO_TEST_DATA", os.path.join(ROOT, "tests", "data"))
os.environ.setdefault("OCTO_BIN", os.path.join(ROOT, "build", "octo"))
from octo_server import Server  # noqa: E402

WORDS = ("the of and to in is was for on that with as by at from his her this which "
         "city river paris model token server fast slow water light house green").split()
DEVICE_BATCH_TOKENS = 16384  # octo's default for a pooling model on a GPU
CPU_PEAK_NOTE = "not a GPU: the fractions compare with --peak-tflops all the same"


# ==== FLOPs ====

def shape_of(config_path):
    c = json.load(open(config_path))
    c = c.get("text_config", c)
    H, C = c["num_attention_heads"], c["hidden_size"]
    return {"layers": c["num_hidden_layers"], "hidden": C, "heads": H,
            "kv_heads": c.get("num_key_value_heads", H), "head_dim": c.get("head_dim") or C // H,
            "intermediate": c["intermediate_size"], "vocab": c["vocab_size"]}


def layer_weights(s):
    """Non-embedding weights of one layer (norm vectors neglected)."""
    C, D = s["hidden"], s["head_dim"]
    qo = 2 * C * s["heads"] * D
    kv = 2 * C * s["kv_heads"] * D
    mlp = 3 * C * s["intermediate"]
    return qo + kv + mlp


def model_flops(s, prompt_len, n_prompts, head_rows=0):
    """FLOPs of n_prompts prompts of prompt_len tokens: weights, causal
    attention (average context (L+1)/2) and head_rows LM-head rows each."""
    tokens = prompt_len * n_prompts
    dense = 2 * s["layers"] * layer_weights(s) * tokens
    attn = 4 * s["layers"] * s["heads"] * s["head_dim"] * (prompt_len + 1) / 2 * tokens
    head = 2 * s["hidden"] * s["vocab"] * head_rows * n_prompts
    return dense + attn + head


def rates(args, flops, wall):
    tflops = flops / wall / 1e12
    out = {"model_tflop": round(flops / 1e12, 3), "tflops": round(tflops, 2),
           "peak_tflops": args.peak_tflops,
           "frac_peak": round(tflops / args.peak_tflops, 4)}
    if args.ceiling_tflops:
        out["ceiling_tflops"] = args.ceiling_tflops
        out["frac_ceiling"] = round(tflops / args.ceiling_tflops, 4)
    return out


# ==== server ====

def model_dir(tmp, name, config):
    tok = os.path.join(SHARED, "qwen", "qwen3", "tokenizer.json")
    if not os.path.exists(tok):
        sys.exit(f"embed_bench: no tokenizer at {tok} (set OCTO_TEST_DATA)")
    d = os.path.join(tmp, name)
    os.makedirs(d)
    shutil.copy(config, os.path.join(d, "config.json"))
    shutil.copy(tok, d)
    return d


def model_entry(args, name, path, task, mem):
    lines = [f"  - name: {name}", f"    path: {path}", f"    task: {task}",
             "    load_format: dummy", f"    max_model_len: {args.max_model_len}",
             f"    max_num_batched_tokens: {args.batch_tokens}",
             f"    max_num_seqs: {args.max_seqs}"]
    if args.device is not None:
        lines += [f"    devices: [{args.device}]", f"    gpu_memory_utilization: {mem:.3f}"]
    return "\n".join(lines) + "\n"


def start_server(args, tmp):
    tasks = [m for m in (("emb", args.embed_config, "embed", args.skip_embed),
                         ("rr", args.rerank_config, "score", args.skip_rerank)) if not m[3]]
    mem = args.gpu_mem / len(tasks)
    cfg = "server:\n  host: 127.0.0.1\nmodels:\n" + "".join(
        model_entry(args, name, model_dir(tmp, name, conf), task, mem)
        for name, conf, task, _ in tasks)
    server = Server([], cfg, start_timeout=args.start_timeout)
    if args.device is not None:  # the pooling models must really be on the card
        for name, _, task, _ in tasks:
            where = f"model {name} ({task}) on CUDA device {args.device}"
            if where not in server.log():
                server.stop()
                sys.exit(f"embed_bench: `{where}` not in the server log:\n{server.log()}")
    for line in server.log().splitlines():
        if "tokens and" in line or "KV cache on CUDA" in line or "GPU memory" in line:
            print("# " + line.strip(), file=sys.stderr)
    return server


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(server, fn, repeat):
    c0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat, (cpu_seconds(server.proc.pid) - c0) / repeat


def common(args):
    return {"device": "cpu" if args.device is None else f"cuda:{args.device}",
            "max_num_batched_tokens": args.batch_tokens, "max_num_seqs": args.max_seqs,
            "repeat": args.repeat}


# ==== embed ====

def embed_request(server, inputs):
    r = requests.post(server.url + "/v1/embeddings", timeout=3600,
                      json={"model": "emb", "input": inputs, "encoding_format": "base64"})
    r.raise_for_status()
    return r.json()


def bench_embed(server, args, rng, batch, shape):
    inputs = [[rng.randrange(1000, 150000) for _ in range(args.tokens)] for _ in range(batch)]
    n_tok = batch * args.tokens

    def one_request():
        usage = embed_request(server, inputs)["usage"]
        assert usage["prompt_tokens"] == n_tok, usage

    def concurrent():
        def go(x):
            requests.post(server.url + "/v1/embeddings", timeout=3600,
                          json={"model": "emb", "input": x}).raise_for_status()
        th = [threading.Thread(target=go, args=(x,)) for x in inputs]
        for t in th:
            t.start()
        for t in th:
            t.join()

    modes = [("one_request", one_request)] + ([("concurrent", concurrent)] if args.concurrent
                                              else [])
    flops = model_flops(shape, args.tokens, batch)
    for name, fn in modes:
        wall, cpu = timed(server, fn, args.repeat)
        row = {"bench": "embed", "mode": name, "batch": batch, "tokens_per_input": args.tokens,
               **common(args), "wall_s": round(wall, 3), "server_cpu_s": round(cpu, 2),
               "embeddings_per_s": round(batch / wall, 2), "tokens_per_s": round(n_tok / wall, 1),
               "gflop_per_token": round(flops / n_tok / 1e9, 3), **rates(args, flops, wall)}
        print(json.dumps(row), flush=True)


# ==== rerank ====

def rerank_request(server, docs):
    r = requests.post(server.url + "/v1/rerank", timeout=3600,
                      json={"model": "rr", "query": "which city has a green river",
                            "documents": docs, "return_documents": False})
    r.raise_for_status()
    return r.json()


def bench_rerank(server, args, rng, shape):
    docs = [" ".join(rng.choice(WORDS) for _ in range(args.doc_tokens))
            for _ in range(args.pairs)]
    out = {}

    def go():
        out["usage"] = rerank_request(server, docs)["usage"]

    wall, cpu = timed(server, go, args.repeat)
    tok = out["usage"]["prompt_tokens"]
    # pairs differ in length by a few tokens: the attention term uses the
    # average pair length
    flops = model_flops(shape, tok / args.pairs, args.pairs, head_rows=1)
    row = {"bench": "rerank", "pairs": args.pairs, "prompt_tokens": tok,
           "tokens_per_pair": round(tok / args.pairs, 1), **common(args),
           "wall_s": round(wall, 3), "server_cpu_s": round(cpu, 2),
           "pairs_per_s": round(args.pairs / wall, 2), "tokens_per_s": round(tok / wall, 1),
           "gflop_per_token": round(flops / tok / 1e9, 3), **rates(args, flops, wall)}
    print(json.dumps(row), flush=True)


def warm_up(server, args, rng):
    """One full forward per model before any clock runs."""
    per_forward = max(1, min(args.batch_tokens // args.tokens, max(args.batches)))
    if not args.skip_embed:
        embed_request(server, [[rng.randrange(1000, 150000) for _ in range(args.tokens)]
                               for _ in range(per_forward)])
    if not args.skip_rerank:
        n = max(1, min(args.pairs, args.batch_tokens // (args.doc_tokens + 80)))
        rerank_request(server, [" ".join(rng.choice(WORDS) for _ in range(args.doc_tokens))
                                for _ in range(n)])


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cfg = os.path.join(SHARED, "configs")
    ap.add_argument("--embed-config",
                    default=os.path.join(cfg, "Qwen__Qwen3-Embedding-0.6B.config.json"))
    ap.add_argument("--rerank-config", default=os.path.join(cfg, "Qwen__Qwen3-0.6B.config.json"))
    ap.add_argument("--batches", default="64",
                    help="comma-separated batch sizes of the embed request, e.g. 64,256")
    ap.add_argument("--batch", type=int, help="one batch size (same as --batches N)")
    ap.add_argument("--tokens", type=int, default=512, help="token ids per embedding input")
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--doc-tokens", type=int, default=200, help="words per rerank document")
    ap.add_argument("--batch-tokens", type=int, default=0,
                    help="max_num_batched_tokens: tokens per forward (0: octo's default, "
                         "2048 on the CPU, %d on a GPU)" % DEVICE_BATCH_TOKENS)
    ap.add_argument("--max-seqs", type=int, default=256, help="max_num_seqs: prompts per forward")
    ap.add_argument("--max-model-len", type=int, default=8192)
    ap.add_argument("--device", type=int, help="CUDA device for both models (default: CPU)")
    ap.add_argument("--gpu-mem", type=float, default=0.85,
                    help="gpu_memory_utilization, split evenly between the models")
    ap.add_argument("--peak-tflops", type=float, default=989.4,
                    help="bf16 dense peak (default: H100 SXM spec sheet)")
    ap.add_argument("--ceiling-tflops", type=float, default=0.0,
                    help="a measured ceiling (e.g. cuBLASLt's best bf16 GEMM on the card)")
    ap.add_argument("--repeat", type=int, default=1, help="timed requests per result (mean)")
    ap.add_argument("--start-timeout", type=float, default=600.0,
                    help="seconds to wait for the server to load both models")
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("--skip-rerank", action="store_true")
    ap.add_argument("--skip-embed", action="store_true")
    args = ap.parse_args()
    args.batches = [args.batch] if args.batch else [int(b) for b in args.batches.split(",")]
    if args.batch_tokens <= 0:
        args.batch_tokens = DEVICE_BATCH_TOKENS if args.device is not None else 2048
    if args.max_seqs > args.batch_tokens:
        args.max_seqs = args.batch_tokens
    if args.skip_embed and args.skip_rerank:
        ap.error("nothing to run")
    return args


def main():
    args = parse_args()
    rng = random.Random(7)
    shapes = {"embed": shape_of(args.embed_config), "rerank": shape_of(args.rerank_config)}
    for k, s in shapes.items():
        w = s["layers"] * layer_weights(s)
        print(f"# {k}: {s}, {w / 1e9:.3f} G non-embedding weights", file=sys.stderr)
    if args.device is None:
        print("# " + CPU_PEAK_NOTE, file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="octo-embed-bench-")
    server = None
    try:
        server = start_server(args, tmp)
        warm_up(server, args, rng)
        if not args.skip_embed:
            for batch in args.batches:
                bench_embed(server, args, rng, batch, shapes["embed"])
        if not args.skip_rerank:
            bench_rerank(server, args, rng, shapes["rerank"])
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
