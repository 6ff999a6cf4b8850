/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_nomem — every allocation of the formats readers may fail: for each
 * n, the n-th allocation through the front door fails, and the reader must
 * return an error (OCTO_E_NOMEM) or succeed, never crash, and leave no
 * live bytes behind (octo_alloc_live_bytes back to its start value).
 */
#include <stdint.h>

#include "formats/formats.h"
#include "octo_test.h"

static const char st_header[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}";

static size_t st_image(unsigned char *buf)
{
    size_t hl = strlen(st_header), padded = (hl + 7) / 8 * 8;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, st_header, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    memset(buf + 8 + padded, 1, 11);
    return 8 + padded + 11;
}

static size_t put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
    return (size_t)n;
}

static size_t put_str(unsigned char *p, const char *s)
{
    size_t n = put(p, strlen(s), 8);
    memcpy(p + n, s, strlen(s));
    return n + strlen(s);
}

/* GGUF v3: one string, one string array, one u32; one F32 tensor [4]. */
static size_t gguf_image(unsigned char *buf)
{
    size_t n = 0;
    memcpy(buf, "GGUF", 4);
    n = 4;
    n += put(buf + n, 3, 4);
    n += put(buf + n, 1, 8);
    n += put(buf + n, 3, 8);
    n += put_str(buf + n, "general.name");
    n += put(buf + n, OCTO_GGUF_STRING, 4);
    n += put_str(buf + n, "tiny");
    n += put_str(buf + n, "tokenizer.ggml.tokens");
    n += put(buf + n, OCTO_GGUF_ARRAY, 4);
    n += put(buf + n, OCTO_GGUF_STRING, 4);
    n += put(buf + n, 2, 8);
    n += put_str(buf + n, "a");
    n += put_str(buf + n, "bc");
    n += put_str(buf + n, "x.count");
    n += put(buf + n, OCTO_GGUF_UINT32, 4);
    n += put(buf + n, 7, 4);
    n += put_str(buf + n, "w");
    n += put(buf + n, 1, 4);
    n += put(buf + n, 4, 8);
    n += put(buf + n, 0, 4);
    n += put(buf + n, 0, 8);
    while (n % 32) buf[n++] = 0;
    memset(buf + n, 0, 16);
    return n + 16;
}

typedef octo_err (*try_fn)(const unsigned char *buf, size_t n);

static octo_err try_st(const unsigned char *buf, size_t n)
{
    octo_formats_st *st = NULL;
    octo_err rc = octo_formats_st_parse(buf, n, NULL, &st, NULL, 0);
    if (!rc) {
        octo_formats_tensor t;
        rc = octo_formats_st_find(st, "b", &t);
    }
    octo_formats_st_close(st);
    return rc;
}

static octo_err try_gguf(const unsigned char *buf, size_t n)
{
    octo_formats_gguf *g = NULL;
    octo_err rc = octo_formats_gguf_parse(buf, n, NULL, &g, NULL, 0);
    if (!rc) {
        const char *s;
        rc = octo_formats_gguf_array_string(g, "tokenizer.ggml.tokens", 1, &s, NULL);
        if (!rc && strcmp(s, "bc")) rc = OCTO_E_INTERNAL;
    }
    octo_formats_gguf_close(g);
    return rc;
}

static octo_err try_config(const unsigned char *buf, size_t n)
{
    octo_formats_model_config *c = NULL;
    octo_err rc = octo_formats_model_config_parse((const char *)buf, n, NULL, &c, NULL, 0);
    octo_formats_model_config_free(c);
    return rc;
}

static void sweep(try_fn f, const unsigned char *buf, size_t n)
{
    size_t base = octo_alloc_live_bytes();
    CHECK_EQ_INT(f(buf, n), OCTO_OK);
    int failures = 0;
    for (long k = 1; k < 200; k++) {
        octo_alloc_fail_after(k);
        octo_err rc = f(buf, n);
        octo_alloc_fail_after(0);
        CHECK_EQ_INT(octo_alloc_live_bytes(), base);
        if (rc == OCTO_OK) break;
        CHECK_EQ_INT(rc, OCTO_E_NOMEM);
        failures++;
    }
    CHECK(failures > 0);
}

static void test_st_nomem(void)
{
    unsigned char buf[512];
    sweep(try_st, buf, st_image(buf));
}

static void test_gguf_nomem(void)
{
    unsigned char buf[512];
    sweep(try_gguf, buf, gguf_image(buf));
}

static void test_config_nomem(void)
{
    static const char js[] =
        "{\"architectures\":[\"Qwen3MoeForCausalLM\"],\"model_type\":\"qwen3_moe\","
        "\"mlp_only_layers\":[1,2],\"head_dim\":64,\"quantization_config\":{\"quant_method\":"
        "\"fp8\",\"modules_to_not_convert\":[\"lm_head\",\"x\"]}}";
    sweep(try_config, (const unsigned char *)js, strlen(js));
}

TEST_MAIN(TEST(test_st_nomem), TEST(test_gguf_nomem), TEST(test_config_nomem))
