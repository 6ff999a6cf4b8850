# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the Knowledge API tests: a real `octo serve` with the
tiny embedding and reranker fixtures (tests/fixtures/qwen3-embed,
qwen3-rerank), two dataset keys and one server key, its storage in a temp
dir; a small client speaking Dify's Knowledge API; waiting for ingestion."""
import os
import sys
import tempfile
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
from octo_server import OCTO_BIN as OCTO_BIN_PATH, Server, SANITIZED  # noqa: E402,F401

SRC = os.environ.get("OCTO_SRC", os.path.join(HERE, "..", ".."))
EMBED = os.path.join(SRC, "tests", "fixtures", "qwen3-embed")
RERANK = os.path.join(SRC, "tests", "fixtures", "qwen3-rerank")
PDF_DIR = os.path.join(SRC, "tests", "data", "pdf")
PDFS = ["academic_paper_formula.pdf", "mineru_demo1.pdf", "research_report_1f978cd8.pdf",
        "chemical_knowledge_introduction.pdf"]
# A folder holding exactly these (tests/data/pdf holds other tests' PDFs too),
# for the tests that ingest a whole folder.
PDF_SET_DIR = tempfile.mkdtemp(prefix="octo-kb-pdfs-")
for _name in PDFS:
    os.symlink(os.path.join(PDF_DIR, _name), os.path.join(PDF_SET_DIR, _name))
KEY_A, KEY_B, SERVER_KEY = "ds-key-a", "ds-key-b", "sk-server"


def kb_config(storage, embed_batch=32, keys=(KEY_A, KEY_B), embed=EMBED, embed_extra=""):
    return f"""
server:
  host: 127.0.0.1
  api_keys: [{SERVER_KEY}]
  storage:
    path: {storage}
  knowledge:
    embedding_model: emb
    rerank_model: rr
    embed_batch: {embed_batch}
    api_keys: [{", ".join(keys)}]
models:
  - name: emb
    path: {embed}
    task: embed
{embed_extra}  - name: rr
    path: {RERANK}
    task: score
"""


class KB:
    """Dify's Knowledge API with one key (paths relative to /v1)."""

    def __init__(self, url, key):
        self.url = url + "/v1"
        self.h = {"Authorization": f"Bearer {key}"}

    def req(self, method, path, **kw):
        return requests.request(method, self.url + path, headers=self.h, timeout=120, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, **kw):
        return self.req("POST", path, **kw)

    def ok(self, method, path, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def dataset(self, name, technique="high_quality"):
        return self.ok("POST", "/datasets", json={"name": name,
                                                  "indexing_technique": technique})["id"]

    def upload(self, ds, path, data=None, name=None):
        import json
        with open(path, "rb") as f:
            files = {"file": (name or os.path.basename(path), f)}
            form = {"data": json.dumps(data or {"indexing_technique": "high_quality",
                                                "process_rule": {"mode": "automatic"}})}
            return self.ok("POST", f"/datasets/{ds}/document/create-by-file", data=form,
                           files=files)

    def text(self, ds, name, text, rule=None):
        return self.ok("POST", f"/datasets/{ds}/document/create-by-text",
                       json={"name": name, "text": text, "indexing_technique": "high_quality",
                             "process_rule": rule or {"mode": "automatic"}})

    def wait(self, ds, batch, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.ok("GET", f"/datasets/{ds}/documents/{batch}/indexing-status")["data"]
            if all(d["indexing_status"] in ("completed", "error") for d in st):
                return st
            time.sleep(0.1)
        raise AssertionError(f"batch {batch} not done: {st}")

    def segments(self, ds, doc):
        out, page = [], 1
        while True:
            r = self.ok("GET", f"/datasets/{ds}/documents/{doc}/segments",
                        params={"page": page, "limit": 100})
            out += r["data"]
            if not r["has_more"]:
                return out
            page += 1

    def retrieve(self, ds, query, **rm):
        return self.ok("POST", f"/datasets/{ds}/retrieve",
                       json={"query": query, "retrieval_model": rm})["records"]


@pytest.fixture(scope="module")
def storage():
    return tempfile.mkdtemp(prefix="octo-kb-")


@pytest.fixture(scope="module")
def server(storage):
    s = Server([], kb_config(storage), start_timeout=60)
    yield s
    s.assert_clean_exit()


@pytest.fixture(scope="module")
def kb(server):
    return KB(server.url, KEY_A)


@pytest.fixture(scope="module")
def kb_b(server):
    return KB(server.url, KEY_B)
