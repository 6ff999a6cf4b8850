# SPDX-License-Identifier: Apache-2.0
"""Request framing against the real binary over raw sockets (RFC 9112
section 6.3): a request is framed one way only, or it is refused with 400
and the connection closed, so that octo and a proxy in front of it can never
disagree on where a request ends (request smuggling)."""
import os
import socket

import pytest

SRC = os.environ.get("OCTO_SRC", os.path.join(os.path.dirname(__file__), "../.."))
CHAT_MODEL = os.path.join(SRC, "tests", "fixtures", "qwen3-chat")
CONFIG = f"""
server:
  host: 127.0.0.1
  limits:
    max_body_bytes: 65536
models:
  - name: chat
    path: {CHAT_MODEL}
    task: generate
    max_model_len: 512
"""
TOKENIZE = b'{"model": "chat", "prompt": "hello"}'


@pytest.fixture(scope="module")
def server():
    from octo_server import Server
    s = Server([], CONFIG)
    yield s
    s.assert_clean_exit()


def exchange(server, raw, timeout=5):
    """Sends raw bytes, then reads until the server closes (or timeout)."""
    c = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    c.sendall(raw)
    out = b""
    closed = False
    try:
        while True:
            b = c.recv(65536)
            if not b:
                closed = True
                break
            out += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    c.close()
    return out, closed


def post(extra_headers, body, path=b"/tokenize"):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
            extra_headers + b"\r\n" + body)


SMUGGLED = b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("headers", [
    b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(TOKENIZE), len(TOKENIZE) + 5),
    b"Content-Length: %d, %d\r\n" % (len(TOKENIZE), len(TOKENIZE) - 1),
    b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(TOKENIZE),
    b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(TOKENIZE),
    b"Content-Length: +%d\r\n" % len(TOKENIZE),
    b"Content-Length: 0x10\r\n",
    b"Content-Length: 99999999999999999999999\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked, identity\r\n",
    b"Content-Length : %d\r\n" % len(TOKENIZE),       # space before the colon
    b"X-A: b\r\n c\r\nContent-Length: %d\r\n" % len(TOKENIZE),  # obsolete folding
    b"X-A: b\rContent-Length: 5\r\n",                   # bare CR
    b"X-A: b\x00c\r\nContent-Length: %d\r\n" % len(TOKENIZE),  # NUL in a value
    b"Host: y\r\nContent-Length: %d\r\n" % len(TOKENIZE),  # a second Host
])
def test_ambiguous_framing_is_400_and_closed(server, headers):
    resp, closed = exchange(server, post(headers, TOKENIZE) + SMUGGLED)
    assert resp.startswith(b"HTTP/1.1 400"), resp
    assert b"Connection: close" in resp
    assert closed
    assert resp.count(b"HTTP/1.1") == 1  # the smuggled request was not answered
    assert b'"error"' in resp


def test_unknown_transfer_coding_is_501(server):
    resp, closed = exchange(server, post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"))
    assert resp.startswith(b"HTTP/1.1 501") and closed


def test_transfer_encoding_in_http10_is_400(server):
    raw = (b"POST /tokenize HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n")
    resp, closed = exchange(server, raw)
    assert resp.startswith(b"HTTP/1.1 400") and closed


def chunked(body, sizes):
    out, i = b"", 0
    for n in sizes:
        out += b"%x\r\n" % n + body[i:i + n] + b"\r\n"
        i += n
    return out + b"0\r\n\r\n"


def test_chunked_body_is_decoded(server):
    body = chunked(TOKENIZE, [5, 10, len(TOKENIZE) - 15])
    raw = post(b"Transfer-Encoding: chunked\r\nConnection: close\r\n", body)
    resp, _ = exchange(server, raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp
    assert b'"tokens"' in resp
    # with extensions and trailers
    body = (b"%x;name=value\r\n" % len(TOKENIZE) + TOKENIZE + b"\r\n0\r\nX-Trailer: t\r\n\r\n")
    resp, _ = exchange(server, post(b"Transfer-Encoding: chunked\r\nConnection: close\r\n", body))
    assert resp.startswith(b"HTTP/1.1 200"), resp


@pytest.mark.parametrize("body", [
    b"%x\n" % len(TOKENIZE) + TOKENIZE + b"\r\n0\r\n\r\n",       # bare LF after the size
    b"%x\r\n" % len(TOKENIZE) + TOKENIZE + b"XX0\r\n\r\n",       # data longer than the size
    b"zz\r\n" + TOKENIZE + b"\r\n0\r\n\r\n",                     # not hex
    b"-1\r\n" + TOKENIZE + b"\r\n0\r\n\r\n",
    b"ffffffffffffffffff\r\n" + TOKENIZE + b"\r\n0\r\n\r\n",      # overflow
])
def test_malformed_chunks_are_400(server, body):
    resp, closed = exchange(server, post(b"Transfer-Encoding: chunked\r\n", body) + SMUGGLED)
    assert resp.startswith(b"HTTP/1.1 400"), resp
    assert closed and resp.count(b"HTTP/1.1") == 1


def test_chunked_body_over_the_limit_is_413(server):
    big = chunked(b"x" * 70000, [35000, 35000])
    resp, closed = exchange(server, post(b"Transfer-Encoding: chunked\r\n", big))
    assert resp.startswith(b"HTTP/1.1 413") and closed


def test_equal_duplicate_content_length_is_accepted(server):
    n = len(TOKENIZE)
    raw = post(b"Content-Length: %d\r\nContent-Length: %d\r\nConnection: close\r\n" % (n, n),
               TOKENIZE)
    resp, _ = exchange(server, raw)
    assert resp.startswith(b"HTTP/1.1 200"), resp


def test_pipelined_requests_are_answered_in_order(server):
    n = len(TOKENIZE)
    raw = (post(b"Content-Length: %d\r\n" % n, TOKENIZE) + b"GET /version HTTP/1.1\r\nHost: x\r\n"
           b"Connection: close\r\n\r\n")
    resp, closed = exchange(server, raw)
    first = resp.find(b"HTTP/1.1 200")
    second = resp.find(b"HTTP/1.1 200", first + 1)
    assert first == 0 and second > 0 and closed
    assert b'"tokens"' in resp[:second] and b'"version"' in resp[second:]


@pytest.mark.parametrize("line,status", [
    (b"GET /health HTTP/2.0\r\n", b"505"),
    (b"GET /health HTTP/1.1 extra\r\n", b"400"),
    (b"GET health HTTP/1.1\r\n", b"400"),
    (b"G(T /health HTTP/1.1\r\n", b"400"),
    (b"GET /he%00alth HTTP/1.1\r\n", b"400"),
    (b"GET /health HTTX/1.1\r\n", b"400"),
])
def test_malformed_request_lines(server, line, status):
    resp, closed = exchange(server, line + b"Host: x\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 " + status), resp
    assert closed


def test_expect_100_continue(server):
    c = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    c.sendall(b"POST /tokenize HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(TOKENIZE))
    assert c.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    c.sendall(TOKENIZE)
    out = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        out += b
    c.close()
    assert out.startswith(b"HTTP/1.1 200"), out


def test_http10_and_head(server):
    resp, closed = exchange(server, b"GET /version HTTP/1.0\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 200") and closed and b'"version"' in resp
    resp, closed = exchange(server, b"HEAD /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 200") and resp.endswith(b"\r\n\r\n")
    assert b"Content-Length: " in resp and b"Content-Length: 0" not in resp
