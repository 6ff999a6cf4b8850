/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tokenizer — libFuzzer target for the byte-level BPE tokenizer.
 * The first input byte picks what the rest is:
 *   0..159   text encoded with the real Qwen vocabulary (loaded once from
 *            $OCTO_TEST_DATA/qwen/qwen3/tokenizer.json, default
 *            tests/data/...): invalid UTF-8 must be refused at the
 *            offset octo_utf8_valid reports; valid text must encode, decode
 *            to valid UTF-8 (ASCII text round-trips exactly), and stream to
 *            the same text one id at a time;
 *   160..223 pairs of bytes read as ids, decoded and streamed;
 *   224..255 a whole tokenizer.json, parsed (and used if it loads).
 */
#include "base/base.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static octo_text_tokenizer *g_tok;

static void load_once(void)
{
    static int tried;
    if (tried) return;
    tried = 1;
    const char *shared = getenv("OCTO_TEST_DATA");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/qwen/qwen3/tokenizer.json",
             shared ? shared : OCTO_TEST_DATA_DIR);
    g_tok = octo_text_tokenizer_load(path, err, sizeof err);
    if (!g_tok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
        abort();
    }
}

static void check_stream(const octo_text_tokenizer *tok, const int32_t *ids, size_t n,
                         bool skip, const octo_buf *whole)
{
    octo_text_detok *d = octo_text_detok_new(tok, skip);
    octo_buf s;
    octo_buf_init(&s, SIZE_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        size_t before = s.len;
        if (octo_text_detok_push(d, ids[i], &s)) abort();
        if (s.len > before && !octo_utf8_valid(s.data + before, s.len - before, NULL)) abort();
    }
    if (octo_text_detok_flush(d, &s)) abort();
    if (s.len != whole->len || (s.len && memcmp(s.data, whole->data, s.len))) abort();
    octo_buf_deinit(&s);
    octo_text_detok_free(d);
}

static void fuzz_encode(const char *text, size_t n, bool special)
{
    int32_t *ids = NULL;
    size_t k = 0, bad = 0, want_bad = 0;
    octo_err rc = octo_text_tokenizer_encode(g_tok, text, n, special, &ids, &k, &bad);
    if (!octo_utf8_valid(text, n, &want_bad)) {
        if (rc != OCTO_E_PARSE || bad != want_bad || ids) abort();
        return;
    }
    if (rc) abort();
    octo_buf b;
    octo_buf_init(&b, SIZE_MAX - 1);
    if (octo_text_tokenizer_decode(g_tok, ids, k, false, &b)) abort();
    if (!octo_utf8_valid(b.data, b.len, NULL)) abort();
    bool ascii = true;
    for (size_t i = 0; i < n; i++) ascii &= (unsigned char)text[i] < 0x80;
    if (ascii && (b.len != n || (n && memcmp(b.data, text, n)))) abort();
    check_stream(g_tok, ids, k, false, &b);
    octo_buf_deinit(&b);
    octo_free(ids);
}

static void fuzz_decode(const uint8_t *p, size_t n)
{
    size_t k = n / 2;
    int32_t *ids = malloc((k + 1) * sizeof *ids);
    for (size_t i = 0; i < k; i++) {
        uint32_t v = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
        ids[i] = (int32_t)(v * 3u); /* spread over the vocabulary and past it */
    }
    for (int skip = 0; skip < 2; skip++) {
        octo_buf b;
        octo_buf_init(&b, SIZE_MAX - 1);
        if (octo_text_tokenizer_decode(g_tok, ids, k, skip, &b)) abort();
        if (!octo_utf8_valid(b.data, b.len, NULL)) abort();
        check_stream(g_tok, ids, k, skip, &b);
        octo_buf_deinit(&b);
    }
    free(ids);
}

static void fuzz_json(const char *p, size_t n)
{
    char err[256];
    octo_text_tokenizer *tok = octo_text_tokenizer_load_json(p, n, err, sizeof err);
    if (!tok) return;
    static const char text[] = "Hello wörld <s> 12345 你好 <|im_end|>\n\t x";
    int32_t *ids;
    size_t k;
    if (octo_text_tokenizer_encode(tok, text, sizeof text - 1, true, &ids, &k, NULL) == OCTO_OK) {
        octo_buf b;
        octo_buf_init(&b, SIZE_MAX - 1);
        if (octo_text_tokenizer_decode(tok, ids, k, false, &b)) abort();
        octo_buf_deinit(&b);
        octo_free(ids);
    }
    octo_text_tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (mode < 160) {
        load_once();
        fuzz_encode((const char *)p, n, mode & 1);
    } else if (mode < 224) {
        load_once();
        fuzz_decode(p, n);
    } else {
        fuzz_json((const char *)p, n);
    }
    return 0;
}
