/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja_parse — a recursive-descent parser from Jinja tokens to the AST of
 * template_int.h, following Jinja2's grammar and operator precedence:
 * conditional expression < or < and < not < comparisons < + - < ~ <
 * * / // % < ** < unary - + < filters, tests, calls, attribute access and
 * subscripts. Statements: if/elif/else, for (target unpacking, inline
 * filter, else), set (plain, namespace attribute, tuple, block), macro,
 * break, continue, and HF's {% generation %} block.
 *
 * Unknown filters and tests are rejected here, as Jinja rejects them when
 * compiling. Not supported (an error names them): call blocks, filter
 * blocks, include/import/extends/block, raw, recursive loops, star-args and double-star-kwargs.
 */
#include "template/template_int.h"

#include <string.h>

typedef struct parser {
    jctx *c;
    const jtoken *t;
    size_t n, i;
    int depth;
} parser;

static const jtoken *cur(parser *P) { return &P->t[P->i < P->n ? P->i : P->n - 1]; }
static const jtoken *peek(parser *P, size_t k)
{
    size_t j = P->i + k;
    return &P->t[j < P->n ? j : P->n - 1];
}

static bool is_op(const jtoken *t, const char *op)
{
    return t->type == JT_OP && t->n == strlen(op) && memcmp(t->p, op, t->n) == 0;
}
static bool is_name(const jtoken *t, const char *name)
{
    return t->type == JT_NAME && t->n == strlen(name) && memcmp(t->p, name, t->n) == 0;
}

static const char *tok_desc(const jtoken *t, char *buf, size_t size)
{
    switch (t->type) {
    case JT_EOF: return "end of template";
    case JT_VAR_END: return "end of print statement";
    case JT_BLOCK_END: return "end of statement block";
    case JT_STRING: return "string";
    case JT_INT: case JT_FLOAT: return "number";
    case JT_TEXT: return "template data";
    default: break;
    }
    size_t n = t->n < size - 3 ? t->n : size - 3;
    buf[0] = '\'';
    memcpy(buf + 1, t->p, n);
    buf[n + 1] = '\'';
    buf[n + 2] = '\0';
    return buf;
}

static octo_err unexpected(parser *P)
{
    char b[64];
    P->c->line = cur(P)->line;
    return jj_fail(P->c, OCTO_E_PARSE, "unexpected %s", tok_desc(cur(P), b, sizeof b));
}

static octo_err expect_op(parser *P, const char *op)
{
    if (!is_op(cur(P), op)) {
        char b[64];
        P->c->line = cur(P)->line;
        return jj_fail(P->c, OCTO_E_PARSE, "expected '%s', got %s", op,
                       tok_desc(cur(P), b, sizeof b));
    }
    P->i++;
    return OCTO_OK;
}

static octo_err expect_type(parser *P, jtok type, const char *what)
{
    if (cur(P)->type != type) {
        char b[64];
        P->c->line = cur(P)->line;
        return jj_fail(P->c, OCTO_E_PARSE, "expected %s, got %s", what,
                       tok_desc(cur(P), b, sizeof b));
    }
    P->i++;
    return OCTO_OK;
}

static jnode *node(parser *P, jnkind kind, int line)
{
    jnode *n = jj_alloc(P->c, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

static const char *tok_str(parser *P, const jtoken *t)
{
    char *s = jj_alloc(P->c, t->n + 1);
    if (s) memcpy(s, t->p, t->n);
    return s;
}

static octo_err push(parser *P, jnodes *l, jnode *n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jnode **nv = jj_alloc(P->c, cap * sizeof *nv);
        if (!nv) return OCTO_E_TOO_LARGE;
        if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = n;
    return OCTO_OK;
}

static octo_err push_name(parser *P, const char ***names, size_t *n, const char *s)
{
    const char **nv = jj_alloc(P->c, (*n + 1) * sizeof *nv);
    if (!nv || !s) return OCTO_E_TOO_LARGE;
    if (*n) memcpy(nv, *names, *n * sizeof *nv);
    nv[(*n)++] = s;
    *names = nv;
    return OCTO_OK;
}

/* ==== expressions ==== */

static octo_err parse_expr(parser *P, bool condexpr, jnode **out);
static octo_err parse_unary(parser *P, bool with_filter, jnode **out);
static octo_err parse_tuple(parser *P, bool condexpr, bool explicit_parens, jnode **out);

/* Call arguments after "(": positional and keyword. */
static octo_err parse_args(parser *P, jnode *call)
{
    octo_err rc = expect_op(P, "(");
    while (!rc && !is_op(cur(P), ")")) {
        if (call->args.n + call->kwargs.n && (rc = expect_op(P, ","))) break;
        if (is_op(cur(P), ")")) break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**")) {
            P->c->line = cur(P)->line;
            return jj_fail(P->c, OCTO_E_UNSUPPORTED, "unsupported *args/**kwargs in call");
        }
        jnode *v;
        if (cur(P)->type == JT_NAME && is_op(peek(P, 1), "=")) {
            size_t nk = call->kwargs.n;
            rc = push_name(P, &call->kwnames, &nk, tok_str(P, cur(P)));
            P->i += 2;
            if (!rc) rc = parse_expr(P, true, &v);
            if (!rc) rc = push(P, &call->kwargs, v);
        } else {
            if (call->kwargs.n) {
                P->c->line = cur(P)->line;
                return jj_fail(P->c, OCTO_E_PARSE, "positional argument after keyword");
            }
            rc = parse_expr(P, true, &v);
            if (!rc) rc = push(P, &call->args, v);
        }
    }
    if (!rc) rc = expect_op(P, ")");
    return rc;
}

static octo_err parse_subscript(parser *P, jnode *obj, jnode **out)
{
    int line = cur(P)->line;
    octo_err rc = expect_op(P, "[");
    jnode *parts[3] = {NULL, NULL, NULL};
    int k = 0;
    bool slice = false;
    while (!rc) {
        if (!is_op(cur(P), ":") && !is_op(cur(P), "]")) rc = parse_expr(P, true, &parts[k]);
        if (rc) break;
        if (is_op(cur(P), ":") && k < 2) {
            slice = true;
            k++;
            P->i++;
            continue;
        }
        break;
    }
    if (!rc) rc = expect_op(P, "]");
    if (rc) return rc;
    if (!slice && !parts[0]) return unexpected(P);
    jnode *n = node(P, slice ? JN_SLICE : JN_GETITEM, line);
    if (!n) return OCTO_E_TOO_LARGE;
    n->a = obj;
    n->b = parts[0];
    n->c = parts[1];
    n->d = parts[2];
    *out = n;
    return OCTO_OK;
}

static octo_err parse_filter_or_test(parser *P, jnode *operand, bool test, jnode **out)
{
    int line = cur(P)->line;
    if (!(!test && cur(P)->type == JT_NAME)) P->i++; /* '|' or 'is'; {% filter name %} has none */
    jnode *n = node(P, test ? JN_TEST : JN_FILTER, line);
    if (!n) return OCTO_E_TOO_LARGE;
    n->a = operand;
    if (test && is_name(cur(P), "not")) {
        n->flag = true;
        P->i++;
    }
    if (cur(P)->type != JT_NAME) return unexpected(P);
    octo_buf nb;
    octo_buf_init(&nb, 256);
    octo_err rc = octo_buf_append(&nb, cur(P)->p, cur(P)->n);
    P->i++;
    while (!rc && !test && is_op(cur(P), ".") && peek(P, 1)->type == JT_NAME) {
        rc = octo_buf_puts(&nb, ".");
        if (!rc) rc = octo_buf_append(&nb, peek(P, 1)->p, peek(P, 1)->n);
        P->i += 2;
    }
    char *name = rc ? NULL : jj_alloc(P->c, nb.len + 1);
    if (name) memcpy(name, nb.data, nb.len);
    octo_buf_deinit(&nb);
    if (!name) return rc ? jj_fail(P->c, rc, "name too long") : OCTO_E_TOO_LARGE;
    n->name = name;
    P->c->line = line;
    if (test ? !jj_test_known(name) : !jj_filter_known(name))
        return jj_fail(P->c, OCTO_E_UNSUPPORTED, "unsupported %s '%s'", test ? "test" : "filter",
                       name);
    if (is_op(cur(P), "(")) {
        rc = parse_args(P, n);
    } else if (test) {
        const jtoken *t = cur(P);
        bool arg = t->type == JT_NAME || t->type == JT_STRING || t->type == JT_INT ||
                   t->type == JT_FLOAT || is_op(t, "[") || is_op(t, "{");
        if (arg && !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
            jnode *a;
            rc = parse_unary(P, false, &a);
            if (!rc) rc = push(P, &n->args, a);
        }
    }
    *out = n;
    return rc;
}

static octo_err parse_primary(parser *P, jnode **out)
{
    const jtoken *t = cur(P);
    jnode *n = NULL;
    octo_err rc = OCTO_OK;
    switch (t->type) {
    case JT_NAME:
        n = node(P, JN_CONST, t->line);
        if (!n) return OCTO_E_TOO_LARGE;
        if (is_name(t, "true") || is_name(t, "True")) n->val = jv_bool(true);
        else if (is_name(t, "false") || is_name(t, "False")) n->val = jv_bool(false);
        else if (is_name(t, "none") || is_name(t, "None")) n->val = jv_none();
        else {
            n->kind = JN_NAME;
            n->name = tok_str(P, t);
            if (!n->name) return OCTO_E_TOO_LARGE;
        }
        P->i++;
        break;
    case JT_STRING: {
        octo_buf b;
        octo_buf_init(&b, SIZE_MAX / 2);
        while (!rc && cur(P)->type == JT_STRING) { /* adjacent strings join */
            rc = octo_buf_append(&b, cur(P)->p, cur(P)->n);
            P->i++;
        }
        n = node(P, JN_CONST, t->line);
        if (!rc && n) rc = jv_str_new(P->c, b.data ? b.data : "", b.len, &n->val);
        octo_buf_deinit(&b);
        if (!n) return OCTO_E_TOO_LARGE;
        break;
    }
    case JT_INT: case JT_FLOAT:
        n = node(P, JN_CONST, t->line);
        if (!n) return OCTO_E_TOO_LARGE;
        n->val = t->type == JT_INT ? jv_int(t->i) : jv_float(t->f);
        P->i++;
        break;
    case JT_OP:
        if (is_op(t, "(")) {
            P->i++;
            rc = parse_tuple(P, true, true, &n);
            if (!rc) rc = expect_op(P, ")");
        } else if (is_op(t, "[") || is_op(t, "{")) {
            bool dict = is_op(t, "{");
            const char *close = dict ? "}" : "]";
            n = node(P, dict ? JN_DICT : JN_LIST, t->line);
            if (!n) return OCTO_E_TOO_LARGE;
            P->i++;
            while (!rc && !is_op(cur(P), close)) {
                if (n->args.n && (rc = expect_op(P, ","))) break;
                if (is_op(cur(P), close)) break;
                jnode *k, *v;
                rc = parse_expr(P, true, &k);
                if (!rc) rc = push(P, &n->args, k);
                if (!rc && dict) rc = expect_op(P, ":");
                if (!rc && dict) rc = parse_expr(P, true, &v);
                if (!rc && dict) rc = push(P, &n->kwargs, v);
            }
            if (!rc) rc = expect_op(P, close);
        } else {
            return unexpected(P);
        }
        break;
    default:
        return unexpected(P);
    }
    *out = n;
    return rc;
}

/* filters=false: attribute access, subscripts and calls; filters=true:
 * filters, tests and calls (Jinja's parse_postfix / parse_filter_expr). */
static octo_err parse_postfix(parser *P, jnode *n, bool filters, jnode **out)
{
    octo_err rc = OCTO_OK;
    for (;;) {
        const jtoken *t = cur(P);
        if (!filters && is_op(t, ".")) {
            const jtoken *a = peek(P, 1);
            if (a->type != JT_NAME && a->type != JT_INT) {
                P->i++;
                return unexpected(P);
            }
            jnode *g = node(P, a->type == JT_NAME ? JN_GETATTR : JN_GETITEM, t->line);
            if (!g) return OCTO_E_TOO_LARGE;
            g->a = n;
            if (a->type == JT_NAME) {
                g->name = tok_str(P, a);
            } else {
                g->b = node(P, JN_CONST, a->line);
                if (!g->b) return OCTO_E_TOO_LARGE;
                g->b->val = jv_int(a->i);
            }
            P->i += 2;
            n = g;
        } else if (!filters && is_op(t, "[")) {
            rc = parse_subscript(P, n, &n);
        } else if (is_op(t, "(")) {
            jnode *call = node(P, JN_CALL, t->line);
            if (!call) return OCTO_E_TOO_LARGE;
            call->a = n;
            rc = parse_args(P, call);
            n = call;
        } else if (filters && is_op(t, "|")) {
            rc = parse_filter_or_test(P, n, false, &n);
        } else if (filters && is_name(t, "is")) {
            rc = parse_filter_or_test(P, n, true, &n);
        } else {
            break;
        }
        if (rc) return rc;
    }
    *out = n;
    return OCTO_OK;
}

static octo_err parse_unary(parser *P, bool with_filter, jnode **out)
{
    const jtoken *t = cur(P);
    octo_err rc;
    jnode *n = NULL;
    if (++P->depth > JJ_MAX_DEPTH) {
        P->c->line = t->line;
        return jj_fail(P->c, OCTO_E_TOO_LARGE, "expression nesting too deep");
    }
    if (is_op(t, "-") || is_op(t, "+")) {
        P->i++;
        n = node(P, is_op(t, "-") ? JN_NEG : JN_POS, t->line);
        if (!n) return OCTO_E_TOO_LARGE;
        rc = parse_unary(P, false, &n->a);
    } else {
        rc = parse_primary(P, &n);
        if (!rc) rc = parse_postfix(P, n, false, &n);
    }
    if (!rc && with_filter) rc = parse_postfix(P, n, true, &n);
    P->depth--;
    *out = n;
    return rc;
}

static octo_err binop(parser *P, jnode **left, int op, int line, jnode *right)
{
    jnode *n = node(P, JN_BINOP, line);
    if (!n) return OCTO_E_TOO_LARGE;
    n->op = op;
    n->a = *left;
    n->b = right;
    *left = n;
    return OCTO_OK;
}

static octo_err parse_pow(parser *P, jnode **out)
{
    octo_err rc = parse_unary(P, true, out);
    while (!rc && is_op(cur(P), "**")) {
        int line = cur(P)->line;
        jnode *r = NULL;
        P->i++;
        rc = parse_unary(P, true, &r);
        if (!rc) rc = binop(P, out, 'p', line, r);
    }
    return rc;
}

static octo_err parse_math2(parser *P, jnode **out)
{
    octo_err rc = parse_pow(P, out);
    for (;;) {
        const jtoken *t = cur(P);
        int op = is_op(t, "*") ? '*' : is_op(t, "/") ? '/' : is_op(t, "//") ? 'f'
                 : is_op(t, "%") ? '%' : 0;
        if (rc || !op) return rc;
        jnode *r;
        P->i++;
        rc = parse_pow(P, &r);
        if (!rc) rc = binop(P, out, op, t->line, r);
    }
}

static octo_err parse_concat(parser *P, jnode **out)
{
    jnode *first;
    octo_err rc = parse_math2(P, &first);
    if (rc || !is_op(cur(P), "~")) {
        *out = first;
        return rc;
    }
    jnode *n = node(P, JN_CONCAT, cur(P)->line);
    if (!n) return OCTO_E_TOO_LARGE;
    rc = push(P, &n->args, first);
    while (!rc && is_op(cur(P), "~")) {
        jnode *r;
        P->i++;
        rc = parse_math2(P, &r);
        if (!rc) rc = push(P, &n->args, r);
    }
    *out = n;
    return rc;
}

static octo_err parse_math1(parser *P, jnode **out)
{
    octo_err rc = parse_concat(P, out);
    for (;;) {
        const jtoken *t = cur(P);
        int op = is_op(t, "+") ? '+' : is_op(t, "-") ? '-' : 0;
        if (rc || !op) return rc;
        jnode *r;
        P->i++;
        rc = parse_concat(P, &r);
        if (!rc) rc = binop(P, out, op, t->line, r);
    }
}

static octo_err parse_compare(parser *P, jnode **out)
{
    jnode *first;
    octo_err rc = parse_math1(P, &first);
    jnode *n = NULL;
    size_t nops = 0;
    while (!rc) {
        const jtoken *t = cur(P);
        int op = is_op(t, "==") ? 'e' : is_op(t, "!=") ? 'n' : is_op(t, "<") ? '<'
                 : is_op(t, "<=") ? 'l' : is_op(t, ">") ? '>' : is_op(t, ">=") ? 'g'
                 : is_name(t, "in") ? 'i'
                 : (is_name(t, "not") && is_name(peek(P, 1), "in")) ? 'I' : 0;
        if (!op) break;
        P->i += op == 'I' ? 2 : 1;
        if (!n) {
            n = node(P, JN_COMPARE, t->line);
            if (!n) return OCTO_E_TOO_LARGE;
            n->a = first;
        }
        int *ops = jj_alloc(P->c, (nops + 1) * sizeof *ops);
        if (!ops) return OCTO_E_TOO_LARGE;
        if (nops) memcpy(ops, n->ops, nops * sizeof *ops);
        ops[nops++] = op;
        n->ops = ops;
        jnode *r;
        rc = parse_math1(P, &r);
        if (!rc) rc = push(P, &n->args, r);
    }
    *out = n ? n : first;
    return rc;
}

static octo_err parse_not(parser *P, jnode **out)
{
    if (is_name(cur(P), "not")) {
        jnode *n = node(P, JN_NOT, cur(P)->line);
        if (!n) return OCTO_E_TOO_LARGE;
        P->i++;
        if (++P->depth > JJ_MAX_DEPTH)
            return jj_fail(P->c, OCTO_E_TOO_LARGE, "expression nesting too deep");
        octo_err rc = parse_not(P, &n->a);
        P->depth--;
        *out = n;
        return rc;
    }
    return parse_compare(P, out);
}

static octo_err parse_logic(parser *P, bool is_or, jnode **out)
{
    octo_err rc = is_or ? parse_logic(P, false, out) : parse_not(P, out);
    while (!rc && is_name(cur(P), is_or ? "or" : "and")) {
        jnode *n = node(P, is_or ? JN_OR : JN_AND, cur(P)->line);
        if (!n) return OCTO_E_TOO_LARGE;
        P->i++;
        n->a = *out;
        rc = is_or ? parse_logic(P, false, &n->b) : parse_not(P, &n->b);
        *out = n;
    }
    return rc;
}

static octo_err parse_expr(parser *P, bool condexpr, jnode **out)
{
    if (++P->depth > JJ_MAX_DEPTH) {
        P->c->line = cur(P)->line;
        return jj_fail(P->c, OCTO_E_TOO_LARGE, "expression nesting too deep");
    }
    octo_err rc = parse_logic(P, true, out);
    while (!rc && condexpr && is_name(cur(P), "if")) {
        jnode *n = node(P, JN_COND, cur(P)->line);
        if (!n) return OCTO_E_TOO_LARGE;
        P->i++;
        n->b = *out;
        rc = parse_logic(P, true, &n->a);
        if (!rc && is_name(cur(P), "else")) {
            P->i++;
            rc = parse_expr(P, true, &n->c);
        }
        *out = n;
    }
    P->depth--;
    return rc;
}

static bool tuple_end(parser *P)
{
    const jtoken *t = cur(P);
    return t->type == JT_VAR_END || t->type == JT_BLOCK_END || t->type == JT_EOF ||
           is_op(t, ")") || is_name(t, "in") || is_name(t, "if") || is_name(t, "recursive");
}

static octo_err parse_tuple(parser *P, bool condexpr, bool explicit_parens, jnode **out)
{
    int line = cur(P)->line;
    jnode *tup = NULL, *first = NULL;
    if (explicit_parens && is_op(cur(P), ")")) {
        *out = node(P, JN_TUPLE, line);
        return *out ? OCTO_OK : OCTO_E_TOO_LARGE;
    }
    octo_err rc = parse_expr(P, condexpr, &first);
    while (!rc && is_op(cur(P), ",")) {
        P->i++;
        if (!tup) {
            tup = node(P, JN_TUPLE, line);
            if (!tup) return OCTO_E_TOO_LARGE;
            rc = push(P, &tup->args, first);
        }
        if (rc || tuple_end(P)) break;
        jnode *e;
        rc = parse_expr(P, condexpr, &e);
        if (!rc) rc = push(P, &tup->args, e);
    }
    *out = tup ? tup : first;
    return rc;
}

/* ==== statements ==== */

static octo_err parse_body(parser *P, const char *const *ends, const char **which,
                           jnodes *body);

/* Assignment target: a name or names separated by commas (optionally in
 * parentheses). */
static octo_err parse_targets(parser *P, jnode *n)
{
    bool paren = is_op(cur(P), "(");
    if (paren) P->i++;
    octo_err rc = OCTO_OK;
    do {
        if (n->nnames && (rc = expect_op(P, ","))) return rc;
        if (cur(P)->type != JT_NAME) return unexpected(P);
        rc = push_name(P, &n->names, &n->nnames, tok_str(P, cur(P)));
        P->i++;
    } while (!rc && is_op(cur(P), ","));
    if (!rc && paren) rc = expect_op(P, ")");
    return rc;
}

static octo_err parse_for(parser *P, jnode *n)
{
    octo_err rc = parse_targets(P, n);
    if (!rc && !is_name(cur(P), "in")) return unexpected(P);
    P->i++;
    if (!rc) rc = parse_tuple(P, false, false, &n->a);
    if (!rc && is_name(cur(P), "if")) {
        P->i++;
        rc = parse_expr(P, true, &n->b);
    }
    if (!rc && is_name(cur(P), "recursive")) {
        P->c->line = cur(P)->line;
        return jj_fail(P->c, OCTO_E_UNSUPPORTED, "unsupported recursive loop");
    }
    if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
    static const char *const ends[] = {"endfor", "else", NULL};
    const char *which = NULL;
    if (!rc) rc = parse_body(P, ends, &which, &n->body);
    if (!rc && strcmp(which, "else") == 0) {
        static const char *const ends2[] = {"endfor", NULL};
        rc = parse_body(P, ends2, &which, &n->orelse);
    }
    return rc;
}

static octo_err parse_if(parser *P, jnode *n)
{
    octo_err rc = parse_tuple(P, false, false, &n->a);
    if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
    static const char *const ends[] = {"endif", "elif", "else", NULL};
    const char *which = NULL;
    if (!rc) rc = parse_body(P, ends, &which, &n->body);
    if (rc) return rc;
    if (strcmp(which, "elif") == 0) {
        jnode *e = node(P, JN_IF, cur(P)->line);
        if (!e) return OCTO_E_TOO_LARGE;
        rc = push(P, &n->orelse, e);
        if (!rc) rc = parse_if(P, e);
    } else if (strcmp(which, "else") == 0) {
        static const char *const ends2[] = {"endif", NULL};
        rc = parse_body(P, ends2, &which, &n->orelse);
    }
    return rc;
}

static octo_err parse_set(parser *P, jnode *n)
{
    octo_err rc;
    if (cur(P)->type == JT_NAME && is_op(peek(P, 1), ".") && peek(P, 2)->type == JT_NAME) {
        n->kind = JN_SET_ATTR;
        n->name = tok_str(P, cur(P));
        n->attr = tok_str(P, peek(P, 2));
        P->i += 3;
        if ((rc = expect_op(P, "="))) return rc;
        rc = parse_tuple(P, true, false, &n->a);
        if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
        return rc;
    }
    rc = parse_targets(P, n);
    if (rc) return rc;
    if (is_op(cur(P), "=")) {
        P->i++;
        rc = parse_tuple(P, true, false, &n->a);
        if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
        return rc;
    }
    if (n->nnames != 1) return unexpected(P);
    n->kind = JN_SET_BLOCK;
    while (is_op(cur(P), "|")) {
        jnode *f;
        rc = parse_filter_or_test(P, NULL, false, &f);
        if (!rc) rc = push(P, &n->args, f);
        if (rc) return rc;
    }
    rc = expect_type(P, JT_BLOCK_END, "end of statement block");
    static const char *const ends[] = {"endset", NULL};
    const char *which;
    if (!rc) rc = parse_body(P, ends, &which, &n->body);
    return rc;
}

/* "(a, b=1)": parameter names into n->names, defaults (or NULL) into
 * n->args. */
static octo_err parse_signature(parser *P, jnode *n)
{
    octo_err rc = expect_op(P, "(");
    while (!rc && !is_op(cur(P), ")")) {
        if (n->nnames && (rc = expect_op(P, ","))) break;
        if (cur(P)->type != JT_NAME) return unexpected(P);
        rc = push_name(P, &n->names, &n->nnames, tok_str(P, cur(P)));
        P->i++;
        jnode *def = NULL;
        if (!rc && is_op(cur(P), "=")) {
            P->i++;
            rc = parse_expr(P, true, &def);
        }
        if (!rc && !def && n->args.n && n->args.v[n->args.n - 1]) {
            P->c->line = cur(P)->line;
            return jj_fail(P->c, OCTO_E_PARSE, "non-default argument follows default argument");
        }
        if (!rc) rc = push(P, &n->args, def);
    }
    if (!rc) rc = expect_op(P, ")");
    return rc;
}

static octo_err parse_macro(parser *P, jnode *n)
{
    if (cur(P)->type != JT_NAME) return unexpected(P);
    n->name = tok_str(P, cur(P));
    P->i++;
    octo_err rc = parse_signature(P, n);
    if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
    static const char *const ends[] = {"endmacro", NULL};
    const char *which;
    if (!rc) rc = parse_body(P, ends, &which, &n->body);
    return rc;
}

/* Parses one {% ... %} statement (the "{%" already consumed). */
static octo_err parse_statement(parser *P, jnodes *body)
{
    const jtoken *t = cur(P);
    P->c->line = t->line;
    if (t->type != JT_NAME) return unexpected(P);
    jnode *n = node(P, JN_BODY, t->line);
    if (!n) return OCTO_E_TOO_LARGE;
    P->i++;
    octo_err rc;
    if (is_name(t, "if")) {
        n->kind = JN_IF;
        rc = parse_if(P, n);
    } else if (is_name(t, "for")) {
        n->kind = JN_FOR;
        rc = parse_for(P, n);
    } else if (is_name(t, "set")) {
        n->kind = JN_SET;
        rc = parse_set(P, n);
    } else if (is_name(t, "macro")) {
        n->kind = JN_MACRO;
        rc = parse_macro(P, n);
    } else if (is_name(t, "break") || is_name(t, "continue")) {
        n->kind = is_name(t, "break") ? JN_BREAK : JN_CONTINUE;
        rc = expect_type(P, JT_BLOCK_END, "end of statement block");
    } else if (is_name(t, "with")) {
        /* {% with a = 1, b = x %}body{% endwith %}: a scope with bindings */
        static const char *const ends[] = {"endwith", NULL};
        const char *which;
        n->kind = JN_WITH;
        rc = OCTO_OK;
        while (!rc && cur(P)->type != JT_BLOCK_END) {
            jnode *v;
            if (n->nnames && (rc = expect_op(P, ","))) break;
            if (cur(P)->type != JT_NAME) return unexpected(P);
            rc = push_name(P, &n->names, &n->nnames, tok_str(P, cur(P)));
            P->i++;
            if (!rc) rc = expect_op(P, "=");
            if (!rc) rc = parse_expr(P, true, &v);
            if (!rc) rc = push(P, &n->args, v);
        }
        if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
        if (!rc) rc = parse_body(P, ends, &which, &n->body);
    } else if (is_name(t, "call")) {
        /* {% call(params) m(args) %}body{% endcall %}: m sees caller() */
        static const char *const ends[] = {"endcall", NULL};
        const char *which;
        n->kind = JN_CALL_BLOCK;
        n->name = "caller";
        rc = is_op(cur(P), "(") ? parse_signature(P, n) : OCTO_OK;
        if (!rc) rc = parse_expr(P, true, &n->a);
        if (!rc && n->a->kind != JN_CALL) {
            P->c->line = t->line;
            return jj_fail(P->c, OCTO_E_PARSE, "expected a call after 'call'");
        }
        if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
        if (!rc) rc = parse_body(P, ends, &which, &n->body);
    } else if (is_name(t, "filter")) {
        static const char *const ends[] = {"endfilter", NULL};
        const char *which;
        n->kind = JN_FILTER_BLOCK;
        do {
            jnode *f;
            rc = parse_filter_or_test(P, NULL, false, &f);
            if (!rc) rc = push(P, &n->args, f);
        } while (!rc && is_op(cur(P), "|"));
        if (!rc) rc = expect_type(P, JT_BLOCK_END, "end of statement block");
        if (!rc) rc = parse_body(P, ends, &which, &n->body);
    } else if (is_name(t, "generation")) {
        static const char *const ends[] = {"endgeneration", NULL};
        const char *which;
        rc = expect_type(P, JT_BLOCK_END, "end of statement block");
        if (!rc) rc = parse_body(P, ends, &which, &n->body);
    } else {
        char name[64];
        size_t k = t->n < sizeof name - 1 ? t->n : sizeof name - 1;
        memcpy(name, t->p, k);
        name[k] = '\0';
        static const char *known[] = {"endif", "endfor", "endset", "endmacro", "elif", "else",
                                      "endgeneration", "endraw", "endcall", "endfilter",
                                      "endwith"};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(name, known[i]) == 0)
                return jj_fail(P->c, OCTO_E_PARSE, "unexpected '%s'", name);
        return jj_fail(P->c, OCTO_E_UNSUPPORTED, "unsupported tag '%s'", name);
    }
    if (!rc) rc = push(P, body, n);
    return rc;
}

/* Parses template data, prints and statements until "{% <end> %}" for
 * one of ends (which gets the tag) or EOF when ends is NULL. */
static octo_err parse_body(parser *P, const char *const *ends, const char **which,
                           jnodes *body)
{
    int start_line = cur(P)->line;
    if (++P->depth > JJ_MAX_DEPTH) {
        P->c->line = start_line;
        return jj_fail(P->c, OCTO_E_TOO_LARGE, "statement nesting too deep");
    }
    octo_err rc = OCTO_OK;
    while (!rc) {
        const jtoken *t = cur(P);
        if (t->type == JT_EOF) {
            if (ends) {
                P->c->line = start_line;
                rc = jj_fail(P->c, OCTO_E_PARSE, "unexpected end of template, expected '%s'",
                             ends[0]);
            }
            break;
        }
        if (t->type == JT_TEXT) {
            jnode *n = node(P, JN_TEXT, t->line);
            if (!n) return OCTO_E_TOO_LARGE;
            n->val = jv_str_ref(t->p, t->n);
            rc = push(P, body, n);
            P->i++;
        } else if (t->type == JT_VAR_BEGIN) {
            jnode *n = node(P, JN_OUTPUT, t->line);
            if (!n) return OCTO_E_TOO_LARGE;
            P->i++;
            rc = parse_tuple(P, true, false, &n->a);
            if (!rc) rc = expect_type(P, JT_VAR_END, "end of print statement");
            if (!rc) rc = push(P, body, n);
        } else if (t->type == JT_BLOCK_BEGIN) {
            const jtoken *name = peek(P, 1);
            bool end = false;
            for (size_t i = 0; ends && ends[i] && !end; i++) {
                if (is_name(name, ends[i])) {
                    *which = ends[i];
                    end = true;
                }
            }
            if (end) {
                P->i += 2;
                /* "elif" carries its condition: leave it for the caller */
                if (strcmp(*which, "elif") != 0)
                    rc = expect_type(P, JT_BLOCK_END, "end of statement block");
                break;
            }
            P->i++;
            rc = parse_statement(P, body);
        } else {
            rc = unexpected(P);
        }
    }
    P->depth--;
    return rc;
}

octo_err jj_parse(jctx *c, const jtokens *toks, jnode **root)
{
    parser P = {.c = c, .t = toks->t, .n = toks->n};
    jnode *n = node(&P, JN_BODY, 1);
    if (!n) return OCTO_E_TOO_LARGE;
    octo_err rc = parse_body(&P, NULL, NULL, &n->body);
    *root = n;
    return rc;
}
