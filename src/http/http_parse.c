/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_parse — HTTP/1.1 request heads and chunked bodies (RFC 9112),
 * strictly: a request is framed one way only, so that octo and any proxy
 * in front of it agree where each request ends (no request smuggling).
 * Differing Content-Length values, Content-Length beside Transfer-Encoding,
 * obsolete line folding, whitespace before a colon, control bytes (NUL
 * included) in a field and bare CR are refused.
 *
 * It does no I/O and keeps no connection state: http_server.c feeds it.
 */
#include "http_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ==== head ==== */

size_t octo_http_head_end(const char *p, size_t n)
{
    /* Lines end in LF (CR LF or a bare LF, RFC 9112 section 2.2); the head
     * ends at the first empty line after the request line. */
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n')) i++; /* leading empty lines */
    for (; i < n; i++) {
        if (p[i] != '\n') continue;
        if (i + 1 < n && p[i + 1] == '\n') return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') return i + 3;
    }
    return 0;
}

static bool is_tchar(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') return true;
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s in place; false on a bad escape or an encoded NUL. */
static bool pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int hi = hexval((unsigned char)r[1]), lo = hi < 0 ? -1 : hexval((unsigned char)r[2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
        *w++ = (char)(hi * 16 + lo);
        r += 2;
    }
    *w = '\0';
    return true;
}

/* Splits the next line off *cur (ending in LF or CR LF); NULL when a bare
 * CR appears, which RFC 9112 lets a server refuse. */
static char *next_line(char **cur, bool *bad_cr)
{
    char *s = *cur, *lf = strchr(s, '\n');
    if (!lf) return NULL;
    char *end = lf;
    if (end > s && end[-1] == '\r') end--;
    *end = '\0';
    *cur = lf + 1;
    if (strchr(s, '\r')) *bad_cr = true;
    return s;
}

/* Content-Length: a list of equal decimal values ("5" or "5, 5"). */
static bool content_length_value(const char *v, long long *out)
{
    long long val = -1;
    const char *p = v;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p < '0' || *p > '9') return false;
        long long x = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (x > (LLONG_MAX - 9) / 10) return false;
            x = x * 10 + (*p - '0');
        }
        if (val >= 0 && x != val) return false;
        val = x;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (*p++ != ',') return false;
    }
    *out = val;
    return true;
}

/* True when the comma-separated token list v holds `tok`. */
static bool list_has(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - p) == n && strncasecmp(p, tok, n) == 0) return true;
        p = e;
    }
    return false;
}

static int framing(http_head *h, const char **why)
{
    h->content_length = -1;
    bool have_cl = false, have_te = false;
    int n_chunked = 0, n_codings = 0;
    const char *last_coding = NULL;
    size_t last_len = 0;
    for (size_t i = 0; i < h->n_fields; i++) {
        const http_field *f = &h->fields[i];
        if (strcasecmp(f->name, "Content-Length") == 0) {
            long long v;
            if (!content_length_value(f->value, &v)) {
                *why = "invalid Content-Length";
                return 400;
            }
            if (have_cl && v != h->content_length) {
                *why = "two different Content-Length values";
                return 400;
            }
            h->content_length = v;
            have_cl = true;
        } else if (strcasecmp(f->name, "Transfer-Encoding") == 0) {
            have_te = true;
            for (const char *p = f->value; *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',') p++;
                if (!*p) break;
                const char *e = p;
                while (*e && *e != ',' && *e != ';') e++;
                const char *t = e;
                while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
                last_coding = p;
                n_codings++;
                last_len = (size_t)(t - p);
                if (last_len == 7 && strncasecmp(p, "chunked", 7) == 0) n_chunked++;
                while (*e && *e != ',') e++;
                p = e;
            }
        }
    }
    if (have_te && h->minor == 0) {
        *why = "Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    if (have_te && have_cl) {
        *why = "Content-Length together with Transfer-Encoding";
        return 400;
    }
    if (have_te) {
        bool final_chunked = last_coding && last_len == 7 &&
                             strncasecmp(last_coding, "chunked", 7) == 0;
        if (n_chunked > 1 || (n_chunked == 1 && !final_chunked)) {
            *why = "invalid Transfer-Encoding";
            return 400;
        }
        if (n_codings != 1 || !final_chunked) {
            *why = "transfer coding not supported (only chunked)";
            return 501;
        }
        h->chunked = true;
    }
    return 0;
}

int octo_http_head_parse(const char *p, size_t n, http_head *h, const char **why)
{
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    *why = "malformed request";
    h->store = octo_malloc(n + 1);
    if (!h->store) {
        *why = "out of memory";
        return 503;
    }
    memcpy(h->store, p, n);
    h->store[n] = '\0';
    if (memchr(p, '\0', n)) {
        *why = "NUL byte in the request head";
        return 400;
    }
    char *cur = h->store;
    while (*cur == '\r' || *cur == '\n') cur++;
    bool bad_cr = false;
    char *line = next_line(&cur, &bad_cr);
    if (!line || bad_cr) return 400;

    /* request-line = method SP request-target SP HTTP-version */
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ')) {
        *why = "malformed request line";
        return 400;
    }
    *sp1 = *sp2 = '\0';
    for (const char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m)) return 400;
    if (!*line) return 400;
    h->method = line;
    const char *ver = sp2 + 1;
    if (strncmp(ver, "HTTP/", 5) != 0 || ver[5] < '0' || ver[5] > '9' || ver[6] != '.' ||
        ver[7] < '0' || ver[7] > '9' || ver[8]) {
        *why = "malformed HTTP version";
        return 400;
    }
    if (ver[5] != '1') {
        *why = "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)";
        return 505;
    }
    h->minor = ver[7] - '0';
    char *target = sp1 + 1;
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        /* absolute-form: the path after the authority, "/" when there is none
         * (written over the second slash of "//", inside the writable copy) */
        char *ss = strstr(target, "//");
        char *slash = strchr(ss + 2, '/');
        if (!slash) {
            ss[2] = '\0';
            slash = ss + 1;
        }
        target = slash;
    }
    if (target[0] != '/' && strcmp(target, "*") != 0) {
        *why = "malformed request target";
        return 400;
    }
    for (const unsigned char *t = (const unsigned char *)target; *t; t++)
        if (*t <= 0x20 || *t == 0x7f) return 400;
    char *q = strchr(target, '?');
    if (q) *q++ = '\0';
    h->query = q ? q : target + strlen(target); /* "" inside the copy */
    char *hash = strchr(h->query, '#');
    if (hash) *hash = '\0';
    h->path = target;
    if (!pct_decode(h->path)) {
        *why = "malformed percent-encoding in the path";
        return 400;
    }

    /* field-line = field-name ":" OWS field-value OWS */
    for (;;) {
        line = next_line(&cur, &bad_cr);
        if (!line) return 400;
        if (bad_cr) {
            *why = "bare CR in the request head";
            return 400;
        }
        if (!*line) break;
        if (*line == ' ' || *line == '\t') {
            *why = "obsolete line folding in a header";
            return 400;
        }
        char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            *why = "malformed header line";
            return 400;
        }
        *colon = '\0';
        for (const char *c = line; *c; c++) {
            if (!is_tchar((unsigned char)*c)) {
                *why = "invalid character in a header name (or space before the colon)";
                return 400;
            }
        }
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
        for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
            if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
                *why = "control character in a header value";
                return 400;
            }
        }
        if (h->n_fields == OCTO_HTTP_MAX_REQ_HEADERS) {
            *why = "too many header fields";
            return 431;
        }
        h->fields[h->n_fields].name = line;
        h->fields[h->n_fields].value = v;
        h->n_fields++;
    }
    int hosts = 0;
    for (size_t i = 0; i < h->n_fields; i++) hosts += strcasecmp(h->fields[i].name, "Host") == 0;
    if (hosts > 1) {
        *why = "more than one Host header";
        return 400;
    }
    int st = framing(h, why);
    if (st) return st;
    const char *cn = octo_http_head_get(h, "Connection");
    h->keep_alive = h->minor >= 1 ? !(cn && list_has(cn, "close"))
                                  : (cn && list_has(cn, "keep-alive"));
    const char *exp = octo_http_head_get(h, "Expect");
    h->expect_continue = exp && strcasecmp(exp, "100-continue") == 0 && h->minor >= 1;
    return 0;
}

void octo_http_head_deinit(http_head *h)
{
    octo_free(h->store);
    memset(h, 0, sizeof *h);
    h->content_length = -1;
}

const char *octo_http_head_get(const http_head *h, const char *name)
{
    for (size_t i = 0; i < h->n_fields; i++)
        if (strcasecmp(h->fields[i].name, name) == 0) return h->fields[i].value;
    return NULL;
}

/* ==== chunked bodies ==== */

/* chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; the body ends with
 * a zero-size chunk, optional trailer fields and an empty line. Framing
 * lines must end in CR LF here (a bare LF is where parsers disagree). */
enum {
    K_SIZE = 0, K_EXT, K_SIZE_LF, K_DATA, K_DATA_CR, K_DATA_LF,
    K_TRAILER, K_TRAILER_LINE, K_TRAILER_LF, K_END_LF, K_DONE
};

#define CHUNK_LINE_MAX 4096

int octo_http_chunked_feed(http_chunked *c, const char *p, size_t n, size_t *used,
                           octo_buf *body)
{
    size_t i = 0;
    int rc = 0;
    while (i < n && c->st != K_DONE) {
        unsigned char ch = (unsigned char)p[i];
        switch (c->st) {
        case K_SIZE: {
            int v = hexval(ch);
            if (v >= 0) {
                if (++c->digits > 15) return OCTO_E_PARSE;
                c->left = c->left * 16 + (unsigned)v;
                i++;
            } else if (c->digits == 0) {
                return OCTO_E_PARSE;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->st = K_EXT;
                c->line = 0;
                i++;
            } else if (ch == '\r') {
                c->st = K_SIZE_LF;
                i++;
            } else {
                return OCTO_E_PARSE;
            }
            break;
        }
        case K_EXT:
            if (ch == '\r') c->st = K_SIZE_LF;
            else if (ch == '\n' || ch < 0x09 || ++c->line > CHUNK_LINE_MAX) return OCTO_E_PARSE;
            i++;
            break;
        case K_SIZE_LF:
            if (ch != '\n') return OCTO_E_PARSE;
            i++;
            c->digits = 0;
            c->st = c->left ? K_DATA : K_TRAILER;
            break;
        case K_DATA: {
            size_t take = n - i;
            if ((unsigned long long)take > c->left) take = (size_t)c->left;
            if (body->len + take > body->max) return OCTO_E_TOO_LARGE;
            rc = octo_buf_append(body, p + i, take);
            if (rc) return rc == OCTO_E_NOMEM ? OCTO_E_NOMEM : OCTO_E_TOO_LARGE;
            i += take;
            c->left -= take;
            if (!c->left) c->st = K_DATA_CR;
            break;
        }
        case K_DATA_CR:
            if (ch != '\r') return OCTO_E_PARSE;
            c->st = K_DATA_LF;
            i++;
            break;
        case K_DATA_LF:
            if (ch != '\n') return OCTO_E_PARSE;
            c->st = K_SIZE;
            i++;
            break;
        case K_TRAILER: /* start of a trailer line, or the final CR LF */
            if (ch == '\r') {
                c->st = K_END_LF;
            } else if (ch == '\n' || ch == ' ' || ch == '\t') {
                return OCTO_E_PARSE;
            } else {
                c->st = K_TRAILER_LINE;
                c->line = 1;
            }
            i++;
            break;
        case K_TRAILER_LINE:
            if (ch == '\r') c->st = K_TRAILER_LF;
            else if (ch == '\n' || ch == 0 || ++c->line > CHUNK_LINE_MAX) return OCTO_E_PARSE;
            i++;
            break;
        case K_TRAILER_LF:
            if (ch != '\n') return OCTO_E_PARSE;
            c->st = K_TRAILER;
            i++;
            break;
        case K_END_LF:
            if (ch != '\n') return OCTO_E_PARSE;
            c->st = K_DONE;
            i++;
            break;
        default: return OCTO_E_PARSE;
        }
    }
    *used = i;
    return c->st == K_DONE ? 1 : 0;
}
