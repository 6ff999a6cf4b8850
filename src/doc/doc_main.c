/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_main — the parse entry point: check the bytes (empty, too large, not
 * a PDF or image), open them with a MuPDF context of this call's own
 * (allocations through octo's counting front door), refuse encrypted
 * documents, bound pages and pixels, run each page under a watchdog that
 * aborts it at its time limit, then the document-wide layout passes and
 * the writers. Also the result object and its accessors.
 *
 * It is not the page pipeline (doc_pdf, doc_layout, doc_table, doc_ocr).
 */
#include "doc_pdf.h"

#include <mupdf/pdf.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

struct doc_image {
    char name[72];
    unsigned char *data;
    size_t len;
};

struct octo_doc_result {
    char *md;
    char *content_list;
    char *middle;
    int pages, ocr_pages;
    struct doc_image *imgs;
    size_t n_imgs, cap_imgs;
};

void octo_doc_opts_init(octo_doc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = OCTO_DOC_METHOD_AUTO;
    o->end_page = -1;
    o->table_enable = true;
    o->render_images = true;
}

void octo_doc_result_free(octo_doc_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_imgs; i++) octo_free(r->imgs[i].data);
    octo_free(r->imgs);
    octo_free(r->md);
    octo_free(r->content_list);
    octo_free(r->middle);
    octo_free(r);
}

const char *octo_doc_result_markdown(const octo_doc_result *r) { return r->md; }
const char *octo_doc_result_content_list(const octo_doc_result *r) { return r->content_list; }
const char *octo_doc_result_middle_json(const octo_doc_result *r) { return r->middle; }
int octo_doc_result_pages(const octo_doc_result *r) { return r->pages; }
int octo_doc_result_ocr_pages(const octo_doc_result *r) { return r->ocr_pages; }
size_t octo_doc_result_image_count(const octo_doc_result *r) { return r->n_imgs; }

void octo_doc_result_image(const octo_doc_result *r, size_t i, const char **name,
                           const unsigned char **data, size_t *len)
{
    OCTO_ASSERT(i < r->n_imgs);
    *name = r->imgs[i].name;
    *data = r->imgs[i].data;
    *len = r->imgs[i].len;
}

octo_err doc_run_add_image(doc_run *run, const char *name, unsigned char *data, size_t len)
{
    octo_doc_result *r = run->res;
    for (size_t i = 0; i < r->n_imgs; i++) {
        if (!strcmp(r->imgs[i].name, name)) {
            octo_free(data);
            return OCTO_OK;
        }
    }
    if (r->n_imgs == r->cap_imgs) {
        size_t cap = r->cap_imgs ? r->cap_imgs * 2 : 16;
        void *n = octo_realloc(r->imgs, cap * sizeof *r->imgs);
        if (!n) {
            octo_free(data);
            return OCTO_E_NOMEM;
        }
        r->imgs = n;
        r->cap_imgs = cap;
    }
    struct doc_image *im = &r->imgs[r->n_imgs++];
    octo_strlcpy(im->name, name, sizeof im->name);
    im->data = data;
    im->len = len;
    return OCTO_OK;
}

octo_err doc_run_ocr_ready(doc_run *run)
{
    if (run->ocr) return OCTO_OK;
    run->ocr = doc_ocr_new(run->ocr_lang, run->err, sizeof run->err);
    return run->ocr ? OCTO_OK : OCTO_E_UNSUPPORTED;
}

/* ==== MuPDF context with our allocator, quiet diagnostics ==== */

static void *fz_a_malloc(void *u, size_t n) { return octo_malloc(n); }
static void *fz_a_realloc(void *u, void *p, size_t n) { return octo_realloc(p, n); }
static void fz_a_free(void *u, void *p) { octo_free(p); }
static const fz_alloc_context k_alloc = {NULL, fz_a_malloc, fz_a_realloc, fz_a_free};

static void fz_quiet(void *user, const char *msg) { OCTO_LOG_DEBUG("mupdf: %s", msg); }

/* ==== watchdog: aborts the running page at its deadline ==== */

typedef struct watchdog {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double deadline;   /* 0: none */
    bool stop;
    fz_cookie *cookie;
    const octo_doc_opts *o;
    int cancelled;     /* set once o->cancelled said so (atomic) */
} watchdog;

static void *watch(void *arg)
{
    watchdog *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (w->deadline > 0 && octo_now() >= w->deadline) {
            __atomic_store_n(&w->cookie->abort, 1, __ATOMIC_RELAXED);
            w->deadline = 0;
        }
        if (w->o->cancelled && !__atomic_load_n(&w->cancelled, __ATOMIC_RELAXED) &&
            w->o->cancelled(w->o->cancel_ctx)) {
            __atomic_store_n(&w->cancelled, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&w->cookie->abort, 1, __ATOMIC_RELAXED);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void watch_set(watchdog *w, double deadline)
{
    pthread_mutex_lock(&w->mu);
    w->deadline = deadline;
    pthread_mutex_unlock(&w->mu);
}

/* ==== opening ==== */

static const char *sniff(const unsigned char *d, size_t n, const char *name)
{
    size_t lim = n < 1024 ? n : 1024;
    for (size_t i = 0; i + 5 <= lim; i++)
        if (!memcmp(d + i, "%PDF-", 5)) return "application/pdf";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (n >= 3 && !memcmp(d, "\xff\xd8\xff", 3)) return "image/jpeg";
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return "image/gif";
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return "image/tiff";
    if (n >= 2 && !memcmp(d, "BM", 2)) return "image/bmp";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return NULL;
    size_t nl = name ? strlen(name) : 0;
    if (nl >= 4 && !strcasecmp(name + nl - 4, ".pdf")) return "application/pdf";
    return NULL;
}

static octo_err open_doc(doc_run *run, const void *data, size_t len, const char *magic,
                         int *n_pages)
{
    fz_context *ctx = run->ctx;
    fz_buffer *buf = NULL;
    fz_stream *stm = NULL;
    octo_err rc = OCTO_OK;
    fz_var(buf);
    fz_var(stm);
    fz_var(rc);
    fz_try(ctx)
    {
        if (strncmp(magic, "image/", 6) == 0) {
            /* Header-only look at the image: refuse huge ones before decoding. */
            buf = fz_new_buffer_from_shared_data(ctx, data, len);
            fz_image *img = fz_new_image_from_buffer(ctx, buf);
            double px = (double)img->w * (double)img->h;
            fz_drop_image(ctx, img);
            if (px > OCTO_LIMIT_DOC_PIXELS) {
                rc = OCTO_E_TOO_LARGE;
                fz_throw(ctx, FZ_ERROR_GENERIC, "image of %.0f pixels is over the limit of %u",
                         px, OCTO_LIMIT_DOC_PIXELS);
            }
            fz_drop_buffer(ctx, buf);
            buf = NULL;
        }
        buf = fz_new_buffer_from_shared_data(ctx, data, len);
        stm = fz_open_buffer(ctx, buf);
        run->doc = fz_open_document_with_stream(ctx, magic, stm);
        if (fz_needs_password(ctx, run->doc) && !fz_authenticate_password(ctx, run->doc, "")) {
            rc = OCTO_E_AUTH;
            fz_throw(ctx, FZ_ERROR_GENERIC, "the PDF is encrypted and needs a password");
        }
        *n_pages = fz_count_pages(ctx, run->doc);
    }
    fz_always(ctx)
    {
        fz_drop_stream(ctx, stm);
        fz_drop_buffer(ctx, buf);
    }
    fz_catch(ctx)
    {
        const char *m = fz_caught_message(ctx);
        if (!rc) {
            rc = fz_caught(ctx) == FZ_ERROR_MEMORY ? OCTO_E_NOMEM : OCTO_E_PARSE;
            snprintf(run->err, sizeof run->err, "cannot open the %s: %s",
                     magic[0] == 'a' ? "PDF (corrupt or truncated)" : "image", m);
        } else {
            octo_strlcpy(run->err, m, sizeof run->err);
        }
        return rc;
    }
    if (*n_pages <= 0) {
        octo_strlcpy(run->err, "the document has no pages (corrupt or truncated)",
                     sizeof run->err);
        return OCTO_E_PARSE;
    }
    return OCTO_OK;
}

/* A PDF that MuPDF had to repair and whose pages produce errors is refused
 * as truncated or corrupt rather than half-parsed. */
static bool repaired(doc_run *run)
{
    volatile bool r = false;
    fz_try(run->ctx)
    {
        pdf_document *pdf = pdf_specifics(run->ctx, run->doc);
        r = pdf && pdf_was_repaired(run->ctx, pdf);
    }
    fz_catch(run->ctx) r = true;
    return r;
}

static bool register_handlers(fz_context *ctx)
{
    fz_try(ctx) fz_register_document_handlers(ctx);
    fz_catch(ctx) return false;
    return true;
}

/* ==== the page loop ==== */

static octo_err run_pages(doc_run *run, const octo_doc_opts *o, int first, int last,
                          doc_page **pages, watchdog *w)
{
    double limit = o->page_timeout_s > 0 ? o->page_timeout_s : OCTO_LIMIT_DOC_PAGE_SECONDS;
    int total = last - first + 1;
    for (int i = first; i <= last; i++) {
        doc_page *p = octo_calloc(1, sizeof *p);
        if (!p) return OCTO_E_NOMEM;
        pages[i - first] = p;
        p->arena = octo_arena_new(256u * 1024u, 512u * 1024u * 1024u);
        if (!p->arena) return OCTO_E_NOMEM;
        if (__atomic_load_n(&w->cancelled, __ATOMIC_RELAXED) ||
            (o->cancelled && o->cancelled(o->cancel_ctx))) {
            octo_strlcpy(run->err, "cancelled", sizeof run->err);
            return OCTO_E_CANCELLED;
        }
        run->cookie->abort = 0;
        run->cookie->errors = 0;
        run->deadline = octo_now() + limit;
        watch_set(w, run->deadline);
        octo_err rc = doc_pdf_page(run, i, p);
        watch_set(w, 0);
        if (__atomic_load_n(&w->cancelled, __ATOMIC_RELAXED)) {
            octo_strlcpy(run->err, "cancelled", sizeof run->err);
            return OCTO_E_CANCELLED;
        }
        if (rc) return rc;
        if (run->cookie->errors && repaired(run)) {
            snprintf(run->err, sizeof run->err,
                     "page %d: damaged content (truncated or corrupt PDF)", i + 1);
            return OCTO_E_PARSE;
        }
        if (p->ocr) run->res->ocr_pages++;
        if (o->progress) o->progress(o->progress_ctx, i - first + 1, total);
    }
    return OCTO_OK;
}

static octo_err finish(doc_run *run, doc_page **pages, int n, int first)
{
    octo_doc_result *r = run->res;
    doc_layout_document(pages, n);
    octo_buf md;
    octo_buf_init(&md, OCTO_LIMIT_DOC_OUTPUT_BYTES);
    octo_err rc = doc_write_markdown(pages, n, &md);
    if (!rc) {
        r->md = octo_buf_take(&md);
        if (!r->md) rc = OCTO_E_NOMEM;
    }
    octo_buf_deinit(&md);
    if (!rc) rc = doc_write_content_list(pages, n, first, &r->content_list);
    if (!rc) rc = doc_write_middle(pages, n, first, &r->middle);
    if (rc) octo_strlcpy(run->err, "cannot write the results", sizeof run->err);
    return rc;
}

static void free_pages(doc_page **pages, int n)
{
    if (!pages) return;
    for (int i = 0; i < n; i++) {
        if (!pages[i]) continue;
        octo_arena_free(pages[i]->arena);
        octo_free(pages[i]);
    }
    octo_free(pages);
}

static octo_err range(const octo_doc_opts *o, int n_pages, int *first, int *last, char *err,
                      size_t es)
{
    int max = o->max_pages > 0 ? o->max_pages : (int)OCTO_LIMIT_DOC_PAGES;
    *first = o->start_page;
    *last = o->end_page < 0 || o->end_page >= n_pages ? n_pages - 1 : o->end_page;
    if (*first < 0 || *first >= n_pages || *last < *first) {
        snprintf(err, es, "page range %d..%d is outside the document's %d pages", o->start_page,
                 o->end_page, n_pages);
        return OCTO_E_INVALID;
    }
    if (*last - *first + 1 > max) {
        snprintf(err, es, "%d pages are over the limit of %d", *last - *first + 1, max);
        return OCTO_E_TOO_LARGE;
    }
    return OCTO_OK;
}

octo_err octo_doc_parse(const void *data, size_t len, const char *name,
                        const octo_doc_opts *opts, octo_doc_result **out, char *err,
                        size_t err_size)
{
    octo_doc_opts defaults;
    octo_doc_opts_init(&defaults);
    const octo_doc_opts *o = opts ? opts : &defaults;
    *out = NULL;
    if (err_size) err[0] = 0;
    if (!data || len == 0) {
        snprintf(err, err_size, "the file is empty");
        return OCTO_E_PARSE;
    }
    if (len > OCTO_LIMIT_PDF_BYTES) {
        snprintf(err, err_size, "the file has %zu bytes, over the limit of %u", len,
                 OCTO_LIMIT_PDF_BYTES);
        return OCTO_E_TOO_LARGE;
    }
    const char *magic = sniff(data, len, name);
    if (!magic) {
        snprintf(err, err_size, "not a PDF or a supported image (PNG, JPEG, GIF, TIFF, BMP)");
        return OCTO_E_PARSE;
    }
    fz_cookie cookie;
    memset(&cookie, 0, sizeof cookie);
    doc_run run;
    memset(&run, 0, sizeof run);
    run.cookie = &cookie;
    run.method = o->method;
    /* An image has no text layer: "txt" would give nothing, so it is read. */
    if (!strncmp(magic, "image/", 6) && run.method == OCTO_DOC_METHOD_TXT)
        run.method = OCTO_DOC_METHOD_OCR;
    run.table_enable = o->table_enable;
    run.render_images = o->render_images;
    run.ocr_lang = o->ocr_lang ? o->ocr_lang : "chi_sim+eng";
    run.ocr_dpi = 200.0f;
    doc_page **pages = NULL;
    int n_pages = 0, first = 0, last = -1;
    watchdog w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.cookie = &cookie;
    w.o = o;
    bool watching = false;
    octo_err rc = OCTO_E_NOMEM;
    run.res = octo_calloc(1, sizeof *run.res);
    run.ctx = fz_new_context(&k_alloc, NULL, 64u << 20);
    if (!run.res || !run.ctx) goto fail;
    fz_set_error_callback(run.ctx, fz_quiet, NULL);
    fz_set_warning_callback(run.ctx, fz_quiet, NULL);
    if (!register_handlers(run.ctx)) goto fail;
    rc = open_doc(&run, data, len, magic, &n_pages);
    if (rc) goto fail;
    rc = range(o, n_pages, &first, &last, run.err, sizeof run.err);
    if (rc) goto fail;
    pages = octo_calloc((size_t)(last - first + 1), sizeof *pages);
    rc = OCTO_E_NOMEM;
    if (!pages) goto fail;
    if (pthread_create(&w.th, NULL, watch, &w)) goto fail_watch;
    watching = true;
    rc = run_pages(&run, o, first, last, pages, &w);
    if (!rc) rc = finish(&run, pages, last - first + 1, first);
    if (rc) goto fail_watch;
    run.res->pages = last - first + 1;
    *out = run.res;
    run.res = NULL;
fail_watch:
    if (watching) {
        pthread_mutex_lock(&w.mu);
        w.stop = true;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(w.th, NULL);
    }
fail:
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (rc && err_size) snprintf(err, err_size, "%s", run.err[0] ? run.err : octo_err_str(rc));
    free_pages(pages, last - first + 1);
    doc_ocr_free(run.ocr);
    if (run.ctx) {
        fz_drop_document(run.ctx, run.doc);
        fz_drop_context(run.ctx);
    }
    octo_doc_result_free(run.res);
    return rc;
}
