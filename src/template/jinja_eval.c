/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja_eval — the tree-walking evaluator: expressions with Python
 * semantics (integer vs float arithmetic, str/list concatenation, chained
 * comparisons, "and"/"or" returning operands, undefined values that print
 * empty but fail in arithmetic), and statements with Jinja's scoping (each
 * loop iteration and each macro call gets a fresh frame, so "set" inside a
 * loop does not leak out; namespaces carry state across).
 *
 * It is not a sandbox of its own: limits on output size, loop iterations,
 * nesting and memory turn runaway templates into errors.
 */
#include "template/template_int.h"

#include <math.h>
#include <string.h>

/* Positive pseudo error codes: loop control travelling up to the loop. */
#define JJ_BREAK ((octo_err)1)
#define JJ_CONTINUE ((octo_err)2)

/* ==== frames ==== */

static jval *frame_find(jframe *f, const char *name)
{
    size_t n = strlen(name);
    for (; f; f = f->parent) {
        jval *v = jv_dict_get(&f->vars, name, n);
        if (v) return v;
    }
    return NULL;
}

static octo_err frame_set(jctx *c, jframe *f, const char *name, jval v)
{
    return jv_dict_set(c, &f->vars, jv_str_ref(name, strlen(name)), v);
}

static jframe *frame_new(jctx *c, jframe *parent)
{
    jframe *f = jj_alloc(c, sizeof *f);
    if (f) f->parent = parent;
    return f;
}

static jval lookup(jframe *f, const char *name)
{
    jval *v = frame_find(f, name);
    if (v) return *v;
    static const struct { const char *name; int id; } globals[] = {
        {"raise_exception", JF_RAISE}, {"namespace", JF_NAMESPACE},
        {"strftime_now", JF_STRFTIME}, {"range", JF_RANGE}, {"dict", JF_DICT},
    };
    for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
        if (strcmp(globals[i].name, name) == 0) {
            jval g = {.kind = JV_FUNC};
            g.u.func = globals[i].id;
            return g;
        }
    }
    return jv_undef(name);
}

static octo_err undefined_error(jctx *c, jval v)
{
    if (v.u.s.p)
        return jj_fail(c, OCTO_E_INVALID, "'%.*s' is undefined", (int)v.u.s.n, v.u.s.p);
    return jj_fail(c, OCTO_E_INVALID, "undefined value used");
}

/* ==== arithmetic ==== */

static bool is_intlike(jval v) { return v.kind == JV_INT || v.kind == JV_BOOL; }
static int64_t as_int(jval v) { return v.kind == JV_BOOL ? v.u.b : v.u.i; }

static octo_err concat_seq(jctx *c, jval a, jval b, jval *out)
{
    octo_err rc = jv_list_new(c, a.u.list->n + b.u.list->n, out);
    for (size_t i = 0; i < a.u.list->n && !rc; i++) rc = jv_list_push(c, out->u.list,
            a.u.list->v[i]);
    for (size_t i = 0; i < b.u.list->n && !rc; i++) rc = jv_list_push(c, out->u.list,
            b.u.list->v[i]);
    out->kind = a.kind;
    return rc;
}

/* markupsafe.escape into the arena. */
static octo_err html_escape(jctx *c, jval s, jval *out)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_err rc = OCTO_OK;
    for (size_t i = 0; i < s.u.s.n && !rc; i++) {
        char ch = s.u.s.p[i];
        const char *e = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
                        : ch == '\'' ? "&#39;" : ch == '"' ? "&#34;" : NULL;
        rc = e ? octo_buf_puts(&b, e) : octo_buf_append(&b, &ch, 1);
    }
    if (!rc) rc = jv_str_new(c, b.data, b.len, out);
    octo_buf_deinit(&b);
    return rc ? jj_fail(c, rc, "template output limit exceeded") : OCTO_OK;
}

static octo_err add(jctx *c, jval a, jval b, jval *out)
{
    if (is_intlike(a) && is_intlike(b)) {
        int64_t r;
        if (__builtin_add_overflow(as_int(a), as_int(b), &r))
            return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: integer overflow");
        *out = jv_int(r);
        return OCTO_OK;
    }
    if (jv_is_num(a) && jv_is_num(b)) {
        *out = jv_float(jv_num(a) + jv_num(b));
        return OCTO_OK;
    }
    if (a.kind == JV_STR && b.kind == JV_STR) {
        octo_err rc = OCTO_OK;
        bool safe = a.safe || b.safe;
        if (safe && !a.safe) rc = html_escape(c, a, &a);
        if (!rc && safe && !b.safe) rc = html_escape(c, b, &b);
        if (rc) return rc;
        if (a.u.s.n + b.u.s.n > OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES)
            return jj_fail(c, OCTO_E_TOO_LARGE, "template output limit exceeded");
        char *d = jj_alloc(c, a.u.s.n + b.u.s.n + 1);
        if (!d) return OCTO_E_TOO_LARGE;
        memcpy(d, a.u.s.p, a.u.s.n);
        memcpy(d + a.u.s.n, b.u.s.p, b.u.s.n);
        *out = jv_str_ref(d, a.u.s.n + b.u.s.n);
        out->safe = safe;
        return OCTO_OK;
    }
    if ((a.kind == JV_LIST || a.kind == JV_TUPLE) && a.kind == b.kind && !a.view && !b.view)
        return concat_seq(c, a, b,
            out);
    if (a.kind == JV_UNDEF) return undefined_error(c, a);
    if (b.kind == JV_UNDEF) return undefined_error(c, b);
    if (a.kind == JV_STR)
        return jj_fail(c, OCTO_E_INVALID, "can only concatenate str (not \"%s\") to str",
                       jv_type_name(b));
    return jj_fail(c, OCTO_E_INVALID, "unsupported operand type(s) for +: '%s' and '%s'",
                   jv_type_name(a), jv_type_name(b));
}

static octo_err repeat(jctx *c, jval s, int64_t k, jval *out)
{
    if (k < 0) k = 0;
    size_t unit = s.kind == JV_STR ? s.u.s.n : s.u.list->n;
    if (unit && (uint64_t)k > OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES / unit)
        return jj_fail(c, OCTO_E_TOO_LARGE, "template output limit exceeded");
    if (s.kind == JV_STR) {
        char *d = jj_alloc(c, unit * (size_t)k + 1);
        if (!d) return OCTO_E_TOO_LARGE;
        for (int64_t i = 0; i < k; i++) memcpy(d + (size_t)i * unit, s.u.s.p, unit);
        *out = jv_str_ref(d, unit * (size_t)k);
        return OCTO_OK;
    }
    octo_err rc = jv_list_new(c, unit * (size_t)k, out);
    for (int64_t i = 0; i < k && !rc; i++)
        for (size_t j = 0; j < unit && !rc; j++) rc = jv_list_push(c, out->u.list, s.u.list->v[j]);
    out->kind = s.kind;
    return rc;
}

static octo_err arith(jctx *c, int op, jval a, jval b, jval *out)
{
    if (op == '+') return add(c, a, b, out);
    if (a.kind == JV_UNDEF) return undefined_error(c, a);
    if (b.kind == JV_UNDEF) return undefined_error(c, b);
    if (op == '*' && (a.kind == JV_STR || (jv_is_seq(a) && !a.view)) && is_intlike(b))
        return repeat(c, a, as_int(b), out);
    if (op == '*' && (b.kind == JV_STR || (jv_is_seq(b) && !b.view)) && is_intlike(a))
        return repeat(c, b, as_int(a), out);
    if (op == '%' && a.kind == JV_STR)
        return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: %% string formatting");
    if (!jv_is_num(a) || !jv_is_num(b))
        return jj_fail(c, OCTO_E_INVALID, "unsupported operand type(s) for %c: '%s' and '%s'",
                       op == 'f' ? '/' : op == 'p' ? '^' : op, jv_type_name(a), jv_type_name(b));
    bool ints = is_intlike(a) && is_intlike(b);
    double x = jv_num(a), y = jv_num(b);
    if ((op == '/' || op == 'f' || op == '%') && y == 0)
        return jj_fail(c, OCTO_E_INVALID, "division by zero");
    if (ints) {
        int64_t i = as_int(a), j = as_int(b), r = 0;
        bool ovf = false;
        switch (op) {
        case '-': ovf = __builtin_sub_overflow(i, j, &r); break;
        case '*': ovf = __builtin_mul_overflow(i, j, &r); break;
        case '/': *out = jv_float((double)i / (double)j); return OCTO_OK;
        case 'f': case '%':
            if (i == INT64_MIN && j == -1) { ovf = true; break; }
            r = op == 'f' ? i / j : i % j;
            if (op == 'f' && (i % j != 0) && ((i < 0) != (j < 0))) r--;
            if (op == '%' && r != 0 && ((r < 0) != (j < 0))) r += j;
            break;
        case 'p':
            if (j < 0) { *out = jv_float(pow(x, y)); return OCTO_OK; }
            r = 1;
            for (int64_t k = 0; k < j && !ovf; k++) ovf = __builtin_mul_overflow(r, i, &r);
            break;
        default: break;
        }
        if (ovf) return jj_fail(c, OCTO_E_UNSUPPORTED, "unsupported: integer overflow");
        *out = jv_int(r);
        return OCTO_OK;
    }
    double r = 0;
    switch (op) {
    case '-': r = x - y; break;
    case '*': r = x * y; break;
    case '/': r = x / y; break;
    case 'f': r = floor(x / y); break;
    case '%': r = fmod(x, y); if (r != 0 && ((r < 0) != (y < 0))) r += y; break;
    case 'p': r = pow(x, y); break;
    default: break;
    }
    *out = jv_float(r);
    return OCTO_OK;
}

/* ==== comparisons and membership ==== */

static octo_err contains(jctx *c, jval item, jval seq, bool *out)
{
    switch (seq.kind) {
    case JV_STR:
        if (item.kind != JV_STR)
            return jj_fail(c, OCTO_E_INVALID, "'in <string>' requires string as left operand, "
                           "not %s", jv_type_name(item));
        *out = item.u.s.n == 0 || memmem(seq.u.s.p, seq.u.s.n, item.u.s.p, item.u.s.n) != NULL;
        return OCTO_OK;
    case JV_LIST: case JV_TUPLE:
        *out = false;
        for (size_t i = 0; i < seq.u.list->n && !*out; i++) *out = jv_equal(item, seq.u.list->v[i]);
        return OCTO_OK;
    case JV_DICT:
        if (!jv_hashable(item) && item.kind != JV_UNDEF)
            return jj_fail(c, OCTO_E_INVALID, "unhashable type: '%s'", jv_type_name(item));
        *out = jv_dict_find(seq.u.dict, item) != NULL;
        return OCTO_OK;
    case JV_UNDEF:
        *out = false;
        return OCTO_OK;
    default:
        return jj_fail(c, OCTO_E_INVALID, "argument of type '%s' is not iterable",
                       jv_type_name(seq));
    }
}

static octo_err compare(jctx *c, int op, jval a, jval b, bool *out)
{
    bool lt = false;
    octo_err rc = OCTO_OK;
    switch (op) {
    case 'e': *out = jv_equal(a, b); break;
    case 'n': *out = !jv_equal(a, b); break;
    case '<': rc = jv_less(c, a, b, out); break;
    case '>': rc = jv_less(c, b, a, out); break;
    case 'l': rc = jv_less(c, b, a, &lt); *out = !rc && !lt; break;
    case 'g': rc = jv_less(c, a, b, &lt); *out = !rc && !lt; break;
    case 'i': rc = contains(c, a, b, out); break;
    case 'I': rc = contains(c, a, b, out); *out = !*out; break;
    default: rc = jj_fail(c, OCTO_E_INTERNAL, "bad comparison");
    }
    return rc;
}

/* ==== subscripts and slices ==== */

static octo_err slice(jctx *c, jval obj, jval lo, jval hi, jval st, jval *out)
{
    int64_t step = 1;
    if (st.kind != JV_NONE && st.kind != JV_UNDEF) {
        if (!is_intlike(st)) return jj_fail(c, OCTO_E_INVALID, "slice indices must be integers");
        step = as_int(st);
        if (step == 0) return jj_fail(c, OCTO_E_INVALID, "slice step cannot be zero");
    }
    bool str = obj.kind == JV_STR;
    if (!str && (!jv_is_seq(obj) || obj.view)) {
        if (obj.kind == JV_UNDEF) return undefined_error(c, obj);
        *out = jv_undef(NULL);
        return OCTO_OK;
    }
    int64_t len = str ? (int64_t)jj_utf8_len(obj.u.s.p, obj.u.s.n) : (int64_t)obj.u.list->n;
    int64_t b[2];
    jval in[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        if (in[k].kind == JV_NONE || in[k].kind == JV_UNDEF) {
            b[k] = step > 0 ? (k ? len : 0) : (k ? -1 : len - 1);
            continue;
        }
        if (!is_intlike(in[k])) return jj_fail(c, OCTO_E_INVALID, "slice indices must be integers");
        int64_t v = as_int(in[k]);
        if (v < 0) v += len;
        if (step > 0) v = v < 0 ? 0 : v > len ? len : v;
        else v = v < -1 ? -1 : v > len - 1 ? len - 1 : v;
        b[k] = v;
    }
    octo_err rc;
    if (str) {
        octo_buf sb;
        octo_buf_init(&sb, obj.u.s.n + 1);
        rc = OCTO_OK;
        /* code-point offsets: walk once */
        size_t *off = jj_alloc(c, ((size_t)len + 1) * sizeof *off);
        if (!off) return OCTO_E_TOO_LARGE;
        size_t pos = 0;
        for (int64_t i = 0; i <= len; i++) {
            off[i] = pos;
            uint32_t u;
            if (i < len) pos += octo_utf8_next(obj.u.s.p + pos, obj.u.s.n - pos, &u);
        }
        for (int64_t i = b[0]; (step > 0 ? i < b[1] : i > b[1]) && !rc; i += step)
            rc = octo_buf_append(&sb, obj.u.s.p + off[i], off[i + 1] - off[i]);
        if (!rc) rc = jv_str_new(c, sb.data ? sb.data : "", sb.len, out);
        octo_buf_deinit(&sb);
        return rc;
    }
    rc = jv_list_new(c, 0, out);
    for (int64_t i = b[0]; (step > 0 ? i < b[1] : i > b[1]) && !rc; i += step)
        rc = jv_list_push(c, out->u.list, obj.u.list->v[i]);
    out->kind = obj.kind;
    return rc;
}

/* ==== expressions ==== */

static octo_err eval_list(jctx *c, jframe *f, const jnodes *l, jval **out)
{
    *out = jj_alloc(c, (l->n ? l->n : 1) * sizeof **out);
    if (!*out) return OCTO_E_TOO_LARGE;
    for (size_t i = 0; i < l->n; i++) {
        octo_err rc = jj_eval(c, f, l->v[i], &(*out)[i]);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err call_macro(jctx *c, jval fn, jval *args, size_t nargs, const char **kwnames,
                           jval *kwargs, size_t nkw, const jval *caller, jval *out);

/* A call; `caller` (may be NULL) is bound as "caller" in a called macro. */
static octo_err eval_call_with(jctx *c, jframe *f, const jnode *n, const jval *caller,
                               jval *out)
{
    jval *args, *kw;
    octo_err rc = eval_list(c, f, &n->args, &args);
    if (!rc) rc = eval_list(c, f, &n->kwargs, &kw);
    if (rc) return rc;
    jval fn;
    if (n->a->kind == JN_GETATTR) {
        jval obj;
        rc = jj_eval(c, f, n->a->a, &obj);
        if (rc) return rc;
        c->line = n->line;
        if (jj_has_method(obj, n->a->name))
            return jj_method(c, obj, n->a->name, args, n->args.n, n->kwnames, kw, n->kwargs.n,
                             out);
        rc = jj_getattr(c, obj, n->a->name, &fn);
    } else {
        rc = jj_eval(c, f, n->a, &fn);
    }
    if (rc) return rc;
    c->line = n->line;
    if (fn.kind == JV_MACRO)
        return call_macro(c, fn, args, n->args.n, n->kwnames, kw, n->kwargs.n, caller, out);
    if (caller) return jj_fail(c, OCTO_E_INVALID, "{%% call %%} needs a macro");
    if (fn.kind == JV_FUNC)
        return jj_call_func(c, fn.u.func, args, n->args.n, n->kwnames, kw, n->kwargs.n, out);
    if (fn.kind == JV_METHOD)
        return jj_method(c, fn.u.method->obj, fn.u.method->name, args, n->args.n, n->kwnames, kw,
                         n->kwargs.n, out);
    if (fn.kind == JV_UNDEF) return undefined_error(c, fn);
    return jj_fail(c, OCTO_E_INVALID, "'%s' object is not callable", jv_type_name(fn));
}

static octo_err eval_call(jctx *c, jframe *f, const jnode *n, jval *out)
{
    return eval_call_with(c, f, n, NULL, out);
}

static octo_err eval_compare(jctx *c, jframe *f, const jnode *n, jval *out)
{
    jval left;
    octo_err rc = jj_eval(c, f, n->a, &left);
    bool r = true;
    for (size_t i = 0; i < n->args.n && !rc && r; i++) {
        jval right;
        rc = jj_eval(c, f, n->args.v[i], &right);
        c->line = n->line;
        if (!rc) rc = compare(c, n->ops[i], left, right, &r);
        left = right;
    }
    *out = jv_bool(r);
    return rc;
}

static octo_err eval_literal(jctx *c, jframe *f, const jnode *n, jval *out)
{
    octo_err rc;
    if (n->kind == JN_DICT) {
        rc = jv_dict_new(c, out);
        for (size_t i = 0; i < n->args.n && !rc; i++) {
            jval k, v;
            rc = jj_eval(c, f, n->args.v[i], &k);
            if (!rc) rc = jj_eval(c, f, n->kwargs.v[i], &v);
            c->line = n->line;
            if (!rc) rc = jv_dict_set(c, out->u.dict, k, v);
        }
        return rc;
    }
    rc = jv_list_new(c, n->args.n, out);
    for (size_t i = 0; i < n->args.n && !rc; i++) {
        jval v;
        rc = jj_eval(c, f, n->args.v[i], &v);
        if (!rc) rc = jv_list_push(c, out->u.list, v);
    }
    if (n->kind == JN_TUPLE) out->kind = JV_TUPLE;
    return rc;
}

static octo_err eval_concat(jctx *c, jframe *f, const jnode *n, jval *out)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    octo_err rc = OCTO_OK;
    for (size_t i = 0; i < n->args.n && !rc; i++) {
        jval v;
        rc = jj_eval(c, f, n->args.v[i], &v);
        c->line = n->line;
        if (!rc) rc = jv_write_str(c, &b, v);
        if (rc == OCTO_E_TOO_LARGE) rc = jj_fail(c, rc, "template output limit exceeded");
    }
    if (!rc) rc = jv_str_new(c, b.data ? b.data : "", b.len, out);
    octo_buf_deinit(&b);
    return rc;
}

static octo_err eval_filter(jctx *c, jframe *f, const jnode *n, jval operand, jval *out)
{
    jval *args, *kw;
    octo_err rc = eval_list(c, f, &n->args, &args);
    if (!rc) rc = eval_list(c, f, &n->kwargs, &kw);
    if (rc) return rc;
    c->line = n->line;
    return jj_filter(c, f, n->name, operand, args, n->args.n, n->kwnames, kw, n->kwargs.n, out);
}

static octo_err eval_inner(jctx *c, jframe *f, const jnode *n, jval *out)
{
    jval a, b;
    octo_err rc = OCTO_OK;
    switch (n->kind) {
    case JN_CONST: *out = n->val; return OCTO_OK;
    case JN_NAME: *out = lookup(f, n->name); return OCTO_OK;
    case JN_GETATTR:
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        c->line = n->line;
        return jj_getattr(c, a, n->name, out);
    case JN_GETITEM:
        if ((rc = jj_eval(c, f, n->a, &a)) || (rc = jj_eval(c, f, n->b, &b))) return rc;
        c->line = n->line;
        return jj_getitem(c, a, b, out);
    case JN_SLICE: {
        jval lo = jv_none(), hi = jv_none(), st = jv_none();
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        if (n->b && (rc = jj_eval(c, f, n->b, &lo))) return rc;
        if (n->c && (rc = jj_eval(c, f, n->c, &hi))) return rc;
        if (n->d && (rc = jj_eval(c, f, n->d, &st))) return rc;
        c->line = n->line;
        return slice(c, a, lo, hi, st, out);
    }
    case JN_CALL: return eval_call(c, f, n, out);
    case JN_FILTER:
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        return eval_filter(c, f, n, a, out);
    case JN_TEST: {
        jval *args;
        bool r;
        if ((rc = jj_eval(c, f, n->a, &a)) || (rc = eval_list(c, f, &n->args, &args))) return rc;
        c->line = n->line;
        if ((rc = jj_test(c, f, n->name, a, args, n->args.n, &r))) return rc;
        *out = jv_bool(r != n->flag);
        return OCTO_OK;
    }
    case JN_NOT:
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        *out = jv_bool(!jv_truthy(a));
        return OCTO_OK;
    case JN_NEG: case JN_POS:
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        c->line = n->line;
        if (a.kind == JV_UNDEF) return undefined_error(c, a);
        if (!jv_is_num(a))
            return jj_fail(c, OCTO_E_INVALID, "bad operand type for unary %c: '%s'",
                           n->kind == JN_NEG ? '-' : '+', jv_type_name(a));
        if (n->kind == JN_POS) *out = a.kind == JV_BOOL ? jv_int(a.u.b) : a;
        else if (a.kind == JV_FLOAT) *out = jv_float(-a.u.f);
        else if (as_int(a) == INT64_MIN) return jj_fail(c, OCTO_E_UNSUPPORTED,
                "unsupported: integer overflow");
        else *out = jv_int(-as_int(a));
        return OCTO_OK;
    case JN_BINOP:
        if ((rc = jj_eval(c, f, n->a, &a)) || (rc = jj_eval(c, f, n->b, &b))) return rc;
        c->line = n->line;
        return arith(c, n->op, a, b, out);
    case JN_CONCAT: return eval_concat(c, f, n, out);
    case JN_COMPARE: return eval_compare(c, f, n, out);
    case JN_AND: case JN_OR:
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        if (jv_truthy(a) == (n->kind == JN_OR)) {
            *out = a;
            return OCTO_OK;
        }
        return jj_eval(c, f, n->b, out);
    case JN_COND:
        if ((rc = jj_eval(c, f, n->a, &a))) return rc;
        if (jv_truthy(a)) return jj_eval(c, f, n->b, out);
        if (n->c) return jj_eval(c, f, n->c, out);
        *out = jv_undef(NULL);
        return OCTO_OK;
    case JN_LIST: case JN_TUPLE: case JN_DICT: return eval_literal(c, f, n, out);
    default:
        return jj_fail(c, OCTO_E_INTERNAL, "bad expression node");
    }
}

octo_err jj_eval(jctx *c, jframe *f, const jnode *n, jval *out)
{
    if (++c->depth > JJ_MAX_DEPTH) {
        c->depth--;
        return jj_fail(c, OCTO_E_TOO_LARGE, "evaluation nesting too deep");
    }
    c->line = n->line;
    octo_err rc = eval_inner(c, f, n, out);
    c->depth--;
    return rc;
}

/* ==== statements ==== */

static octo_err emit_value(jctx *c, jval v)
{
    octo_err rc = jv_write_str(c, c->out, v);
    if (rc == OCTO_E_TOO_LARGE || rc == OCTO_E_NOMEM)
        return jj_fail(c, rc, "template output limit (%zu bytes) exceeded", c->out->max);
    return rc;
}

/* Binds loop or set targets: one name takes v; several unpack it. */
static octo_err bind(jctx *c, jframe *f, const jnode *n, jval v)
{
    if (n->nnames == 1) return frame_set(c, f, n->names[0], v);
    jlist *items;
    octo_err rc = v.kind == JV_UNDEF ? undefined_error(c, v) : jj_iterate(c, v, &items);
    if (rc) return rc;
    if (items->n != n->nnames)
        return jj_fail(c, OCTO_E_INVALID, "cannot unpack %zu values into %zu names", items->n,
                       n->nnames);
    for (size_t i = 0; i < n->nnames && !rc; i++) rc = frame_set(c, f, n->names[i], items->v[i]);
    return rc;
}

static octo_err exec_for(jctx *c, jframe *f, const jnode *n)
{
    jval seq;
    jlist *items;
    octo_err rc = jj_eval(c, f, n->a, &seq);
    c->line = n->line;
    if (!rc) rc = jj_iterate(c, seq, &items);
    if (rc) return rc;
    if (n->b) { /* inline filter: {% for x in xs if cond %} */
        jval kept;
        rc = jv_list_new(c, items->n, &kept);
        jframe *tf = frame_new(c, f);
        if (!tf) return OCTO_E_TOO_LARGE;
        for (size_t i = 0; i < items->n && !rc; i++) {
            jval ok;
            tf->vars.n = 0;
            rc = bind(c, tf, n, items->v[i]);
            if (!rc) rc = jj_eval(c, tf, n->b, &ok);
            if (!rc && jv_truthy(ok)) rc = jv_list_push(c, kept.u.list, items->v[i]);
        }
        if (rc) return rc;
        items = kept.u.list;
    }
    jloop *loop = jj_alloc(c, sizeof *loop);
    if (!loop) return OCTO_E_TOO_LARGE;
    loop->items = items;
    loop->length = items->n;
    jval lv = {.kind = JV_LOOP};
    lv.u.loop = loop;
    jframe *it = NULL;
    for (size_t i = 0; i < items->n; i++) {
        if (++c->iterations > JJ_MAX_ITERATIONS)
            return jj_fail(c, OCTO_E_TOO_LARGE, "too many loop iterations");
        /* each iteration starts from a fresh scope; the frame's storage is
         * reused unless a macro defined in the body captured it */
        if (it && !it->captured) {
            it->vars.n = 0;
        } else {
            it = frame_new(c, f);
            if (!it) return OCTO_E_TOO_LARGE;
        }
        loop->index0 = i;
        c->line = n->line;
        rc = bind(c, it, n, items->v[i]);
        if (!rc) rc = frame_set(c, it, "loop", lv);
        if (!rc) rc = jj_exec_body(c, it, &n->body);
        if (rc == JJ_BREAK) return OCTO_OK;
        if (rc == JJ_CONTINUE) rc = OCTO_OK;
        if (rc) return rc;
    }
    if (items->n == 0 && n->orelse.n) {
        jframe *ef = frame_new(c, f);
        if (!ef) return OCTO_E_TOO_LARGE;
        return jj_exec_body(c, ef, &n->orelse);
    }
    return OCTO_OK;
}

/* {% set x %}...{% endset %} and {% filter f %}...{% endfilter %}: the
 * body renders in its own scope, then goes through the filters. */
static octo_err exec_block_filters(jctx *c, jframe *f, const jnode *n)
{
    octo_buf b, *saved = c->out;
    octo_buf_init(&b, saved->max);
    jframe *inner = frame_new(c, f);
    c->out = &b;
    octo_err rc = inner ? jj_exec_body(c, inner, &n->body) : OCTO_E_TOO_LARGE;
    c->out = saved;
    jval v;
    if (!rc) rc = jv_str_new(c, b.data ? b.data : "", b.len, &v);
    octo_buf_deinit(&b);
    for (size_t i = 0; i < n->args.n && !rc; i++) rc = eval_filter(c, f, n->args.v[i], v, &v);
    if (rc) return rc;
    if (n->kind == JN_SET_BLOCK) return frame_set(c, f, n->names[0], v);
    c->line = n->line;
    return emit_value(c, v);
}

static octo_err exec_stmt(jctx *c, jframe *f, const jnode *n)
{
    jval v;
    octo_err rc;
    c->line = n->line;
    switch (n->kind) {
    case JN_TEXT:
        rc = octo_buf_append(c->out, n->val.u.s.p, n->val.u.s.n);
        return rc ? jj_fail(c, rc, "template output limit (%zu bytes) exceeded", c->out->max) : rc;
    case JN_OUTPUT:
        if ((rc = jj_eval(c, f, n->a, &v))) return rc;
        c->line = n->line;
        return emit_value(c, v);
    case JN_IF:
        if ((rc = jj_eval(c, f, n->a, &v))) return rc;
        return jj_exec_body(c, f, jv_truthy(v) ? &n->body : &n->orelse);
    case JN_FOR: return exec_for(c, f, n);
    case JN_SET:
        if ((rc = jj_eval(c, f, n->a, &v))) return rc;
        c->line = n->line;
        return bind(c, f, n, v);
    case JN_SET_ATTR: {
        jval *ns = frame_find(f, n->name);
        if (!ns || ns->kind != JV_NS)
            return jj_fail(c, OCTO_E_INVALID, "cannot assign attribute on non-namespace object");
        if ((rc = jj_eval(c, f, n->a, &v))) return rc;
        return jv_dict_set(c, ns->u.dict, jv_str_ref(n->attr, strlen(n->attr)), v);
    }
    case JN_SET_BLOCK: case JN_FILTER_BLOCK: return exec_block_filters(c, f, n);
    case JN_WITH: {
        jframe *wf = frame_new(c, f);
        if (!wf) return OCTO_E_TOO_LARGE;
        for (size_t i = 0; i < n->nnames; i++) {
            if ((rc = jj_eval(c, f, n->args.v[i], &v))) return rc;
            if ((rc = frame_set(c, wf, n->names[i], v))) return rc;
        }
        return jj_exec_body(c, wf, &n->body);
    }
    case JN_CALL_BLOCK: {
        jmacro *m = jj_alloc(c, sizeof *m);
        if (!m) return OCTO_E_TOO_LARGE;
        m->def = n;
        m->closure = f;
        f->captured = true;
        jval caller = {.kind = JV_MACRO};
        caller.u.macro = m;
        if ((rc = eval_call_with(c, f, n->a, &caller, &v))) return rc;
        c->line = n->line;
        return emit_value(c, v);
    }
    case JN_MACRO: {
        jmacro *m = jj_alloc(c, sizeof *m);
        if (!m) return OCTO_E_TOO_LARGE;
        m->def = n;
        m->closure = f;
        f->captured = true;
        v = (jval){.kind = JV_MACRO};
        v.u.macro = m;
        return frame_set(c, f, n->name, v);
    }
    case JN_BREAK: return JJ_BREAK;
    case JN_CONTINUE: return JJ_CONTINUE;
    case JN_BODY: return jj_exec_body(c, f, &n->body);
    default: return jj_fail(c, OCTO_E_INTERNAL, "bad statement node");
    }
}

octo_err jj_exec_body(jctx *c, jframe *f, const jnodes *body)
{
    if (++c->depth > JJ_MAX_DEPTH) {
        c->depth--;
        return jj_fail(c, OCTO_E_TOO_LARGE, "statement nesting too deep");
    }
    octo_err rc = OCTO_OK;
    for (size_t i = 0; i < body->n && !rc; i++) rc = exec_stmt(c, f, body->v[i]);
    c->depth--;
    return rc;
}

/* ==== macros ==== */

octo_err jj_call_macro(jctx *c, jval fn, jval *args, size_t nargs, const char **kwnames,
                       jval *kwargs, size_t nkw, jval *out)
{
    return call_macro(c, fn, args, nargs, kwnames, kwargs, nkw, NULL, out);
}

static octo_err call_macro(jctx *c, jval fn, jval *args, size_t nargs, const char **kwnames,
                           jval *kwargs, size_t nkw, const jval *caller, jval *out)
{
    const jnode *def = fn.u.macro->def;
    int line = c->line;
    if (nargs > def->nnames)
        return jj_fail(c, OCTO_E_INVALID, "macro '%s' takes not more than %zu argument(s)",
                       def->name, def->nnames);
    if (c->call_depth >= JJ_MAX_CALL_DEPTH)
        return jj_fail(c, OCTO_E_TOO_LARGE, "macro calls nested too deep");
    jframe *mf = frame_new(c, fn.u.macro->closure);
    if (!mf) return OCTO_E_TOO_LARGE;
    octo_err rc = OCTO_OK;
    for (size_t k = 0; k < nkw && !rc; k++) {
        size_t i = 0;
        while (i < def->nnames && strcmp(def->names[i], kwnames[k]) != 0) i++;
        if (i == def->nnames)
            return jj_fail(c, OCTO_E_INVALID, "macro '%s' takes no keyword argument '%s'",
                           def->name, kwnames[k]);
        if (i < nargs)
            return jj_fail(c, OCTO_E_INVALID, "macro '%s' got multiple values for argument '%s'",
                           def->name, kwnames[k]);
        rc = frame_set(c, mf, def->names[i], kwargs[k]);
    }
    for (size_t i = 0; i < def->nnames && !rc; i++) {
        if (i < nargs) {
            rc = frame_set(c, mf, def->names[i], args[i]);
        } else if (!jv_dict_get(&mf->vars, def->names[i], strlen(def->names[i]))) {
            jval v = jv_undef(def->names[i]);
            if (def->args.v[i]) rc = jj_eval(c, mf, def->args.v[i], &v);
            if (!rc) rc = frame_set(c, mf, def->names[i], v);
        }
    }
    if (!rc && caller) rc = frame_set(c, mf, "caller", *caller);
    if (rc) return rc;
    octo_buf b, *saved = c->out;
    octo_buf_init(&b, saved->max);
    c->out = &b;
    c->call_depth++;
    rc = jj_exec_body(c, mf, &def->body);
    c->call_depth--;
    c->out = saved;
    if (rc == JJ_BREAK || rc == JJ_CONTINUE) rc = jj_fail(c, OCTO_E_PARSE, "'break' outside loop");
    if (!rc) rc = jv_str_new(c, b.data ? b.data : "", b.len, out);
    octo_buf_deinit(&b);
    if (!rc) c->line = line;
    return rc;
}
