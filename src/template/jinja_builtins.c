/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja_builtins — what templates reach by name: Jinja's filters and tests
 * (the subset chat templates use, with Jinja 3.1 semantics), HF's tojson,
 * the Python str/dict methods templates call (split, strip, startswith,
 * items, get, ...), attribute and item lookup, and the globals
 * raise_exception, namespace, strftime_now, range and dict.
 *
 * Like HF's ImmutableSandboxedEnvironment, methods that mutate lists or
 * dicts are refused. Anything not listed here is an error that names it.
 */
#include "template/template_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* ==== argument helpers ==== */

/* Argument i (positional) or `name` (keyword); returns false if absent. */
bool jj_arg(const jargs *a, size_t i, const char *name, jval *out)
{
    if (i < a->npos) {
        *out = a->pos[i];
        return true;
    }
    for (size_t k = 0; name && k < a->nkw; k++) {
        if (strcmp(a->kwn[k], name) == 0) {
            *out = a->kw[k];
            return true;
        }
    }
    return false;
}

jval jj_arg_or(const jargs *a, size_t i, const char *name, jval def)
{
    jval v;
    return jj_arg(a, i, name, &v) ? v : def;
}

static octo_err need_str(jctx *c, jval v, const char *what)
{
    if (v.kind == JV_STR) return OCTO_OK;
    return jj_fail(c, OCTO_E_INVALID, "%s must be str, not %s", what, jv_type_name(v));
}

octo_err jj_buf_done(jctx *c, octo_buf *b, octo_err rc, bool safe, jval *out)
{
    if (rc == OCTO_E_TOO_LARGE || rc == OCTO_E_NOMEM)
        rc = jj_fail(c, rc, "template output limit exceeded");
    if (!rc) rc = jv_str_new(c, b->data ? b->data : "", b->len, out);
    if (!rc) out->safe = safe;
    octo_buf_deinit(b);
    return rc;
}

/* soft_str: undefined -> "", str kept (with its markup flag), else str(). */
octo_err jj_soft_str(jctx *c, jval v, jval *out)
{
    if (v.kind == JV_STR) {
        *out = v;
        return OCTO_OK;
    }
    if (v.kind == JV_UNDEF) {
        *out = jv_str_ref("", 0);
        return OCTO_OK;
    }
    return jv_to_str(c, v, out);
}

/* ==== lookup and iteration ==== */

octo_err jj_iterate(jctx *c, jval v, jlist **out)
{
    jval l;
    octo_err rc = OCTO_OK;
    switch (v.kind) {
    case JV_LIST: case JV_TUPLE: *out = v.u.list; return OCTO_OK;
    case JV_UNDEF:
        rc = jv_list_new(c, 0, &l);
        break;
    case JV_DICT:
        rc = jv_list_new(c, v.u.dict->n, &l);
        for (size_t i = 0; i < v.u.dict->n && !rc; i++)
            rc = jv_list_push(c, l.u.list, v.u.dict->e[i].key);
        break;
    case JV_STR:
        rc = jv_list_new(c, v.u.s.n, &l);
        for (size_t i = 0; i < v.u.s.n && !rc;) {
            uint32_t u;
            size_t k = octo_utf8_next(v.u.s.p + i, v.u.s.n - i, &u);
            rc = jv_list_push(c, l.u.list, jv_str_ref(v.u.s.p + i, k));
            i += k;
        }
        break;
    case JV_LOOP: *out = v.u.loop->items; return OCTO_OK;
    default:
        return jj_fail(c, OCTO_E_INVALID, "'%s' object is not iterable", jv_type_name(v));
    }
    if (!rc) *out = l.u.list;
    return rc;
}

static const char *const str_methods[] = {
    "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit", "replace",
    "upper", "lower", "title", "capitalize", "find", "rfind", "count", "join", "splitlines",
    "isdigit", "isspace", "isalpha", "isalnum", "islower", "isupper", "format", "index",
    "encode", "zfill", "center", "ljust", "rjust", "partition", "rpartition", "swapcase",
    "casefold", "removeprefix", "removesuffix", "expandtabs", "isnumeric", "isdecimal", NULL};
static const char *const dict_methods[] = {"items", "keys", "values", "get", "pop", "update",
                                           "setdefault", "clear", "copy", "popitem", NULL};
static const char *const list_methods[] = {"append", "extend", "insert", "pop", "remove", "sort",
                                           "reverse", "clear", "index", "count", "copy", NULL};

static bool in_names(const char *const *names, const char *name)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0) return true;
    return false;
}

bool jj_has_method(jval obj, const char *name)
{
    switch (obj.kind) {
    case JV_STR: return in_names(str_methods, name);
    case JV_DICT: return in_names(dict_methods, name);
    case JV_LIST: return !obj.view && in_names(list_methods, name);
    case JV_LOOP: return strcmp(name, "cycle") == 0 || strcmp(name, "changed") == 0;
    default: return false;
    }
}

static octo_err loop_attr(jctx *c, jloop *l, const char *name, jval *out)
{
    size_t i = l->index0, n = l->length;
    if (!strcmp(name, "index0")) *out = jv_int((int64_t)i);
    else if (!strcmp(name, "index")) *out = jv_int((int64_t)i + 1);
    else if (!strcmp(name, "revindex")) *out = jv_int((int64_t)(n - i));
    else if (!strcmp(name, "revindex0")) *out = jv_int((int64_t)(n - i - 1));
    else if (!strcmp(name, "first")) *out = jv_bool(i == 0);
    else if (!strcmp(name, "last")) *out = jv_bool(i + 1 == n);
    else if (!strcmp(name, "length")) *out = jv_int((int64_t)n);
    else if (!strcmp(name, "depth")) *out = jv_int(1);
    else if (!strcmp(name, "depth0")) *out = jv_int(0);
    else if (!strcmp(name, "previtem")) *out = i > 0 ? l->items->v[i - 1] : jv_undef("previtem");
    else if (!strcmp(name, "nextitem"))
        *out = i + 1 < n ? l->items->v[i + 1] : jv_undef("nextitem");
    else *out = jv_undef(NULL);
    return OCTO_OK;
}

/* A bound method value (obj.name), callable later. */
static octo_err method_value(jctx *c, jval obj, const char *name, jval *out)
{
    jmethod *m = jj_alloc(c, sizeof *m);
    if (!m) return OCTO_E_TOO_LARGE;
    m->obj = obj;
    m->name = name;
    *out = (jval){.kind = JV_METHOD};
    out->u.method = m;
    return OCTO_OK;
}

octo_err jj_getattr(jctx *c, jval obj, const char *name, jval *out)
{
    if (obj.kind == JV_UNDEF) {
        if (obj.u.s.p)
            return jj_fail(c, OCTO_E_INVALID, "'%.*s' is undefined", (int)obj.u.s.n, obj.u.s.p);
        return jj_fail(c, OCTO_E_INVALID, "undefined value has no attribute '%s'", name);
    }
    if (jj_has_method(obj, name)) return method_value(c, obj, name, out);
    if (obj.kind == JV_LOOP) return loop_attr(c, obj.u.loop, name, out);
    if (obj.kind == JV_DICT || obj.kind == JV_NS) {
        jval *v = jv_dict_get(obj.u.dict, name, strlen(name));
        *out = v ? *v : jv_undef(NULL);
        return OCTO_OK;
    }
    *out = jv_undef(NULL);
    return OCTO_OK;
}

octo_err jj_getitem(jctx *c, jval obj, jval key, jval *out)
{
    if (obj.kind == JV_UNDEF) {
        if (obj.u.s.p)
            return jj_fail(c, OCTO_E_INVALID, "'%.*s' is undefined", (int)obj.u.s.n, obj.u.s.p);
        return jj_fail(c, OCTO_E_INVALID, "undefined value is not subscriptable");
    }
    bool intkey = key.kind == JV_INT || key.kind == JV_BOOL;
    int64_t k = key.kind == JV_BOOL ? key.u.b : key.u.i;
    if (obj.kind == JV_DICT && jv_hashable(key)) {
        jval *v = jv_dict_find(obj.u.dict, key);
        if (v) {
            *out = *v;
            return OCTO_OK;
        }
    }
    if ((obj.kind == JV_LIST || obj.kind == JV_TUPLE) && intkey && !obj.view) {
        int64_t n = (int64_t)obj.u.list->n;
        if (k < 0) k += n;
        *out = k >= 0 && k < n ? obj.u.list->v[k] : jv_undef(NULL);
        return OCTO_OK;
    }
    if (obj.kind == JV_STR && intkey) {
        int64_t n = (int64_t)jj_utf8_len(obj.u.s.p, obj.u.s.n);
        if (k < 0) k += n;
        if (k < 0 || k >= n) {
            *out = jv_undef(NULL);
            return OCTO_OK;
        }
        size_t off = jj_utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)k);
        uint32_t u;
        size_t len = octo_utf8_next(obj.u.s.p + off, obj.u.s.n - off, &u);
        *out = jv_str_ref(obj.u.s.p + off, len);
        return OCTO_OK;
    }
    if (key.kind == JV_STR) { /* then the attribute, as Jinja's getitem falls back */
        if (memchr(key.u.s.p, 0, key.u.s.n)) {
            *out = jv_undef(NULL);
            return OCTO_OK;
        }
        jval name;
        octo_err rc = jv_str_new(c, key.u.s.p, key.u.s.n, &name);
        return rc ? rc : jj_getattr(c, obj, name.u.s.p, out);
    }
    *out = jv_undef(NULL);
    return OCTO_OK;
}

/* ==== string operations ==== */

typedef uint32_t (*cpmap)(uint32_t);
static uint32_t up(uint32_t u) { return (uint32_t)utf8proc_toupper((utf8proc_int32_t)u); }
static uint32_t low(uint32_t u) { return (uint32_t)utf8proc_tolower((utf8proc_int32_t)u); }
static uint32_t ttl(uint32_t u) { return (uint32_t)utf8proc_totitle((utf8proc_int32_t)u); }
static bool is_cased(uint32_t u)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)u);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}
bool jj_is_alnum(uint32_t u)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)u);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

static octo_err put_cp(octo_buf *b, uint32_t u)
{
    utf8proc_uint8_t tmp[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)u, tmp);
    return octo_buf_append(b, tmp, (size_t)n);
}

/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' str.title, 'j' Jinja title */
octo_err jj_case_map(jctx *c, jval s, int mode, jval *out)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_err rc = OCTO_OK;
    bool prev_cased = false, word_start = true, first = true;
    for (size_t i = 0; i < s.u.s.n && !rc;) {
        uint32_t u;
        i += octo_utf8_next(s.u.s.p + i, s.u.s.n - i, &u);
        cpmap m = low;
        if (mode == 'u') m = up;
        else if (mode == 'c') m = first ? ttl : low;
        else if (mode == 't') m = is_cased(u) ? (prev_cased ? low : ttl) : low;
        else if (mode == 'j') {
            bool sep = jj_py_space(u) || u == '-' || u == '(' || u == '{' || u == '[' || u == '<';
            m = sep ? low : word_start ? up : low;
            word_start = sep;
        }
        prev_cased = is_cased(u);
        first = false;
        rc = put_cp(&b, m(u));
    }
    return jj_buf_done(c, &b, rc, s.safe, out);
}

octo_err jj_str_replace(jctx *c, jval s, jval old, jval new, int64_t count, jval *out)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_err rc = OCTO_OK;
    size_t i = 0;
    int64_t done = 0;
    if (old.u.s.n == 0) {
        while (!rc && (count < 0 || done < count)) {
            rc = octo_buf_append(&b, new.u.s.p, new.u.s.n);
            done++;
            if (i >= s.u.s.n) break;
            uint32_t u;
            size_t k = octo_utf8_next(s.u.s.p + i, s.u.s.n - i, &u);
            if (!rc) rc = octo_buf_append(&b, s.u.s.p + i, k);
            i += k;
        }
    } else {
        while (!rc && (count < 0 || done < count)) {
            const char *h = memmem(s.u.s.p + i, s.u.s.n - i, old.u.s.p, old.u.s.n);
            if (!h) break;
            size_t at = (size_t)(h - s.u.s.p);
            rc = octo_buf_append(&b, s.u.s.p + i, at - i);
            if (!rc) rc = octo_buf_append(&b, new.u.s.p, new.u.s.n);
            i = at + old.u.s.n;
            done++;
        }
    }
    if (!rc && i < s.u.s.n) rc = octo_buf_append(&b, s.u.s.p + i, s.u.s.n - i);
    return jj_buf_done(c, &b, rc, false, out);
}

/* str.split / str.rsplit with Python semantics. */
static octo_err str_split(jctx *c, jval s, jval sep, int64_t maxsplit, bool right, jval *out)
{
    octo_err rc = jv_list_new(c, 0, out);
    jlist *l = out->u.list;
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (rc) return rc;
    if (sep.kind == JV_STR && sep.u.s.n == 0) return jj_fail(c, OCTO_E_INVALID, "empty separator");
    /* collect piece boundaries left to right, then honour maxsplit from
     * the chosen side */
    size_t cap = 16, np = 0;
    size_t *lo = jj_alloc(c, cap * sizeof *lo), *hi = jj_alloc(c, cap * sizeof *hi);
    if (!lo || !hi) return OCTO_E_TOO_LARGE;
    size_t i = 0;
    bool ws = sep.kind != JV_STR;
    while (i <= n) {
        size_t a = i, b;
        if (ws) {
            while (a < n) {
                uint32_t u;
                size_t k = octo_utf8_next(p + a, n - a, &u);
                if (!jj_py_space(u)) break;
                a += k;
            }
            if (a >= n) break;
            b = a;
            while (b < n) {
                uint32_t u;
                size_t k = octo_utf8_next(p + b, n - b, &u);
                if (jj_py_space(u)) break;
                b += k;
            }
        } else {
            const char *h = memmem(p + a, n - a, sep.u.s.p, sep.u.s.n);
            b = h ? (size_t)(h - p) : n;
        }
        if (np == cap) {
            size_t *nl = jj_alloc(c, 2 * cap * sizeof *nl), *nh = jj_alloc(c, 2 * cap * sizeof *nh);
            if (!nl || !nh) return OCTO_E_TOO_LARGE;
            memcpy(nl, lo, np * sizeof *nl);
            memcpy(nh, hi, np * sizeof *nh);
            lo = nl;
            hi = nh;
            cap *= 2;
        }
        lo[np] = a;
        hi[np++] = b;
        if (b >= n) break;
        i = ws ? b : b + sep.u.s.n;
        if (!ws && i == n) { /* trailing separator: one empty piece */
            if (np == cap) break;
            lo[np] = hi[np] = n;
            np++;
            break;
        }
    }
    if (!ws && np == 0) {
        lo[0] = hi[0] = 0;
        np = 1;
    }
    size_t pieces = np;
    if (maxsplit >= 0 && (uint64_t)maxsplit + 1 < pieces) pieces = (size_t)maxsplit + 1;
    for (size_t k = 0; k < pieces && !rc; k++) {
        size_t a, b;
        bool rest = pieces < np && (right ? k == 0 : k + 1 == pieces);
        size_t j = right ? np - pieces + k : k;
        a = lo[j];
        b = hi[j];
        if (rest && !right) b = n;  /* the unsplit remainder keeps its text */
        if (rest && right) a = 0;
        rc = jv_list_push(c, l, jv_str_ref(p + a, b - a));
    }
    return rc;
}

static octo_err str_find(jctx *c, jval s, jval sub, bool rev, bool count, jval *out)
{
    if (sub.kind != JV_STR) return need_str(c, sub, "argument");
    int64_t found = -1, k = 0;
    if (sub.u.s.n == 0) {
        size_t n = jj_utf8_len(s.u.s.p, s.u.s.n);
        *out = jv_int(count ? (int64_t)n + 1 : rev ? (int64_t)n : 0);
        return OCTO_OK;
    }
    for (size_t i = 0; i + sub.u.s.n <= s.u.s.n;) {
        const char *h = memmem(s.u.s.p + i, s.u.s.n - i, sub.u.s.p, sub.u.s.n);
        if (!h) break;
        size_t at = (size_t)(h - s.u.s.p);
        k++;
        found = (int64_t)jj_utf8_len(s.u.s.p, at);
        if (!rev && !count) break;
        i = count ? at + sub.u.s.n : at + 1;
    }
    *out = jv_int(count ? k : found);
    return OCTO_OK;
}

static octo_err str_affix(jctx *c, jval s, jval what, bool end, jval *out)
{
    jlist one = {&what, 1, 1};
    jlist *cands = &one;
    if (what.kind == JV_TUPLE) cands = what.u.list;
    else if (what.kind != JV_STR)
        return jj_fail(c, OCTO_E_INVALID, "%s first arg must be str or a tuple of str, not %s",
                       end ? "endswith" : "startswith", jv_type_name(what));
    bool r = false;
    for (size_t i = 0; i < cands->n && !r; i++) {
        jval x = cands->v[i];
        if (x.kind != JV_STR) return need_str(c, x, "tuple item");
        r = x.u.s.n <= s.u.s.n &&
            memcmp(s.u.s.p + (end ? s.u.s.n - x.u.s.n : 0), x.u.s.p, x.u.s.n) == 0;
    }
    *out = jv_bool(r);
    return OCTO_OK;
}

octo_err jj_str_strip(jctx *c, jval s, jval chars, bool l, bool r, jval *out)
{
    size_t lo, hi;
    if (chars.kind != JV_NONE && chars.kind != JV_UNDEF && chars.kind != JV_STR)
        return need_str(c, chars, "strip arg");
    bool have = chars.kind == JV_STR;
    jj_strip(s.u.s.p, s.u.s.n, have ? chars.u.s.p : NULL, have ? chars.u.s.n : 0, l, r, &lo, &hi);
    *out = jv_str_ref(s.u.s.p + lo, hi - lo);
    out->safe = s.safe;
    return OCTO_OK;
}

static bool line_break(uint32_t u)
{
    return u == '\n' || u == '\r' || u == 0x0B || u == 0x0C || (u >= 0x1C && u <= 0x1E) ||
           u == 0x85 || u == 0x2028 || u == 0x2029;
}

/* str.splitlines() (keepends=False). */
octo_err jj_str_splitlines(jctx *c, jval s, jval *out)
{
    octo_err rc = jv_list_new(c, 0, out);
    size_t start = 0, i = 0;
    while (!rc && i < s.u.s.n) {
        uint32_t u;
        size_t k = octo_utf8_next(s.u.s.p + i, s.u.s.n - i, &u);
        if (line_break(u)) {
            rc = jv_list_push(c, out->u.list, jv_str_ref(s.u.s.p + start, i - start));
            i += k;
            if (u == '\r' && i < s.u.s.n && s.u.s.p[i] == '\n') i++;
            start = i;
        } else {
            i += k;
        }
    }
    if (!rc && start < s.u.s.n)
        rc = jv_list_push(c, out->u.list, jv_str_ref(s.u.s.p + start, s.u.s.n - start));
    return rc;
}

octo_err jj_str_join(jctx *c, jval sep, jval seq, jval *out)
{
    jlist *items;
    octo_err rc = jj_iterate(c, seq, &items);
    if (rc) return rc;
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    for (size_t i = 0; i < items->n && !rc; i++) {
        if (i) rc = octo_buf_append(&b, sep.u.s.p, sep.u.s.n);
        if (!rc) rc = jv_write_str(c, &b, items->v[i]);
    }
    return jj_buf_done(c, &b, rc, false, out);
}

static octo_err str_pred(jval s, const char *name, jval *out)
{
    bool all = s.u.s.n > 0, any_cased = false, lower = true, upper = true;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t u;
        i += octo_utf8_next(s.u.s.p + i, s.u.s.n - i, &u);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)u);
        if (!strcmp(name, "isdigit") || !strcmp(name, "isdecimal") || !strcmp(name, "isnumeric"))
            all = all && k == UTF8PROC_CATEGORY_ND;
        else if (!strcmp(name, "isspace")) all = all && jj_py_space(u);
        else if (!strcmp(name, "isalpha")) all = all && k >= UTF8PROC_CATEGORY_LU &&
                k <= UTF8PROC_CATEGORY_LO;
        else if (!strcmp(name, "isalnum")) all = all && jj_is_alnum(u);
        if (is_cased(u)) {
            any_cased = true;
            if (k != UTF8PROC_CATEGORY_LL) lower = false;
            if (k != UTF8PROC_CATEGORY_LU) upper = false;
        }
    }
    if (!strcmp(name, "islower")) *out = jv_bool(any_cased && lower);
    else if (!strcmp(name, "isupper")) *out = jv_bool(any_cased && upper);
    else *out = jv_bool(all);
    return OCTO_OK;
}

int64_t jj_int_arg(const jargs *a, size_t i, const char *name, int64_t def)
{
    jval v = jj_arg_or(a, i, name, jv_none());
    return v.kind == JV_INT ? v.u.i : v.kind == JV_BOOL ? v.u.b : def;
}

/* Most positional arguments each str method accepts here (beyond these a
 * Python TypeError, or an option octo does not implement). */
static size_t str_max_args(const char *m)
{
    static const struct { const char *m; size_t n; } t[] = {
        {"startswith", 1}, {"endswith", 1}, {"strip", 1}, {"lstrip", 1}, {"rstrip", 1},
        {"split", 2}, {"rsplit", 2}, {"replace", 3}, {"find", 1}, {"rfind", 1}, {"count", 1},
        {"join", 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].m, m)) return t[i].n;
    return 0;
}

static octo_err str_method(jctx *c, jval s, const char *m, const jargs *a, jval *out)
{
    jval x, y;
    bool split = !strcmp(m, "split") || !strcmp(m, "rsplit");
    for (size_t k = 0; k < a->nkw; k++)
        if (!split || (strcmp(a->kwn[k], "sep") && strcmp(a->kwn[k], "maxsplit")))
            return jj_fail(c, OCTO_E_INVALID, "%s() got an unexpected keyword argument '%s'", m,
                           a->kwn[k]);
    if (a->npos > str_max_args(m) && in_names(str_methods, m) && strcmp(m, "format") != 0)
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: %s() with %zu argument(s)", m,
                       a->npos);
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
        if (!jj_arg(a, 0, NULL, &x)) return jj_fail(c, OCTO_E_INVALID, "%s() takes an argument", m);
        if (a->npos > 1) return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: %s with start/end", m);
        return str_affix(c, s, x, m[0] == 'e', out);
    }
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip"))
        return jj_str_strip(c, s, jj_arg_or(a, 0, NULL, jv_none()), m[0] != 'r', m[0] != 'l', out);
    if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
        x = jj_arg_or(a, 0, "sep", jv_none());
        if (x.kind != JV_NONE && x.kind != JV_STR) return need_str(c, x, "separator");
        return str_split(c, s, x, jj_int_arg(a, 1, "maxsplit", -1), m[0] == 'r', out);
    }
    if (!strcmp(m, "replace")) {
        if (!jj_arg(a, 0, NULL, &x) || !jj_arg(a, 1, NULL, &y) || x.kind != JV_STR ||
                y.kind != JV_STR)
            return jj_fail(c, OCTO_E_INVALID, "replace() takes two str arguments");
        return jj_str_replace(c, s, x, y, jj_int_arg(a, 2, "count", -1), out);
    }
    if (!strcmp(m, "upper")) return jj_case_map(c, s, 'u', out);
    if (!strcmp(m, "lower")) return jj_case_map(c, s, 'l', out);
    if (!strcmp(m, "title")) return jj_case_map(c, s, 't', out);
    if (!strcmp(m, "capitalize")) return jj_case_map(c, s, 'c', out);
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "count")) {
        if (!jj_arg(a, 0, NULL, &x)) return jj_fail(c, OCTO_E_INVALID, "%s() takes an argument", m);
        if (a->npos > 1) return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: %s with start/end", m);
        return str_find(c, s, x, m[0] == 'r', m[0] == 'c', out);
    }
    if (!strcmp(m, "join")) {
        if (!jj_arg(a, 0, NULL, &x)) return jj_fail(c, OCTO_E_INVALID, "join() takes an argument");
        return jj_str_join(c, s, x, out);
    }
    if (!strcmp(m, "splitlines")) return jj_str_splitlines(c, s, out);
    if (!strncmp(m, "is", 2)) return str_pred(s, m, out);
    return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported str method '%s'", m);
}

octo_err jj_dict_items(jctx *c, jdict *d, int what, jval *out)
{
    octo_err rc = jv_list_new(c, d->n, out);
    for (size_t i = 0; i < d->n && !rc; i++) {
        jval v = what == 'k' ? d->e[i].key : d->e[i].val;
        if (what == 'i') {
            rc = jv_list_new(c, 2, &v);
            if (!rc) rc = jv_list_push(c, v.u.list, d->e[i].key);
            if (!rc) rc = jv_list_push(c, v.u.list, d->e[i].val);
            v.kind = JV_TUPLE;
        }
        if (!rc) rc = jv_list_push(c, out->u.list, v);
    }
    return rc;
}

octo_err jj_method(jctx *c, jval obj, const char *name, jval *args, size_t nargs,
                   const char **kwnames, jval *kwargs, size_t nkw, jval *out)
{
    jargs a = {args, nargs, kwnames, kwargs, nkw};
    if (obj.kind == JV_STR) return str_method(c, obj, name, &a, out);
    if (obj.kind == JV_DICT) {
        int what = !strcmp(name, "items") ? 'i' : !strcmp(name, "keys") ? 'k'
                   : !strcmp(name, "values") ? 'v' : 0;
        if (what) {
            if (nargs || nkw) return jj_fail(c, OCTO_E_INVALID, "%s() takes no arguments", name);
            octo_err rc = jj_dict_items(c, obj.u.dict, what, out);
            out->view = what == 'i' ? JVIEW_ITEMS : what == 'k' ? JVIEW_KEYS : JVIEW_VALUES;
            return rc;
        }
        if (!strcmp(name, "get")) {
            jval k;
            if (!jj_arg(&a, 0, NULL, &k)) return jj_fail(c, OCTO_E_INVALID, "get() takes a key");
            if (!jv_hashable(k))
                return jj_fail(c, OCTO_E_INVALID, "unhashable type: '%s'", jv_type_name(k));
            jval *v = jv_dict_find(obj.u.dict, k);
            *out = v ? *v : jj_arg_or(&a, 1, NULL, jv_none());
            return OCTO_OK;
        }
        if (!strcmp(name, "copy")) {
            octo_err rc = jv_dict_new(c, out);
            for (size_t i = 0; i < obj.u.dict->n && !rc; i++)
                rc = jv_dict_set(c, out->u.dict, obj.u.dict->e[i].key, obj.u.dict->e[i].val);
            return rc;
        }
    }
    if (obj.kind == JV_LIST && (!strcmp(name, "index") || !strcmp(name, "count"))) {
        jval x;
        if (!jj_arg(&a, 0, NULL, &x)) return jj_fail(c, OCTO_E_INVALID, "%s() takes an argument",
                name);
        int64_t k = 0, at = -1;
        for (size_t i = 0; i < obj.u.list->n; i++) {
            if (jv_equal(obj.u.list->v[i], x)) {
                k++;
                if (at < 0) at = (int64_t)i;
            }
        }
        if (name[0] == 'i' && at < 0) return jj_fail(c, OCTO_E_INVALID, "x not in list");
        *out = jv_int(name[0] == 'i' ? at : k);
        return OCTO_OK;
    }
    if (obj.kind == JV_LIST && !strcmp(name, "copy")) {
        octo_err rc = jv_list_new(c, obj.u.list->n, out);
        for (size_t i = 0; i < obj.u.list->n && !rc; i++)
            rc = jv_list_push(c, out->u.list, obj.u.list->v[i]);
        return rc;
    }
    if (obj.kind == JV_LOOP && !strcmp(name, "cycle")) {
        if (!nargs) return jj_fail(c, OCTO_E_INVALID, "no items for cycling given");
        *out = args[obj.u.loop->index0 % nargs];
        return OCTO_OK;
    }
    if (obj.kind == JV_LIST || obj.kind == JV_DICT)
        return jj_fail(c, OCTO_E_UNSUPPORTED, "access to attribute '%s' of '%s' object is unsafe",
                       name, jv_type_name(obj));
    return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported method '%s' of '%s' object", name,
                   jv_type_name(obj));
}

/* ==== tests ==== */

static const char *const test_names[] = {
    "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number",
    "integer", "float", "boolean", "true", "false", "eq", "equalto", "==", "ne", "!=", "lt", "<",
    "le", "<=", "gt", ">", "ge", ">=", "lessthan", "greaterthan", "in", "odd", "even",
    "divisibleby", "callable", "sameas", "lower", "upper", NULL};

bool jj_test_known(const char *name) { return in_names(test_names, name); }

octo_err jj_test(jctx *c, jframe *f, const char *t, jval v, jval *args, size_t nargs, bool *out)
{
    jkind k = v.kind;
    jval x = nargs ? args[0] : jv_undef(NULL);
    octo_err rc = OCTO_OK;
    bool lt;
    if (!strcmp(t, "defined")) *out = k != JV_UNDEF;
    else if (!strcmp(t, "undefined")) *out = k == JV_UNDEF;
    else if (!strcmp(t, "none")) *out = k == JV_NONE;
    else if (!strcmp(t, "string")) *out = k == JV_STR;
    else if (!strcmp(t, "mapping")) *out = k == JV_DICT;
    else if (!strcmp(t, "iterable"))
        *out = k == JV_STR || k == JV_LIST || k == JV_TUPLE || k == JV_DICT || k == JV_UNDEF ||
               k == JV_LOOP;
    else if (!strcmp(t, "sequence"))
        *out = k == JV_STR || (k == JV_LIST && !v.view) || k == JV_TUPLE || k == JV_DICT ||
               k == JV_UNDEF;
    else if (!strcmp(t, "number")) *out = k == JV_INT || k == JV_FLOAT || k == JV_BOOL;
    else if (!strcmp(t, "integer")) *out = k == JV_INT;
    else if (!strcmp(t, "float")) *out = k == JV_FLOAT;
    else if (!strcmp(t, "boolean")) *out = k == JV_BOOL;
    else if (!strcmp(t, "true")) *out = k == JV_BOOL && v.u.b;
    else if (!strcmp(t, "false")) *out = k == JV_BOOL && !v.u.b;
    else if (!strcmp(t, "callable")) *out = k == JV_MACRO || k == JV_FUNC || k == JV_METHOD;
    else if (!strcmp(t, "eq") || !strcmp(t, "equalto") || !strcmp(t, "==")) *out = jv_equal(v, x);
    else if (!strcmp(t, "ne") || !strcmp(t, "!=")) *out = !jv_equal(v, x);
    else if (!strcmp(t, "lt") || !strcmp(t, "<") || !strcmp(t, "lessthan")) rc = jv_less(c, v, x,
            out);
    else if (!strcmp(t, "gt") || !strcmp(t, ">") || !strcmp(t, "greaterthan")) rc = jv_less(c, x,
            v, out);
    else if (!strcmp(t, "le") || !strcmp(t, "<=")) { rc = jv_less(c, x, v, &lt); *out = !lt; }
    else if (!strcmp(t, "ge") || !strcmp(t, ">=")) { rc = jv_less(c, v, x, &lt); *out = !lt; }
    else if (!strcmp(t, "in")) {
        jlist *items;
        if (x.kind == JV_STR) {
            if (k != JV_STR) return jj_fail(c, OCTO_E_INVALID, "'in <string>' requires string");
            *out = memmem(x.u.s.p, x.u.s.n, v.u.s.p, v.u.s.n) != NULL || v.u.s.n == 0;
            return OCTO_OK;
        }
        if ((rc = jj_iterate(c, x, &items))) return rc;
        *out = false;
        for (size_t i = 0; i < items->n && !*out; i++) *out = jv_equal(v, items->v[i]);
    } else if (!strcmp(t, "odd") || !strcmp(t, "even") || !strcmp(t, "divisibleby")) {
        int64_t d = t[0] == 'd' ? (x.kind == JV_INT ? x.u.i : 0) : 2;
        if (k != JV_INT && k != JV_BOOL) return jj_fail(c, OCTO_E_UNSUPPORTED,
                "unsupported: %s of %s", t, jv_type_name(v));
        if (d == 0) return jj_fail(c, OCTO_E_INVALID, "division by zero");
        int64_t r = (k == JV_BOOL ? v.u.b : v.u.i) % d;
        *out = t[0] == 'o' ? r != 0 : r == 0;
    } else if (!strcmp(t, "sameas")) {
        *out = (k == x.kind && (k == JV_NONE || k == JV_UNDEF)) ||
               (k == JV_BOOL && x.kind == JV_BOOL && v.u.b == x.u.b) ||
               ((k == JV_LIST || k == JV_TUPLE) && k == x.kind && v.u.list == x.u.list) ||
               ((k == JV_DICT || k == JV_NS) && k == x.kind && v.u.dict == x.u.dict);
    } else if (!strcmp(t, "lower") || !strcmp(t, "upper")) {
        jval s, r;
        if ((rc = jj_soft_str(c, v, &s))) return rc;
        str_pred(s, t[0] == 'l' ? "islower" : "isupper", &r);
        *out = r.u.b;
    } else {
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported test '%s'", t);
    }
    (void)f;
    return rc;
}

