/* SPDX-License-Identifier: Apache-2.0 */
/*
 * str — bounded byte buffers, safe copies, strict UTF-8 validation, number
 * parsing, whole-file reads and clocks. Not a string library: no Unicode
 * tables live here (those are in tokenizer/ and template/ via utf8proc).
 */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ==== octo_buf ==== */

void octo_buf_init(octo_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void octo_buf_deinit(octo_buf *b)
{
    octo_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static octo_err reserve(octo_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) return OCTO_E_TOO_LARGE;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return OCTO_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = octo_realloc(b->data, cap);
    if (!p) return OCTO_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return OCTO_OK;
}

octo_err octo_buf_append(octo_buf *b, const void *p, size_t n)
{
    octo_err rc = reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return OCTO_OK;
}

octo_err octo_buf_puts(octo_buf *b, const char *s) { return octo_buf_append(b, s, strlen(s)); }

octo_err octo_buf_printf(octo_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return OCTO_E_INVALID;
    octo_err rc = reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return OCTO_OK;
}

char *octo_buf_take(octo_buf *b)
{
    char *d = b->data;
    if (!d) d = octo_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void octo_buf_clear(octo_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

/* ==== strings ==== */

size_t octo_strlcpy(char *dst, const char *src, size_t dst_size)
{
    size_t n = strlen(src);
    if (dst_size) {
        size_t c = n < dst_size - 1 ? n : dst_size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

bool octo_utf8_valid(const char *str, size_t n, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else goto bad;
        if (n - i < len) goto bad;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) goto bad;
        i += len;
    }
    return true;
bad:
    if (bad_offset) *bad_offset = i;
    return false;
}

size_t octo_utf8_next(const char *p, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)p;
    if (n == 0) {
        *cp = 0;
        return 0;
    }
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    if (len > n || len == 1) {
        *cp = s[0];
        return 1;
    }
    uint32_t v = s[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = s[0];
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    *cp = v;
    return len;
}

octo_err octo_json_quote(octo_buf *b, const char *s, size_t n, bool ascii)
{
    octo_err rc = octo_buf_puts(b, "\"");
    size_t run = 0; /* start of a pending run of bytes copied verbatim */
    for (size_t i = 0; i < n && !rc;) {
        uint32_t u;
        size_t l = octo_utf8_next(s + i, n - i, &u);
        const char *esc = NULL;
        switch (u) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        bool broken = u >= 0x80 && l == 1, surrogate = u >= 0xD800 && u <= 0xDFFF;
        bool hex = !esc && (u < 0x20 || (ascii && u > 0x7E) || broken || surrogate);
        if (esc || hex) {
            rc = octo_buf_append(b, s + run, i - run);
            if (!rc && esc) rc = octo_buf_puts(b, esc);
            if (!rc && hex && u > 0xFFFF) {
                uint32_t v = u - 0x10000;
                rc = octo_buf_printf(b, "\\u%04x\\u%04x", (unsigned)(0xD800 + (v >> 10)),
                                     (unsigned)(0xDC00 + (v & 0x3FF)));
            } else if (!rc && hex) {
                rc = octo_buf_printf(b, "\\u%04x", (unsigned)u);
            }
            run = i + l;
        }
        i += l;
    }
    if (!rc) rc = octo_buf_append(b, s + run, n - run);
    if (!rc) rc = octo_buf_puts(b, "\"");
    return rc;
}

octo_err octo_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return OCTO_E_PARSE;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return OCTO_E_PARSE;
    if (v < lo || v > hi) return OCTO_E_INVALID;
    *out = v;
    return OCTO_OK;
}

octo_err octo_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s) return OCTO_E_PARSE;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || isnan(v)) return OCTO_E_PARSE;
    if (v < lo || v > hi) return OCTO_E_INVALID;
    *out = v;
    return OCTO_OK;
}

octo_err octo_file_read(const char *path, size_t max_bytes, char **data, size_t *len)
{
    octo_err rc = OCTO_OK;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? OCTO_E_NOT_FOUND : OCTO_E_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { rc = OCTO_E_IO; goto fail; }
    if ((size_t)st.st_size > max_bytes) { rc = OCTO_E_TOO_LARGE; goto fail; }
    size_t n = (size_t)st.st_size;
    buf = octo_malloc(n + 1);
    if (!buf) { rc = OCTO_E_NOMEM; goto fail; }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { rc = OCTO_E_IO; goto fail; }
        got += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    *data = buf;
    if (len) *len = n;
    return OCTO_OK;
fail:
    octo_free(buf);
    close(fd);
    return rc;
}

double octo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t octo_unix_time(void) { return (int64_t)time(NULL); }

void octo_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t done = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (done < n) {
        size_t want = (n - done + 1) / 2;
        if (want > sizeof raw) want = sizeof raw;
        ssize_t r = fd >= 0 ? read(fd, raw, want) : -1;
        if (r <= 0) { /* fall back to the clock; ids only need uniqueness */
            uint64_t t = (uint64_t)(octo_now() * 1e9) ^ (uint64_t)done;
            for (size_t k = 0; k < want; k++) raw[k] = (unsigned char)(t >> (8 * (k % 8)));
            r = (ssize_t)want;
        }
        for (ssize_t k = 0; k < r && done < n; k++) {
            out[done++] = hex[raw[k] >> 4];
            if (done < n) out[done++] = hex[raw[k] & 15];
        }
    }
    out[n] = '\0';
    if (fd >= 0) close(fd);
}
