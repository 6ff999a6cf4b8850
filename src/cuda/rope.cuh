/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rope.cuh — the per-head RMSNorm + rotary embedding kernel (one warp per
 * token and head), for code that launches it itself; octo_cuda_qk_norm_rope
 * in cuda.h is the checked wrapper. Not a public header.
 */
#ifndef OCTO_CUDA_ROPE_CUH
#define OCTO_CUDA_ROPE_CUH
#include "cuda/cuda_int.cuh"

#define ROPE_MAX_D 512
#define ROPE_WARPS 4

/* Optional KV-cache store fused into the same pass (kc NULL: none): each
 * key head, once normed and rotated, also goes to k cache slot
 * slots[t] (skipped when < 0 or >= nslots), and the same warp copies the
 * token's value head to the v cache. Cache layout as octo_cuda_kv. */
typedef struct rope_kv_store {
    __nv_bfloat16 *q_out; /* rotated queries (row stride q_out_stride); NULL: in place */
    int q_out_stride;
    __nv_bfloat16 *kc, *vc;
    const __nv_bfloat16 *v;
    int v_stride;
    const int32_t *slots;
    long long nslots;
} rope_kv_store;

/* The per-element steps of the norm + rotation, each rounded in a fixed
 * order (explicit _rn intrinsics: no multiply-add contraction left to the
 * compiler), so that every kernel using them (qk_norm_rope_kernel,
 * attn_fused.cu) produces the same bits. */
static __device__ __forceinline__ float rope_sq_acc(float ss, float v)
{
    return __fmaf_rn(v, v, ss);
}
static __device__ __forceinline__ float rope_inv_rms(float sum, int D, float eps)
{
    return rsqrtf(__fadd_rn(__fdiv_rn(sum, (float)D), eps));
}
static __device__ __forceinline__ float rope_normed(float x, float inv, float w)
{
    return bf2f(f2bf(__fmul_rn(__fmul_rn(x, inv), w)));
}
/* neox rotate_half: x*c - partner*s in the first half, x*c + partner*s in
 * the second. */
static __device__ __forceinline__ float rope_rot(float x, float partner, float c, float s,
                                                 bool first_half)
{
    return __fmaf_rn(first_half ? -partner : partner, s, __fmul_rn(x, c));
}

__global__ void qk_norm_rope_kernel(__nv_bfloat16 *q, int q_stride, __nv_bfloat16 *k,
                                    int k_stride, const __nv_bfloat16 *q_w,
                                    const __nv_bfloat16 *k_w, const int32_t *pos, int T, int H,
                                    int K, int D, float eps, octo_cuda_rope rope,
                                    rope_kv_store st);
#endif
