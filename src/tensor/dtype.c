/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dtype — element sizes and scalar conversions between f32, f16 and bf16
 * (round-to-nearest-even when narrowing, NaN kept NaN). The vector paths
 * live next to the kernels that use them; this file is the reference.
 *
 * Not a quantisation library: int8/int4/fp8 are not handled here.
 */
#include "tensor.h"

#include <string.h>

size_t octo_tensor_dtype_size(octo_dtype dt)
{
    switch (dt) {
    case OCTO_DTYPE_F32: return 4;
    case OCTO_DTYPE_F16: return 2;
    case OCTO_DTYPE_BF16: return 2;
    default: return 0;
    }
}

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
