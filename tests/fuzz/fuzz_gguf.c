/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_gguf — libFuzzer target over the GGUF header parser
 * (octo_formats_gguf_parse on a memory image): any input must either be
 * rejected cleanly or yield metadata and tensor views that stay inside the
 * input, with every getter safe to call on every key, and the metadata
 * read as a model config without harm.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch_kv(const octo_formats_gguf *g, const char *key)
{
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t l;
    octo_gguf_type t, et;
    uint64_t n;
    (void)octo_formats_gguf_get_int(g, key, &i);
    (void)octo_formats_gguf_get_float(g, key, &d);
    (void)octo_formats_gguf_get_bool(g, key, &b);
    if (octo_formats_gguf_get_string(g, key, &s, &l) == OCTO_OK) OCTO_ASSERT(s[l] == 0);
    if (octo_formats_gguf_get_array(g, key, &et, &n) != OCTO_OK) return;
    OCTO_ASSERT(octo_formats_gguf_kv_type(g, key, &t, NULL, NULL) == OCTO_OK);
    for (uint64_t k = 0; k < n && k < 64; k++) {
        (void)octo_formats_gguf_array_int(g, key, k, &i);
        (void)octo_formats_gguf_array_float(g, key, k, &d);
        if (octo_formats_gguf_array_string(g, key, k, &s, &l) == OCTO_OK) OCTO_ASSERT(s[l] == 0);
    }
    OCTO_ASSERT(octo_formats_gguf_array_int(g, key, n, &i) != OCTO_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    octo_formats_gguf *g = NULL;
    if (octo_formats_gguf_parse(data, size, "fuzz", &g, err, sizeof err) != OCTO_OK) {
        OCTO_ASSERT(g == NULL && memchr(err, 0, sizeof err) != NULL);
        return 0;
    }
    for (size_t i = 0; i < octo_formats_gguf_kv_count(g); i++)
        touch_kv(g, octo_formats_gguf_kv_key(g, i));
    unsigned sum = 0;
    for (size_t i = 0; i < octo_formats_gguf_tensor_count(g); i++) {
        octo_formats_gguf_tensor t, f;
        OCTO_ASSERT(octo_formats_gguf_tensor_at(g, i, &t) == OCTO_OK);
        OCTO_ASSERT(octo_formats_gguf_tensor_find(g, t.name, &f) == OCTO_OK && f.data == t.data);
        const uint8_t *p = t.data;
        OCTO_ASSERT(!p || (p >= data && p + t.nbytes <= data + size));
        if (p && t.nbytes) sum += p[0] + p[t.nbytes - 1];
    }
    octo_formats_model_config *cfg = NULL;
    if (octo_formats_gguf_model_config(g, &cfg, err, sizeof err) == OCTO_OK)
        OCTO_ASSERT(cfg->text.head_dim > 0 && cfg->text.vocab_size > 0);
    octo_formats_model_config_free(cfg);
    octo_formats_gen_config gen;
    (void)octo_formats_gguf_gen_config(g, &gen, err, sizeof err);
    octo_formats_gguf_close(g);
    return (int)(sum & 0);
}
