# SPDX-License-Identifier: Apache-2.0
"""Crash safety of ingestion: several documents (real PDFs and long texts)
are uploaded, the server is killed with SIGKILL while they are being
indexed, and a new server on the same storage finishes them. Oracle: the
same files ingested by an undisturbed server, in another storage folder:
every document ends completed exactly once, with exactly the same
segments (contents and positions), none lost, duplicated or half-indexed,
and retrieval sees each of them once."""
import os
import signal
import tempfile
import time

from conftest import KEY_A, PDF_DIR, PDFS, KB, Server, kb_config


def texts():
    return {f"long{i}.txt": "\n".join(f"Document {i} paragraph {k}: the catchment number {k} "
                                      f"drains {k * 3} hectares of pasture and pine {i}."
                                      for k in range(400)) for i in range(4)}


def upload_all(kb, ds):
    batches = {}
    for name in PDFS:
        batches[name] = kb.upload(ds, os.path.join(PDF_DIR, name))["batch"]
    for name, t in texts().items():
        batches[name] = kb.text(ds, name, t)["batch"]
    return batches


def snapshot(kb, ds):
    """{document name: [(position, content)]} of a finished dataset."""
    docs = kb.ok("GET", f"/datasets/{ds}/documents", params={"limit": 100})["data"]
    out = {}
    for d in docs:
        assert d["name"] not in out, f"document {d['name']} twice"
        out[d["name"]] = [(s["position"], s["content"]) for s in kb.segments(ds, d["id"])]
    return out


def wait_all(kb, ds, batches, timeout=600):
    for b in batches.values():
        for st in kb.wait(ds, b, timeout):
            assert st["indexing_status"] == "completed", st
            assert st["completed_segments"] == st["total_segments"] > 0, st


def test_kill9_during_ingestion():
    # the oracle: an undisturbed run
    ref_dir = tempfile.mkdtemp(prefix="octo-kb-ref-")
    ref = Server([], kb_config(ref_dir, embed_batch=1), start_timeout=60)
    kb = KB(ref.url, KEY_A)
    ds = kb.dataset("crash")
    batches = upload_all(kb, ds)
    wait_all(kb, ds, batches)
    want = snapshot(kb, ds)
    ref.assert_clean_exit()

    storage = tempfile.mkdtemp(prefix="octo-kb-crash-")
    kills = 0
    s = Server([], kb_config(storage, embed_batch=1), start_timeout=60)
    kb = KB(s.url, KEY_A)
    ds = kb.dataset("crash")
    batches = upload_all(kb, ds)
    # kill while a document is half indexed, twice
    for _ in range(2):
        deadline, seen = time.time() + 120, False
        while time.time() < deadline and not seen:
            st = [x for b in batches.values()
                  for x in kb.ok("GET", f"/datasets/{ds}/documents/{b}/indexing-status")["data"]]
            seen = any(x["indexing_status"] == "indexing" and
                       0 < x["completed_segments"] < x["total_segments"] for x in st)
        assert seen, "no document was caught half indexed"
        s.stop(sig=signal.SIGKILL)
        kills += 1
        s = Server([], kb_config(storage, embed_batch=1), start_timeout=60)
        kb = KB(s.url, KEY_A)
    assert kills == 2
    wait_all(kb, ds, batches)
    got = snapshot(kb, ds)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name
    # each segment is found once (no stale index rows)
    for name, segs in got.items():
        if not name.startswith("long"):
            continue
        i = name[4]
        rec = kb.retrieve(ds, f"Document {i} paragraph 17 catchment 17 pine {i}",
                          search_method="full_text_search", top_k=20)
        ids = [r["segment"]["id"] for r in rec]
        assert len(ids) == len(set(ids))
    s.assert_clean_exit()
