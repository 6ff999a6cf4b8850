/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer — the tables of the byte-level BPE tokenizer and their
 * construction: the id -> string table, the vocabulary and added-token
 * maps, the merge table, the byte-level symbol ids, each id's decoded
 * bytes, the added-token tries and the word cache; plus the constructor
 * from in-memory arrays (a GGUF vocabulary) and the small lookups.
 *
 * It does not read files (tokenizer_json.c does) nor encode or decode
 * text (tokenizer_encode.c, tokenizer_decode.c).
 */
#include "tokenizer/tokenizer_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Qwen2 split regex (as Qwen's tokenizer.json), the Llama-3 one and the
 * GPT-2 one that ByteLevel uses when use_regex is true. */
static const char QWEN2_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

octo_err tok_fail(char *err, size_t err_size, octo_err rc, const char *fmt, ...)
{
    if (!err || !err_size) return rc;
    int k = snprintf(err, err_size, "%s: ", octo_err_str(rc));
    if (k < 0 || (size_t)k >= err_size) return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, err_size - (size_t)k, fmt, ap);
    va_end(ap);
    return rc;
}

uint64_t tok_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* ==== the id table ==== */

octo_text_tokenizer *tok_alloc(void)
{
    octo_text_tokenizer *tok = octo_calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->unk_id = -1;
    for (int i = 0; i < 256; i++) tok->byte_id[i] = -1;
    return tok;
}

octo_err tok_reserve_ids(octo_text_tokenizer *tok, size_t n_ids, char *err, size_t err_size)
{
    if (tok->str_off) return tok_fail(err, err_size, OCTO_E_INTERNAL, "ids reserved twice");
    if (n_ids == 0) return tok_fail(err, err_size, OCTO_E_PARSE, "empty vocabulary");
    if (n_ids > OCTO_LIMIT_VOCAB_TOKENS)
        return tok_fail(err, err_size, OCTO_E_TOO_LARGE, "vocabulary of %zu ids exceeds %u",
                        n_ids, OCTO_LIMIT_VOCAB_TOKENS);
    tok->str_off = octo_calloc(n_ids, sizeof *tok->str_off);
    tok->str_len = octo_calloc(n_ids, sizeof *tok->str_len);
    tok->flags = octo_calloc(n_ids, 1);
    if (!tok->str_off || !tok->str_len || !tok->flags)
        return tok_fail(err, err_size, OCTO_E_NOMEM, "id table");
    tok->n_ids = (uint32_t)n_ids;
    return OCTO_OK;
}

octo_err tok_set_string(octo_text_tokenizer *tok, int32_t id, const char *s, size_t len,
                        uint8_t flags, char *err, size_t err_size)
{
    if (id < 0 || (uint32_t)id >= tok->n_ids)
        return tok_fail(err, err_size, OCTO_E_PARSE, "token id %ld out of range", (long)id);
    if (tok->flags[id] & TOKF_PRESENT)
        return tok_fail(err, err_size, OCTO_E_PARSE, "id %ld given twice", (long)id);
    if (len > OCTO_LIMIT_TOKEN_BYTES)
        return tok_fail(err, err_size, OCTO_E_TOO_LARGE, "token %ld is %zu bytes long (max %u)",
                        (long)id, len, OCTO_LIMIT_TOKEN_BYTES);
    size_t bad;
    if (!octo_utf8_valid(s, len, &bad))
        return tok_fail(err, err_size, OCTO_E_PARSE, "token %ld is not UTF-8 (byte %zu)",
                        (long)id, bad);
    if (tok->blob_len + len + 1 > tok->blob_cap) {
        size_t cap = tok->blob_cap ? tok->blob_cap * 2 : 1u << 20;
        while (cap < tok->blob_len + len + 1) cap *= 2;
        if (cap > UINT32_MAX) return tok_fail(err, err_size, OCTO_E_TOO_LARGE, "strings");
        char *nb = octo_realloc(tok->str_blob, cap);
        if (!nb) return tok_fail(err, err_size, OCTO_E_NOMEM, "string table");
        tok->str_blob = nb;
        tok->blob_cap = cap;
    }
    memcpy(tok->str_blob + tok->blob_len, s, len);
    tok->str_blob[tok->blob_len + len] = '\0';
    tok->str_off[id] = (uint32_t)tok->blob_len;
    tok->str_len[id] = (uint32_t)len;
    tok->blob_len += len + 1;
    tok->flags[id] = (uint8_t)(flags | TOKF_PRESENT);
    return OCTO_OK;
}

static const char *str_of(const octo_text_tokenizer *tok, uint32_t id)
{
    return tok->str_blob + tok->str_off[id];
}

/* ==== string maps ==== */

int32_t tok_vocab_find(const octo_text_tokenizer *tok, const tok_strmap *m, const char *s,
                       size_t len)
{
    if (!m->slots) return -1;
    uint32_t i = (uint32_t)tok_hash(s, len) & m->mask;
    for (;;) {
        uint32_t v = m->slots[i];
        if (!v) return -1;
        uint32_t id = v - 1;
        if (tok->str_len[id] == len && memcmp(str_of(tok, id), s, len) == 0) return (int32_t)id;
        i = (i + 1) & m->mask;
    }
}

static octo_err map_build(octo_text_tokenizer *tok, tok_strmap *m, uint8_t flag, char *err,
                          size_t err_size, size_t *count)
{
    size_t n = 0;
    for (uint32_t id = 0; id < tok->n_ids; id++) n += (tok->flags[id] & flag) != 0;
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    m->slots = octo_calloc(cap, sizeof *m->slots);
    if (!m->slots) return tok_fail(err, err_size, OCTO_E_NOMEM, "vocabulary map");
    m->mask = (uint32_t)(cap - 1);
    for (uint32_t id = 0; id < tok->n_ids; id++) {
        if (!(tok->flags[id] & flag)) continue;
        const char *s = str_of(tok, id);
        size_t len = tok->str_len[id];
        uint32_t i = (uint32_t)tok_hash(s, len) & m->mask;
        while (m->slots[i]) {
            uint32_t o = m->slots[i] - 1;
            if (tok->str_len[o] == len && memcmp(str_of(tok, o), s, len) == 0)
                return tok_fail(err, err_size, OCTO_E_PARSE,
                                "token \"%.64s\" has two ids (%lu and %lu)", s, (unsigned long)o,
                                (unsigned long)id);
            i = (i + 1) & m->mask;
        }
        m->slots[i] = id + 1;
    }
    if (count) *count = n;
    return OCTO_OK;
}

octo_err tok_build_vocab(octo_text_tokenizer *tok, char *err, size_t err_size)
{
    return map_build(tok, &tok->vocab, TOKF_MODEL, err, err_size, &tok->n_model);
}

/* ==== merges ==== */

static tok_merge *merge_slot(const octo_text_tokenizer *tok, uint64_t key)
{
    uint64_t i = mix64(key) & tok->merge_mask;
    for (;;) {
        tok_merge *m = &tok->merges[i];
        if (m->key == key || m->key == TOK_MERGE_EMPTY) return m;
        i = (i + 1) & tok->merge_mask;
    }
}

octo_err tok_add_merge(octo_text_tokenizer *tok, const char *l, size_t ll, const char *r,
                       size_t rl, uint32_t rank, size_t n_total, char *err, size_t err_size)
{
    if (!tok->merges) {
        if (n_total > OCTO_LIMIT_VOCAB_TOKENS)
            return tok_fail(err, err_size, OCTO_E_TOO_LARGE, "%zu merges (max %u)", n_total,
                            OCTO_LIMIT_VOCAB_TOKENS);
        size_t cap = 16;
        while (cap < 2 * n_total + 2) cap *= 2;
        tok->merges = octo_malloc(cap * sizeof *tok->merges);
        if (!tok->merges) return tok_fail(err, err_size, OCTO_E_NOMEM, "merge table");
        for (size_t i = 0; i < cap; i++) tok->merges[i].key = TOK_MERGE_EMPTY;
        tok->merge_mask = cap - 1;
    }
    if (tok->n_merges >= n_total)
        return tok_fail(err, err_size, OCTO_E_INTERNAL, "more merges than announced");
    if (ll > OCTO_LIMIT_TOKEN_BYTES || rl > OCTO_LIMIT_TOKEN_BYTES)
        return tok_fail(err, err_size, OCTO_E_TOO_LARGE, "merge %lu: token longer than %u bytes",
                        (unsigned long)rank + 1, OCTO_LIMIT_TOKEN_BYTES);
    int32_t a = tok_vocab_find(tok, &tok->vocab, l, ll);
    int32_t b = tok_vocab_find(tok, &tok->vocab, r, rl);
    if (a < 0 || b < 0) {
        const char *bad = a < 0 ? l : r;
        size_t bl = a < 0 ? ll : rl;
        return tok_fail(err, err_size, OCTO_E_PARSE,
                        "merge %lu: token \"%.*s\" not in vocabulary", (unsigned long)rank + 1,
                        (int)(bl > 64 ? 64 : bl), bad);
    }
    char buf[2 * OCTO_LIMIT_TOKEN_BYTES];
    memcpy(buf, l, ll);
    memcpy(buf + ll, r, rl);
    int32_t c = tok_vocab_find(tok, &tok->vocab, buf, ll + rl);
    if (c < 0)
        return tok_fail(err, err_size, OCTO_E_PARSE,
                        "merge %lu: result \"%.*s\" not in vocabulary", (unsigned long)rank + 1,
                        (int)(ll + rl > 64 ? 64 : ll + rl), buf);
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    tok_merge *m = merge_slot(tok, key);
    m->key = key; /* a repeated pair takes the later rank, as HF's map does */
    m->rank = rank;
    m->id = c;
    tok->n_merges++;
    return OCTO_OK;
}

/* ==== added tokens ==== */

octo_err tok_add_added(octo_text_tokenizer *tok, const tok_added *a, char *err,
                       size_t err_size)
{
    if (tok->n_added == tok->cap_added) {
        size_t cap = tok->cap_added ? tok->cap_added * 2 : 32;
        tok_added *na = octo_realloc(tok->added, cap * sizeof *na);
        if (!na) return tok_fail(err, err_size, OCTO_E_NOMEM, "added tokens");
        tok->added = na;
        tok->cap_added = cap;
    }
    tok->added[tok->n_added++] = *a;
    tok->flags[a->id] |= (uint8_t)(TOKF_ADDED | (a->special ? TOKF_SPECIAL : 0));
    return OCTO_OK;
}

static octo_err trie_node(tok_matcher *m, uint8_t byte, int32_t *idx)
{
    if (m->n_nodes == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 64;
        tok_tnode *nn = octo_realloc(m->nodes, cap * sizeof *nn);
        if (!nn) return OCTO_E_NOMEM;
        m->nodes = nn;
        m->cap = cap;
    }
    m->nodes[m->n_nodes] = (tok_tnode){.child = -1, .sibling = -1, .added = -1, .byte = byte};
    *idx = (int32_t)m->n_nodes++;
    return OCTO_OK;
}

static octo_err trie_insert(tok_matcher *m, const char *s, size_t n, int32_t added)
{
    octo_err rc;
    int32_t cur = 0;
    if (!m->nodes) {
        for (int i = 0; i < 256; i++) m->root[i] = -1;
        rc = trie_node(m, 0, &cur);
        if (rc) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        int32_t k = m->nodes[cur].child;
        while (k >= 0 && m->nodes[k].byte != c) k = m->nodes[k].sibling;
        if (k < 0) {
            rc = trie_node(m, c, &k);
            if (rc) return rc;
            m->nodes[k].sibling = m->nodes[cur].child;
            m->nodes[cur].child = k;
            if (cur == 0) m->root[c] = k;
        }
        cur = k;
    }
    if (m->nodes[cur].added < 0) m->nodes[cur].added = added;
    return OCTO_OK;
}

static octo_err build_matchers(octo_text_tokenizer *tok, char *err, size_t err_size)
{
    for (size_t i = 0; i < tok->n_added; i++) {
        const tok_added *a = &tok->added[i];
        const char *s = str_of(tok, (uint32_t)a->id);
        size_t n = tok->str_len[a->id];
        octo_err rc;
        if (!a->normalized) {
            rc = trie_insert(&tok->m_raw, s, n, (int32_t)i);
        } else {
            char *norm = NULL;
            size_t nl = 0;
            rc = tok_normalize(tok, s, n, &norm, &nl);
            if (!rc) rc = trie_insert(&tok->m_norm, norm ? norm : s, norm ? nl : n, (int32_t)i);
            free(norm);
        }
        if (rc) return tok_fail(err, err_size, rc, "added-token matcher");
    }
    return OCTO_OK;
}

/* ==== byte level ==== */

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
 * others take code points 256, 257, ... in byte order. */
static uint32_t byte_char(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) n++;
    return 256 + n;
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2; /* byte-level code points are all below 0x800 */
}

static uint32_t utf8_get(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    if (c < 0x80 || n < 2) { *len = 1; return c; }
    if ((c & 0xe0) == 0xc0) { *len = 2; return (c & 0x1fu) << 6 | (s[1] & 0x3fu); }
    if ((c & 0xf0) == 0xe0 && n >= 3) {
        *len = 3;
        return (c & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
    }
    if (n >= 4) {
        *len = 4;
        return (c & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
    }
    *len = 1;
    return c;
}

/* Decoded bytes of each id, as HF's ByteLevel decoder: when every char of
 * the string is a byte-level char, the bytes they stand for; otherwise the
 * string's own bytes (added tokens such as "\n\n"). */
static octo_err build_decoded(octo_text_tokenizer *tok, char *err, size_t err_size)
{
    int16_t inv[324];
    for (int i = 0; i < 324; i++) inv[i] = -1;
    for (unsigned b = 0; b < 256; b++) inv[byte_char(b)] = (int16_t)b;
    tok->dec_off = octo_calloc(tok->n_ids, sizeof *tok->dec_off);
    tok->dec_len = octo_calloc(tok->n_ids, sizeof *tok->dec_len);
    tok->dec_blob = octo_malloc(tok->blob_len + 1);
    if (!tok->dec_off || !tok->dec_len || !tok->dec_blob)
        return tok_fail(err, err_size, OCTO_E_NOMEM, "decode table");
    size_t pos = 0;
    for (uint32_t id = 0; id < tok->n_ids; id++) {
        if (!(tok->flags[id] & TOKF_PRESENT)) continue;
        const unsigned char *s = (const unsigned char *)str_of(tok, id);
        size_t n = tok->str_len[id], i = 0, o = pos;
        while (i < n) {
            size_t l;
            uint32_t cp = utf8_get(s + i, n - i, &l);
            if (cp >= 324 || inv[cp] < 0) break;
            tok->dec_blob[o++] = (char)inv[cp];
            i += l;
        }
        if (i < n) { /* not all byte-level: the raw string */
            memcpy(tok->dec_blob + pos, s, n);
            o = pos + n;
        }
        tok->dec_off[id] = (uint32_t)pos;
        tok->dec_len[id] = (uint32_t)(o - pos);
        pos = o;
    }
    return OCTO_OK;
}

octo_err tok_finish(octo_text_tokenizer *tok, char *err, size_t err_size)
{
    octo_err rc;
    for (unsigned b = 0; b < 256; b++) {
        char s[2];
        size_t n = utf8_put(byte_char(b), s);
        tok->byte_id[b] = tok_vocab_find(tok, &tok->vocab, s, n);
    }
    rc = map_build(tok, &tok->added_map, TOKF_ADDED, err, err_size, NULL);
    if (rc) return rc;
    rc = build_decoded(tok, err, err_size);
    if (rc) return rc;
    rc = build_matchers(tok, err, err_size);
    if (rc) return rc;
    tok->cache = octo_calloc(TOK_CACHE_SLOTS, sizeof *tok->cache);
    pthread_mutex_t *locks = octo_malloc(TOK_CACHE_LOCKS * sizeof *locks);
    if (!tok->cache || !locks) {
        octo_free(locks);
        return tok_fail(err, err_size, OCTO_E_NOMEM, "word cache");
    }
    for (unsigned i = 0; i < TOK_CACHE_LOCKS; i++) pthread_mutex_init(&locks[i], NULL);
    tok->cache_locks = locks;
    return OCTO_OK;
}

/* ==== regexes and presets ==== */

/* Oniguruma's \s (HF's regex engine) is Unicode White_Space; PCRE2's also
 * takes U+180E MONGOLIAN VOWEL SEPARATOR. So \s and \S are spelled out:
 * inside a class \s becomes the list, outside [list] and [^list]. (\S
 * inside a class, and \Q...\E quoting, are left to PCRE2.) */
static const char WS_LIST[] =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

static octo_err onig_spaces(const char *pat, size_t len, octo_buf *out)
{
    bool in_class = false;
    octo_err rc = OCTO_OK;
    for (size_t i = 0; i < len && !rc; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < len) {
            char e = pat[++i];
            if (e == 's' && in_class) {
                rc = octo_buf_puts(out, WS_LIST);
            } else if ((e == 's' || e == 'S') && !in_class) {
                rc = octo_buf_puts(out, e == 's' ? "[" : "[^");
                if (!rc) rc = octo_buf_puts(out, WS_LIST);
                if (!rc) rc = octo_buf_puts(out, "]");
            } else {
                char two[2] = {c, e};
                rc = octo_buf_append(out, two, 2);
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            rc = octo_buf_append(out, &c, 1);
            /* a ']' right after '[' or '[^' is a literal */
            if (!rc && i + 1 < len && pat[i + 1] == '^') rc = octo_buf_append(out, &pat[++i], 1);
            if (!rc && i + 1 < len && pat[i + 1] == ']') rc = octo_buf_append(out, &pat[++i], 1);
            continue;
        }
        if (c == '[' && in_class && i + 1 < len && pat[i + 1] == ':') { /* [:alpha:] */
            const char *end = strstr(pat + i + 2, ":]");
            if (end && (size_t)(end - pat) < len) {
                size_t k = (size_t)(end - pat) + 2 - i;
                rc = octo_buf_append(out, pat + i, k);
                i += k - 1;
                continue;
            }
        }
        if (c == ']' && in_class) in_class = false;
        rc = octo_buf_append(out, &c, 1);
    }
    return rc;
}

octo_err tok_compile_regex(const char *pattern, size_t len, bool literal, pcre2_code **re,
                           bool *jit, char *err, size_t err_size)
{
    int ec;
    PCRE2_SIZE eo;
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    octo_buf pat;
    octo_buf_init(&pat, 4 * len + 4096);
    octo_err rc = literal ? octo_buf_append(&pat, pattern, len) : onig_spaces(pattern, len, &pat);
    if (rc) {
        octo_buf_deinit(&pat);
        return tok_fail(err, err_size, rc, "regex \"%.80s\"", pattern);
    }
    *re = pcre2_compile((PCRE2_SPTR)(pat.data ? pat.data : ""), pat.len, opts, &ec, &eo, NULL);
    octo_buf_deinit(&pat);
    if (!*re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return tok_fail(err, err_size, OCTO_E_PARSE, "regex \"%.80s\": %s", pattern,
                        (const char *)msg);
    }
    *jit = pcre2_jit_compile(*re, PCRE2_JIT_COMPLETE) == 0;
    return OCTO_OK;
}

static octo_err add_step(octo_text_tokenizer *tok, const tok_step *st, char *err, size_t err_size)
{
    if (tok->n_steps == TOK_MAX_STEPS) {
        pcre2_code_free(st->re);
        return tok_fail(err, err_size, OCTO_E_UNSUPPORTED, "more than %d pre-tokenizers",
                        TOK_MAX_STEPS);
    }
    tok->steps[tok->n_steps++] = *st;
    return OCTO_OK;
}

octo_err tok_preset(octo_text_tokenizer *tok, const char *name, char *err, size_t err_size)
{
    const char *re = NULL;
    bool nfc = false, bl_regex = false;
    if (!name || !strcmp(name, "gpt2") || !strcmp(name, "default")) {
        bl_regex = true;
    } else if (!strcmp(name, "qwen2")) {
        re = QWEN2_RE;
        nfc = true;
    } else if (!strcmp(name, "llama-bpe") || !strcmp(name, "llama3")) {
        re = LLAMA3_RE;
    } else {
        return tok_fail(err, err_size, OCTO_E_UNSUPPORTED, "pre-tokenizer \"%.64s\"", name);
    }
    if (nfc) tok->norms[tok->n_norms++] = TOK_NORM_NFC;
    tok_step st = {.kind = TOK_STEP_SPLIT, .behavior = TOK_SPLIT_ISOLATED};
    octo_err rc;
    if (re) {
        rc = tok_compile_regex(re, strlen(re), false, &st.re, &st.jit, err, err_size);
        if (!rc) rc = add_step(tok, &st, err, err_size);
        if (rc) return rc;
    }
    st = (tok_step){.kind = TOK_STEP_BYTELEVEL};
    if (bl_regex) {
        rc = tok_compile_regex(GPT2_RE, strlen(GPT2_RE), false, &st.re, &st.jit, err, err_size);
        if (rc) return rc;
    }
    return add_step(tok, &st, err, err_size);
}

octo_err tok_bytelevel_regex(pcre2_code **re, bool *jit, char *err, size_t err_size)
{
    return tok_compile_regex(GPT2_RE, strlen(GPT2_RE), false, re, jit, err, err_size);
}

/* ==== from in-memory arrays (GGUF) ==== */

static octo_err vocab_strings(octo_text_tokenizer *tok, const octo_text_tokenizer_vocab *v,
                              char *err, size_t err_size)
{
    octo_err rc = tok_reserve_ids(tok, v->n_tokens, err, err_size);
    if (rc) return rc;
    for (size_t i = 0; i < v->n_tokens; i++) {
        int32_t t = v->token_types ? v->token_types[i] : OCTO_TEXT_TOKEN_NORMAL;
        if (!v->tokens[i]) return tok_fail(err, err_size, OCTO_E_PARSE, "token %zu is NULL", i);
        uint8_t fl;
        switch (t) {
        case OCTO_TEXT_TOKEN_NORMAL:
        case OCTO_TEXT_TOKEN_UNKNOWN:
        case OCTO_TEXT_TOKEN_BYTE: fl = TOKF_MODEL; break;
        case OCTO_TEXT_TOKEN_CONTROL:
        case OCTO_TEXT_TOKEN_USER_DEFINED:
        case OCTO_TEXT_TOKEN_UNUSED: fl = 0; break;
        default:
            return tok_fail(err, err_size, OCTO_E_PARSE, "token %zu has unknown type %ld", i,
                            (long)t);
        }
        rc = tok_set_string(tok, (int32_t)i, v->tokens[i], strlen(v->tokens[i]), fl, err,
                            err_size);
        if (rc) return rc;
    }
    return tok_build_vocab(tok, err, err_size);
}

static octo_err vocab_rest(octo_text_tokenizer *tok, const octo_text_tokenizer_vocab *v,
                           char *err, size_t err_size)
{
    octo_err rc;
    for (size_t i = 0; i < v->n_merges; i++) {
        const char *m = v->merges[i];
        const char *sp = m ? strchr(m, ' ') : NULL;
        if (!sp || strchr(sp + 1, ' '))
            return tok_fail(err, err_size, OCTO_E_PARSE,
                            "merge %zu is not two tokens separated by one space", i + 1);
        rc = tok_add_merge(tok, m, (size_t)(sp - m), sp + 1, strlen(sp + 1), (uint32_t)i,
                           v->n_merges, err, err_size);
        if (rc) return rc;
    }
    for (size_t i = 0; v->token_types && i < v->n_tokens; i++) {
        int32_t t = v->token_types[i];
        if (t != OCTO_TEXT_TOKEN_CONTROL && t != OCTO_TEXT_TOKEN_USER_DEFINED) continue;
        if (!v->tokens[i][0]) continue;
        tok_added a = {.id = (int32_t)i, .special = t == OCTO_TEXT_TOKEN_CONTROL};
        rc = tok_add_added(tok, &a, err, err_size);
        if (rc) return rc;
    }
    rc = tok_preset(tok, v->pre, err, err_size);
    if (rc) return rc;
    int32_t pre = v->add_bos ? v->bos_id : -1, post = v->add_eos ? v->eos_id : -1;
    if ((pre >= 0 && (uint32_t)pre >= tok->n_ids) || (post >= 0 && (uint32_t)post >= tok->n_ids))
        return tok_fail(err, err_size, OCTO_E_PARSE, "BOS/EOS id out of range");
    if ((v->add_bos && pre < 0) || (v->add_eos && post < 0))
        return tok_fail(err, err_size, OCTO_E_PARSE, "add_bos/add_eos without an id");
    tok->post = octo_malloc(3 * sizeof *tok->post);
    if (!tok->post) return tok_fail(err, err_size, OCTO_E_NOMEM, "template");
    if (pre >= 0) tok->post[tok->n_post++] = pre;
    tok->post[tok->n_post++] = -1;
    if (post >= 0) tok->post[tok->n_post++] = post;
    tok->has_post = true;
    return tok_finish(tok, err, err_size);
}

octo_text_tokenizer *octo_text_tokenizer_new_from_vocab(const octo_text_tokenizer_vocab *v,
                                                        char *err, size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    if (!v || !v->tokens || (v->n_merges && !v->merges)) {
        tok_fail(err, err_size, OCTO_E_INVALID, "no vocabulary given");
        return NULL;
    }
    octo_text_tokenizer *tok = tok_alloc();
    if (!tok) {
        tok_fail(err, err_size, OCTO_E_NOMEM, "tokenizer");
        return NULL;
    }
    octo_err rc = vocab_strings(tok, v, err, err_size);
    if (!rc) rc = vocab_rest(tok, v, err, err_size);
    if (rc) {
        octo_text_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

/* ==== lifecycle and lookups ==== */

void octo_text_tokenizer_free(octo_text_tokenizer *tok)
{
    if (!tok) return;
    for (int i = 0; i < tok->n_steps; i++) pcre2_code_free(tok->steps[i].re);
    if (tok->cache_locks)
        for (unsigned i = 0; i < TOK_CACHE_LOCKS; i++) pthread_mutex_destroy(&tok->cache_locks[i]);
    octo_free(tok->cache_locks);
    octo_free(tok->cache);
    octo_free(tok->post);
    octo_free(tok->m_raw.nodes);
    octo_free(tok->m_norm.nodes);
    octo_free(tok->added);
    octo_free(tok->merges);
    octo_free(tok->added_map.slots);
    octo_free(tok->vocab.slots);
    octo_free(tok->flags);
    octo_free(tok->dec_blob);
    octo_free(tok->dec_len);
    octo_free(tok->dec_off);
    octo_free(tok->str_blob);
    octo_free(tok->str_len);
    octo_free(tok->str_off);
    octo_free(tok);
}

int32_t octo_text_tokenizer_token_id(const octo_text_tokenizer *tok, const char *token)
{
    size_t n = strlen(token);
    int32_t id = tok_vocab_find(tok, &tok->added_map, token, n);
    return id >= 0 ? id : tok_vocab_find(tok, &tok->vocab, token, n);
}

const char *octo_text_tokenizer_token_str(const octo_text_tokenizer *tok, int32_t id)
{
    if (id < 0 || (uint32_t)id >= tok->n_ids || !(tok->flags[id] & TOKF_PRESENT)) return NULL;
    return str_of(tok, (uint32_t)id);
}

size_t octo_text_tokenizer_vocab_size(const octo_text_tokenizer *tok) { return tok->n_ids; }

bool octo_text_tokenizer_is_special(const octo_text_tokenizer *tok, int32_t id)
{
    return id >= 0 && (uint32_t)id < tok->n_ids && (tok->flags[id] & TOKF_SPECIAL);
}

bool octo_text_tokenizer_is_added(const octo_text_tokenizer *tok, int32_t id)
{
    return id >= 0 && (uint32_t)id < tok->n_ids && (tok->flags[id] & TOKF_ADDED);
}

size_t octo_text_byte_symbol(unsigned char b, char out[3])
{
    size_t n = utf8_put(byte_char(b), out);
    out[n] = '\0';
    return n;
}
