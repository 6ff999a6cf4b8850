/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja_lex — the Jinja2 tokenizer as Hugging Face configures it:
 * trim_blocks (drop the newline after a block or comment tag),
 * lstrip_blocks (drop spaces and tabs before a block or comment tag that
 * starts its line), "-" and "+" whitespace modifiers, newline
 * normalisation and the removal of one trailing newline
 * (keep_trailing_newline=False). Tag contents become names, strings (with
 * Python escape decoding), numbers and operators.
 *
 * It does not support {% raw %} (the parser reports it as an unsupported
 * tag), line statements or custom delimiters.
 */
#include "template/template_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    jctx *c;
    char *s;   /* normalised source (arena) */
    size_t n;
    size_t pos;
    int line;
    jtokens *out;
} lexer;

static octo_err emit(lexer *L, jtok type, const char *p, size_t n, int line, jtoken **tk)
{
    jtokens *t = L->out;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        jtoken *nt = jj_alloc(L->c, cap * sizeof *nt);
        if (!nt) return OCTO_E_TOO_LARGE;
        if (t->n) memcpy(nt, t->t, t->n * sizeof *nt);
        t->t = nt;
        t->cap = cap;
    }
    jtoken *k = &t->t[t->n++];
    memset(k, 0, sizeof *k);
    k->type = type;
    k->p = p;
    k->n = n;
    k->line = line;
    if (tk) *tk = k;
    return OCTO_OK;
}

static int count_lines(const char *p, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] == '\n';
    return k;
}

/* Length of Python whitespace at s[0..n). */
static size_t space_prefix(const char *s, size_t n)
{
    size_t lo, hi;
    jj_strip(s, n, NULL, 0, true, false, &lo, &hi);
    return lo;
}

/* Finds the next "{{", "{%" or "{#" at or after from; returns n if none. */
static size_t next_tag(const lexer *L, size_t from)
{
    for (size_t i = from; i + 1 < L->n; i++)
        if (L->s[i] == '{' && (L->s[i + 1] == '{' || L->s[i + 1] == '%' || L->s[i + 1] == '#'))
            return i;
    return L->n;
}

static octo_err lex_string(lexer *L, jtoken *tk)
{
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    octo_buf b;
    octo_buf_init(&b, L->n + 1);
    octo_err rc = OCTO_OK;
    while (i < L->n && L->s[i] != q && !rc) {
        char ch = L->s[i];
        if (ch != '\\' || i + 1 >= L->n) {
            rc = octo_buf_append(&b, &ch, 1);
            i++;
            continue;
        }
        char e = L->s[i + 1];
        const char *simple = strchr("\\'\"nrtabfv", e);
        if (simple && e) {
            static const char map[] = "\\'\"\n\r\t\a\b\f\v";
            rc = octo_buf_append(&b, &map[simple - "\\'\"nrtabfv"], 1);
            i += 2;
        } else if (e == 'x' || e == 'u' || e == 'U') {
            size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            size_t k = 0;
            for (; k < len && i + 2 + k < L->n; k++) {
                char h = L->s[i + 2 + k];
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) break;
                cp = cp * 16 + (uint32_t)d;
            }
            if (k != len || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                L->c->line = L->line;
                rc = jj_fail(L->c, OCTO_E_PARSE, "bad \\%c escape in string", e);
                break;
            }
            char u[4];
            size_t un = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (un == 1) u[0] = (char)cp;
            else if (un == 2)
                    { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); }
            else if (un == 3) {
                u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
            } else {
                u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F));
            }
            rc = octo_buf_append(&b, u, un);
            i += 2 + len;
        } else if (e >= '0' && e <= '7') {
            unsigned v = 0;
            size_t k = 0;
            while (k < 3 && i + 1 + k < L->n && L->s[i + 1 + k] >= '0' && L->s[i + 1 + k] <= '7')
                v = v * 8 + (unsigned)(L->s[i + 1 + k++] - '0');
            if (v >= 0x80) {
                char u[2] = {(char)(0xC0 | (v >> 6)), (char)(0x80 | (v & 0x3F))};
                rc = octo_buf_append(&b, u, 2);
            } else {
                char u = (char)v;
                rc = octo_buf_append(&b, &u, 1);
            }
            i += 1 + k;
        } else if (e == 'N') {
            L->c->line = L->line;
            rc = jj_fail(L->c, OCTO_E_UNSUPPORTED, "unsupported \\N{...} escape in string");
        } else if (e == '\n') {
            i += 2; /* line continuation */
        } else {
            rc = octo_buf_append(&b, L->s + i, 2);
            i += 2;
        }
    }
    if (!rc && i >= L->n) {
        L->c->line = L->line;
        rc = jj_fail(L->c, OCTO_E_PARSE, "unterminated string");
    }
    if (!rc) {
        char *d = jj_alloc(L->c, b.len + 1);
        if (!d) rc = OCTO_E_TOO_LARGE;
        else {
            if (b.len) memcpy(d, b.data, b.len);
            tk->p = d;
            tk->n = b.len;
        }
    }
    octo_buf_deinit(&b);
    if (!rc) {
        L->line += count_lines(L->s + L->pos, i + 1 - L->pos);
        L->pos = i + 1;
    }
    return rc;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static size_t digits_at(const lexer *L, size_t i)
{
    while (i < L->n && (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->n &&
                                              is_digit(L->s[i + 1]))))
        i++;
    return i;
}

/* Decimal integers and floats ("12", "1_000", "1.5", "2e-3"). */
static octo_err lex_number(lexer *L, jtoken *tk)
{
    size_t start = L->pos, i = digits_at(L, L->pos);
    bool isf = false;
    if (i + 1 < L->n && L->s[i] == '.' && is_digit(L->s[i + 1])) {
        isf = true;
        i = digits_at(L, i + 1);
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-')) j++;
        if (j < L->n && is_digit(L->s[j])) {
            isf = true;
            i = digits_at(L, j);
        }
    }
    L->c->line = L->line;
    char buf[64];
    size_t bn = 0;
    for (size_t k = start; k < i; k++) {
        if (L->s[k] == '_') continue;
        if (bn == sizeof buf - 1) return jj_fail(L->c, OCTO_E_UNSUPPORTED, "number too long");
        buf[bn++] = L->s[k];
    }
    buf[bn] = '\0';
    if (isf) {
        tk->type = JT_FLOAT;
        tk->f = strtod(buf, NULL);
    } else {
        long v;
        if (octo_parse_long(buf, 0, INT64_MAX, &v))
            return jj_fail(L->c, OCTO_E_UNSUPPORTED, "unsupported integer literal %s", buf);
        tk->type = JT_INT;
        tk->i = v;
    }
    L->pos = i;
    return OCTO_OK;
}

static bool is_name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* Tokens of one {{ }} or {% %} tag; stops after the end delimiter.
 * *strip_after is set when the end carried "-". *trim when trim_blocks
 * applies. */
static octo_err lex_tag(lexer *L, bool block, bool *strip_after, bool *trim)
{
    char close = block ? '%' : '}';
    int open_line = L->line;
    for (;;) {
        while (L->pos < L->n && (L->s[L->pos] == ' ' || L->s[L->pos] == '\t' ||
                                 L->s[L->pos] == '\n' || L->s[L->pos] == '\r')) {
            if (L->s[L->pos] == '\n') L->line++;
            L->pos++;
        }
        if (L->pos >= L->n) {
            L->c->line = open_line;
            return jj_fail(L->c, OCTO_E_PARSE, "unterminated %s tag",
                           block ? "'{%'" : "'{{'");
        }
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        bool minus = left >= 3 && p[0] == '-' && p[1] == close && p[2] == '}';
        bool plus = block && left >= 3 && p[0] == '+' && p[1] == '%' && p[2] == '}';
        if (minus || plus || (left >= 2 && p[0] == close && p[1] == '}')) {
            octo_err rc = emit(L, block ? JT_BLOCK_END : JT_VAR_END, p, 0, L->line, NULL);
            if (rc) return rc;
            L->pos += minus || plus ? 3 : 2;
            *strip_after = minus;
            *trim = block && !minus && !plus;
            return OCTO_OK;
        }
        jtoken *tk;
        octo_err rc = emit(L, JT_OP, p, 1, L->line, &tk);
        if (rc) return rc;
        if (p[0] == '\'' || p[0] == '"') {
            tk->type = JT_STRING;
            rc = lex_string(L, tk);
        } else if (p[0] >= '0' && p[0] <= '9') {
            rc = lex_number(L, tk);
        } else if (is_name_start(p[0])) {
            size_t k = 1;
            while (k < left && (is_name_start(p[k]) || (p[k] >= '0' && p[k] <= '9'))) k++;
            tk->type = JT_NAME;
            tk->n = k;
            L->pos += k;
        } else {
            static const char *ops2[] = {"//", "**", "==", "!=", "<=", ">="};
            size_t k = 0;
            for (size_t i = 0; i < sizeof ops2 / sizeof ops2[0]; i++)
                if (left >= 2 && memcmp(p, ops2[i], 2) == 0) k = 2;
            if (!k && strchr("+-/*%~[](){}<>=.:|,;", p[0])) k = 1;
            if (!k) {
                L->c->line = L->line;
                return jj_fail(L->c, OCTO_E_PARSE, "unexpected character '%c'", p[0]);
            }
            tk->n = k;
            L->pos += k;
        }
        if (rc) return rc;
    }
}

/* Normalises newlines and drops one trailing newline, as Jinja does. */
static octo_err normalise(lexer *L, const char *src, size_t len)
{
    char *d = jj_alloc(L->c, len + 1);
    if (!d) return OCTO_E_TOO_LARGE;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            d[o++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            d[o++] = src[i];
        }
    }
    if (o && d[o - 1] == '\n') o--;
    d[o] = '\0';
    L->s = d;
    L->n = o;
    return OCTO_OK;
}

/* Emits the text in [start, end) before a tag whose opening is at `end`;
 * mod is the character after "{%", "{{" or "{#". */
static octo_err emit_text(lexer *L, size_t start, size_t end, char kind, char mod)
{
    size_t lo = start, hi = end;
    if (mod == '-') {
        size_t a, b;
        jj_strip(L->s + lo, hi - lo, NULL, 0, false, true, &a, &b);
        hi = lo + b;
    } else if (mod != '+' && kind != '{') {
        /* lstrip_blocks: spaces/tabs between the line start and the tag */
        size_t ls = hi;
        while (ls > lo && L->s[ls - 1] != '\n') ls--;
        bool line_start = ls > lo || lo == 0 || L->s[lo - 1] == '\n';
        bool blank = true;
        for (size_t i = ls; i < hi; i++) blank = blank && (L->s[i] == ' ' || L->s[i] == '\t');
        if (line_start && blank) hi = ls;
    }
    octo_err rc = OCTO_OK;
    if (hi > lo) rc = emit(L, JT_TEXT, L->s + lo, hi - lo, L->line, NULL);
    L->line += count_lines(L->s + start, end - start);
    return rc;
}

/* Matches "[ws]name[ws](-|+)?%}" at i; returns the index after it (0 if
 * no match) and the modifier before "%}". */
static size_t match_tag_name(const lexer *L, size_t i, const char *name, char *mod)
{
    size_t nl = strlen(name);
    while (i < L->n && (L->s[i] == ' ' || L->s[i] == '\t' || L->s[i] == '\n')) i++;
    if (i + nl > L->n || memcmp(L->s + i, name, nl) != 0) return 0;
    i += nl;
    if (i < L->n && (is_name_start(L->s[i]) || is_digit(L->s[i]))) return 0;
    while (i < L->n && (L->s[i] == ' ' || L->s[i] == '\t' || L->s[i] == '\n')) i++;
    *mod = 0;
    if (i < L->n && (L->s[i] == '-' || L->s[i] == '+')) *mod = L->s[i++];
    if (i + 2 > L->n || L->s[i] != '%' || L->s[i + 1] != '}') return 0;
    return i + 2;
}

/* {% raw %}...{% endraw %}: the text between is emitted verbatim. L->pos
 * is just after "{%" and its modifier. Whitespace rules as Jinja's raw
 * state: "-" strips, lstrip_blocks applies before endraw, trim_blocks
 * only after endraw. */
static octo_err lex_raw(lexer *L, bool *is_raw, bool *strip, bool *trim)
{
    char mod;
    size_t body = match_tag_name(L, L->pos, "raw", &mod);
    if (!body || mod == '+') return OCTO_OK;
    *is_raw = true;
    int line = L->line;
    size_t start = body;
    if (mod == '-') start += space_prefix(L->s + start, L->n - start);
    for (size_t i = start; i + 1 < L->n; i++) {
        if (L->s[i] != '{' || L->s[i + 1] != '%') continue;
        size_t j = i + 2;
        char emod = 0, end_mod;
        if (j < L->n && (L->s[j] == '-' || L->s[j] == '+')) emod = L->s[j++];
        size_t after = match_tag_name(L, j, "endraw", &end_mod);
        if (!after) continue;
        L->line += count_lines(L->s + L->pos, start - L->pos);
        L->pos = start;
        octo_err rc = emit_text(L, start, i, '%', emod);
        L->line += count_lines(L->s + i, after - i);
        L->pos = after;
        *strip = end_mod == '-';
        *trim = end_mod == 0;
        return rc;
    }
    L->c->line = line;
    return jj_fail(L->c, OCTO_E_PARSE, "missing end of raw directive");
}

octo_err jj_lex(jctx *c, const char *src, size_t len, jtokens *out)
{
    lexer L = {.c = c, .line = 1, .out = out};
    memset(out, 0, sizeof *out);
    octo_err rc = normalise(&L, src, len);
    bool strip = false, trim = false;
    while (!rc && L.pos < L.n) {
        size_t start = L.pos;
        if (strip) start += space_prefix(L.s + start, L.n - start);
        else if (trim && start < L.n && L.s[start] == '\n') start++;
        if (start > L.pos) L.line += count_lines(L.s + L.pos, start - L.pos);
        L.pos = start;
        strip = trim = false;
        size_t t = next_tag(&L, start);
        char kind = t < L.n ? L.s[t + 1] : 0;
        char mod = t + 2 < L.n ? L.s[t + 2] : 0;
        rc = emit_text(&L, start, t, kind, mod);
        if (rc || t >= L.n) break;
        L.pos = t + 2 + (mod == '-' || (mod == '+' && kind != '{'));
        if (kind == '#') {
            const char *e = NULL;
            for (size_t i = L.pos; i + 1 < L.n; i++)
                if (L.s[i] == '#' && L.s[i + 1] == '}') { e = L.s + i; break; }
            c->line = L.line;
            if (!e) return jj_fail(c, OCTO_E_PARSE, "unterminated comment");
            size_t ei = (size_t)(e - L.s);
            strip = ei > L.pos && L.s[ei - 1] == '-';
            trim = !strip;
            L.line += count_lines(L.s + L.pos, ei + 2 - L.pos);
            L.pos = ei + 2;
            continue;
        }
        if (kind == '%') {
            bool is_raw = false;
            rc = lex_raw(&L, &is_raw, &strip, &trim);
            if (rc) return rc;
            if (is_raw) continue;
        }
        rc = emit(&L, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, L.s + t, 0, L.line, NULL);
        if (!rc) rc = lex_tag(&L, kind == '%', &strip, &trim);
    }
    if (!rc) rc = emit(&L, JT_EOF, L.s + L.n, 0, L.line, NULL);
    return rc;
}
