# SPDX-License-Identifier: Apache-2.0
"""`octo kb` against a running server: create, list, ingest the PDF folder
(with its progress bar), query; the exit codes and messages of mistakes.
Oracle: the Knowledge API itself (documents completed, the same records
as /retrieve)."""
import os
import subprocess

from conftest import KEY_A, PDF_DIR, PDF_SET_DIR, PDFS, KB, OCTO_BIN_PATH


def kb_cli(server, *args, key=KEY_A):
    cmd = [OCTO_BIN_PATH, "kb", "--url", server.url]
    if key:
        cmd += ["--key", key]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=600)


def test_create_ingest_query(server):
    r = kb_cli(server, "create", "cli-kb")
    assert r.returncode == 0, r.stderr
    ds = r.stdout.strip()
    r = kb_cli(server, "list")
    assert r.returncode == 0 and ds in r.stdout and "cli-kb" in r.stdout
    r = kb_cli(server, "ingest", ds, PDF_SET_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(PDFS)} documents, {len(PDFS)} completed, 0 failed" in r.stdout
    assert f"{len(PDFS)}/{len(PDFS)} documents" in r.stderr  # the progress bar's last state
    kb = KB(server.url, KEY_A)
    docs = kb.ok("GET", f"/datasets/{ds}/documents")["data"]
    assert sorted(d["name"] for d in docs) == sorted(PDFS)
    assert all(d["indexing_status"] == "completed" for d in docs)
    r = kb_cli(server, "query", ds, "Winner-Takes-All", "--method", "full_text", "--top-k", "2")
    assert r.returncode == 0, r.stderr
    want = kb.retrieve(ds, "Winner-Takes-All", search_method="full_text_search", top_k=2)
    lines = [x for x in r.stdout.splitlines() if x[:1].isdigit()]
    assert len(lines) == len(want)
    for line, rec in zip(lines, want):
        assert rec["segment"]["document"]["name"] in line
        assert f"{rec['score']:.4f}" in line


def test_mistakes(server, tmp_path):
    assert kb_cli(server, "list", key=None).returncode == 2
    r = kb_cli(server, "list", key="wrong")
    assert r.returncode == 1 and "HTTP 401" in r.stderr and "Access token is invalid" in r.stderr
    assert kb_cli(server, "frobnicate").returncode == 2
    assert kb_cli(server, "query", "x").returncode == 2
    assert kb_cli(server, "query", "x", "y", "--method", "magic").returncode == 2
    (tmp_path / "a.docx").write_bytes(b"PK")
    r = kb_cli(server, "ingest", "nope", str(tmp_path))
    assert r.returncode == 1 and "no supported file" in r.stderr
    r = kb_cli(server, "ingest", "nope", PDF_DIR)
    assert r.returncode == 1 and "HTTP 404" in r.stderr
