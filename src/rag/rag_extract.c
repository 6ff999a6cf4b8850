/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_extract — a stored file to plain text, by its extension: PDF through
 * the doc module (Markdown; PNG and JPEG images through its OCR), text and
 * Markdown as they are, HTML with its
 * tags, scripts and styles removed and entities decoded, CSV one line per
 * row as "header: value;header: value" (Dify's CSV extractor).
 *
 * Other types (docx, xlsx, ...) are refused with OCTO_E_UNSUPPORTED.
 */
#include "rag_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifdef OCTO_HAVE_DOC
#include "doc/doc.h"
#endif

static const char *ext_of(const char *name)
{
    const char *dot = name ? strrchr(name, '.') : NULL;
    return dot ? dot + 1 : "";
}

static bool ext_is(const char *name, const char *const *list)
{
    const char *e = ext_of(name);
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(e, list[i]) == 0) return true;
    return false;
}

static const char *const k_text[] = {"txt", "md", "markdown", "mdx", NULL};
static const char *const k_html[] = {"html", "htm", NULL};
static const char *const k_csv[] = {"csv", NULL};
static const char *const k_pdf[] = {"pdf", "png", "jpg", "jpeg", NULL}; /* the doc module */

bool rag_extract_supported(const char *name)
{
    return ext_is(name, k_text) || ext_is(name, k_html) || ext_is(name, k_csv) ||
           ext_is(name, k_pdf);
}

static octo_err need_utf8(const void *data, size_t len, char *err, size_t err_size)
{
    size_t bad = 0;
    if (octo_utf8_valid(data, len, &bad)) return OCTO_OK;
    snprintf(err, err_size, "the file is not valid UTF-8 text (byte %zu)", bad);
    return OCTO_E_PARSE;
}

/* ==== HTML ==== */

static const struct {
    const char *name;
    const char *text;
} k_entities[] = {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
                  {"nbsp", " "}, {NULL, NULL}};

static octo_err put_entity(octo_buf *b, const char *s, size_t n, size_t *used)
{
    /* s points after '&' */
    size_t k = 0;
    while (k < n && k < 12 && s[k] != ';') k++;
    *used = 0;
    if (k == n || s[k] != ';') return octo_buf_append(b, "&", 1);
    if (s[0] == '#') {
        unsigned long v = 0;
        bool hex = k > 1 && (s[1] == 'x' || s[1] == 'X');
        for (size_t i = hex ? 2 : 1; i < k; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0 || v > 0x10FFFF) return octo_buf_append(b, "&", 1);
            v = v * (hex ? 16 : 10) + (unsigned long)d;
        }
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return octo_buf_append(b, "&", 1);
        char u[4];
        size_t m = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
        if (m == 1) u[0] = (char)v;
        else if (m == 2) {
            u[0] = (char)(0xC0 | (v >> 6));
            u[1] = (char)(0x80 | (v & 63));
        } else if (m == 3) {
            u[0] = (char)(0xE0 | (v >> 12));
            u[1] = (char)(0x80 | ((v >> 6) & 63));
            u[2] = (char)(0x80 | (v & 63));
        } else {
            u[0] = (char)(0xF0 | (v >> 18));
            u[1] = (char)(0x80 | ((v >> 12) & 63));
            u[2] = (char)(0x80 | ((v >> 6) & 63));
            u[3] = (char)(0x80 | (v & 63));
        }
        *used = k + 1;
        return octo_buf_append(b, u, m);
    }
    for (size_t i = 0; k_entities[i].name; i++) {
        if (strlen(k_entities[i].name) == k && strncmp(s, k_entities[i].name, k) == 0) {
            *used = k + 1;
            return octo_buf_puts(b, k_entities[i].text);
        }
    }
    return octo_buf_append(b, "&", 1);
}

static bool tag_is(const char *s, size_t n, const char *name)
{
    size_t l = strlen(name);
    return n > l && strncasecmp(s, name, l) == 0 &&
           (s[l] == '>' || s[l] == ' ' || s[l] == '\t' || s[l] == '\n' || s[l] == '/');
}

static octo_err html_text(const char *s, size_t n, octo_buf *b)
{
    static const char *const blocks[] = {"p", "/p", "br", "div", "/div", "li", "tr", "h1",
                                         "h2", "h3", "h4", "h5", "h6", "/h1", "/h2", "/h3",
                                         "/tr", "table", "/table", "/li", NULL};
    octo_err rc = OCTO_OK;
    size_t i = 0;
    while (i < n && !rc) {
        if (s[i] == '<') {
            const char *t = s + i + 1;
            size_t left = n - i - 1;
            const char *skip_to = NULL;
            if (tag_is(t, left, "script")) skip_to = "</script";
            else if (tag_is(t, left, "style")) skip_to = "</style";
            else if (left >= 3 && strncmp(t, "!--", 3) == 0) skip_to = "-->";
            if (skip_to) {
                const char *e = strcasestr(t, skip_to); /* bodies are NUL-terminated */
                if (!e) break;
                i = (size_t)(e - s) + strlen(skip_to);
                if (skip_to[0] == '-') continue; /* a comment ends with its '>' */
            }
            const char *gt = memchr(s + i, '>', n - i);
            if (!gt) break;
            for (size_t k = 0; !skip_to && blocks[k]; k++)
                if (tag_is(t, left, blocks[k])) {
                    rc = octo_buf_append(b, "\n", 1);
                    break;
                }
            i = (size_t)(gt - s) + 1;
            continue;
        }
        if (s[i] == '&') {
            size_t used = 0;
            rc = put_entity(b, s + i + 1, n - i - 1, &used);
            i += 1 + used;
            continue;
        }
        rc = octo_buf_append(b, s + i, 1);
        i++;
    }
    return rc;
}

/* ==== CSV ==== */

typedef struct csv_row {
    char **f;
    size_t n, cap;
} csv_row;

static void row_clear(csv_row *r)
{
    for (size_t i = 0; i < r->n; i++) octo_free(r->f[i]);
    r->n = 0;
}

/* Reads one RFC 4180 record from s[*i..n). False with err on a bad quote. */
static octo_err csv_record(const char *s, size_t n, size_t *pi, csv_row *row, size_t *line,
                           char *err, size_t err_size)
{
    size_t i = *pi;
    octo_buf f;
    octo_buf_init(&f, RAG_MAX_TEXT_BYTES);
    octo_err rc = OCTO_OK;
    row_clear(row);
    for (;;) {
        octo_buf_clear(&f);
        size_t at = *line;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    snprintf(err, err_size, "CSV line %zu: a quoted field is not closed", at);
                    rc = OCTO_E_PARSE;
                    goto out;
                }
                if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
                    rc = octo_buf_append(&f, "\"", 1);
                    i += 2;
                } else if (s[i] == '"') {
                    i++;
                    break;
                } else {
                    if (s[i] == '\n') (*line)++;
                    rc = octo_buf_append(&f, s + i, 1);
                    i++;
                }
                if (rc) goto out;
            }
            if (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
                snprintf(err, err_size, "CSV line %zu: text after a closing quote", *line);
                rc = OCTO_E_PARSE;
                goto out;
            }
        } else {
            size_t a = i;
            while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r') i++;
            rc = octo_buf_append(&f, s + a, i - a);
            if (rc) goto out;
        }
        if (row->n == row->cap) {
            size_t cap = row->cap ? row->cap * 2 : 16;
            char **nf = octo_realloc(row->f, cap * sizeof *nf);
            if (!nf) {
                rc = OCTO_E_NOMEM;
                goto out;
            }
            row->f = nf;
            row->cap = cap;
        }
        row->f[row->n] = octo_strndup(f.data ? f.data : "", f.len);
        if (!row->f[row->n]) {
            rc = OCTO_E_NOMEM;
            goto out;
        }
        row->n++;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == '\r') i++;
        if (i < n && s[i] == '\n') i++;
        (*line)++;
        break;
    }
out:
    octo_buf_deinit(&f);
    *pi = i;
    return rc;
}

static octo_err csv_text(const char *s, size_t n, octo_buf *b, char *err, size_t err_size)
{
    csv_row head = {0}, row = {0};
    size_t i = 0, line = 1;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) i = 3; /* BOM */
    octo_err rc = csv_record(s, n, &i, &head, &line, err, err_size);
    while (!rc && i < n) {
        size_t at = line;
        rc = csv_record(s, n, &i, &row, &line, err, err_size);
        if (rc || (row.n == 1 && !row.f[0][0])) continue; /* blank line */
        if (row.n != head.n) {
            snprintf(err, err_size, "CSV line %zu: %zu fields, the header has %zu", at, row.n,
                     head.n);
            rc = OCTO_E_PARSE;
            break;
        }
        for (size_t k = 0; k < row.n && !rc; k++)
            rc = octo_buf_printf(b, "%s%s: %s", k ? ";" : "", head.f[k], row.f[k]);
        if (!rc) rc = octo_buf_append(b, "\n", 1);
    }
    row_clear(&head);
    row_clear(&row);
    octo_free(head.f);
    octo_free(row.f);
    return rc;
}

/* ==== entry ==== */

octo_err rag_extract(const char *name, const void *data, size_t len, char **text,
                     size_t *text_len, char *err, size_t err_size)
{
    octo_buf b;
    octo_err rc;
    *text = NULL;
    *text_len = 0;
    octo_buf_init(&b, RAG_MAX_TEXT_BYTES);
    if (ext_is(name, k_pdf)) {
#ifdef OCTO_HAVE_DOC
        octo_doc_opts o;
        octo_doc_opts_init(&o);
        o.render_images = false;
        octo_doc_result *res = NULL;
        rc = octo_doc_parse(data, len, name, &o, &res, err, err_size);
        if (!rc) rc = octo_buf_puts(&b, octo_doc_result_markdown(res));
        octo_doc_result_free(res);
#else
        snprintf(err, err_size, "PDF and image files need the document parser, which this "
                 "octo was built without (-DOCTO_DOC=OFF)");
        rc = OCTO_E_UNSUPPORTED;
#endif
    } else if (ext_is(name, k_text)) {
        rc = need_utf8(data, len, err, err_size);
        if (!rc) rc = octo_buf_append(&b, data, len);
    } else if (ext_is(name, k_html)) {
        rc = need_utf8(data, len, err, err_size);
        if (!rc) rc = html_text(data, len, &b);
    } else if (ext_is(name, k_csv)) {
        rc = need_utf8(data, len, err, err_size);
        if (!rc) rc = csv_text(data, len, &b, err, err_size);
    } else {
        snprintf(err, err_size, "files of type '.%.20s' are not supported (pdf, png, jpg, "
                 "jpeg, txt, md, markdown, mdx, html, htm, csv)", ext_of(name));
        rc = OCTO_E_UNSUPPORTED;
    }
    if (rc == OCTO_E_TOO_LARGE && !err[0])
        snprintf(err, err_size, "the document's text is larger than %u bytes",
                 RAG_MAX_TEXT_BYTES);
    if (rc) {
        octo_buf_deinit(&b);
        return rc;
    }
    *text_len = b.len;
    *text = octo_buf_take(&b);
    if (!*text) *text = octo_strdup("");
    return *text ? OCTO_OK : OCTO_E_NOMEM;
}
