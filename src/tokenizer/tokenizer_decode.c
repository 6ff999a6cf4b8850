/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer_decode — ids to text, as Hugging Face `tokenizers` decodes
 * with a ByteLevel decoder: each id's bytes (precomputed by tokenizer.c),
 * unknown ids skipped, special tokens skipped on request, and the byte
 * string turned into text the way Rust's String::from_utf8_lossy does (one
 * U+FFFD per maximal invalid subpart). The streaming detokeniser applies
 * the same rule incrementally, holding back an incomplete character until
 * its last byte arrives.
 *
 * It does not strip spaces or clean up tokenization artefacts: byte-level
 * decoding has none.
 */
#include "tokenizer/tokenizer_int.h"

#include <string.h>

static const char REPLACEMENT[] = "\xef\xbf\xbd";

/* Valid range of the second byte of a sequence led by c, and its length;
 * length 0 for a byte that cannot lead. */
static unsigned lead_info(unsigned c, unsigned *lo, unsigned *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c == 0xe0) { *lo = 0xa0; return 3; }
    if (c >= 0xe1 && c <= 0xef) {
        if (c == 0xed) *hi = 0x9f;
        return 3;
    }
    if (c == 0xf0) { *lo = 0x90; return 4; }
    if (c >= 0xf1 && c <= 0xf3) return 4;
    if (c == 0xf4) { *hi = 0x8f; return 4; }
    return 0;
}

octo_err tok_utf8_lossy(const unsigned char *s, size_t n, bool hold_tail, octo_buf *out,
                        size_t *used)
{
    size_t i = 0, run = 0;
    octo_err rc;
    if (used) *used = 0;
    if (!n) return OCTO_OK;
    while (i < n) {
        unsigned c = s[i], lo, hi;
        if (c < 0x80) { i++; continue; }
        unsigned len = lead_info(c, &lo, &hi);
        size_t j = i + 1;
        bool bad = len == 0;
        for (unsigned k = 1; !bad && k < len; k++, j++) {
            if (j >= n) { /* a valid prefix cut by the end */
                if (hold_tail) {
                    rc = octo_buf_append(out, s + run, i - run);
                    if (used) *used = i;
                    return rc;
                }
                break;
            }
            if (s[j] < (k == 1 ? lo : 0x80) || s[j] > (k == 1 ? hi : 0xbf)) bad = true;
        }
        if (!bad && j - i == len) { i = j; continue; }
        if (bad && len) j--; /* the offending byte starts the next round */
        rc = octo_buf_append(out, s + run, i - run);
        if (!rc) rc = octo_buf_append(out, REPLACEMENT, 3);
        if (rc) return rc;
        i = run = j;
    }
    if (used) *used = n;
    return octo_buf_append(out, s + run, n - run);
}

/* Bytes of id, or NULL when decode skips it. */
static const char *id_bytes(const octo_text_tokenizer *tok, int32_t id, bool skip_special,
                            size_t *len)
{
    if (id < 0 || (uint32_t)id >= tok->n_ids || !(tok->flags[id] & TOKF_PRESENT)) return NULL;
    if (skip_special && (tok->flags[id] & TOKF_SPECIAL)) return NULL;
    *len = tok->dec_len[id];
    return tok->dec_blob + tok->dec_off[id];
}

octo_err octo_text_tokenizer_decode(const octo_text_tokenizer *tok, const int32_t *ids, size_t n,
                                    bool skip_special, octo_buf *out)
{
    octo_buf raw;
    octo_buf_init(&raw, SIZE_MAX - 1);
    octo_err rc = OCTO_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len;
        const char *b = id_bytes(tok, ids[i], skip_special, &len);
        if (b) rc = octo_buf_append(&raw, b, len);
    }
    if (!rc) rc = tok_utf8_lossy((const unsigned char *)raw.data, raw.len, false, out, NULL);
    octo_buf_deinit(&raw);
    return rc;
}

/* ==== streaming ==== */

struct octo_text_detok {
    const octo_text_tokenizer *tok;
    bool skip_special;
    unsigned char pending[4]; /* an incomplete character, at most 3 bytes */
    size_t n_pending;
    unsigned char *scratch;
    size_t cap;
};

octo_text_detok *octo_text_detok_new(const octo_text_tokenizer *tok, bool skip_special)
{
    octo_text_detok *d = octo_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->tok = tok;
    d->skip_special = skip_special;
    return d;
}

void octo_text_detok_free(octo_text_detok *d)
{
    if (!d) return;
    octo_free(d->scratch);
    octo_free(d);
}

octo_err octo_text_detok_push(octo_text_detok *d, int32_t id, octo_buf *out)
{
    size_t len;
    const char *b = id_bytes(d->tok, id, d->skip_special, &len);
    if (!b || !len) return OCTO_OK;
    size_t n = d->n_pending + len;
    if (n > d->cap) {
        unsigned char *ns = octo_malloc(n);
        if (!ns) return OCTO_E_NOMEM;
        octo_free(d->scratch);
        d->scratch = ns;
        d->cap = n;
    }
    memcpy(d->scratch, d->pending, d->n_pending);
    memcpy(d->scratch + d->n_pending, b, len);
    size_t used = 0;
    octo_err rc = tok_utf8_lossy(d->scratch, n, true, out, &used);
    if (rc) return rc;
    OCTO_ASSERT(n - used < sizeof d->pending);
    d->n_pending = n - used;
    memcpy(d->pending, d->scratch + used, d->n_pending);
    return OCTO_OK;
}

octo_err octo_text_detok_flush(octo_text_detok *d, octo_buf *out)
{
    octo_err rc = tok_utf8_lossy(d->pending, d->n_pending, false, out, NULL);
    d->n_pending = 0;
    return rc;
}
