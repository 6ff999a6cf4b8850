/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_text — text processing of the knowledge layer: the index tokens
 * (lower-cased letter/digit runs; CJK characters as unigrams plus the
 * bigrams of adjacent ones, so that Chinese needs no dictionary), FTS5
 * query building, keyword extraction, Dify's pre-processing rules and its
 * splitter (a fixed separator, then recursive separators, chunks merged up
 * to max_tokens with an overlap).
 *
 * It is not a linguistic toolkit: no stemming, no word segmentation.
 */
#include "rag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ==== tokens ==== */

static bool is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x3040 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF);
}

static bool is_word(uint32_t c)
{
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z');
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO) ||
           k == UTF8PROC_CATEGORY_MN;
}

static octo_err put_cp(octo_buf *b, uint32_t c)
{
    utf8proc_uint8_t u[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)c, u);
    return octo_buf_append(b, u, (size_t)(n > 0 ? n : 0));
}

/* Calls fn(tok, len) for each token of text; tokens are built in tmp. */
typedef octo_err (*tok_fn)(void *ctx, const char *tok, size_t len);

static octo_err each_token_raw(const char *text, size_t len, tok_fn fn, void *ctx);

/* NFKC with case folding first (full-width forms, Kangxi radicals and
 * compatibility ideographs become the usual characters), so that text and
 * queries meet whatever code points a PDF used. */
static octo_err each_token(const char *text, size_t len, tok_fn fn, void *ctx)
{
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len,
                                      &norm, UTF8PROC_STABLE | UTF8PROC_COMPAT |
                                      UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0) return each_token_raw(text, len, fn, ctx); /* not UTF-8: as it is */
    octo_err rc = each_token_raw((const char *)norm, (size_t)n, fn, ctx);
    free(norm); /* utf8proc's malloc */
    return rc;
}

static octo_err each_token_raw(const char *text, size_t len, tok_fn fn, void *ctx)
{
    octo_buf w;
    octo_buf_init(&w, 1u << 16);
    octo_err rc = OCTO_OK;
    uint32_t prev_cjk = 0; /* the CJK character just before, for bigrams */
    size_t i = 0;
    while (i < len && !rc) {
        uint32_t c;
        size_t n = octo_utf8_next(text + i, len - i, &c);
        i += n;
        if (is_cjk(c)) {
            if (w.len) rc = fn(ctx, w.data, w.len);
            octo_buf_clear(&w);
            char one[8];
            utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)c, (utf8proc_uint8_t *)one);
            if (!rc && k > 0) rc = fn(ctx, one, (size_t)k);
            if (!rc && prev_cjk) {
                char two[8];
                utf8proc_ssize_t k2 = utf8proc_encode_char((utf8proc_int32_t)prev_cjk,
                                                           (utf8proc_uint8_t *)two);
                if (k2 > 0 && k > 0) {
                    memcpy(two + k2, one, (size_t)k);
                    rc = fn(ctx, two, (size_t)(k2 + k));
                }
            }
            prev_cjk = c;
            continue;
        }
        prev_cjk = 0;
        if (is_word(c)) {
            if (w.len < 200) rc = put_cp(&w, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
            continue;
        }
        if (w.len) rc = fn(ctx, w.data, w.len);
        octo_buf_clear(&w);
    }
    if (!rc && w.len) rc = fn(ctx, w.data, w.len);
    octo_buf_deinit(&w);
    return rc;
}

static octo_err add_spaced(void *ctx, const char *tok, size_t len)
{
    octo_buf *b = ctx;
    octo_err rc = b->len ? octo_buf_append(b, " ", 1) : OCTO_OK;
    return rc ? rc : octo_buf_append(b, tok, len);
}

octo_err rag_tokens(const char *text, size_t len, octo_buf *b)
{
    return each_token(text, len, add_spaced, b);
}

typedef struct qctx {
    octo_buf *b;
    size_t n;
} qctx;

static octo_err add_query(void *ctx, const char *tok, size_t len)
{
    qctx *q = ctx;
    if (q->n >= 128) return OCTO_OK; /* enough to rank by */
    q->n++;
    octo_err rc = q->b->len ? octo_buf_puts(q->b, " OR ") : OCTO_OK;
    if (!rc) rc = octo_buf_append(q->b, "\"", 1);
    if (!rc) rc = octo_buf_append(q->b, tok, len); /* tokens hold no quote */
    if (!rc) rc = octo_buf_append(q->b, "\"", 1);
    return rc;
}

octo_err rag_fts_query(const char *q, size_t len, octo_buf *b)
{
    qctx c = {b, 0};
    return each_token(q, len, add_query, &c);
}

/* ==== keywords ==== */

static const char *const k_stop[] = {
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "is", "are", "was",
    "were", "be", "by", "with", "as", "at", "that", "this", "it", "its", "from", "which",
    "we", "our", "not", "but", "can", "has", "have", "had", "these", "those", "their",
    "there", "been", "also", "such", "than", "into", "may", "more", "all", "one", "two",
    "的", "了", "和", "是", "在", "与", "及", "或", "等", "为", "对", "中", NULL};

static bool stop_word(const char *t)
{
    for (size_t i = 0; k_stop[i]; i++)
        if (strcmp(k_stop[i], t) == 0) return true;
    return false;
}

typedef struct kw {
    char *s;
    size_t first, count;
} kw;

typedef struct kwctx {
    kw *v;
    size_t n, cap, seen;
} kwctx;

static octo_err add_kw(void *ctx, const char *tok, size_t len)
{
    kwctx *k = ctx;
    k->seen++;
    if (len < 2 || k->n >= 100000) return OCTO_OK; /* single letters, digits, CJK unigrams */
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        kw *nv = octo_realloc(k->v, cap * sizeof *nv);
        if (!nv) return OCTO_E_NOMEM;
        k->v = nv;
        k->cap = cap;
    }
    char *s = octo_strndup(tok, len);
    if (!s) return OCTO_E_NOMEM;
    k->v[k->n++] = (kw){s, k->seen, 1};
    return OCTO_OK;
}

static int by_text(const void *a, const void *b)
{
    const kw *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->first < y->first ? -1 : 1);
}

static int by_count(const void *a, const void *b)
{
    const kw *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->first < y->first ? -1 : (x->first > y->first);
}

json_t *rag_keywords(const char *text, size_t len, size_t max)
{
    kwctx k = {0};
    json_t *out = json_array();
    if (!out || each_token(text, len, add_kw, &k) != OCTO_OK) goto done;
    if (k.n) qsort(k.v, k.n, sizeof *k.v, by_text);
    size_t u = 0; /* merge duplicates, keeping the first occurrence */
    for (size_t i = 0; i < k.n; i++) {
        if (u && strcmp(k.v[u - 1].s, k.v[i].s) == 0) {
            k.v[u - 1].count++;
            octo_free(k.v[i].s);
            continue;
        }
        k.v[u++] = k.v[i];
    }
    k.n = u;
    if (k.n) qsort(k.v, k.n, sizeof *k.v, by_count);
    for (size_t i = 0; i < k.n && json_array_size(out) < max; i++) {
        const char *s = k.v[i].s;
        bool digits = strspn(s, "0123456789.") == strlen(s);
        if (!digits && !stop_word(s)) json_array_append_new(out, json_string(s));
    }
done:
    for (size_t i = 0; i < k.n; i++) octo_free(k.v[i].s);
    octo_free(k.v);
    return out;
}

/* ==== counting ==== */

size_t rag_word_count(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)text[i] & 0xC0) != 0x80;
    return n;
}

size_t rag_count_tokens(const octo_rag_models *m, const char *text, size_t len)
{
    if (m && m->count_tokens) return m->count_tokens(m->ctx, text, len);
    size_t n = 0, other = 0, i = 0;
    while (i < len) {
        uint32_t c;
        size_t k = octo_utf8_next(text + i, len - i, &c);
        i += k;
        if (is_cjk(c)) n++;
        else other += k;
    }
    return n + (other + 3) / 4;
}

/* ==== process rules ==== */

static bool rule_bool(const json_t *pre, const char *id, bool *v)
{
    size_t i;
    const json_t *x;
    json_array_foreach(pre, i, x) {
        const json_t *jid = json_object_get(x, "id");
        if (json_is_string(jid) && strcmp(json_string_value(jid), id) == 0) {
            const json_t *en = json_object_get(x, "enabled");
            if (!json_is_boolean(en)) return false;
            *v = json_is_true(en);
        }
    }
    return true;
}

/* Dify writes "\n" in separators as the two characters \ n. */
static void unescape_sep(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && o + 1 < cap; i++) {
        if (in[i] == '\\' && in[i + 1] == 'n') {
            out[o++] = '\n';
            i++;
        } else if (in[i] == '\\' && in[i + 1] == 't') {
            out[o++] = '\t';
            i++;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

/* One {separator, max_tokens, chunk_overlap} object. */
static bool read_seg(const json_t *seg, const char *what, char sep_out[64], long *max_tokens,
                     long *overlap, octo_rag_status *st)
{
    if (!json_is_object(seg))
        return rag_fail(st, 400, "invalid_param", "rules.%s is required", what), false;
    const json_t *sep = json_object_get(seg, "separator");
    if (sep && !json_is_null(sep)) {
        if (!json_is_string(sep) || json_string_length(sep) == 0 ||
            json_string_length(sep) >= 64)
            return rag_fail(st, 400, "invalid_param", "%s.separator must be a non-empty "
                            "string of at most 63 bytes", what), false;
        unescape_sep(json_string_value(sep), sep_out, 64);
    }
    const json_t *mt = json_object_get(seg, "max_tokens");
    if (!json_is_integer(mt) || json_integer_value(mt) < RAG_MIN_SEGMENT_TOKENS ||
        json_integer_value(mt) > RAG_MAX_SEGMENT_TOKENS)
        return rag_fail(st, 400, "invalid_param", "%s.max_tokens must be an integer in %d..%d",
                        what, RAG_MIN_SEGMENT_TOKENS, RAG_MAX_SEGMENT_TOKENS), false;
    *max_tokens = (long)json_integer_value(mt);
    const json_t *ov = json_object_get(seg, "chunk_overlap");
    *overlap = 0;
    if (ov && !json_is_null(ov)) {
        if (!json_is_integer(ov) || json_integer_value(ov) < 0 ||
            json_integer_value(ov) >= *max_tokens)
            return rag_fail(st, 400, "invalid_param", "%s.chunk_overlap must be an integer "
                            "in 0..max_tokens-1", what), false;
        *overlap = (long)json_integer_value(ov);
    }
    return true;
}

bool rag_rules_read(const json_t *pr, rag_rules *r, octo_rag_status *st)
{
    *r = (rag_rules){.remove_extra_spaces = true, .separator = "\n", .max_tokens = 500,
                     .overlap = 50};
    if (!pr || json_is_null(pr)) return true;
    if (!json_is_object(pr))
        return rag_fail(st, 400, "invalid_param", "process_rule must be an object"), false;
    const json_t *mode = json_object_get(pr, "mode");
    const char *ms = json_is_string(mode) ? json_string_value(mode) : NULL;
    if (!ms)
        return rag_fail(st, 400, "invalid_param", "process_rule.mode is required "
                        "('automatic' or 'custom')"), false;
    if (strcmp(ms, "automatic") == 0) return true;
    bool hier = strcmp(ms, "hierarchical") == 0;
    if (strcmp(ms, "custom") != 0 && !hier)
        return rag_fail(st, 400, "invalid_param", "process_rule.mode must be 'automatic', "
                        "'custom' or 'hierarchical', got '%.40s'", ms), false;
    const json_t *rules = json_object_get(pr, "rules");
    if (!json_is_object(rules))
        return rag_fail(st, 400, "invalid_param", "process_rule.rules is required in %s "
                        "mode", ms), false;
    const json_t *pre = json_object_get(rules, "pre_processing_rules");
    if (pre && !json_is_array(pre))
        return rag_fail(st, 400, "invalid_param", "pre_processing_rules must be a list"), false;
    size_t i;
    const json_t *x;
    json_array_foreach(pre, i, x) {
        const json_t *jid = json_object_get(x, "id");
        const char *id = json_is_string(jid) ? json_string_value(jid) : "";
        if (strcmp(id, "remove_extra_spaces") && strcmp(id, "remove_urls_emails"))
            return rag_fail(st, 400, "invalid_param", "pre_processing_rules: unknown rule id "
                            "'%.40s' (remove_extra_spaces, remove_urls_emails)", id), false;
    }
    r->remove_extra_spaces = false;
    if (pre && (!rule_bool(pre, "remove_extra_spaces", &r->remove_extra_spaces) ||
                !rule_bool(pre, "remove_urls_emails", &r->remove_urls_emails)))
        return rag_fail(st, 400, "invalid_param", "pre_processing_rules: 'enabled' must be "
                        "a boolean"), false;
    const json_t *seg = json_object_get(rules, "segmentation");
    if (!read_seg(seg, "segmentation", r->separator, &r->max_tokens, &r->overlap, st))
        return false;
    if (!hier) return true;
    r->hierarchical = true;
    const json_t *pm = json_object_get(rules, "parent_mode");
    const char *pms = json_is_string(pm) ? json_string_value(pm) : "paragraph";
    if (pm && !json_is_null(pm) && (!json_is_string(pm) ||
        (strcmp(pms, "paragraph") && strcmp(pms, "full-doc"))))
        return rag_fail(st, 400, "invalid_param", "parent_mode must be 'paragraph' or "
                        "'full-doc'"), false;
    r->full_doc = strcmp(pms, "full-doc") == 0;
    octo_strlcpy(r->sub_separator, "\n", sizeof r->sub_separator);
    return read_seg(json_object_get(rules, "subchunk_segmentation"), "subchunk_segmentation",
                    r->sub_separator, &r->sub_max_tokens, &r->sub_overlap, st);
}

/* ==== cleaning ==== */

static bool is_space_cp(uint32_t c)
{
    return c == '\t' || c == '\f' || c == '\r' || c == ' ' || c == 0xA0 || c == 0x1680 ||
           c == 0x180E || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static bool url_at(const char *s, size_t n, size_t *end)
{
    size_t k = 0;
    if (n >= 7 && strncmp(s, "http://", 7) == 0) k = 7;
    else if (n >= 8 && strncmp(s, "https://", 8) == 0) k = 8;
    else return false;
    while (k < n && !strchr(" \t\r\n\f", s[k])) k++;
    *end = k;
    return true;
}

static bool email_char(char c, bool domain)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || (!domain && (c == '_' || c == '%' || c == '+'));
}

/* The start of an e-mail's local part that ends at out[n) (n when none). */
static size_t local_part(const char *out, size_t n)
{
    size_t i = n;
    while (i > 0 && email_char(out[i - 1], false)) i--;
    return i;
}

/* The end of an e-mail's domain starting at s[0] (0 when it is none: it
 * needs a dot and a top-level name of two letters at least). */
static size_t domain_end(const char *s, size_t n)
{
    size_t j = 0, dot = 0;
    while (j < n && email_char(s[j], true)) j++;
    while (j > 0 && s[j - 1] == '.') j--; /* a sentence's full stop */
    for (size_t k = 0; k < j; k++)
        if (s[k] == '.') dot = k;
    return dot && dot + 3 <= j ? j : 0;
}

char *rag_clean(const char *text, size_t len, const rag_rules *rules, size_t *out_len)
{
    octo_buf b;
    octo_buf_init(&b, len + 16);
    size_t i = 0, nl = 0;
    bool space = false;
    while (i < len) {
        uint32_t c;
        size_t n = octo_utf8_next(text + i, len - i, &c);
        size_t e = 0;
        if (rules->remove_urls_emails && (c == 'h') && url_at(text + i, len - i, &e)) {
            i += e;
            continue;
        }
        if (rules->remove_urls_emails && c == '@') {
            size_t lb = local_part(b.data ? b.data : "", b.len);
            size_t de = domain_end(text + i + 1, len - i - 1);
            if (lb < b.len && de) { /* drop the local part written, skip the domain */
                b.len = lb;
                b.data[b.len] = '\0';
                i += 1 + de;
                continue;
            }
        }
        i += n;
        if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7F || c == 0xFFFE)
            continue;
        if (c == '<' && i < len && text[i] == '|') { /* <| -> < */
            i++;
        } else if (c == '|' && i < len && text[i] == '>') { /* |> -> > */
            c = '>';
            i++;
        }
        if (rules->remove_extra_spaces) {
            if (c == '\n') {
                space = false;
                if (++nl > 2) continue;
            } else if (is_space_cp(c)) {
                if (space) continue;
                space = true;
                c = ' ';
                nl = 0;
            } else {
                space = false;
                nl = 0;
            }
        }
        if (put_cp(&b, c) != OCTO_OK) {
            octo_buf_deinit(&b);
            return NULL;
        }
    }
    *out_len = b.len;
    char *s = octo_buf_take(&b);
    return s ? s : octo_strdup("");
}

/* ==== splitting ==== */

typedef struct piece {
    const char *p;
    size_t n, tokens;
} piece;

typedef struct splitter {
    const octo_rag_models *m;
    const rag_rules *r;
    rag_chunks *out;
} splitter;

static octo_err emit(splitter *sp, const piece *v, size_t n)
{
    size_t a = 0, b = 0;
    const char *start = n ? v[0].p : NULL;
    const char *end = n ? v[n - 1].p + v[n - 1].n : NULL;
    if (!n) return OCTO_OK;
    size_t len = (size_t)(end - start);
    while (a < len && strchr(" \t\r\n", start[a])) a++;
    while (b < len - a && strchr(" \t\r\n", start[len - 1 - b])) b++;
    if (a + b >= len) return OCTO_OK;
    rag_chunks *c = sp->out;
    if (c->n >= RAG_MAX_SEGMENTS) return OCTO_E_TOO_LARGE;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        char **nt = octo_realloc(c->text, cap * sizeof *nt);
        if (!nt) return OCTO_E_NOMEM;
        c->text = nt;
        c->cap = cap;
    }
    c->text[c->n] = octo_strndup(start + a, len - a - b);
    if (!c->text[c->n]) return OCTO_E_NOMEM;
    c->n++;
    return OCTO_OK;
}

/* Merges adjacent pieces (contiguous in the text) into chunks. */
static octo_err merge(splitter *sp, const piece *v, size_t n)
{
    size_t max = (size_t)sp->r->max_tokens, ov = (size_t)sp->r->overlap;
    size_t a = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > a && total + v[i].tokens > max) {
            octo_err rc = emit(sp, v + a, i - a);
            if (rc) return rc;
            while (a < i && (total > ov || total + v[i].tokens > max)) total -= v[a++].tokens;
        }
        total += v[i].tokens;
    }
    return emit(sp, v + a, n - a);
}

static const char *const k_seps[] = {"\n\n", "\n", "。", ". ", " ", "", NULL};

static octo_err split_rec(splitter *sp, const char *t, size_t len, size_t k);

/* Cuts t at every occurrence of sep (kept at the end of its piece); "" cuts
 * between characters. */
static octo_err cut(splitter *sp, const char *t, size_t len, const char *sep, size_t next_k)
{
    size_t sl = strlen(sep), cap = 64, n = 0;
    piece *v = octo_malloc(cap * sizeof *v);
    if (!v) return OCTO_E_NOMEM;
    octo_err rc = OCTO_OK;
    size_t i = 0, good = 0;
    while (i < len && !rc) {
        size_t j;
        if (sl == 0) {
            uint32_t c;
            j = i + octo_utf8_next(t + i, len - i, &c);
        } else {
            const char *f = memmem(t + i, len - i, sep, sl);
            j = f ? (size_t)(f - t) + sl : len;
        }
        piece p = {t + i, j - i, rag_count_tokens(sp->m, t + i, j - i)};
        i = j;
        if (p.tokens > (size_t)sp->r->max_tokens && sl) {
            rc = merge(sp, v + good, n - good); /* flush, then go finer */
            n = good = 0;
            if (!rc) rc = split_rec(sp, p.p, p.n, next_k);
            continue;
        }
        if (n == cap) {
            cap *= 2;
            piece *nv = octo_realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = OCTO_E_NOMEM;
                break;
            }
            v = nv;
        }
        v[n++] = p;
    }
    if (!rc) rc = merge(sp, v + good, n - good);
    octo_free(v);
    return rc;
}

static octo_err split_rec(splitter *sp, const char *t, size_t len, size_t k)
{
    size_t s = k;
    while (k_seps[s] && k_seps[s][0] && !memmem(t, len, k_seps[s], strlen(k_seps[s]))) s++;
    if (!k_seps[s]) s--;
    return cut(sp, t, len, k_seps[s], s + 1);
}

octo_err rag_split(const octo_rag_models *m, const char *text, size_t len,
                   const rag_rules *rules, rag_chunks *out)
{
    memset(out, 0, sizeof *out);
    splitter sp = {m, rules, out};
    octo_err rc = cut(&sp, text, len, rules->separator, 0);
    if (rc) rag_chunks_free(out);
    return rc;
}

octo_err rag_split_whole(const char *text, size_t len, rag_chunks *out)
{
    memset(out, 0, sizeof *out);
    piece p = {text, len, 0};
    splitter sp = {NULL, NULL, out};
    octo_err rc = len ? emit(&sp, &p, 1) : OCTO_OK;
    if (rc) rag_chunks_free(out);
    return rc;
}

void rag_chunks_free(rag_chunks *c)
{
    for (size_t i = 0; i < c->n; i++) octo_free(c->text[i]);
    octo_free(c->text);
    memset(c, 0, sizeof *c);
}
