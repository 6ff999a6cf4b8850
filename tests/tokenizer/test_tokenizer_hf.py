# SPDX-License-Identifier: Apache-2.0
"""octo's tokenizer against Hugging Face `tokenizers` (the oracle) on the
real Qwen vocabulary (tests/data/qwen/qwen3/tokenizer.json).

- >= 10 000 generated lines (tok_corpus.py): identical ids, and
  decode(encode(x)) == x (== HF decode; == NFC(x) where NFC changes x);
- the same through octo_text_tokenizer_new_from_vocab (GGUF-style arrays);
- llama.cpp's ggml-vocab-qwen2 vectors (all 46 cases of the .inp/.out);
- decode and the streaming detokeniser vs HF decode on random id runs;
- variants of the file (TemplateProcessing, added-token flags, Split
  behaviours, ByteLevel regex/prefix space, NFD/NFKC normalizers), each
  checked against HF loading the very same variant.
"""
import json
import os
import random
import subprocess
import sys
import unicodedata

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from tok_corpus import make_corpus  # noqa: E402

os.environ.setdefault("RAYON_NUM_THREADS", "1")
tokenizers = pytest.importorskip("tokenizers")

DATA = os.environ.get("OCTO_TEST_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
BUILD = os.environ.get("OCTO_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
QWEN = os.path.join(DATA, "qwen/qwen3/tokenizer.json")
TOOL = os.path.join(BUILD, "tool_tokenize")
ASAN = os.environ.get("OCTO_SANITIZE", "OFF") == "ON"
N_LINES = 10000 if not ASAN else 3000  # the oracle run proper is the release build


def run_tool(mode, tok_path, records, *flags, tmp_path):
    inp = tmp_path / f"in_{mode}.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = subprocess.run([TOOL, mode, str(tok_path), str(inp), *flags], capture_output=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    res = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(res) == len(records)
    return res


@pytest.fixture(scope="module")
def hf():
    return tokenizers.Tokenizer.from_file(QWEN)


@pytest.fixture(scope="module")
def corpus():
    lines = make_corpus(N_LINES)
    assert len(lines) >= N_LINES
    return lines


def compare(lines, got, want_ids, label):
    bad = [(i, lines[i], g.get("ids", g), w) for i, (g, w) in enumerate(zip(got, want_ids))
           if g.get("ids") != w]
    msg = "\n".join(f"{label} line {i} {s!r}:\n  octo {g}\n  hf   {w}" for i, s, g, w in bad[:5])
    assert not bad, f"{len(bad)}/{len(lines)} lines differ\n{msg}"


def test_corpus_ids_and_roundtrip(hf, corpus, tmp_path):
    got = run_tool("encode", QWEN, corpus, tmp_path=tmp_path)
    want = [e.ids for e in hf.encode_batch(corpus, add_special_tokens=False)]
    compare(corpus, got, want, "json")
    hf_dec = hf.decode_batch(want, skip_special_tokens=False)
    for i, (line, g) in enumerate(zip(corpus, got)):
        assert g["dec"] == hf_dec[i], f"line {i}: decode differs from HF"
        if unicodedata.normalize("NFC", line) == line:
            assert g["dec"] == line, f"line {i}: round trip {line!r} -> {g['dec']!r}"
    n_tokens = sum(len(w) for w in want)
    print(f"{len(corpus)} lines, {n_tokens} tokens identical to HF")


def test_corpus_from_vocab_arrays(hf, corpus, tmp_path):
    """GGUF path: the same vocabulary given as arrays (pre = "qwen2")."""
    got = run_tool("encode", QWEN, corpus, "--vocab", tmp_path=tmp_path)
    want = [e.ids for e in hf.encode_batch(corpus, add_special_tokens=False)]
    compare(corpus, got, want, "vocab")


def test_llamacpp_vectors(tmp_path):
    base = os.path.join(DATA, "qwen/llamacpp_vocab_tests/ggml-vocab-qwen2.gguf")
    with open(base + ".inp", encoding="utf-8") as f:
        inp = f.read().split("\n__ggml_vocab_test__\n")
    with open(base + ".out", encoding="utf-8") as f:
        out = f.read().split("\n")
    inp = inp[:-1] if inp[-1] == "" else inp
    out = out[:-1] if out[-1] == "" else out
    # the files hold 46 cases (46 separators, 46 expected-id lines)
    assert len(inp) == len(out) == 46, (len(inp), len(out))
    want = [[int(x) for x in o.split()] for o in out]
    got = run_tool("encode", QWEN, inp, tmp_path=tmp_path)
    compare(inp, got, want, "llama.cpp")
    got = run_tool("encode", QWEN, inp, "--vocab", tmp_path=tmp_path)
    compare(inp, got, want, "llama.cpp/vocab")


def test_decode_and_stream_random_ids(hf, tmp_path):
    r = random.Random(7)
    vocab = hf.get_vocab_size(with_added_tokens=True)
    specials = [151643, 151644, 151645, 151667, 151668]
    runs = []
    for _ in range(3000):
        n = r.randint(0, 40)
        ids = []
        for _ in range(n):
            k = r.random()
            if k < 0.6:
                ids.append(r.randrange(0, vocab))
            elif k < 0.8:
                ids.append(r.randrange(188, 256 + 188) % 151643)  # byte-level singles
            elif k < 0.9:
                ids.append(r.choice(specials))
            else:
                ids.append(r.choice([151669, 151935, 10**6]))  # ids HF does not know
        runs.append(ids)
    for skip in (False, True):
        flags = ["--skip"] if skip else []
        got = run_tool("decode", QWEN, runs, *flags, tmp_path=tmp_path)
        want = hf.decode_batch(runs, skip_special_tokens=skip)
        for i, (g, w) in enumerate(zip(got, want)):
            assert "err" not in g, f"run {i}: a streamed chunk was not valid UTF-8"
            assert g["dec"] == w, f"run {i} skip={skip}: {runs[i]}\n octo {g['dec']!r}\n hf {w!r}"
            assert g["stream"] == w, f"run {i} skip={skip}: stream {g['stream']!r} != {w!r}"


# ---- variants of the file, each checked against HF on the same variant ----

_BASE = {}


def variant(tmp_path, name, edit, pairs=False, model_edit=None):
    """Writes QWEN with edit() applied to a copy of its small parts; the 7 MB
    model section is serialised once and reused (pairs: merges written as
    [a, b] pairs instead of "a b" strings)."""
    if not _BASE:
        with open(QWEN, encoding="utf-8") as f:
            d = json.load(f)
        model = d.pop("model")
        _BASE["model"] = json.dumps(model, ensure_ascii=False)
        model["merges"] = [m.split(" ") for m in model["merges"]]
        _BASE["model_pairs"] = json.dumps(model, ensure_ascii=False)
        _BASE["rest"] = json.dumps(d)
    d = json.loads(_BASE["rest"])
    edit(d)
    body = json.dumps(d, ensure_ascii=False)
    p = tmp_path / f"{name}.json"
    model = _BASE["model_pairs" if pairs else "model"]
    if model_edit:
        m = json.loads(model)
        model_edit(m)
        model = json.dumps(m, ensure_ascii=False)
    p.write_text(body[:-1] + ', "model": ' + model + "}", encoding="utf-8")
    return p


def check_variant(tmp_path, corpus, name, edit, special=False, n=1500, keep=None, pairs=False,
                  model_edit=None):
    p = variant(tmp_path, name, edit, pairs, model_edit)
    lines = corpus[:n] if not ASAN else corpus[:300]
    lines = [s for s in lines if keep is None or keep(s)]
    lines = lines + ["<|endoftext|>", " <think> x </think> ", "a<tool_call>b", "hello  world"]
    t = tokenizers.Tokenizer.from_file(str(p))
    want = [e.ids for e in t.encode_batch(lines, add_special_tokens=special)]
    got = run_tool("encode", p, lines, *(["--special"] if special else []), tmp_path=tmp_path)
    compare(lines, got, want, name)


def test_merges_as_pairs(tmp_path, corpus):
    check_variant(tmp_path, corpus, "pairs", lambda d: None, n=1500, pairs=True)


def test_ignore_merges(tmp_path, corpus):
    """model.ignore_merges (Llama-3 files set it): a word that is itself a
    vocabulary entry is one id even where the merges cannot build it. Qwen's
    merges build every entry, so the merges making " world", " hello" and
    "token" are dropped; then only ignore_merges keeps those words whole."""
    words = ["\u0120world", "\u0120hello", "token"]

    def edit_model(m, ignore):
        m["ignore_merges"] = ignore
        m["merges"] = [x for x in m["merges"] if x.replace(" ", "", 1) not in words]

    lines = ["hello world token", " world", "tokens token", "Hello, world!"]
    for ignore in (True, False):
        check_variant(tmp_path, lines + corpus, f"ignore_merges_{ignore}", lambda d: None, n=800,
                      model_edit=lambda m: edit_model(m, ignore))


def test_template_processing_appends_eos(tmp_path, corpus):
    def edit(d):
        d["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}],
            "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [151643],
                                                 "tokens": ["<|endoftext|>"]}}}
    check_variant(tmp_path, corpus, "template", edit, special=True, n=300)
    check_variant(tmp_path, corpus, "template_off", edit, special=False, n=100)

    def seq(d):
        edit(d)
        d["post_processor"] = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
             "pair": [], "special_tokens": {
                 "<|endoftext|>": {"id": "<|endoftext|>", "ids": [151643], "tokens": ["x"]},
                 "<|im_start|>": {"id": "<|im_start|>", "ids": [151644], "tokens": ["y"]}}}]}
    check_variant(tmp_path, corpus, "template_seq", seq, special=True, n=100)


def test_added_token_flags(tmp_path, corpus):
    def edit(d):
        for t in d["added_tokens"]:
            if t["content"] == "<think>":
                t["lstrip"] = True
            if t["content"] == "</think>":
                t["rstrip"] = True
            if t["content"] == "<tool_call>":
                t["single_word"] = True
            if t["content"] == "<|im_end|>":
                t["lstrip"] = t["rstrip"] = True
        # a normalized added token (matched after NFC), and one that is
        # also a model-vocabulary entry
        d["added_tokens"].append({"id": 151669, "content": "caf\u00e9!", "single_word": False,
                                  "lstrip": False, "rstrip": False, "normalized": True,
                                  "special": False})
        d["added_tokens"].append({"id": 9707, "content": "Hello", "single_word": False,
                                  "lstrip": False, "rstrip": False, "normalized": False,
                                  "special": True})
    lines = ["café! cafe\u0301! x", "Hello world", " <think>  a", "</think>\n\n b", "x<tool_call>",
             " <tool_call> ", "<tool_call>y", "a  <|im_end|>  b"]
    check_variant(tmp_path, lines + corpus, "added", edit, n=1500)


@pytest.mark.parametrize("behavior,invert", [("Removed", False), ("MergedWithPrevious", False),
                                             ("MergedWithNext", False), ("Contiguous", False),
                                             ("Isolated", True), ("MergedWithNext", True)])
def test_split_behaviors(tmp_path, corpus, behavior, invert):
    def edit(d):
        seq = d["pre_tokenizer"]["pretokenizers"]
        seq.insert(0, {"type": "Split", "pattern": {"String": " "}, "behavior": behavior,
                       "invert": invert})
        seq.insert(1, {"type": "Split", "pattern": {"Regex": "\\d+|[,.;]"}, "behavior": behavior,
                       "invert": invert})
    check_variant(tmp_path, corpus, f"split_{behavior}_{invert}", edit, n=400)


def test_bytelevel_gpt2_style(tmp_path, corpus):
    def edit(d):
        d["normalizer"] = None
        d["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                              "use_regex": True}
    check_variant(tmp_path, corpus, "gpt2style", edit, n=1500)


def test_normalizer_sequence(tmp_path, corpus):
    def edit(d):
        d["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "NFD"}]}
    check_variant(tmp_path, corpus, "nfkc_nfd", edit, n=1500)
