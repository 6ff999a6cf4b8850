/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolcall_json — reads JSON the way Python's json.loads does and prints it
 * the way json.dumps does (default separators ", " / ": ", ensure_ascii on
 * or off), because vLLM's tool parsers build the OpenAI "arguments" string
 * with json.dumps(json.loads(...)). So: integers keep all their digits
 * ("-0" becomes "0"), floats print as Python's repr (shortest round-trip),
 * NaN/Infinity are accepted and printed back, duplicate keys keep the first
 * position and the last value, lone \uD800-style surrogates survive.
 *
 * A second mode reads a subset of Python literals (ast.literal_eval): True,
 * False, None, '...' and "..." strings, tuples and trailing commas. It is
 * deliberately not a general JSON library: trees live in an arena and are
 * only read and printed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolcall/toolcall_int.h"

#define PJ_MAX_DEPTH 512      /* Python's recursion limit is about 1000 */
#define PJ_MAX_INT_DIGITS 4300 /* CPython's int_max_str_digits */

typedef struct pj_reader {
    octo_arena *a;
    const char *s;
    size_t n, i;
    pj_mode mode;
    int depth;
    octo_err oom; /* set when the arena failed */
} pj_reader;

/* ==== small helpers ==== */

octo_arena *pj_arena_new(size_t n)
{
    size_t max = n * 64 + 65536;
    if (max / 64 < n) return NULL;
    /* Small first chunk for the usual small call; more come as needed. */
    size_t chunk = n * 2 + 1024 < 65536 ? n * 2 + 1024 : 65536;
    return octo_arena_new(chunk, max);
}

pj_val *pj_new(octo_arena *a, pj_type t)
{
    pj_val *v = octo_arena_alloc(a, sizeof *v);
    if (v) v->type = t;
    return v;
}

pj_val *pj_new_str(octo_arena *a, const char *s, size_t n)
{
    pj_val *v = pj_new(a, PJ_STR);
    char *c = v ? octo_arena_alloc(a, n + 1) : NULL;
    if (!c) return NULL;
    memcpy(c, s, n);
    v->s = c;
    v->n = n;
    return v;
}

pj_val *pj_obj_get(const pj_val *obj, const char *key, size_t keyn)
{
    for (pj_val *m = obj->first; m; m = m->next)
        if (m->keyn == keyn && memcmp(m->key, key, keyn) == 0) return m;
    return NULL;
}

static void pj_append(pj_val *parent, pj_val *v)
{
    if (parent->last) parent->last->next = v;
    else parent->first = v;
    parent->last = v;
}

void pj_obj_set(pj_val *obj, const char *key, size_t keyn, pj_val *v)
{
    pj_val **pp = &obj->first, *prev = NULL;
    for (; *pp; prev = *pp, pp = &(*pp)->next) {
        pj_val *m = *pp;
        if (m->keyn == keyn && memcmp(m->key, key, keyn) == 0) {
            v->next = m->next;
            *pp = v;
            if (obj->last == m) obj->last = v;
            v->key = key;
            v->keyn = keyn;
            return;
        }
    }
    (void)prev;
    v->key = key;
    v->keyn = keyn;
    v->next = NULL;
    pj_append(obj, v);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex(const char *s, size_t n, size_t at, int digits, unsigned long *out)
{
    unsigned long v = 0;
    if (at + (size_t)digits > n) return false;
    for (int k = 0; k < digits; k++) {
        int h = hexval(s[at + (size_t)k]);
        if (h < 0) return false;
        v = v * 16 + (unsigned long)h;
    }
    *out = v;
    return true;
}

/* Encodes cp as UTF-8 (surrogates as WTF-8); returns bytes written. */
static size_t put_cp(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ==== strings ==== */

/* Reads a \uXXXX escape at s[*i] (just after the backslash-u), pairing a
 * high surrogate with a following \uDC00-\uDFFF escape as Python does. */
static bool read_u_escape(const char *s, size_t n, size_t *i, unsigned long *cp)
{
    unsigned long v, lo;
    if (!read_hex(s, n, *i, 4, &v)) return false;
    *i += 4;
    if (v >= 0xD800 && v <= 0xDBFF && *i + 1 < n && s[*i] == '\\' && s[*i + 1] == 'u' &&
        read_hex(s, n, *i + 2, 4, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        *i += 6;
    }
    *cp = v;
    return true;
}

/* Python-literal escapes beyond JSON's: \' \xHH \UXXXXXXXX \0 \a \v and a
 * backslash-newline continuation. Returns false on anything else. */
static bool read_py_escape(const char *s, size_t n, size_t *i, unsigned long *cp, bool *skip)
{
    char c = s[*i];
    unsigned long v;
    *skip = false;
    (*i)++;
    switch (c) {
    case '\'': *cp = '\''; return true;
    case 'a': *cp = 7; return true;
    case 'v': *cp = 11; return true;
    case '0': *cp = 0; return true;
    case '\n': *skip = true; return true;
    case 'x':
        if (!read_hex(s, n, *i, 2, &v)) return false;
        *i += 2;
        *cp = v;
        return true;
    case 'U':
        if (!read_hex(s, n, *i, 8, &v) || v > 0x10FFFF) return false;
        *i += 8;
        *cp = v;
        return true;
    default: return false;
    }
}

/* Decodes the string body s[*i..] up to the closing `quote` (or to n when
 * quote is 0) into arena memory. JSON mode rejects raw control characters
 * (json.loads is strict); Python mode rejects raw newlines only. */
static octo_err decode_string(pj_reader *r, char quote, const char **out, size_t *outn)
{
    const char *s = r->s;
    size_t n = r->n, i = r->i, o = 0, end = i;
    /* Size the output by the raw body: decoding never grows it. */
    while (quote && end < n && s[end] != quote) end += s[end] == '\\' ? 2 : 1;
    if (!quote || end > n) end = n;
    char *buf = octo_arena_alloc(r->a, end - i + 1);
    if (!buf) return r->oom = OCTO_E_NOMEM;
    for (;;) {
        if (i >= n) {
            if (quote) return OCTO_E_PARSE;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (quote && c == (unsigned char)quote) {
            i++;
            break;
        }
        if (c == '\\') {
            unsigned long cp;
            bool skip = false;
            if (++i >= n) return OCTO_E_PARSE;
            char e = s[i];
            switch (e) {
            case '"': cp = '"'; i++; break;
            case '\\': cp = '\\'; i++; break;
            case '/': cp = '/'; i++; break;
            case 'b': cp = 8; i++; break;
            case 'f': cp = 12; i++; break;
            case 'n': cp = 10; i++; break;
            case 'r': cp = 13; i++; break;
            case 't': cp = 9; i++; break;
            case 'u':
                i++;
                if (!read_u_escape(s, n, &i, &cp)) return OCTO_E_PARSE;
                break;
            default:
                if (r->mode != PJ_MODE_PYLIT) return OCTO_E_PARSE;
                if (!read_py_escape(s, n, &i, &cp, &skip)) return OCTO_E_PARSE;
                break;
            }
            if (e == '/' && r->mode == PJ_MODE_PYLIT) { /* Python keeps "\/" */
                buf[o++] = '\\';
            }
            if (!skip) o += put_cp(buf + o, cp);
            continue;
        }
        if (r->mode == PJ_MODE_JSON ? c < 0x20 : (c == '\n' || c == '\r')) return OCTO_E_PARSE;
        if (!quote && c == '"') return OCTO_E_PARSE; /* it would end the string */
        buf[o++] = (char)c;
        i++;
    }
    buf[o] = '\0';
    r->i = i;
    *out = buf;
    *outn = o;
    return OCTO_OK;
}

octo_err pj_decode_json_string(octo_arena *a, const char *s, size_t n, const char **out,
                               size_t *outn)
{
    pj_reader r = {.a = a, .s = s, .n = n, .i = 0, .mode = PJ_MODE_JSON};
    return decode_string(&r, 0, out, outn);
}

/* ==== values ==== */

static void skip_ws(pj_reader *r)
{
    while (r->i < r->n) {
        char c = r->s[r->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') r->i++;
        else if (c == '#' && r->mode == PJ_MODE_PYLIT) /* a Python comment */
            while (r->i < r->n && r->s[r->i] != '\n') r->i++;
        else break;
    }
}

static bool take_word(pj_reader *r, const char *w)
{
    size_t k = strlen(w);
    if (r->n - r->i < k || memcmp(r->s + r->i, w, k) != 0) return false;
    r->i += k;
    return true;
}

static size_t count_digits(const pj_reader *r, size_t at)
{
    size_t k = 0;
    while (at + k < r->n && r->s[at + k] >= '0' && r->s[at + k] <= '9') k++;
    return k;
}

/* JSON number grammar (a leading '+' too in Python mode). */
static octo_err read_number(pj_reader *r, pj_val **out)
{
    size_t start = r->i, i = r->i;
    bool neg = false, isfloat = false;
    if (i < r->n && (r->s[i] == '-' || (r->mode == PJ_MODE_PYLIT && r->s[i] == '+'))) {
        neg = r->s[i] == '-';
        i++;
    }
    bool py = r->mode == PJ_MODE_PYLIT;
    size_t d = count_digits(r, i);
    /* Python also writes "5." and ".5". */
    bool dot_first = py && d == 0 && i < r->n && r->s[i] == '.' && count_digits(r, i + 1);
    if (d == 0 && !dot_first) return OCTO_E_PARSE;
    if (d > 1 && r->s[i] == '0') return OCTO_E_PARSE;
    size_t int_start = i;
    i += d;
    if (i < r->n && r->s[i] == '.') {
        size_t f = count_digits(r, i + 1);
        if (f == 0 && !py) return OCTO_E_PARSE;
        i += 1 + f;
        isfloat = true;
    }
    if (i < r->n && (r->s[i] == 'e' || r->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < r->n && (r->s[j] == '+' || r->s[j] == '-')) j++;
        size_t e = count_digits(r, j);
        if (e == 0) return OCTO_E_PARSE;
        i = j + e;
        isfloat = true;
    }
    pj_val *v = pj_new(r->a, isfloat ? PJ_FLOAT : PJ_INT);
    if (!v) return r->oom = OCTO_E_NOMEM;
    if (isfloat) {
        char tmp[512];
        size_t len = i - start;
        char *heap = NULL, *p = tmp;
        if (len >= sizeof tmp) {
            heap = octo_malloc(len + 1);
            if (!heap) return r->oom = OCTO_E_NOMEM;
            p = heap;
        }
        memcpy(p, r->s + start, len);
        p[len] = '\0';
        v->d = strtod(p, NULL);
        octo_free(heap);
    } else {
        if (d > PJ_MAX_INT_DIGITS) return OCTO_E_PARSE;
        /* Python's int drops the sign of zero: "-0" is 0. */
        bool zero = d == 1 && r->s[int_start] == '0';
        v->s = r->s + ((neg && !zero) ? start : int_start);
        v->n = i - ((neg && !zero) ? start : int_start);
    }
    r->i = i;
    *out = v;
    return OCTO_OK;
}

static octo_err read_value(pj_reader *r, pj_val **out);

/* A Python dict key: str stays, int/float/bool/None become their JSON
 * spelling as json.dumps does; anything else fails. */
static octo_err key_text(pj_reader *r, const pj_val *k, const char **s, size_t *n)
{
    octo_buf b;
    octo_err rc;
    switch (k->type) {
    case PJ_STR: *s = k->s; *n = k->n; return OCTO_OK;
    case PJ_INT: *s = k->s; *n = k->n; return OCTO_OK;
    case PJ_TRUE: *s = "true"; *n = 4; return OCTO_OK;
    case PJ_FALSE: *s = "false"; *n = 5; return OCTO_OK;
    case PJ_NULL: *s = "null"; *n = 4; return OCTO_OK;
    case PJ_FLOAT:
        octo_buf_init(&b, 64);
        rc = pj_dump(k, false, &b);
        if (!rc) {
            char *c = octo_arena_alloc(r->a, b.len + 1);
            if (!c) rc = r->oom = OCTO_E_NOMEM;
            else {
                memcpy(c, b.data, b.len);
                *s = c;
                *n = b.len;
            }
        }
        octo_buf_deinit(&b);
        return rc;
    default: return OCTO_E_PARSE;
    }
}

static octo_err read_object(pj_reader *r, pj_val **out)
{
    pj_val *obj = pj_new(r->a, PJ_OBJ);
    if (!obj) return r->oom = OCTO_E_NOMEM;
    r->i++; /* '{' */
    skip_ws(r);
    if (r->i < r->n && r->s[r->i] == '}') {
        r->i++;
        *out = obj;
        return OCTO_OK;
    }
    for (;;) {
        const char *key;
        size_t keyn;
        pj_val *v;
        octo_err rc;
        skip_ws(r);
        if (r->mode == PJ_MODE_PYLIT) {
            if (r->i < r->n && r->s[r->i] == '}') break; /* trailing comma */
            pj_val *k;
            rc = read_value(r, &k);
            if (rc) return rc;
            rc = key_text(r, k, &key, &keyn);
            if (rc) return rc;
        } else {
            if (r->i >= r->n || r->s[r->i] != '"') return OCTO_E_PARSE;
            r->i++;
            rc = decode_string(r, '"', &key, &keyn);
            if (rc) return rc;
        }
        skip_ws(r);
        if (r->i >= r->n || r->s[r->i] != ':') return OCTO_E_PARSE;
        r->i++;
        rc = read_value(r, &v);
        if (rc) return rc;
        pj_obj_set(obj, key, keyn, v);
        skip_ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->i < r->n && r->s[r->i] == '}') break;
        return OCTO_E_PARSE;
    }
    r->i++;
    *out = obj;
    return OCTO_OK;
}

/* [ ... ] and, in Python mode, ( ... ) which json.dumps prints as a list. */
static octo_err read_array(pj_reader *r, char close, pj_val **out)
{
    pj_val *arr = pj_new(r->a, PJ_ARR);
    size_t count = 0;
    bool comma = false;
    if (!arr) return r->oom = OCTO_E_NOMEM;
    r->i++;
    skip_ws(r);
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
        *out = arr;
        return OCTO_OK;
    }
    for (;;) {
        pj_val *v;
        skip_ws(r);
        if (r->mode == PJ_MODE_PYLIT && count > 0 && r->i < r->n && r->s[r->i] == close) break;
        octo_err rc = read_value(r, &v);
        if (rc) return rc;
        pj_append(arr, v);
        count++;
        skip_ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            comma = true;
            continue;
        }
        if (r->i < r->n && r->s[r->i] == close) break;
        return OCTO_E_PARSE;
    }
    r->i++;
    /* "(x)" is just x in Python, not a tuple. */
    if (close == ')' && count == 1 && !comma) {
        *out = arr->first;
        return OCTO_OK;
    }
    *out = arr;
    return OCTO_OK;
}

static octo_err read_value_inner(pj_reader *r, pj_val **out)
{
    bool py = r->mode == PJ_MODE_PYLIT;
    skip_ws(r);
    if (r->i >= r->n) return OCTO_E_PARSE;
    char c = r->s[r->i];
    pj_type t;
    if (c == '{') return read_object(r, out);
    if (c == '[') return read_array(r, ']', out);
    if (c == '(' && py) return read_array(r, ')', out);
    if (c == '"' || (c == '\'' && py)) {
        pj_val *v = pj_new(r->a, PJ_STR);
        if (!v) return r->oom = OCTO_E_NOMEM;
        r->i++;
        octo_err rc = decode_string(r, c, &v->s, &v->n);
        if (rc) return rc;
        *out = v;
        return OCTO_OK;
    }
    if (!py && take_word(r, "NaN")) {
        pj_val *v = pj_new(r->a, PJ_FLOAT);
        if (!v) return r->oom = OCTO_E_NOMEM;
        v->d = NAN;
        *out = v;
        return OCTO_OK;
    }
    bool inf = !py && take_word(r, "Infinity"), ninf = !py && !inf && take_word(r, "-Infinity");
    if (inf || ninf) {
        pj_val *v = pj_new(r->a, PJ_FLOAT);
        if (!v) return r->oom = OCTO_E_NOMEM;
        v->d = ninf ? -INFINITY : INFINITY;
        *out = v;
        return OCTO_OK;
    }
    if (take_word(r, py ? "True" : "true")) t = PJ_TRUE;
    else if (take_word(r, py ? "False" : "false")) t = PJ_FALSE;
    else if (take_word(r, py ? "None" : "null")) t = PJ_NULL;
    else return read_number(r, out);
    *out = pj_new(r->a, t);
    return *out ? OCTO_OK : (r->oom = OCTO_E_NOMEM);
}

static octo_err read_value(pj_reader *r, pj_val **out)
{
    if (++r->depth > PJ_MAX_DEPTH) return OCTO_E_PARSE;
    octo_err rc = read_value_inner(r, out);
    r->depth--;
    return rc;
}

octo_err pj_parse(octo_arena *a, const char *s, size_t n, pj_mode mode, pj_val **out)
{
    pj_reader r = {.a = a, .s = s, .n = n, .i = 0, .mode = mode};
    pj_val *v = NULL;
    octo_err rc = read_value(&r, &v);
    if (r.oom) return r.oom;
    if (rc) return rc;
    skip_ws(&r);
    if (r.i != r.n) return OCTO_E_PARSE;
    *out = v;
    return OCTO_OK;
}

/* ==== printing ==== */

/* Python's repr(float): the shortest digits that read back the same value,
 * fixed notation when 1e-4 <= |x| < 1e16, else d.ddde+XX. */
static octo_err dump_float(double d, octo_buf *out)
{
    if (isnan(d)) return octo_buf_puts(out, "NaN");
    if (isinf(d)) return octo_buf_puts(out, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return octo_buf_puts(out, signbit(d) ? "-0.0" : "0.0");
    char tmp[64], digits[32];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    if (prec == 17) snprintf(tmp, sizeof tmp, "%.*e", 16, d);
    /* tmp: [-]D[.DDD]e(+|-)XX */
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    size_t k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = '\0';
    long e = strtol(p + 1, NULL, 10);
    long decpt = e + 1;
    octo_err rc = neg ? octo_buf_puts(out, "-") : OCTO_OK;
    if (rc) return rc;
    if (decpt <= -4 || decpt > 16) {
        rc = octo_buf_append(out, digits, 1);
        if (!rc && k > 1) rc = octo_buf_printf(out, ".%s", digits + 1);
        if (!rc) rc = octo_buf_printf(out, "e%c%02ld", e < 0 ? '-' : '+', e < 0 ? -e : e);
        return rc;
    }
    if (decpt <= 0) {
        rc = octo_buf_puts(out, "0.");
        for (long z = 0; !rc && z < -decpt; z++) rc = octo_buf_puts(out, "0");
        return rc ? rc : octo_buf_puts(out, digits);
    }
    if ((size_t)decpt >= k) {
        rc = octo_buf_puts(out, digits);
        for (long z = (long)k; !rc && z < decpt; z++) rc = octo_buf_puts(out, "0");
        return rc ? rc : octo_buf_puts(out, ".0");
    }
    rc = octo_buf_append(out, digits, (size_t)decpt);
    return rc ? rc : octo_buf_printf(out, ".%s", digits + decpt);
}

/* Strings go through octo_json_quote (base.h), the same writer as Jinja's
 * tojson: Python's json.dumps, surrogates kept from the input (WTF-8)
 * escaped as \uXXXX. */
static octo_err dump_rec(const pj_val *v, bool ensure_ascii, octo_buf *out)
{
    octo_err rc = OCTO_OK;
    switch (v->type) {
    case PJ_NULL: return octo_buf_puts(out, "null");
    case PJ_TRUE: return octo_buf_puts(out, "true");
    case PJ_FALSE: return octo_buf_puts(out, "false");
    case PJ_INT: return octo_buf_append(out, v->s, v->n);
    case PJ_FLOAT: return dump_float(v->d, out);
    case PJ_STR: return octo_json_quote(out, v->s, v->n, ensure_ascii);
    case PJ_ARR:
        rc = octo_buf_puts(out, "[");
        for (const pj_val *c = v->first; !rc && c; c = c->next) {
            if (c != v->first) rc = octo_buf_puts(out, ", ");
            if (!rc) rc = dump_rec(c, ensure_ascii, out);
        }
        return rc ? rc : octo_buf_puts(out, "]");
    case PJ_OBJ:
        rc = octo_buf_puts(out, "{");
        for (const pj_val *c = v->first; !rc && c; c = c->next) {
            if (c != v->first) rc = octo_buf_puts(out, ", ");
            if (!rc) rc = octo_json_quote(out, c->key, c->keyn, ensure_ascii);
            if (!rc) rc = octo_buf_puts(out, ": ");
            if (!rc) rc = dump_rec(c, ensure_ascii, out);
        }
        return rc ? rc : octo_buf_puts(out, "}");
    }
    return OCTO_E_INTERNAL;
}

octo_err pj_dump(const pj_val *v, bool ensure_ascii, octo_buf *out)
{
    return dump_rec(v, ensure_ascii, out);
}
