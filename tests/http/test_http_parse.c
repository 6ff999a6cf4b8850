/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http_parse — the request-head parser and the chunked decoder of
 * http/ (http_parse.c): framing rules of RFC 9112 section 6.3, strict
 * field syntax, and a chunked body decoded the same whatever the split.
 */
#include "http/http_int.h"
#include "octo_test.h"

static int parse(const char *raw, http_head *h, const char **why)
{
    size_t n = strlen(raw);
    size_t end = octo_http_head_end(raw, n);
    if (!end) return -1;
    return octo_http_head_parse(raw, end, h, why);
}

static int status_of(const char *raw)
{
    http_head h;
    const char *why;
    int st = parse(raw, &h, &why);
    octo_http_head_deinit(&h);
    return st;
}

static void test_head_end(void)
{
    CHECK_EQ_INT(octo_http_head_end("GET / HTTP/1.1\r\nA: b\r\n\r\nrest", 28), 24);
    CHECK_EQ_INT(octo_http_head_end("GET / HTTP/1.1\nA: b\n\nrest", 25), 21);
    CHECK_EQ_INT(octo_http_head_end("GET / HTTP/1.1\r\nA: b\r\n", 22), 0);
    CHECK_EQ_INT(octo_http_head_end("\r\nGET / HTTP/1.1\r\n\r\n", 20), 20);
}

static void test_good_request(void)
{
    http_head h;
    const char *why;
    int st = parse("POST /v1/a%20b?x=1&y=%41 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                   "X-Spaces:   v  \r\n\r\n",
                   &h, &why);
    CHECK_EQ_INT(st, 0);
    CHECK_EQ_STR(h.method, "POST");
    CHECK_EQ_STR(h.path, "/v1/a b");
    CHECK_EQ_STR(h.query, "x=1&y=%41");
    CHECK_EQ_INT(h.content_length, 5);
    CHECK(!h.chunked && h.keep_alive);
    CHECK_EQ_STR(octo_http_head_get(&h, "x-spaces"), "v");
    octo_http_head_deinit(&h);
    st = parse("GET http://example.com/health HTTP/1.0\r\n\r\n", &h, &why);
    CHECK_EQ_INT(st, 0);
    CHECK_EQ_STR(h.path, "/health");
    CHECK(!h.keep_alive);
    octo_http_head_deinit(&h);
    st = parse("GET https://example.com HTTP/1.1\r\n\r\n", &h, &why); /* found by fuzz_http */
    CHECK_EQ_INT(st, 0);
    CHECK_EQ_STR(h.path, "/");
    CHECK_EQ_STR(h.query, "");
    octo_http_head_deinit(&h);
    st = parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n",
               &h, &why);
    CHECK_EQ_INT(st, 0);
    CHECK(h.chunked && !h.keep_alive && h.content_length == -1);
    octo_http_head_deinit(&h);
}

static void test_framing_rules(void)
{
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), 0);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"), 0);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

static void test_field_syntax(void)
{
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nA : b\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\n: b\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
    CHECK_EQ_INT(status_of("GET  / HTTP/1.1\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET /%zz HTTP/1.1\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET /%00 HTTP/1.1\r\n\r\n"), 400);
    http_head h;
    const char *why;
    const char nul[] = "GET / HTTP/1.1\r\nAuthorization: Bearer k\0junk\r\n\r\n";
    CHECK_EQ_INT(octo_http_head_parse(nul, sizeof nul - 1, &h, &why), 400);
    octo_http_head_deinit(&h);
}

/* Decodes body in pieces of `step` bytes; the result and status. */
static int decode(const char *body, size_t n, size_t step, octo_buf *out, size_t *consumed)
{
    http_chunked c = {0};
    size_t off = 0;
    int rc = 0;
    while (off < n && rc == 0) {
        size_t take = n - off < step ? n - off : step;
        size_t used = 0;
        rc = octo_http_chunked_feed(&c, body + off, take, &used, out);
        if (rc < 0) break;
        off += used;
        if (rc == 0 && used < take) return -100; /* must take all when not done */
    }
    *consumed = off;
    return rc;
}

static void test_chunked(void)
{
    const char body[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nT: x\r\n\r\nNEXT";
    size_t n = sizeof body - 1;
    for (size_t step = 1; step <= n; step++) {
        octo_buf out;
        octo_buf_init(&out, 1024);
        size_t used = 0;
        int rc = decode(body, n, step, &out, &used);
        CHECK_EQ_INT(rc, 1);
        CHECK_EQ_STR(out.data ? out.data : "", "hello world");
        CHECK_EQ_INT(used, n - 4); /* "NEXT" is the next request */
        octo_buf_deinit(&out);
    }
    static const char *bad[] = {
        "5\nhello\r\n0\r\n\r\n", "5\r\nhelloX\r\n0\r\n\r\n", "g\r\n", "\r\n",
        "1234567890abcdef0\r\n", "0\r\n\n", "5\r\nhello\n0\r\n\r\n", "0\r\n bad\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        octo_buf out;
        octo_buf_init(&out, 1024);
        size_t used;
        CHECK_EQ_INT(decode(bad[i], strlen(bad[i]), 64, &out, &used), OCTO_E_PARSE);
        octo_buf_deinit(&out);
    }
    octo_buf out;
    octo_buf_init(&out, 4);
    size_t used;
    CHECK_EQ_INT(decode("5\r\nhello\r\n0\r\n\r\n", 15, 64, &out, &used), OCTO_E_TOO_LARGE);
    octo_buf_deinit(&out);
}

TEST_MAIN(TEST(test_head_end), TEST(test_good_request), TEST(test_framing_rules),
          TEST(test_field_syntax), TEST(test_chunked))
