/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doc_write — the outputs as MinerU writes them: Markdown (headings as #,
 * lists as "- ", tables as HTML, figures as ![](images/…) followed by
 * their captions, equations between $$), the content list (items of type
 * text with text_level, image with img_path and captions, table with
 * table_body, equation; each with page_idx and a bbox scaled to 0..1000 of
 * the page) and a compact middle JSON (per page: size and blocks with
 * their lines).
 *
 * It writes strings only; where they go (files, HTTP) is the caller's.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "doc_int.h"

static const char *skip_bullet(const char *t)
{
    uint32_t cp;
    int n = doc_utf8_decode(t, &cp);
    if (cp == '-' || cp == '*' || cp > 0x7F) t += n;
    while (*t == ' ') t++;
    return t;
}

static octo_err md_block(const doc_page *p, int i, octo_buf *o)
{
    const dblock *b = &p->blocks[i];
    octo_err rc = OCTO_OK;
    switch (b->type) {
    case DB_TITLE:
        for (int l = 0; l < b->level && !rc; l++) rc = octo_buf_append(o, "#", 1);
        if (!rc) rc = octo_buf_printf(o, " %s\n\n", b->text);
        break;
    case DB_TEXT: rc = octo_buf_printf(o, "%s\n\n", b->text); break;
    case DB_LIST: rc = octo_buf_printf(o, "- %s\n\n", skip_bullet(b->text)); break;
    case DB_EQUATION: rc = octo_buf_printf(o, "$$\n%s\n$$\n\n", b->text); break;
    case DB_IMAGE:
        if (b->img_name) rc = octo_buf_printf(o, "![](images/%s)\n\n", b->img_name);
        break;
    case DB_TABLE:
        if (b->html) rc = octo_buf_printf(o, "%s\n\n", b->html);
        else if (b->img_name) rc = octo_buf_printf(o, "![](images/%s)\n\n", b->img_name);
        break;
    case DB_CAPTION: rc = octo_buf_printf(o, "%s\n\n", b->text); break;
    case DB_DISCARD: break;
    }
    return rc;
}

octo_err doc_write_markdown(doc_page **pages, int n, octo_buf *out)
{
    octo_err rc = OCTO_OK;
    for (int i = 0; i < n && !rc; i++)
        for (int j = 0; j < pages[i]->n_blocks && !rc; j++) rc = md_block(pages[i], j, out);
    /* One trailing newline. */
    while (out->len >= 2 && out->data[out->len - 1] == '\n' && out->data[out->len - 2] == '\n')
        out->data[--out->len] = 0;
    if (!rc && out->len == 0) rc = octo_buf_puts(out, "");
    return rc;
}

static json_t *bbox_json(const doc_page *p, dbox b)
{
    float sx = 1000.0f / p->w, sy = 1000.0f / p->h;
    int v[4] = {(int)lrintf(b.x0 * sx), (int)lrintf(b.y0 * sy), (int)lrintf(b.x1 * sx),
                (int)lrintf(b.y1 * sy)};
    for (int i = 0; i < 4; i++) v[i] = v[i] < 0 ? 0 : v[i] > 1000 ? 1000 : v[i];
    return json_pack("[iiii]", v[0], v[1], v[2], v[3]);
}

static json_t *captions(const doc_page *p, int owner, bool footnote)
{
    json_t *a = json_array();
    for (int i = 0; a && i < p->n_blocks; i++) {
        const dblock *c = &p->blocks[i];
        if (c->type == DB_CAPTION && c->owner == owner && c->footnote == footnote)
            json_array_append_new(a, json_string(c->text));
    }
    return a;
}

static json_t *item(const doc_page *p, int i, int page_idx)
{
    const dblock *b = &p->blocks[i];
    json_t *o = NULL;
    char path[96];
    switch (b->type) {
    case DB_TITLE:
        o = json_pack("{s:s,s:s,s:i}", "type", "text", "text", b->text, "text_level", b->level);
        break;
    case DB_TEXT:
        o = json_pack("{s:s,s:s}", "type", "text", "text", b->text);
        break;
    case DB_LIST:
        o = json_pack("{s:s,s:s,s:[s]}", "type", "list", "sub_type", "text", "list_items",
                      b->text);
        if (o) json_object_set_new(o, "text", json_string(b->text));
        break;
    case DB_EQUATION:
        o = json_pack("{s:s,s:s++,s:s}", "type", "equation", "text", "$$\n", b->text, "\n$$",
                      "text_format", "unicode");
        break;
    case DB_IMAGE:
        snprintf(path, sizeof path, "images/%s", b->img_name ? b->img_name : "");
        o = json_pack("{s:s,s:s,s:o,s:o}", "type", "image", "img_path",
                      b->img_name ? path : "", "image_caption", captions(p, i, false),
                      "image_footnote", captions(p, i, true));
        break;
    case DB_TABLE:
        snprintf(path, sizeof path, "images/%s", b->img_name ? b->img_name : "");
        o = json_pack("{s:s,s:s,s:o,s:o,s:s}", "type", "table", "img_path",
                      b->img_name ? path : "", "table_caption", captions(p, i, false),
                      "table_footnote", captions(p, i, true), "table_body",
                      b->html ? b->html : "");
        break;
    case DB_CAPTION:
    case DB_DISCARD: return NULL;
    }
    if (!o) return NULL;
    json_object_set_new(o, "bbox", bbox_json(p, b->box));
    json_object_set_new(o, "page_idx", json_integer(page_idx));
    return o;
}

static octo_err dump(json_t *j, char **out)
{
    if (!j) return OCTO_E_NOMEM;
    *out = NULL;
    char *s = json_dumps(j, JSON_INDENT(4));
    json_decref(j);
    if (!s) return OCTO_E_NOMEM;
    size_t n = strlen(s);
    if (n > OCTO_LIMIT_DOC_OUTPUT_BYTES) {
        free(s);
        return OCTO_E_TOO_LARGE;
    }
    *out = octo_strndup(s, n);
    free(s); /* jansson's allocator */
    return *out ? OCTO_OK : OCTO_E_NOMEM;
}

octo_err doc_write_content_list(doc_page **pages, int n, int first, char **out)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        for (int j = 0; j < pages[i]->n_blocks; j++) {
            json_t *it = item(pages[i], j, first + i);
            if (it) json_array_append_new(a, it);
        }
    return dump(a, out);
}

static const char *type_name(dblock_type t)
{
    static const char *names[] = {"text", "title", "list", "table", "image",
                                  "interline_equation", "caption", "discarded"};
    return names[t];
}

octo_err doc_write_middle(doc_page **pages, int n, int first, char **out)
{
    json_t *info = json_array();
    for (int i = 0; info && i < n; i++) {
        const doc_page *p = pages[i];
        json_t *blocks = json_array(), *discarded = json_array();
        for (int j = 0; blocks && discarded && j < p->n_blocks; j++) {
            const dblock *b = &p->blocks[j];
            json_t *lines = json_array();
            for (int l = 0; lines && l < b->n_lines && b->first_line >= 0; l++) {
                const dline *ln = &p->lines[b->first_line + l];
                json_array_append_new(lines, json_pack("{s:[ffff],s:s,s:f,s:b}", "bbox",
                                                       ln->box.x0, ln->box.y0, ln->box.x1,
                                                       ln->box.y1, "content", ln->text, "size",
                                                       ln->size, "bold", ln->bold));
            }
            json_t *o = json_pack("{s:s,s:[ffff],s:i,s:o}", "type", type_name(b->type), "bbox",
                                  b->box.x0, b->box.y0, b->box.x1, b->box.y1, "index", j,
                                  "lines", lines ? lines : json_array());
            if (o && b->type == DB_TITLE) json_object_set_new(o, "level", json_integer(b->level));
            if (o) json_array_append_new(b->type == DB_DISCARD ? discarded : blocks, o);
        }
        json_array_append_new(info, json_pack("{s:o,s:o,s:i,s:[ff],s:s}", "para_blocks", blocks,
                                              "discarded_blocks", discarded, "page_idx",
                                              first + i, "page_size", p->w, p->h, "parse_type",
                                              p->ocr ? "ocr" : "txt"));
    }
    return dump(json_pack("{s:o,s:s,s:s}", "pdf_info", info ? info : json_array(), "_backend",
                          "pipeline", "_version_name", "octo " OCTO_VERSION),
                 out);
}
