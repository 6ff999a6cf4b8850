/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_multipart — a multipart/form-data body parser (RFC 7578 on RFC 2046
 * framing): the boundary from the Content-Type header, then each part's
 * Content-Disposition name and filename, its Content-Type, and its bytes.
 * Part data points into the request body (no copy); names are copied.
 * Bounded: at most `max_parts` parts, 8 KiB of headers a part, a boundary
 * of at most 70 characters.
 *
 * It is not a streaming parser (the server buffers bodies up to its limit)
 * and it ignores the RFC 5987 `filename*` form and nested multiparts.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define MAX_PART_HEADERS 8192u

struct octo_http_form {
    octo_http_part *parts;
    size_t n;
};

static octo_err fail(char *err, size_t es, const char *msg)
{
    if (es) snprintf(err, es, "multipart body: %s", msg);
    return OCTO_E_PARSE;
}

/* Value of parameter `key` in a header value like `a; key="v"; b=w`.
 * Returns a copy (octo_malloc) or NULL. */
static char *param(const char *h, size_t hn, const char *key)
{
    size_t kl = strlen(key);
    const char *end = h + hn;
    for (const char *s = h; s < end; s++) {
        if (*s != ';' && s != h) continue;
        const char *k = s + (*s == ';');
        while (k < end && (*k == ' ' || *k == '\t')) k++;
        if ((size_t)(end - k) <= kl || strncasecmp(k, key, kl) || k[kl] != '=') continue;
        const char *v = k + kl + 1;
        if (v < end && *v == '"') {
            octo_buf b;
            octo_buf_init(&b, hn + 1);
            for (v++; v < end && *v != '"'; v++) {
                if (*v == '\\' && v + 1 < end) v++;
                if (octo_buf_append(&b, v, 1)) break;
            }
            char *out = octo_buf_take(&b);
            octo_buf_deinit(&b);
            return out ? out : octo_strdup("");
        }
        const char *e = v;
        while (e < end && *e != ';' && *e != ' ' && *e != '\r') e++;
        return octo_strndup(v, (size_t)(e - v));
    }
    return NULL;
}

/* Finds header `name` in the block [h, h+n); returns its value span. */
static const char *header(const char *h, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = h + n;
    for (const char *line = h; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) eol = end;
        if ((size_t)(eol - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol + 1;
    }
    return NULL;
}

void octo_http_form_free(octo_http_form *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        octo_free((char *)f->parts[i].name);
        octo_free((char *)f->parts[i].filename);
        octo_free((char *)f->parts[i].content_type);
    }
    octo_free(f->parts);
    octo_free(f);
}

size_t octo_http_form_count(const octo_http_form *f) { return f->n; }
const octo_http_part *octo_http_form_part(const octo_http_form *f, size_t i)
{
    return i < f->n ? &f->parts[i] : NULL;
}

const octo_http_part *octo_http_form_get(const octo_http_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->parts[i].name, name)) return &f->parts[i];
    return NULL;
}

static octo_err add_part(octo_http_form *f, const char *hdr, size_t hn, const char *data,
                         size_t len, char *err, size_t es)
{
    size_t dl = 0;
    const char *disp = header(hdr, hn, "Content-Disposition", &dl);
    if (!disp || dl < 9 || strncasecmp(disp, "form-data", 9))
        return fail(err, es, "a part has no 'Content-Disposition: form-data'");
    octo_http_part p = {0};
    p.name = param(disp, dl, "name");
    if (!p.name) return fail(err, es, "a part has no name");
    p.filename = param(disp, dl, "filename");
    size_t tl = 0;
    const char *ct = header(hdr, hn, "Content-Type", &tl);
    p.content_type = ct ? octo_strndup(ct, tl) : NULL;
    p.data = (const unsigned char *)data;
    p.len = len;
    void *np = octo_realloc(f->parts, (f->n + 1) * sizeof *f->parts);
    if (!np) {
        octo_free((char *)p.name);
        octo_free((char *)p.filename);
        octo_free((char *)p.content_type);
        return OCTO_E_NOMEM;
    }
    f->parts = np;
    f->parts[f->n++] = p;
    return OCTO_OK;
}

static octo_err parse_parts(octo_http_form *f, const char *body, size_t len, const char *bnd,
                            size_t max_parts, char *err, size_t es)
{
    char delim[80];
    int dn = snprintf(delim, sizeof delim, "\r\n--%s", bnd);
    const char *end = body + len;
    /* The first delimiter may open the body without the leading CRLF. */
    const char *p;
    if (len >= (size_t)dn - 2 && !memcmp(body, delim + 2, (size_t)dn - 2)) p = body + dn - 2;
    else {
        p = memmem(body, len, delim, (size_t)dn);
        if (!p) return fail(err, es, "no boundary found");
        p += dn;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') return OCTO_OK; /* closing delimiter */
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return fail(err, es, "malformed boundary line");
        p += 2;
        size_t room = (size_t)(end - p);
        size_t hmax = room < MAX_PART_HEADERS ? room : MAX_PART_HEADERS;
        const char *he = memmem(p, hmax, "\r\n\r\n", 4);
        if (!he) return fail(err, es, "part headers missing or over 8 KiB");
        const char *data = he + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, (size_t)dn);
        if (!next) return fail(err, es, "truncated (no closing boundary)");
        if (f->n >= max_parts) return OCTO_E_TOO_LARGE;
        octo_err rc = add_part(f, p, (size_t)(he - p) + 2, data, (size_t)(next - data), err, es);
        if (rc) return rc;
        p = next + dn;
    }
}

octo_err octo_http_form_parse(const char *content_type, const void *body, size_t len,
                              size_t max_parts, octo_http_form **out, char *err,
                              size_t err_size)
{
    *out = NULL;
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19))
        return fail(err, err_size, "Content-Type is not multipart/form-data");
    char *bnd = param(content_type, strlen(content_type), "boundary");
    if (!bnd || !bnd[0] || strlen(bnd) > 70) {
        octo_free(bnd);
        return fail(err, err_size, "missing or bad boundary parameter");
    }
    octo_http_form *f = octo_calloc(1, sizeof *f);
    octo_err rc = f ? parse_parts(f, body, len, bnd, max_parts, err, err_size) : OCTO_E_NOMEM;
    octo_free(bnd);
    if (rc == OCTO_E_TOO_LARGE && err_size)
        snprintf(err, err_size, "multipart body: more than %zu parts", max_parts);
    if (rc) {
        octo_http_form_free(f);
        return rc;
    }
    *out = f;
    return OCTO_OK;
}
