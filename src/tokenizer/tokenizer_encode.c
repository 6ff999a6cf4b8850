/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer_encode — text to ids, in Hugging Face `tokenizers` order:
 *   1. added tokens with normalized = false are found in the raw text
 *      (leftmost-longest, then single_word / lstrip / rstrip as HF does);
 *   2. each remaining piece is normalised (NFC...), then added tokens with
 *      normalized = true are found in it;
 *   3. the pre-tokenizer steps split the pieces (PCRE2 regexes with UTF and
 *      UCP, Oniguruma's find_iter rules for empty matches);
 *   4. each piece's bytes become byte-level symbols merged by rank (a
 *      linked list plus a binary heap keyed by (rank, position)), with a
 *      word cache under striped locks;
 *   5. the post-processor template wraps the ids when asked.
 *
 * It is not a general regex engine nor a normaliser: PCRE2 and utf8proc
 * do that work.
 */
#include "tokenizer/tokenizer_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct piece {
    uint32_t off, len;
    int32_t added; /* index into tok->added, -1 for text */
    bool match;    /* regex segments: matched or not */
} piece;

typedef struct plist {
    piece *v;
    size_t n, cap;
} plist;

typedef struct sym {
    int32_t id, prev, next;
    uint32_t len; /* 0: merged away */
} sym;

typedef struct hent {
    uint32_t rank;
    int32_t pos, id;
} hent;

typedef struct enc {
    const octo_text_tokenizer *tok;
    int32_t *ids;
    size_t n, cap;
    plist raw, norm, pa, pb, segs;
    sym *syms;
    hent *heap;
    size_t cap_syms;
    pcre2_match_data *md;
    char *work; /* ByteLevel prefix-space copy */
} enc;

static octo_err push_id(enc *e, int32_t id)
{
    if (e->n == e->cap) {
        if (e->n >= OCTO_LIMIT_PROMPT_TOKENS) return OCTO_E_TOO_LARGE;
        size_t cap = e->cap ? e->cap * 2 : 64;
        int32_t *ni = octo_realloc(e->ids, cap * sizeof *ni);
        if (!ni) return OCTO_E_NOMEM;
        e->ids = ni;
        e->cap = cap;
    }
    e->ids[e->n++] = id;
    return OCTO_OK;
}

static octo_err plist_push(plist *l, uint32_t off, uint32_t len, int32_t added, bool match)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        piece *nv = octo_realloc(l->v, cap * sizeof *nv);
        if (!nv) return OCTO_E_NOMEM;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = (piece){.off = off, .len = len, .added = added, .match = match};
    return OCTO_OK;
}

/* ==== Unicode helpers ==== */

static uint32_t cp_at(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t l = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (l <= 0) { *len = 1; return 0xfffd; }
    *len = (size_t)l;
    return (uint32_t)cp;
}

/* Start of the code point that ends at byte i (i > 0). */
static size_t cp_before(const unsigned char *s, size_t i)
{
    size_t j = i - 1;
    while (j > 0 && (s[j] & 0xc0) == 0x80) j--;
    return j;
}

/* Unicode White_Space, as Rust's char::is_whitespace and regex \s. */
static bool is_space(uint32_t c)
{
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Regex \w: letters, marks, decimal digits, connector punctuation, joiners. */
static bool is_word(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    if (c == 0x200c || c == 0x200d) return true;
    int cat = utf8proc_category((utf8proc_int32_t)c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NL) ||
           cat == UTF8PROC_CATEGORY_PC;
}

/* ==== normalisation ==== */

/* Code points that HF tokenizers' normalisers do not know: its tables
 * (unicode-normalization-alignments) are Unicode 9.0, utf8proc's newer.
 * For HF these have combining class 0 and no decomposition or composition,
 * so octo copies them unchanged and normalises the text between them. Made
 * by tools/gen_tok_unicode_compat.py, which probes HF against utf8proc. */
static const uint32_t HF_UNKNOWN[][2] = {
/* 243 code points in 46 ranges */
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE}, {0xC3C, 0xC3C},
    {0xD3B, 0xD3C}, {0xEBA, 0xEBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA},
    {0x32FF, 0x32FF}, {0xA7F2, 0xA7F4}, {0xA82C, 0xA82C}, {0xAB69, 0xAB69}, {0x10781, 0x10785},
    {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC},
    {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070},
    {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x11930, 0x11930},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34},
    {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45},
    {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E030, 0x1E06D},
    {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
    {0x1E4EC, 0x1E4EF}, {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
};

static bool hf_unknown(uint32_t c)
{
    size_t lo = 0, hi = sizeof HF_UNKNOWN / sizeof HF_UNKNOWN[0];
    if (c < HF_UNKNOWN[0][0]) return false;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < HF_UNKNOWN[mid][0]) hi = mid;
        else if (c > HF_UNKNOWN[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/* True when NFC cannot change a code point nor combine it with its
 * neighbours: no canonical decomposition, combining class 0, never the
 * second of a composition, not a conjoining Hangul jamo. Below U+0300
 * everything is such (the first composition seconds are U+0300...). */
static bool nfc_inert(uint32_t c)
{
    if (c < 0x300) return true;
    if (c >= 0x1100 && c <= 0x11ff) return false;
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
    if (p->combining_class) return false;
    if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) return false;
    if (p->comb_index != UINT16_MAX && (p->comb_index & 0x8000)) return false;
    return !p->comp_exclusion;
}

/* One pass over s: whether NFC may change it, and whether it holds code
 * points HF does not know. */
static void norm_scan(const unsigned char *s, size_t n, bool *inert, bool *unknown)
{
    *inert = true;
    *unknown = false;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) { i++; continue; }
        size_t l;
        uint32_t c = cp_at(s, n, i, &l);
        if (hf_unknown(c)) *unknown = true;
        else if (*inert && !nfc_inert(c)) *inert = false;
        i += l;
    }
}

/* Every normalizer of tok over s, with utf8proc; *out is malloc'd. */
static octo_err norm_utf8proc(const octo_text_tokenizer *tok, const char *s, size_t n,
                              char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = n;
    for (int i = 0; i < tok->n_norms; i++) {
        int opt = UTF8PROC_STABLE;
        switch (tok->norms[i]) {
        case TOK_NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
        case TOK_NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
        case TOK_NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case TOK_NORM_NFKD: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
        }
        utf8proc_uint8_t *dst = NULL;
        const char *src = *out ? *out : s;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)src,
                                          (utf8proc_ssize_t)*out_len, &dst,
                                          (utf8proc_option_t)opt);
        free(*out);
        *out = NULL;
        if (r < 0) {
            free(dst);
            return r == UTF8PROC_ERROR_NOMEM ? OCTO_E_NOMEM : OCTO_E_PARSE;
        }
        *out = (char *)dst;
        *out_len = (size_t)r;
    }
    return OCTO_OK;
}

static octo_err append_raw(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *len + n + 1) c *= 2;
        char *nb = realloc(*buf, c); /* libc: tok_normalize's contract */
        if (!nb) return OCTO_E_NOMEM;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return OCTO_OK;
}

/* Normalises the runs between HF-unknown code points, copying those. */
static octo_err norm_segmented(const octo_text_tokenizer *tok, const char *s, size_t n,
                               char **out, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *buf = NULL;
    size_t len = 0, cap = 0, seg = 0, i = 0;
    octo_err rc = OCTO_OK;
    while (!rc && i <= n) {
        size_t l = 1;
        bool cut = i == n;
        if (!cut && u[i] >= 0x80) cut = hf_unknown(cp_at(u, n, i, &l));
        if (cut) {
            char *part = NULL;
            size_t pl = 0;
            if (i > seg) rc = norm_utf8proc(tok, s + seg, i - seg, &part, &pl);
            if (!rc && i > seg) rc = append_raw(&buf, &len, &cap, part, pl);
            free(part);
            if (!rc && i < n) rc = append_raw(&buf, &len, &cap, s + i, l);
            seg = i + l;
        }
        i += l;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    if (!buf) rc = append_raw(&buf, &len, &cap, "", 0);
    *out = buf;
    *out_len = len;
    return rc;
}

octo_err tok_normalize(const octo_text_tokenizer *tok, const char *s, size_t n, char **out,
                       size_t *out_len)
{
    *out = NULL;
    *out_len = n;
    if (!tok->n_norms) return OCTO_OK;
    bool all_nfc = true, inert, unknown;
    for (int i = 0; i < tok->n_norms; i++) all_nfc &= tok->norms[i] == TOK_NORM_NFC;
    norm_scan((const unsigned char *)s, n, &inert, &unknown);
    if (all_nfc && inert) return OCTO_OK;
    if (unknown) return norm_segmented(tok, s, n, out, out_len);
    return norm_utf8proc(tok, s, n, out, out_len);
}

/* ==== added tokens ==== */

/* Longest string of m starting at s[i]; returns its added index or -1. */
static int32_t longest_at(const tok_matcher *m, const unsigned char *s, size_t n, size_t i,
                          size_t *end)
{
    int32_t node = m->root[s[i]], best = -1;
    size_t j = i + 1;
    while (node >= 0) {
        if (m->nodes[node].added >= 0) {
            best = m->nodes[node].added;
            *end = j;
        }
        if (j >= n) break;
        int32_t k = m->nodes[node].child;
        while (k >= 0 && m->nodes[k].byte != s[j]) k = m->nodes[k].sibling;
        node = k;
        j++;
    }
    return best;
}

/* HF's AddedVocabulary::find_matches on s[0, n): appends text and added
 * pieces (offsets relative to base) to out. */
static octo_err find_added(const octo_text_tokenizer *tok, const tok_matcher *m, const char *str,
                           size_t n, uint32_t base, plist *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t start_offset = 0, i = 0;
    octo_err rc;
    while (m->nodes && i < n) {
        if (m->root[s[i]] < 0) { i++; continue; }
        size_t stop = 0;
        int32_t a = longest_at(m, s, n, i, &stop);
        if (a < 0) { i++; continue; }
        size_t start = i, l;
        i = stop;
        const tok_added *t = &tok->added[a];
        if (t->single_word) {
            bool before = start > 0 && is_word(cp_at(s, n, cp_before(s, start), &l));
            bool after = stop < n && is_word(cp_at(s, n, stop, &l));
            if (before || after) continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t p = cp_before(s, ns);
                if (!is_space(cp_at(s, n, p, &l))) break;
                ns = p;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->rstrip)
            while (stop < n && is_space(cp_at(s, n, stop, &l))) stop += l;
        if (start_offset < start) {
            uint32_t off = base + (uint32_t)start_offset;
            rc = plist_push(out, off, (uint32_t)(start - start_offset), -1, 0);
            if (rc) return rc;
        }
        rc = plist_push(out, base + (uint32_t)start, (uint32_t)(stop - start), a, 0);
        if (rc) return rc;
        start_offset = stop;
    }
    if (start_offset < n)
        return plist_push(out, base + (uint32_t)start_offset, (uint32_t)(n - start_offset), -1, 0);
    return OCTO_OK;
}

/* ==== pre-tokenizer ==== */

/* Regex matches of re in s[0, n) as alternating segments, following the
 * onig crate's find_iter: an empty match right where the previous match
 * ended is skipped by one character. */
static octo_err regex_segments(enc *e, const tok_step *st, const char *s, size_t n)
{
    octo_err rc;
    size_t last_end = 0, prev = 0, last_match_end = 0;
    bool have_last = false;
    e->segs.n = 0;
    while (last_end <= n) {
        int r = st->jit ? pcre2_jit_match(st->re, (PCRE2_SPTR)s, n, last_end, 0, e->md, NULL)
                        : PCRE2_ERROR_JIT_STACKLIMIT;
        if (r == PCRE2_ERROR_JIT_STACKLIMIT) /* no JIT, or its 32 KiB stack ran out */
            r = pcre2_match(st->re, (PCRE2_SPTR)s, n, last_end, PCRE2_NO_UTF_CHECK, e->md, NULL);
        if (r == PCRE2_ERROR_NOMATCH) break;
        if (r < 0) return r == PCRE2_ERROR_NOMEMORY ? OCTO_E_NOMEM : OCTO_E_TOO_LARGE;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        size_t ms = ov[0], me = ov[1];
        if (me < ms) return OCTO_E_UNSUPPORTED; /* \K tricks */
        if (ms == me && have_last && last_match_end == me) {
            size_t l = 1;
            if (last_end < n) cp_at((const unsigned char *)s, n, last_end, &l);
            last_end += l;
            continue;
        }
        last_end = me;
        last_match_end = me;
        have_last = true;
        if (prev != ms && (rc = plist_push(&e->segs, (uint32_t)prev, (uint32_t)(ms - prev), -1, 0)))
            return rc;
        if ((rc = plist_push(&e->segs, (uint32_t)ms, (uint32_t)(me - ms), -1, 1))) return rc;
        prev = me;
    }
    if (prev != n) return plist_push(&e->segs, (uint32_t)prev, (uint32_t)(n - prev), -1, 0);
    return OCTO_OK;
}

/* HF's NormalizedString::split behaviours over e->segs (flags already
 * inverted when asked); appends non-empty kept pieces to out. */
static octo_err apply_behavior(enc *e, tok_split_behavior b, uint32_t base, plist *out)
{
    plist *g = &e->segs;
    size_t first = out->n;
    bool prev_match = false;
    octo_err rc;
    if (b == TOK_SPLIT_MERGED_NEXT) { /* fold from the right, merging into the next */
        for (size_t k = g->n; k-- > 0;) {
            piece p = g->v[k];
            if (p.match && !prev_match && out->n > first) {
                piece *last = &out->v[out->n - 1];
                last->len += last->off - (base + p.off);
                last->off = base + p.off;
            } else if ((rc = plist_push(out, base + p.off, p.len, -1, 0))) {
                return rc;
            }
            prev_match = p.match;
        }
        for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
            piece t = out->v[i];
            out->v[i] = out->v[j - 1];
            out->v[j - 1] = t;
        }
    } else {
        for (size_t k = 0; k < g->n; k++) {
            piece p = g->v[k];
            if (b == TOK_SPLIT_REMOVED && p.match) continue;
            bool merge = (b == TOK_SPLIT_MERGED_PREV && p.match && !prev_match) ||
                         (b == TOK_SPLIT_CONTIGUOUS && p.match == prev_match);
            if (merge && out->n > first) {
                piece *last = &out->v[out->n - 1];
                last->len = base + p.off + p.len - last->off;
            } else if ((rc = plist_push(out, base + p.off, p.len, -1, 0))) {
                return rc;
            }
            prev_match = p.match;
        }
    }
    size_t w = first; /* drop empty pieces, as PreTokenizedString::split does */
    for (size_t k = first; k < out->n; k++)
        if (out->v[k].len) out->v[w++] = out->v[k];
    out->n = w;
    return OCTO_OK;
}

static octo_err split_step(enc *e, const tok_step *st, const char *work, plist *in, plist *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        piece p = in->v[i];
        octo_err rc = regex_segments(e, st, work + p.off, p.len);
        if (rc) return rc;
        if (st->invert)
            for (size_t k = 0; k < e->segs.n; k++) e->segs.v[k].match = !e->segs.v[k].match;
        rc = apply_behavior(e, st->kind == TOK_STEP_SPLIT ? st->behavior : TOK_SPLIT_ISOLATED,
                            p.off, out);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* ByteLevel's add_prefix_space: a copy of the pieces with a space before
 * each one that does not start with one. */
static octo_err prefix_spaces(enc *e, const char **work, plist *in)
{
    size_t need = 1;
    for (size_t i = 0; i < in->n; i++) need += in->v[i].len + 1;
    if (need > UINT32_MAX) return OCTO_E_TOO_LARGE;
    char *nw = octo_malloc(need); /* the source may be the old e->work */
    if (!nw) return OCTO_E_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < in->n; i++) {
        piece *p = &in->v[i];
        uint32_t off = (uint32_t)o;
        if ((*work)[p->off] != ' ') nw[o++] = ' ';
        memcpy(nw + o, *work + p->off, p->len);
        o += p->len;
        p->len = (uint32_t)(o - off);
        p->off = off;
    }
    octo_free(e->work);
    e->work = nw;
    *work = nw;
    return OCTO_OK;
}

/* ==== BPE ==== */

static const tok_merge *merge_find(const octo_text_tokenizer *tok, int32_t a, int32_t b)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint64_t x = key;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    for (uint64_t i = x & tok->merge_mask;; i = (i + 1) & tok->merge_mask) {
        const tok_merge *m = &tok->merges[i];
        if (m->key == key) return m;
        if (m->key == TOK_MERGE_EMPTY) return NULL;
    }
}

static bool hless(const hent *a, const hent *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(hent *h, size_t *n, hent v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&v, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static hent heap_pop(hent *h, size_t *n)
{
    hent top = h[0], v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && hless(&h[c + 1], &h[c])) c++;
        if (!hless(&h[c], &v)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

static void pair_push(const octo_text_tokenizer *tok, const sym *sy, int32_t pos, hent *h,
                      size_t *nh)
{
    if (pos < 0 || sy[pos].next < 0 || !tok->merges) return;
    const tok_merge *m = merge_find(tok, sy[pos].id, sy[sy[pos].next].id);
    if (m) heap_push(h, nh, (hent){.rank = m->rank, .pos = pos, .id = m->id});
}

/* Initial symbols: one per byte (its byte-level char); bytes without a
 * symbol become unk (fused if asked) or vanish, as HF's merge_word. */
static size_t bpe_symbols(const octo_text_tokenizer *tok, const unsigned char *s, size_t n,
                          sym *sy)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = tok->byte_id[s[i]];
        if (id < 0) {
            if (tok->unk_id < 0) continue;
            if (tok->fuse_unk && k && sy[k - 1].id == tok->unk_id) {
                sy[k - 1].len++;
                continue;
            }
            id = tok->unk_id;
        }
        sy[k] = (sym){.id = id, .prev = (int32_t)k - 1, .next = (int32_t)k + 1, .len = 1};
        k++;
    }
    if (k) sy[k - 1].next = -1;
    return k;
}

static octo_err bpe_merge(enc *e, const unsigned char *s, size_t n)
{
    const octo_text_tokenizer *tok = e->tok;
    if (n > e->cap_syms) {
        size_t cap = n < 256 ? 256 : n;
        sym *ns = octo_malloc(cap * sizeof *ns);
        hent *nh = octo_malloc(3 * cap * sizeof *nh);
        if (!ns || !nh) {
            octo_free(ns);
            octo_free(nh);
            return OCTO_E_NOMEM;
        }
        octo_free(e->syms);
        octo_free(e->heap);
        e->syms = ns;
        e->heap = nh;
        e->cap_syms = cap;
    }
    sym *sy = e->syms;
    hent *h = e->heap;
    size_t k = bpe_symbols(tok, s, n, sy), nh = 0;
    for (size_t i = 0; i + 1 < k; i++) pair_push(tok, sy, (int32_t)i, h, &nh);
    while (nh) {
        hent top = heap_pop(h, &nh);
        sym *a = &sy[top.pos];
        if (!a->len || a->next < 0) continue;
        sym *b = &sy[a->next];
        const tok_merge *m = merge_find(tok, a->id, b->id);
        if (!m || m->id != top.id) continue; /* stale entry */
        a->id = top.id;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) sy[a->next].prev = top.pos;
        pair_push(tok, sy, a->prev, h, &nh);
        pair_push(tok, sy, top.pos, h, &nh);
    }
    for (int32_t i = k ? 0 : -1; i >= 0; i = sy[i].next) {
        octo_err rc = push_id(e, sy[i].id);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* ==== word cache ==== */

static bool cache_get(const octo_text_tokenizer *tok, uint32_t h, const char *s, size_t n,
                      int32_t *ids, size_t *nids)
{
    uint32_t slot = h & (TOK_CACHE_SLOTS - 1);
    pthread_mutex_t *lock = &tok->cache_locks[slot & (TOK_CACHE_LOCKS - 1)];
    tok_cache_slot *c = &tok->cache[slot];
    bool hit = false;
    pthread_mutex_lock(lock);
    if (c->hash == h && c->wlen == n && c->nids && !memcmp(c->word, s, n)) {
        memcpy(ids, c->ids, c->nids * sizeof *ids);
        *nids = c->nids;
        hit = true;
    }
    pthread_mutex_unlock(lock);
    return hit;
}

static void cache_put(const octo_text_tokenizer *tok, uint32_t h, const char *s, size_t n,
                      const int32_t *ids, size_t nids)
{
    uint32_t slot = h & (TOK_CACHE_SLOTS - 1);
    pthread_mutex_t *lock = &tok->cache_locks[slot & (TOK_CACHE_LOCKS - 1)];
    tok_cache_slot *c = &tok->cache[slot];
    pthread_mutex_lock(lock);
    c->hash = h;
    c->wlen = (uint8_t)n;
    c->nids = (uint8_t)nids;
    memcpy(c->word, s, n);
    memcpy(c->ids, ids, nids * sizeof *ids);
    pthread_mutex_unlock(lock);
}

static octo_err ignore_merges_word(enc *e, const unsigned char *s, size_t n, bool *done);

static octo_err bpe_word(enc *e, const char *s, size_t n)
{
    const octo_text_tokenizer *tok = e->tok;
    const unsigned char *u = (const unsigned char *)s;
    if (n == 1 && tok->byte_id[u[0]] >= 0) return push_id(e, tok->byte_id[u[0]]);
    if (tok->ignore_merges) {
        bool done = false;
        octo_err rc = ignore_merges_word(e, u, n, &done);
        if (rc || done) return rc;
    }
    if (n > TOK_CACHE_WORD) return bpe_merge(e, u, n);
    uint32_t h = (uint32_t)tok_hash(s, n);
    int32_t ids[TOK_CACHE_IDS];
    size_t nids;
    if (cache_get(tok, h, s, n, ids, &nids)) {
        for (size_t i = 0; i < nids; i++) {
            octo_err rc = push_id(e, ids[i]);
            if (rc) return rc;
        }
        return OCTO_OK;
    }
    size_t before = e->n;
    octo_err rc = bpe_merge(e, u, n);
    if (!rc && e->n - before <= TOK_CACHE_IDS && e->n > before)
        cache_put(tok, h, s, n, e->ids + before, e->n - before);
    return rc;
}

/* ignore_merges: a word that is itself a vocabulary entry is one id. */
static octo_err ignore_merges_word(enc *e, const unsigned char *s, size_t n, bool *done)
{
    if (n > OCTO_LIMIT_TOKEN_BYTES / 2) return OCTO_OK;
    char buf[OCTO_LIMIT_TOKEN_BYTES];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = e->tok->byte_id[s[i]];
        if (id < 0) return OCTO_OK;
        const char *c = octo_text_tokenizer_token_str(e->tok, id);
        size_t l = strlen(c);
        memcpy(buf + o, c, l);
        o += l;
    }
    int32_t id = tok_vocab_find(e->tok, &e->tok->vocab, buf, o);
    if (id < 0) return OCTO_OK;
    *done = true;
    return push_id(e, id);
}

/* ==== the pipeline ==== */

/* Pre-tokenizes and merges one normalised text piece. */
static octo_err encode_piece(enc *e, const char *s, size_t n)
{
    const octo_text_tokenizer *tok = e->tok;
    octo_err rc;
    plist *in = &e->pa, *out = &e->pb;
    if (!n) return OCTO_OK;
    in->n = 0;
    rc = plist_push(in, 0, (uint32_t)n, -1, 0);
    if (rc) return rc;
    const char *work = s;
    for (int i = 0; i < tok->n_steps; i++) {
        const tok_step *st = &tok->steps[i];
        if (st->kind == TOK_STEP_BYTELEVEL && st->add_prefix_space) {
            rc = prefix_spaces(e, &work, in);
            if (rc) return rc;
        }
        if (!st->re) continue;
        rc = split_step(e, st, work, in, out);
        if (rc) return rc;
        plist *t = in;
        in = out;
        out = t;
    }
    for (size_t i = 0; i < in->n; i++) {
        rc = bpe_word(e, work + in->v[i].off, in->v[i].len);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* Normalises a raw text piece, finds normalised added tokens in it, and
 * encodes what is between them. */
static octo_err encode_text(enc *e, const char *s, size_t n)
{
    const octo_text_tokenizer *tok = e->tok;
    char *norm = NULL;
    size_t nl = n;
    octo_err rc = tok_normalize(tok, s, n, &norm, &nl);
    if (rc) return rc;
    const char *t = norm ? norm : s;
    if (!tok->m_norm.nodes) {
        rc = encode_piece(e, t, nl);
        free(norm);
        return rc;
    }
    e->norm.n = 0;
    rc = find_added(tok, &tok->m_norm, t, nl, 0, &e->norm);
    for (size_t i = 0; !rc && i < e->norm.n; i++) {
        piece p = e->norm.v[i];
        rc = p.added >= 0 ? push_id(e, tok->added[p.added].id) : encode_piece(e, t + p.off, p.len);
    }
    free(norm);
    return rc;
}

static octo_err encode_all(enc *e, const char *text, size_t len)
{
    const octo_text_tokenizer *tok = e->tok;
    if (!len) return OCTO_OK;
    if (!tok->m_raw.nodes) return encode_text(e, text, len);
    e->raw.n = 0;
    octo_err rc = find_added(tok, &tok->m_raw, text, len, 0, &e->raw);
    for (size_t i = 0; !rc && i < e->raw.n; i++) {
        piece p = e->raw.v[i];
        rc = p.added >= 0 ? push_id(e, tok->added[p.added].id)
             : encode_text(e, text + p.off, p.len);
    }
    return rc;
}

static void enc_deinit(enc *e)
{
    octo_free(e->raw.v);
    octo_free(e->norm.v);
    octo_free(e->pa.v);
    octo_free(e->pb.v);
    octo_free(e->segs.v);
    octo_free(e->syms);
    octo_free(e->heap);
    octo_free(e->work);
    pcre2_match_data_free(e->md);
}

octo_err octo_text_tokenizer_encode(const octo_text_tokenizer *tok, const char *text, size_t len,
                                    bool add_special, int32_t **ids, size_t *n,
                                    size_t *bad_offset)
{
    *ids = NULL;
    *n = 0;
    if (!text && len) return OCTO_E_INVALID;
    size_t bad = 0;
    if (len && !octo_utf8_valid(text, len, &bad)) {
        if (bad_offset) *bad_offset = bad;
        return OCTO_E_PARSE;
    }
    if (len > UINT32_MAX / 2) return OCTO_E_TOO_LARGE;
    enc e = {.tok = tok};
    octo_err rc = OCTO_OK;
    e.md = pcre2_match_data_create(1, NULL);
    if (!e.md) { rc = OCTO_E_NOMEM; goto done; }
    if (add_special && tok->has_post) {
        for (size_t i = 0; !rc && i < tok->n_post; i++)
            rc = tok->post[i] < 0 ? encode_all(&e, text, len) : push_id(&e, tok->post[i]);
    } else {
        rc = encode_all(&e, text, len);
    }
done:
    if (!rc && e.n > OCTO_LIMIT_PROMPT_TOKENS) rc = OCTO_E_TOO_LARGE;
    if (rc) {
        octo_free(e.ids);
        e.ids = NULL;
        e.n = 0;
    }
    *ids = e.ids;
    *n = e.n;
    e.ids = NULL;
    enc_deinit(&e);
    return rc;
}
