/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_ocr — Tesseract (through its C API) on a rendered grey page: words
 * with boxes and confidences become our lines (a new line at each text
 * line Tesseract finds, and at a word gap wider than 1.5 line heights so
 * that table cells stay apart), in page points, with no spaces between CJK
 * characters. A deadline monitor stops recognition at the page's limit.
 *
 * It is not image preprocessing (Tesseract binarises itself) and it does
 * not decide which pages need OCR (doc_pdf does).
 */
#include <math.h>
#include <string.h>
#include <tesseract/capi.h>

#include "doc_int.h"

struct doc_ocr {
    TessBaseAPI *api;
};

doc_ocr *doc_ocr_new(const char *lang, char *err, size_t err_size)
{
    doc_ocr *o = octo_calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    o->api = TessBaseAPICreate();
    if (!o->api || TessBaseAPIInit3(o->api, NULL, lang) != 0) {
        snprintf(err, err_size, "OCR unavailable: Tesseract has no data for '%s' "
                                "(install tesseract-ocr-eng / tesseract-ocr-chi-sim)", lang);
        doc_ocr_free(o);
        return NULL;
    }
    (void)TessBaseAPISetVariable(o->api, "debug_file", "/dev/null");
    TessBaseAPISetPageSegMode(o->api, PSM_AUTO);
    return o;
}

void doc_ocr_free(doc_ocr *o)
{
    if (!o) return;
    if (o->api) {
        TessBaseAPIEnd(o->api);
        TessBaseAPIDelete(o->api);
    }
    octo_free(o);
}

typedef struct ocr_line {
    octo_buf text;
    dbox box;
    int n;
    bool open;
    uint32_t last;
    dword words[512];
    int n_words;
} ocr_line;

static octo_err flush(ocr_line *l, doc_page *p)
{
    if (!l->open) return OCTO_OK;
    l->open = false;
    bool blank = true;
    for (size_t i = 0; i < l->text.len; i++) blank &= (unsigned char)l->text.data[i] <= ' ';
    if (blank || l->n < 1) {
        octo_buf_clear(&l->text);
        l->n = 0;
        l->n_words = 0;
        return OCTO_OK;
    }
    dline d = {0};
    d.box = l->box;
    /* Cap height and descenders: a line box is about 1.2 em tall. */
    d.size = doc_box_h(l->box) / 1.2f;
    d.nchars = l->n;
    d.text = octo_arena_strdup(p->arena, l->text.data);
    octo_buf_clear(&l->text);
    l->n = 0;
    d.first_word = doc_page_add_words(p, l->words, l->n_words);
    d.n_words = l->n_words;
    l->n_words = 0;
    if (!d.text || d.first_word < 0) return OCTO_E_NOMEM;
    return doc_page_add_line(p, &d);
}

static octo_err add_word(ocr_line *l, const char *w, dbox b)
{
    /* Tesseract words may carry inner spaces between CJK characters. */
    octo_err rc = OCTO_OK;
    uint32_t first = doc_text_first_cp(w);
    if (l->text.len && !(doc_cp_is_cjk(first) && doc_cp_is_cjk(l->last)))
        rc = octo_buf_append(&l->text, " ", 1);
    int off = (int)l->text.len;
    while (*w && !rc) {
        uint32_t cp;
        int n = doc_utf8_decode(w, &cp);
        w += n;
        if (cp == ' ' && doc_cp_is_cjk(l->last) && doc_cp_is_cjk(doc_text_first_cp(w)))
            continue;
        if (cp <= 0x20 || cp == 0xA0) {
            if (cp == ' ' && l->text.len) rc = octo_buf_append(&l->text, " ", 1);
            continue;
        }
        rc = doc_buf_put_cp(&l->text, cp);
        l->last = cp;
        l->n++;
    }
    if (l->n_words < 512 && (int)l->text.len > off)
        l->words[l->n_words++] = (dword){b.x0, b.x1, off, (int)l->text.len - off};
    l->box = l->open ? doc_box_union(l->box, b) : b;
    l->open = true;
    return rc;
}

static octo_err collect(TessResultIterator *ri, float scale, doc_page *p)
{
    ocr_line l;
    memset(&l, 0, sizeof l);
    octo_buf_init(&l.text, 1u << 20);
    octo_err rc = OCTO_OK;
    const TessPageIterator *pi = TessResultIteratorGetPageIterator(ri);
    do {
        int x0, y0, x1, y1;
        if (!TessPageIteratorBoundingBox(pi, RIL_WORD, &x0, &y0, &x1, &y1)) continue;
        bool new_line = TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE);
        char *w = TessResultIteratorGetUTF8Text(ri, RIL_WORD);
        float conf = TessResultIteratorConfidence(ri, RIL_WORD);
        dbox b = {x0 / scale, y0 / scale, x1 / scale, y1 / scale};
        if (l.open && (new_line || b.x0 - l.box.x1 > 1.5f * doc_box_h(l.box) ||
                       b.x0 < l.box.x0))
            rc = flush(&l, p);
        if (!rc && w && w[0] && conf >= 10.0f) rc = add_word(&l, w, b);
        TessDeleteText(w);
    } while (!rc && TessResultIteratorNext(ri, RIL_WORD));
    if (!rc) rc = flush(&l, p);
    octo_buf_deinit(&l.text);
    return rc;
}

/* Tesseract asks this between words: stop when the page is aborted. */
static bool ocr_cancel(void *abort, int words)
{
    (void)words;
    return __atomic_load_n((int *)abort, __ATOMIC_RELAXED) != 0;
}

octo_err doc_ocr_page(doc_ocr *o, const unsigned char *grey, int w, int h, int stride,
                      float scale, double deadline_s, int *abort, doc_page *p)
{
    double left = deadline_s - octo_now();
    if (left <= 0) return OCTO_E_TIMEOUT;
    TessBaseAPISetImage(o->api, grey, w, h, 1, stride);
    TessBaseAPISetSourceResolution(o->api, (int)lrintf(scale * 72.0f));
    ETEXT_DESC *mon = TessMonitorCreate();
    if (!mon) return OCTO_E_NOMEM;
    TessMonitorSetDeadlineMSecs(mon, (int)(left * 1000.0));
    TessMonitorSetCancelFunc(mon, ocr_cancel);
    TessMonitorSetCancelThis(mon, abort);
    int r = TessBaseAPIRecognize(o->api, mon);
    TessMonitorDelete(mon);
    if (octo_now() >= deadline_s || __atomic_load_n(abort, __ATOMIC_RELAXED)) {
        TessBaseAPIClear(o->api);
        return OCTO_E_TIMEOUT;
    }
    octo_err rc = OCTO_OK;
    if (r == 0) {
        TessResultIterator *ri = TessBaseAPIGetIterator(o->api);
        if (ri) {
            rc = collect(ri, scale, p);
            TessResultIteratorDelete(ri);
        }
    } else {
        rc = OCTO_E_PARSE;
    }
    TessBaseAPIClear(o->api);
    return rc;
}
