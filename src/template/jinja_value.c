/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja_value — the values the Jinja interpreter computes with, and the
 * Python behaviour templates observe through them: truthiness, equality
 * and ordering, str() and repr() (how "{{ x }}" prints a list, dict, float
 * or None), json.dumps as the HF "tojson" filter calls it, and the Python
 * str whitespace and stripping rules, all on UTF-8 code points.
 *
 * It is not a general Python object model: only JSON-shaped data plus the
 * few Jinja objects (namespace, macro, loop) exist. Values live in the
 * render arena and are never freed one by one.
 */
#include "template/template_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ==== errors and allocation ==== */

octo_err jj_fail(jctx *c, octo_err rc, const char *fmt, ...)
{
    if (c->err && c->err_size && !c->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->err, c->err_size, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < c->err_size && c->line > 0)
            snprintf(c->err + n, c->err_size - (size_t)n, " at line %d", c->line);
    }
    return rc;
}

void *jj_alloc(jctx *c, size_t n)
{
    void *p = octo_arena_alloc(c->arena, n ? n : 1);
    if (!p) jj_fail(c, OCTO_E_TOO_LARGE, "template memory limit exceeded");
    return p;
}

/* ==== constructors ==== */

jval jv_undef(const char *hint)
{
    jval v = {.kind = JV_UNDEF};
    v.u.s.p = hint;
    v.u.s.n = hint ? strlen(hint) : 0;
    return v;
}
jval jv_none(void) { return (jval){.kind = JV_NONE}; }
jval jv_bool(bool b) { jval v = {.kind = JV_BOOL}; v.u.b = b; return v; }
jval jv_int(int64_t i) { jval v = {.kind = JV_INT}; v.u.i = i; return v; }
jval jv_float(double f) { jval v = {.kind = JV_FLOAT}; v.u.f = f; return v; }

jval jv_str_ref(const char *p, size_t n)
{
    jval v = {.kind = JV_STR};
    v.u.s.p = p ? p : "";
    v.u.s.n = n;
    return v;
}

octo_err jv_str_new(jctx *c, const char *p, size_t n, jval *out)
{
    char *d = jj_alloc(c, n + 1);
    if (!d) return OCTO_E_TOO_LARGE;
    if (n) memcpy(d, p, n);
    *out = jv_str_ref(d, n);
    return OCTO_OK;
}

octo_err jv_list_new(jctx *c, size_t cap, jval *out)
{
    jlist *l = jj_alloc(c, sizeof *l);
    if (!l) return OCTO_E_TOO_LARGE;
    if (cap) {
        l->v = jj_alloc(c, cap * sizeof *l->v);
        if (!l->v) return OCTO_E_TOO_LARGE;
        l->cap = cap;
    }
    *out = (jval){.kind = JV_LIST};
    out->u.list = l;
    return OCTO_OK;
}

octo_err jv_list_push(jctx *c, jlist *l, jval v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        jval *nv = jj_alloc(c, cap * sizeof *nv);
        if (!nv) return OCTO_E_TOO_LARGE;
        if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return OCTO_OK;
}

octo_err jv_dict_new(jctx *c, jval *out)
{
    jdict *d = jj_alloc(c, sizeof *d);
    if (!d) return OCTO_E_TOO_LARGE;
    *out = (jval){.kind = JV_DICT};
    out->u.dict = d;
    return OCTO_OK;
}

jval *jv_dict_get(jdict *d, const char *k, size_t kn)
{
    for (size_t i = 0; i < d->n; i++) {
        jval *key = &d->e[i].key;
        if (key->kind == JV_STR && key->u.s.n == kn && memcmp(key->u.s.p, k, kn) == 0)
            return &d->e[i].val;
    }
    return NULL;
}

bool jv_hashable(jval v)
{
    if (v.kind == JV_TUPLE) {
        for (size_t i = 0; i < v.u.list->n; i++)
            if (!jv_hashable(v.u.list->v[i])) return false;
        return true;
    }
    return v.kind == JV_STR || v.kind == JV_INT || v.kind == JV_BOOL || v.kind == JV_FLOAT ||
           v.kind == JV_NONE;
}

jval *jv_dict_find(jdict *d, jval key)
{
    if (key.kind == JV_STR) return jv_dict_get(d, key.u.s.p, key.u.s.n);
    for (size_t i = 0; i < d->n; i++) /* Python: 1, 1.0 and True are one key */
        if (d->e[i].key.kind != JV_STR && jv_equal(d->e[i].key, key)) return &d->e[i].val;
    return NULL;
}

octo_err jv_dict_set(jctx *c, jdict *d, jval key, jval v)
{
    if (!jv_hashable(key))
        return jj_fail(c, OCTO_E_INVALID, "unhashable type: '%s'", jv_type_name(key));
    jval *old = jv_dict_find(d, key);
    if (old) {
        *old = v;
        return OCTO_OK;
    }
    return jv_dict_push(c, d, key, v);
}

octo_err jv_dict_push(jctx *c, jdict *d, jval key, jval v)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        jentry *ne = jj_alloc(c, cap * sizeof *ne);
        if (!ne) return OCTO_E_TOO_LARGE;
        if (d->n) memcpy(ne, d->e, d->n * sizeof *ne);
        d->e = ne;
        d->cap = cap;
    }
    d->e[d->n].key = key;
    d->e[d->n].val = v;
    d->n++;
    return OCTO_OK;
}

/* ==== predicates, equality, ordering ==== */

bool jv_is_str(jval v) { return v.kind == JV_STR; }
bool jv_is_seq(jval v) { return v.kind == JV_LIST || v.kind == JV_TUPLE; }
bool jv_is_num(jval v) { return v.kind == JV_BOOL || v.kind == JV_INT || v.kind == JV_FLOAT; }

double jv_num(jval v)
{
    if (v.kind == JV_BOOL) return v.u.b ? 1.0 : 0.0;
    if (v.kind == JV_INT) return (double)v.u.i;
    return v.u.f;
}

bool jv_truthy(jval v)
{
    switch (v.kind) {
    case JV_UNDEF: case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n != 0;
    case JV_LIST: case JV_TUPLE: return v.view == JVIEW_GEN || v.u.list->n != 0;
    case JV_DICT: return v.u.dict->n != 0;
    default: return true;
    }
}

const char *jv_type_name(jval v)
{
    static const char *views[] = {"list", "generator", "dict_items", "dict_keys", "dict_values"};
    if (v.kind == JV_LIST && v.view) return views[v.view];
    static const char *names[] = {"Undefined", "NoneType", "bool", "int", "float", "str",
                                  "list", "tuple", "dict", "Namespace", "Macro",
                                  "builtin_function", "LoopContext",
                                  "builtin_method"};
    return names[v.kind];
}

/* Python raises RecursionError near 1000 levels; octo stops comparing
 * there (such values only come from templates built to be pathological). */
static bool equal_depth(jval a, jval b, int depth);

bool jv_equal(jval a, jval b) { return equal_depth(a, b, 0); }

static bool equal_depth(jval a, jval b, int depth)
{
    if (depth > JJ_MAX_VALUE_DEPTH) return false;
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind != JV_FLOAT && b.kind != JV_FLOAT) {
            int64_t x = a.kind == JV_BOOL ? a.u.b : a.u.i;
            int64_t y = b.kind == JV_BOOL ? b.u.b : b.u.i;
            return x == y;
        }
        return jv_num(a) == jv_num(b);
    }
    if (a.kind != b.kind) return false;
    if ((a.view == JVIEW_KEYS || a.view == JVIEW_ITEMS) && a.view == b.view) {
        if (a.u.list->n != b.u.list->n) return false; /* set-like views */
        for (size_t i = 0; i < a.u.list->n; i++) {
            bool found = false;
            for (size_t j = 0; j < b.u.list->n && !found; j++)
                found = equal_depth(a.u.list->v[i], b.u.list->v[j], depth + 1);
            if (!found) return false;
        }
        return true;
    }
    if (a.view || b.view) return a.view == b.view && a.u.list == b.u.list; /* identity */
    switch (a.kind) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST: case JV_TUPLE:
        if (a.u.list->n != b.u.list->n) return false;
        for (size_t i = 0; i < a.u.list->n; i++)
            if (!equal_depth(a.u.list->v[i], b.u.list->v[i], depth + 1)) return false;
        return true;
    case JV_DICT:
        if (a.u.dict->n != b.u.dict->n) return false;
        for (size_t i = 0; i < a.u.dict->n; i++) {
            jentry *e = &a.u.dict->e[i];
            jval *o = jv_dict_find(b.u.dict, e->key);
            if (!o || !equal_depth(e->val, *o, depth + 1)) return false;
        }
        return true;
    case JV_NS: return a.u.dict == b.u.dict;
    case JV_MACRO: return a.u.macro == b.u.macro;
    case JV_FUNC: return a.u.func == b.u.func;
    case JV_LOOP: return a.u.loop == b.u.loop;
    case JV_METHOD: return a.u.method == b.u.method;
    default: return false;
    }
}

octo_err jv_less(jctx *c, jval a, jval b, bool *lt)
{
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind != JV_FLOAT && b.kind != JV_FLOAT) {
            int64_t x = a.kind == JV_BOOL ? a.u.b : a.u.i;
            int64_t y = b.kind == JV_BOOL ? b.u.b : b.u.i;
            *lt = x < y;
        } else {
            *lt = jv_num(a) < jv_num(b);
        }
        return OCTO_OK;
    }
    if (a.kind == JV_STR && b.kind == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        *lt = r < 0 || (r == 0 && a.u.s.n < b.u.s.n);
        return OCTO_OK;
    }
    if ((a.kind == JV_LIST || a.kind == JV_TUPLE) && a.kind == b.kind && !a.view && !b.view) {
        size_t i = 0;
        for (; i < a.u.list->n && i < b.u.list->n; i++) {
            if (jv_equal(a.u.list->v[i], b.u.list->v[i])) continue;
            if (++c->depth > JJ_MAX_DEPTH + JJ_MAX_VALUE_DEPTH) {
                c->depth--;
                return jj_fail(c, OCTO_E_TOO_LARGE, "value nesting too deep");
            }
            octo_err rc = jv_less(c, a.u.list->v[i], b.u.list->v[i], lt);
            c->depth--;
            return rc;
        }
        *lt = a.u.list->n < b.u.list->n;
        return OCTO_OK;
    }
    if (a.kind == JV_UNDEF || b.kind == JV_UNDEF)
        return jj_fail(c, OCTO_E_INVALID, "comparison with an undefined value");
    return jj_fail(c, OCTO_E_INVALID, "'<' not supported between instances of '%s' and '%s'",
                   jv_type_name(a), jv_type_name(b));
}

/* ==== UTF-8 and Python whitespace ==== */

size_t jj_utf8_len(const char *p, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80) count++;
    return count;
}

size_t jj_utf8_offset(const char *p, size_t n, size_t cp)
{
    size_t i = 0;
    while (i < n && cp > 0) {
        uint32_t u;
        i += octo_utf8_next(p + i, n - i, &u);
        cp--;
    }
    return i;
}

bool jj_py_space(uint32_t cp)
{
    if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20)) return true;
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

static bool in_chars(uint32_t cp, const char *chars, size_t cn)
{
    if (!chars) return jj_py_space(cp);
    for (size_t i = 0; i < cn;) {
        uint32_t u;
        i += octo_utf8_next(chars + i, cn - i, &u);
        if (u == cp) return true;
    }
    return false;
}

void jj_strip(const char *s, size_t n, const char *chars, size_t cn, bool left, bool right,
              size_t *lo, size_t *hi)
{
    size_t a = 0, b = n;
    while (left && a < b) {
        uint32_t u;
        size_t l = octo_utf8_next(s + a, b - a, &u);
        if (!in_chars(u, chars, cn)) break;
        a += l;
    }
    while (right && b > a) {
        size_t st = b - 1;
        while (st > a && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
        uint32_t u;
        octo_utf8_next(s + st, b - st, &u);
        if (!in_chars(u, chars, cn)) break;
        b = st;
    }
    *lo = a;
    *hi = b;
}

/* ==== Python float repr ==== */

void jj_float_repr(double f, char *buf, size_t size)
{
    if (isnan(f)) { snprintf(buf, size, "nan"); return; }
    if (isinf(f)) { snprintf(buf, size, f < 0 ? "-inf" : "inf"); return; }
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp: [-]d[.ddd]e[+-]XX */
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd < sizeof digits - 1) digits[nd++] = *p;
    int exp10 = (int)strtol(p + 1, NULL, 10);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    int decpt = exp10 + 1;
    size_t o = 0;
    char out[64];
    if (neg) out[o++] = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -decpt; i++) out[o++] = '0';
            for (size_t i = 0; i < nd; i++) out[o++] = digits[i];
        } else {
            for (int i = 0; i < decpt; i++) out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)decpt < nd)
                for (size_t i = (size_t)decpt; i < nd; i++) out[o++] = digits[i];
            else
                out[o++] = '0';
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++) out[o++] = digits[i];
        }
        int e = decpt - 1;
        snprintf(out + o, sizeof out - o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    snprintf(buf, size, "%s", out);
}

/* ==== str() and repr() ==== */

static bool py_printable(uint32_t cp)
{
    if (cp == ' ') return true;
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp < 0x7F) return true;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    switch (cat) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

static octo_err write_str_repr(octo_buf *b, const char *s, size_t n)
{
    bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = sq && !dq ? '"' : '\'';
    octo_err rc = octo_buf_append(b, &q, 1);
    for (size_t i = 0; i < n && !rc;) {
        uint32_t u;
        size_t l = octo_utf8_next(s + i, n - i, &u);
        if (u == (uint32_t)q || u == '\\') {
            char e[2] = {'\\', (char)u};
            rc = octo_buf_append(b, e, 2);
        } else if (u == '\n') {
            rc = octo_buf_puts(b, "\\n");
        } else if (u == '\r') {
            rc = octo_buf_puts(b, "\\r");
        } else if (u == '\t') {
            rc = octo_buf_puts(b, "\\t");
        } else if (py_printable(u)) {
            rc = octo_buf_append(b, s + i, l);
        } else if (u < 0x100) {
            rc = octo_buf_printf(b, "\\x%02x", (unsigned)u);
        } else if (u < 0x10000) {
            rc = octo_buf_printf(b, "\\u%04x", (unsigned)u);
        } else {
            rc = octo_buf_printf(b, "\\U%08x", (unsigned)u);
        }
        i += l;
    }
    if (!rc) rc = octo_buf_append(b, &q, 1);
    return rc;
}

static octo_err write_scalar(jctx *c, octo_buf *b, jval v, bool repr)
{
    char tmp[48];
    switch (v.kind) {
    case JV_UNDEF: return OCTO_OK;
    case JV_NONE: return octo_buf_puts(b, "None");
    case JV_BOOL: return octo_buf_puts(b, v.u.b ? "True" : "False");
    case JV_INT: return octo_buf_printf(b, "%lld", (long long)v.u.i);
    case JV_FLOAT:
        jj_float_repr(v.u.f, tmp, sizeof tmp);
        return octo_buf_puts(b, tmp);
    case JV_STR:
        if (repr) return write_str_repr(b, v.u.s.p, v.u.s.n);
        return octo_buf_append(b, v.u.s.p, v.u.s.n);
    default:
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: printing a %s object",
                       jv_type_name(v));
    }
}

octo_err jv_write_repr(jctx *c, octo_buf *b, jval v)
{
    octo_err rc = OCTO_OK;
    if (++c->depth > JJ_MAX_DEPTH + JJ_MAX_VALUE_DEPTH) {
        c->depth--;
        return jj_fail(c, OCTO_E_TOO_LARGE, "value nesting too deep");
    }
    if (v.kind == JV_LIST && v.view == JVIEW_GEN) {
        rc = jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: printing a generator (add |list)");
    } else if (v.kind == JV_LIST || v.kind == JV_TUPLE) {
        bool tup = v.kind == JV_TUPLE;
        if (v.view) {
            rc = octo_buf_puts(b, jv_type_name(v));
            if (!rc) rc = octo_buf_puts(b, "(");
        }
        if (!rc) rc = octo_buf_puts(b, tup ? "(" : "[");
        for (size_t i = 0; i < v.u.list->n && !rc; i++) {
            if (i) rc = octo_buf_puts(b, ", ");
            if (!rc) rc = jv_write_repr(c, b, v.u.list->v[i]);
        }
        if (!rc && tup && v.u.list->n == 1) rc = octo_buf_puts(b, ",");
        if (!rc) rc = octo_buf_puts(b, tup ? ")" : "]");
        if (!rc && v.view) rc = octo_buf_puts(b, ")");
    } else if (v.kind == JV_DICT) {
        rc = octo_buf_puts(b, "{");
        for (size_t i = 0; i < v.u.dict->n && !rc; i++) {
            if (i) rc = octo_buf_puts(b, ", ");
            if (!rc) rc = jv_write_repr(c, b, v.u.dict->e[i].key);
            if (!rc) rc = octo_buf_puts(b, ": ");
            if (!rc) rc = jv_write_repr(c, b, v.u.dict->e[i].val);
        }
        if (!rc) rc = octo_buf_puts(b, "}");
    } else if (v.kind == JV_UNDEF) {
        rc = jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: repr of an undefined value");
    } else {
        rc = write_scalar(c, b, v, true);
    }
    c->depth--;
    return rc;
}

octo_err jv_write_str(jctx *c, octo_buf *b, jval v)
{
    if (v.kind == JV_LIST || v.kind == JV_TUPLE || v.kind == JV_DICT)
        return jv_write_repr(c, b, v);
    return write_scalar(c, b, v, false);
}

octo_err jv_to_str(jctx *c, jval v, jval *out)
{
    if (v.kind == JV_STR) {
        *out = v;
        out->safe = false;
        return OCTO_OK;
    }
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_err rc = jv_write_str(c, &b, v);
    if (rc == OCTO_E_TOO_LARGE || rc == OCTO_E_NOMEM)
        jj_fail(c, rc, "template output limit exceeded");
    if (!rc) rc = jv_str_new(c, b.data, b.len, out);
    octo_buf_deinit(&b);
    return rc;
}

/* ==== json.dumps ==== */

typedef struct jsonopt {
    bool ascii, sort;
    int indent;
    const char *isep, *ksep;
} jsonopt;

static octo_err json_newline(octo_buf *b, const jsonopt *o, int level)
{
    if (o->indent < 0) return OCTO_OK;
    octo_err rc = octo_buf_puts(b, "\n");
    for (int i = 0; i < o->indent * level && !rc; i++) rc = octo_buf_puts(b, " ");
    return rc;
}

/* json.dumps turns int/float/bool/None keys into strings. */
static octo_err write_json_key(jctx *c, octo_buf *b, jval k, bool ascii)
{
    char tmp[48];
    switch (k.kind) {
    case JV_STR: return octo_json_quote(b, k.u.s.p, k.u.s.n, ascii);
    case JV_INT: return octo_buf_printf(b, "\"%lld\"", (long long)k.u.i);
    case JV_BOOL: return octo_buf_puts(b, k.u.b ? "\"true\"" : "\"false\"");
    case JV_NONE: return octo_buf_puts(b, "\"null\"");
    case JV_FLOAT:
        if (isnan(k.u.f)) return octo_buf_puts(b, "\"NaN\"");
        if (isinf(k.u.f)) return octo_buf_puts(b, k.u.f < 0 ? "\"-Infinity\"" : "\"Infinity\"");
        jj_float_repr(k.u.f, tmp, sizeof tmp);
        return octo_buf_printf(b, "\"%s\"", tmp);
    default:
        return jj_fail(c, OCTO_E_INVALID, "keys must be str, int, float, bool or None, not %s",
                       jv_type_name(k));
    }
}

static int cmp_entry_num(const void *x, const void *y)
{
    double a = jv_num(((const jentry *)x)->key), b = jv_num(((const jentry *)y)->key);
    return a < b ? -1 : a > b;
}

static int cmp_entry(const void *x, const void *y)
{
    const jentry *a = x, *b = y;
    size_t n = a->key.u.s.n < b->key.u.s.n ? a->key.u.s.n : b->key.u.s.n;
    int r = n ? memcmp(a->key.u.s.p, b->key.u.s.p, n) : 0;
    if (r) return r;
    return a->key.u.s.n < b->key.u.s.n ? -1 : a->key.u.s.n > b->key.u.s.n;
}

static octo_err write_json(jctx *c, octo_buf *b, jval v, const jsonopt *o, int level)
{
    char tmp[48];
    octo_err rc = OCTO_OK;
    if (level > JJ_MAX_VALUE_DEPTH)
        return jj_fail(c, OCTO_E_TOO_LARGE, "value nesting too deep for JSON");
    switch (v.kind) {
    case JV_NONE: return octo_buf_puts(b, "null");
    case JV_BOOL: return octo_buf_puts(b, v.u.b ? "true" : "false");
    case JV_INT: return octo_buf_printf(b, "%lld", (long long)v.u.i);
    case JV_FLOAT:
        if (isnan(v.u.f)) return octo_buf_puts(b, "NaN");
        if (isinf(v.u.f)) return octo_buf_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        jj_float_repr(v.u.f, tmp, sizeof tmp);
        return octo_buf_puts(b, tmp);
    case JV_STR: return octo_json_quote(b, v.u.s.p, v.u.s.n, o->ascii);
    case JV_LIST: case JV_TUPLE:
        if (v.view)
            return jj_fail(c, OCTO_E_INVALID, "Object of type %s is not JSON serializable",
                           jv_type_name(v));
        if (v.u.list->n == 0) return octo_buf_puts(b, "[]");
        rc = octo_buf_puts(b, "[");
        for (size_t i = 0; i < v.u.list->n && !rc; i++) {
            if (i) rc = octo_buf_puts(b, o->isep);
            if (!rc) rc = json_newline(b, o, level + 1);
            if (!rc) rc = write_json(c, b, v.u.list->v[i], o, level + 1);
        }
        if (!rc) rc = json_newline(b, o, level);
        if (!rc) rc = octo_buf_puts(b, "]");
        return rc;
    case JV_DICT: {
        jdict *d = v.u.dict;
        if (d->n == 0) return octo_buf_puts(b, "{}");
        jentry *e = d->e;
        if (o->sort) {
            bool strs = true, nums = true;
            for (size_t i = 0; i < d->n; i++) {
                strs = strs && d->e[i].key.kind == JV_STR;
                nums = nums && jv_is_num(d->e[i].key);
            }
            if (!strs && !nums)
                return jj_fail(c, OCTO_E_INVALID, "sort_keys: keys of mixed types");
            e = jj_alloc(c, d->n * sizeof *e);
            if (!e) return OCTO_E_TOO_LARGE;
            memcpy(e, d->e, d->n * sizeof *e);
            qsort(e, d->n, sizeof *e, strs ? cmp_entry : cmp_entry_num);
        }
        rc = octo_buf_puts(b, "{");
        for (size_t i = 0; i < d->n && !rc; i++) {
            if (i) rc = octo_buf_puts(b, o->isep);
            if (!rc) rc = json_newline(b, o, level + 1);
            if (!rc) rc = write_json_key(c, b, e[i].key, o->ascii);
            if (!rc) rc = octo_buf_puts(b, o->ksep);
            if (!rc) rc = write_json(c, b, e[i].val, o, level + 1);
        }
        if (!rc) rc = json_newline(b, o, level);
        if (!rc) rc = octo_buf_puts(b, "}");
        return rc;
    }
    default:
        return jj_fail(c, OCTO_E_INVALID, "Object of type %s is not JSON serializable",
                       jv_type_name(v));
    }
}

octo_err jv_write_json(jctx *c, octo_buf *b, jval v, bool ensure_ascii, int indent,
                       const char *item_sep, const char *key_sep, bool sort_keys)
{
    jsonopt o = {ensure_ascii, sort_keys, indent, item_sep, key_sep};
    if (!o.isep) o.isep = indent >= 0 ? "," : ", ";
    if (!o.ksep) o.ksep = ": ";
    if (++c->depth > JJ_MAX_DEPTH) {
        c->depth--;
        return jj_fail(c, OCTO_E_TOO_LARGE, "value nesting too deep");
    }
    octo_err rc = write_json(c, b, v, &o, 0);
    c->depth--;
    return rc;
}

/* ==== JSON in ==== */

octo_err jv_from_json(jctx *c, const json_t *j, jval *out)
{
    octo_err rc = OCTO_OK;
    if (!j) {
        *out = jv_none();
        return OCTO_OK;
    }
    switch (json_typeof(j)) {
    case JSON_NULL: *out = jv_none(); return OCTO_OK;
    case JSON_TRUE: *out = jv_bool(true); return OCTO_OK;
    case JSON_FALSE: *out = jv_bool(false); return OCTO_OK;
    case JSON_INTEGER: *out = jv_int((int64_t)json_integer_value(j)); return OCTO_OK;
    case JSON_REAL: *out = jv_float(json_real_value(j)); return OCTO_OK;
    case JSON_STRING: return jv_str_new(c, json_string_value(j), json_string_length(j), out);
    case JSON_ARRAY: {
        rc = jv_list_new(c, json_array_size(j), out);
        for (size_t i = 0; i < json_array_size(j) && !rc; i++) {
            jval item;
            rc = jv_from_json(c, json_array_get(j, i), &item);
            if (!rc) rc = jv_list_push(c, out->u.list, item);
        }
        return rc;
    }
    case JSON_OBJECT: {
        rc = jv_dict_new(c, out);
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)j, k, val) {
            jval key, item;
            if (!rc) rc = jv_str_new(c, k, strlen(k), &key);
            if (!rc) rc = jv_from_json(c, val, &item);
            if (!rc) rc = jv_dict_push(c, out->u.dict, key, item); /* keys are unique */
        }
        return rc;
    }
    }
    return jj_fail(c, OCTO_E_INVALID, "unknown JSON value");
}
