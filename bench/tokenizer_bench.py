# SPDX-License-Identifier: Apache-2.0
"""Tokenizer benchmark: octo vs Hugging Face `tokenizers`, one thread each.

Usage: bench/tokenizer_bench.py [--build DIR] [--shared DIR] [--rounds N]

Encodes the same corpora with
  - octo (build/tool_tokenize bench: one thread, encode per line, best of N),
  - HF tokenizers with RAYON_NUM_THREADS=1: encode() per line, and
    encode_batch() over all lines (best of N),
and measures the load time of the real Qwen tokenizer.json (7 MB) for both.
Prints one JSON object with wall-clock and process-CPU figures (on a
shared machine the CPU figures are the steadier ones). Corpora:
  mixed: the 10 000-line generated test corpus (tests/tokenizer/tok_corpus.py):
         many scripts, code, emoji, digits, whitespace, special tokens;
  prose: real documents from tests/data (English paper Markdown, Chinese
         research report, the Qwen3 model card) plus octo's own C sources,
         one line per input line;
  prose_docs: the same text in chunks of 400 lines (long inputs, few calls).
Before timing, it checks that octo's ids equal HF's on every line.
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its pool
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "tokenizer"))
from tok_corpus import make_corpus  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def prose_docs(shared):
    """The prose files whole, one input each (long inputs, few calls)."""
    lines = prose_corpus(shared)
    return ["".join(lines[i:i + 400]) for i in range(0, len(lines), 400)]


def prose_corpus(shared):
    files = [
        "pdf/ref/mineru_demo1.md",
        "pdf/ref/research_report_1f978cd8.cleaned.md",
        "pdf/ref/academic_literature_0b2c9c91.cleaned.md",
        "qwen/qwen3/SOURCE_model_card_qwen3_4b.md",
    ]
    lines = []
    for f in files:
        with open(os.path.join(shared, f), encoding="utf-8") as fh:
            lines += fh.read().splitlines(keepends=True)
    for f in sorted(glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True)):
        with open(f, encoding="utf-8") as fh:
            lines += fh.read().splitlines(keepends=True)
    return [line for line in lines if line]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def octo_run(tool, tok_path, lines, rounds, check_ids=None):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
        path = f.name
    try:
        if check_ids is not None:
            out = subprocess.run([tool, "encode", tok_path, path], capture_output=True, check=True)
            got = [json.loads(x)["ids"] for x in out.stdout.decode().splitlines()]
            bad = sum(g != w for g, w in zip(got, check_ids))
            if bad or len(got) != len(check_ids):
                raise SystemExit(f"octo ids differ from HF on {bad} lines")
        out = subprocess.run([tool, "bench", tok_path, path, str(rounds)], capture_output=True,
                             check=True)
        return json.loads(out.stdout)
    finally:
        os.unlink(path)


def best_of(rounds, fn):
    """Best wall and best process-CPU seconds over rounds."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shared", default=os.environ.get("OCTO_TEST_DATA",
                                                       os.path.join(ROOT, "tests", "data")))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tool = os.path.join(args.build, "tool_tokenize")
    tok_path = os.path.join(args.shared, "qwen", "qwen3", "tokenizer.json")

    t0, c0 = time.perf_counter(), time.process_time()
    hf = Tokenizer.from_file(tok_path)
    hf_load, hf_load_cpu = time.perf_counter() - t0, time.process_time() - c0

    result = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                          "python": platform.python_version(),
                          "tokenizers": __import__("tokenizers").__version__},
              "tokenizer_json_bytes": os.path.getsize(tok_path),
              "load_s": {"octo": None, "hf": round(hf_load, 4)},
              "load_cpu_s": {"octo": None, "hf": round(hf_load_cpu, 4)}, "corpora": {}}
    corpora = (("mixed", make_corpus(10000)), ("prose", prose_corpus(args.shared)),
               ("prose_docs", prose_docs(args.shared)))
    for name, lines in corpora:
        nbytes = sum(len(x.encode("utf-8")) for x in lines)
        want = [e.ids for e in hf.encode_batch(lines, add_special_tokens=False)]
        octo = octo_run(tool, tok_path, lines, args.rounds, check_ids=want)
        per_line = best_of(args.rounds, lambda: [hf.encode(x, add_special_tokens=False)
                                                 for x in lines])
        batch = best_of(args.rounds, lambda: hf.encode_batch(lines, add_special_tokens=False))
        result["load_s"]["octo"] = octo["load_s"]
        result["load_cpu_s"]["octo"] = octo["load_cpu_s"]
        mb = nbytes / 1e6
        result["corpora"][name] = {
            "lines": len(lines), "bytes": nbytes, "tokens": sum(len(w) for w in want),
            "mb_s_wall": {"octo": round(octo["mb_s"], 2),
                          "hf_encode": round(mb / per_line[0], 2),
                          "hf_encode_batch": round(mb / batch[0], 2)},
            "mb_s_cpu": {"octo": round(octo["mb_s_cpu"], 2),
                         "hf_encode": round(mb / per_line[1], 2),
                         "hf_encode_batch": round(mb / batch[1], 2)},
            "speedup_vs_best_hf_wall": round(octo["mb_s"] / (mb / min(per_line[0], batch[0])), 1),
            "speedup_vs_best_hf_cpu": round(octo["mb_s_cpu"] / (mb / min(per_line[1], batch[1])),
                                            1),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
