/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_pdf — the state of one parse call that the MuPDF side needs: the
 * context and document (owned by this call alone: MuPDF contexts are not
 * shared between threads), the cookie the watchdog aborts, the OCR engine
 * (made on first use) and the image list of the result. Internal to doc.
 */
#ifndef OCTO_DOC_PDF_H
#define OCTO_DOC_PDF_H

#include <mupdf/fitz.h>
#include <stdio.h>

#include "doc_int.h"

typedef struct doc_run {
    fz_context *ctx;
    fz_document *doc;
    fz_cookie *cookie;
    octo_doc_method method;
    bool table_enable;
    bool render_images;
    const char *ocr_lang;
    float ocr_dpi;
    double deadline;          /* octo_now() time at which the page is late */
    doc_ocr *ocr;
    struct octo_doc_result *res;
    char err[256];
} doc_run;

/* Parses page `index` into p (lines, rules, blocks in reading order, crops
 * rendered). OCTO_E_PARSE / TIMEOUT / NOMEM with run->err filled. */
octo_err doc_pdf_page(doc_run *run, int index, doc_page *p) OCTO_WUR;
/* Makes the OCR engine on first use (doc_main.c). */
octo_err doc_run_ocr_ready(doc_run *run) OCTO_WUR;
/* Keeps a JPEG (takes `data`, an octo_malloc block) unless one of that
 * name is kept already (doc_main.c). */
octo_err doc_run_add_image(doc_run *run, const char *name, unsigned char *data,
                           size_t len) OCTO_WUR;

#endif /* OCTO_DOC_PDF_H */
