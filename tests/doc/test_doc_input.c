/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_doc_input — bad input to octo_doc_parse gets a clear error code and
 * message, never a crash: empty, not a document, truncated and corrupt
 * PDFs (cut from a real one), an encrypted PDF (made here with MuPDF's own
 * writer, AES-256 with a user password), an image header claiming too many
 * pixels, bad page ranges and page limits, a per-page time limit; and the
 * parse of a real page does not leak (the counting allocator's live bytes
 * return to where they were).
 */
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"
#include "octo_test.h"

static char *shared_file(const char *rel, size_t *len)
{
    const char *root = getenv("OCTO_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root ? root : OCTO_TEST_DATA_DIR, rel);
    char *d = NULL;
    if (octo_file_read(path, 64u << 20, &d, len)) return NULL;
    return d;
}

static octo_err parse(const void *d, size_t n, const octo_doc_opts *o, char *err, size_t es)
{
    octo_doc_result *r = NULL;
    octo_err rc = octo_doc_parse(d, n, "x.pdf", o, &r, err, es);
    if (!rc) CHECK(r != NULL);
    octo_doc_result_free(r);
    return rc;
}

static void test_empty_and_garbage(void)
{
    char err[256];
    CHECK_EQ_INT(parse("", 0, NULL, err, sizeof err), OCTO_E_PARSE);
    CHECK(strstr(err, "empty") != NULL);
    const char junk[] = "hello, this is not a PDF at all";
    octo_doc_result *r = NULL;
    CHECK_EQ_INT(octo_doc_parse(junk, sizeof junk, "notes.txt", NULL, &r, err, sizeof err),
                 OCTO_E_PARSE);
    CHECK(strstr(err, "not a PDF") != NULL);
    CHECK(r == NULL);
    /* A PDF header and nothing usable after it. */
    const char hdr[] = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    CHECK(parse(hdr, sizeof hdr - 1, NULL, err, sizeof err) != OCTO_OK);
    CHECK(err[0] != 0);
}

static void test_truncated_and_corrupt(void)
{
    size_t n = 0;
    char *pdf = shared_file("pdf/mineru_demo3.pdf", &n);
    CHECK(pdf != NULL);
    if (!pdf) return;
    char err[256];
    /* Cut at several places: always an error or a parse, never a crash. */
    size_t cuts[] = {16, 1000, n / 4, n / 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        octo_err rc = parse(pdf, cuts[i], NULL, err, sizeof err);
        CHECK(rc == OCTO_E_PARSE);
        if (rc) CHECK(err[0] != 0);
    }
    /* Overwrite the middle with garbage. */
    char *bad = malloc(n);
    memcpy(bad, pdf, n);
    for (size_t i = n / 3; i < n / 3 + 4096 && i < n; i++) bad[i] = (char)(i * 7919);
    octo_doc_opts o;
    octo_doc_opts_init(&o);
    o.method = OCTO_DOC_METHOD_TXT;
    octo_err rc = parse(bad, n, &o, err, sizeof err);
    CHECK(rc == OCTO_OK || rc == OCTO_E_PARSE);
    free(bad);
    octo_free(pdf);
}

static unsigned char *make_encrypted(size_t *len)
{
    fz_context *ctx = fz_new_context(NULL, NULL, FZ_STORE_DEFAULT);
    unsigned char *out = NULL;
    pdf_document *doc = NULL;
    fz_buffer *buf = NULL, *contents = NULL;
    fz_output *o = NULL;
    fz_try(ctx)
    {
        doc = pdf_create_document(ctx);
        contents = fz_new_buffer_from_copied_data(ctx, (const unsigned char *)"", 0);
        pdf_obj *page = pdf_add_page(ctx, doc, fz_make_rect(0, 0, 595, 842), 0, NULL, contents);
        pdf_insert_page(ctx, doc, -1, page);
        pdf_drop_obj(ctx, page);
        pdf_write_options opts = pdf_default_write_options;
        opts.do_encrypt = PDF_ENCRYPT_AES_256;
        opts.permissions = -1;
        snprintf(opts.upwd_utf8, sizeof opts.upwd_utf8, "secret");
        snprintf(opts.opwd_utf8, sizeof opts.opwd_utf8, "owner");
        buf = fz_new_buffer(ctx, 4096);
        o = fz_new_output_with_buffer(ctx, buf);
        pdf_write_document(ctx, doc, o, &opts);
        fz_close_output(ctx, o);
        unsigned char *d;
        *len = fz_buffer_storage(ctx, buf, &d);
        out = malloc(*len);
        memcpy(out, d, *len);
    }
    fz_always(ctx)
    {
        fz_drop_output(ctx, o);
        fz_drop_buffer(ctx, buf);
        fz_drop_buffer(ctx, contents);
        pdf_drop_document(ctx, doc);
    }
    fz_catch(ctx) out = NULL;
    fz_drop_context(ctx);
    return out;
}

static void test_encrypted(void)
{
    size_t n = 0;
    unsigned char *pdf = make_encrypted(&n);
    CHECK(pdf != NULL);
    if (!pdf) return;
    char err[256];
    CHECK_EQ_INT(parse(pdf, n, NULL, err, sizeof err), OCTO_E_AUTH);
    CHECK(strstr(err, "encrypted") != NULL);
    free(pdf);
}

static void test_huge_image(void)
{
    /* A PNG header claiming 60000 x 60000 pixels (CRC not checked by the
     * header probe; decoding never starts). */
    unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
                           'D', 'R', 0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60, 8, 0, 0, 0, 0,
                           0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42,
                           0x60, 0x82};
    char err[256];
    octo_doc_result *r = NULL;
    octo_err rc = octo_doc_parse(png, sizeof png, "big.png", NULL, &r, err, sizeof err);
    CHECK(rc == OCTO_E_TOO_LARGE || rc == OCTO_E_PARSE);
    CHECK(r == NULL);
    CHECK(err[0] != 0);
}

static void test_ranges_and_limits(void)
{
    size_t n = 0;
    char *pdf = shared_file("pdf/mineru_demo1.pdf", &n);
    CHECK(pdf != NULL);
    if (!pdf) return;
    char err[256];
    octo_doc_opts o;
    octo_doc_opts_init(&o);
    o.method = OCTO_DOC_METHOD_TXT;
    o.start_page = 50;
    CHECK_EQ_INT(parse(pdf, n, &o, err, sizeof err), OCTO_E_INVALID);
    CHECK(strstr(err, "13 pages") != NULL);
    o.start_page = 0;
    o.max_pages = 2;
    CHECK_EQ_INT(parse(pdf, n, &o, err, sizeof err), OCTO_E_TOO_LARGE);
    /* A page range within the limit parses, and frees all it took. */
    size_t live = octo_alloc_live_bytes();
    o.start_page = 1;
    o.end_page = 2;
    octo_doc_result *r = NULL;
    CHECK_EQ_INT(octo_doc_parse(pdf, n, "demo1.pdf", &o, &r, err, sizeof err), OCTO_OK);
    if (r) {
        CHECK_EQ_INT(octo_doc_result_pages(r), 2);
        CHECK(strstr(octo_doc_result_markdown(r), "1. Introduction") != NULL);
        CHECK(strstr(octo_doc_result_content_list(r), "\"page_idx\": 1") != NULL);
        CHECK(octo_doc_result_image_count(r) >= 1);
    }
    octo_doc_result_free(r);
    CHECK_EQ_INT((long)octo_alloc_live_bytes(), (long)live);
    /* A page time limit far too small for the work gives a timeout. */
    o.page_timeout_s = 1e-9;
    CHECK_EQ_INT(parse(pdf, n, &o, err, sizeof err), OCTO_E_TIMEOUT);
    CHECK(strstr(err, "time limit") != NULL);
    octo_free(pdf);
}

TEST_MAIN(TEST(test_empty_and_garbage), TEST(test_truncated_and_corrupt), TEST(test_encrypted),
          TEST(test_huge_image), TEST(test_ranges_and_limits))
