/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_table — tables from ruling lines and text alignment. Ruling lines are
 * grouped into regions (a grid whose lines touch, or a stack of horizontal
 * rules of the same extent, as booktabs tables draw them); inside a region,
 * column boundaries come from vertical rules or else from the gaps in the
 * text's horizontal projection, row boundaries from horizontal rules or
 * else from text baselines; cells missing a rule between them merge into
 * colspan/rowspan. A region that yields fewer than two rows or columns is
 * not a table. The result is HTML (<table><tr><td>).
 *
 * It deliberately does not guess tables that have no rule at all: prose
 * in columns looks the same to a rule-based finder.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "doc_int.h"

#define MAX_COLS 40
#define MAX_ROWS 200

typedef struct region {
    dbox box;
    int n_h, n_v;
} region;

static bool touches(dbox a, dbox b, float tol)
{
    return a.x0 <= b.x1 + tol && b.x0 <= a.x1 + tol && a.y0 <= b.y1 + tol && b.y0 <= a.y1 + tol;
}

static bool same_extent(const drule *a, const drule *b)
{
    return a->horizontal && b->horizontal && fabsf(a->box.x0 - b->box.x0) < 6 &&
           fabsf(a->box.x1 - b->box.x1) < 6 && fabsf(a->box.y0 - b->box.y0) < 400;
}

/* Union-find over rules: touching rules, and horizontal rules of one extent. */
static int find(int *par, int i)
{
    while (par[i] != i) i = par[i] = par[par[i]];
    return i;
}

static int dedupe(float *v, int n, float tol);
static int cut_region(const doc_page *p, region rg, region *out, int max);

static int regions_of(doc_page *p, region *out, int max)
{
    int n = p->n_rules > 3000 ? 3000 : p->n_rules;
    if (n < 2) return 0;
    int *par = octo_arena_alloc(p->arena, (size_t)n * sizeof *par);
    if (!par) return 0;
    for (int i = 0; i < n; i++) par[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const drule *a = &p->rules[i], *b = &p->rules[j];
            if (touches(a->box, b->box, 1.5f) || same_extent(a, b))
                par[find(par, i)] = find(par, j);
        }
    int k = 0;
    for (int i = 0; i < n && k < max; i++) {
        if (find(par, i) != i) continue;
        region r = {p->rules[i].box, 0, 0};
        for (int j = 0; j < n; j++) {
            if (find(par, j) != i) continue;
            r.box = doc_box_union(r.box, p->rules[j].box);
            if (p->rules[j].horizontal) r.n_h++;
            else r.n_v++;
        }
        if (r.n_h >= 2 && doc_box_w(r.box) >= 60 && doc_box_h(r.box) >= 12)
            k += cut_region(p, r, out + k, max - k);
    }
    return k;
}

static bool line_in(const dline *l, dbox r);

/* Prose between two rules (several long lines) means the rules belong to
 * different tables, or to none. */
static bool prose_between(const doc_page *p, dbox r, float y0, float y1)
{
    int prose = 0;
    dbox band = {r.x0, y0, r.x1, y1};
    for (int i = 0; i < p->n_lines; i++) {
        const dline *l = &p->lines[i];
        /* The caption of the next table sits between two tables' rules. */
        bool caption = !strncmp(l->text, "Table ", 6) || !strncmp(l->text, "TABLE ", 6);
        if (line_in(l, band) && caption && l->text[6] >= '0' && l->text[6] <= '9') return true;
        if (line_in(l, band) && l->nchars >= 35 && doc_box_w(l->box) >= 0.3f * doc_box_w(r))
            prose++;
    }
    return prose >= 3;
}

/* Cuts a region at the gaps between its horizontal rules that hold prose. */
static int cut_region(const doc_page *p, region rg, region *out, int max)
{
    float ys[256];
    int n = 0;
    for (int i = 0; i < p->n_rules && n < 256; i++) {
        const drule *d = &p->rules[i];
        if (d->horizontal && doc_box_inside(d->box, rg.box, 1))
            ys[n++] = (d->box.y0 + d->box.y1) / 2;
    }
    n = dedupe(ys, n, 2.5f);
    int k = 0, start = 0;
    for (int i = 1; i <= n && k < max; i++) {
        if (i < n && !prose_between(p, rg.box, ys[i - 1], ys[i])) continue;
        if (i - start >= 2) {
            region r = rg;
            r.box.y0 = ys[start] - 1;
            r.box.y1 = ys[i - 1] + 1;
            r.n_h = i - start;
            out[k++] = r;
        }
        start = i;
    }
    return k;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Sorts and merges values closer than tol; returns the new count. */
static int dedupe(float *v, int n, float tol)
{
    qsort(v, (size_t)n, sizeof *v, cmp_f);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || v[i] - v[k - 1] > tol) v[k++] = v[i];
    return k;
}

static bool line_in(const dline *l, dbox r)
{
    float cx = (l->box.x0 + l->box.x1) / 2, cy = (l->box.y0 + l->box.y1) / 2;
    return !l->used && cx > r.x0 - 1 && cx < r.x1 + 1 && cy > r.y0 - 1 && cy < r.y1 + 1;
}

/* Column edges from vertical rules (inner ones only), else from gaps in
 * the projection of the narrower lines. Returns the edge count (cols+1). */
static int col_edges(doc_page *p, dbox r, float *e)
{
    int k = 0;
    e[k++] = r.x0;
    for (int i = 0; i < p->n_rules && k < MAX_COLS; i++) {
        const drule *d = &p->rules[i];
        if (d->horizontal || !doc_box_inside(d->box, r, 2)) continue;
        float x = (d->box.x0 + d->box.x1) / 2;
        if (x > r.x0 + 4 && x < r.x1 - 4) e[k++] = x;
    }
    if (k > 1) {
        e[k++] = r.x1;
        return dedupe(e, k, 3);
    }
    /* Projection: mark covered x positions (1 pt bins). */
    int nb = (int)ceilf(doc_box_w(r)) + 1;
    if (nb > 4000) return 0;
    unsigned char *cov = octo_arena_alloc(p->arena, (size_t)nb);
    if (!cov) return 0;
    float minsz = 100;
    for (int i = 0; i < p->n_lines; i++)
        if (line_in(&p->lines[i], r)) minsz = fminf(minsz, p->lines[i].size);
    float gap_min = fmaxf(minsz * 0.8f, 5.0f);
    /* Words of the lines that look tabular: narrow ones, or wide ones with
     * a cell-sized gap between two words (a whole row set on one line). */
    for (int i = 0; i < p->n_lines; i++) {
        const dline *l = &p->lines[i];
        if (!line_in(l, r)) continue;
        const dword *w = p->words + l->first_word;
        float widest = 0;
        for (int j = 1; j < l->n_words; j++) widest = fmaxf(widest, w[j].x0 - w[j - 1].x1);
        if (doc_box_w(l->box) > 0.6f * doc_box_w(r) && widest < gap_min) continue;
        for (int j = 0; j < (l->n_words ? l->n_words : 1); j++) {
            float x0 = l->n_words ? w[j].x0 : l->box.x0, x1 = l->n_words ? w[j].x1 : l->box.x1;
            for (int x = (int)(x0 - r.x0); x <= (int)(x1 - r.x0); x++)
                if (x >= 0 && x < nb) cov[x] = 1;
        }
    }
    int x = 0;
    while (x < nb && !cov[x]) x++;
    while (x < nb && k < MAX_COLS) {
        while (x < nb && cov[x]) x++;
        int g0 = x;
        while (x < nb && !cov[x]) x++;
        if (x < nb && x - g0 >= gap_min) e[k++] = r.x0 + (float)(g0 + x) / 2;
    }
    e[k++] = r.x1;
    return k;
}

/* Row edges from horizontal rules, else from line baselines. */
static int row_edges(doc_page *p, dbox r, bool vrules, float *e, bool *ruled)
{
    int k = 0;
    for (int i = 0; i < p->n_rules && k < MAX_ROWS; i++) {
        const drule *d = &p->rules[i];
        if (!d->horizontal || !doc_box_inside(d->box, r, 2)) continue;
        e[k++] = (d->box.y0 + d->box.y1) / 2;
    }
    k = dedupe(e, k, 2.5f);
    /* Rules with text rows between them in every gap make a ruled grid. */
    int max_rows = 0, gaps = k - 1, text_gaps = 0;
    for (int g = 0; g + 1 < k; g++) {
        int lines_in_gap = 0, rows_between = 0;
        float y_prev = -1;
        for (int i = 0; i < p->n_lines; i++) {
            const dline *l = &p->lines[i];
            float cy = (l->box.y0 + l->box.y1) / 2;
            if (!line_in(l, r) || cy < e[g] || cy > e[g + 1]) continue;
            lines_in_gap++;
            if (fabsf(cy - y_prev) > l->size * 0.6f) rows_between++;
            y_prev = cy;
        }
        text_gaps += lines_in_gap > 0;
        if (rows_between > max_rows) max_rows = rows_between;
    }
    /* Rules make the rows when every gap holds one text row, or, in a grid
     * with vertical rules too, a few (wrapped cells). Booktabs tables have
     * rules only around the header and body: their rows come from text. */
    *ruled = gaps >= 2 && text_gaps == gaps && (max_rows == 1 || (vrules && max_rows <= 3));
    if (*ruled) return k;
    /* Text rows: cluster line centres. */
    float ys[MAX_ROWS];
    int n = 0;
    float sz = 10;
    for (int i = 0; i < p->n_lines && n < MAX_ROWS; i++) {
        const dline *l = &p->lines[i];
        if (!line_in(l, r)) continue;
        ys[n++] = (l->box.y0 + l->box.y1) / 2;
        sz = l->size;
    }
    n = dedupe(ys, n, sz * 0.5f);
    if (n < 2) return 0;
    e[0] = r.y0;
    for (int i = 1; i < n; i++) e[i] = (ys[i - 1] + ys[i]) / 2;
    e[n] = r.y1;
    return n + 1;
}

/* Is there a rule separating (along x = xe) the band y0..y1? */
static bool v_sep(const doc_page *p, float xe, float y0, float y1)
{
    float ym = (y0 + y1) / 2;
    for (int i = 0; i < p->n_rules; i++) {
        const drule *d = &p->rules[i];
        if (!d->horizontal && fabsf((d->box.x0 + d->box.x1) / 2 - xe) < 3 && d->box.y0 <= ym &&
            d->box.y1 >= ym)
            return true;
    }
    return false;
}

static bool h_sep(const doc_page *p, float ye, float x0, float x1)
{
    float xm = (x0 + x1) / 2;
    for (int i = 0; i < p->n_rules; i++) {
        const drule *d = &p->rules[i];
        if (d->horizontal && fabsf((d->box.y0 + d->box.y1) / 2 - ye) < 3 && d->box.x0 <= xm &&
            d->box.x1 >= xm)
            return true;
    }
    return false;
}

typedef struct grid {
    int nr, nc;
    float xe[MAX_COLS + 2], ye[MAX_ROWS + 2];
    bool vruled, hruled;
    short span_c[MAX_ROWS][MAX_COLS]; /* >0 at a cell's origin, -1 covered */
    short span_r[MAX_ROWS][MAX_COLS];
} grid;

static void spans(const doc_page *p, grid *g)
{
    for (int r = 0; r < g->nr; r++)
        for (int c = 0; c < g->nc; c++) g->span_c[r][c] = g->span_r[r][c] = 0;
    for (int r = 0; r < g->nr; r++)
        for (int c = 0; c < g->nc; c++) {
            if (g->span_c[r][c] < 0) continue;
            int cs = 1, rs = 1;
            if (g->vruled)
                while (c + cs < g->nc && !v_sep(p, g->xe[c + cs], g->ye[r], g->ye[r + 1])) cs++;
            if (g->hruled && g->vruled)
                while (r + rs < g->nr && !h_sep(p, g->ye[r + rs], g->xe[c], g->xe[c + cs])) rs++;
            for (int i = 0; i < rs; i++)
                for (int j = 0; j < cs; j++) g->span_c[r + i][c + j] = -1;
            g->span_c[r][c] = (short)cs;
            g->span_r[r][c] = (short)rs;
        }
}

static void word_span(grid *g, int row, dword w);

/* Text-aligned columns: a word that covers several columns of its row
 * (a spanning header) widens its cell. */
static void text_spans(const doc_page *p, grid *g, dbox r)
{
    for (int i = 0; i < p->n_lines; i++) {
        const dline *l = &p->lines[i];
        if (!line_in(l, r)) continue;
        float cy = (l->box.y0 + l->box.y1) / 2;
        int row = 0;
        while (row + 1 < g->nr && cy > g->ye[row + 1]) row++;
        for (int j = 0; j < l->n_words; j++) word_span(g, row, p->words[l->first_word + j]);
    }
}

static void word_span(grid *g, int row, dword w)
{
    {
        int c0 = -1, c1 = -1;
        for (int c = 0; c < g->nc; c++) {
            float ov = fminf(w.x1, g->xe[c + 1]) - fmaxf(w.x0, g->xe[c]);
            if (ov > 2) {
                if (c0 < 0) c0 = c;
                c1 = c;
            }
        }
        if (c0 < 0 || c1 <= c0 || g->span_c[row][c0] < 0) return;
        for (int c = c0 + 1; c <= c1; c++) g->span_c[row][c] = -1;
        g->span_c[row][c0] = (short)(c1 - c0 + 1);
    }
}

/* The words whose centre falls in the cell, in line order. */
static octo_err cell_text(doc_page *p, dbox cell, dbox r, octo_buf *out)
{
    octo_err rc = OCTO_OK;
    bool first = true;
    char piece[1024];
    for (int i = 0; i < p->n_lines && !rc; i++) {
        const dline *l = &p->lines[i];
        float cy = (l->box.y0 + l->box.y1) / 2;
        if (!line_in(l, r) || cy < cell.y0 || cy >= cell.y1) continue;
        int nw = l->n_words ? l->n_words : 1;
        for (int j = 0; j < nw && !rc; j++) {
            dword w = l->n_words ? p->words[l->first_word + j]
                                 : (dword){l->box.x0, l->box.x1, 0, (int)strlen(l->text)};
            float cx = (w.x0 + w.x1) / 2;
            if (cx < cell.x0 || cx >= cell.x1) continue;
            size_t n = (size_t)w.len < sizeof piece - 1 ? (size_t)w.len : sizeof piece - 1;
            memcpy(piece, l->text + w.off, n);
            piece[n] = 0;
            if (!first) rc = octo_buf_append(out, " ", 1);
            if (!rc) rc = doc_buf_put_html(out, piece);
            first = false;
        }
    }
    return rc;
}

static octo_err to_html(doc_page *p, grid *g, dbox r, char **html)
{
    octo_buf b;
    octo_buf_init(&b, 8u << 20);
    octo_err rc = octo_buf_puts(&b, "<table>");
    for (int row = 0; row < g->nr && !rc; row++) {
        rc = octo_buf_puts(&b, "<tr>");
        for (int c = 0; c < g->nc && !rc; c++) {
            int cs = g->span_c[row][c], rs = g->span_r[row][c];
            if (cs < 0) continue;
            if (rs < 1) rs = 1;
            rc = octo_buf_puts(&b, "<td");
            if (!rc && cs > 1) rc = octo_buf_printf(&b, " colspan=\"%d\"", cs);
            if (!rc && rs > 1) rc = octo_buf_printf(&b, " rowspan=\"%d\"", rs);
            if (!rc) rc = octo_buf_puts(&b, ">");
            dbox cell = {g->xe[c], g->ye[row], g->xe[c + cs], g->ye[row + rs]};
            if (!rc) rc = cell_text(p, cell, r, &b);
            if (!rc) rc = octo_buf_puts(&b, "</td>");
        }
        if (!rc) rc = octo_buf_puts(&b, "</tr>");
    }
    if (!rc) rc = octo_buf_puts(&b, "</table>");
    *html = rc ? NULL : octo_arena_strdup(p->arena, b.data);
    octo_buf_deinit(&b);
    return rc ? rc : *html ? OCTO_OK : OCTO_E_NOMEM;
}

/* Mostly letters or CJK characters (a sentence), not numbers. */
static bool wordy_text(const char *t)
{
    int letters, other;
    doc_text_letters(t, &letters, &other);
    return letters >= 2 * other;
}

static octo_err one_table(doc_page *p, region *rg, bool to_html_on, grid *g)
{
    dbox r = rg->box;
    int n_lines = 0, chars = 0;
    for (int i = 0; i < p->n_lines; i++)
        if (line_in(&p->lines[i], r)) {
            n_lines++;
            chars += p->lines[i].nchars;
        }
    /* Cells are short: long lines on average are prose in a frame. */
    if (n_lines < 4 || chars > 24 * n_lines) return OCTO_OK;
    int ne = col_edges(p, r, g->xe);
    bool hruled = false;
    int nr = row_edges(p, r, rg->n_v >= 2, g->ye, &hruled);
    if (ne < 3 || nr < 3) return OCTO_OK;
    g->nc = ne - 1;
    g->nr = nr - 1;
    g->vruled = rg->n_v >= 2 && ne - 1 >= 2 && v_sep(p, g->xe[1], r.y0, r.y1);
    g->hruled = hruled;
    /* Prose between two rules is no table: most lines must fit in a cell,
     * and long lines of words (not figures) are paragraphs. */
    int wide = 0, wordy = 0;
    for (int i = 0; i < p->n_lines; i++) {
        const dline *l = &p->lines[i];
        if (!line_in(l, r)) continue;
        wide += doc_box_w(l->box) > 0.7f * doc_box_w(r);
        wordy += l->nchars >= 30 && doc_box_w(l->box) > 0.45f * doc_box_w(r) && wordy_text(l->text);
    }
    if (wide * 3 > n_lines || wordy >= 3) return OCTO_OK;
    dblock *b = doc_page_new_block(p, DB_TABLE);
    if (!b) return OCTO_E_NOMEM;
    b->box = r;
    octo_err rc = OCTO_OK;
    if (to_html_on) {
        spans(p, g);
        if (!g->vruled) text_spans(p, g, r);
        rc = to_html(p, g, r, &b->html);
    }
    for (int i = 0; i < p->n_lines; i++) {
        dline *l = &p->lines[i];
        if (line_in(l, r)) {
            b->box = doc_box_union(b->box, l->box);
            l->used = to_html_on; /* without HTML the text stays as paragraphs */
        }
    }
    if (!to_html_on) p->n_blocks--;
    return rc;
}

octo_err doc_table_find(doc_page *p, bool to_html_on)
{
    region rg[64];
    int n = regions_of(p, rg, 64);
    if (n == 0) return OCTO_OK;
    grid *g = octo_malloc(sizeof *g);
    if (!g) return OCTO_E_NOMEM;
    octo_err rc = OCTO_OK;
    for (int i = 0; i < n && !rc; i++) rc = one_table(p, &rg[i], to_html_on, g);
    octo_free(g);
    return rc;
}
