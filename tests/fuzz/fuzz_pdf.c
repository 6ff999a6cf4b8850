/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_pdf — feeds mutated bytes to the doc parse entry point: text layer
 * only (no OCR: Tesseract would make each run seconds long), tables and
 * figure crops on, at most 3 pages and 2 s a page, so that libFuzzer's own
 * time-out only fires on a real hang. Seeds: small real PDFs in
 * tests/fuzz/corpus/fuzz_pdf/. Whatever the input, parse must return a code
 * and free everything it took (ASan/LSan watch).
 */
#include <stddef.h>
#include <stdint.h>

#include "doc/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        octo_log_set_level(OCTO_LOG_LEVEL_OFF);
        quiet = true;
    }
    octo_doc_opts o;
    octo_doc_opts_init(&o);
    o.method = OCTO_DOC_METHOD_TXT;
    o.max_pages = 3;
    o.end_page = 2;
    o.page_timeout_s = 2;
    char err[256];
    octo_doc_result *r = NULL;
    octo_err rc = octo_doc_parse(data, size, "fuzz.pdf", &o, &r, err, sizeof err);
    if (rc == OCTO_OK && !r) __builtin_trap(); /* success must give a result */
    octo_doc_result_free(r);
    return 0;
}
