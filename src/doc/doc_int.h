/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_int — the page model shared by the doc sources: lines of text with
 * their style, ruling lines, picture regions, and the blocks that the
 * layout pipeline makes of them. Coordinates are PDF points, origin at the
 * top-left of the page, y growing downwards (MuPDF's convention).
 *
 * Everything of one page lives in one arena (doc_page.arena) so that a
 * page is freed at once; the document keeps its pages until it is written.
 */
#ifndef OCTO_DOC_INT_H
#define OCTO_DOC_INT_H

#include "doc.h"

typedef struct dbox {
    float x0, y0, x1, y1;
} dbox;

/* A run of characters on one baseline without a wide gap. */
typedef struct dline {
    dbox box;
    char *text;      /* UTF-8, arena */
    int nchars;      /* characters (code points) */
    float size;      /* median font size, points */
    bool bold;       /* most characters in a bold font */
    bool mathfont;   /* many characters in a math font */
    uint32_t font;   /* hash of the name of the font most characters use */
    bool used;       /* consumed by a table or figure */
    int first_word;  /* its words in doc_page.words (table cells are made of words) */
    int n_words;
} dline;

/* A word of a line: its x extent and its bytes in the line's text. */
typedef struct dword {
    float x0, x1;
    int off, len;
} dword;

typedef enum dblock_type {
    DB_TEXT = 0,
    DB_TITLE,
    DB_LIST,
    DB_TABLE,
    DB_IMAGE,
    DB_EQUATION,
    DB_CAPTION,   /* attached to the table or image `owner` */
    DB_DISCARD,   /* running header, footer, page number */
} dblock_type;

typedef struct dblock {
    dblock_type type;
    dbox box;
    int first_line, n_lines;  /* into the page's line array (reading order) */
    float size;               /* dominant font size */
    bool bold;
    uint32_t font;            /* font of all its lines, 0 when mixed */
    int level;                /* heading level 1..3 for DB_TITLE */
    char *text;               /* joined text, arena */
    char *html;               /* DB_TABLE: <table>…</table>, arena */
    char *img_name;           /* DB_IMAGE/DB_TABLE crop: "<sha256>.jpg", arena */
    int owner;                /* DB_CAPTION: index of the block it belongs to */
    bool footnote;            /* DB_CAPTION below a table: a footnote */
} dblock;

/* A ruling line or thin rectangle (tables), or a drawn shape (figures). */
typedef struct drule {
    dbox box;
    bool horizontal;
} drule;

typedef struct doc_page {
    octo_arena *arena;
    float w, h;               /* page size in points */
    bool ocr;                 /* text came from OCR */
    int bad_chars;            /* U+FFFD in the text layer */
    dline *lines;
    int n_lines, cap_lines;
    dword *words;
    int n_words, cap_words;
    drule *rules;
    int n_rules, cap_rules;
    dbox *pics;               /* raster images and vector-graphics clusters */
    int n_pics, cap_pics;
    int n_paths;              /* vector paths seen (to find drawn figures) */
    dbox *paths;
    int cap_paths;
    dblock *blocks;           /* in reading order once laid out */
    int n_blocks, cap_blocks;
} doc_page;

/* ==== geometry helpers (doc_layout.c) ==== */
float doc_box_w(dbox b);
float doc_box_h(dbox b);
dbox doc_box_union(dbox a, dbox b);
float doc_box_overlap_area(dbox a, dbox b);
bool doc_box_inside(dbox inner, dbox outer, float slack);

/* ==== page building (doc_layout.c) ==== */
octo_err doc_page_add_line(doc_page *p, const dline *l) OCTO_WUR;
/* Appends words; returns the index of the first, or -1 when out of memory. */
int doc_page_add_words(doc_page *p, const dword *w, int n);
octo_err doc_page_add_rule(doc_page *p, dbox b, bool horizontal) OCTO_WUR;
octo_err doc_page_add_pic(doc_page *p, dbox b) OCTO_WUR;
octo_err doc_page_add_path(doc_page *p, dbox b) OCTO_WUR;
dblock *doc_page_new_block(doc_page *p, dblock_type t);

/* Groups the page's free lines into paragraphs, finds figures, captions,
 * lists and equations, and orders the blocks for reading. */
octo_err doc_layout_page(doc_page *p) OCTO_WUR;
/* Document-wide passes once all pages are laid out: headings from font
 * statistics, running headers/footers and page numbers. */
void doc_layout_document(doc_page **pages, int n);

/* ==== tables (doc_table.c) ==== */
/* Finds tables from ruling lines and aligned text; makes DB_TABLE blocks
 * with HTML and marks their lines used. */
octo_err doc_table_find(doc_page *p, bool to_html) OCTO_WUR;

/* ==== text helpers (doc_text.c) ==== */
bool doc_cp_is_cjk(uint32_t cp);
/* Decodes one code point at s (NUL-safe); returns its byte length (>= 1). */
int doc_utf8_decode(const char *s, uint32_t *cp /* OUT */);
/* Appends one code point as UTF-8. */
octo_err doc_buf_put_cp(octo_buf *b, uint32_t cp) OCTO_WUR;
/* Joins lines of a paragraph: English hyphenation undone, no space between
 * CJK characters, one space otherwise. Result in the page arena. */
char *doc_text_join(doc_page *p, int first, int n);
/* Appends s to b with HTML special characters escaped. */
octo_err doc_buf_put_html(octo_buf *b, const char *s) OCTO_WUR;
/* Counts ASCII letters and CJK characters, and other non-space characters. */
void doc_text_letters(const char *t, int *letters /* OUT */, int *other /* OUT */);
/* Last and first code point of a UTF-8 string (0 when empty). */
uint32_t doc_text_last_cp(const char *s);
uint32_t doc_text_first_cp(const char *s);

/* ==== writers (doc_write.c) ==== */
octo_err doc_write_markdown(doc_page **pages, int n, octo_buf *out) OCTO_WUR;
octo_err doc_write_content_list(doc_page **pages, int n, int first_page_idx,
                                char **out /* OUT */) OCTO_WUR;
octo_err doc_write_middle(doc_page **pages, int n, int first_page_idx,
                          char **out /* OUT */) OCTO_WUR;

/* ==== OCR (doc_ocr.c) ==== */
typedef struct doc_ocr doc_ocr;
/* lang: Tesseract languages ("chi_sim+eng"). NULL with err filled when the
 * language data is missing. */
doc_ocr *doc_ocr_new(const char *lang, char *err, size_t err_size);
void doc_ocr_free(doc_ocr *o);
/* Recognises an 8-bit grey image (w x h, stride bytes a row) rendered at
 * `scale` pixels per point, and adds its text lines (in points) to p.
 * OCTO_E_TIMEOUT past deadline_s (octo_now() clock) or once *abort turns
 * non-zero (another thread may set it while recognition runs). */
octo_err doc_ocr_page(doc_ocr *o, const unsigned char *grey, int w, int h, int stride,
                      float scale, double deadline_s, int *abort, doc_page *p) OCTO_WUR;

/* ==== JPEG (doc_jpeg.c) ==== */
/* Encodes 8-bit RGB (n = 3) or grey (n = 1) pixels; *out from octo_malloc. */
octo_err doc_jpeg_encode(const unsigned char *px, int w, int h, int n, int stride,
                         int quality, unsigned char **out /* OUT */,
                         size_t *out_len /* OUT */) OCTO_WUR;

#endif /* OCTO_DOC_INT_H */
