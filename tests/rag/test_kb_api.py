# SPDX-License-Identifier: Apache-2.0
"""Dify's Knowledge API on the real binary: datasets, documents (text and
real PDFs), indexing status, segments, metadata and filters, retrieval
methods, top_k / score_threshold, rerank, errors, key isolation.

Oracles: the scores of semantic search are checked against cosines of
/v1/embeddings vectors computed here with numpy, reranked scores against
/v1/rerank, segment sizes against Hugging Face `tokenizers` on the
embedding model's tokenizer.json, and texts against what the test wrote."""
import json
import os
import threading
import unicodedata

import numpy as np
import requests

from conftest import EMBED, KEY_A, KEY_B, PDF_DIR, PDFS, SERVER_KEY, KB


def norm(s):
    return " ".join(unicodedata.normalize("NFKC", s).split())


TEXT = ("The Nile is the longest river in Africa.\n"
        "Mount Everest is the highest mountain on Earth.\n"
        "The Sahara is a large hot desert.\n"
        "北京是中华人民共和国的首都。\n"
        "Contact us at help@example.com or https://example.com/help for details.\n")


# ==== keys and errors ====

def test_keys(server):
    url = server.url + "/v1/datasets"
    r = requests.get(url)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert r.json()["status"] == 401
    for key in ("wrong", SERVER_KEY):  # the server's own key is no dataset key
        r = requests.get(url, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401, key
        assert r.json() == {"code": "unauthorized", "message": "Access token is invalid",
                            "status": 401}
    # a dataset key is no model key either
    r = requests.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {KEY_A}"})
    assert r.status_code == 401


def test_dataset_crud(kb):
    ds = kb.ok("POST", "/datasets", json={"name": "crud", "description": "d",
                                          "indexing_technique": "economy"})
    assert ds["name"] == "crud" and ds["indexing_technique"] == "economy"
    assert ds["provider"] == "vendor" and ds["permission"] == "only_me"
    r = kb.post("/datasets", json={"name": "crud"})
    assert r.status_code == 409 and r.json()["code"] == "dataset_name_duplicate"
    for bad in ({}, {"name": ""}, {"name": "x" * 41}, {"name": 3},
                {"name": "y", "indexing_technique": "best"},
                {"name": "y", "provider": "external"},
                {"name": "y", "embedding_model": "other"}):
        r = kb.post("/datasets", json=bad)
        assert r.status_code == 400 and r.json()["code"] == "invalid_param", bad
    r = kb.req("POST", "/datasets", data="{bad json")
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    got = kb.ok("GET", f"/datasets/{ds['id']}")
    assert got["id"] == ds["id"] and got["description"] == "d"
    upd = kb.ok("PATCH", f"/datasets/{ds['id']}", json={"name": "crud2", "description": "e"})
    assert upd["name"] == "crud2" and upd["description"] == "e"
    names = [d["name"] for d in kb.ok("GET", "/datasets", params={"limit": 100})["data"]]
    assert "crud2" in names and "crud" not in names
    r = kb.req("DELETE", f"/datasets/{ds['id']}")
    assert r.status_code == 204
    r = kb.get(f"/datasets/{ds['id']}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = kb.get("/datasets", params={"limit": 101})
    assert r.status_code == 400
    r = kb.get("/datasets/x/nothing/here")
    assert r.status_code == 404


def test_paging(kb):
    ids = [kb.dataset(f"page-{i}", "economy") for i in range(5)]
    p1 = kb.ok("GET", "/datasets", params={"page": 1, "limit": 2, "keyword": "page-"})
    p3 = kb.ok("GET", "/datasets", params={"page": 3, "limit": 2, "keyword": "page-"})
    assert p1["total"] == 5 and p1["has_more"] and len(p1["data"]) == 2
    assert not p3["has_more"] and len(p3["data"]) == 1
    for i in ids:
        assert kb.req("DELETE", f"/datasets/{i}").status_code == 204


# ==== text documents, segments, cleaning ====

def test_text_document(kb):
    ds = kb.dataset("text")
    rule = {"mode": "custom", "rules": {
        "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True},
                                 {"id": "remove_urls_emails", "enabled": True}],
        "segmentation": {"separator": "\\n", "max_tokens": 50, "chunk_overlap": 0}}}
    r = kb.text(ds, "facts", TEXT, rule)
    assert r["document"]["indexing_status"] == "waiting"
    assert r["document"]["display_status"] == "queuing"
    st = kb.wait(ds, r["batch"])
    assert st[0]["indexing_status"] == "completed", st
    assert st[0]["completed_segments"] == st[0]["total_segments"] >= 1
    doc = r["document"]["id"]
    segs = kb.segments(ds, doc)
    assert len(segs) == st[0]["total_segments"]
    whole = "".join(s["content"] for s in segs)
    assert "help@example.com" not in whole and "https://example.com" not in whole
    for line in TEXT.splitlines()[:4]:  # every sentence is kept, in order
        assert line in whole
    assert [s["position"] for s in segs] == list(range(1, len(segs) + 1))
    d = kb.ok("GET", f"/datasets/{ds}/documents/{doc}")
    assert d["indexing_status"] == "completed" and d["display_status"] == "available"
    assert d["word_count"] == sum(s["word_count"] for s in segs)
    rec = kb.retrieve(ds, "北京 首都", search_method="full_text_search", top_k=1)
    assert rec and "北京" in rec[0]["segment"]["content"]
    assert rec[0]["segment"]["document"]["id"] == doc


def test_segment_token_bounds(kb):
    """Custom max_tokens, counted with the embedding model's own tokenizer."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(EMBED, "tokenizer.json"))
    ds = kb.dataset("bounds")
    words = " ".join(f"item{i % 97} value{i % 13}." for i in range(1500))
    for max_tokens, overlap in ((50, 10), (120, 0)):
        rule = {"mode": "custom", "rules": {"segmentation": {
            "separator": "\\n\\n", "max_tokens": max_tokens, "chunk_overlap": overlap}}}
        r = kb.text(ds, f"w{max_tokens}", words, rule)
        st = kb.wait(ds, r["batch"])
        assert st[0]["indexing_status"] == "completed", st
        segs = kb.segments(ds, r["document"]["id"])
        assert len(segs) > 3
        for s in segs:
            n = len(tok.encode(s["content"], add_special_tokens=False).ids)
            assert n <= max_tokens, (n, s["content"][:80])
            assert s["tokens"] == n
        joined = " ".join(s["content"] for s in segs)
        for w in ("item0 value0.", "item96"):
            assert w in joined


def test_bad_files_do_not_block(kb):
    ds = kb.dataset("bad")
    with open(os.path.join(PDF_DIR, PDFS[0]), "rb") as f:
        good = f.read()
    r = kb.req("POST", f"/datasets/{ds}/document/create-by-file",
               files={"file": ("x.docx", b"PK\x03\x04")})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_file_type"
    r = kb.req("POST", f"/datasets/{ds}/document/create-by-file", data={"data": "{}"})
    assert r.status_code == 400 and r.json()["code"] == "no_file_uploaded"
    r = kb.req("POST", f"/datasets/{ds}/document/create-by-file",
               files={"file": ("a.txt", b"x")}, data={"data": "[1"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_param"
    broken = kb.ok("POST", f"/datasets/{ds}/document/create-by-file",
                   files={"file": ("broken.pdf", b"%PDF-1.7\nthis is no pdf at all")},
                   data={"data": json.dumps({"indexing_technique": "high_quality"})})
    badtxt = kb.ok("POST", f"/datasets/{ds}/document/create-by-file",
                   files={"file": ("latin1.txt", "caf\xe9".encode("latin-1"))})
    ok = kb.ok("POST", f"/datasets/{ds}/document/create-by-file",
               files={"file": ("good.pdf", good)})
    s1 = kb.wait(ds, broken["batch"])[0]
    s2 = kb.wait(ds, badtxt["batch"])[0]
    s3 = kb.wait(ds, ok["batch"])[0]
    assert s1["indexing_status"] == "error" and s1["error"], s1
    assert s2["indexing_status"] == "error" and "UTF-8" in s2["error"], s2
    assert s3["indexing_status"] == "completed", s3
    docs = kb.ok("GET", f"/datasets/{ds}/documents")["data"]
    assert {d["display_status"] for d in docs} == {"error", "available"}


def test_unsupported_settings_are_refused(kb):
    ds = kb.dataset("refuse")
    for body in ({"doc_form": "hierarchical_model"}, {"doc_form": "qa_model"},
                 {"process_rule": {"mode": "hierarchical", "rules": {}},
                  "doc_form": "hierarchical_model"},
                 {"process_rule": {"mode": "hierarchical", "rules": {
                     "segmentation": {"max_tokens": 100}, "subchunk_segmentation": {
                         "max_tokens": 50}}}},  # without doc_form hierarchical_model
                 {"process_rule": {"mode": "custom", "rules": {"segmentation": {
                     "max_tokens": 4001}}}}):
        r = kb.post(f"/datasets/{ds}/document/create-by-text",
                    json={"name": "n", "text": "t", "indexing_technique": "high_quality",
                          **body})
        assert r.status_code == 400 and r.json()["code"] == "invalid_param", body
    eco = kb.dataset("refuse-eco", "economy")
    r = kb.post(f"/datasets/{eco}/retrieve", json={"query": "x", "retrieval_model": {
        "search_method": "semantic_search"}})
    assert r.status_code == 400 and "high_quality" in r.json()["message"]
    r = kb.post(f"/datasets/{ds}/retrieve", json={"query": "x", "retrieval_model": {
        "search_method": "semantic_search", "top_k": 0}})
    assert r.status_code == 400
    r = kb.post(f"/datasets/{ds}/retrieve", json={"query": ""})
    assert r.status_code == 400


# ==== retrieval ====

def embed(server, texts, query=False):
    body = {"model": "emb", "input": texts}
    if query:
        body["prompt_name"] = "query"
    r = requests.post(server.url + "/v1/embeddings", json=body,
                      headers={"Authorization": f"Bearer {SERVER_KEY}"})
    assert r.status_code == 200, r.text
    return np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float64)


def lines_dataset(kb, name, n=30):
    ds = kb.dataset(name)
    text = "\n".join(f"Record {i}: the {['red', 'green', 'blue'][i % 3]} box holds "
                     f"{i * 7} marbles and {['cats', 'dogs'][i % 2]}." for i in range(n))
    rule = {"mode": "custom", "rules": {"segmentation": {"separator": "\\n",
                                                          "max_tokens": 50}}}
    r = kb.text(ds, name, text, rule)
    assert kb.wait(ds, r["batch"])[0]["indexing_status"] == "completed"
    return ds, r["document"]["id"]


def test_semantic_scores_are_cosines(server, kb):
    ds, doc = lines_dataset(kb, "cos")
    q = "a blue box with dogs"
    rec = kb.retrieve(ds, q, search_method="semantic_search", top_k=10)
    assert len(rec) == 10
    contents = [r["segment"]["content"] for r in rec]
    qv = embed(server, [q], query=True)[0]
    dv = embed(server, contents)
    cos = dv @ qv / (np.linalg.norm(dv, axis=1) * np.linalg.norm(qv))
    got = np.array([r["score"] for r in rec])
    assert np.allclose(got, cos, atol=1e-4), (got, cos)
    assert all(got[i] >= got[i + 1] for i in range(len(got) - 1))
    # exact search: the best of all segments by the oracle is first
    allseg = [s["content"] for s in kb.segments(ds, doc)]
    av = embed(server, allseg)
    best = allseg[int(np.argmax(av @ qv / np.linalg.norm(av, axis=1)))]
    assert contents[0] == best


def test_top_k_and_threshold(kb):
    ds, _ = lines_dataset(kb, "topk")
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        for k in (1, 3, 7):
            rec = kb.retrieve(ds, "green box marbles", search_method=method, top_k=k)
            assert len(rec) == k, (method, k)
        full = kb.retrieve(ds, "green box marbles", search_method=method, top_k=20)
        t = full[len(full) // 2]["score"]
        cut = kb.retrieve(ds, "green box marbles", search_method=method, top_k=20,
                          score_threshold_enabled=True, score_threshold=t)
        assert [r["score"] for r in cut] == [r["score"] for r in full if r["score"] >= t]
        assert all(r["score"] >= t for r in cut)


def test_rerank_scores_and_threshold(server, kb):
    ds, _ = lines_dataset(kb, "rerank")
    q = "which box holds cats"
    rm = {"search_method": "hybrid_search", "top_k": 5, "reranking_enable": True,
          "reranking_model": {"reranking_provider_name": "octo",
                              "reranking_model_name": "rr"}}
    rec = kb.retrieve(ds, q, **rm)
    assert len(rec) == 5
    docs = [r["segment"]["content"] for r in rec]
    r = requests.post(server.url + "/v1/rerank", json={"model": "rr", "query": q,
                                                        "documents": docs},
                      headers={"Authorization": f"Bearer {SERVER_KEY}"})
    want = {x["index"]: x["relevance_score"] for x in r.json()["results"]}
    for i, rr in enumerate(rec):
        assert abs(rr["score"] - want[i]) < 1e-4
    t = rec[2]["score"]
    cut = kb.retrieve(ds, q, **rm, score_threshold_enabled=True, score_threshold=t)
    assert [x["score"] for x in cut] == [x["score"] for x in rec if x["score"] >= t]
    bad = dict(rm, reranking_model={"reranking_model_name": "nope"})
    r = kb.post(f"/datasets/{ds}/retrieve", json={"query": q, "retrieval_model": bad})
    assert r.status_code == 400


def test_hybrid_and_keyword(kb):
    ds, _ = lines_dataset(kb, "hybrid")
    w = kb.retrieve(ds, "marbles cats", search_method="hybrid_search", top_k=5,
                    weights={"weight_type": "customized",
                             "vector_setting": {"vector_weight": 0.0},
                             "keyword_setting": {"keyword_weight": 1.0}})
    ft = kb.retrieve(ds, "marbles cats", search_method="full_text_search", top_k=5)
    assert [r["score"] for r in w] == [r["score"] for r in ft]
    rrf = kb.retrieve(ds, "marbles cats", search_method="hybrid_search", top_k=5,
                      reranking_mode="reciprocal_rank_fusion")
    assert len(rrf) == 5 and rrf[0]["score"] <= 2 / 61 + 1e-9
    kw = kb.retrieve(ds, "green cats", search_method="keyword_search", top_k=3)
    assert kw and all("green" in r["segment"]["content"] or "cats" in r["segment"]["content"]
                      for r in kw)


def test_metadata_filters(kb):
    ds = kb.dataset("meta")
    f_author = kb.ok("POST", f"/datasets/{ds}/metadata", json={"type": "string",
                                                                "name": "author"})
    f_year = kb.ok("POST", f"/datasets/{ds}/metadata", json={"type": "number",
                                                              "name": "year"})
    r = kb.post(f"/datasets/{ds}/metadata", json={"type": "string", "name": "author"})
    assert r.status_code == 400
    docs = {}
    for name, author, year in (("a", "Alice Smith", 2001), ("b", "Bob Jones", 2010),
                               ("c", "Alice Jones", 2020)):
        r = kb.text(ds, name, f"Notes about rivers and lakes written by {name}.")
        assert kb.wait(ds, r["batch"])[0]["indexing_status"] == "completed"
        docs[name] = r["document"]["id"]
        kb.ok("POST", f"/datasets/{ds}/documents/metadata", json={"operation_data": [{
            "document_id": docs[name], "metadata_list": [
                {"id": f_author["id"], "name": "author", "value": author},
                {"id": f_year["id"], "name": "year", "value": year}]}]})
    listed = kb.ok("GET", f"/datasets/{ds}/metadata")["doc_metadata"]
    assert {m["name"]: m["count"] for m in listed} == {"author": 3, "year": 3}

    def names(conds, op="and", method="full_text_search"):
        rec = kb.retrieve(ds, "rivers lakes", search_method=method, top_k=10,
                          metadata_filtering_conditions={"logical_operator": op,
                                                         "conditions": conds})
        return sorted(r["segment"]["document"]["name"] for r in rec)

    c = lambda n, o, v=None: {"name": n, "comparison_operator": o, "value": v}  # noqa: E731
    assert names([c("author", "contains", "Alice")]) == ["a", "c"]
    assert names([c("author", "start with", "Bob")]) == ["b"]
    assert names([c("author", "end with", "Jones")]) == ["b", "c"]
    assert names([c("author", "is", "Alice Smith")]) == ["a"]
    assert names([c("author", "is not", "Alice Smith")]) == ["b", "c"]
    assert names([c("author", "not contains", "Alice")]) == ["b"]
    assert names([c("year", ">", 2005)]) == ["b", "c"]
    assert names([c("year", "≤", 2010)]) == ["a", "b"]
    assert names([c("year", "=", 2020)]) == ["c"]
    assert names([c("year", "≠", 2020)]) == ["a", "b"]
    assert names([c("author", "contains", "Alice"), c("year", "<", 2010)]) == ["a"]
    assert names([c("year", "<", 2005), c("year", ">", 2015)], op="or") == ["a", "c"]
    assert names([c("author", "not empty")]) == ["a", "b", "c"]
    assert names([c("author", "empty")]) == []
    assert names([c("year", ">", 2005)], method="semantic_search") == ["b", "c"]
    r = kb.post(f"/datasets/{ds}/retrieve", json={"query": "x", "retrieval_model": {
        "metadata_filtering_conditions": {"conditions": [c("year", "~", 1)]}}})
    assert r.status_code == 400
    d = kb.ok("GET", f"/datasets/{ds}/documents/{docs['a']}")
    assert {m["name"]: m["value"] for m in d["doc_metadata"]} == {"author": "Alice Smith",
                                                                 "year": "2001"}
    kb.ok("PATCH", f"/datasets/{ds}/metadata/{f_author['id']}", json={"name": "writer"})
    assert names([c("writer", "is", "Bob Jones")]) == ["b"]
    assert kb.req("DELETE", f"/datasets/{ds}/metadata/{f_year['id']}").status_code == 204
    assert names([c("year", ">", 0)]) == []


def test_segments_crud(kb):
    ds, doc = lines_dataset(kb, "segcrud", n=6)
    added = kb.ok("POST", f"/datasets/{ds}/documents/{doc}/segments", json={"segments": [
        {"content": "Quokkas live on Rottnest Island.", "answer": "", "keywords": ["quokka"]}]})
    seg = added["data"][0]
    assert seg["status"] == "completed" and seg["keywords"] == ["quokka"]
    rec = kb.retrieve(ds, "quokkas Rottnest", search_method="full_text_search", top_k=1)
    assert rec[0]["segment"]["id"] == seg["id"]
    kw = kb.retrieve(ds, "quokka", search_method="keyword_search", top_k=1)
    assert kw[0]["segment"]["id"] == seg["id"]
    up = kb.ok("POST", f"/datasets/{ds}/documents/{doc}/segments/{seg['id']}",
               json={"segment": {"content": "Wombats dig burrows in Tasmania."}})
    assert up["data"]["content"] == "Wombats dig burrows in Tasmania."
    assert kb.retrieve(ds, "quokkas Rottnest", search_method="full_text_search",
                       top_k=5) == [] or all(r["segment"]["id"] != seg["id"] for r in
                                             kb.retrieve(ds, "quokkas Rottnest",
                                                         search_method="full_text_search",
                                                         top_k=5))
    rec = kb.retrieve(ds, "wombats Tasmania", search_method="semantic_search", top_k=20)
    assert seg["id"] in [r["segment"]["id"] for r in rec]
    kb.ok("POST", f"/datasets/{ds}/documents/{doc}/segments/{seg['id']}",
          json={"segment": {"enabled": False}})
    for m in ("semantic_search", "full_text_search"):
        rec = kb.retrieve(ds, "wombats Tasmania", search_method=m, top_k=20)
        assert seg["id"] not in [r["segment"]["id"] for r in rec]
    r = kb.req("DELETE", f"/datasets/{ds}/documents/{doc}/segments/{seg['id']}")
    assert r.status_code == 204
    found = kb.ok("GET", f"/datasets/{ds}/documents/{doc}/segments",
                  params={"keyword": "Wombats"})
    assert found["total"] == 0


def test_document_delete(kb):
    ds, doc = lines_dataset(kb, "docdel", n=5)
    assert kb.retrieve(ds, "marbles", search_method="semantic_search", top_k=3)
    assert kb.req("DELETE", f"/datasets/{ds}/documents/{doc}").status_code == 204
    assert kb.get(f"/datasets/{ds}/documents/{doc}").status_code == 404
    for m in ("semantic_search", "full_text_search", "keyword_search"):
        assert kb.retrieve(ds, "marbles", search_method=m, top_k=3) == []


# ==== real PDFs ====

def test_pdfs(kb):
    ds = kb.dataset("pdfs")
    batches = {name: kb.upload(ds, os.path.join(PDF_DIR, name)) for name in PDFS}
    for name, r in batches.items():
        st = kb.wait(ds, r["batch"])[0]
        assert st["indexing_status"] == "completed", (name, st)
        assert st["completed_segments"] == st["total_segments"] > 0
        for k in ("processing_started_at", "parsing_completed_at", "cleaning_completed_at",
                  "splitting_completed_at", "completed_at"):
            assert isinstance(st[k], int), (k, st)
    rec = kb.retrieve(ds, "Winner-Takes-All match selection", search_method="full_text_search",
                      top_k=3)
    assert rec[0]["segment"]["document"]["name"] == "academic_paper_formula.pdf"
    rec = kb.retrieve(ds, "金刚线", search_method="full_text_search", top_k=3)
    assert rec and all(r["segment"]["document"]["name"] == "research_report_1f978cd8.pdf"
                       for r in rec)
    # an image goes through OCR
    img = kb.upload(ds, os.path.join(PDF_DIR, "..", "images", "receipt_en_auntie_annes.jpg"))
    assert kb.wait(ds, img["batch"])[0]["indexing_status"] == "completed"
    rec = kb.retrieve(ds, "cinnamon sugar grand total", search_method="full_text_search",
                      top_k=1)
    assert rec[0]["segment"]["document"]["name"] == "receipt_en_auntie_annes.jpg"
    # Kangxi radicals in the PDF meet a query in the usual characters
    rec = kb.retrieve(ds, "化学方程式", search_method="full_text_search", top_k=3)
    assert rec[0]["segment"]["document"]["name"] == "chemical_knowledge_introduction.pdf"


# ==== isolation and concurrency ====

def test_key_isolation(kb, kb_b):
    ds, doc = lines_dataset(kb, "private", n=4)
    seg = kb.segments(ds, doc)[0]["id"]
    assert all(d["id"] != ds for d in kb_b.ok("GET", "/datasets",
                                              params={"limit": 100})["data"])
    for method, path, body in (
            ("GET", f"/datasets/{ds}", None), ("PATCH", f"/datasets/{ds}", {"name": "x"}),
            ("DELETE", f"/datasets/{ds}", None), ("GET", f"/datasets/{ds}/documents", None),
            ("GET", f"/datasets/{ds}/documents/{doc}", None),
            ("DELETE", f"/datasets/{ds}/documents/{doc}", None),
            ("GET", f"/datasets/{ds}/documents/{doc}/segments", None),
            ("POST", f"/datasets/{ds}/documents/{doc}/segments",
             {"segments": [{"content": "x"}]}),
            ("POST", f"/datasets/{ds}/documents/{doc}/segments/{seg}",
             {"segment": {"content": "x"}}),
            ("DELETE", f"/datasets/{ds}/documents/{doc}/segments/{seg}", None),
            ("POST", f"/datasets/{ds}/retrieve", {"query": "marbles"}),
            ("POST", f"/datasets/{ds}/document/create-by-text",
             {"name": "x", "text": "y", "indexing_technique": "economy"}),
            ("GET", f"/datasets/{ds}/metadata", None),
            ("POST", f"/datasets/{ds}/metadata", {"type": "string", "name": "n"})):
        r = kb_b.req(method, path, json=body)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # the same name is free in the other namespace, and A's data is intact
    kb_b.dataset("private")
    assert len(kb.segments(ds, doc)) == 4
    assert kb.ok("GET", f"/datasets/{ds}")["name"] == "private"


def test_concurrent_uploads_and_queries(kb):
    ds, _ = lines_dataset(kb, "busy", n=10)
    errors, batches, lock = [], [], threading.Lock()

    def upload(i):
        try:
            for j in range(3):
                r = kb.text(ds, f"u{i}-{j}", "\n".join(f"Upload {i} part {j} line {k} about "
                                                       f"topic{i}{j}." for k in range(20)))
                with lock:
                    batches.append((r["batch"], f"topic{i}{j}"))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def query():
        try:
            for _ in range(15):
                for m in ("semantic_search", "full_text_search", "hybrid_search"):
                    kb.retrieve(ds, "marbles box", search_method=m, top_k=3)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    ts += [threading.Thread(target=query) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    for b, topic in batches:
        assert kb.wait(ds, b)[0]["indexing_status"] == "completed"
        rec = kb.retrieve(ds, topic, search_method="full_text_search", top_k=1)
        assert topic in rec[0]["segment"]["content"]
    assert kb.ok("GET", f"/datasets/{ds}/documents")["total"] == 13


# ==== parent/child (hierarchical) documents ====

HIER_RULE = {"mode": "hierarchical", "rules": {
    "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
    "segmentation": {"separator": "\\n\\n", "max_tokens": 400},
    "parent_mode": "paragraph",
    "subchunk_segmentation": {"separator": "\\n", "max_tokens": 50, "chunk_overlap": 0}}}


def hier_text():
    animals = [["aardvark", "badger", "camel", "dingo"], ["eland", "ferret", "gecko", "heron"],
               ["ibis", "jackal", "koala", "lemur"]]
    paras = []
    for group in animals:
        lines = [f"The {a} is an animal that lives in the wild and eats what it finds "
                 f"near its home; people who study the {a} write long notes about it."
                 for a in group]
        paras.append("\n".join(lines))
    return animals, "\n\n".join(paras)


def test_hierarchical(kb):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(EMBED, "tokenizer.json"))
    ds = kb.dataset("hier")
    animals, text = hier_text()
    r = kb.ok("POST", f"/datasets/{ds}/document/create-by-text", json={
        "name": "zoo", "text": text, "indexing_technique": "high_quality",
        "doc_form": "hierarchical_model", "process_rule": HIER_RULE})
    assert r["document"]["doc_form"] == "hierarchical_model"
    st = kb.wait(ds, r["batch"])[0]
    assert st["indexing_status"] == "completed", st
    assert st["total_segments"] == st["completed_segments"] == 3
    doc = r["document"]["id"]
    page = kb.ok("GET", f"/datasets/{ds}/documents/{doc}/segments")
    assert page["doc_form"] == "hierarchical_model"
    segs = page["data"]
    for seg, group in zip(segs, animals):
        kids = seg["child_chunks"]
        assert len(kids) >= 2 and [k["position"] for k in kids] == list(range(1, len(kids) + 1))
        joined = " ".join(k["content"] for k in kids)
        for a in group:
            assert f"The {a} is an animal" in seg["content"] and f"The {a} is" in joined
        for k in kids:
            assert len(tok.encode(k["content"], add_special_tokens=False).ids) <= 50
    # retrieval searches the children and returns their parent
    for method in ("full_text_search", "semantic_search", "hybrid_search"):
        rec = kb.retrieve(ds, "people who study the koala", search_method=method, top_k=3)
        assert rec and len({x["segment"]["id"] for x in rec}) == len(rec)
        for x in rec:
            kids = x["child_chunks"]
            assert kids and x["score"] == kids[0]["score"]
            assert [k["score"] for k in kids] == sorted((k["score"] for k in kids), reverse=True)
            own = {k["id"] for k in next(s for s in segs if s["id"] == x["segment"]["id"])[
                "child_chunks"]}
            assert {k["id"] for k in kids} <= own
    rec = kb.retrieve(ds, "koala", search_method="full_text_search", top_k=1)
    assert rec[0]["segment"]["id"] == segs[2]["id"]
    assert "koala" in rec[0]["child_chunks"][0]["content"]
    # child chunks: add, find, change, delete
    base = f"/datasets/{ds}/documents/{doc}/segments/{segs[0]['id']}/child_chunks"
    added = kb.ok("POST", base, json={"content": "Zebras have black and white stripes."})["data"]
    assert added["segment_id"] == segs[0]["id"] and added["position"] == len(
        segs[0]["child_chunks"]) + 1
    rec = kb.retrieve(ds, "zebras stripes", search_method="full_text_search", top_k=1)
    assert rec[0]["segment"]["id"] == segs[0]["id"]
    assert rec[0]["child_chunks"][0]["id"] == added["id"]
    rec = kb.retrieve(ds, "zebras stripes", search_method="semantic_search", top_k=3)
    assert any(k["id"] == added["id"] for x in rec for k in x["child_chunks"])
    upd = kb.ok("PATCH", f"{base}/{added['id']}", json={"content": "Okapis look like zebras."})
    assert upd["data"]["content"] == "Okapis look like zebras."
    rec = kb.retrieve(ds, "okapis", search_method="full_text_search", top_k=1)
    assert rec[0]["child_chunks"][0]["id"] == added["id"]
    listed = kb.ok("GET", base, params={"keyword": "Okapis"})
    assert listed["total"] == 1 and listed["data"][0]["id"] == added["id"]
    assert kb.req("DELETE", f"{base}/{added['id']}").status_code == 204
    assert kb.retrieve(ds, "okapis", search_method="full_text_search", top_k=1) == []
    # segments of such documents are changed through their children
    r2 = kb.post(f"/datasets/{ds}/documents/{doc}/segments", json={"segments": [
        {"content": "x"}]})
    assert r2.status_code == 400
    # full-doc: the whole text is the one parent
    r = kb.ok("POST", f"/datasets/{ds}/document/create-by-text", json={
        "name": "zoo2", "text": text, "indexing_technique": "high_quality",
        "doc_form": "hierarchical_model",
        "process_rule": {**HIER_RULE, "rules": {**HIER_RULE["rules"],
                                                "parent_mode": "full-doc"}}})
    assert kb.wait(ds, r["batch"])[0]["total_segments"] == 1
    one = kb.segments(ds, r["document"]["id"])
    assert len(one) == 1 and all(f"The {a} is" in one[0]["content"] for g in animals for a in g)
    # child chunks of a text_model document do not exist
    ds2, doc2 = lines_dataset(kb, "flat", n=3)
    seg2 = kb.segments(ds2, doc2)[0]["id"]
    r = kb.get(f"/datasets/{ds2}/documents/{doc2}/segments/{seg2}/child_chunks")
    assert r.status_code == 400 and "hierarchical_model" in r.json()["message"]


def test_document_update_and_status(kb):
    ds = kb.dataset("upd")
    r = kb.text(ds, "notes", "Penguins live in Antarctica.")
    assert kb.wait(ds, r["batch"])[0]["indexing_status"] == "completed"
    doc = r["document"]["id"]
    u = kb.ok("POST", f"/datasets/{ds}/documents/{doc}/update-by-text",
              json={"name": "notes2", "text": "Kangaroos live in Australia."})
    assert u["document"]["id"] == doc and u["batch"] != r["batch"]
    assert kb.wait(ds, u["batch"])[0]["indexing_status"] == "completed"
    assert kb.ok("GET", f"/datasets/{ds}/documents/{doc}")["name"] == "notes2"
    segs = kb.segments(ds, doc)
    assert [s["content"] for s in segs] == ["Kangaroos live in Australia."]
    assert kb.retrieve(ds, "penguins", search_method="full_text_search", top_k=3) == []
    with open(os.path.join(PDF_DIR, "academic_paper_formula.pdf"), "rb") as f:
        u = kb.ok("POST", f"/datasets/{ds}/documents/{doc}/update_by_file",
                  files={"file": ("paper.pdf", f)}, data={"data": "{}"})
    assert kb.wait(ds, u["batch"])[0]["indexing_status"] == "completed"
    rec = kb.retrieve(ds, "Winner-Takes-All", search_method="full_text_search", top_k=1)
    assert rec[0]["segment"]["document"]["name"] == "paper.pdf"
    assert kb.retrieve(ds, "kangaroos", search_method="full_text_search", top_k=3) == []
    r = kb.req("PATCH", f"/datasets/{ds}/documents/status/disable",
               json={"document_ids": [doc]})
    assert r.status_code == 200 and r.json() == {"result": "success"}
    assert kb.ok("GET", f"/datasets/{ds}/documents/{doc}")["display_status"] == "disabled"
    assert kb.retrieve(ds, "Winner-Takes-All", search_method="full_text_search", top_k=1) == []
    kb.ok("PATCH", f"/datasets/{ds}/documents/status/enable", json={"document_ids": [doc]})
    assert kb.retrieve(ds, "Winner-Takes-All", search_method="full_text_search", top_k=1)
    r = kb.req("PATCH", f"/datasets/{ds}/documents/status/archive", json={"document_ids": [doc]})
    assert r.status_code == 400
    r = kb.req("PATCH", f"/datasets/{ds}/documents/status/disable", json={"document_ids": ["x"]})
    assert r.status_code == 404
    r = kb.post(f"/datasets/{ds}/documents/nope/update-by-text", json={"text": "x"})
    assert r.status_code == 404
