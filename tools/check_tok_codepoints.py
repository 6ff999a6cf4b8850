# SPDX-License-Identifier: Apache-2.0
"""Exhaustive differential check of octo's tokenizer against Hugging Face
`tokenizers`: every Unicode scalar value from U+0080 up, each in a short
context that exercises the split regex (letters, digits, spaces, newlines,
punctuation, a contraction), encoded by both; prints the code points whose
ids differ (expected: none). Too slow for CI (about two minutes on 2 cores);
run it after touching the regex or normalisation code.

Usage: .venv/bin/python tools/check_tok_codepoints.py [BUILD_DIR] [TOKENIZER_JSON]
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ["RAYON_NUM_THREADS"] = "1"
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    tok = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "..", "shared", "data", "qwen", "qwen3", "tokenizer.json")
    cps = [c for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    lines = [f"a{chr(c)}1{chr(c)} {chr(c)}{chr(c)}\n{chr(c)}. {chr(c)}'s" for c in cps]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
        path = f.name
    try:
        out = subprocess.run([os.path.join(build, "tool_tokenize"), "encode", tok, path],
                             capture_output=True, check=True).stdout.decode().splitlines()
    finally:
        os.unlink(path)
    want = Tokenizer.from_file(tok).encode_batch(lines, add_special_tokens=False)
    bad = [cps[i] for i, (o, w) in enumerate(zip(out, want)) if json.loads(o)["ids"] != w.ids]
    print(f"{len(cps)} code points, {len(bad)} differ")
    for c in bad[:50]:
        print(f"U+{c:04X}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
