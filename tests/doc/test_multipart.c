/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_multipart — the multipart/form-data parser that /file_parse uses:
 * fields and files with names, file names, content types and binary bytes
 * (CR, LF and NUL inside data), a quoted boundary, escapes in quoted
 * names, and clear errors for a missing boundary, truncation, headers
 * without a name and too many parts. (The black-box test against requests'
 * encoder is tests/doc/test_file_parse.py.)
 */
#include <string.h>

#include "http/http.h"
#include "octo_test.h"

#define CT "multipart/form-data; boundary=XyZ"

static const char k_body[] =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"backend\"\r\n"
    "\r\n"
    "pipeline\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"files\"; filename=\"a \\\"b\\\".pdf\"\r\n"
    "Content-Type: application/pdf\r\n"
    "\r\n"
    "%PDF\r\n\0--Xy\r\n"
    "--XyZ\r\n"
    "content-disposition: form-data; name=files; filename=x.png\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n";

static void test_parts(void)
{
    octo_http_form *f = NULL;
    char err[128];
    CHECK_EQ_INT(octo_http_form_parse(CT, k_body, sizeof k_body - 1, 16, &f, err, sizeof err),
                 OCTO_OK);
    if (!f) return;
    CHECK_EQ_INT((int)octo_http_form_count(f), 3);
    const octo_http_part *p = octo_http_form_get(f, "backend");
    CHECK(p && p->len == 8 && !memcmp(p->data, "pipeline", 8) && !p->filename);
    p = octo_http_form_part(f, 1);
    CHECK_EQ_STR(p->name, "files");
    CHECK_EQ_STR(p->filename, "a \"b\".pdf");
    CHECK_EQ_STR(p->content_type, "application/pdf");
    CHECK(p->len == 11 && !memcmp(p->data, "%PDF\r\n\0--Xy", 11));
    p = octo_http_form_part(f, 2);
    CHECK_EQ_STR(p->filename, "x.png");
    CHECK(p->content_type == NULL && p->len == 0);
    CHECK(octo_http_form_part(f, 3) == NULL);
    octo_http_form_free(f);
    octo_http_form_free(NULL);
}

static void test_quoted_boundary(void)
{
    const char body[] = "--a b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--a b--";
    octo_http_form *f = NULL;
    char err[128];
    CHECK_EQ_INT(octo_http_form_parse("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"",
                                      body, sizeof body - 1, 4, &f, err, sizeof err),
                 OCTO_OK);
    if (f) CHECK(octo_http_form_get(f, "k")->len == 1);
    octo_http_form_free(f);
}

static void test_errors(void)
{
    octo_http_form *f = NULL;
    char err[128];
    CHECK_EQ_INT(octo_http_form_parse("application/json", "{}", 2, 4, &f, err, sizeof err),
                 OCTO_E_PARSE);
    CHECK(strstr(err, "multipart") != NULL);
    CHECK_EQ_INT(octo_http_form_parse("multipart/form-data", "x", 1, 4, &f, err, sizeof err),
                 OCTO_E_PARSE);
    CHECK(strstr(err, "boundary") != NULL);
    /* Truncated: no closing delimiter after the data. */
    const char trunc[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc";
    CHECK_EQ_INT(octo_http_form_parse(CT, trunc, sizeof trunc - 1, 4, &f, err, sizeof err),
                 OCTO_E_PARSE);
    CHECK(strstr(err, "truncated") != NULL);
    const char noname[] = "--XyZ\r\nContent-Disposition: form-data\r\n\r\na\r\n--XyZ--";
    CHECK_EQ_INT(octo_http_form_parse(CT, noname, sizeof noname - 1, 4, &f, err, sizeof err),
                 OCTO_E_PARSE);
    CHECK_EQ_INT(octo_http_form_parse(CT, k_body, sizeof k_body - 1, 2, &f, err, sizeof err),
                 OCTO_E_TOO_LARGE);
    CHECK(f == NULL);
    /* Every prefix of a valid body: an error or a parse, never a crash. */
    for (size_t n = 0; n < sizeof k_body - 1; n++) {
        octo_err rc = octo_http_form_parse(CT, k_body, n, 16, &f, err, sizeof err);
        CHECK(rc == OCTO_OK || rc == OCTO_E_PARSE);
        octo_http_form_free(f);
        f = NULL;
    }
}

TEST_MAIN(TEST(test_parts), TEST(test_quoted_boundary), TEST(test_errors))
