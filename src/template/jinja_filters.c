/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja_filters — Jinja 3.1 filters as chat templates use them (with the
 * Hugging Face "tojson" that calls json.dumps with ensure_ascii=False and
 * no HTML escaping), and the global functions raise_exception, namespace,
 * strftime_now, range (capped like the sandbox's safe_range) and dict.
 *
 * A filter not in the table is rejected when the template is parsed.
 */
#include "template/template_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#define JJ_MAX_RANGE 100000 /* jinja2.sandbox.MAX_RANGE */

static const char *const filter_names[] = {
    "tojson", "trim", "length", "count", "items", "string", "upper", "lower", "title",
    "capitalize", "replace", "join", "default", "d", "first", "last", "list", "map", "select",
    "reject", "selectattr", "rejectattr", "unique", "safe", "indent", "int", "float", "abs",
    "round", "wordcount", "sum", "reverse", "escape", "e", "sort", "dictsort", NULL};

bool jj_filter_known(const char *name)
{
    for (const char *const *n = filter_names; *n; n++)
        if (strcmp(*n, name) == 0) return true;
    return false;
}

/* ==== helpers ==== */

static octo_err length(jctx *c, jval v, int64_t *n)
{
    switch (v.kind) {
    case JV_STR: *n = (int64_t)jj_utf8_len(v.u.s.p, v.u.s.n); return OCTO_OK;
    case JV_LIST: case JV_TUPLE:
        if (v.view == JVIEW_GEN) break;
        *n = (int64_t)v.u.list->n;
        return OCTO_OK;
    case JV_DICT: *n = (int64_t)v.u.dict->n; return OCTO_OK;
    case JV_UNDEF: *n = 0; return OCTO_OK;
    case JV_LOOP: *n = (int64_t)v.u.loop->length; return OCTO_OK;
    default:
        break;
    }
    return jj_fail(c, OCTO_E_INVALID, "object of type '%s' has no len()", jv_type_name(v));
}

/* environment.getitem along a dotted attribute path ("a.b", "0"). */
static octo_err attr_path(jctx *c, jval item, jval attr, jval *out)
{
    if (attr.kind == JV_INT) return jj_getitem(c, item, attr, out);
    if (attr.kind != JV_STR)
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported attribute of type %s",
                       jv_type_name(attr));
    size_t i = 0;
    octo_err rc = OCTO_OK;
    while (!rc) {
        const char *dot = memchr(attr.u.s.p + i, '.', attr.u.s.n - i);
        size_t end = dot ? (size_t)(dot - attr.u.s.p) : attr.u.s.n;
        jval key = jv_str_ref(attr.u.s.p + i, end - i);
        bool digits = end > i;
        for (size_t k = i; k < end; k++) digits = digits && attr.u.s.p[k] >= '0' &&
                attr.u.s.p[k] <= '9';
        if (digits && end - i < 18) {
            int64_t v = 0;
            for (size_t k = i; k < end; k++) v = v * 10 + (attr.u.s.p[k] - '0');
            key = jv_int(v);
        }
        rc = item.kind == JV_UNDEF ? OCTO_OK : jj_getitem(c, item, key, &item);
        if (!dot) break;
        i = end + 1;
    }
    *out = item;
    return rc;
}

static octo_err as_list(jctx *c, jval v, jlist **out)
{
    if (v.kind == JV_NONE || jv_is_num(v) || v.kind == JV_NS || v.kind == JV_MACRO)
        return jj_fail(c, OCTO_E_INVALID, "'%s' object is not iterable", jv_type_name(v));
    return jj_iterate(c, v, out);
}

/* ==== individual filters ==== */

static octo_err f_tojson(jctx *c, jval v, const jargs *a, jval *out)
{
    jval ascii = jj_arg_or(a, 0, "ensure_ascii", jv_bool(false));
    jval indent = jj_arg_or(a, 1, "indent", jv_none());
    jval seps = jj_arg_or(a, 2, "separators", jv_none());
    jval sort = jj_arg_or(a, 3, "sort_keys", jv_bool(false));
    int ind = -1;
    const char *isep = NULL, *ksep = NULL;
    if (indent.kind == JV_INT) ind = indent.u.i < 0 ? 0 : indent.u.i > 64 ? 64 : (int)indent.u.i;
    else if (indent.kind != JV_NONE)
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported tojson indent of type %s",
                       jv_type_name(indent));
    if (jv_is_seq(seps) && seps.u.list->n == 2 && seps.u.list->v[0].kind == JV_STR &&
        seps.u.list->v[1].kind == JV_STR) {
        jval s0, s1;
        octo_err rc = jv_str_new(c, seps.u.list->v[0].u.s.p, seps.u.list->v[0].u.s.n, &s0);
        if (!rc) rc = jv_str_new(c, seps.u.list->v[1].u.s.p, seps.u.list->v[1].u.s.n, &s1);
        if (rc) return rc;
        isep = s0.u.s.p;
        ksep = s1.u.s.p;
    } else if (seps.kind != JV_NONE) {
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported tojson separators");
    }
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_err rc = jv_write_json(c, &b, v, jv_truthy(ascii), ind, isep, ksep, jv_truthy(sort));
    return jj_buf_done(c, &b, rc, false, out);
}

static octo_err f_indent(jctx *c, jval v, const jargs *a, jval *out)
{
    jval s, lines;
    jval width = jj_arg_or(a, 0, "width", jv_int(4));
    bool first = jv_truthy(jj_arg_or(a, 1, "first", jv_bool(false)));
    bool blank = jv_truthy(jj_arg_or(a, 2, "blank", jv_bool(false)));
    if (v.kind != JV_STR) /* Jinja does s += "\n" on the value itself */
        return jj_fail(c, OCTO_E_INVALID, "indent of a %s value", jv_type_name(v));
    octo_err rc = OCTO_OK;
    s = v;
    octo_buf ind, b;
    octo_buf_init(&ind, 4096);
    if (width.kind == JV_STR) rc = octo_buf_append(&ind, width.u.s.p, width.u.s.n);
    else if (width.kind == JV_INT)
        for (int64_t i = 0; i < width.u.i && !rc; i++) rc = octo_buf_puts(&ind, " ");
    else rc = jj_fail(c, OCTO_E_INVALID, "indent width must be int or str");
    jval s2; /* Jinja appends "\n" before splitlines() */
    char *d = rc ? NULL : jj_alloc(c, s.u.s.n + 2);
    if (!rc && !d) rc = OCTO_E_TOO_LARGE;
    if (!rc) {
        memcpy(d, s.u.s.p, s.u.s.n);
        d[s.u.s.n] = '\n';
        s2 = jv_str_ref(d, s.u.s.n + 1);
        rc = jj_str_splitlines(c, s2, &lines);
    }
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    if (!rc && first) rc = octo_buf_append(&b, ind.data, ind.len);
    for (size_t i = 0; !rc && i < lines.u.list->n; i++) {
        jval ln = lines.u.list->v[i];
        if (i) {
            rc = octo_buf_puts(&b, "\n");
            if (!rc && (blank || ln.u.s.n)) rc = octo_buf_append(&b, ind.data, ind.len);
        }
        if (!rc) rc = octo_buf_append(&b, ln.u.s.p, ln.u.s.n);
    }
    octo_buf_deinit(&ind);
    return jj_buf_done(c, &b, rc, s.safe, out);
}

static octo_err f_int(jctx *c, jval v, const jargs *a, jval *out)
{
    jval def = jj_arg_or(a, 0, "default", jv_int(0));
    int64_t base = jj_int_arg(a, 1, "base", 10);
    if (v.kind == JV_INT) { *out = v; return OCTO_OK; }
    if (v.kind == JV_BOOL) { *out = jv_int(v.u.b); return OCTO_OK; }
    if (v.kind == JV_FLOAT) {
        if (!isfinite(v.u.f) || fabs(v.u.f) > 9e18) { *out = def; return OCTO_OK; }
        *out = jv_int((int64_t)v.u.f);
        return OCTO_OK;
    }
    if (v.kind != JV_STR) { *out = def; return OCTO_OK; }
    size_t lo, hi;
    jj_strip(v.u.s.p, v.u.s.n, NULL, 0, true, true, &lo, &hi);
    char buf[64];
    size_t n = 0;
    for (size_t i = lo; i < hi && n < sizeof buf - 1; i++)
        if (v.u.s.p[i] != '_') buf[n++] = v.u.s.p[i];
    buf[n] = '\0';
    if (hi - lo >= sizeof buf - 1 || n == 0) { *out = def; return OCTO_OK; }
    char *end;
    long long r = strtoll(buf, &end, (int)base);
    if (*end == '\0') {
        *out = jv_int(r);
        return OCTO_OK;
    }
    double d = strtod(buf, &end);
    bool hex = strchr(buf, 'x') || strchr(buf, 'X');
    if (*end == '\0' && !hex && isfinite(d) && fabs(d) < 9e18) *out = jv_int((int64_t)d);
    else *out = def;
    return OCTO_OK;
}

static octo_err f_float(jctx *c, jval v, const jargs *a, jval *out)
{
    jval def = jj_arg_or(a, 0, "default", jv_float(0.0));
    (void)c;
    if (jv_is_num(v)) { *out = jv_float(jv_num(v)); return OCTO_OK; }
    if (v.kind != JV_STR) { *out = def; return OCTO_OK; }
    size_t lo, hi;
    jj_strip(v.u.s.p, v.u.s.n, NULL, 0, true, true, &lo, &hi);
    char buf[64];
    if (hi - lo == 0 || hi - lo >= sizeof buf || memchr(v.u.s.p + lo, 'x', hi - lo) ||
        memchr(v.u.s.p + lo, 'X', hi - lo)) {
        *out = def;
        return OCTO_OK;
    }
    memcpy(buf, v.u.s.p + lo, hi - lo);
    buf[hi - lo] = '\0';
    char *end;
    double d = strtod(buf, &end);
    *out = *end == '\0' ? jv_float(d) : def;
    return OCTO_OK;
}

static octo_err f_round(jctx *c, jval v, const jargs *a, jval *out)
{
    int64_t prec = jj_int_arg(a, 0, "precision", 0);
    jval method = jj_arg_or(a, 1, "method", jv_str_ref("common", 6));
    if (!jv_is_num(v)) return jj_fail(c, OCTO_E_INVALID, "round of %s", jv_type_name(v));
    if (method.kind != JV_STR) return jj_fail(c, OCTO_E_INVALID, "bad round method");
    double x = jv_num(v), scale = pow(10.0, (double)prec);
    if (method.u.s.n == 6 && !memcmp(method.u.s.p, "common", 6)) {
        if (v.kind != JV_FLOAT)
                { *out = jv_int(v.kind == JV_BOOL ? v.u.b : v.u.i); return OCTO_OK; }
        if (prec < 0 || prec > 300) return jj_fail(c, OCTO_E_UNSUPPORTED,
                "unsupported round precision");
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
        *out = jv_float(strtod(buf, NULL));
    } else if (method.u.s.n == 4 && !memcmp(method.u.s.p, "ceil", 4)) {
        *out = jv_float(ceil(x * scale) / scale);
    } else if (method.u.s.n == 5 && !memcmp(method.u.s.p, "floor", 5)) {
        *out = jv_float(floor(x * scale) / scale);
    } else {
        return jj_fail(c, OCTO_E_INVALID, "method must be common, ceil or floor");
    }
    return OCTO_OK;
}

static octo_err f_wordcount(jctx *c, jval v, jval *out)
{
    jval s;
    octo_err rc = jj_soft_str(c, v, &s);
    if (rc) return rc;
    int64_t n = 0;
    bool in = false;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t u;
        i += octo_utf8_next(s.u.s.p + i, s.u.s.n - i, &u);
        bool w = u == '_' || jj_is_alnum(u);
        if (w && !in) n++;
        in = w;
    }
    *out = jv_int(n);
    return OCTO_OK;
}

/* select / reject / selectattr / rejectattr / map */
static octo_err f_select(jctx *c, jframe *f, const char *name, jval v, const jargs *a, jval *out)
{
    bool attr = strstr(name, "attr") != NULL, reject = name[0] == 'r', map = name[0] == 'm';
    jlist *items;
    octo_err rc = as_list(c, v, &items);
    if (!rc) rc = jv_list_new(c, items->n, out);
    if (rc) return rc;
    size_t k = 0;
    jval attrname = jv_none(), tname = jv_none(), mdefault = jv_none();
    bool by_attr = false;
    if (map && a->npos == 0) {
        if (!jj_arg(a, 99, "attribute", &attrname))
            return jj_fail(c, OCTO_E_INVALID, "map requires a filter or attribute");
        jj_arg(a, 99, "default", &mdefault);
        by_attr = true;
    } else if (attr) {
        if (!jj_arg(a, 0, NULL, &attrname)) return jj_fail(c, OCTO_E_INVALID, "missing attribute");
        k = 1;
        by_attr = true;
    }
    bool have_test = jj_arg(a, k, NULL, &tname);
    if (have_test && tname.kind != JV_STR) return jj_fail(c, OCTO_E_INVALID,
            "bad filter/test name");
    char tn[64] = "";
    if (have_test) {
        snprintf(tn, sizeof tn, "%.*s", (int)tname.u.s.n, tname.u.s.p);
        if (map ? !jj_filter_known(tn) : !jj_test_known(tn))
            return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported %s '%s'", map ? "filter" : "test",
                    tn);
    }
    jval *rest = a->pos + (have_test ? k + 1 : k);
    size_t nrest = a->npos > (have_test ? k + 1 : k) ? a->npos - (have_test ? k + 1 : k) : 0;
    for (size_t i = 0; i < items->n && !rc; i++) {
        jval item = items->v[i], x = item;
        if (by_attr) rc = attr_path(c, item, attrname, &x);
        if (!rc && map && by_attr && x.kind == JV_UNDEF && mdefault.kind != JV_NONE) x = mdefault;
        if (rc) break;
        if (map) {
            if (!by_attr)
                rc = jj_filter(c, f, tn, x, rest, nrest, NULL, NULL, 0, &x);
            if (!rc) rc = jv_list_push(c, out->u.list, x);
            continue;
        }
        bool ok = jv_truthy(x);
        if (have_test) rc = jj_test(c, f, tn, x, rest, nrest, &ok);
        if (!rc && ok != reject) rc = jv_list_push(c, out->u.list, item);
    }
    return rc;
}

static octo_err f_unique(jctx *c, jval v, const jargs *a, jval *out)
{
    bool cs = jv_truthy(jj_arg_or(a, 0, "case_sensitive", jv_bool(false)));
    jval attr = jj_arg_or(a, 1, "attribute", jv_none());
    jlist *items;
    octo_err rc = as_list(c, v, &items);
    jval keys;
    if (!rc) rc = jv_list_new(c, items->n, out);
    if (!rc) rc = jv_list_new(c, items->n, &keys);
    for (size_t i = 0; i < items->n && !rc; i++) {
        jval key = items->v[i];
        if (attr.kind != JV_NONE) rc = attr_path(c, key, attr, &key);
        if (!rc && !cs && key.kind == JV_STR) rc = jj_case_map(c, key, 'l', &key);
        bool seen = false;
        c->iterations += (long)keys.u.list->n; /* quadratic: count it against the budget */
        if (c->iterations > JJ_MAX_ITERATIONS * 100L)
            return jj_fail(c, OCTO_E_TOO_LARGE, "too many loop iterations");
        for (size_t j = 0; j < keys.u.list->n && !seen; j++) seen = jv_equal(keys.u.list->v[j],
                key);
        if (!rc && !seen) rc = jv_list_push(c, keys.u.list, key);
        if (!rc && !seen) rc = jv_list_push(c, out->u.list, items->v[i]);
    }
    return rc;
}

static octo_err f_sum(jctx *c, jval v, const jargs *a, jval *out)
{
    jval attr = jj_arg_or(a, 0, "attribute", jv_none());
    jval acc = jj_arg_or(a, 1, "start", jv_int(0));
    jlist *items;
    octo_err rc = as_list(c, v, &items);
    for (size_t i = 0; i < items->n && !rc; i++) {
        jval x = items->v[i];
        if (attr.kind != JV_NONE) rc = attr_path(c, x, attr, &x);
        if (rc) break;
        if (!jv_is_num(x) || !jv_is_num(acc))
            return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: sum of %s", jv_type_name(x));
        if (x.kind == JV_FLOAT || acc.kind == JV_FLOAT) acc = jv_float(jv_num(acc) + jv_num(x));
        else acc = jv_int((int64_t)jv_num(acc) + (int64_t)jv_num(x));
    }
    *out = acc;
    return rc;
}

static octo_err f_first_last(jctx *c, jval v, bool last, jval *out)
{
    jlist *items;
    if (v.kind == JV_UNDEF) {
        *out = jv_undef(NULL);
        return OCTO_OK;
    }
    if (last && v.kind == JV_LIST && v.view == JVIEW_GEN)
        return jj_fail(c, OCTO_E_INVALID, "'generator' object is not reversible");
    octo_err rc = as_list(c, v, &items);
    if (rc) return rc;
    *out = items->n ? items->v[last ? items->n - 1 : 0] : jv_undef(NULL);
    return OCTO_OK;
}

static octo_err f_reverse(jctx *c, jval v, jval *out)
{
    jlist *items;
    octo_err rc = as_list(c, v, &items);
    jval l;
    if (!rc) rc = jv_list_new(c, items->n, &l);
    for (size_t i = items->n; i > 0 && !rc; i--) rc = jv_list_push(c, l.u.list, items->v[i - 1]);
    if (rc || v.kind != JV_STR) {
        *out = l;
        return rc;
    }
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    for (size_t i = 0; i < l.u.list->n && !rc; i++)
        rc = octo_buf_append(&b, l.u.list->v[i].u.s.p, l.u.list->v[i].u.s.n);
    return jj_buf_done(c, &b, rc, false, out);
}

/* Stable merge sort of items by keys (Python's sorted is stable, also
 * with reverse=True). */
static octo_err merge_sort(jctx *c, jval *items, jval *keys, size_t n, bool rev, jval *tmp_i,
                           jval *tmp_k)
{
    if (n < 2) return OCTO_OK;
    size_t h = n / 2;
    octo_err rc = merge_sort(c, items, keys, h, rev, tmp_i, tmp_k);
    if (!rc) rc = merge_sort(c, items + h, keys + h, n - h, rev, tmp_i, tmp_k);
    size_t i = 0, j = h, o = 0;
    while (!rc && (i < h || j < n)) {
        bool take_right = false;
        if (i < h && j < n) /* right first only when strictly before */
            rc = rev ? jv_less(c, keys[i], keys[j], &take_right)
                     : jv_less(c, keys[j], keys[i], &take_right);
        else
            take_right = i >= h;
        size_t k = take_right ? j++ : i++;
        tmp_i[o] = items[k];
        tmp_k[o++] = keys[k];
    }
    if (rc) return rc;
    memcpy(items, tmp_i, n * sizeof *items);
    memcpy(keys, tmp_k, n * sizeof *keys);
    return OCTO_OK;
}

/* sort (list items, optional attribute) and dictsort (key/value pairs). */
static octo_err f_sort(jctx *c, jval v, const jargs *a, bool dict, jval *out)
{
    bool rev, cs;
    jval by = jv_none(), attr = jv_none();
    jlist *items;
    octo_err rc;
    if (dict) {
        cs = jv_truthy(jj_arg_or(a, 0, "case_sensitive", jv_bool(false)));
        by = jj_arg_or(a, 1, "by", jv_str_ref("key", 3));
        rev = jv_truthy(jj_arg_or(a, 2, "reverse", jv_bool(false)));
        if (v.kind != JV_DICT) return jj_fail(c, OCTO_E_INVALID, "dictsort of a %s",
                jv_type_name(v));
        if (by.kind != JV_STR || (strncmp(by.u.s.p, "key", by.u.s.n) &&
                                  strncmp(by.u.s.p, "value", by.u.s.n)) || by.u.s.n < 3)
            return jj_fail(c, OCTO_E_INVALID, "You can only sort by either \"key\" or \"value\"");
        jval l;
        rc = jj_dict_items(c, v.u.dict, 'i', &l);
        items = rc ? NULL : l.u.list;
    } else {
        rev = jv_truthy(jj_arg_or(a, 0, "reverse", jv_bool(false)));
        cs = jv_truthy(jj_arg_or(a, 1, "case_sensitive", jv_bool(false)));
        attr = jj_arg_or(a, 2, "attribute", jv_none());
        rc = as_list(c, v, &items);
    }
    if (rc) return rc;
    size_t n = items->n;
    jval *keys = jj_alloc(c, (n + 1) * sizeof *keys), *ti = jj_alloc(c, (n + 1) * sizeof *ti);
    jval *tk = jj_alloc(c, (n + 1) * sizeof *tk);
    if (!keys || !ti || !tk) return OCTO_E_TOO_LARGE;
    if ((rc = jv_list_new(c, n, out))) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        jval k = items->v[i];
        if (dict) k = k.u.list->v[by.u.s.p[0] == 'k' ? 0 : 1];
        else if (attr.kind != JV_NONE) rc = attr_path(c, k, attr, &k);
        if (!rc && !cs && k.kind == JV_STR) rc = jj_case_map(c, k, 'l', &k);
        keys[i] = k;
        if (!rc) rc = jv_list_push(c, out->u.list, items->v[i]);
    }
    if (!rc) rc = merge_sort(c, out->u.list->v, keys, n, rev, ti, tk);
    return rc;
}

static octo_err f_escape(jctx *c, jval v, jval *out)
{
    if (v.kind == JV_STR && v.safe) {
        *out = v;
        return OCTO_OK;
    }
    jval s;
    octo_err rc = jj_soft_str(c, v, &s);
    if (rc) return rc;
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    for (size_t i = 0; i < s.u.s.n && !rc; i++) {
        char ch = s.u.s.p[i];
        const char *e = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
                        : ch == '\'' ? "&#39;" : ch == '"' ? "&#34;" : NULL;
        rc = e ? octo_buf_puts(&b, e) : octo_buf_append(&b, &ch, 1);
    }
    return jj_buf_done(c, &b, rc, true, out);
}

static octo_err f_join(jctx *c, jval v, const jargs *a, jval *out)
{
    jval sep = jj_arg_or(a, 0, "d", jv_str_ref("", 0)), attr;
    octo_err rc = jj_soft_str(c, sep, &sep);
    jlist *items;
    if (!rc) rc = as_list(c, v, &items);
    if (rc) return rc;
    jval l = {.kind = JV_LIST};
    l.u.list = items;
    if (jj_arg(a, 1, "attribute", &attr)) {
        rc = jv_list_new(c, items->n, &l);
        for (size_t i = 0; i < items->n && !rc; i++) {
            jval x;
            rc = attr_path(c, items->v[i], attr, &x);
            if (!rc) rc = jv_list_push(c, l.u.list, x);
        }
    }
    if (rc) return rc;
    return jj_str_join(c, sep, l, out);
}

/* Python signatures of the filters (after the value): how many positional
 * arguments they take and their keyword names; map and the select family
 * forward theirs to another filter or test. */
static const struct { const char *name; size_t maxpos; const char *kw; } signatures[] = {
    {"tojson", 4, ",ensure_ascii,indent,separators,sort_keys,"}, {"trim", 1, ",chars,"},
    {"length", 0, ""}, {"count", 0, ""}, {"items", 0, ""}, {"string", 0, ""},
    {"upper", 0, ""}, {"lower", 0, ""}, {"title", 0, ""}, {"capitalize", 0, ""},
    {"replace", 3, ",old,new,count,"}, {"join", 2, ",d,attribute,"},
    {"default", 2, ",default_value,boolean,"}, {"d", 2, ",default_value,boolean,"},
    {"first", 0, ""}, {"last", 0, ""}, {"list", 0, ""}, {"safe", 0, ""},
    {"unique", 2, ",case_sensitive,attribute,"}, {"indent", 3, ",width,first,blank,"},
    {"int", 2, ",default,base,"}, {"float", 1, ",default,"}, {"abs", 0, ""},
    {"round", 2, ",precision,method,"}, {"wordcount", 0, ""}, {"sum", 2, ",attribute,start,"},
    {"reverse", 0, ""}, {"escape", 0, ""}, {"e", 0, ""},
    {"sort", 3, ",reverse,case_sensitive,attribute,"},
    {"dictsort", 3, ",case_sensitive,by,reverse,"},
};

static octo_err check_signature(jctx *c, const char *name, size_t nargs, const char **kwnames,
                                size_t nkw)
{
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++) {
        if (strcmp(signatures[i].name, name) != 0) continue;
        if (nargs > signatures[i].maxpos)
            return jj_fail(c, OCTO_E_INVALID, "filter '%s' takes at most %zu argument(s)", name,
                           signatures[i].maxpos);
        for (size_t k = 0; k < nkw; k++) {
            char key[80];
            snprintf(key, sizeof key, ",%s,", kwnames[k]);
            if (!strstr(signatures[i].kw, key))
                return jj_fail(c, OCTO_E_INVALID,
                               "filter '%s' got an unexpected keyword argument '%s'", name,
                               kwnames[k]);
        }
    }
    return OCTO_OK;
}

/* Marks a filter result as a Python generator (lazy: no len(), always
 * true, not printable). */
static octo_err gen(octo_err rc, jval *out)
{
    if (!rc) out->view = JVIEW_GEN;
    return rc;
}

octo_err jj_filter(jctx *c, jframe *f, const char *name, jval v, jval *args, size_t nargs,
                   const char **kwnames, jval *kwargs, size_t nkw, jval *out)
{
    jargs a = {args, nargs, kwnames, kwargs, nkw};
    jval s, x, y;
    int64_t n = 0;
    octo_err rc = check_signature(c, name, nargs, kwnames, nkw);
    if (rc) return rc;
    if (!strcmp(name, "tojson")) return f_tojson(c, v, &a, out);
    if (!strcmp(name, "safe")) {
        rc = jj_soft_str(c, v, out);
        out->safe = true;
        return rc;
    }
    if (!strcmp(name, "string")) return jj_soft_str(c, v, out);
    if (!strcmp(name, "trim")) {
        if ((rc = jj_soft_str(c, v, &s))) return rc;
        return jj_str_strip(c, s, jj_arg_or(&a, 0, "chars", jv_none()), true, true, out);
    }
    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        if ((rc = length(c, v, &n))) return rc;
        *out = jv_int(n);
        return OCTO_OK;
    }
    if (!strcmp(name, "items")) {
        if (v.kind == JV_UNDEF) return gen(jv_list_new(c, 0, out), out);
        if (v.kind != JV_DICT) return jj_fail(c, OCTO_E_INVALID,
                "Can only get item pairs from a mapping.");
        return gen(jj_dict_items(c, v.u.dict, 'i', out), out);
    }
    if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") ||
        !strcmp(name, "capitalize")) {
        if ((rc = jj_soft_str(c, v, &s))) return rc;
        return jj_case_map(c, s, name[0] == 't' ? 'j' : name[0], out);
    }
    if (!strcmp(name, "replace")) {
        if (!jj_arg(&a, 0, "old", &x) || !jj_arg(&a, 1, "new", &y))
            return jj_fail(c, OCTO_E_INVALID, "replace needs old and new");
        if ((rc = jv_to_str(c, v.kind == JV_UNDEF ? jv_str_ref("", 0) : v, &s)) ||
            (rc = jv_to_str(c, x, &x)) || (rc = jv_to_str(c, y, &y)))
            return rc;
        jval cnt = jj_arg_or(&a, 2, "count", jv_none());
        return jj_str_replace(c, s, x, y, cnt.kind == JV_INT ? cnt.u.i : -1, out);
    }
    if (!strcmp(name, "join")) return f_join(c, v, &a, out);
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        x = jj_arg_or(&a, 0, "default_value", jv_str_ref("", 0));
        bool boolean = jv_truthy(jj_arg_or(&a, 1, "boolean", jv_bool(false)));
        *out = v.kind == JV_UNDEF || (boolean && !jv_truthy(v)) ? x : v;
        return OCTO_OK;
    }
    if (!strcmp(name, "first") || !strcmp(name, "last"))
        return f_first_last(c, v, name[0] == 'l', out);
    if (!strcmp(name, "list")) {
        jlist *items;
        if ((rc = as_list(c, v, &items)) || (rc = jv_list_new(c, items->n, out))) return rc;
        for (size_t i = 0; i < items->n && !rc; i++) rc = jv_list_push(c, out->u.list, items->v[i]);
        return rc;
    }
    if (!strcmp(name, "map") || !strcmp(name, "select") || !strcmp(name, "reject") ||
        !strcmp(name, "selectattr") || !strcmp(name, "rejectattr"))
        return gen(f_select(c, f, name, v, &a, out), out);
    if (!strcmp(name, "unique")) return gen(f_unique(c, v, &a, out), out);
    if (!strcmp(name, "indent")) return f_indent(c, v, &a, out);
    if (!strcmp(name, "int")) return f_int(c, v, &a, out);
    if (!strcmp(name, "float")) return f_float(c, v, &a, out);
    if (!strcmp(name, "abs")) {
        if (v.kind == JV_FLOAT) *out = jv_float(fabs(v.u.f));
        else if (v.kind == JV_INT && v.u.i != INT64_MIN) *out = jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        else if (v.kind == JV_BOOL) *out = jv_int(v.u.b);
        else return jj_fail(c, OCTO_E_INVALID, "bad operand type for abs(): '%s'", jv_type_name(v));
        return OCTO_OK;
    }
    if (!strcmp(name, "round")) return f_round(c, v, &a, out);
    if (!strcmp(name, "wordcount")) return f_wordcount(c, v, out);
    if (!strcmp(name, "sum")) return f_sum(c, v, &a, out);
    if (!strcmp(name, "reverse")) {
        rc = f_reverse(c, v, out);
        return v.kind == JV_STR ? rc : gen(rc, out);
    }
    if (!strcmp(name, "escape") || !strcmp(name, "e")) return f_escape(c, v, out);
    if (!strcmp(name, "sort") || !strcmp(name, "dictsort"))
        return f_sort(c, v, &a, name[0] == 'd', out);
    return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported filter '%s'", name);
}

/* ==== global functions ==== */

static octo_err g_raise(jctx *c, const jargs *a)
{
    jval msg = jj_arg_or(a, 0, NULL, jv_str_ref("", 0)), s;
    octo_err rc = jj_soft_str(c, msg, &s);
    if (rc) return rc;
    c->line = 0; /* the template's own message, verbatim */
    return jj_fail(c, OCTO_E_INVALID, "%.*s", (int)(s.u.s.n > 4000 ? 4000 : s.u.s.n), s.u.s.p);
}

static octo_err g_dict(jctx *c, const jargs *a, bool ns, jval *out)
{
    octo_err rc = jv_dict_new(c, out);
    if (!rc && a->npos > 1) return jj_fail(c, OCTO_E_INVALID, "expected at most 1 argument");
    if (!rc && a->npos == 1) {
        if (a->pos[0].kind != JV_DICT)
            return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported %s argument",
                           ns ? "namespace" : "dict");
        for (size_t i = 0; i < a->pos[0].u.dict->n && !rc; i++)
            rc = jv_dict_set(c, out->u.dict, a->pos[0].u.dict->e[i].key,
                             a->pos[0].u.dict->e[i].val);
    }
    for (size_t i = 0; i < a->nkw && !rc; i++)
        rc = jv_dict_set(c, out->u.dict, jv_str_ref(a->kwn[i], strlen(a->kwn[i])), a->kw[i]);
    if (ns) out->kind = JV_NS;
    return rc;
}

static octo_err g_range(jctx *c, const jargs *a, jval *out)
{
    int64_t v[3] = {0, 0, 1};
    if (a->npos < 1 || a->npos > 3 || a->nkw)
        return jj_fail(c, OCTO_E_INVALID, "range expected 1 to 3 arguments");
    for (size_t i = 0; i < a->npos; i++) {
        if (a->pos[i].kind != JV_INT && a->pos[i].kind != JV_BOOL)
            return jj_fail(c, OCTO_E_INVALID, "'%s' object cannot be interpreted as an integer",
                           jv_type_name(a->pos[i]));
        v[a->npos == 1 ? 1 : i] = a->pos[i].kind == JV_BOOL ? a->pos[i].u.b : a->pos[i].u.i;
    }
    if (v[2] == 0) return jj_fail(c, OCTO_E_INVALID, "range() arg 3 must not be zero");
    double count = ceil(((double)v[1] - (double)v[0]) / (double)v[2]);
    if (count > JJ_MAX_RANGE)
        return jj_fail(c, OCTO_E_TOO_LARGE, "Range too big. The sandbox blocks ranges larger "
                       "than MAX_RANGE (%d).", JJ_MAX_RANGE);
    octo_err rc = jv_list_new(c, count > 0 ? (size_t)count : 0, out);
    for (int64_t i = v[0]; !rc && (v[2] > 0 ? i < v[1] : i > v[1]); i += v[2])
        rc = jv_list_push(c, out->u.list, jv_int(i));
    return rc;
}

static octo_err g_strftime(jctx *c, const jargs *a, jval *out)
{
    jval fmt;
    if (!jj_arg(a, 0, NULL, &fmt) || fmt.kind != JV_STR)
        return jj_fail(c, OCTO_E_INVALID, "strftime_now expects a format string");
    char f[256], buf[512];
    if (fmt.u.s.n >= sizeof f) return jj_fail(c, OCTO_E_TOO_LARGE, "strftime format too long");
    memcpy(f, fmt.u.s.p, fmt.u.s.n);
    f[fmt.u.s.n] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(buf, sizeof buf, f, &tm);
    return jv_str_new(c, buf, n, out);
}

octo_err jj_call_func(jctx *c, int func, jval *args, size_t nargs, const char **kwnames,
                      jval *kwargs, size_t nkw, jval *out)
{
    jargs a = {args, nargs, kwnames, kwargs, nkw};
    switch (func) {
    case JF_RAISE: return g_raise(c, &a);
    case JF_NAMESPACE: return g_dict(c, &a, true, out);
    case JF_DICT: return g_dict(c, &a, false, out);
    case JF_RANGE: return g_range(c, &a, out);
    case JF_STRFTIME: return g_strftime(c, &a, out);
    default: return jj_fail(c, OCTO_E_INTERNAL, "unknown function");
    }
}
