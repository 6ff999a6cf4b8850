# SPDX-License-Identifier: Apache-2.0
"""POST /file_parse against the real `octo serve` with no model configured,
the form encoded by `requests` (the same multipart encoder MinerU's own
clients use): MinerU's response shape, several files, page ranges, content
list and images as data URIs, parse_method, and 400s that name the problem
for empty, truncated and non-document files and for bad fields."""
import base64
import json
import os
import sys

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../http"))
from conftest import serve  # noqa: E402,F401  (the fixture)

DATA = os.environ.get("OCTO_TEST_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
NO_MODELS = "server:\n  host: 127.0.0.1\n"


def pdf(name):
    with open(os.path.join(DATA, "pdf", name), "rb") as f:
        return f.read()


def test_file_parse_shape_and_outputs(serve):
    s = serve(config=NO_MODELS)
    files = [("files", ("mineru_demo1.pdf", pdf("mineru_demo1.pdf"), "application/pdf")),
             ("files", ("report.pdf", pdf("research_report_1f978cd8.pdf"), "application/pdf"))]
    data = {"backend": "pipeline", "parse_method": "txt", "lang_list": "en",
            "return_md": "true", "return_content_list": "true", "return_images": "true",
            "return_middle_json": "true", "start_page_id": "1", "end_page_id": "2"}
    r = requests.post(s.url + "/file_parse", files=files, data=data, timeout=120)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["backend"] == "pipeline" and j["version"]
    assert set(j["results"]) == {"mineru_demo1", "report"}
    res = j["results"]["mineru_demo1"]
    assert "# 1. Introduction" in res["md_content"]
    cl = json.loads(res["content_list"])
    assert {i["page_idx"] for i in cl} == {1, 2}
    mid = json.loads(res["middle_json"])
    assert [p["page_idx"] for p in mid["pdf_info"]] == [1, 2]
    imgs = res["images"]
    assert imgs
    for name, uri in imgs.items():
        assert uri.startswith("data:image/jpeg;base64,")
        assert base64.b64decode(uri.split(",", 1)[1])[:3] == b"\xff\xd8\xff"
        assert f"images/{name}" in res["md_content"]
    # Defaults: only the Markdown comes back.
    r = requests.post(s.url + "/file_parse", files=files[:1], timeout=120)
    assert r.status_code == 200
    assert set(r.json()["results"]["mineru_demo1"]) == {"md_content"}
    s.assert_clean_exit()


def test_file_parse_image_ocr(serve):
    s = serve(config=NO_MODELS)
    with open(os.path.join(DATA, "images/receipt_en_auntie_annes.jpg"), "rb") as f:
        img = f.read()
    r = requests.post(s.url + "/file_parse", timeout=120,
                      files=[("files", ("receipt.jpg", img, "image/jpeg"))],
                      data={"lang_list": "en", "parse_method": "ocr"})
    assert r.status_code == 200, r.text
    assert "GRAND TOTAL" in r.json()["results"]["receipt"]["md_content"].upper()
    s.assert_clean_exit()


def test_file_parse_bad_input(serve):
    s = serve(config=NO_MODELS)
    u = s.url + "/file_parse"
    cases = [
        ([("files", ("empty.pdf", b"", "application/pdf"))], {}, "empty"),
        ([("files", ("cut.pdf", pdf("mineru_demo3.pdf")[:3000], "application/pdf"))], {},
         "corrupt or truncated"),
        ([("files", ("notes.txt", b"plain text", "text/plain"))], {}, "not a PDF"),
        ([("files", ("a.pdf", pdf("mineru_demo3.pdf"), "application/pdf"))],
         {"parse_method": "magic"}, "parse_method"),
        ([("files", ("a.pdf", pdf("mineru_demo3.pdf"), "application/pdf"))],
         {"backend": "vlm-http-client"}, "backend"),
        ([("files", ("a.pdf", pdf("mineru_demo3.pdf"), "application/pdf"))],
         {"start_page_id": "500"}, "outside the document"),
        ([("files", ("a.pdf", pdf("mineru_demo3.pdf"), "application/pdf"))],
         {"return_md": "perhaps"}, "bad value"),
        ([], {"backend": "pipeline"}, "multipart"),  # requests sends a urlencoded form
    ]
    for files, data, msg in cases:
        r = requests.post(u, files=files or None, data=data, timeout=60)
        assert r.status_code == 400, (msg, r.status_code, r.text)
        assert msg in r.json()["error"], (msg, r.text)
    r = requests.post(u, data=b"{}", headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 400 and "multipart" in r.json()["error"]
    # The server is still fine.
    assert requests.get(s.url + "/health", timeout=10).status_code == 200
    s.assert_clean_exit()


def test_file_parse_concurrent_requests_agree(serve):
    # Each request has its own MuPDF context: parallel parses give the same
    # Markdown as a lone one.
    import concurrent.futures
    s = serve(config=NO_MODELS)
    files = [("files", ("demo3.pdf", pdf("mineru_demo3.pdf"), "application/pdf"))]

    def one(_):
        r = requests.post(s.url + "/file_parse", files=files, data={"parse_method": "txt"},
                          timeout=120)
        assert r.status_code == 200, r.text
        return r.json()["results"]["demo3"]["md_content"]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(one, range(4)))
    assert len(set(outs)) == 1 and "TABLEFORMER" in outs[0]
    s.assert_clean_exit()
