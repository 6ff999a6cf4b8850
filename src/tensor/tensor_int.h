/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tensor_int — what the CPU backend's files share: the SIMD dispatch and
 * the row kernels (dot products and row conversions) the ops are built
 * from. No other module includes this.
 */
#ifndef OCTO_TENSOR_INT_H
#define OCTO_TENSOR_INT_H

#include "tensor.h"

/* True once the CPU reported AVX2, FMA and F16C (checked once). */
bool octo_tensor_cpu_avx2(void);
/* Caps the SIMD level the kernels use (0 scalar, 1 AVX2, 2 AVX-512) and
 * returns the level in force; for tests. Not thread-safe against ops
 * running at the same time. */
int octo_tensor_cpu_cap_simd(int max_level);

/* Converts one row of n weights to f32 (vectorised where possible). */
void octo_tensor_row_to_f32(float *dst, const void *src, octo_dtype dt, int64_t n);

/* out[j] = dot(w[0..n), x_j[0..n)) for nx (1..dot_rows_max()) f32
 * vectors x_j laid at x + j * ldx; w has dtype dt. f32 accumulation. */
int octo_tensor_dot_rows_max(void); /* 6 with AVX-512, else 4 */
void octo_tensor_dot_rows(float *out, const void *w, octo_dtype dt, const float *x,
                          int64_t ldx, int nx, int64_t n);

/* f32 dot product and axpy (y += a * x) for the attention loops. */
float octo_tensor_dot_f32(const float *a, const float *b, int64_t n);
void octo_tensor_axpy_f32(float *y, float a, const float *x, int64_t n);

/* The CPU matmul op (matmul.c). */
void octo_tensor_cpu_matmul(const octo_tensor_backend *be, float *y, const float *x,
                            int64_t T, const octo_tensor_mat *w, const octo_tensor_mat *bias);

/* Element offset of (slot, kv head) in a paged cache layer. */
static inline size_t octo_tensor_slot_offset(const octo_tensor_kv_layer *kv, int64_t slot,
                                             int64_t head)
{
    return ((size_t)slot * (size_t)kv->n_kv_heads + (size_t)head) * (size_t)kv->head_dim;
}

/* The CPU attention op (attention.c). */
void octo_tensor_cpu_attention(const octo_tensor_backend *be, float *out, const float *q,
                               int64_t H, const octo_tensor_kv_layer *kv,
                               const octo_tensor_attn_batch *b, float scale);

#endif /* OCTO_TENSOR_INT_H */
