# SPDX-License-Identifier: Apache-2.0
"""recall@5 of the labelled question set (tests/rag/questions.json, written
by hand from the PDFs of tests/data/pdf) for semantic, full-text and
hybrid search, through the Knowledge API. A record is a hit when it comes
from the labelled document and contains the labelled phrase.

With the bundled tiny embedding model (random weights, 64 dimensions)
semantic recall means nothing; it is reported, not asserted. Full-text
recall is asserted. OCTO_KB_EMBED_MODEL=DIR (and OCTO_TEST_DEVICE=N) runs
the same set with a real embedding model, e.g. Qwen3-Embedding-0.6B.

The numbers go to stdout and to $OCTO_BUILD/rag_recall.json."""
import json
import os
import tempfile
import unicodedata

from conftest import HERE, KEY_A, PDF_DIR, PDFS, KB, Server, kb_config


def norm(s):
    return " ".join(unicodedata.normalize("NFKC", s).split())


def config(storage):
    model = os.environ.get("OCTO_KB_EMBED_MODEL")
    if not model:
        return kb_config(storage)
    dev = os.environ.get("OCTO_TEST_DEVICE")
    extra = f"    devices: [{int(dev)}]\n    gpu_memory_utilization: 0.3\n" if dev else ""
    return kb_config(storage, embed=model, embed_extra=extra)


def test_recall_at_5():
    qs = json.load(open(os.path.join(HERE, "questions.json")))["questions"]
    s = Server([], config(tempfile.mkdtemp(prefix="octo-kb-recall-")), start_timeout=300)
    kb = KB(s.url, KEY_A)
    ds = kb.dataset("recall")
    for name in PDFS:
        st = kb.wait(ds, kb.upload(ds, os.path.join(PDF_DIR, name))["batch"])
        assert st[0]["indexing_status"] == "completed", st
    result = {"model": os.environ.get("OCTO_KB_EMBED_MODEL", "tests/fixtures/qwen3-embed"),
              "questions": len(qs)}
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        hits = 0
        for q in qs:
            rec = kb.retrieve(ds, q["q"], search_method=method, top_k=5)
            assert len(rec) == 5
            hits += any(r["segment"]["document"]["name"] == q["doc"] and
                        norm(q["contains"]) in norm(r["segment"]["content"]) for r in rec)
        result[method] = hits / len(qs)
    print("recall@5:", json.dumps(result))
    out = os.environ.get("OCTO_BUILD")
    if out:
        with open(os.path.join(out, "rag_recall.json"), "w") as f:
            json.dump(result, f)
    assert result["full_text_search"] >= 0.75, result
    if not os.environ.get("OCTO_KB_EMBED_MODEL"):
        assert result["hybrid_search"] >= 0.5, result
    s.assert_clean_exit()
