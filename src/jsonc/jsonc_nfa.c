/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc_nfa — the byte automaton of constrained JSON decoding: a builder of
 * states and guarded edges, fragment constructors for the lexical pieces of
 * JSON (literals, bounded whitespace, strings, numbers) and for "any JSON
 * value", and the final packing into per-state edge lists.
 *
 * It knows nothing of JSON schema (jsonc_schema.c) or tokens
 * (jsonc_vocab.c). Every fragment is a fresh set of states: nothing is
 * shared between two uses, so a fragment's exit can be wired anywhere.
 */
#include <stdio.h>
#include <string.h>

#include "jsonc/jsonc_int.h"

/* ==== builder ==== */

octo_err jc_fail(jc_build *b, octo_err rc, const char *fmt, ...)
{
    if (b->rc) return b->rc;
    b->rc = rc;
    if (!b->err || !b->err_size) return rc;
    int k = snprintf(b->err, b->err_size, "%s: ", octo_err_str(rc));
    if (k < 0 || (size_t)k >= b->err_size) return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err + k, b->err_size - (size_t)k, fmt, ap);
    va_end(ap);
    return rc;
}

int32_t jc_state(jc_build *b)
{
    if (b->rc) return 0;
    if (b->n_states >= JC_MAX_STATES) {
        jc_fail(b, OCTO_E_TOO_LARGE, "schema needs more than %u automaton states",
                JC_MAX_STATES);
        return 0;
    }
    return (int32_t)b->n_states++;
}

static void add_edge(jc_build *b, int32_t from, jc_edge e)
{
    if (b->rc) return;
    if (b->n_edges == b->cap_edges) {
        size_t cap = b->cap_edges ? b->cap_edges * 2 : 1024;
        if (cap > (size_t)JC_MAX_STATES * 8) {
            jc_fail(b, OCTO_E_TOO_LARGE, "schema automaton too large");
            return;
        }
        jc_bedge *p = octo_realloc(b->edges, cap * sizeof *p);
        if (!p) {
            jc_fail(b, OCTO_E_NOMEM, "automaton edges");
            return;
        }
        b->edges = p;
        b->cap_edges = cap;
    }
    b->edges[b->n_edges].from = from;
    b->edges[b->n_edges].e = e;
    b->n_edges++;
}

void jc_byte(jc_build *b, int32_t from, int32_t to, uint8_t lo, uint8_t hi, uint8_t op)
{
    add_edge(b, from, (jc_edge){.to = to, .lo = lo, .hi = hi, .op = op, .eps = 0});
}

void jc_eps(jc_build *b, int32_t from, int32_t to, uint8_t op)
{
    add_edge(b, from, (jc_edge){.to = to, .op = op, .eps = 1});
}

void jc_build_deinit(jc_build *b)
{
    octo_free(b->bodies);
    b->bodies = NULL;
    octo_free(b->edges);
    b->edges = NULL;
    b->n_edges = b->cap_edges = 0;
}

/* ==== lexical fragments ==== */

jc_frag jc_frag_empty(jc_build *b)
{
    int32_t s = jc_state(b);
    return (jc_frag){s, s};
}

jc_frag jc_frag_never(jc_build *b)
{
    return (jc_frag){jc_state(b), jc_state(b)};
}

jc_frag jc_frag_lit(jc_build *b, const char *s, size_t n)
{
    jc_frag f = jc_frag_empty(b);
    for (size_t i = 0; i < n; i++) {
        int32_t t = jc_state(b);
        jc_byte(b, f.e, t, (uint8_t)s[i], (uint8_t)s[i], JC_OP_NONE);
        f.e = t;
    }
    return f;
}

/* One state that loops on whitespace bytes, counting them in the
 * configuration (so the bound costs no states), and leaves resetting it. */
jc_frag jc_frag_ws(jc_build *b)
{
    jc_frag f = {jc_state(b), jc_state(b)};
    jc_byte(b, f.s, f.s, ' ', ' ', JC_OP_WS);
    jc_byte(b, f.s, f.s, '\t', '\n', JC_OP_WS);
    jc_byte(b, f.s, f.s, '\r', '\r', JC_OP_WS);
    jc_eps(b, f.s, f.e, JC_OP_WS_END);
    return f;
}

jc_frag jc_frag_seq(jc_build *b, jc_frag x, jc_frag y)
{
    jc_eps(b, x.e, y.s, JC_OP_NONE);
    return (jc_frag){x.s, y.e};
}

jc_frag jc_frag_punct(jc_build *b, char c)
{
    jc_frag f = jc_frag_seq(b, jc_frag_ws(b), jc_frag_lit(b, &c, 1));
    return jc_frag_seq(b, f, jc_frag_ws(b));
}

/* n continuation bytes (80..BF) from `from` to `to`. */
static void cont_bytes(jc_build *b, int32_t from, int32_t to, int n)
{
    for (int i = 1; i < n; i++) {
        int32_t t = jc_state(b);
        jc_byte(b, from, t, 0x80, 0xBF, JC_OP_NONE);
        from = t;
    }
    jc_byte(b, from, to, 0x80, 0xBF, JC_OP_NONE);
}

/* Well-formed UTF-8 of U+0080 and above (no overlongs, no surrogates),
 * from state s back to s. */
static void utf8_multibyte(jc_build *b, int32_t s)
{
    static const struct {
        uint8_t lo, hi, lo2, hi2;
        int rest; /* continuation bytes after the second byte */
    } seq[] = {
        {0xC2, 0xDF, 0x80, 0xBF, 0}, {0xE0, 0xE0, 0xA0, 0xBF, 1},
        {0xE1, 0xEC, 0x80, 0xBF, 1}, {0xED, 0xED, 0x80, 0x9F, 1},
        {0xEE, 0xEF, 0x80, 0xBF, 1}, {0xF0, 0xF0, 0x90, 0xBF, 2},
        {0xF1, 0xF3, 0x80, 0xBF, 2}, {0xF4, 0xF4, 0x80, 0x8F, 2},
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        int32_t t1 = jc_state(b);
        jc_byte(b, s, t1, seq[i].lo, seq[i].hi, JC_OP_NONE);
        if (seq[i].rest == 0) {
            jc_byte(b, t1, s, seq[i].lo2, seq[i].hi2, JC_OP_NONE);
            continue;
        }
        int32_t t2 = jc_state(b);
        jc_byte(b, t1, t2, seq[i].lo2, seq[i].hi2, JC_OP_NONE);
        cont_bytes(b, t2, s, seq[i].rest);
    }
}

static void hex_digit(jc_build *b, int32_t from, int32_t to)
{
    jc_byte(b, from, to, '0', '9', JC_OP_NONE);
    jc_byte(b, from, to, 'a', 'f', JC_OP_NONE);
    jc_byte(b, from, to, 'A', 'F', JC_OP_NONE);
}

static void mark_body(jc_build *b, int32_t s)
{
    if (b->rc) return;
    if (b->n_bodies == b->cap_bodies) {
        size_t cap = b->cap_bodies ? b->cap_bodies * 2 : 64;
        int32_t *p = octo_realloc(b->bodies, cap * sizeof *p);
        if (!p) {
            jc_fail(b, OCTO_E_NOMEM, "automaton");
            return;
        }
        b->bodies = p;
        b->cap_bodies = cap;
    }
    b->bodies[b->n_bodies++] = s;
}

jc_frag jc_frag_string(jc_build *b)
{
    jc_frag f = {jc_state(b), jc_state(b)};
    int32_t body = jc_state(b), esc = jc_state(b);
    mark_body(b, body);
    jc_byte(b, f.s, body, '"', '"', JC_OP_NONE);
    jc_byte(b, body, body, 0x20, 0x21, JC_OP_NONE);
    jc_byte(b, body, body, 0x23, 0x5B, JC_OP_NONE);
    jc_byte(b, body, body, 0x5D, 0x7F, JC_OP_NONE);
    utf8_multibyte(b, body);
    jc_byte(b, body, esc, '\\', '\\', JC_OP_NONE);
    jc_byte(b, body, f.e, '"', '"', JC_OP_NONE);
    static const char simple[] = "\"\\/bfnrt";
    for (const char *p = simple; *p; p++) jc_byte(b, esc, body, (uint8_t)*p, (uint8_t)*p, 0);
    int32_t u = jc_state(b);
    jc_byte(b, esc, u, 'u', 'u', JC_OP_NONE);
    for (int i = 0; i < 3; i++) {
        int32_t t = jc_state(b);
        hex_digit(b, u, t);
        u = t;
    }
    hex_digit(b, u, body);
    return f;
}

jc_frag jc_frag_number(jc_build *b, bool integer_only)
{
    jc_frag f = {jc_state(b), jc_state(b)};
    int32_t sign = jc_state(b), digits = jc_state(b), intdone = jc_state(b);
    jc_byte(b, f.s, sign, '-', '-', JC_OP_NONE);
    jc_eps(b, f.s, sign, JC_OP_NONE);
    jc_byte(b, sign, intdone, '0', '0', JC_OP_NONE);
    jc_byte(b, sign, digits, '1', '9', JC_OP_NONE);
    jc_byte(b, digits, digits, '0', '9', JC_OP_NONE);
    jc_eps(b, digits, intdone, JC_OP_NONE);
    jc_eps(b, intdone, f.e, JC_OP_NONE);
    if (integer_only) return f;
    int32_t dot = jc_state(b), frac = jc_state(b), e1 = jc_state(b), e2 = jc_state(b),
            e3 = jc_state(b);
    jc_byte(b, intdone, dot, '.', '.', JC_OP_NONE);
    jc_byte(b, dot, frac, '0', '9', JC_OP_NONE);
    jc_byte(b, frac, frac, '0', '9', JC_OP_NONE);
    jc_eps(b, frac, f.e, JC_OP_NONE);
    jc_byte(b, intdone, e1, 'e', 'e', JC_OP_NONE);
    jc_byte(b, intdone, e1, 'E', 'E', JC_OP_NONE);
    jc_byte(b, frac, e1, 'e', 'e', JC_OP_NONE);
    jc_byte(b, frac, e1, 'E', 'E', JC_OP_NONE);
    jc_byte(b, e1, e2, '+', '+', JC_OP_NONE);
    jc_byte(b, e1, e2, '-', '-', JC_OP_NONE);
    jc_eps(b, e1, e2, JC_OP_NONE);
    jc_byte(b, e2, e3, '0', '9', JC_OP_NONE);
    jc_byte(b, e3, e3, '0', '9', JC_OP_NONE);
    jc_eps(b, e3, f.e, JC_OP_NONE);
    return f;
}

/* ==== any JSON value ==== */

/*
 * One instance of the generic JSON grammar. `val` expects a value; every
 * finished value goes to `after`, which leaves the fragment when the stack
 * is empty and otherwise expects ',' / '}' / ']' as the stack top allows.
 * Opening brackets push, closing ones pop.
 */
jc_frag jc_frag_any(jc_build *b, bool object_only)
{
    jc_frag f = {jc_state(b), jc_state(b)};
    int32_t val = jc_state(b), after = jc_state(b), obj = jc_state(b), arr = jc_state(b);
    int32_t key = jc_state(b);
    /* values */
    jc_frag str = jc_frag_string(b), num = jc_frag_number(b, false);
    jc_eps(b, val, str.s, JC_OP_NONE);
    jc_eps(b, str.e, after, JC_OP_NONE);
    jc_eps(b, val, num.s, JC_OP_NONE);
    jc_eps(b, num.e, after, JC_OP_NONE);
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        jc_frag l = jc_frag_lit(b, lits[i], strlen(lits[i]));
        jc_eps(b, val, l.s, JC_OP_NONE);
        jc_eps(b, l.e, after, JC_OP_NONE);
    }
    jc_frag ows = jc_frag_ws(b), aws = jc_frag_ws(b);
    jc_byte(b, val, ows.s, '{', '{', JC_OP_PUSH_OBJ);
    jc_byte(b, val, aws.s, '[', '[', JC_OP_PUSH_ARR);
    jc_eps(b, ows.e, obj, JC_OP_NONE);
    jc_eps(b, aws.e, arr, JC_OP_NONE);
    /* entry */
    if (object_only) jc_byte(b, f.s, ows.s, '{', '{', JC_OP_PUSH_OBJ);
    else jc_eps(b, f.s, val, JC_OP_NONE);
    /* just inside { : '}' or a key */
    jc_byte(b, obj, after, '}', '}', JC_OP_POP_OBJ);
    jc_eps(b, obj, key, JC_OP_NONE);
    jc_frag k = jc_frag_seq(b, jc_frag_string(b), jc_frag_punct(b, ':'));
    jc_eps(b, key, k.s, JC_OP_NONE);
    jc_eps(b, k.e, val, JC_OP_NONE);
    /* just inside [ : ']' or a value */
    jc_byte(b, arr, after, ']', ']', JC_OP_POP_ARR);
    jc_eps(b, arr, val, JC_OP_NONE);
    /* after a value */
    jc_eps(b, after, f.e, JC_OP_IF_EMPTY);
    jc_frag tws = jc_frag_ws(b);
    int32_t sep = jc_state(b);
    jc_eps(b, after, tws.s, JC_OP_IF_NONEMPTY);
    jc_eps(b, tws.e, sep, JC_OP_NONE);
    jc_frag cws1 = jc_frag_ws(b), cws2 = jc_frag_ws(b);
    jc_byte(b, sep, cws1.s, ',', ',', JC_OP_IF_OBJ);
    jc_eps(b, cws1.e, key, JC_OP_NONE);
    jc_byte(b, sep, cws2.s, ',', ',', JC_OP_IF_ARR);
    jc_eps(b, cws2.e, val, JC_OP_NONE);
    jc_byte(b, sep, after, '}', '}', JC_OP_POP_OBJ);
    jc_byte(b, sep, after, ']', ']', JC_OP_POP_ARR);
    return f;
}

/* ==== packing ==== */

octo_err jc_nfa_finish(jc_build *b, jc_frag top, jc_nfa *out)
{
    memset(out, 0, sizeof *out);
    int32_t fin = jc_state(b);
    jc_eps(b, top.e, fin, JC_OP_NONE);
    if (b->rc) return b->rc;
    uint32_t n = b->n_states;
    out->first = octo_calloc(n + 1, sizeof *out->first);
    out->mid = octo_calloc(n + 1, sizeof *out->mid);
    out->edges = octo_malloc((b->n_edges ? b->n_edges : 1) * sizeof *out->edges);
    out->str_body = octo_calloc(n, 1);
    if (!out->first || !out->mid || !out->edges || !out->str_body) {
        jc_nfa_deinit(out);
        return jc_fail(b, OCTO_E_NOMEM, "automaton");
    }
    /* count byte and epsilon edges per state, then place them */
    uint32_t *nbyte = out->mid; /* reused as a counter first */
    for (size_t i = 0; i < b->n_edges; i++) {
        out->first[b->edges[i].from + 1]++;
        if (!b->edges[i].e.eps) nbyte[b->edges[i].from]++;
    }
    for (uint32_t s = 0; s < n; s++) out->first[s + 1] += out->first[s];
    for (uint32_t s = 0; s < n; s++) out->mid[s] = out->first[s] + nbyte[s];
    uint32_t *fill_b = octo_calloc(n + 1, sizeof *fill_b);
    uint32_t *fill_e = octo_calloc(n + 1, sizeof *fill_e);
    if (!fill_b || !fill_e) {
        octo_free(fill_b);
        octo_free(fill_e);
        jc_nfa_deinit(out);
        return jc_fail(b, OCTO_E_NOMEM, "automaton");
    }
    for (size_t i = 0; i < b->n_edges; i++) {
        const jc_bedge *e = &b->edges[i];
        uint32_t at = e->e.eps ? out->mid[e->from] + fill_e[e->from]++
                               : out->first[e->from] + fill_b[e->from]++;
        out->edges[at] = e->e;
    }
    octo_free(fill_b);
    octo_free(fill_e);
    out->mid[n] = out->first[n];
    for (size_t i = 0; i < b->n_bodies; i++) out->str_body[b->bodies[i]] = 1;
    out->n_states = n;
    out->start = top.s;
    out->final = fin;
    return OCTO_OK;
}

void jc_nfa_deinit(jc_nfa *a)
{
    if (!a) return;
    octo_free(a->first);
    octo_free(a->mid);
    octo_free(a->edges);
    octo_free(a->str_body);
    memset(a, 0, sizeof *a);
}
