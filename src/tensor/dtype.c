/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dtype — the one table of element types (name, block size, bytes per
 * block, quantised or not, safetensors name, GGUF type number) and its one
 * size function; scalar conversions between f32, f16 and bf16
 * (round-to-nearest-even when narrowing, NaN kept NaN). The vector paths
 * live next to the kernels that use them; this file is the reference.
 *
 * Not a quantisation library: no block type is decoded here.
 */
#include "tensor.h"

#include <string.h>

/* ==== the type table ==== */

#define SCALAR(n, bytes) {n, 1, bytes, false, true, -1}
#define SCALAR_G(n, bytes, g) {n, 1, bytes, false, true, g}
#define GGML(n, blk, bytes, g) {n, blk, bytes, true, false, g}

static const octo_dtype_props types[OCTO_DTYPE_COUNT] = {
    [OCTO_DTYPE_INVALID] = {"INVALID", 0, 0, false, false, -1},
    [OCTO_DTYPE_F32] = SCALAR_G("F32", 4, 0),
    [OCTO_DTYPE_F16] = SCALAR_G("F16", 2, 1),
    [OCTO_DTYPE_BF16] = SCALAR_G("BF16", 2, 30),
    [OCTO_DTYPE_F64] = SCALAR_G("F64", 8, 28),
    [OCTO_DTYPE_I8] = SCALAR_G("I8", 1, 24),
    [OCTO_DTYPE_U8] = SCALAR("U8", 1),
    [OCTO_DTYPE_I16] = SCALAR_G("I16", 2, 25),
    [OCTO_DTYPE_U16] = SCALAR("U16", 2),
    [OCTO_DTYPE_I32] = SCALAR_G("I32", 4, 26),
    [OCTO_DTYPE_U32] = SCALAR("U32", 4),
    [OCTO_DTYPE_I64] = SCALAR_G("I64", 8, 27),
    [OCTO_DTYPE_U64] = SCALAR("U64", 8),
    [OCTO_DTYPE_BOOL] = SCALAR("BOOL", 1),
    [OCTO_DTYPE_F8_E4M3] = SCALAR("F8_E4M3", 1),
    [OCTO_DTYPE_F8_E5M2] = SCALAR("F8_E5M2", 1),
    [OCTO_DTYPE_F8_E8M0] = SCALAR("F8_E8M0", 1),
    [OCTO_DTYPE_Q4] = {"Q4", 2, 1, true, false, -1},
    [OCTO_DTYPE_F8_E4M3FNUZ] = SCALAR("F8_E4M3FNUZ", 1),
    [OCTO_DTYPE_F8_E5M2FNUZ] = SCALAR("F8_E5M2FNUZ", 1),
    [OCTO_DTYPE_C64] = SCALAR("C64", 8),
    [OCTO_DTYPE_F4] = {"F4", 2, 1, false, true, -1},
    [OCTO_DTYPE_GGML_Q4_0] = GGML("Q4_0", 32, 18, 2),
    [OCTO_DTYPE_GGML_Q4_1] = GGML("Q4_1", 32, 20, 3),
    [OCTO_DTYPE_GGML_Q5_0] = GGML("Q5_0", 32, 22, 6),
    [OCTO_DTYPE_GGML_Q5_1] = GGML("Q5_1", 32, 24, 7),
    [OCTO_DTYPE_GGML_Q8_0] = GGML("Q8_0", 32, 34, 8),
    [OCTO_DTYPE_GGML_Q2_K] = GGML("Q2_K", 256, 84, 10),
    [OCTO_DTYPE_GGML_Q3_K] = GGML("Q3_K", 256, 110, 11),
    [OCTO_DTYPE_GGML_Q4_K] = GGML("Q4_K", 256, 144, 12),
    [OCTO_DTYPE_GGML_Q5_K] = GGML("Q5_K", 256, 176, 13),
    [OCTO_DTYPE_GGML_Q6_K] = GGML("Q6_K", 256, 210, 14),
    [OCTO_DTYPE_GGML_Q8_K] = GGML("Q8_K", 256, 292, 15),
    [OCTO_DTYPE_GGML_IQ2_XXS] = GGML("IQ2_XXS", 256, 66, 16),
    [OCTO_DTYPE_GGML_IQ2_XS] = GGML("IQ2_XS", 256, 74, 17),
    [OCTO_DTYPE_GGML_IQ3_XXS] = GGML("IQ3_XXS", 256, 98, 18),
    [OCTO_DTYPE_GGML_IQ1_S] = GGML("IQ1_S", 256, 50, 19),
    [OCTO_DTYPE_GGML_IQ4_NL] = GGML("IQ4_NL", 32, 18, 20),
    [OCTO_DTYPE_GGML_IQ3_S] = GGML("IQ3_S", 256, 110, 21),
    [OCTO_DTYPE_GGML_IQ2_S] = GGML("IQ2_S", 256, 82, 22),
    [OCTO_DTYPE_GGML_IQ4_XS] = GGML("IQ4_XS", 256, 136, 23),
    [OCTO_DTYPE_GGML_IQ1_M] = GGML("IQ1_M", 256, 56, 29),
    [OCTO_DTYPE_GGML_TQ1_0] = GGML("TQ1_0", 256, 54, 34),
    [OCTO_DTYPE_GGML_TQ2_0] = GGML("TQ2_0", 256, 66, 35),
    [OCTO_DTYPE_GGML_MXFP4] = GGML("MXFP4", 32, 17, 39),
    [OCTO_DTYPE_GGML_NVFP4] = GGML("NVFP4", 64, 36, 40),
    [OCTO_DTYPE_GGML_Q1_0] = GGML("Q1_0", 128, 18, 41),
    /* ggml's Q8_1 (9) is left out on purpose: a compute-only type that no
     * file stores, whose block size differs between ggml versions. */
};

const octo_dtype_props *octo_dtype_props_get(octo_dtype d)
{
    if ((int)d <= 0 || d >= OCTO_DTYPE_COUNT) return &types[OCTO_DTYPE_INVALID];
    return &types[d];
}

octo_err octo_dtype_nbytes(octo_dtype d, uint64_t n, size_t *out)
{
    const octo_dtype_props *p = octo_dtype_props_get(d);
    if (!p->block || n % p->block) return OCTO_E_INVALID;
    uint64_t blocks = n / p->block;
    if (blocks > (uint64_t)SIZE_MAX / p->block_bytes) return OCTO_E_TOO_LARGE;
    *out = (size_t)(blocks * p->block_bytes);
    return OCTO_OK;
}

size_t octo_dtype_size(octo_dtype d)
{
    const octo_dtype_props *p = octo_dtype_props_get(d);
    return p->block == 1 ? p->block_bytes : 0;
}

bool octo_dtype_is_dense_float(octo_dtype d)
{
    return d == OCTO_DTYPE_F32 || d == OCTO_DTYPE_F16 || d == OCTO_DTYPE_BF16;
}

const char *octo_dtype_name(octo_dtype d) { return octo_dtype_props_get(d)->name; }

octo_dtype octo_dtype_from_name(const char *name)
{
    if (!name) return OCTO_DTYPE_INVALID;
    for (int i = 1; i < OCTO_DTYPE_COUNT; i++)
        if (types[i].safetensors && strcmp(types[i].name, name) == 0) return (octo_dtype)i;
    return OCTO_DTYPE_INVALID;
}

octo_dtype octo_dtype_from_ggml(uint32_t ggml_type)
{
    for (int i = 1; i < OCTO_DTYPE_COUNT; i++)
        if (types[i].ggml_type >= 0 && (uint32_t)types[i].ggml_type == ggml_type)
            return (octo_dtype)i;
    return OCTO_DTYPE_INVALID;
}

/* ==== scalar conversions ==== */

float octo_tensor_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t octo_tensor_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float octo_tensor_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t octo_tensor_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);   /* NaN */
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  /* overflow -> inf */
    if (absu < 0x38800000u) {                                    /* subnormal or zero */
        if (absu < 0x33000000u) return (uint16_t)sign;
        uint32_t e = absu >> 23;
        uint32_t m = (absu & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = absu + 0xfffu + ((absu >> 13) & 1u) - 0x38000000u;
    return (uint16_t)(sign | (r >> 13));
}

void octo_tensor_to_f32(float *dst, const void *src, octo_dtype dt, size_t n)
{
    const uint16_t *h = src;
    switch (dt) {
    case OCTO_DTYPE_F32: memcpy(dst, src, n * sizeof *dst); break;
    case OCTO_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = octo_tensor_bf16_to_f32(h[i]);
        break;
    case OCTO_DTYPE_F16:
        for (size_t i = 0; i < n; i++) dst[i] = octo_tensor_f16_to_f32(h[i]);
        break;
    default: OCTO_ASSERT(!"unsupported dtype");
    }
}

/* ==== weight descriptors ==== */

static octo_err add_bytes(size_t *total, size_t n)
{
    if (n > SIZE_MAX - *total) return OCTO_E_TOO_LARGE;
    *total += n;
    return OCTO_OK;
}

octo_err octo_tensor_mat_bytes(const octo_tensor_mat *w, size_t *out)
{
    const octo_dtype_props *p = octo_dtype_props_get(w->dtype);
    const octo_tensor_quant *q = &w->quant;
    if (w->rows < 0 || w->cols < 0 || !p->block || w->cols % p->block) return OCTO_E_INVALID;
    size_t codes = 0, total = 0, part = 0;
    octo_err rc = octo_dtype_nbytes(w->dtype, (uint64_t)w->cols, &codes);
    if (rc) return rc;
    if (w->rows && codes > SIZE_MAX / (size_t)w->rows) return OCTO_E_TOO_LARGE;
    total = codes * (size_t)w->rows;
    if (!q->scales) return (*out = total, OCTO_OK);
    if (q->group_size <= 0) return OCTO_E_INVALID;
    uint64_t srows = (uint64_t)w->rows, scols;
    if (w->dtype == OCTO_DTYPE_Q4) { /* int4 groups: one scale per row and group */
        if (w->cols % q->group_size) return OCTO_E_INVALID;
        scols = (uint64_t)(w->cols / q->group_size);
    } else { /* block-scaled: one scale per block_rows x group_size tile */
        if (q->block_rows <= 0) return OCTO_E_INVALID;
        srows = (uint64_t)((w->rows + q->block_rows - 1) / q->block_rows);
        scols = (uint64_t)((w->cols + q->group_size - 1) / q->group_size);
    }
    if (scols && srows > UINT64_MAX / scols) return OCTO_E_TOO_LARGE;
    rc = octo_dtype_nbytes(q->scales_dtype, srows * scols, &part);
    if (!rc) rc = add_bytes(&total, part);
    if (!rc && q->zeros) rc = octo_dtype_nbytes(OCTO_DTYPE_Q4, srows * scols + (srows * scols) % 2,
                                               &part);
    if (!rc && q->zeros) rc = add_bytes(&total, part);
    if (!rc && q->g_idx) rc = add_bytes(&total, (size_t)w->cols * sizeof(int32_t));
    if (!rc) *out = total;
    return rc;
}

bool octo_tensor_mat_is_dense(const octo_tensor_mat *w)
{
    return octo_dtype_is_dense_float(w->dtype) && !w->quant.scales;
}
