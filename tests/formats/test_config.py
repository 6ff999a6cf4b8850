# SPDX-License-Identifier: Apache-2.0
"""config.json / generation_config.json / pooling parsing against Python's json.

Every real config in tests/data must parse; each field octo reports must
equal the value Python's json reads from the file (text_config first for
vision-language models, then the top level) or, when the file lacks it, the
transformers class default recorded in
tests/data/configs/transformers-5.17.class-defaults.json."""
import json
import shutil

import pytest

from conftest import run_tool

NOT_MODEL_CONFIGS = ("Pooling", "modules.json", "sentence_transformers", "tokenizer_config",
                     "generation_config", "class-defaults", "MANIFEST", "quantization_config",
                     "preprocessor_config")

CLASS_OF = {"qwen3": "Qwen3Config", "qwen3_moe": "Qwen3MoeConfig",
            "qwen2_5_vl": "Qwen2_5_VLConfig", "qwen3_vl": "Qwen3VLConfig",
            "qwen3_vl_moe": "Qwen3VLMoeConfig", "glm4_moe": "Glm4MoeConfig",
            "glm4v_moe": "Glm4vMoeConfig"}

TEXT_INT = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
            "max_window_layers", "num_experts_per_tok", "moe_intermediate_size",
            "decoder_sparse_step", "n_shared_experts", "first_k_dense_replace", "n_group",
            "topk_group"]
TEXT_OTHER = ["rms_norm_eps", "tie_word_embeddings", "attention_bias", "hidden_act",
              "use_sliding_window", "norm_topk_prob", "mlp_only_layers", "routed_scaling_factor",
              "use_qk_norm"]
VISION = ["depth", "hidden_size", "intermediate_size", "num_heads", "spatial_merge_size",
          "temporal_patch_size", "out_hidden_size", "window_size", "tokens_per_second",
          "num_position_embeddings", "image_size", "rms_norm_eps", "hidden_act",
          "fullatt_block_indexes", "deepstack_visual_indexes"]
VISION_ALIAS = {"in_channels": ["in_channels", "in_chans"],
                "patch_size": ["patch_size", "spatial_patch_size"]}
MM_IDS = ["image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
          "image_start_token_id", "image_end_token_id", "video_start_token_id",
          "video_end_token_id"]
TORCH_DTYPE = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}
_MISSING = object()


def model_configs(shared):
    files = sorted(p for p in (shared / "configs").glob("*.json")
                   if not any(s in p.name for s in NOT_MODEL_CONFIGS))
    files += sorted((shared / "qwen").glob("*/config*.json"))
    return files


def class_defaults(shared):
    return json.loads((shared / "configs" / "transformers-5.17.class-defaults.json").read_text())


class Source:
    """Where transformers takes a text field from: text_config, then the
    top level, then the class defaults (text_config, then top level)."""

    def __init__(self, cfg, defaults):
        self.layers = []
        for d in (cfg, defaults or {}):
            if isinstance(d.get("text_config"), dict):
                self.layers.append(d["text_config"])
            self.layers.append(d)

    def get(self, *keys):
        for layer in self.layers:
            for k in keys:
                if k in layer:
                    return layer[k]
        return _MISSING

    def rope(self, key):
        for layer in self.layers:
            for sub in ("rope_parameters", "rope_scaling"):
                if isinstance(layer.get(sub), dict) and key in layer[sub]:
                    return layer[sub][key]
            if key in layer:
                return layer[key]
        return _MISSING


def check_text(text, src, skip=()):
    for k in TEXT_INT + TEXT_OTHER:
        v = src.get(k)
        if v is _MISSING or k in skip:
            continue
        if v is None:
            continue
        if isinstance(v, float):
            assert text[k] == pytest.approx(v, rel=1e-12), k
        else:
            assert text[k] == v, k
    for k in ("bos_token_id", "pad_token_id", "sliding_window"):
        v = src.get(k)
        if v is not _MISSING:
            assert text[k] == (-1 if v is None else v), k
    eos = src.get("eos_token_id")
    if eos is not _MISSING:
        assert text["eos_token_id"] == ([] if eos is None else eos if isinstance(eos, list)
                                        else [eos])
    n = src.get("num_experts", "num_local_experts", "n_routed_experts")
    if n is not _MISSING:
        assert text["num_experts"] == n
    theta = src.rope("rope_theta")
    if theta is not _MISSING:
        assert text["rope"]["theta"] == pytest.approx(theta)
    prf = src.rope("partial_rotary_factor")
    if prf is not _MISSING:
        assert text["rope"]["partial_rotary_factor"] == pytest.approx(prf)
    ms = src.rope("mrope_section")
    if ms is not _MISSING:
        assert text["rope"]["mrope_section"] == ms
    dt = src.get("dtype", "torch_dtype")
    if isinstance(dt, str):
        assert text["dtype"] == TORCH_DTYPE[dt]
    # head_dim defaults to hidden/heads where neither file nor class has it;
    # except GLM, where octo defaults to 128 (what GLM-4.5/4.5V ship):
    # transformers' fallback there, 4096 // 96 = 42, is not a usable shape
    if src.get("head_dim") is _MISSING and "head_dim" not in skip:
        assert text["head_dim"] == text["hidden_size"] // text["num_attention_heads"]


def check_vision(vision, vc):
    for k in VISION:
        if k in vc and vc[k] is not None:
            v = vc[k]
            assert vision[k] == (pytest.approx(v) if isinstance(v, float) else v), k
    for k, aliases in VISION_ALIAS.items():
        for a in aliases:
            if a in vc:
                assert vision[k] == vc[a], k


def test_every_real_config_parses_and_matches_json(shared):
    files = model_configs(shared)
    assert len(files) >= 20
    defaults = class_defaults(shared)
    for f in files:
        cfg = json.loads(f.read_text())
        out = run_tool("config", f)
        assert out.ok, (f.name, out)
        assert out["architecture"] == cfg["architectures"][0], f.name
        assert out["arch_name"] == cfg["architectures"][0], f.name
        cls = defaults.get(CLASS_OF.get(cfg.get("model_type"), ""), {})
        check_text(out["text"], Source(cfg, cls))
        if "vision_config" in cfg:
            assert out["has_vision"]
            check_vision(out["vision"], cfg["vision_config"])
        for k in MM_IDS:
            if k in cfg:
                assert out[k] == cfg[k], (f.name, k)
        q = cfg.get("quantization_config")
        if q:
            assert out["quant"]["method_name"] == q["quant_method"]
            # null and absent both mean none
            assert out["quant"]["modules_to_not_convert"] == (q.get("modules_to_not_convert") or [])
            for k in ("bits", "group_size", "zero_point", "version", "fmt", "activation_scheme"):
                if k in q:
                    assert out["quant"][k] == q[k], (f.name, k)
            if "weight_block_size" in q:
                assert out["quant"]["weight_block_size"] == q["weight_block_size"]
        else:
            assert out["quant"]["method"] == "none"


def test_specific_values(shared):
    """A few fields spelled out, read with json from the files themselves."""
    c = shared / "configs"
    moe = json.loads((c / "Qwen__Qwen3-235B-A22B.config.json").read_text())
    out = run_tool("config", c / "Qwen__Qwen3-235B-A22B.config.json")
    assert out["arch_name"] == "Qwen3MoeForCausalLM"
    assert out["text"]["num_experts"] == moe["num_experts"]
    assert out["text"]["num_experts_per_tok"] == moe["num_experts_per_tok"]
    assert out["text"]["norm_topk_prob"] == moe["norm_topk_prob"]
    awq = json.loads((c / "Qwen__Qwen2.5-VL-32B-Instruct-AWQ.config.json").read_text())
    out = run_tool("config", c / "Qwen__Qwen2.5-VL-32B-Instruct-AWQ.config.json")
    assert out["quant"]["method"] == "awq"
    assert out["quant"]["bits"] == awq["quantization_config"]["bits"]
    assert out["quant"]["group_size"] == awq["quantization_config"]["group_size"]
    assert out["vision"]["patch_size"] == awq["vision_config"]["spatial_patch_size"]
    assert out["vision"]["in_channels"] == awq["vision_config"]["in_chans"]
    vl3 = json.loads((c / "Qwen__Qwen3-VL-8B-Instruct.PARTIAL.json").read_text())
    out = run_tool("config", c / "Qwen__Qwen3-VL-8B-Instruct.PARTIAL.json")
    assert out["text"]["hidden_size"] == vl3["text_config"]["hidden_size"]
    assert out["vision"]["deepstack_visual_indexes"] == \
        vl3["vision_config"]["deepstack_visual_indexes"]
    emb = json.loads((c / "Qwen__Qwen3-Embedding-0.6B.config.json").read_text())
    out = run_tool("config", c / "Qwen__Qwen3-Embedding-0.6B.config.json")
    assert out["text"]["eos_token_id"] == [emb["eos_token_id"]]
    assert out["text"]["vocab_size"] == emb["vocab_size"]


@pytest.mark.parametrize("cls", sorted(CLASS_OF.values()))
def test_class_defaults(tmp_path, shared, cls):
    """A config naming only model_type means transformers' class defaults."""
    d = class_defaults(shared)[cls]
    f = tmp_path / "config.json"
    f.write_text(json.dumps({"model_type": d["model_type"]}))
    out = run_tool("config", tmp_path)
    assert out.ok, out
    assert out["model_type"] == d["model_type"]
    # (a VL model's text tie flag lives at the top level in published files)
    skip = ("tie_word_embeddings",) + (("head_dim",) if "glm" in d["model_type"] else ())
    check_text(out["text"], Source({}, d), skip=skip)
    if isinstance(d.get("vision_config"), dict):
        assert out["has_vision"]
        check_vision(out["vision"], d["vision_config"])
    for k in MM_IDS:
        if k in d:
            assert out[k] == d[k], k


def write_cfg(tmp_path, extra):
    base = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 1024,
            "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128}
    base.update(extra)
    f = tmp_path / "config.json"
    f.write_text(json.dumps(base))
    return run_tool("config", f)


def test_rope_scaling_forms(tmp_path):
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
    out = write_cfg(tmp_path, {"rope_scaling": yarn, "rope_theta": 1e6})
    r = out["text"]["rope"]
    assert (r["type"], r["factor"], r["original_max_position_embeddings"]) == ("yarn", 4.0, 32768)
    assert (r["beta_fast"], r["beta_slow"], r["attention_factor"]) == (32.0, 1.0, None)
    assert r["theta"] == 1e6
    # transformers 5 form, with every yarn field and the older "type" key
    rp = {"rope_type": "yarn", "rope_theta": 5e6, "factor": 2.0, "beta_fast": 16,
          "beta_slow": 2, "attention_factor": 1.1, "original_max_position_embeddings": 8192}
    r = write_cfg(tmp_path, {"rope_parameters": rp})["text"]["rope"]
    assert (r["theta"], r["factor"], r["beta_fast"], r["beta_slow"], r["attention_factor"]) == \
        (5e6, 2.0, 16.0, 2.0, 1.1)
    for t in ("linear", "dynamic"):
        r = write_cfg(tmp_path, {"rope_scaling": {"type": t, "factor": 2}})["text"]["rope"]
        assert (r["type"], r["factor"]) == (t, 2.0)
    out = write_cfg(tmp_path, {"rope_scaling": {"type": "yarn"}})
    assert out.code == "INVALID" and "factor" in out["err"]


def test_eos_forms_and_sliding_window(tmp_path):
    t = write_cfg(tmp_path, {"eos_token_id": [151645, 151643], "sliding_window": 4096,
                             "use_sliding_window": True, "bos_token_id": None})["text"]
    assert t["eos_token_id"] == [151645, 151643]
    assert (t["sliding_window"], t["use_sliding_window"], t["bos_token_id"]) == (4096, True, -1)


def test_gptq_and_moe_fields(tmp_path):
    q = {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True, "sym": False}
    out = write_cfg(tmp_path, {"quantization_config": q})
    assert out["quant"]["method"] == "gptq"
    assert (out["quant"]["desc_act"], out["quant"]["sym"], out["quant"]["zero_point"]) == \
        (True, False, True)
    out = write_cfg(tmp_path, {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
                               "num_experts": 8, "num_experts_per_tok": 2,
                               "mlp_only_layers": [0, 3], "decoder_sparse_step": 2,
                               "moe_intermediate_size": 64})
    t = out["text"]
    assert (t["num_experts"], t["num_experts_per_tok"], t["mlp_only_layers"],
            t["decoder_sparse_step"]) == (8, 2, [0, 3], 2)


@pytest.mark.parametrize("extra,code,needle", [
    ({"hidden_size": "big"}, "PARSE", "\"hidden_size\" is not an integer"),
    ({"hidden_size": 0}, "INVALID", "hidden_size"),
    ({"num_key_value_heads": 5}, "INVALID", "not a multiple of num_key_value_heads"),
    ({"rope_scaling": {"rope_type": "weird", "factor": 2}}, "UNSUPPORTED", "'weird'"),
    ({"rope_scaling": [1]}, "PARSE", "rope_scaling"),
    ({"eos_token_id": "x"}, "PARSE", "eos_token_id"),
    ({"eos_token_id": list(range(9))}, "TOO_LARGE", "limit 8"),
    ({"quantization_config": {"quant_method": "awq", "bits": 3, "group_size": 0}}, "INVALID",
     "group_size"),
    ({"text_config": 5}, "PARSE", "text_config"),
    ({"vision_config": {"depth": "x"}}, "PARSE", "vision_config.depth"),
    ({"architectures": "Qwen3ForCausalLM"}, "PARSE", "architectures"),
    ({"mlp_only_layers": [1, "a"]}, "PARSE", "mlp_only_layers"),
    ({"num_experts": 4, "num_experts_per_tok": 8, "moe_intermediate_size": 8}, "INVALID",
     "exceeds num_experts"),
])
def test_config_rejects(tmp_path, extra, code, needle):
    out = write_cfg(tmp_path, extra)
    assert not out.ok and out.code == code, out
    assert needle in out["err"] and out["err"].startswith("config.json: "), out["err"]


def test_bad_json_and_missing(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"model_type": "qwen3",}')
    out = run_tool("config", f)
    assert out.code == "PARSE" and "config.json: invalid JSON at line 1" in out["err"]
    out = run_tool("config", tmp_path / "nope")
    assert out.code == "NOT_FOUND"


def test_generation_configs(shared, tmp_path):
    for f in [shared / "qwen/qwen2-1.5b-instruct/generation_config.json",
              shared / "configs/Qwen__Qwen3-Embedding-0.6B.generation_config.json"]:
        ref = json.loads(f.read_text())
        out = run_tool("gen", f)
        assert out.ok, out
        for k in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "do_sample",
                  "max_new_tokens", "bos_token_id", "pad_token_id"):
            assert out.get(k) == ref.get(k), (f.name, k)
        eos = ref.get("eos_token_id")
        assert out.get("eos_token_id") == (eos if isinstance(eos, list) else [eos])
    f = tmp_path / "generation_config.json"
    f.write_text(json.dumps({"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0,
                             "eos_token_id": 5}))
    out = run_tool("gen", tmp_path)
    assert (out["temperature"], out["top_p"], out["top_k"], out["min_p"],
            out["eos_token_id"]) == (0.6, 0.95, 20, 0.0, [5])
    for bad, needle in [({"top_p": 2}, "top_p"), ({"temperature": -1}, "temperature"),
                        ({"top_k": "x"}, "top_k"), ({"do_sample": 1}, "do_sample")]:
        f.write_text(json.dumps(bad))
        out = run_tool("gen", f)
        assert not out.ok and needle in out["err"], out


def test_pooling_files(shared, tmp_path):
    c = shared / "configs"
    shutil.copy(c / "Qwen__Qwen3-Embedding-0.6B.modules.json", tmp_path / "modules.json")
    (tmp_path / "1_Pooling").mkdir()
    shutil.copy(c / "Qwen__Qwen3-Embedding-0.6B.1_Pooling_config.json",
                tmp_path / "1_Pooling" / "config.json")
    shutil.copy(c / "Qwen__Qwen3-Embedding-0.6B.config_sentence_transformers.json",
                tmp_path / "config_sentence_transformers.json")
    pool = json.loads((c / "Qwen__Qwen3-Embedding-0.6B.1_Pooling_config.json").read_text())
    st = json.loads((c / "Qwen__Qwen3-Embedding-0.6B.config_sentence_transformers.json")
                    .read_text())
    mods = json.loads((c / "Qwen__Qwen3-Embedding-0.6B.modules.json").read_text())
    out = run_tool("pool", tmp_path)
    assert out.ok, out
    assert out["mode"] == "lasttoken" and pool["pooling_mode_lasttoken"] is True
    assert out["include_prompt"] == pool["include_prompt"]
    assert out["dimension"] == pool["word_embedding_dimension"]
    assert out["normalize"] == any("Normalize" in m["type"] for m in mods)
    assert out["query"] == st["prompts"]["query"]
    assert out["document"] == st["prompts"]["document"]
    assert out["similarity"] == st["similarity_fn_name"]
    # a reranker folder has no modules.json
    assert run_tool("pool", tmp_path / "1_Pooling").code == "NOT_FOUND"
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_lasttoken": false}')
    out = run_tool("pool", tmp_path)
    assert out.code == "INVALID" and "no supported pooling mode" in out["err"]
