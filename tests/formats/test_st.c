/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_st — unit tests of the safetensors reader on small images built in
 * memory (the byte layout of the public spec), and of the dtype table.
 * The Python tests check the same reader against files written by the
 * official `safetensors` package.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "formats/formats.h"
#include "octo_test.h"

/* Builds "<len><header padded to 8><data>" into buf; returns its size. */
static size_t build(unsigned char *buf, size_t cap, const char *header, const void *data,
                    size_t data_len)
{
    size_t hl = strlen(header);
    size_t padded = (hl + 7) / 8 * 8;
    if (8 + padded + data_len > cap) return 0;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    if (data_len) memcpy(buf + 8 + padded, data, data_len);
    return 8 + padded + data_len;
}

static void test_dtype(void)
{
    CHECK_EQ_INT(octo_dtype_size(OCTO_DTYPE_BF16), 2);
    CHECK_EQ_INT(octo_dtype_size(OCTO_DTYPE_F8_E4M3), 1);
    CHECK_EQ_INT(octo_dtype_size(OCTO_DTYPE_Q4), 0);
    CHECK_EQ_INT(octo_dtype_props_get(OCTO_DTYPE_Q4)->block, 2);
    size_t nb = 0;
    CHECK(octo_dtype_nbytes(OCTO_DTYPE_Q4, 6, &nb) == OCTO_OK);
    CHECK_EQ_INT(nb, 3);
    CHECK(octo_dtype_nbytes(OCTO_DTYPE_Q4, 5, &nb) == OCTO_E_INVALID); /* half a byte */
    CHECK(octo_dtype_nbytes(OCTO_DTYPE_F64, UINT64_MAX / 2, &nb) == OCTO_E_TOO_LARGE);
    /* GGML blocks: Q4_K is 256 elements in 144 bytes (ggml's block_q4_K) */
    CHECK(octo_dtype_nbytes(OCTO_DTYPE_GGML_Q4_K, 4096, &nb) == OCTO_OK);
    CHECK_EQ_INT(nb, 16 * 144);
    CHECK(octo_dtype_nbytes(OCTO_DTYPE_GGML_Q4_K, 100, &nb) == OCTO_E_INVALID);
    CHECK_EQ_INT(octo_dtype_from_ggml(12), OCTO_DTYPE_GGML_Q4_K);
    CHECK_EQ_INT(octo_dtype_from_ggml(30), OCTO_DTYPE_BF16);
    CHECK_EQ_INT(octo_dtype_from_ggml(9), OCTO_DTYPE_INVALID); /* Q8_1: never stored */
    for (int d = 1; d < OCTO_DTYPE_COUNT; d++) {
        const octo_dtype_props *p = octo_dtype_props_get((octo_dtype)d);
        CHECK(p->block > 0 && p->block_bytes > 0);
        CHECK_EQ_INT(octo_dtype_from_name(octo_dtype_name((octo_dtype)d)),
                     p->safetensors ? d : OCTO_DTYPE_INVALID);
        if (p->ggml_type >= 0) CHECK_EQ_INT(octo_dtype_from_ggml((uint32_t)p->ggml_type), d);
    }
    CHECK_EQ_INT(octo_dtype_from_name("f32"), OCTO_DTYPE_INVALID);
    CHECK_EQ_STR(octo_dtype_name((octo_dtype)99), "INVALID");
}

static void test_parse_ok(void)
{
    unsigned char buf[512];
    float a[2] = {1.5f, -2.0f};
    unsigned char data[14];
    memcpy(data, a, 8);
    memset(data + 8, 0x3f, 6);
    size_t n = build(buf, sizeof buf,
                     "{\"b\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[8,14]},"
                     "\"__metadata__\":{\"format\":\"pt\"},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                     data, sizeof data);
    char err[256] = "";
    octo_formats_st *st = NULL;
    CHECK(octo_formats_st_parse(buf, n, "t.safetensors", &st, err, sizeof err) == OCTO_OK);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_EQ_INT(octo_formats_st_count(st), 2);
    octo_formats_tensor t;
    CHECK(octo_formats_st_at(st, 0, &t) == OCTO_OK);
    CHECK_EQ_STR(t.name, "a");
    CHECK(octo_formats_st_find(st, "b", &t) == OCTO_OK);
    CHECK_EQ_INT(t.dtype, OCTO_DTYPE_BF16);
    CHECK_EQ_INT(t.ndim, 2);
    CHECK_EQ_INT(t.shape[1], 3);
    CHECK_EQ_INT(t.nbytes, 6);
    CHECK_EQ_INT(octo_formats_tensor_numel(&t), 3);
    CHECK(octo_formats_st_find(st, "a", &t) == OCTO_OK);
    CHECK(((const float *)t.data)[1] == -2.0f);
    CHECK(octo_formats_st_find(st, "c", &t) == OCTO_E_NOT_FOUND);
    CHECK(octo_formats_st_at(st, 2, &t) == OCTO_E_INVALID);
    CHECK_EQ_STR(octo_formats_st_metadata(st, "format"), "pt");
    char err2[128];
    CHECK(octo_formats_st_get(st, "b", OCTO_DTYPE_BF16, 2, (const int64_t[]){1, 3}, &t, err2,
                              sizeof err2) == OCTO_OK);
    CHECK(octo_formats_st_get(st, "b", OCTO_DTYPE_INVALID, -1, NULL, &t, NULL, 0) == OCTO_OK);
    CHECK(octo_formats_st_get(st, "b", OCTO_DTYPE_BF16, 2, (const int64_t[]){3, 1}, &t, err2,
                              sizeof err2) == OCTO_E_INVALID);
    CHECK_EQ_STR(err2, "tensor 'b': shape [1,3], expected [3,1]");
    CHECK(octo_formats_st_get(st, "b", OCTO_DTYPE_F32, -1, NULL, &t, err2, sizeof err2) ==
          OCTO_E_INVALID);
    CHECK_EQ_STR(err2, "tensor 'b': dtype BF16, expected F32");
    CHECK(octo_formats_st_get(st, "zz", OCTO_DTYPE_F32, -1, NULL, &t, err2, sizeof err2) ==
          OCTO_E_NOT_FOUND);
    CHECK_EQ_STR(err2, "tensor 'zz' not found");
    CHECK(octo_formats_st_metadata(st, "nope") == NULL);
    octo_formats_st_close(st);
    octo_formats_st_close(NULL);
}

static void expect_fail(const char *header, size_t data_len, octo_err want, const char *needle)
{
    unsigned char buf[1024], data[64] = {0};
    size_t n = build(buf, sizeof buf, header, data, data_len);
    char err[256] = "";
    octo_formats_st *st = NULL;
    octo_err rc = octo_formats_st_parse(buf, n, "x.safetensors", &st, err, sizeof err);
    CHECK_EQ_INT(rc, want);
    CHECK(st == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  error '%s' lacks '%s'\n", err, needle);
        CHECK(0);
    }
}

static void test_rejects(void)
{
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8,
                OCTO_E_INVALID, "past end of data (size 8)");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                OCTO_E_INVALID, "needs 12 bytes");
    expect_fail("{\"a\":{\"dtype\":\"Q8\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                OCTO_E_UNSUPPORTED, "unknown dtype 'Q8'");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, OCTO_E_INVALID, "overlap");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                OCTO_E_INVALID, "hole of 4 bytes");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                OCTO_E_INVALID, "4 trailing data bytes");
    expect_fail("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
                6, OCTO_E_INVALID, "not a multiple of 4");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, OCTO_E_PARSE, "duplicate");
    expect_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", 4, OCTO_E_PARSE,
                "header JSON invalid");
    expect_fail("{\"__metadata__\":{\"k\":1}}", 0, OCTO_E_PARSE, "__metadata__ 'k'");
    expect_fail("[1]", 0, OCTO_E_PARSE, "not a JSON object");
    /* truncated images */
    unsigned char tiny[8] = {0xff, 0xff, 0, 0, 0, 0, 0, 0};
    char err[256];
    octo_formats_st *st = NULL;
    CHECK(octo_formats_st_parse(tiny, 4, NULL, &st, err, sizeof err) == OCTO_E_PARSE);
    CHECK(octo_formats_st_parse(tiny, 8, NULL, &st, err, sizeof err) == OCTO_E_PARSE);
    CHECK(strstr(err, "past end of file (size 8)") != NULL);
}

static void test_empty_ok(void)
{
    unsigned char buf[64];
    size_t n = build(buf, sizeof buf, "{}", NULL, 0);
    octo_formats_st *st = NULL;
    CHECK(octo_formats_st_parse(buf, n, NULL, &st, NULL, 0) == OCTO_OK);
    CHECK_EQ_INT(octo_formats_st_count(st), 0);
    octo_formats_st_close(st);
}

/* A 3 GiB tensor in a sparse file: open maps it without copying (no heap
 * growth, instant), and its last byte reads back. */
static void test_mmap_no_copy(void)
{
    char path[] = "/tmp/octo_st_sparse_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const uint64_t nb = 3ull << 30;
    char hdr[160];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"big\":{\"dtype\":\"BF16\",\"shape\":[%llu],\"data_offsets\":[0,%llu]}}",
                      (unsigned long long)(nb / 2), (unsigned long long)nb);
    while ((8 + hl) % 8) hdr[hl++] = ' ';
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    CHECK(write(fd, len8, 8) == 8 && write(fd, hdr, (size_t)hl) == hl);
    CHECK(ftruncate(fd, (off_t)(8 + (uint64_t)hl + nb)) == 0);
    close(fd);
    size_t live = octo_alloc_live_bytes();
    double t0 = octo_now();
    octo_formats_st *st = NULL;
    char err[256] = "";
    CHECK(octo_formats_st_open(path, &st, err, sizeof err) == OCTO_OK);
    if (st) {
        CHECK(octo_now() - t0 < 1.0);
        CHECK(octo_alloc_live_bytes() - live < 64 * 1024);
        CHECK(octo_formats_st_total_bytes(st) == nb);
        octo_formats_tensor t;
        CHECK(octo_formats_st_find(st, "big", &t) == OCTO_OK);
        CHECK(t.nbytes == nb && ((const unsigned char *)t.data)[nb - 1] == 0);
        octo_formats_st_close(st);
    } else {
        fprintf(stderr, "%s\n", err);
    }
    CHECK_EQ_INT(octo_alloc_live_bytes(), live);
    unlink(path);
}

TEST_MAIN(TEST(test_dtype), TEST(test_parse_ok), TEST(test_rejects), TEST(test_empty_ok),
          TEST(test_mmap_no_copy))
