# SPDX-License-Identifier: Apache-2.0
"""Constrained JSON decoding on the real Qwen vocabulary
(tests/data/qwen/qwen3/tokenizer.json), with Python's `json` and the
`jsonschema` package as oracles and HF `tokenizers` to decode.

- random walks (tool_jsonc: random logits -> mask -> sample -> accept until
  a stop token) for tool schemas, nested objects, enums/const, type lists,
  arrays with bounds, anyOf, $ref, additionalProperties, json_object mode,
  any value, and the tool_choice "required" / named-function schemas that
  octo builds (compared with the shape vLLM builds, written out here): every
  finished walk decodes (HF) to valid JSON that validates against the schema
  (and against a stricter copy with additionalProperties false where the
  schema leaves it absent: octo's documented semantics);
- valid documents generated here for each schema (random optional keys,
  strings with escapes and non-ASCII, numbers, compact / spaced / indented
  layouts), encoded with octo's tokenizer: every token is accepted and the
  value is complete;
- invalid documents (wrong type, unknown enum value, missing required key,
  trailing garbage; each confirmed invalid by json/jsonschema) are rejected
  exactly at the token holding the first impossible byte.
"""
import copy
import json
import os
import random
import subprocess

import pytest

jsonschema = pytest.importorskip("jsonschema")
tokenizers = pytest.importorskip("tokenizers")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

DATA = os.environ.get("OCTO_TEST_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
BUILD = os.environ.get("OCTO_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
QWEN = os.path.join(DATA, "qwen/qwen3/tokenizer.json")
TOOL = os.path.join(BUILD, "tool_jsonc")
ASAN = os.environ.get("OCTO_SANITIZE", "OFF") == "ON"
WALKS = 2 if ASAN else 8
DOCS = 4 if ASAN else 12

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string", "description": "City"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location"]}}},
    {"type": "function", "function": {
        "name": "search_docs",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"},
            "filters": {"type": "object", "properties": {
                "year": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
                "required": ["year"], "additionalProperties": False},
            "limit": {"type": ["integer", "null"]}},
            "required": ["query", "limit"]}}},
    {"type": "function", "function": {"name": "get_time"}},
    {"type": "function", "function": {"name": "ping", "parameters": {}}},
    {"type": "function", "function": {
        "name": "create_event",
        "parameters": {"$defs": {"when": {"type": "object", "properties": {
            "date": {"type": "string"}, "hour": {"type": "integer"}}, "required": ["date"]}},
            "type": "object", "properties": {
                "start": {"$ref": "#/$defs/when"}, "end": {"$ref": "#/$defs/when"}},
            "required": ["start"]}}},
]

def many_tools(n):
    """n tools with varied names and parameter shapes."""
    verbs, nouns = ["get", "set", "list", "find", "make"], ["user", "file", "job", "note", "tag"]
    shapes = [
        {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
        {"type": "object", "properties": {"q": {"type": "string"},
                                          "n": {"type": ["integer", "null"]}}},
        {"type": "object", "properties": {"on": {"type": "boolean"},
                                          "mode": {"enum": ["a", "b"]}}, "required": ["on"]},
    ]
    return [{"type": "function", "function": {
        "name": f"{verbs[i % 5]}_{nouns[i // 5 % 5]}_{i}", "parameters": shapes[i % 3]}}
        for i in range(n)]


MANY = many_tools(60)

SCHEMAS = {
    "weather": TOOLS[0]["function"]["parameters"],
    "weather_strict": dict(TOOLS[0]["function"]["parameters"], additionalProperties=False),
    "nested": {"type": "object", "properties": {
        "user": {"type": "object", "properties": {
            "name": {"type": "string"}, "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
            "required": ["name", "age"]},
        "active": {"type": "boolean"}, "score": {"type": "number"}},
        "required": ["user", "active", "score"]},
    "enums": {"type": "object", "properties": {
        "op": {"const": "add"}, "mode": {"enum": ["fast", "slow", 1, None]},
        "level": {"type": ["integer", "null"]}, "flag": {"type": "boolean"}},
        "required": ["op", "mode", "level", "flag"]},
    "array_anyof": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"anyOf": [
        {"type": "string"}, {"type": "integer"},
        {"type": "object", "properties": {"k": {"type": "boolean"}}, "required": ["k"],
         "additionalProperties": False}]}},
    "refs": {"$defs": {"addr": {"type": "object", "properties": {
        "street": {"type": "string"}, "zip": {"type": "string"}}, "required": ["street"]}},
        "type": "object", "properties": {
            "home": {"$ref": "#/$defs/addr"},
            "work": {"anyOf": [{"$ref": "#/$defs/addr"}, {"type": "null"}]}},
        "required": ["home", "work"]},
    "extra": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"],
              "additionalProperties": {"type": "string"}},
    "open": {"type": "object", "properties": {"id": {"type": "integer"}},
             "additionalProperties": True},
}


def vllm_required_schema(tools):
    """The schema vLLM's _get_json_schema_from_tool builds for "required"
    (each tool's $defs moved to the top)."""
    defs = {}
    def params(t):
        p = dict(t["function"].get("parameters") or {"type": "object", "properties": {}})
        defs.update(p.pop("$defs", {}))
        return p
    out = {"type": "array", "minItems": 1, "items": {"type": "object", "anyOf": [
        {"properties": {"name": {"type": "string", "enum": [t["function"]["name"]]},
                        "parameters": params(t)},
         "required": ["name", "parameters"]} for t in tools]}}
    if defs:
        out["$defs"] = defs
    return out


@pytest.fixture(scope="module")
def hf():
    return tokenizers.Tokenizer.from_file(QWEN)


@pytest.fixture(scope="module")
def token_bytes(hf):
    """Raw bytes of each id, from HF's vocabulary and the GPT-2 byte map."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    inv = {chr(c): b for b, c in zip(bs, cs)}
    def get(i):
        s = hf.id_to_token(i)
        return bytes(inv[ch] for ch in s)
    return get


def run_tool(requests):
    inp = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    out = subprocess.run([TOOL, QWEN], input=inp.encode(), capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode()
    lines = out.stdout.decode().splitlines()
    assert len(lines) == len(requests)
    res = [json.loads(x) for x in lines]
    for r in res:
        assert "error" not in r, r
    return res


def strict(schema):
    """additionalProperties false wherever an object declares properties and
    leaves it absent (octo's and xgrammar's semantics)."""
    s = copy.deepcopy(schema)
    def fix(n):
        if isinstance(n, dict):
            if "properties" in n and "additionalProperties" not in n:
                n["additionalProperties"] = False
            for v in n.values():
                fix(v)
        elif isinstance(n, list):
            for v in n:
                fix(v)
    fix(s)
    return s


# ==== valid document generator ====

STRINGS = ["", "Paris", "héllo wörld", "日本語のテキスト", "emoji 😀🎉", 'quote " and \\ slash',
           "tab\tnew\nline", "ctrl \u0001 char", "/usr/bin", "a" * 40, "São Paulo, Brasil"]
NUMBERS = [0, -1, 3.25, 1e-05, 12345678901234, -0.5, 2.5e+20, 7]


def resolve(schema, root):
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#").split("/")[1:]:
            node = node[part]
        schema = node
    return schema


def gen_any(rng, depth=0):
    k = rng.randrange(7 if depth < 3 else 5)
    if k == 0:
        return rng.choice(STRINGS)
    if k == 1:
        return rng.choice(NUMBERS)
    if k == 2:
        return rng.choice([True, False])
    if k == 3:
        return None
    if k == 4:
        return rng.randrange(-50, 50)
    if k == 5:
        return [gen_any(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {f"k{i}": gen_any(rng, depth + 1) for i in range(rng.randrange(3))}


def gen(schema, rng, root):
    schema = resolve(schema, root)
    if schema is True or schema == {}:
        return gen_any(rng)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    for kw in ("anyOf", "oneOf"):
        if kw in schema:
            parent = {k: v for k, v in schema.items() if k != kw}
            return gen({**parent, **rng.choice(schema[kw])}, rng, root)
    t = schema.get("type")
    if isinstance(t, list):
        t = rng.choice(t)
    if t is None:
        t = "object" if "properties" in schema else None
    if t == "object":
        out = {}
        req = schema.get("required", [])
        for name, sub in schema.get("properties", {}).items():
            if name in req or rng.random() < 0.5:
                out[name] = gen(sub, rng, root)
        addl = schema.get("additionalProperties")
        if addl is True or isinstance(addl, dict) or (addl is None and "properties" not in schema):
            for i in range(rng.randrange(3)):
                out[f"extra{i}"] = gen(addl, rng, root) if isinstance(addl, dict) else gen_any(rng)
        return out
    if t == "array":
        lo, hi = schema.get("minItems", 0), schema.get("maxItems", 4)
        return [gen(schema.get("items", {}), rng, root) for _ in range(rng.randint(lo, hi))]
    if t == "string":
        return rng.choice(STRINGS)
    if t == "integer":
        return rng.choice([0, -7, 42, 10**15, rng.randrange(-1000, 1000)])
    if t == "number":
        return rng.choice(NUMBERS)
    if t == "boolean":
        return rng.choice([True, False])
    if t == "null":
        return None
    return gen_any(rng)


def dump(value, rng):
    style = rng.randrange(3)
    ea = rng.random() < 0.5
    if style == 0:
        return json.dumps(value, ensure_ascii=ea, separators=(",", ":"))
    if style == 1:
        return json.dumps(value, ensure_ascii=ea)
    return json.dumps(value, ensure_ascii=ea, indent=2)


def cases():
    """(name, request fields, schema to validate against, object_only)."""
    out = [(n, {"schema": s}, s) for n, s in SCHEMAS.items()]
    out.append(("json_object", {"schema": None, "object_only": True}, {"type": "object"}))
    out.append(("any_value", {"schema": None, "object_only": False}, {}))
    out.append(("required", {"tools": TOOLS, "tool_choice": "required"},
                vllm_required_schema(TOOLS)))
    out.append(("required_many", {"tools": MANY, "tool_choice": "required"},
                vllm_required_schema(MANY)))
    out.append(("named", {"tools": TOOLS, "tool_choice": {"type": "function",
                                                          "function": {"name": "search_docs"}}},
                TOOLS[1]["function"]["parameters"]))
    return out


def gen_doc_value(name, schema, rng):
    if name == "json_object":
        return {f"k{i}": gen_any(rng) for i in range(rng.randrange(4))}
    if name == "any_value":
        return gen_any(rng)
    return gen(schema, rng, schema)


@pytest.fixture(scope="module")
def results():
    rng = random.Random(1234)
    reqs, docs = [], {}
    for i, (name, fields, schema) in enumerate(cases()):
        values = [gen_doc_value(name, schema, rng) for _ in range(DOCS)]
        texts = [dump(v, rng) for v in values]
        for t in texts:
            jsonschema.validate(json.loads(t), schema)  # the generator is right
        docs[name] = texts
        reqs.append(dict(fields, walks=WALKS, max_steps=300, seed=i + 1, docs=texts))
    return {name: r for (name, _, _), r in zip(cases(), run_tool(reqs))}, docs


@pytest.mark.parametrize("name", [c[0] for c in cases()])
def test_random_walks_validate(name, results, hf, token_bytes):
    res, _ = results
    schema = {c[0]: c[2] for c in cases()}[name]
    walks = res[name]["walks"]
    finished = 0
    for w in walks:
        assert "error" not in w, w
        raw = b"".join(token_bytes(i) for i in w["ids"])
        text = raw.decode("utf-8")  # strict: the automaton only lets valid UTF-8 through
        assert hf.decode(w["ids"], skip_special_tokens=False) == text
        if not w["stopped"]:
            continue
        finished += 1
        assert w["complete"]
        value = json.loads(text)
        jsonschema.validate(value, schema)
        jsonschema.validate(value, strict(schema))
    assert finished >= len(walks) * 0.6, f"{finished}/{len(walks)} walks finished"


def test_tool_schemas_match_vllm(results):
    res, _ = results
    assert res["required"]["schema"] == vllm_required_schema(TOOLS)
    assert res["required_many"]["schema"] == vllm_required_schema(MANY)
    assert res["named"]["schema"] == TOOLS[1]["function"]["parameters"]


@pytest.mark.parametrize("name", [c[0] for c in cases()])
def test_valid_documents_accepted(name, results):
    res, docs = results
    for text, d in zip(docs[name], res[name]["docs"]):
        assert d["accepted"] == len(d["ids"]), (text, d)
        assert d["complete"], text


# ==== invalid documents ====

MARK = "\u2603MARK\u2603"


def mutations(name, schema, rng):
    """(invalid text, byte offset of the first impossible byte)."""
    out = []
    for _ in range(3):
        v = gen_doc_value(name, schema, rng)
        t = json.dumps(v, ensure_ascii=False)
        out.append((t + "x", len(t.encode())))  # trailing garbage
    if name in ("required", "required_many"):
        v = gen_doc_value(name, schema, rng)
        v[0]["name"] = MARK
        t = json.dumps(v, ensure_ascii=False)
        pos = t.encode().index(f'"{MARK}"'.encode())
        out.append((t.replace(f'"{MARK}"', '"zzz_tool"'), pos + 1))
        return out
    s = resolve(schema, schema)
    if not isinstance(s, dict) or s.get("type") != "object" or not s.get("properties"):
        return out
    if s.get("required") and next(iter(s["properties"])) in s["required"]:
        out.append(("{}", 1))
    for key, sub in s["properties"].items():
        sub = resolve(sub, schema)
        if "enum" in sub and all(isinstance(e, str) and not e.startswith("z") for e in sub["enum"]):
            bad, off = '"zzz"', 1
        elif sub.get("type") == "integer":
            bad, off = '"7"', 0
        elif sub.get("type") == "boolean":
            bad, off = "null", 0
        elif sub.get("type") == "string" and "enum" not in sub:
            bad, off = "12", 0
        else:
            continue
        v = gen_doc_value(name, schema, rng)
        if key not in v:
            continue
        v[key] = MARK
        t = json.dumps(v, ensure_ascii=False, indent=rng.choice([None, 2]))
        pos = t.encode().index(f'"{MARK}"'.encode())
        out.append((t.replace(f'"{MARK}"', bad), pos + off))
    return out


def test_invalid_documents_rejected_at_first_bad_token(token_bytes):
    rng = random.Random(99)
    reqs, expect = [], []
    for name, fields, schema in cases():
        muts = mutations(name, schema, rng)
        for text, _ in muts:
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                continue
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(value, schema)
        reqs.append(dict(fields, docs=[t for t, _ in muts]))
        expect.append(muts)
    n = 0
    for muts, r in zip(expect, run_tool(reqs)):
        for (text, bad), d in zip(muts, r["docs"]):
            ends, pos = [], 0
            for i in d["ids"]:
                pos += len(token_bytes(i))
                ends.append(pos)
            assert pos == len(text.encode())
            want = sum(1 for e in ends if e <= bad)
            assert d["accepted"] == want, (text, bad, d)
            assert not d["complete"]
            n += 1
    assert n >= 30


def test_mask_speed_reported(capsys):
    """Not a timed test: prints mask times for the record (cold = first
    mask of a matcher state on a fresh compiled schema, so no cache)."""
    doc = json.dumps([{"name": "search_docs", "parameters": {
        "query": "héllo \"wörld\" 😀", "filters": {"year": 2024, "tags": ["a", "b"]},
        "limit": -12.5e3 if False else None}}], ensure_ascii=False)
    reqs = [{"schema": SCHEMAS["weather"], "bench": '{"location": "Par'},
            {"schema": SCHEMAS["weather"], "bench": '{"location": "Paris", '},
            {"schema": None, "object_only": True, "bench": '{"a": [1, {"b": 2'},
            {"tools": TOOLS, "tool_choice": "required", "bench": '[{"name": "'},
            {"tools": TOOLS, "tool_choice": "required", "bench": "[", "bench_doc": doc},
            {"schema": None, "object_only": True, "bench": "{", "bench_doc": doc[1:-1]}]
    for req, r in zip(reqs, run_tool(reqs)):
        assert r["allowed"] > 0
        with capsys.disabled():
            print(f"\nmask after {req['bench']!r}: cold {r['cold_ms']:.2f} ms, "
                  f"warm {r['warm_ms']:.3f} ms, {r['allowed']} tokens allowed")
            if "bench_doc" in req:
                assert r["doc_prefixes"] == len(req["bench_doc"].encode()) + 1
                print(f"cold mask at each of {r['doc_prefixes']} prefixes of a document: "
                      f"mean {r['doc_cold_mean_ms']:.2f} ms, max {r['doc_cold_max_ms']:.2f} ms")
