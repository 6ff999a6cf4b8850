# SPDX-License-Identifier: Apache-2.0
"""Ingestion speed of the knowledge layer: the four PDFs of tests/data/pdf
(19 pages) uploaded three times to one dataset of a real `octo serve`
with the tiny embedding fixture; pages/minute from the first upload to the
last completed document. Run from the repository root with the test
virtualenv: OCTO_BIN=build/octo .venv/bin/python bench/kb_ingest_bench.py"""
import os, sys, time, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "rag"))
from conftest import KB, KEY_A, PDF_DIR, PDFS, Server, kb_config
s = Server([], kb_config(tempfile.mkdtemp()), start_timeout=60)
kb = KB(s.url, KEY_A)
ds = kb.dataset("bench")
t0 = time.time()
batches = [kb.upload(ds, os.path.join(PDF_DIR, n), name=f"{r}-{n}")["batch"] for r in range(3) for n in PDFS]
segs = 0
for b in batches:
    st = kb.wait(ds, b)[0]
    assert st["indexing_status"] == "completed"
    segs += st["total_segments"]
dt = time.time() - t0
pages = 3 * 19
print(f"{pages} pages, {segs} segments in {dt:.2f} s: {pages / dt * 60:.0f} pages/min, {segs / dt:.0f} segments/s")
s.stop()
