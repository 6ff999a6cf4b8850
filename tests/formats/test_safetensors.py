# SPDX-License-Identifier: Apache-2.0
"""safetensors reader against the official `safetensors` package.

Valid files are written by safetensors.serialize / safetensors.numpy and
what octo reads (names, dtypes, shapes, bytes) must equal what
safetensors.deserialize reads. Broken files are valid ones corrupted here;
each must be rejected with the right code and a message naming the problem,
and where the official reader also validates that property it must reject
the same bytes (the two readers agree)."""
import json
import struct

import numpy as np
import pytest
from safetensors import TensorSpec, deserialize, serialize
from safetensors.numpy import save_file

from conftest import run_tool

# constructor name -> (header code, bits per element)
DTYPES = {
    "bool": ("BOOL", 8), "int8": ("I8", 8), "uint8": ("U8", 8), "int16": ("I16", 16),
    "uint16": ("U16", 16), "int32": ("I32", 32), "uint32": ("U32", 32),
    "int64": ("I64", 64), "uint64": ("U64", 64), "float16": ("F16", 16),
    "float32": ("F32", 32), "float64": ("F64", 64), "bfloat16": ("BF16", 16),
    "float8_e4m3fn": ("F8_E4M3", 8), "float8_e5m2": ("F8_E5M2", 8),
    "float8_e8m0fnu": ("F8_E8M0", 8), "float8_e4m3fnuz": ("F8_E4M3FNUZ", 8),
    "float8_e5m2fnuz": ("F8_E5M2FNUZ", 8), "complex64": ("C64", 64),
}

_keep = []  # buffers must outlive serialize()


def spec(dtype, shape, rng, bits=None):
    bits = bits or DTYPES[dtype][1]
    n = int(np.prod(shape, dtype=np.int64)) * bits // 8
    a = rng.integers(0, 256, size=max(n, 1), dtype=np.uint8)
    if dtype == "bool":
        a &= 1
    _keep.append(a)
    return TensorSpec(dtype=dtype, shape=list(shape), data_ptr=a.ctypes.data, data_len=n)


def compare(octo_out, blob):
    """octo's view of a file equals safetensors.deserialize's."""
    ref = {name: t for name, t in deserialize(blob)}
    assert octo_out.ok, octo_out
    got = {t["name"]: t for t in octo_out["tensors"]}
    assert sorted(got) == sorted(ref)
    assert [t["name"] for t in octo_out["tensors"]] == sorted(ref, key=lambda s: s.encode())
    for name, r in ref.items():
        g = got[name]
        assert g["dtype"] == r["dtype"], name
        assert g["shape"] == list(r["shape"]), name
        assert g["nbytes"] == len(r["data"]), name
        assert bytes.fromhex(g["data"]) == bytes(r["data"]), name
        assert g["found"] and g["aligned"], name
    assert octo_out["missing_not_found"]


def test_every_dtype_matches_reference(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {}
    for i, dt in enumerate(DTYPES):
        tensors[f"t.{dt}"] = spec(dt, [3, i % 4 + 1], rng)
    tensors["scalar"] = spec("float32", [], rng)
    tensors["empty"] = spec("bfloat16", [0, 5], rng)
    tensors["f4"] = spec("float4_e2m1fn_x2", [2, 3], rng, bits=8)  # 1 byte = 2 values: [2, 6]
    blob = bytes(serialize(tensors, metadata={"format": "pt"}))
    f = tmp_path / "model.safetensors"
    f.write_bytes(blob)
    out = run_tool("st", f, "--data")
    compare(out, blob)
    assert out["format"] == "pt"
    assert {t["name"]: t["dtype"] for t in out["tensors"]}["f4"] == "F4"
    # the folder form finds model.safetensors
    assert run_tool("st", tmp_path)["tensors"] == run_tool("st", f)["tensors"]


def test_numpy_writer_and_awq_layout(tmp_path):
    """AWQ checkpoints: packed int4 qweight/qzeros as I32, scales as F16."""
    rng = np.random.default_rng(2)
    k, n, group = 256, 64, 128
    arrays = {
        "model.layers.0.mlp.up_proj.qweight": rng.integers(-2**31, 2**31 - 1, (k, n // 8),
                                                           dtype=np.int32),
        "model.layers.0.mlp.up_proj.qzeros": rng.integers(-2**31, 2**31 - 1,
                                                          (k // group, n // 8), dtype=np.int32),
        "model.layers.0.mlp.up_proj.scales": rng.standard_normal((k // group, n)).astype(
            np.float16),
        "model.norm.weight": rng.standard_normal(n).astype(np.float32),
        "lm_head.bias": np.arange(7, dtype=np.uint8),
    }
    f = tmp_path / "awq.safetensors"
    save_file(arrays, str(f), metadata={"format": "pt"})
    out = run_tool("st", f, "--data")
    compare(out, f.read_bytes())
    qw = next(t for t in out["tensors"] if t["name"].endswith("qweight"))
    assert qw["dtype"] == "I32" and qw["shape"] == [k, n // 8]
    ref = arrays["model.layers.0.mlp.up_proj.qweight"]
    assert np.array_equal(np.frombuffer(bytes.fromhex(qw["data"]), "<i4").reshape(ref.shape), ref)


# ---- corruption helpers ----------------------------------------------------

def split(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def build(header, data, pad=True):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


def base_file():
    rng = np.random.default_rng(3)
    tensors = {"a": spec("float32", [2, 2], rng), "b": spec("float16", [3], rng),
               "c": spec("uint8", [5], rng)}
    return bytes(serialize(tensors, metadata={"format": "pt"}))


def lib_rejects(blob):
    try:
        deserialize(blob)
    except Exception:  # noqa: BLE001 - any rejection counts
        return True
    return False


def check_reject(tmp_path, blob, code, needle, lib=None):
    f = tmp_path / "bad.safetensors"
    f.write_bytes(blob)
    out = run_tool("st", f)
    assert not out.ok, out
    assert out.code == code, out
    assert needle in out["err"], out["err"]
    assert out["err"].startswith("bad.safetensors: ") or "bad.safetensors" in out["err"]
    if lib is not None:
        assert lib_rejects(blob) == lib


def with_entry(name, **kw):
    h, data = split(base_file())
    h[name].update(kw)
    return h, data


CASES = {
    # name: (make blob, code, message part, official reader also rejects?)
    "truncated_len": (lambda: base_file()[:5], "PARSE", "shorter than the 8-byte", True),
    "truncated_header": (lambda: base_file()[:40], "PARSE", "past end of file (size 40)", True),
    "truncated_data": (lambda: base_file()[:-3], "INVALID", "past end of data", True),
    "huge_header_len": (lambda: struct.pack("<Q", 1 << 40) + b"{}", "TOO_LARGE", "header length",
                        True),
    "bad_json": (lambda: build(b'{"a": {"dtype": "F32",', b""), "PARSE", "header JSON invalid",
                 True),
    "not_object": (lambda: build(b"[1, 2]", b""), "PARSE", "not a JSON object", True),
    "unknown_dtype": (lambda: build(*with_entry("a", dtype="F33")), "UNSUPPORTED",
                      "unknown dtype 'F33'", True),
    "f6_dtype": (lambda: build(*with_entry("c", dtype="F6_E2M3", shape=[4])), "UNSUPPORTED",
                 "'F6_E2M3' not supported", None),
    "shape_size_mismatch": (lambda: build(*with_entry("a", shape=[2, 3])), "INVALID",
                            "needs 24 bytes", True),
    "dtype_size_mismatch": (lambda: build(*with_entry("a", dtype="F64")), "INVALID",
                            "needs 32 bytes", True),
    "negative_dim": (lambda: build(*with_entry("a", shape=[-2, -2])), "PARSE",
                     "not a non-negative integer", True),
    "offsets_not_pair": (lambda: build(*with_entry("a", data_offsets=[0, 8, 16])), "PARSE",
                         "not [begin, end]", True),
    "offsets_decrease": (lambda: build(*with_entry("a", data_offsets=[16, 0])), "INVALID",
                         "decrease", True),
    "offsets_past_end": (lambda: build(*with_entry("a", data_offsets=[0, 1 << 20])), "INVALID",
                         "past end of data", True),
    "too_many_dims": (lambda: build(*with_entry("c", shape=[1] * 8 + [5])), "TOO_LARGE",
                      "9 dimensions", None),
    "missing_dtype": (lambda: build({"a": {"shape": [1], "data_offsets": [0, 4]}},
                                    b"\0" * 4), "PARSE", "missing string \"dtype\"", True),
    "extra_key": (lambda: build(*with_entry("a", foo=1)), "PARSE", "unexpected key 'foo'", None),
    "empty_name": (lambda: build({"": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
                                 b"\0"), "INVALID", "tensor name of 0 bytes", None),
    "metadata_not_strings": (lambda: build({"__metadata__": {"n": 1}}, b""), "PARSE",
                             "__metadata__ 'n' is not a string", True),
    "metadata_not_object": (lambda: build({"__metadata__": [1]}, b""), "PARSE",
                            "__metadata__ is not a JSON object", True),
    "f4_half_byte": (lambda: build({"x": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}},
                                   b"\0\0"), "INVALID", "do not fill whole bytes", True),
    "duplicate_name": (lambda: build(
        b'{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        b'"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\0\0"),
        "PARSE", "duplicate", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rejects(tmp_path, case):
    make, code, needle, lib = CASES[case]
    check_reject(tmp_path, make(), code, needle, lib)


def two_u8(offs_x, offs_y, data_len):
    return build({"x": {"dtype": "U8", "shape": [offs_x[1] - offs_x[0]], "data_offsets": offs_x},
                  "y": {"dtype": "U8", "shape": [offs_y[1] - offs_y[0]], "data_offsets": offs_y}},
                 b"\x07" * data_len)


def test_overlap_hole_trailing(tmp_path):
    # the official reader rejects all three as well ("buffer not fully indexed" / overlap)
    check_reject(tmp_path, two_u8([0, 4], [2, 6], 6), "INVALID", "overlap tensor 'x'", True)
    check_reject(tmp_path, two_u8([0, 2], [4, 6], 6), "INVALID",
                 "hole of 2 bytes after offset 2", True)
    check_reject(tmp_path, two_u8([0, 2], [2, 4], 6), "INVALID", "2 trailing data bytes", True)
    # and the contiguous layout is accepted by both
    ok = two_u8([0, 2], [2, 6], 6)
    f = tmp_path / "ok.safetensors"
    f.write_bytes(ok)
    compare(run_tool("st", f, "--data"), ok)


def test_alignment_rules(tmp_path):
    """What octo requires beyond the official reader: the data section at a
    multiple of 8 and each tensor at a multiple of its element size (the
    official writers always produce this; see formats.h)."""
    h, data = split(base_file())
    unpadded = json.dumps(h, separators=(",", ":")).encode()
    if (8 + len(unpadded)) % 8 == 0:
        unpadded += b" "
    blob = struct.pack("<Q", len(unpadded)) + unpadded + data
    assert not lib_rejects(blob)
    check_reject(tmp_path, blob, "INVALID", "not a multiple of 8")
    mis = build({"u": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                 "f": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, b"\0" * 6)
    assert not lib_rejects(mis)
    check_reject(tmp_path, mis, "INVALID", "tensor 'f': data offset 2 is not a multiple of 4")


def test_null_metadata_and_leading_space(tmp_path):
    """Accepted by the official reader, so by octo too."""
    for blob in (build(b'{"__metadata__": null}', b""), build(b"  {}", b"")):
        assert not lib_rejects(blob)
        f = tmp_path / "m.safetensors"
        f.write_bytes(blob)
        out = run_tool("st", f)
        assert out.ok and out["tensors"] == [] and out["format"] is None, out


def test_missing_file(tmp_path):
    out = run_tool("st", tmp_path / "nope.safetensors")
    assert out.code == "NOT_FOUND" and "nope.safetensors" in out["err"]
    out = run_tool("st", tmp_path)
    assert out.code == "NOT_FOUND" and "model.safetensors" in out["err"]


# ---- sharded checkpoints -----------------------------------------------------

def write_sharded(d, rng, weight_map_edit=None):
    shards = {
        "model-00001-of-00002.safetensors": {"embed": spec("bfloat16", [8, 4], rng),
                                             "layer.0.w": spec("float32", [4, 4], rng)},
        "model-00002-of-00002.safetensors": {"layer.1.w": spec("float32", [4, 4], rng),
                                             "lm_head": spec("float16", [8, 4], rng)},
    }
    wm = {}
    blobs = {}
    for fname, tensors in shards.items():
        blobs[fname] = bytes(serialize(tensors, metadata={"format": "pt"}))
        (d / fname).write_bytes(blobs[fname])
        wm.update({k: fname for k in tensors})
    if weight_map_edit:
        weight_map_edit(wm)
    index = {"metadata": {"total_size": 999}, "weight_map": wm}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return blobs


def test_sharded_matches_reference(tmp_path):
    blobs = write_sharded(tmp_path, np.random.default_rng(4))
    out = run_tool("st", tmp_path, "--data")
    assert out.ok, out
    assert len(out["shards"]) == 2
    ref = {}
    for i, fname in enumerate(sorted(blobs)):
        for name, t in deserialize(blobs[fname]):
            ref[name] = (t, i)
    got = {t["name"]: t for t in out["tensors"]}
    assert sorted(got) == sorted(ref)
    for name, (t, shard) in ref.items():
        assert got[name]["shard"] == shard
        assert got[name]["dtype"] == t["dtype"] and got[name]["shape"] == list(t["shape"])
        assert bytes.fromhex(got[name]["data"]) == bytes(t["data"])
    assert run_tool("st", tmp_path / "model.safetensors.index.json")["tensors"] == \
        run_tool("st", tmp_path)["tensors"]


def sharded_reject(tmp_path, edit, code, needle, after=None):
    write_sharded(tmp_path, np.random.default_rng(5), edit)
    if after:
        after(tmp_path)
    out = run_tool("st", tmp_path)
    assert not out.ok and out.code == code, out
    assert needle in out["err"], out["err"]


def test_sharded_missing_shard(tmp_path):
    sharded_reject(tmp_path, None, "NOT_FOUND",
                   "shard model-00002-of-00002.safetensors named by the index: ",
                   after=lambda d: (d / "model-00002-of-00002.safetensors").unlink())


def test_sharded_index_names_missing_tensor(tmp_path):
    sharded_reject(tmp_path, lambda wm: wm.update({"ghost": "model-00001-of-00002.safetensors"}),
                   "INVALID", "weight_map names tensor 'ghost'")


def test_sharded_tensor_not_in_index(tmp_path):
    sharded_reject(tmp_path, lambda wm: wm.pop("lm_head"), "INVALID",
                   "tensor 'lm_head' of model-00002-of-00002.safetensors is not in weight_map")


def test_sharded_wrong_shard(tmp_path):
    sharded_reject(tmp_path, lambda wm: wm.update({"embed": "model-00002-of-00002.safetensors"}),
                   "INVALID", "puts tensor 'embed' in model-00002")


def test_sharded_path_escape(tmp_path):
    sharded_reject(tmp_path, lambda wm: wm.update({"embed": "../x.safetensors"}), "INVALID",
                   "not a plain file name")


def test_sharded_duplicate_across_shards(tmp_path):
    def dup(d):
        rng = np.random.default_rng(6)
        blob = bytes(serialize({"embed": spec("bfloat16", [8, 4], rng),
                                "layer.1.w": spec("float32", [4, 4], rng),
                                "lm_head": spec("float16", [8, 4], rng)}))
        (d / "model-00002-of-00002.safetensors").write_bytes(blob)
    sharded_reject(tmp_path, None, "INVALID", "tensor 'embed' is in both", after=dup)


def test_sharded_bad_index(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text('{"metadata": {}}')
    out = run_tool("st", tmp_path)
    assert out.code == "PARSE" and "weight_map" in out["err"]
    (tmp_path / "model.safetensors.index.json").write_text('{"weight_map": {"a": 1}}')
    out = run_tool("st", tmp_path)
    assert out.code == "PARSE" and "weight_map['a'] is not a string" in out["err"]


def test_differential_mutations(tmp_path):
    """Random semantic edits of a valid header (offsets, shapes, dtypes, data
    length, extra dims, dropped tensors): octo accepts exactly what the
    official reader accepts, with the same contents, except for octo's
    stricter alignment rule (see test_alignment_rules)."""
    import random
    rng = random.Random(7)
    h0, data0 = split(base_file())
    dtypes = ["F32", "F16", "U8", "I32", "BF16", "F64", "I8", "BOOL", "F8_E4M3", "I64", "X"]
    f = tmp_path / "m.safetensors"
    agree = {True: 0, False: 0}
    for _ in range(250):
        h, data = json.loads(json.dumps(h0)), data0
        for _ in range(rng.randint(1, 2)):
            name = rng.choice([k for k in h if k != "__metadata__"] or [None])
            if name is None:
                break
            e, r = h[name], rng.random()
            if r < 0.3:
                e["data_offsets"][rng.randrange(2)] += rng.choice([-4, -2, -1, 1, 2, 4])
            elif r < 0.5:
                e["shape"] = [max(0, d + rng.choice([-1, 1])) for d in e["shape"]]
            elif r < 0.65:
                e["dtype"] = rng.choice(dtypes)
            elif r < 0.75:
                data = data + bytes(rng.choice([1, 2, 4]))
            elif r < 0.85:
                data = data[:-rng.choice([1, 2, 4])]
            elif r < 0.95:
                e["shape"] = e["shape"] + [1]
            else:
                del h[name]
        blob = build(h, data)
        f.write_bytes(blob)
        out = run_tool("st", f, "--data")
        lib_ok = not lib_rejects(blob)
        if out.ok != lib_ok:
            assert lib_ok and "not a multiple of" in out["err"], (out, h)
            continue
        agree[lib_ok] += 1
        if lib_ok:
            compare(out, blob)
    assert agree[True] >= 20 and agree[False] >= 100, agree
