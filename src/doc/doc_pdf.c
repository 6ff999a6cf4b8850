/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_pdf — everything that touches MuPDF for one page: run the page into
 * a display list (under a cookie that the watchdog can abort), turn
 * MuPDF's structured text into our lines (split at wide gaps, spaces
 * decided from geometry, CJK kept tight), collect ruling lines, drawn
 * shapes and raster images with a small capture device, render the page
 * grey for OCR, and crop figures and tables to JPEG.
 *
 * It is not the layout: lines go to doc_layout/doc_table, which know
 * nothing of MuPDF. Every MuPDF call here runs inside fz_try.
 */
#include "doc_pdf.h"

#include <math.h>
#include <string.h>

/* ==== capture device: rules, shapes, images ==== */

typedef struct cap_dev {
    fz_device super;
    doc_page *page;
    fz_matrix ctm;     /* path space -> page space, for the walker */
    bool stroke;
    float cx, cy, sx, sy; /* current point and subpath start (page space) */
    int segs;
    bool curvy;
    bool diag;         /* a segment neither horizontal nor vertical */
} cap_dev;

static void cap_fail(fz_context *ctx, octo_err rc)
{
    if (rc) fz_throw(ctx, FZ_ERROR_MEMORY, "doc: out of memory collecting shapes");
}

static void seg(fz_context *ctx, cap_dev *d, float x0, float y0, float x1, float y1)
{
    float dx = fabsf(x1 - x0), dy = fabsf(y1 - y0);
    d->segs++;
    if (dx >= 1.5f && dy >= 1.5f) d->diag = true;
    if (!d->stroke) return;
    if (dy < 1.5f && dx >= 6.0f) {
        dbox b = {fminf(x0, x1), (y0 + y1) / 2 - 0.5f, fmaxf(x0, x1), (y0 + y1) / 2 + 0.5f};
        cap_fail(ctx, doc_page_add_rule(d->page, b, true));
    } else if (dx < 1.5f && dy >= 6.0f) {
        dbox b = {(x0 + x1) / 2 - 0.5f, fminf(y0, y1), (x0 + x1) / 2 + 0.5f, fmaxf(y0, y1)};
        cap_fail(ctx, doc_page_add_rule(d->page, b, false));
    }
}

static void w_moveto(fz_context *ctx, void *arg, float x, float y)
{
    cap_dev *d = arg;
    fz_point p = fz_transform_point_xy(x, y, d->ctm);
    d->cx = d->sx = p.x;
    d->cy = d->sy = p.y;
}

static void w_lineto(fz_context *ctx, void *arg, float x, float y)
{
    cap_dev *d = arg;
    fz_point p = fz_transform_point_xy(x, y, d->ctm);
    seg(ctx, d, d->cx, d->cy, p.x, p.y);
    d->cx = p.x;
    d->cy = p.y;
}

static void w_curveto(fz_context *ctx, void *arg, float x1, float y1, float x2, float y2,
                      float x3, float y3)
{
    cap_dev *d = arg;
    fz_point p = fz_transform_point_xy(x3, y3, d->ctm);
    d->curvy = true;
    d->segs++;
    d->cx = p.x;
    d->cy = p.y;
}

static void w_close(fz_context *ctx, void *arg)
{
    cap_dev *d = arg;
    if (d->cx != d->sx || d->cy != d->sy) seg(ctx, d, d->cx, d->cy, d->sx, d->sy);
    d->cx = d->sx;
    d->cy = d->sy;
}

static void w_rectto(fz_context *ctx, void *arg, float x0, float y0, float x1, float y1)
{
    cap_dev *d = arg;
    fz_point a = fz_transform_point_xy(x0, y0, d->ctm), b = fz_transform_point_xy(x1, y1, d->ctm);
    seg(ctx, d, a.x, a.y, b.x, a.y);
    seg(ctx, d, b.x, a.y, b.x, b.y);
    seg(ctx, d, b.x, b.y, a.x, b.y);
    seg(ctx, d, a.x, b.y, a.x, a.y);
}

static const fz_path_walker k_walker = {
    w_moveto, w_lineto, w_curveto, w_close, NULL, NULL, NULL, w_rectto,
};

static void shape(fz_context *ctx, cap_dev *d, const fz_path *path, const fz_stroke_state *st,
                  fz_matrix ctm, bool stroke)
{
    doc_page *p = d->page;
    fz_rect r = fz_bound_path(ctx, path, st, ctm);
    if (fz_is_empty_rect(r) || fz_is_infinite_rect(r)) return;
    dbox b = {r.x0, r.y0, r.x1, r.y1};
    float w = b.x1 - b.x0, h = b.y1 - b.y0;
    if (w > p->w * 0.95f && h > p->h * 0.95f) return; /* page background */
    d->ctm = ctm;
    d->stroke = stroke;
    d->segs = 0;
    d->curvy = false;
    d->diag = false;
    if (!stroke && h <= 3.0f && w >= 6.0f) { /* a filled hairline rectangle */
        cap_fail(ctx, doc_page_add_rule(p, b, true));
        return;
    }
    if (!stroke && w <= 3.0f && h >= 6.0f) {
        cap_fail(ctx, doc_page_add_rule(p, b, false));
        return;
    }
    fz_walk_path(ctx, path, &k_walker, d);
    /* A stroked straight line or a rectangle outline is only rules; any
     * other shape counts towards drawn figures. */
    if (stroke && !d->curvy && !d->diag && d->segs <= 4) return;
    cap_fail(ctx, doc_page_add_path(p, b));
}

static void cap_fill_path(fz_context *ctx, fz_device *dev, const fz_path *path, int even_odd,
                          fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha,
                          fz_color_params cp)
{
    /* White fills (cell backgrounds, masks) are not drawing anything. */
    if (cs && fz_colorspace_n(ctx, cs) >= 1 && color) {
        bool white = true;
        int n = fz_colorspace_n(ctx, cs);
        bool cmyk = n == 4;
        for (int i = 0; i < n; i++) white &= cmyk ? color[i] < 0.02f : color[i] > 0.98f;
        if (white) return;
    }
    shape(ctx, (cap_dev *)dev, path, NULL, ctm, false);
}

static void cap_stroke_path(fz_context *ctx, fz_device *dev, const fz_path *path,
                            const fz_stroke_state *st, fz_matrix ctm, fz_colorspace *cs,
                            const float *color, float alpha, fz_color_params cp)
{
    shape(ctx, (cap_dev *)dev, path, st, ctm, true);
}

static void cap_fill_image(fz_context *ctx, fz_device *dev, fz_image *img, fz_matrix ctm,
                           float alpha, fz_color_params cp)
{
    cap_dev *d = (cap_dev *)dev;
    fz_rect r = fz_transform_rect(fz_unit_rect, ctm);
    dbox b = {fmaxf(r.x0, 0), fmaxf(r.y0, 0), fminf(r.x1, d->page->w), fminf(r.y1, d->page->h)};
    if (b.x1 - b.x0 < 24 || b.y1 - b.y0 < 24) return; /* icons, bullets, rules as images */
    cap_fail(ctx, doc_page_add_pic(d->page, b));
}

/* ==== structured text to lines ==== */

static bool font_bold(fz_context *ctx, fz_font *f)
{
    if (!f) return false;
    if (fz_font_is_bold(ctx, f)) return true;
    const char *n = fz_font_name(ctx, f);
    return n && (strstr(n, "Bold") || strstr(n, "bold") || strstr(n, "Black") ||
                 strstr(n, "Heavy") || strstr(n, "Semibold") || strstr(n, ",B") ||
                 strstr(n, "-B") || strstr(n, "Medi"));
}

static bool font_math(fz_context *ctx, fz_font *f)
{
    const char *n = f ? fz_font_name(ctx, f) : NULL;
    return n && (strstr(n, "CMMI") || strstr(n, "CMSY") || strstr(n, "CMEX") ||
                 strstr(n, "Math") || strstr(n, "Symbol") || strstr(n, "MTMI") ||
                 strstr(n, "MTSY") || strstr(n, "STIX") || strstr(n, "Euclid"));
}

typedef struct line_acc {
    octo_buf text;
    dbox box;
    int n, n_bold, n_math;
    float sizes[64];
    int n_sizes;
    uint32_t fonts[4];
    int font_n[4];
    dword words[512];
    int n_words;
    bool word_open;
    bool open;
} line_acc;

static uint32_t font_hash(fz_context *ctx, fz_font *f)
{
    const char *n = f ? fz_font_name(ctx, f) : "";
    const char *plus = strchr(n, '+'); /* subset prefix "ABCDEF+" */
    if (plus && plus - n == 6) n = plus + 1;
    uint32_t h = 2166136261u;
    for (; *n; n++) h = (h ^ (unsigned char)*n) * 16777619u;
    return h;
}

static void count_font(line_acc *a, uint32_t h)
{
    int lo = 0;
    for (int i = 0; i < 4; i++) {
        if (a->fonts[i] == h && a->font_n[i]) {
            a->font_n[i]++;
            return;
        }
        if (a->font_n[i] < a->font_n[lo]) lo = i;
    }
    if (a->font_n[lo] == 0) {
        a->fonts[lo] = h;
        a->font_n[lo] = 1;
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static octo_err acc_flush(line_acc *a, doc_page *p)
{
    if (!a->open) return OCTO_OK;
    a->open = false;
    /* Trim trailing spaces. */
    while (a->text.len && a->text.data[a->text.len - 1] == ' ') a->text.data[--a->text.len] = 0;
    if (a->n == 0 || a->text.len == 0) {
        octo_buf_clear(&a->text);
        a->n_words = 0;
        a->word_open = false;
        return OCTO_OK;
    }
    qsort(a->sizes, (size_t)a->n_sizes, sizeof(float), cmp_float);
    dline l = {0};
    l.box = a->box;
    l.nchars = a->n;
    l.size = a->n_sizes ? a->sizes[a->n_sizes / 2] : 10.0f;
    l.bold = a->n_bold * 2 > a->n;
    l.mathfont = a->n_math * 4 > a->n;
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (a->font_n[i] > a->font_n[best]) best = i;
    l.font = a->fonts[best];
    memset(a->font_n, 0, sizeof a->font_n);
    l.text = octo_arena_strdup(p->arena, a->text.data);
    octo_buf_clear(&a->text);
    l.first_word = doc_page_add_words(p, a->words, a->n_words);
    l.n_words = a->n_words;
    a->n_words = 0;
    a->word_open = false;
    if (!l.text || l.first_word < 0) return OCTO_E_NOMEM;
    return doc_page_add_line(p, &l);
}

/* Characters of one MuPDF line into lines of ours: a gap wider than
 * 1.3 em starts a new one (table cells, columns set on one baseline). */
static octo_err stext_line(fz_context *ctx, fz_stext_line *ln, doc_page *p, line_acc *a,
                           int *bad)
{
    octo_err rc = OCTO_OK;
    float prev_x1 = 0;
    uint32_t prev_cp = 0;
    bool pending_space = false;
    for (fz_stext_char *ch = ln->first_char; ch; ch = ch->next) {
        uint32_t cp = (uint32_t)ch->c;
        if (cp == 0xFFFD) (*bad)++;
        if (cp == ' ' || cp == '\t' || cp == 0xA0 || cp == 0x3000) {
            pending_space = true;
            continue;
        }
        if (cp < 0x20) continue;
        fz_rect r = fz_rect_from_quad(ch->quad);
        float size = ch->size > 0.5f ? ch->size : 10.0f;
        if (a->open) {
            float gap = r.x0 - prev_x1;
            if (gap > 1.3f * size || gap < -4.0f * size ||
                fabsf(r.y1 - a->box.y1) > size * 0.8f) {
                rc = acc_flush(a, p);
                if (rc) return rc;
            } else {
                bool cjk = doc_cp_is_cjk(cp) || doc_cp_is_cjk(prev_cp);
                bool sp = cjk ? gap > 0.6f * size : (pending_space || gap > 0.25f * size);
                if (sp) rc = octo_buf_append(&a->text, " ", 1);
                if (sp) a->word_open = false;
                if (rc) return rc;
            }
        }
        if (!a->open) {
            a->open = true;
            a->box = (dbox){r.x0, r.y0, r.x1, r.y1};
            a->n = a->n_bold = a->n_math = a->n_sizes = 0;
            a->n_words = 0;
            a->word_open = false;
            memset(a->font_n, 0, sizeof a->font_n);
        }
        a->box = doc_box_union(a->box, (dbox){r.x0, r.y0, r.x1, r.y1});
        a->n++;
        if (font_bold(ctx, ch->font)) a->n_bold++;
        if (font_math(ctx, ch->font)) a->n_math++;
        count_font(a, font_hash(ctx, ch->font));
        if (a->n_sizes < 64) a->sizes[a->n_sizes++] = size;
        if (!a->word_open && a->n_words < 512)
            a->words[a->n_words++] = (dword){r.x0, r.x1, (int)a->text.len, 0};
        a->word_open = true;
        rc = doc_buf_put_cp(&a->text, cp);
        if (rc) return rc;
        if (a->n_words) {
            dword *w = &a->words[a->n_words - 1];
            w->x1 = fmaxf(w->x1, r.x1);
            w->len = (int)a->text.len - w->off;
        }
        prev_x1 = r.x1;
        prev_cp = cp;
        pending_space = false;
    }
    return acc_flush(a, p);
}

static octo_err stext_to_lines(fz_context *ctx, fz_stext_page *st, doc_page *p, int *bad)
{
    line_acc a;
    memset(&a, 0, sizeof a);
    octo_buf_init(&a.text, 1u << 20);
    octo_err rc = OCTO_OK;
    for (fz_stext_block *b = st->first_block; b && !rc; b = b->next) {
        if (b->type != FZ_STEXT_BLOCK_TEXT) continue;
        for (fz_stext_line *ln = b->u.t.first_line; ln && !rc; ln = ln->next) {
            if (ln->wmode || fabsf(ln->dir.y) > 0.1f || ln->dir.x < 0) continue; /* rotated */
            rc = stext_line(ctx, ln, p, &a, bad);
        }
    }
    octo_buf_deinit(&a.text);
    return rc;
}

/* ==== page runs ==== */

static fz_pixmap *render(fz_context *ctx, fz_display_list *list, fz_matrix ctm, fz_rect clip,
                         fz_colorspace *cs, fz_cookie *cookie)
{
    fz_irect ib = fz_round_rect(fz_transform_rect(clip, ctm));
    fz_pixmap *pix = fz_new_pixmap_with_bbox(ctx, cs, ib, NULL, 0);
    fz_device *dev = NULL;
    fz_var(dev);
    fz_try(ctx)
    {
        fz_clear_pixmap_with_value(ctx, pix, 255);
        dev = fz_new_draw_device_with_bbox(ctx, ctm, pix, &ib);
        fz_run_display_list(ctx, list, dev, fz_identity, fz_transform_rect(clip, fz_identity),
                            cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx) fz_drop_device(ctx, dev);
    fz_catch(ctx)
    {
        fz_drop_pixmap(ctx, pix);
        fz_rethrow(ctx);
    }
    return pix;
}

/* Scale (pixels per point) that keeps w x h points under max_px pixels. */
static float capped_scale(float want, float w, float h, double max_px)
{
    double px = (double)w * want * (double)h * want;
    if (px > max_px) want = (float)sqrt(max_px / ((double)w * h));
    return want;
}

static void sha_hex(const unsigned char *d, size_t n, char *out /* 65 */)
{
    fz_sha256 s;
    unsigned char dig[32];
    static const char hx[] = "0123456789abcdef";
    fz_sha256_init(&s);
    fz_sha256_update(&s, d, n);
    fz_sha256_final(&s, dig);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[dig[i] >> 4];
        out[2 * i + 1] = hx[dig[i] & 15];
    }
    out[64] = 0;
}

/* Crops a block to JPEG and hands it to the result's image list. */
static void crop_block(fz_context *ctx, doc_run *run, fz_display_list *list, doc_page *p,
                       dblock *b)
{
    fz_rect clip = {b->box.x0 - 1, b->box.y0 - 1, b->box.x1 + 1, b->box.y1 + 1};
    clip = fz_intersect_rect(clip, fz_make_rect(0, 0, p->w, p->h));
    if (fz_is_empty_rect(clip)) return;
    float s = capped_scale(2.0f, clip.x1 - clip.x0, clip.y1 - clip.y0, 16e6);
    fz_pixmap *pix = render(ctx, list, fz_scale(s, s), clip, fz_device_rgb(ctx), run->cookie);
    unsigned char *jpg = NULL;
    size_t jlen = 0;
    octo_err rc = doc_jpeg_encode(fz_pixmap_samples(ctx, pix), fz_pixmap_width(ctx, pix),
                                  fz_pixmap_height(ctx, pix), fz_pixmap_components(ctx, pix),
                                  (int)fz_pixmap_stride(ctx, pix), 85, &jpg, &jlen);
    fz_drop_pixmap(ctx, pix);
    if (rc) fz_throw(ctx, FZ_ERROR_GENERIC, "doc: JPEG encoding failed");
    char name[72];
    sha_hex(jpg, jlen, name);
    memcpy(name + 64, ".jpg", 5);
    b->img_name = octo_arena_strdup(p->arena, name);
    rc = b->img_name ? doc_run_add_image(run, name, jpg, jlen) : OCTO_E_NOMEM;
    if (rc) fz_throw(ctx, FZ_ERROR_MEMORY, "doc: out of memory keeping images");
}

/* Text-layer statistics decide OCR in auto mode: few characters on a page
 * covered by a picture, or mostly undecodable characters. */
static bool wants_ocr(const doc_page *p, int bad)
{
    int chars = 0;
    for (int i = 0; i < p->n_lines; i++) chars += p->lines[i].nchars;
    if (chars > 0 && bad * 5 > chars) return true;
    if (chars >= 40) return false;
    float pic = 0;
    for (int i = 0; i < p->n_pics; i++) pic += doc_box_w(p->pics[i]) * doc_box_h(p->pics[i]);
    return pic > 0.3f * p->w * p->h || chars == 0;
}

static void reset_text(doc_page *p)
{
    p->n_lines = 0;
    p->n_pics = 0;
    p->n_paths = 0;
}

static void page_body(fz_context *ctx, doc_run *run, fz_page *page, doc_page *p,
                      fz_display_list **listp)
{
    fz_rect bounds = fz_bound_page(ctx, page);
    fz_matrix ctm = fz_translate(-bounds.x0, -bounds.y0);
    p->w = bounds.x1 - bounds.x0;
    p->h = bounds.y1 - bounds.y0;
    if (!(p->w > 1 && p->h > 1) || p->w > 20000 || p->h > 20000)
        fz_throw(ctx, FZ_ERROR_GENERIC, "page size %gx%g pt out of range", p->w, p->h);
    fz_rect area = fz_make_rect(0, 0, p->w, p->h);
    fz_display_list *list = *listp = fz_new_display_list(ctx, area);
    fz_device *dev = fz_new_list_device(ctx, list);
    fz_try(ctx)
    {
        fz_run_page(ctx, page, dev, ctm, run->cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx) fz_drop_device(ctx, dev);
    fz_catch(ctx) fz_rethrow(ctx);
    if (run->cookie->abort) fz_throw(ctx, FZ_ERROR_ABORT, "page time limit");

    bool ocr = run->method == OCTO_DOC_METHOD_OCR;
    if (!ocr) {
        fz_stext_options so = {.flags = FZ_STEXT_MEDIABOX_CLIP};
        fz_stext_page *st = fz_new_stext_page(ctx, area);
        cap_dev *cd = NULL;
        fz_var(cd);
        fz_try(ctx)
        {
            fz_device *tdev = fz_new_stext_device(ctx, st, &so);
            fz_try(ctx)
            {
                fz_run_display_list(ctx, list, tdev, fz_identity, fz_infinite_rect, run->cookie);
                fz_close_device(ctx, tdev);
            }
            fz_always(ctx) fz_drop_device(ctx, tdev);
            fz_catch(ctx) fz_rethrow(ctx);
            cd = fz_new_derived_device(ctx, cap_dev);
            cd->page = p;
            cd->super.fill_path = cap_fill_path;
            cd->super.stroke_path = cap_stroke_path;
            cd->super.fill_image = cap_fill_image;
            fz_run_display_list(ctx, list, &cd->super, fz_identity, fz_infinite_rect,
                                run->cookie);
            fz_close_device(ctx, &cd->super);
            if (stext_to_lines(ctx, st, p, &p->bad_chars))
                fz_throw(ctx, FZ_ERROR_MEMORY, "doc: out of memory building lines");
        }
        fz_always(ctx)
        {
            fz_drop_device(ctx, (fz_device *)cd);
            fz_drop_stext_page(ctx, st);
        }
        fz_catch(ctx) fz_rethrow(ctx);
        if (run->cookie->abort) fz_throw(ctx, FZ_ERROR_ABORT, "page time limit");
        ocr = run->method == OCTO_DOC_METHOD_AUTO && wants_ocr(p, p->bad_chars);
    }
    if (ocr) {
        reset_text(p);
        p->ocr = true;
        octo_err rc = doc_run_ocr_ready(run);
        if (rc) fz_throw(ctx, FZ_ERROR_GENERIC, "%s", run->err);
        /* 200 dpi for paper-sized pages; large pages (scans stored at 72 dpi)
         * keep their long side near 2600 px, where Tesseract reads best. */
        float want = fminf(run->ocr_dpi / 72.0f, 2600.0f / fmaxf(p->w, p->h));
        float s = capped_scale(fmaxf(want, 0.5f), p->w, p->h, OCTO_LIMIT_DOC_PIXELS / 2.0);
        fz_pixmap *pix = render(ctx, list, fz_scale(s, s), area, fz_device_gray(ctx),
                                run->cookie);
        rc = doc_ocr_page(run->ocr, fz_pixmap_samples(ctx, pix), fz_pixmap_width(ctx, pix),
                          fz_pixmap_height(ctx, pix), (int)fz_pixmap_stride(ctx, pix), s,
                          run->deadline, &run->cookie->abort, p);
        fz_drop_pixmap(ctx, pix);
        if (rc == OCTO_E_TIMEOUT) fz_throw(ctx, FZ_ERROR_ABORT, "page time limit (OCR)");
        if (rc) fz_throw(ctx, FZ_ERROR_GENERIC, "OCR failed: %s", octo_err_str(rc));
    }
}

octo_err doc_pdf_page(doc_run *run, int index, doc_page *p)
{
    fz_context *ctx = run->ctx;
    fz_page *page = NULL;
    fz_display_list *list = NULL;
    octo_err rc = OCTO_OK;
    fz_var(page);
    fz_var(list);
    fz_var(rc);
    fz_try(ctx)
    {
        page = fz_load_page(ctx, run->doc, index);
        page_body(ctx, run, page, p, &list);
        rc = doc_table_find(p, run->table_enable);
        if (!rc) rc = doc_layout_page(p);
        for (int i = 0; i < p->n_blocks && !rc && run->render_images; i++) {
            dblock *b = &p->blocks[i];
            if (b->type == DB_IMAGE || b->type == DB_TABLE) crop_block(ctx, run, list, p, b);
        }
        if (run->cookie->abort || octo_now() > run->deadline)
            fz_throw(ctx, FZ_ERROR_ABORT, "page time limit");
    }
    fz_always(ctx)
    {
        fz_drop_display_list(ctx, list);
        fz_drop_page(ctx, page);
    }
    fz_catch(ctx)
    {
        bool abort = fz_caught(ctx) == FZ_ERROR_ABORT || run->cookie->abort;
        bool nomem = fz_caught(ctx) == FZ_ERROR_MEMORY;
        snprintf(run->err, sizeof run->err, "page %d: %s", index + 1,
                 abort ? "took longer than the per-page time limit" : fz_caught_message(ctx));
        return abort ? OCTO_E_TIMEOUT : nomem ? OCTO_E_NOMEM : OCTO_E_PARSE;
    }
    if (rc) snprintf(run->err, sizeof run->err, "page %d: %s", index + 1, octo_err_str(rc));
    return rc;
}
