/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_layout — from lines to an ordered page of blocks. Figures are raster
 * images and dense clusters of drawn shapes (their labels go with them);
 * the remaining lines become paragraphs by vertical adjacency, overlap and
 * style; captions attach to the figure or table beside them; reading order
 * is a recursive XY-cut that prefers column gutters and cuts full-width
 * elements out first. The document pass finds headings from font-size
 * statistics and drops running headers, footers and page numbers.
 *
 * It is rule-based on purpose (no learned layout model), and it knows
 * nothing of MuPDF or Tesseract: pages come in as lines, rules and boxes.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doc_int.h"

/* ==== geometry ==== */

float doc_box_w(dbox b) { return b.x1 - b.x0; }
float doc_box_h(dbox b) { return b.y1 - b.y0; }

dbox doc_box_union(dbox a, dbox b)
{
    return (dbox){fminf(a.x0, b.x0), fminf(a.y0, b.y0), fmaxf(a.x1, b.x1), fmaxf(a.y1, b.y1)};
}

float doc_box_overlap_area(dbox a, dbox b)
{
    float w = fminf(a.x1, b.x1) - fmaxf(a.x0, b.x0), h = fminf(a.y1, b.y1) - fmaxf(a.y0, b.y0);
    return w > 0 && h > 0 ? w * h : 0;
}

bool doc_box_inside(dbox in, dbox out, float s)
{
    return in.x0 >= out.x0 - s && in.y0 >= out.y0 - s && in.x1 <= out.x1 + s &&
           in.y1 <= out.y1 + s;
}

static float x_overlap(dbox a, dbox b) { return fminf(a.x1, b.x1) - fmaxf(a.x0, b.x0); }
static float box_gap(dbox a, dbox b)
{
    float dx = fmaxf(0, fmaxf(a.x0, b.x0) - fminf(a.x1, b.x1));
    float dy = fmaxf(0, fmaxf(a.y0, b.y0) - fminf(a.y1, b.y1));
    return fmaxf(dx, dy);
}

/* ==== growable arrays in the page arena ==== */

static void *grow(octo_arena *a, void *arr, int n, int *cap, size_t elem)
{
    if (n < *cap) return arr;
    int nc = *cap ? *cap * 2 : 64;
    void *na = octo_arena_alloc(a, (size_t)nc * elem);
    if (!na) return NULL;
    if (n) memcpy(na, arr, (size_t)n * elem);
    *cap = nc;
    return na;
}

octo_err doc_page_add_line(doc_page *p, const dline *l)
{
    dline *a = grow(p->arena, p->lines, p->n_lines, &p->cap_lines, sizeof *a);
    if (!a) return OCTO_E_NOMEM;
    p->lines = a;
    a[p->n_lines++] = *l;
    return OCTO_OK;
}

int doc_page_add_words(doc_page *p, const dword *w, int n)
{
    if (n <= 0) return p->n_words;
    int need = p->n_words + n;
    if (need > p->cap_words) {
        int nc = p->cap_words ? p->cap_words : 256;
        while (nc < need) nc *= 2;
        dword *a = octo_arena_alloc(p->arena, (size_t)nc * sizeof *a);
        if (!a) return -1;
        if (p->n_words) memcpy(a, p->words, (size_t)p->n_words * sizeof *a);
        p->words = a; /* the old block stays valid in the arena */
        p->cap_words = nc;
    }
    int first = p->n_words;
    memmove(p->words + first, w, (size_t)n * sizeof *w);
    p->n_words += n;
    return first;
}

octo_err doc_page_add_rule(doc_page *p, dbox b, bool horizontal)
{
    if (p->n_rules >= 20000) return OCTO_OK; /* enough to find any table */
    drule *a = grow(p->arena, p->rules, p->n_rules, &p->cap_rules, sizeof *a);
    if (!a) return OCTO_E_NOMEM;
    p->rules = a;
    a[p->n_rules++] = (drule){b, horizontal};
    return OCTO_OK;
}

octo_err doc_page_add_pic(doc_page *p, dbox b)
{
    if (p->n_pics >= 2000) return OCTO_OK;
    dbox *a = grow(p->arena, p->pics, p->n_pics, &p->cap_pics, sizeof *a);
    if (!a) return OCTO_E_NOMEM;
    p->pics = a;
    a[p->n_pics++] = b;
    return OCTO_OK;
}

octo_err doc_page_add_path(doc_page *p, dbox b)
{
    if (p->n_paths >= 20000) return OCTO_OK;
    dbox *a = grow(p->arena, p->paths, p->n_paths, &p->cap_paths, sizeof *a);
    if (!a) return OCTO_E_NOMEM;
    p->paths = a;
    a[p->n_paths++] = b;
    return OCTO_OK;
}

dblock *doc_page_new_block(doc_page *p, dblock_type t)
{
    dblock *a = grow(p->arena, p->blocks, p->n_blocks, &p->cap_blocks, sizeof *a);
    if (!a) return NULL;
    p->blocks = a;
    dblock *b = &a[p->n_blocks++];
    memset(b, 0, sizeof *b);
    b->type = t;
    b->owner = -1;
    b->first_line = -1;
    return b;
}

/* ==== figures ==== */

/* Merges boxes closer than `gap` into clusters (in place); returns the
 * count. counts[i] receives how many inputs each cluster has. */
static int cluster(dbox *b, int n, float gap, int *counts)
{
    for (int i = 0; i < n; i++) counts[i] = 1;
    bool merged = true;
    /* A few passes join nearly everything; the cap bounds the worst case. */
    for (int pass = 0; merged && pass < 8; pass++) {
        merged = false;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                if (box_gap(b[i], b[j]) > gap) continue;
                b[i] = doc_box_union(b[i], b[j]);
                counts[i] += counts[j];
                b[j] = b[--n];
                counts[j] = counts[n];
                merged = true;
                j--;
            }
        }
    }
    return n;
}

static int chars_inside(const doc_page *p, dbox r)
{
    int c = 0;
    for (int i = 0; i < p->n_lines; i++)
        if (!p->lines[i].used && doc_box_inside(p->lines[i].box, r, 2)) c += p->lines[i].nchars;
    return c;
}

/* Axis labels and legends sit just outside a chart's drawn area: short
 * lines touching the figure join it. */
static void absorb_labels(doc_page *p, dbox *f)
{
    bool grew = true;
    for (int round = 0; grew && round < 4; round++) {
        grew = false;
        for (int i = 0; i < p->n_lines; i++) {
            dline *l = &p->lines[i];
            if (l->used || l->nchars > 14 || box_gap(l->box, *f) > 1.2f * l->size) continue;
            if (x_overlap(l->box, *f) < 0 && fminf(l->box.y1, f->y1) - fmaxf(l->box.y0, f->y0) < 0)
                continue;
            *f = doc_box_union(*f, l->box);
            grew = true;
        }
    }
}

static bool in_table(const doc_page *p, dbox r)
{
    for (int i = 0; i < p->n_blocks; i++)
        if (p->blocks[i].type == DB_TABLE && doc_box_overlap_area(p->blocks[i].box, r) > 0)
            return true;
    return false;
}

/* Share of a region covered by free text lines (fully inside it). */
static float text_cover(const doc_page *p, dbox r)
{
    float a = 0;
    for (int i = 0; i < p->n_lines; i++)
        if (!p->lines[i].used && doc_box_inside(p->lines[i].box, r, 2))
            a += doc_box_w(p->lines[i].box) * doc_box_h(p->lines[i].box);
    float area = doc_box_w(r) * doc_box_h(r);
    return area > 0 ? a / area : 1;
}

static octo_err add_figure(doc_page *p, dbox r)
{
    dblock *f = doc_page_new_block(p, DB_IMAGE);
    if (!f) return OCTO_E_NOMEM;
    f->box = r;
    absorb_labels(p, &f->box);
    for (int l = 0; l < p->n_lines; l++) {
        dline *ln = &p->lines[l];
        float cx = (ln->box.x0 + ln->box.x1) / 2, cy = (ln->box.y0 + ln->box.y1) / 2;
        if (!ln->used && cx >= f->box.x0 && cx <= f->box.x1 && cy >= f->box.y0 &&
            cy <= f->box.y1)
            ln->used = true;
    }
    return OCTO_OK;
}

/* A candidate region is a figure unless text fills much of it (a framed
 * text box, a page behind its text layer). */
static bool figure_ok(const doc_page *p, dbox r)
{
    return doc_box_w(r) >= 30 && doc_box_h(r) >= 30 && !in_table(p, r) &&
           chars_inside(p, r) <= 400 && text_cover(p, r) < 0.15f;
}

static octo_err find_figures(doc_page *p)
{
    int n = p->n_pics + (p->n_paths > 2000 ? 2000 : p->n_paths);
    if (n == 0) return OCTO_OK;
    dbox *b = octo_arena_alloc(p->arena, (size_t)n * sizeof *b);
    int *cnt = octo_arena_alloc(p->arena, (size_t)n * sizeof *cnt);
    if (!b || !cnt) return OCTO_E_NOMEM;
    int k = 0;
    for (int i = 0; i < p->n_pics; i++) b[k++] = p->pics[i];
    for (int i = 0; i < p->n_paths && k < n; i++)
        if (!in_table(p, p->paths[i])) b[k++] = p->paths[i];
    int m = cluster(b, k, 6.0f, cnt);
    octo_err rc = OCTO_OK;
    for (int i = 0; i < m && !rc; i++) {
        bool has_pic = false;
        for (int j = 0; j < p->n_pics; j++) has_pic |= doc_box_inside(p->pics[j], b[i], 1);
        /* Grid lines of a chart count as its shapes too. */
        for (int j = 0; j < p->n_rules; j++) cnt[i] += doc_box_inside(p->rules[j].box, b[i], 1);
        float w = doc_box_w(b[i]), h = doc_box_h(b[i]);
        if (!has_pic && (cnt[i] < 12 || w * h < 0.015f * p->w * p->h)) continue;
        if (figure_ok(p, b[i])) {
            rc = add_figure(p, b[i]);
            continue;
        }
        /* The cluster is no figure as a whole: its pictures may be, alone. */
        for (int j = 0; j < p->n_pics && !rc; j++)
            if (doc_box_inside(p->pics[j], b[i], 1) && figure_ok(p, p->pics[j]) &&
                doc_box_w(p->pics[j]) * doc_box_h(p->pics[j]) >= 0.01f * p->w * p->h)
                rc = add_figure(p, p->pics[j]);
    }
    return rc;
}

/* ==== paragraphs ==== */

static bool starts_bullet(const char *t)
{
    uint32_t cp = doc_text_first_cp(t);
    if (cp == 0x2022 || cp == 0x00B7 || cp == 0x25AA || cp == 0x25CF || cp == 0x25A0 ||
        cp == 0x2013 || cp == 0x25E6 || cp == 0x27A2 || cp == 0x2666 ||
        (cp >= 0xE000 && cp <= 0xF8FF)) /* symbol-font bullets */
        return true;
    if ((t[0] == '-' || t[0] == '*') && t[1] == ' ') return true;
    return false;
}

static bool ends_sentence(const char *t)
{
    uint32_t c = doc_text_last_cp(t);
    return c == '.' || c == ':' || c == '!' || c == '?' || c == 0x3002 || c == 0xFF1A ||
           c == 0xFF01 || c == 0xFF1F;
}

/* Few letters and a relation or operator sign, or undecodable glyphs: a
 * display formula (the "=" of some math fonts decodes as U+00BC). */
static bool formula_like(const char *t)
{
    /* Glyphs that math fonts without a Unicode map decode to: U+00BC for
     * "=", U+00F0/U+00DE for parentheses, U+FFFD, and the minus sign. */
    bool odd = strstr(t, "\xc2\xbc") || strstr(t, "\xc3\xb0") || strstr(t, "\xc3\x9e") ||
               strstr(t, "\xef\xbf\xbd");
    if (odd && strlen(t) < 120) return true;
    int letters, other;
    doc_text_letters(t, &letters, &other);
    if (letters >= 2 * other && letters >= 12) return false;
    return odd || strstr(t, "=") || strstr(t, "\xe2\x88\x92");
}

static int cmp_line_y(const void *a, const void *b)
{
    const dline *x = a, *y = b;
    float d = x->box.y0 - y->box.y0;
    if (fabsf(d) > 1.0f) return d < 0 ? -1 : 1;
    return (x->box.x0 > y->box.x0) - (x->box.x0 < y->box.x0);
}

typedef struct para {
    dbox box;
    int last;       /* index of its last line */
    int n;
    float size;
    bool bold;
    bool closed;
} para;

/* Can line l continue paragraph q? */
static bool continues(const doc_page *p, const para *q, const dline *l)
{
    const dline *last = &p->lines[q->last];
    float size = fmaxf(q->size, l->size);
    float gap = l->box.y0 - last->box.y1;
    if (q->closed || gap > 0.8f * size || gap < -0.5f * size) return false;
    if (fabsf(l->size - q->size) > 0.15f * size) return false;
    float ov = x_overlap(q->box, l->box);
    float narrow = fminf(doc_box_w(q->box), doc_box_w(l->box));
    if (ov < 0.5f * narrow) return false;
    /* A change of weight starts a new block (a heading and its text),
     * except after a bold run-in line that fills the column width. */
    bool run_in = q->n == 1 && q->bold && !l->bold && last->box.x1 >= l->box.x1 - 1.5f * size;
    if (l->bold != q->bold && (q->n <= 2 || l->bold) && !run_in) return false;
    if (starts_bullet(l->text)) return false;
    /* A short last line ending a sentence closes the paragraph, and so
     * does an indented new first line. */
    if (last->box.x1 < q->box.x1 - 2.5f * size && ends_sentence(last->text)) return false;
    if (q->n >= 2 && l->box.x0 > q->box.x0 + 0.8f * size && ends_sentence(last->text))
        return false;
    return true;
}

/* Does any other free line near this one run across the x-interval
 * [x0, x1]? Word gaps of justified text are crossed by the lines above and
 * below; a column gutter is crossed by none. */
static bool gap_crossed(const doc_page *p, int self, float x0, float x1, float y)
{
    /* Lines are sorted by y0: walk out from self while within 60 pt. A word
     * gap has crossing lines above and below; a gutter next to a
     * full-width note on one side only does not count. */
    bool side[2] = {false, false};
    for (int dir = -1; dir <= 1; dir += 2)
        for (int k = self + dir; k >= 0 && k < p->n_lines; k += dir) {
            const dline *o = &p->lines[k];
            if (fabsf(o->box.y0 - y) > 61) break;
            if (o->used || fabsf(o->box.y0 - y) < 2) continue;
            if (o->box.x0 < x0 - 1 && o->box.x1 > x1 + 1) side[o->box.y0 > y] = true;
        }
    return side[0] && side[1];
}

/* Joins pieces of one justified line that a wide word gap split apart. */
static octo_err join_split_lines(doc_page *p)
{
    for (int i = 0; i < p->n_lines; i++) {
        dline *a = &p->lines[i];
        if (a->used) continue;
        for (int j = i + 1; j < p->n_lines; j++) {
            dline *b = &p->lines[j];
            if (b->box.y0 > a->box.y1) break; /* sorted by y0 */
            float gap = b->box.x0 - a->box.x1, sz = fmaxf(a->size, b->size);
            if (b->used || gap <= 0 || gap > 3.5f * sz ||
                fabsf((a->box.y0 + a->box.y1) - (b->box.y0 + b->box.y1)) > 0.6f * sz ||
                fabsf(a->size - b->size) > 0.2f * sz)
                continue;
            if (!gap_crossed(p, i, a->box.x1, b->box.x0, a->box.y0)) continue;
            size_t na = strlen(a->text), nb = strlen(b->text);
            char *t = octo_arena_alloc(p->arena, na + nb + 2);
            if (!t) return OCTO_E_NOMEM;
            memcpy(t, a->text, na);
            t[na] = ' ';
            memcpy(t + na + 1, b->text, nb + 1);
            /* The words of both pieces, b's offsets moved past a's text. */
            int fw = doc_page_add_words(p, p->words + a->first_word, a->n_words);
            int fw2 = fw < 0 ? -1 : doc_page_add_words(p, p->words + b->first_word, b->n_words);
            if (fw < 0 || fw2 < 0) return OCTO_E_NOMEM;
            for (int w = 0; w < b->n_words; w++) p->words[fw2 + w].off += (int)na + 1;
            a->first_word = fw;
            a->n_words += b->n_words;
            a->text = t;
            a->box = doc_box_union(a->box, b->box);
            a->nchars += b->nchars;
            b->used = true;
            j = i; /* look again from the start: more pieces may follow */
        }
    }
    return OCTO_OK;
}

static octo_err make_paragraphs(doc_page *p)
{
    if (p->n_lines == 0) return OCTO_OK;
    /* Sort the free lines to the front in y order; used ones keep no order. */
    qsort(p->lines, (size_t)p->n_lines, sizeof *p->lines, cmp_line_y);
    octo_err rc = join_split_lines(p);
    if (rc) return rc;
    int nl = p->n_lines;
    para *ps = octo_arena_alloc(p->arena, (size_t)(nl ? nl : 1) * sizeof *ps);
    int *owner = octo_arena_alloc(p->arena, (size_t)(nl ? nl : 1) * sizeof *owner);
    if (!ps || !owner) return OCTO_E_NOMEM;
    int np = 0;
    for (int i = 0; i < nl; i++) {
        dline *l = &p->lines[i];
        owner[i] = -1;
        if (l->used) continue;
        int best = -1;
        float best_gap = 1e9f;
        for (int j = np - 1; j >= 0 && j >= np - 40; j--) {
            if (!continues(p, &ps[j], l)) continue;
            float g = l->box.y0 - p->lines[ps[j].last].box.y1;
            if (g < best_gap) {
                best_gap = g;
                best = j;
            }
        }
        if (best < 0) {
            best = np++;
            ps[best] = (para){l->box, i, 0, l->size, l->bold, false};
        }
        para *q = &ps[best];
        q->box = doc_box_union(q->box, l->box);
        q->last = i;
        q->n++;
        owner[i] = best;
        if (starts_bullet(l->text) && q->n == 1) q->closed = false;
    }
    /* Reorder lines so that each paragraph's lines are contiguous. */
    dline *sorted = octo_arena_alloc(p->arena, (size_t)(nl ? nl : 1) * sizeof *sorted);
    int *start = octo_arena_alloc(p->arena, (size_t)(np ? np : 1) * sizeof *start);
    if (!sorted || !start) return OCTO_E_NOMEM;
    int k = 0;
    for (int q = 0; q < np; q++) {
        start[q] = k;
        for (int i = 0; i < nl; i++)
            if (owner[i] == q) sorted[k++] = p->lines[i];
    }
    for (int i = 0; i < nl; i++)
        if (owner[i] < 0) sorted[k++] = p->lines[i];
    memcpy(p->lines, sorted, (size_t)nl * sizeof *sorted);
    for (int q = 0; q < np; q++) {
        dblock *b = doc_page_new_block(p, starts_bullet(p->lines[start[q]].text) ? DB_LIST
                                                                                 : DB_TEXT);
        if (!b) return OCTO_E_NOMEM;
        b->box = ps[q].box;
        b->first_line = start[q];
        b->n_lines = ps[q].n;
        b->size = ps[q].size;
        b->bold = ps[q].bold;
        int math = 0;
        b->font = p->lines[b->first_line].font;
        for (int i = 0; i < b->n_lines; i++) {
            math += p->lines[b->first_line + i].mathfont;
            if (p->lines[b->first_line + i].font != b->font) b->font = 0;
            b->bold &= p->lines[b->first_line + i].bold; /* bold only when all lines are */
        }
        b->text = doc_text_join(p, b->first_line, b->n_lines);
        if (!b->text) return OCTO_E_NOMEM;
        if (b->n_lines <= 3 && strlen(b->text) >= 4 &&
            (math * 2 > b->n_lines || formula_like(b->text)))
            b->type = DB_EQUATION;
    }
    return OCTO_OK;
}

/* ==== captions ==== */

static bool caption_prefix(const char *t, bool *table)
{
    static const char *fig[] = {"Fig.", "Fig ", "Figure", "FIGURE", "FIG.", "图", "Chart",
                                "Scheme"};
    static const char *tab[] = {"Table", "TABLE", "Tab.", "表"};
    for (size_t i = 0; i < sizeof fig / sizeof *fig; i++) {
        size_t n = strlen(fig[i]);
        if (!strncmp(t, fig[i], n)) {
            *table = false;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
        size_t n = strlen(tab[i]);
        if (!strncmp(t, tab[i], n)) {
            const char *r = t + n;
            while (*r == ' ') r++;
            unsigned char c = (unsigned char)*r;
            if (isdigit(c) || c >= 0x80 || isupper(c)) {
                *table = true;
                return true;
            }
        }
    }
    return false;
}

static void attach_captions(doc_page *p)
{
    for (int i = 0; i < p->n_blocks; i++) {
        dblock *c = &p->blocks[i];
        bool table;
        if (c->type != DB_TEXT || !caption_prefix(c->text, &table)) continue;
        int best = -1;
        float best_d = 60.0f;
        for (int j = 0; j < p->n_blocks; j++) {
            dblock *o = &p->blocks[j];
            if (o->type != (table ? DB_TABLE : DB_IMAGE)) continue;
            if (x_overlap(o->box, c->box) < 0.3f * fminf(doc_box_w(o->box), doc_box_w(c->box)))
                continue;
            float d = c->box.y0 >= o->box.y1 ? c->box.y0 - o->box.y1 : o->box.y0 - c->box.y1;
            if (d > -5 && d < best_d) {
                best_d = d;
                best = j;
            }
        }
        if (best < 0) continue;
        c->type = DB_CAPTION;
        c->owner = best;
    }
}

/* ==== reading order: XY-cut ==== */

typedef struct xy {
    const dblock *bl;
    int *out;
    int n_out;
} xy;

static int by_x(const void *a, const void *b, void *ctx)
{
    const dblock *bl = ctx;
    float d = bl[*(const int *)a].box.x0 - bl[*(const int *)b].box.x0;
    return (d > 0) - (d < 0);
}

static int by_y(const void *a, const void *b, void *ctx)
{
    const dblock *bl = ctx;
    const dbox *x = &bl[*(const int *)a].box, *y = &bl[*(const int *)b].box;
    float d = x->y0 - y->y0;
    if (d == 0) d = x->x0 - y->x0;
    return (d > 0) - (d < 0);
}

static void xycut(xy *s, int *idx, int n, int depth);

/* Splits idx (sorted by key) wherever the running max end falls short of the
 * next start by more than `gap`. Returns the number of groups; starts[]
 * receives each group's first position. */
static int split(const dblock *bl, int *idx, int n, bool xaxis, float gap, int *starts)
{
    int k = 0;
    float end = -1e9f;
    for (int i = 0; i < n; i++) {
        dbox b = bl[idx[i]].box;
        float s0 = xaxis ? b.x0 : b.y0, s1 = xaxis ? b.x1 : b.y1;
        if (i == 0 || s0 > end + gap) starts[k++] = i;
        end = i == 0 ? s1 : fmaxf(end, s1);
    }
    return k;
}

static void xycut(xy *s, int *idx, int n, int depth)
{
    dblock *bl = (dblock *)s->bl;
    if (n <= 1 || depth > 64) {
        qsort_r(idx, (size_t)n, sizeof *idx, by_y, bl);
        for (int i = 0; i < n; i++) s->out[s->n_out++] = idx[i];
        return;
    }
    int *starts = octo_malloc((size_t)(n + 1) * sizeof *starts);
    if (!starts) {
        for (int i = 0; i < n; i++) s->out[s->n_out++] = idx[i];
        return;
    }
    qsort_r(idx, (size_t)n, sizeof *idx, by_x, bl);
    int k = split(bl, idx, n, true, 4.0f, starts);
    if (k < 2) {
        qsort_r(idx, (size_t)n, sizeof *idx, by_y, bl);
        k = split(bl, idx, n, false, 1.0f, starts);
        if (k >= 2) {
            /* Merge neighbouring stripes that hold no full-width block: they
             * are pieces of a column layout whose gaps happen to align. */
            float x0 = 1e9f, x1 = -1e9f;
            for (int i = 0; i < n; i++) {
                x0 = fminf(x0, bl[idx[i]].box.x0);
                x1 = fmaxf(x1, bl[idx[i]].box.x1);
            }
            int m = 0;
            bool prev_narrow = false;
            for (int g = 0; g < k; g++) {
                int e = g + 1 < k ? starts[g + 1] : n;
                bool narrow = true;
                for (int i = starts[g]; i < e; i++)
                    narrow &= doc_box_w(bl[idx[i]].box) < 0.55f * (x1 - x0);
                if (g > 0 && narrow && prev_narrow) {
                    prev_narrow = narrow;
                    continue;
                }
                starts[m++] = starts[g];
                prev_narrow = narrow;
            }
            if (m >= 2) {
                k = m;
            } else {
                /* All narrow (something small, e.g. a running header, blocks
                 * the gutter): peel the top stripe off and try again below. */
                k = 2;
            }
        }
    }
    if (k < 2) {
        for (int i = 0; i < n; i++) s->out[s->n_out++] = idx[i];
    } else {
        starts[k] = n;
        for (int g = 0; g < k; g++) xycut(s, idx + starts[g], starts[g + 1] - starts[g], depth + 1);
    }
    octo_free(starts);
}

static octo_err order_blocks(doc_page *p)
{
    int n = p->n_blocks;
    if (n < 2) return OCTO_OK;
    int *idx = octo_arena_alloc(p->arena, (size_t)n * sizeof *idx);
    int *out = octo_arena_alloc(p->arena, (size_t)n * sizeof *out);
    int *pos = octo_arena_alloc(p->arena, (size_t)n * sizeof *pos);
    dblock *nb = octo_arena_alloc(p->arena, (size_t)n * sizeof *nb);
    if (!idx || !out || !pos || !nb) return OCTO_E_NOMEM;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (p->blocks[i].type != DB_CAPTION) idx[k++] = i;
    xy s = {p->blocks, out, 0};
    xycut(&s, idx, k, 0);
    /* Captions follow (figures) or precede (tables) their owner. */
    int m = 0;
    for (int i = 0; i < s.n_out; i++) {
        int b = out[i];
        for (int c = 0; c < n && p->blocks[b].type == DB_TABLE; c++)
            if (p->blocks[c].type == DB_CAPTION && p->blocks[c].owner == b &&
                p->blocks[c].box.y1 <= p->blocks[b].box.y0 + 5)
                nb[pos[c] = m++] = p->blocks[c];
        nb[pos[b] = m++] = p->blocks[b];
        for (int c = 0; c < n; c++)
            if (p->blocks[c].type == DB_CAPTION && p->blocks[c].owner == b &&
                !(p->blocks[b].type == DB_TABLE && p->blocks[c].box.y1 <= p->blocks[b].box.y0 + 5))
                nb[pos[c] = m++] = p->blocks[c];
    }
    OCTO_ASSERT(m == n);
    for (int i = 0; i < n; i++) {
        if (nb[i].type != DB_CAPTION) continue;
        nb[i].owner = pos[nb[i].owner];
        const dblock *own = &nb[nb[i].owner];
        nb[i].footnote = own->type == DB_TABLE && nb[i].box.y0 >= own->box.y1 - 5;
    }
    memcpy(p->blocks, nb, (size_t)n * sizeof *nb);
    return OCTO_OK;
}

octo_err doc_layout_page(doc_page *p)
{
    octo_err rc = find_figures(p);
    if (!rc) rc = make_paragraphs(p);
    if (rc) return rc;
    attach_captions(p);
    return order_blocks(p);
}

/* ==== document pass: headings, running headers and footers ==== */

static float body_size(doc_page **pages, int n)
{
    /* Weighted mode of line sizes in half points. */
    enum { NB = 200 };
    double hist[NB] = {0};
    for (int i = 0; i < n; i++)
        for (int l = 0; l < pages[i]->n_lines; l++) {
            int b = (int)lrintf(pages[i]->lines[l].size * 2);
            if (b > 0 && b < NB) hist[b] += pages[i]->lines[l].nchars;
        }
    int best = 20;
    for (int b = 1; b < NB; b++)
        if (hist[b] > hist[best]) best = b;
    return best / 2.0f;
}

/* The share of characters set in each font, to tell an emphasis font
 * (bold under an obfuscated name) from the body font. */
typedef struct font_stats {
    uint32_t id[64];
    double chars[64];
    double total;
    uint32_t body;
} font_stats;

static void font_count(doc_page **pages, int n, font_stats *fs)
{
    memset(fs, 0, sizeof *fs);
    for (int i = 0; i < n; i++)
        for (int l = 0; l < pages[i]->n_lines; l++) {
            const dline *ln = &pages[i]->lines[l];
            fs->total += ln->nchars;
            for (int k = 0; k < 64; k++) {
                if (fs->chars[k] == 0) fs->id[k] = ln->font;
                if (fs->id[k] != ln->font) continue;
                fs->chars[k] += ln->nchars;
                break;
            }
        }
    int best = 0;
    for (int k = 1; k < 64; k++)
        if (fs->chars[k] > fs->chars[best]) best = k;
    fs->body = fs->id[best];
}

static bool emphasised(const dblock *b, const font_stats *fs)
{
    if (b->bold) return true;
    if (!b->font || b->font == fs->body) return false;
    for (int k = 0; k < 64; k++)
        if (fs->id[k] == b->font && fs->chars[k] > 0) return fs->chars[k] < 0.15 * fs->total;
    return false;
}

static int section_depth(const char *t)
{
    /* "2.", "2.1", "2.1.3" followed by a space and a letter. */
    int depth = 0;
    const char *s = t;
    while (isdigit((unsigned char)*s)) {
        while (isdigit((unsigned char)*s)) s++;
        depth++;
        if (*s == '.') s++;
        else break;
    }
    if (!depth || *s != ' ') return 0;
    while (*s == ' ') s++;
    return isupper((unsigned char)*s) || (unsigned char)*s >= 0x80 ? depth : 0;
}

static bool title_like(const dblock *b, float body, const font_stats *fs)
{
    if (b->type != DB_TEXT || b->n_lines > 3 || !b->text) return false;
    if (doc_text_last_cp(b->text) == '-') return false; /* a word goes on below */
    int commas = 0;
    for (const char *s = b->text; *s; s++) commas += *s == ',';
    if (commas >= 3) return false;
    size_t n = strlen(b->text);
    if (n < 2 || n > 160) return false;
    bool digits = true;
    for (const char *s = b->text; *s; s++)
        digits &= isdigit((unsigned char)*s) || *s == ' ' || *s == '.';
    if (digits) return false;
    int letters, other;
    doc_text_letters(b->text, &letters, &other);
    bool cjk = doc_cp_is_cjk(doc_text_first_cp(b->text));
    if (letters < (cjk ? 2 : 4) || letters < 2 * other) return false;
    if (b->size >= body * 1.25f) return true;
    int depth = section_depth(b->text);
    bool emph = emphasised(b, fs);
    if (emph && b->n_lines <= 2 && n <= 100 && b->size >= body * (depth ? 0.7f : 0.85f) &&
        (depth || !ends_sentence(b->text) || doc_text_last_cp(b->text) == ':'))
        return true;
    return depth > 0 && b->n_lines == 1 && n <= 80 && b->size > body * 1.05f;

}

static void headings(doc_page **pages, int n, float body)
{
    float ocr_body = body;
    font_stats fs;
    font_count(pages, n, &fs);
    float sizes[3] = {0};
    int ns = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < pages[i]->n_blocks; j++) {
            dblock *b = &pages[i]->blocks[j];
            /* OCR line heights are noisy: only clearly larger lines head there. */
            if (pages[i]->ocr && (b->size < ocr_body * 1.5f || strlen(b->text) > 60)) continue;
            if (!title_like(b, body, &fs)) continue;
            b->type = DB_TITLE;
            float s = roundf(b->size);
            bool seen = false;
            for (int k = 0; k < ns; k++) seen |= sizes[k] == s;
            if (seen) continue;
            if (ns < 3) sizes[ns++] = s;
            else {
                int lo = 0;
                for (int k = 1; k < 3; k++)
                    if (sizes[k] < sizes[lo]) lo = k;
                if (s > sizes[lo]) sizes[lo] = s;
            }
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < pages[i]->n_blocks; j++) {
            dblock *b = &pages[i]->blocks[j];
            if (b->type != DB_TITLE) continue;
            int level = 1;
            for (int k = 0; k < ns; k++) level += sizes[k] > roundf(b->size);
            int depth = section_depth(b->text);
            if (depth > level) level = depth;
            b->level = level > 3 ? 3 : level;
        }
}

static bool page_number(const char *t)
{
    const char *s = t;
    while (*s == '-' || *s == ' ' || *s == '(' || *s == '[') s++;
    if (!strncasecmp(s, "page ", 5)) s += 5;
    int d = 0;
    while (isdigit((unsigned char)*s)) s++, d++;
    if (d && (!strncmp(s, " of ", 4) || *s == '/')) {
        s += *s == '/' ? 1 : 4;
        while (isdigit((unsigned char)*s)) s++;
    }
    while (*s == '-' || *s == ' ' || *s == ')' || *s == ']') s++;
    if (d == 0) { /* roman numerals */
        const char *r = t;
        while (*r && strchr("ivxlcIVXLC", *r)) r++;
        return r != t && *r == 0 && r - t <= 6;
    }
    return *s == 0 && d <= 5;
}

/* Text with digits folded, for comparing running headers across pages. */
static void fold(const char *t, char *out, size_t cap)
{
    size_t k = 0;
    for (; *t && k + 1 < cap; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == ' ') continue;
        out[k++] = isdigit(c) ? '#' : (char)tolower(c);
    }
    out[k] = 0;
}

static bool in_band(const doc_page *p, const dblock *b)
{
    return (b->box.y1 < p->h * 0.12f || b->box.y0 > p->h * 0.9f) && b->n_lines <= 2;
}

typedef struct band_key {
    uint64_t h;
    int page;
} band_key;

static int cmp_key(const void *x, const void *y)
{
    const band_key *a = x, *b = y;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    return (a->page > b->page) - (a->page < b->page);
}

static uint64_t fold_hash(const char *t)
{
    char f[128];
    fold(t, f, sizeof f);
    uint64_t h = 1469598103934665603ull;
    for (const char *s = f; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Page numbers, and blocks in the top or bottom band whose text (digits
 * folded) appears in the band of another page: sorted hashes, so that long
 * documents stay O(n log n). */
static void running(doc_page **pages, int n)
{
    size_t nk = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < pages[i]->n_blocks; j++)
            nk += pages[i]->blocks[j].text && in_band(pages[i], &pages[i]->blocks[j]);
    band_key *k = nk ? octo_malloc(nk * sizeof *k) : NULL;
    size_t m = 0;
    for (int i = 0; k && i < n; i++)
        for (int j = 0; j < pages[i]->n_blocks; j++)
            if (pages[i]->blocks[j].text && in_band(pages[i], &pages[i]->blocks[j]))
                k[m++] = (band_key){fold_hash(pages[i]->blocks[j].text), i};
    if (k) qsort(k, m, sizeof *k, cmp_key);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < pages[i]->n_blocks; j++) {
            dblock *b = &pages[i]->blocks[j];
            if (!(b->type == DB_TEXT || b->type == DB_TITLE) || !in_band(pages[i], b)) continue;
            if (page_number(b->text)) {
                b->type = DB_DISCARD;
                continue;
            }
            if (!k) continue;
            uint64_t h = fold_hash(b->text);
            size_t lo = 0, hi = m;
            while (lo < hi) { /* first key >= h */
                size_t mid = (lo + hi) / 2;
                if (k[mid].h < h) lo = mid + 1;
                else hi = mid;
            }
            size_t e = lo;
            while (e < m && k[e].h == h) e++;
            if (e > lo && k[lo].page != k[e - 1].page) b->type = DB_DISCARD;
        }
    octo_free(k);
}

void doc_layout_document(doc_page **pages, int n)
{
    running(pages, n);
    headings(pages, n, body_size(pages, n));
}
