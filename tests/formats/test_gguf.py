# SPDX-License-Identifier: Apache-2.0
"""GGUF reader against the `gguf` package (llama.cpp's gguf-py, pinned).

Valid files are written by gguf.GGUFWriter and what octo reads must equal
what gguf.GGUFReader reads. Broken files come from a small byte writer
here, built from the public GGUF spec, whose valid output is first checked
against GGUFReader too; each corruption must be rejected with the right
code and message, and no prefix of a valid file may crash the reader."""
import struct

import numpy as np
import pytest
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

from conftest import run_tool


def oracle_fields(path):
    r = gguf.GGUFReader(str(path))
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    return r, fields


def same_value(a, b):
    if isinstance(b, float) or isinstance(a, float):
        return a == pytest.approx(b, rel=1e-6, abs=1e-30)
    if isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def compare(out, path):
    assert out.ok, out
    r, fields = oracle_fields(path)
    assert [kv["key"] for kv in out["kv"]] == list(fields)
    for kv in out["kv"]:
        f = fields[kv["key"]]
        assert kv["type"] == int(f.types[0]), kv["key"]
        if f.types[0] == V.ARRAY:
            assert kv["elem_type"] == int(f.types[1]), kv["key"]
        assert same_value(kv["value"], f.contents()), kv["key"]
    assert out["data_offset"] == r.data_offset
    assert len(out["tensors"]) == len(r.tensors)
    for mine, ref in zip(out["tensors"], r.tensors):
        assert mine["name"] == ref.name
        assert mine["ggml_type"] == int(ref.tensor_type)
        assert mine["type_name"] == ref.tensor_type.name
        assert mine["ne"] == [int(x) for x in ref.shape]
        assert mine["nbytes"] == int(ref.n_bytes)
        assert out["data_offset"] + mine["offset"] == ref.data_offset
        assert bytes.fromhex(mine["data"]) == ref.data.tobytes()


def test_ggml_type_table_matches_gguf_py():
    out = run_tool("ggml_types")
    mine = {t["type"]: (t["name"], t["blk"], t["bytes"]) for t in out["types"]}
    ref = {int(t): (t.name, *gguf.GGML_QUANT_SIZES[t]) for t in gguf.GGML_QUANT_SIZES}
    ref.pop(int(Q.Q8_1))  # compute-only type, deliberately absent (see gguf.c)
    assert mine == ref


def write_rich(path, alignment=None):
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(str(path), "qwen3")
    if alignment:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -32000)
    w.add_uint32("qwen3.block_count", 28)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("qwen3.rope.freq_base", 1_000_000.0)
    w.add_uint64("t.u64", 2**62 + 3)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 1e-300)
    w.add_bool("t.bool", True)
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_string("t.unicode", "中文 ✓ émoji 😀")
    tokens = ["!", "\"", "Ġthe", "中文", "<|im_end|>", "", "ĊĊ"] * 30
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_array("tokenizer.ggml.merges", ["Ġ t", "h e", "Ġt he"])
    w.add_array("tokenizer.ggml.token_type", [1, 1, 1, 1, 3, 1, 1] * 30)
    w.add_array("tokenizer.ggml.scores", [0.5, -1.25, 3.0])
    w.add_key_value("t.bools", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("t.i64s", [-1, 2**40], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("t.f64s", [0.1, -2.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("t.u8s", [0, 255, 7], V.ARRAY, sub_type=V.UINT8)
    w.add_array("t.empty", [])
    w.add_tensor("token_embd.weight", rng.standard_normal((8, 64)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((4, 64)).astype(np.float16))
    w.add_tensor("blk.0.ffn.bias", np.arange(5, dtype=np.int32))
    q8 = rng.integers(0, 256, size=(3, 2 * 34), dtype=np.uint8)  # 3 rows of 64 Q8_0 values
    w.add_tensor("blk.0.ffn_down.weight", q8, raw_dtype=Q.Q8_0)
    bf = rng.integers(0, 65536, size=(2, 32), dtype=np.uint16)
    w.add_tensor("output_norm.weight", bf.view(np.uint8), raw_shape=(2, 32), raw_dtype=Q.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_rich_file_matches_reader(tmp_path):
    f = tmp_path / "rich.gguf"
    write_rich(f)
    out = run_tool("gguf", f, "--data")
    compare(out, f)
    assert out["version"] == 3 and out["alignment"] == 32
    by = {t["name"]: t for t in out["tensors"]}
    assert by["blk.0.ffn_down.weight"]["type_name"] == "Q8_0"
    assert by["blk.0.ffn_down.weight"]["dtype"] == "Q8_0"  # the GGML block type, from the one type table
    assert by["output_norm.weight"]["dtype"] == "BF16"
    assert by["token_embd.weight"]["ne"] == [64, 8]


def test_custom_alignment(tmp_path):
    f = tmp_path / "al.gguf"
    write_rich(f, alignment=256)
    out = run_tool("gguf", f, "--data")
    compare(out, f)
    assert out["alignment"] == 256 and out["data_offset"] % 256 == 0
    assert all(t["offset"] % 256 == 0 for t in out["tensors"])


# ---- a byte writer from the spec, for files the official writer won't make ----

SCALAR = {V.UINT8: "<B", V.INT8: "<b", V.UINT16: "<H", V.INT16: "<h", V.UINT32: "<I",
          V.INT32: "<i", V.FLOAT32: "<f", V.BOOL: "<?", V.UINT64: "<Q", V.INT64: "<q",
          V.FLOAT64: "<d"}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gval(t, v, sub=None):
    if t == V.STRING:
        return gstr(v)
    if t == V.ARRAY:
        return struct.pack("<IQ", sub, len(v)) + b"".join(gval(sub, x) for x in v)
    return struct.pack(SCALAR[t], v)


def gguf_bytes(kvs=(), tensors=(), version=3, alignment=32, magic=b"GGUF", data=None,
               n_kv=None, n_t=None):
    """kvs: (key, type, value[, sub]); tensors: (name, dims, ggml_type, offset)."""
    out = magic + struct.pack("<IQQ", version, len(tensors) if n_t is None else n_t,
                              len(kvs) if n_kv is None else n_kv)
    for kv in kvs:
        out += gstr(kv[0]) + struct.pack("<I", kv[1]) + gval(kv[1], kv[2], *kv[3:])
    for name, dims, typ, off in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(
            struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", typ, off)
    out += b"\0" * (-len(out) % alignment)
    if data is None:
        data = bytes(range(256)) * 2
    return out + data


def small_valid():
    return gguf_bytes(
        kvs=[("general.architecture", V.STRING, "qwen3"),
             ("tokenizer.ggml.tokens", V.ARRAY, ["a", "b", "c"], V.STRING),
             ("x.f", V.FLOAT32, 0.5)],
        tensors=[("w", [4, 2], Q.F32, 0), ("v", [32], Q.Q8_0, 64)],
        data=bytes(range(256)) * 1)


def test_spec_writer_agrees_with_reader(tmp_path):
    f = tmp_path / "small.gguf"
    f.write_bytes(small_valid())
    compare(run_tool("gguf", f, "--data"), f)
    f.write_bytes(small_valid()[:4] + struct.pack("<I", 2) + small_valid()[8:])
    out = run_tool("gguf", f)
    assert out.ok and out["version"] == 2


def reject(tmp_path, blob, code, needle):
    f = tmp_path / "bad.gguf"
    f.write_bytes(blob)
    out = run_tool("gguf", f)
    assert not out.ok, out
    assert out.code == code, out
    assert needle in out["err"], out["err"]
    assert out["err"].startswith("bad.gguf: ")


T_OK = [("w", [4, 2], Q.F32, 0)]

CASES = {
    "bad_magic": (lambda: gguf_bytes(magic=b"GGML"), "PARSE", "bad magic 47 47 4d 4c"),
    "version_1": (lambda: gguf_bytes(version=1), "UNSUPPORTED", "GGUF version 1"),
    "version_4": (lambda: gguf_bytes(version=4), "UNSUPPORTED", "GGUF version 4"),
    "big_endian": (lambda: b"GGUF" + struct.pack(">IQQ", 3, 0, 0), "UNSUPPORTED",
                   "big-endian GGUF (version 3)"),
    "absurd_kv_count": (lambda: gguf_bytes(n_kv=1 << 40), "TOO_LARGE", "metadata pairs"),
    "kv_count_past_file": (lambda: gguf_bytes(n_kv=5000), "PARSE", "cannot fit"),
    "tensor_count_past_file": (lambda: gguf_bytes(n_t=1000), "PARSE", "cannot fit"),
    "absurd_string": (lambda: b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 50)
                      + b"k" * 64, "TOO_LARGE", "string length"),
    "string_past_end": (lambda: b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 100)
                        + b"k" * 64, "PARSE", "truncated: metadata key"),
    "absurd_array": (lambda: b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("a") +
                     struct.pack("<IIQ", V.ARRAY, V.UINT8, 1 << 40) + b"\0" * 64, "TOO_LARGE",
                     "array of 1099511627776 elements"),
    "array_past_end": (lambda: b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("a") +
                       struct.pack("<IIQ", V.ARRAY, V.UINT32, 1000) + b"\0" * 64, "PARSE",
                       "does not fit"),
    "bad_bool": (lambda: gguf_bytes([("b", V.UINT8, 2)]).replace(
        struct.pack("<I", V.UINT8) + b"\x02", struct.pack("<I", V.BOOL) + b"\x02"),
        "INVALID", "bool value 2"),
    "nested_too_deep": (lambda: gguf_bytes([("n", V.ARRAY, [], V.ARRAY)]).replace(
        struct.pack("<IQ", V.ARRAY, 0),
        struct.pack("<IQ", V.ARRAY, 1) + struct.pack("<IQ", V.ARRAY, 1) +
        struct.pack("<IQ", V.ARRAY, 1) + struct.pack("<IQ", V.ARRAY, 1) +
        struct.pack("<IQ", V.UINT8, 0)), "TOO_LARGE", "nested deeper than 4"),
    "duplicate_key": (lambda: gguf_bytes([("k", V.UINT8, 1), ("k", V.UINT8, 2)]), "INVALID",
                      "duplicate metadata key 'k'"),
    "duplicate_tensor": (lambda: gguf_bytes(tensors=[("w", [4], Q.F32, 0), ("w", [4], Q.F32, 32)]),
                         "INVALID", "duplicate tensor name 'w'"),
    "alignment_not_pow2": (lambda: gguf_bytes([("general.alignment", V.UINT32, 48)],
                                              alignment=48), "INVALID", "not a power of two"),
    "alignment_wrong_type": (lambda: gguf_bytes([("general.alignment", V.UINT64, 64)],
                                                alignment=64), "INVALID", "not a uint32"),
    "unknown_ggml_type": (lambda: gguf_bytes(tensors=[("w", [4], 99, 0)]), "UNSUPPORTED",
                          "unknown ggml type 99"),
    "removed_ggml_type": (lambda: gguf_bytes(tensors=[("w", [32], 31, 0)]), "UNSUPPORTED",
                          "unknown ggml type 31"),
    "block_misfit": (lambda: gguf_bytes(tensors=[("q", [33], Q.Q4_0, 0)]), "INVALID",
                     "not a multiple of the Q4_0 block size 32"),
    "misaligned_offset": (lambda: gguf_bytes(tensors=[("w", [4], Q.F32, 8)]), "INVALID",
                          "offset 8 is not a multiple of the alignment 32"),
    "offset_past_end": (lambda: gguf_bytes(tensors=[("w", [4], Q.F32, 1 << 20)]), "INVALID",
                        "past end of data (size 512)"),
    "size_past_end": (lambda: gguf_bytes(tensors=[("w", [1000], Q.F32, 0)]), "INVALID",
                      "bytes [0,+4000) past end of data"),
    "overlap": (lambda: gguf_bytes(tensors=[("w", [16], Q.F32, 0), ("v", [4], Q.F32, 32)]),
                "INVALID", "tensor 'v' at offset 32 overlaps tensor 'w'"),
    "size_overflow": (lambda: gguf_bytes(tensors=[("w", [2**40, 2**40, 2**40], Q.F32, 0)]),
                      "INVALID", "size overflows"),
    "row_size_overflow": (lambda: gguf_bytes(tensors=[("w", [2**62], Q.F64, 0)]), "INVALID",
                          "size overflows"),
    "too_many_dims": (lambda: gguf_bytes(tensors=[("w", [1] * 9, Q.F32, 0)]), "TOO_LARGE",
                      "9 dimensions"),
    "empty_tensor_name": (lambda: gguf_bytes(tensors=[("", [4], Q.F32, 0)]), "INVALID",
                          "tensor 0: name"),
    "data_section_missing": (lambda: gguf_bytes(tensors=T_OK, data=b"")[:-8], "PARSE",
                             "data section at offset"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rejects(tmp_path, case):
    make, code, needle = CASES[case]
    reject(tmp_path, make(), code, needle)


def test_unknown_value_type(tmp_path):
    blob = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gstr("k") + struct.pack("<I", 13) + b"\0" * 16
    reject(tmp_path, blob, "PARSE", "key 'k': unknown value type 13")


def test_every_prefix_is_rejected_cleanly(tmp_path):
    """Truncation anywhere: a clean PARSE/INVALID error, never a crash (the
    tool runs under ASan in the sanitizer build)."""
    blob = small_valid()
    header_end = len(gguf_bytes(
        kvs=[("general.architecture", V.STRING, "qwen3"),
             ("tokenizer.ggml.tokens", V.ARRAY, ["a", "b", "c"], V.STRING),
             ("x.f", V.FLOAT32, 0.5)],
        tensors=[("w", [4, 2], Q.F32, 0), ("v", [32], Q.Q8_0, 64)], data=b""))
    f = tmp_path / "cut.gguf"
    # tensor 'v' (34 bytes of Q8_0) ends at data offset 98: any cut before it fails
    for cut in list(range(0, header_end + 1)) + [header_end + 50, header_end + 97]:
        f.write_bytes(blob[:cut])
        out = run_tool("gguf", f)
        assert not out.ok, cut
        assert out.code in ("PARSE", "INVALID"), (cut, out)
        assert "cut.gguf" in out["err"]


# ---- GGUF metadata as a model config (key names from gguf-py's writer) ----

def write_model(path, arch="qwen3", moe=False, tied=True, yarn=False, sampling=False):
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(40960)
    w.add_embedding_length(1024)
    w.add_block_count(28)
    w.add_feed_forward_length(3072)
    w.add_head_count(16)
    w.add_head_count_kv(8)
    w.add_key_length(128)
    w.add_value_length(128)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1_000_000.0)
    if yarn:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(4.0)
        w.add_rope_scaling_orig_ctx_len(32768)
    if moe:
        w.add_expert_count(128)
        w.add_expert_used_count(8)
        w.add_expert_feed_forward_length(768)
        w.add_expert_weights_norm(True)
    if sampling:
        w.add_key_value(gguf.Keys.General.SAMPLING_TEMP, 0.6, V.FLOAT32)
        w.add_key_value(gguf.Keys.General.SAMPLING_TOP_P, 0.95, V.FLOAT32)
        w.add_key_value(gguf.Keys.General.SAMPLING_TOP_K, 20, V.INT32)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["a", "b", "c", "<|im_end|>", "<|endoftext|>"])
    w.add_bos_token_id(4)
    w.add_eos_token_id(3)
    w.add_pad_token_id(4)
    w.add_tensor("token_embd.weight", np.zeros((5, 8), dtype=np.float32))
    if not tied:
        w.add_tensor("output.weight", np.zeros((5, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_model_config(tmp_path):
    f = tmp_path / "m.gguf"
    write_model(f)
    out = run_tool("gguf_config", f)
    assert out.ok, out
    t = out["text"]
    assert out["arch_name"] == "Qwen3ForCausalLM" and out["model_type"] == "qwen3"
    assert (t["hidden_size"], t["num_hidden_layers"], t["intermediate_size"],
            t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"],
            t["max_position_embeddings"], t["vocab_size"]) == (1024, 28, 3072, 16, 8, 128, 40960, 5)
    assert t["rms_norm_eps"] == pytest.approx(1e-6) and t["rope"]["theta"] == 1e6
    assert (t["bos_token_id"], t["eos_token_id"], t["pad_token_id"]) == (4, [3], 4)
    assert t["tie_word_embeddings"] is True and t["num_experts"] == 0
    write_model(f, arch="qwen3moe", moe=True, tied=False, yarn=True)
    out = run_tool("gguf_config", f)
    t = out["text"]
    assert out["arch_name"] == "Qwen3MoeForCausalLM"
    assert (t["num_experts"], t["num_experts_per_tok"], t["moe_intermediate_size"],
            t["norm_topk_prob"], t["tie_word_embeddings"]) == (128, 8, 768, True, False)
    assert (t["rope"]["type"], t["rope"]["factor"],
            t["rope"]["original_max_position_embeddings"]) == ("yarn", 4.0, 32768)


def test_gguf_gen_config(tmp_path):
    f = tmp_path / "m.gguf"
    write_model(f, sampling=True)
    out = run_tool("gguf_gen", f)
    assert out.ok, out
    assert out["temperature"] == pytest.approx(0.6) and out["top_p"] == pytest.approx(0.95)
    assert (out["top_k"], out["eos_token_id"], out["bos_token_id"]) == (20, [3], 4)
    assert "min_p" not in out and "repetition_penalty" not in out


def test_gguf_model_config_rejects(tmp_path):
    f = tmp_path / "bad.gguf"
    f.write_bytes(gguf_bytes([("general.architecture", V.STRING, "qwen3"),
                              ("qwen3.block_count", V.UINT32, 2)]))
    out = run_tool("gguf_config", f)
    assert out.code == "INVALID" and "embedding_length" in out["err"]
    f.write_bytes(gguf_bytes([("x", V.UINT8, 1)]))
    out = run_tool("gguf_config", f)
    assert out.code == "INVALID" and "general.architecture" in out["err"]
    f.write_bytes(gguf_bytes([("general.architecture", V.STRING, "qwen3"),
                              ("qwen3.block_count", V.STRING, "two")]))
    out = run_tool("gguf_config", f)
    assert out.code == "INVALID" and "'qwen3.block_count' is not a non-negative integer" in \
        out["err"]
