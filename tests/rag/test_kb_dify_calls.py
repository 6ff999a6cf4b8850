# SPDX-License-Identifier: Apache-2.0
"""The Knowledge API driven the way Dify's own Python SDK drives it
(langgenius/dify sdks/python-client, KnowledgeBaseClient): the same
transport (httpx), headers (Bearer key, and Content-Type application/json
on every JSON call, GET and DELETE included), paths (create_by_text and
create_by_file with underscores, hit-testing, PATCH for datasets and
metadata, POST to update a segment) and bodies (the file form's `data`
field holding json.dumps of the options). The SDK on PyPI (dify-client
0.1.10) predates KnowledgeBaseClient, so its calls are reproduced here,
not imported."""
import json
import os

import httpx

from conftest import KEY_A, PDF_DIR


class SdkCalls:
    """One method per SDK call used, each sending what the SDK sends."""

    def __init__(self, base_url, key, dataset_id=None):
        self.key, self.dataset_id = key, dataset_id
        self.c = httpx.Client(base_url=base_url, timeout=httpx.Timeout(60.0, connect=5.0))

    def _json(self, method, endpoint, body=None, params=None):
        return self.c.request(method, endpoint, json=body, params=params,
                              headers={"Authorization": f"Bearer {self.key}",
                                       "Content-Type": "application/json"})

    def _files(self, endpoint, data, files):
        return self.c.request("POST", endpoint, data=data, files=files,
                              headers={"Authorization": f"Bearer {self.key}"})

    @property
    def ds(self):
        return f"/datasets/{self.dataset_id}"


def test_sdk_calls(server):
    kb = SdkCalls(server.url + "/v1", KEY_A)
    r = kb._json("POST", "/datasets", {"name": "sdk"})          # create_dataset
    assert r.status_code == 200, r.text
    kb.dataset_id = r.json()["id"]
    assert r.json()["indexing_technique"] is None
    r = kb._json("GET", "/datasets", params={"page": 1, "limit": 20})  # list_datasets
    assert any(d["id"] == kb.dataset_id for d in r.json()["data"])
    # create_document_by_text: the SDK's defaults, then the caller's extra_params
    body = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"},
            "name": "sdk.txt", "text": "Kookaburras laugh in the morning.\nEmus cannot fly."}
    body.update({"process_rule": {"rules": {"pre_processing_rules": [
        {"id": "remove_extra_spaces", "enabled": True},
        {"id": "remove_urls_emails", "enabled": True}],
        "segmentation": {"separator": "\n", "max_tokens": 500}}, "mode": "custom"}})
    r = kb._json("POST", f"{kb.ds}/document/create_by_text", body)
    assert r.status_code == 200, r.text
    doc, batch = r.json()["document"]["id"], r.json()["batch"]
    # create_document_by_file
    with open(os.path.join(PDF_DIR, "academic_paper_formula.pdf"), "rb") as f:
        r = kb._files(f"{kb.ds}/document/create_by_file",
                      {"data": json.dumps({"process_rule": {"mode": "automatic"},
                                           "indexing_technique": "high_quality"})},
                      {"file": f})
    assert r.status_code == 200, r.text
    fbatch = r.json()["batch"]
    for b in (batch, fbatch):                                   # batch_indexing_status
        for _ in range(600):
            st = kb._json("GET", f"{kb.ds}/documents/{b}/indexing-status").json()["data"]
            if st[0]["indexing_status"] in ("completed", "error"):
                break
            import time
            time.sleep(0.1)
        assert st[0]["indexing_status"] == "completed", st
    r = kb._json("GET", f"{kb.ds}/documents", params={"page": 1, "limit": 20,
                                                       "keyword": "sdk"})  # list_documents
    assert [d["id"] for d in r.json()["data"]] == [doc]
    r = kb._json("GET", f"{kb.ds}/documents/{doc}/segments",
                 params={"status": "completed"})                 # query_segments
    segs = r.json()["data"]
    assert segs and r.json()["doc_form"] == "text_model"
    r = kb._json("POST", f"{kb.ds}/documents/{doc}/segments",
                 {"segments": [{"content": "Wombats are marsupials.", "answer": "",
                                "keywords": ["wombat"]}]})       # add_segments
    assert r.status_code == 200, r.text
    sid = r.json()["data"][0]["id"]
    r = kb._json("POST", f"{kb.ds}/documents/{doc}/segments/{sid}",
                 {"segment": {"content": "Wombats are burrowing marsupials.",
                              "answer": "", "keywords": ["wombat"], "enabled": True}})
    assert r.status_code == 200 and "burrowing" in r.json()["data"]["content"]
    r = kb._json("POST", f"{kb.ds}/hit-testing", {"query": "burrowing wombats",
                                                  "retrieval_model": {
                                                      "search_method": "full_text_search",
                                                      "reranking_enable": False,
                                                      "top_k": 2,
                                                      "score_threshold_enabled": False}})
    assert r.status_code == 200
    assert r.json()["query"]["content"] == "burrowing wombats"
    assert r.json()["records"][0]["segment"]["id"] == sid
    r = kb._json("POST", f"{kb.ds}/metadata", {"type": "string", "name": "provenance"})
    mid = r.json()["id"]                                        # create_dataset_metadata
    r = kb._json("PATCH", f"{kb.ds}/metadata/{mid}", {"name": "origin"})
    assert r.json()["name"] == "origin"                         # update_dataset_metadata
    r = kb._json("POST", f"{kb.ds}/documents/metadata", {"operation_data": [
        {"document_id": doc, "metadata_list": [{"id": mid, "name": "origin",
                                                 "value": "field notes"}]}]})
    assert r.json() == {"result": "success"}                    # update_documents_metadata
    r = kb._json("GET", f"{kb.ds}/metadata")                    # get_dataset_metadata
    assert r.json()["doc_metadata"][0]["count"] == 1
    r = kb._json("GET", kb.ds)                                  # get_dataset
    assert r.json()["document_count"] == 2
    assert r.json()["indexing_technique"] == "high_quality"
    r = kb._json("PATCH", kb.ds, {"name": "sdk2", "description": "via the SDK's calls"})
    assert r.json()["name"] == "sdk2"                           # update_dataset
    r = kb._json("DELETE", f"{kb.ds}/documents/{doc}/segments/{sid}")
    assert r.status_code == 204                                 # delete_document_segment
    r = kb._json("DELETE", f"{kb.ds}/documents/{doc}")          # delete_document
    assert r.status_code == 204
    r = kb._json("DELETE", kb.ds)                               # delete_dataset
    assert r.status_code == 204
    assert kb._json("GET", kb.ds).status_code == 404
