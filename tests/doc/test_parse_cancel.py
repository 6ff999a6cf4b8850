# SPDX-License-Identifier: Apache-2.0
"""Work stops when the client leaves: /file_parse requests abandoned mid-parse
(and while queued) stop burning CPU, measured as the server process's CPU
time from /proc; parses run in a bounded set of slots with a bounded queue
(503 with Retry-After when full); file stems that repeat or are not UTF-8
still get one result per file."""
import os
import socket
import sys
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../http"))
from conftest import SANITIZED, serve  # noqa: E402,F401  (the fixture)

TICK = os.sysconf("SC_CLK_TCK")


def make_pdf(pages, lines_per_page=40):
    """A text PDF of `pages` pages (Helvetica, no embedded font), made here
    so that the test needs no data file."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for p in range(pages):
        text = b"BT /F1 11 Tf 50 780 Td 14 TL " + b" ".join(
            b"(Page %d line %d: the quick brown fox jumps over the lazy dog 0123456789) '"
            % (p + 1, i) for i in range(lines_per_page)) + b" ET"
        objs.append(b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
        content = len(objs)
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content)
        kids.append(len(objs))
    objs[1] = (b"<< /Type /Pages /Count %d /Kids [" % pages +
               b" ".join(b"%d 0 R" % k for k in kids) + b"] >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def raw_request(url_port, files, data):
    req = requests.Request("POST", f"http://127.0.0.1:{url_port}/file_parse", files=files,
                           data=data).prepare()
    head = "POST /file_parse HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in req.headers.items()) + "\r\n"
    c = socket.create_connection(("127.0.0.1", url_port), timeout=10)
    c.sendall(head.encode() + req.body)
    return c


CONFIG = "server:\n  host: 127.0.0.1\n  limits:\n    parse_concurrency: 2\n    parse_queue: 2\n"


def test_abandoned_parses_stop_and_the_queue_is_bounded(serve):
    s = serve(config=CONFIG)
    doc = make_pdf(50, 8)
    files = [("files", ("long.pdf", doc, "application/pdf"))]
    data = {"parse_method": "ocr", "lang_list": "en"}
    # the cost of one OCR page, measured
    t0 = cpu_seconds(s.proc.pid)
    r = requests.post(s.url + "/file_parse", files=files,
                      data={**data, "start_page_id": "0", "end_page_id": "0"}, timeout=120)
    assert r.status_code == 200, r.text
    assert "quick brown fox" in r.json()["results"]["long"]["md_content"]
    per_page = cpu_seconds(s.proc.pid) - t0
    assert per_page > 0.05, per_page  # OCR of a page is real work
    # two parses run, two wait, the fifth is refused
    socks = [raw_request(s.port, files, data) for _ in range(4)]
    time.sleep(0.5)
    fifth = raw_request(s.port, files, data)
    fifth.settimeout(10)
    resp = fifth.recv(65536)
    fifth.close()
    assert resp.startswith(b"HTTP/1.1 503"), resp[:200]
    assert b"Retry-After: " in resp and b"parse queue is full" in resp
    time.sleep(1.0)  # the two running ones are well into their 50 pages
    for c in socks:
        c.close()
    t_leave = time.monotonic()
    c_leave = cpu_seconds(s.proc.pid)
    time.sleep(1.5)
    c_mid = cpu_seconds(s.proc.pid)
    time.sleep(3.0)
    c_end = cpu_seconds(s.proc.pid)
    after_leave = c_mid - c_leave
    idle = c_end - c_mid
    print(f"parse cancel: {per_page:.2f} CPU-s per OCR page; after 4 clients left: "
          f"{after_leave:.2f} CPU-s in the first 1.5 s, {idle:.2f} CPU-s in the next 3 s "
          f"(not cancelled, the two running parses alone would burn "
          f"~{2 * 48 * per_page:.0f} CPU-s)")
    # Not cancelled, the two running parses would burn about 2 CPU-s a second
    # (6 in this window). Sanitizer builds leave a little more behind (the
    # page in progress aborts at Tesseract's next cancel check).
    assert idle < (1.0 if SANITIZED else 0.3), idle
    assert after_leave < 1.5 + 4 * per_page, after_leave
    deadline = time.monotonic() + 5
    while s.log().count("cancelled while parsing") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.log().count("cancelled while parsing") >= 2, s.log()
    assert time.monotonic() - t_leave < 10
    # the slots are free again
    r = requests.post(s.url + "/file_parse", files=files,
                      data={**data, "start_page_id": "3", "end_page_id": "3"}, timeout=120)
    assert r.status_code == 200
    s.assert_clean_exit()


def test_every_file_gets_a_result(serve):
    s = serve(config=CONFIG)
    one, two = make_pdf(1, 3), make_pdf(2, 3)
    files = [("files", ("a/report.pdf", one, "application/pdf")),
             ("files", ("b/report.pdf", two, "application/pdf")),
             ("files", ("report.PDF", one, "application/pdf")),
             ("files", (b"caf\xe9-\xff.pdf".decode("latin-1"), one, "application/pdf"))]
    # requests encodes str file names as UTF-8; send raw bytes for the last one
    req = requests.Request("POST", s.url + "/file_parse", files=files,
                           data={"parse_method": "txt"}).prepare()
    body = req.body.replace("café-ÿ.pdf".encode("utf-8"), b"caf\xe9-\xff.pdf")
    assert body != req.body
    r = requests.post(s.url + "/file_parse", data=body,
                      headers={"Content-Type": req.headers["Content-Type"]}, timeout=60)
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 4, res.keys()
    assert {"report", "report_2", "report_3"} <= set(res)
    odd = [k for k in res if k.startswith("caf")]
    assert odd == ["caf\ufffd-\ufffd"], res.keys()
    assert "Page 2 line 0" in res["report_2"]["md_content"]
    s.assert_clean_exit()
