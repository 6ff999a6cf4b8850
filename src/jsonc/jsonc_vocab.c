/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc_vocab — the per-tokenizer half of constrained decoding: every
 * token's raw bytes (undoing the GPT-2 byte-to-unicode mapping of
 * byte-level BPE) and a byte trie over them, laid out in preorder so that
 * the mask walk is one forward pass that skips whole subtrees.
 *
 * Built once per model and shared, read-only, by every schema and matcher.
 * Added tokens (special or not) never take part in JSON text; only the
 * given stop ids may be produced, once the value is complete.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonc/jsonc_int.h"

static octo_err vfail(char *err, size_t n, octo_err rc, const char *msg)
{
    if (err && n) {
        size_t k = octo_strlcpy(err, octo_err_str(rc), n);
        if (k < n) octo_strlcpy(err + k, msg, n - k);
    }
    return rc;
}

/* GPT-2 bytes_to_unicode, inverted: code point -> byte, -1 when none. */
static void byte_level_table(int16_t inv[324])
{
    for (int i = 0; i < 324; i++) inv[i] = -1;
    int next = 256;
    for (int byte = 0; byte < 256; byte++) {
        bool direct = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) ||
                      (byte >= 174 && byte <= 255);
        inv[direct ? byte : next++] = (int16_t)byte;
    }
}

/* Decodes a byte-level token string into raw bytes; returns the length or
 * -1 when the string is not byte-level. */
static long unmap(const int16_t inv[324], const char *s, uint8_t *out)
{
    const uint8_t *p = (const uint8_t *)s;
    long n = 0;
    while (*p) {
        uint32_t cp;
        if (p[0] < 0x80) {
            cp = p[0];
            p += 1;
        } else if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
            p += 2;
        } else {
            return -1; /* byte-level symbols are all below U+0800 */
        }
        if (cp >= 324 || inv[cp] < 0) return -1;
        out[n++] = (uint8_t)inv[cp];
    }
    return n;
}

/* Whole JSON string content: well-formed UTF-8 without '"', '\\' or a
 * control byte, so it leads from the content state back to it. */
static bool string_content(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == '"' || p[i] == '\\') return false;
    return octo_utf8_valid((const char *)p, n, NULL);
}

typedef struct sort_ent {
    const uint8_t *p;
    uint32_t n;
    int32_t id;
} sort_ent;

static int cmp_ent(const void *x, const void *y)
{
    const sort_ent *a = x, *b = y;
    uint32_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->p, b->p, n);
    if (c) return c;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static octo_err collect_bytes(octo_text_jsonc_vocab *v, const octo_text_tokenizer *tok)
{
    int16_t inv[324];
    byte_level_table(inv);
    size_t cap = 1 << 20, len = 0;
    v->bytes = octo_malloc(cap);
    uint8_t *tmp = octo_malloc(OCTO_LIMIT_TOKEN_BYTES + 1);
    if (!v->bytes || !tmp) {
        octo_free(tmp);
        return OCTO_E_NOMEM;
    }
    for (size_t id = 0; id < v->n_ids; id++) {
        v->byte_off[id] = (uint32_t)len;
        const char *s = octo_text_tokenizer_token_str(tok, (int32_t)id);
        if (!s || octo_text_tokenizer_is_added(tok, (int32_t)id)) continue;
        if (strlen(s) > OCTO_LIMIT_TOKEN_BYTES) continue;
        long n = unmap(inv, s, tmp);
        if (n <= 0) continue;
        if (len + (size_t)n > cap) {
            uint8_t *p = octo_realloc(v->bytes, cap * 2);
            if (!p) {
                octo_free(tmp);
                return OCTO_E_NOMEM;
            }
            v->bytes = p;
            cap *= 2;
        }
        memcpy(v->bytes + len, tmp, (size_t)n);
        len += (size_t)n;
        if ((uint32_t)n > v->max_len) v->max_len = (uint32_t)n;
    }
    v->byte_off[v->n_ids] = (uint32_t)len;
    octo_free(tmp);
    return OCTO_OK;
}

/* Preorder trie from the tokens sorted by bytes: each token adds the nodes
 * past its common prefix with the previous one. */
static octo_err build_trie(const octo_text_jsonc_vocab *v, jc_trie *t, const sort_ent *ents,
                           size_t n)
{
    size_t cap = 1024;
    t->nodes = octo_malloc(cap * sizeof *t->nodes);
    t->sorted_ids = octo_malloc((n ? n : 1) * sizeof *t->sorted_ids);
    uint32_t *path = octo_malloc((v->max_len + 1) * sizeof *path);
    octo_err rc = OCTO_E_NOMEM;
    if (!t->nodes || !t->sorted_ids || !path) goto fail;
    uint32_t depth = 0; /* nodes open on the path */
    for (size_t i = 0; i < n; i++) {
        const sort_ent *e = &ents[i];
        uint32_t l = 0;
        if (i > 0) {
            const sort_ent *p = &ents[i - 1];
            while (l < e->n && l < p->n && p->p[l] == e->p[l]) l++;
        }
        while (depth > l) t->nodes[path[--depth]].skip = t->n_nodes;
        for (uint32_t d = l; d < e->n; d++) {
            if (t->n_nodes == cap) {
                jc_tnode *q = octo_realloc(t->nodes, cap * 2 * sizeof *q);
                if (!q) goto fail;
                t->nodes = q;
                cap *= 2;
            }
            t->nodes[t->n_nodes] =
                (jc_tnode){.byte = e->p[d], .depth = (uint16_t)(d + 1), .ts = (uint32_t)i};
            path[depth++] = t->n_nodes++;
        }
        jc_tnode *end = &t->nodes[path[e->n - 1]];
        if (end->tc == 0) end->ts = (uint32_t)i;
        end->tc++;
        t->sorted_ids[i] = e->id;
    }
    while (depth > 0) t->nodes[path[--depth]].skip = t->n_nodes;
    rc = OCTO_OK;
fail:
    octo_free(path);
    return rc;
}

octo_text_jsonc_vocab *octo_text_jsonc_vocab_new(const octo_text_tokenizer *tok,
                                                 const int32_t *stop_ids, size_t n_stop,
                                                 char *err, size_t err_size)
{
    if (err && err_size) err[0] = 0;
    if (!tok || (n_stop && !stop_ids)) {
        vfail(err, err_size, OCTO_E_INVALID, ": no tokenizer or stop ids");
        return NULL;
    }
    octo_text_jsonc_vocab *v = octo_calloc(1, sizeof *v);
    sort_ent *ents = NULL;
    octo_err rc = OCTO_E_NOMEM;
    if (!v) goto fail;
    v->n_ids = octo_text_tokenizer_vocab_size(tok);
    v->byte_off = octo_calloc(v->n_ids + 1, sizeof *v->byte_off);
    v->stop_ids = octo_malloc((n_stop ? n_stop : 1) * sizeof *v->stop_ids);
    if (!v->byte_off || !v->stop_ids) goto fail;
    for (size_t i = 0; i < n_stop; i++) {
        if (stop_ids[i] < 0 || (size_t)stop_ids[i] >= v->n_ids) {
            vfail(err, err_size, OCTO_E_INVALID, ": stop id out of range");
            rc = OCTO_E_INVALID;
            goto fail;
        }
        v->stop_ids[i] = stop_ids[i];
    }
    v->n_stop = n_stop;
    if ((rc = collect_bytes(v, tok))) goto fail;
    size_t n = 0;
    ents = octo_malloc((v->n_ids ? v->n_ids : 1) * sizeof *ents);
    rc = OCTO_E_NOMEM;
    if (!ents) goto fail;
    for (size_t id = 0; id < v->n_ids; id++) {
        uint32_t len = v->byte_off[id + 1] - v->byte_off[id];
        if (len) ents[n++] = (sort_ent){v->bytes + v->byte_off[id], len, (int32_t)id};
    }
    qsort(ents, n, sizeof *ents, cmp_ent);
    if ((rc = build_trie(v, &v->full, ents, n))) goto fail;
    v->plain = octo_calloc((v->n_ids + 31) / 32 + 1, sizeof *v->plain);
    rc = OCTO_E_NOMEM;
    if (!v->plain) goto fail;
    size_t n_rest = 0;
    for (size_t i = 0; i < n; i++) {
        if (!string_content(ents[i].p, ents[i].n)) ents[n_rest++] = ents[i];
        else v->plain[ents[i].id >> 5] |= 1u << (ents[i].id & 31);
    }
    if ((rc = build_trie(v, &v->rest, ents, n_rest))) goto fail;
    octo_free(ents);
    return v;
fail:
    if (rc == OCTO_E_NOMEM) vfail(err, err_size, rc, ": token trie");
    octo_free(ents);
    octo_text_jsonc_vocab_free(v);
    return NULL;
}

void octo_text_jsonc_vocab_free(octo_text_jsonc_vocab *v)
{
    if (!v) return;
    octo_free(v->byte_off);
    octo_free(v->bytes);
    octo_free(v->full.nodes);
    octo_free(v->full.sorted_ids);
    octo_free(v->rest.nodes);
    octo_free(v->rest.sorted_ids);
    octo_free(v->plain);
    octo_free(v->stop_ids);
    octo_free(v);
}
