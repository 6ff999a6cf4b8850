/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_file_parse — POST /file_parse, compatible with mineru-api: a
 * multipart form with `files` (several), `lang_list`, `backend`,
 * `parse_method`, `formula_enable`, `table_enable`, `return_md`,
 * `return_middle_json`, `return_model_output`, `return_content_list`,
 * `return_images`, `start_page_id`, `end_page_id` (and `output_dir`,
 * `server_url`, accepted and unused). The answer has MinerU's shape:
 * {"backend", "version", "results": {<file stem>: {"md_content",
 * "middle_json", "content_list", "images": {name: data URI}}}}; a file
 * that cannot be parsed is a 400 {"error": "..."} naming the problem.
 *
 * It runs the CPU pipeline of doc/ in the request's thread once a parse
 * slot is free (parse_concurrency at once, parse_queue waiting, 503 with
 * Retry-After beyond), stops when the client goes away (between pages and
 * inside one, through doc's cancel hook), needs no model and writes no
 * files. Results are keyed by file stem as MinerU does; a stem that is not
 * UTF-8 is repaired (U+FFFD) and a repeated one gets "_2", "_3" ... so
 * every file has its result. It does not produce ZIP responses or VLM output.
 * In a build without the parser (cmake -DOCTO_DOC=OFF) it answers 501.
 */
#include <string.h>
#include <strings.h>

#include "api_int.h"

#ifndef OCTO_HAVE_DOC
void octo_api_file_parse(octo_http_req *req, void *ctx)
{
    (void)ctx;
    octo_http_fail(req, OCTO_E_UNSUPPORTED, NULL,
                            "this octo was built without the document parser (-DOCTO_DOC=OFF)");
}
#else
#include "doc/doc.h"

typedef struct fp_opts {
    octo_doc_opts doc;
    bool md, middle, content_list, images;
    const char *backend;
    char lang[64];
} fp_opts;

/* MinerU's error shape, {"error": "..."}, with the status of e. */
static void bad(octo_http_req *req, octo_err e, const char *fmt, const char *a, const char *b)
{
    char msg[768];
    snprintf(msg, sizeof msg, fmt, a, b);
    octo_http_respond_json(req, octo_http_status_for(e), json_pack("{s:s}", "error", msg));
}

/* Field text as a NUL-terminated copy in buf; NULL when absent. */
static const char *field(const octo_http_form *f, const char *name, char *buf, size_t cap)
{
    const octo_http_part *p = octo_http_form_get(f, name);
    if (!p || p->filename) return NULL;
    size_t n = p->len < cap - 1 ? p->len : cap - 1;
    memcpy(buf, p->data, n);
    buf[n] = 0;
    while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\r' || buf[n - 1] == '\n')) buf[--n] = 0;
    return buf;
}

/* pydantic's booleans: true/false, 1/0, yes/no, on/off. */
static bool get_bool(const octo_http_form *f, const char *name, bool def, bool *ok)
{
    char b[16];
    const char *v = field(f, name, b, sizeof b);
    if (!v) return def;
    static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *no[] = {"false", "0", "no", "off", "f", "n"};
    for (size_t i = 0; i < 6; i++) {
        if (!strcasecmp(v, yes[i])) return true;
        if (!strcasecmp(v, no[i])) return false;
    }
    *ok = false;
    return def;
}

static bool get_int(const octo_http_form *f, const char *name, long def, long *out)
{
    char b[32];
    const char *v = field(f, name, b, sizeof b);
    *out = def;
    return !v || octo_parse_long(v, -1, 100000000, out) == OCTO_OK;
}

/* MinerU language codes to Tesseract's: Latin-script codes use English,
 * everything else Chinese + English. */
static void lang_of(const octo_http_form *f, char *out, size_t cap)
{
    char b[32];
    const char *v = field(f, "lang_list", b, sizeof b);
    bool latin = v && (!strcmp(v, "en") || !strcmp(v, "latin"));
    octo_strlcpy(out, latin ? "eng" : "chi_sim+eng", cap);
}

static bool read_opts(octo_http_req *req, const octo_http_form *f, fp_opts *o)
{
    char b[64];
    octo_doc_opts_init(&o->doc);
    bool ok = true;
    o->backend = "pipeline";
    const char *be = field(f, "backend", b, sizeof b);
    if (be && strncmp(be, "pipeline", 8)) {
        bad(req, OCTO_E_INVALID, "backend '%s' is not available: this server parses on the CPU "
                      "(backend 'pipeline')%s", be, "");
        return false;
    }
    const char *m = field(f, "parse_method", b, sizeof b);
    if (!m || !strcmp(m, "auto")) o->doc.method = OCTO_DOC_METHOD_AUTO;
    else if (!strcmp(m, "txt")) o->doc.method = OCTO_DOC_METHOD_TXT;
    else if (!strcmp(m, "ocr")) o->doc.method = OCTO_DOC_METHOD_OCR;
    else {
        bad(req, OCTO_E_INVALID, "parse_method '%s' is not one of auto, txt, ocr%s", m, "");
        return false;
    }
    o->doc.table_enable = get_bool(f, "table_enable", true, &ok);
    (void)get_bool(f, "formula_enable", true, &ok);
    o->md = get_bool(f, "return_md", true, &ok);
    o->middle = get_bool(f, "return_middle_json", false, &ok);
    o->content_list = get_bool(f, "return_content_list", false, &ok);
    o->images = get_bool(f, "return_images", false, &ok);
    (void)get_bool(f, "return_model_output", false, &ok);
    if (get_bool(f, "response_format_zip", false, &ok)) {
        bad(req, OCTO_E_INVALID, "response_format_zip is not supported%s%s", "", "");
        return false;
    }
    long sp, ep;
    if (!ok || !get_int(f, "start_page_id", 0, &sp) || !get_int(f, "end_page_id", 99999, &ep) ||
        sp < 0) {
        bad(req, OCTO_E_INVALID, "a boolean or page number field has a bad value%s%s", "", "");
        return false;
    }
    o->doc.start_page = (int)sp;
    o->doc.end_page = (int)ep;
    o->doc.render_images = o->md || o->content_list || o->images;
    lang_of(f, o->lang, sizeof o->lang);
    o->doc.ocr_lang = o->lang;
    return true;
}

/* "dir/report.pdf" -> "report" (MinerU keys results by the file stem);
 * bytes that are not UTF-8 become U+FFFD so that the key is valid JSON. */
static void stem(const char *fn, char *out, size_t cap)
{
    const char *s = strrchr(fn, '/');
    s = s ? s + 1 : fn;
    const char *bs = strrchr(s, '\\');
    s = bs ? bs + 1 : s;
    size_t n = strlen(s), w = 0;
    const char *dot = strrchr(s, '.');
    if (dot && dot != s) n = (size_t)(dot - s);
    for (size_t i = 0; i < n && w + 4 < cap;) {
        uint32_t cp;
        size_t k = octo_utf8_next(s + i, n - i, &cp);
        if (octo_utf8_valid(s + i, k, NULL)) {
            memcpy(out + w, s + i, k);
            w += k;
        } else {
            memcpy(out + w, "\xef\xbf\xbd", 3);
            w += 3;
        }
        i += k;
    }
    out[w] = 0;
    if (!out[0]) octo_strlcpy(out, "unnamed", cap);
}

/* A key not yet in results: stem, then stem_2, stem_3 ... */
static void unique_key(const json_t *results, const char *stem_, char *out, size_t cap)
{
    octo_strlcpy(out, stem_, cap);
    for (int i = 2; json_object_get(results, out) && i < 100000; i++)
        snprintf(out, cap, "%.*s_%d", (int)(cap > 16 ? cap - 16 : 0), stem_, i);
}

/* ==== parse slots ==== */

/* Waits for a parse slot; false when the queue is full (503 answered) or
 * the client left while waiting. */
static bool gate_enter(octo_api_gate *g, octo_http_req *req)
{
    pthread_mutex_lock(&g->mu);
    if (g->running < g->max) {
        g->running++;
        pthread_mutex_unlock(&g->mu);
        return true;
    }
    if (g->waiting >= g->queue) {
        unsigned running = g->running, waiting = g->waiting;
        pthread_mutex_unlock(&g->mu);
        bad(req, OCTO_E_BUSY, "the parse queue is full; retry later%s%s", "", "");
        OCTO_LOG_INFO("file_parse refused: %u running, %u waiting", running, waiting);
        return false;
    }
    g->waiting++;
    bool gone = false;
    while (g->running >= g->max && !gone) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        gone = octo_http_req_client_gone(req);
    }
    g->waiting--;
    if (!gone) g->running++;
    pthread_mutex_unlock(&g->mu);
    if (gone) octo_http_fail(req, OCTO_E_CANCELLED, NULL, "client closed the request");
    return !gone;
}

static void gate_leave(octo_api_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->running--;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static bool req_gone(void *ctx) { return octo_http_req_client_gone(ctx); }

static json_t *images_json(const octo_doc_result *r)
{
    json_t *o = json_object();
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; o && i < octo_doc_result_image_count(r); i++) {
        const char *name;
        const unsigned char *d;
        size_t n;
        octo_doc_result_image(r, i, &name, &d, &n);
        octo_buf b;
        octo_buf_init(&b, 64u + n * 2);
        octo_err rc = octo_buf_puts(&b, "data:image/jpeg;base64,");
        for (size_t k = 0; k < n && !rc; k += 3) {
            unsigned v = (unsigned)d[k] << 16 | (k + 1 < n ? (unsigned)d[k + 1] << 8 : 0) |
                         (k + 2 < n ? d[k + 2] : 0);
            char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], k + 1 < n ? b64[(v >> 6) & 63] : '=',
                         k + 2 < n ? b64[v & 63] : '='};
            rc = octo_buf_append(&b, q, 4);
        }
        if (!rc) json_object_set_new(o, name, json_string(b.data));
        octo_buf_deinit(&b);
    }
    return o;
}

static json_t *one_result(const octo_doc_result *r, const fp_opts *o)
{
    json_t *j = json_object();
    if (!j) return NULL;
    if (o->md) json_object_set_new(j, "md_content", json_string(octo_doc_result_markdown(r)));
    if (o->middle)
        json_object_set_new(j, "middle_json", json_string(octo_doc_result_middle_json(r)));
    if (o->content_list)
        json_object_set_new(j, "content_list", json_string(octo_doc_result_content_list(r)));
    if (o->images) json_object_set_new(j, "images", images_json(r));
    return j;
}

void octo_api_file_parse(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    size_t len = 0;
    const char *body = octo_http_req_body(req, &len);
    char err[512];
    octo_http_form *f = NULL;
    octo_err rc = octo_http_form_parse(octo_http_req_header(req, "Content-Type"), body, len,
                                       OCTO_LIMIT_MULTIPART_PARTS, &f, err, sizeof err);
    if (rc) {
        bad(req, rc == OCTO_E_TOO_LARGE ? rc : OCTO_E_INVALID, "%s%s", err, "");
        return;
    }
    fp_opts o;
    json_t *results = NULL;
    bool slot = false;
    if (!read_opts(req, f, &o)) goto done;
    o.doc.cancelled = req_gone;
    o.doc.cancel_ctx = req;
    if (!gate_enter(&api->parse_gate, req)) goto done;
    slot = true;
    results = json_object();
    size_t n_files = 0;
    for (size_t i = 0; i < octo_http_form_count(f); i++) {
        const octo_http_part *p = octo_http_form_part(f, i);
        if (strcmp(p->name, "files")) continue;
        n_files++;
        const char *fn = p->filename ? p->filename : "unnamed";
        octo_doc_result *r = NULL;
        rc = octo_doc_parse(p->data, p->len, fn, &o.doc, &r, err, sizeof err);
        if (rc == OCTO_E_CANCELLED) {
            OCTO_LOG_INFO("file_parse: client went away; cancelled while parsing %s", fn);
            octo_http_fail(req, OCTO_E_CANCELLED, NULL, "client closed the request");
            goto done;
        }
        if (rc) {
            bad(req, OCTO_E_INVALID, "Failed to load file: %s: %s", fn, err);
            goto done;
        }
        char st[256], key[256];
        stem(fn, st, sizeof st);
        unique_key(results, st, key, sizeof key);
        json_t *one = one_result(r, &o);
        octo_doc_result_free(r);
        if (!one || !results) {
            octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
            json_decref(one);
            goto done;
        }
        json_object_set_new(results, key, one);
    }
    if (!n_files) {
        bad(req, OCTO_E_INVALID, "the form has no 'files' part%s%s", "", "");
        goto done;
    }
    octo_http_respond_json(req, 200, json_pack("{s:s,s:s,s:O}", "backend", o.backend, "version",
                                               OCTO_VERSION, "results", results));
done:
    if (slot) gate_leave(&api->parse_gate);
    json_decref(results);
    octo_http_form_free(f);
}
#endif /* OCTO_HAVE_DOC */
