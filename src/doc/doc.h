/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc — PDF and image files to Markdown and a MinerU-style content list, on
 * the CPU: MuPDF gives characters with font, size and position (or
 * Tesseract gives words for pages without a text layer); the layout
 * pipeline builds lines, paragraphs, tables, figures, headings and reading
 * order; the writers produce `<name>.md`, `<name>_content_list.json` and
 * the JPEG files of `images/`.
 *
 * It deliberately does no formula recognition to LaTeX and no learned
 * layout detection (the VLM path comes with the vision model), and it does
 * no file or network I/O of its own: bytes in, strings and image bytes out.
 *
 * Thread safety: every call owns its MuPDF context and Tesseract engine, so
 * separate calls may run in parallel threads.
 */
#ifndef OCTO_DOC_H
#define OCTO_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

typedef enum octo_doc_method {
    OCTO_DOC_METHOD_AUTO = 0, /* text layer where usable, OCR per page otherwise */
    OCTO_DOC_METHOD_TXT = 1,  /* text layer only (pages without one come out empty) */
    OCTO_DOC_METHOD_OCR = 2,  /* OCR every page */
} octo_doc_method;

/* Called after each page with (pages done, pages total). */
typedef void (*octo_doc_progress_fn)(void *ctx, int done, int total);

typedef struct octo_doc_opts {
    octo_doc_method method;
    int start_page;           /* first page, 0-based */
    int end_page;             /* last page, inclusive; < 0 for the last page */
    bool table_enable;        /* tables to HTML (else they stay text) */
    const char *ocr_lang;     /* Tesseract languages, e.g. "chi_sim+eng"; NULL: that */
    double page_timeout_s;    /* per page; <= 0: OCTO_LIMIT_DOC_PAGE_SECONDS */
    int max_pages;            /* <= 0: OCTO_LIMIT_DOC_PAGES */
    bool render_images;       /* crop figures and tables to JPEG (else only references) */
    octo_doc_progress_fn progress;
    void *progress_ctx;
    /* Polled before each page and every 50 ms while one runs (from a
     * watchdog thread); true stops the parse with OCTO_E_CANCELLED, the
     * running page (MuPDF or Tesseract) aborted. NULL: never. */
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
} octo_doc_opts;

/* Fills the defaults: auto, all pages, tables on, images on. */
void octo_doc_opts_init(octo_doc_opts *o /* OUT */);

typedef struct octo_doc_result octo_doc_result;

/* Parses a PDF, PNG, JPEG (or another image type MuPDF reads) held in
 * memory. `name` is only used to guess the type when the magic bytes do not
 * tell (may be NULL). On failure returns OCTO_E_PARSE (corrupt, truncated,
 * empty, not a document), OCTO_E_AUTH (encrypted, needs a password),
 * OCTO_E_TOO_LARGE (bytes, pages or pixels over the limits), OCTO_E_TIMEOUT
 * (a page ran over its time limit), OCTO_E_INVALID (bad options, e.g. a page
 * range outside the document) or OCTO_E_NOMEM, and writes a one-line
 * reason into err. On success *out is owned by the caller
 * (octo_doc_result_free). */
octo_err octo_doc_parse(const void *data, size_t len, const char *name,
                        const octo_doc_opts *opts, octo_doc_result **out /* OUT */,
                        char *err, size_t err_size) OCTO_WUR;
void octo_doc_result_free(octo_doc_result *r);

/* The Markdown (images referenced as images/<sha256>.jpg). Owned by r. */
const char *octo_doc_result_markdown(const octo_doc_result *r);
/* The content list as JSON text (an array of items). Owned by r. */
const char *octo_doc_result_content_list(const octo_doc_result *r);
/* A middle JSON in the spirit of MinerU's: per page, its size and blocks
 * with their types, boxes and lines. Owned by r. */
const char *octo_doc_result_middle_json(const octo_doc_result *r);
/* Pages parsed (after the page range), and how many of them went to OCR. */
int octo_doc_result_pages(const octo_doc_result *r);
int octo_doc_result_ocr_pages(const octo_doc_result *r);
/* Extracted images: file name ("<sha256>.jpg") and JPEG bytes, owned by r. */
size_t octo_doc_result_image_count(const octo_doc_result *r);
void octo_doc_result_image(const octo_doc_result *r, size_t i, const char **name /* OUT */,
                           const unsigned char **data /* OUT */, size_t *len /* OUT */);

#endif /* OCTO_DOC_H */
