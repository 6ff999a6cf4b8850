/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_jsonc — libFuzzer target for constrained JSON decoding. Input:
 * one flag byte (bit 0: object_only, bit 1: no schema), a JSON schema up to
 * the first NUL, then bytes to feed. On a tiny vocabulary (the 256
 * single-byte tokens and a stop token) it checks, at every step, that the
 * mask allows the next byte's token exactly when feeding that byte
 * succeeds, that the stop token is allowed exactly when the value is
 * complete, and that a complete text parses as JSON (jansson; its
 * number-range and lone-surrogate refusals aside, which JSON allows).
 */
#include "base/base.h"
#include "jsonc/jsonc.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STOP 256

static octo_text_tokenizer *g_tok;
static octo_text_jsonc_vocab *g_voc;

static void load_once(void)
{
    if (g_voc) return;
    static char bytes[256][3];
    const char *tokens[257];
    int32_t types[257];
    for (int b = 0; b < 256; b++) {
        octo_text_byte_symbol((unsigned char)b, bytes[b]);
        tokens[b] = bytes[b];
        types[b] = OCTO_TEXT_TOKEN_NORMAL;
    }
    tokens[STOP] = "<|stop|>";
    types[STOP] = OCTO_TEXT_TOKEN_CONTROL;
    octo_text_tokenizer_vocab v = {.n_tokens = 257, .tokens = tokens, .token_types = types,
                                   .pre = "qwen2", .bos_id = -1, .eos_id = STOP};
    char err[256];
    g_tok = octo_text_tokenizer_new_from_vocab(&v, err, sizeof err);
    int32_t stop = STOP;
    g_voc = g_tok ? octo_text_jsonc_vocab_new(g_tok, &stop, 1, err, sizeof err) : NULL;
    if (!g_voc) {
        fprintf(stderr, "fuzz_jsonc: %s\n", err);
        abort();
    }
}

static bool allowed(const uint32_t *bits, int id)
{
    return (bits[id >> 5] >> (id & 31)) & 1u;
}

static void check_json(const char *text, size_t n)
{
    json_error_t je;
    json_t *v = json_loadb(text, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v) {
        json_decref(v);
        return;
    }
    if (strstr(je.text, "overflow") || strstr(je.text, "too big") || strstr(je.text, "Unicode"))
        return;
    fprintf(stderr, "complete but not JSON (%s): %.*s\n", je.text, (int)n, text);
    abort();
}

static void run(octo_text_jsonc *jc, const uint8_t *in, size_t n)
{
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    if (!m) return;
    size_t fed = 0;
    for (size_t i = 0; i < n && i < 256; i++) {
        const uint32_t *bits;
        if (octo_text_jsonc_mask_bits(m, &bits, NULL)) abort();
        bool complete = octo_text_jsonc_complete(m);
        if (allowed(bits, STOP) != complete) abort();
        bool ok_mask = allowed(bits, in[i]);
        bool ok_feed = octo_text_jsonc_accept(m, in[i]) == OCTO_OK;
        if (ok_mask != ok_feed) abort();
        if (!ok_feed) break;
        fed++;
    }
    if (octo_text_jsonc_complete(m)) {
        check_json((const char *)in, fed);
        if (octo_text_jsonc_accept(m, STOP)) abort();
        if (!octo_text_jsonc_finished(m)) abort();
    }
    float logits[300];
    for (int i = 0; i < 300; i++) logits[i] = 0.f;
    (void)octo_text_jsonc_mask(m, logits, 300);
    octo_text_jsonc_matcher_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_once();
    if (size < 1) return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
    size_t slen = nul ? (size_t)(nul - p) : (size_t)(end - p);
    json_t *schema = NULL;
    if (!(flags & 2)) {
        json_error_t je;
        schema = json_loadb((const char *)p, slen, JSON_DECODE_ANY, &je);
        if (!schema) return 0;
    }
    const uint8_t *text = nul ? nul + 1 : end;
    char err[256] = "";
    octo_text_jsonc *jc = octo_text_jsonc_new(g_voc, schema, flags & 1, err, sizeof err);
    if (!jc && !err[0]) abort();
    if (jc) run(jc, text, (size_t)(end - text));
    octo_text_jsonc_free(jc);
    json_decref(schema);
    return 0;
}
