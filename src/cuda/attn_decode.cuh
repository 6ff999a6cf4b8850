/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_decode.cuh — the paged decode attention kernels (partition pass and
 * combine pass) and their tile constants. Not a public header; the checked
 * wrapper is octo_cuda_attn_decode in cuda.h.
 */
#ifndef OCTO_CUDA_ATTN_DECODE_CUH
#define OCTO_CUDA_ATTN_DECODE_CUH
#include "cuda/cuda_int.cuh"

#define DEC_THREADS 128  /* 4 warps */
#define DEC_WARPS (DEC_THREADS / 32)
#define DEC_MAX_PART 512 /* tokens per partition at most */
#define DEC_MIN_PART 64
#define DEC_UNROLL 4     /* tokens per lane group in flight */

/* The partition pass's shape for head size D and GMAX query heads a block
 * (attn_decode_kernel and the fused kernel of attn_fused.cu). */
template <int D, int GMAX>
struct dec_shape {
    static constexpr int LPT = D / 8;              /* lanes per token */
    static constexpr int NGRP = DEC_THREADS / LPT; /* token groups in the block */
    static constexpr int TPW = 32 / LPT;           /* token groups per warp */
    static constexpr int U = GMAX <= 4 ? DEC_UNROLL : DEC_UNROLL / 2; /* tokens in flight */
};

/* Each warp's softmax state (output, max, sum) parked in shared memory. */
template <int D, int GMAX>
struct dec_smem {
    float o[DEC_WARPS][GMAX][D];
    float m[DEC_WARPS][GMAX], l[DEC_WARPS][GMAX];
};

/* Address of token `tok`'s vector `li` for kv head kvh in a paged cache. */
static __device__ __forceinline__ const uint4 *kv_vec(const __nv_bfloat16 *cache,
                                                      const int32_t *bt, int tok, int block_size,
                                                      int K, int kvh, int D, int li)
{
    long long blk = bt[tok / block_size];
    long long row = (blk * block_size + tok % block_size) * K + kvh;
    return (const uint4 *)(cache + row * D) + li;
}

/* Merges running softmax state (m2, l2, a2) into (m, l, a). */
static __device__ __forceinline__ void merge_state(float &m, float &l, float *a, float m2,
                                                   float l2, const float *a2)
{
    float M = fmaxf(m, m2);
    float x = m == -INFINITY ? 0.0f : __expf(m - M);
    float y = m2 == -INFINITY ? 0.0f : __expf(m2 - M);
    l = l * x + l2 * y;
#pragma unroll
    for (int i = 0; i < 8; i++) a[i] = a[i] * x + a2[i] * y;
    m = M;
}

/* Partition length (host): as long as possible while the grid still has a
 * few blocks per SM (B * H / 4 kv-head blocks per partition, roughly). */
static inline int dec_part_len(int B, int H, int max_seq_len)
{
    int part = DEC_MAX_PART;
    while (part > DEC_MIN_PART &&
           (long long)B * H * ((max_seq_len + part - 1) / part) < 4096)
        part /= 2;
    return part;
}

/* Partition pass: grid (K * ceil(G / GMAX), B, nparts). With nparts == 1
 * it writes out directly; otherwise the normalised partial output
 * part_o [B, H, nparts, D] and (max, sum) part_ml [B, H, nparts, 2]. */
template <int D, int GMAX>
__global__ void attn_decode_kernel(__nv_bfloat16 *out, float *part_o, float *part_ml,
                                   const __nv_bfloat16 *q, int q_stride,
                                   const __nv_bfloat16 *kc, const __nv_bfloat16 *vc,
                                   int block_size, int K, const int32_t *block_tables,
                                   int max_blocks, const int32_t *seq_lens, int H, int G,
                                   int part_len, int nparts, float scale);

/* ==== version 4: tensor cores, per-warp cp.async pipelines (attn_decode_tc.cu) ==== */

#define DEC4_THREADS 128   /* 4 warps, each its own pipeline */
#define DEC4_TILE 16       /* tokens per tile (one mma k step of P V) */
#define DEC4_MAX_PART 2048 /* <= 32 tiles per warp: one block id per lane */
#define DEC4_MIN_PART 256
/* auto: B * H from which version 4 is used (Qwen3-8B: from 2 sequences;
 * 6.46 against 6.55-6.59 ms per step at batch 2 and 6.61 against 6.98-7.07
 * at 8, bench/results/decode-v4-vs-fused-h100.log) */
#define DEC4_MIN_BH 64
#define DEC4_NST(D) ((D) == 64 ? 4 : 3) /* stages per warp */

/* Dynamic shared memory of version 4: 4 warps x DEC4_NST stages x K and V
 * tiles of 16 rows of D + 8 bf16. D = 64: 73728 B (3 blocks per SM), 128:
 * 104448 B (2), 256: 202752 B (1). */
static inline size_t dec4_smem_bytes(int D)
{
    return (size_t)(DEC4_THREADS / 32) * DEC4_NST(D) * 2 * DEC4_TILE * (D + 8) * 2;
}

/* Partition length of version 4 (host): as long as possible (fewer
 * partials, often no combine pass) while B * H * nparts >= 2048, i.e.
 * 2048 / G blocks (G = 4: 512, two rounds of 2 blocks on 132 SMs). */
static inline int dec4_part_len(int B, int H, int max_seq_len)
{
    int part = DEC4_MAX_PART;
    while (part > DEC4_MIN_PART &&
           (long long)B * H * ((max_seq_len + part - 1) / part) < 2048)
        part /= 2;
    return part;
}

/* Launches version 4 (grid (K * ceil(G / 8), B, nparts); partials as the
 * partition pass above when nparts > 1). Arguments already checked by
 * octo_cuda_attn_decode; kv->block_size % 16 == 0, part from
 * dec4_part_len (or a power of two 64..2048 for tuning). early: read the
 * lengths, tables and old tiles before griddepcontrol.wait. */
octo_err dec4_launch(__nv_bfloat16 *out, float *po, float *pml, const __nv_bfloat16 *q,
                     int q_stride, const octo_cuda_kv *kv, const int32_t *bt, int max_blocks,
                     const int32_t *sl, int B, int H, int part, int nparts, float scale,
                     int early, cudaStream_t st);

/* Combine pass: grid (H, B), D threads. */
__global__ void attn_decode_combine(__nv_bfloat16 *out, const float *part_o,
                                    const float *part_ml, const int32_t *seq_lens, int H, int D,
                                    int part_len, int nparts);
/* q . k over a lane group of LPT lanes holding 8 values each (the sum in
 * every lane of the group). */
template <int LPT>
static __device__ __forceinline__ float dec_group_dot(const float *q, const float *k)
{
    float d = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; i++) d = fmaf(q[i], k[i], d);
#pragma unroll
    for (int o = LPT / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
    return d;
}

/* An empty running state: max -inf, sum 0, output 0. */
template <int GMAX>
static __device__ __forceinline__ void dec_state_init(float *m, float *l, float (*acc)[8])
{
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        m[g] = -INFINITY, l[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[g][i] = 0.0f;
    }
}

/* One step of the one-pass decode loop of a lane group (LPT lanes holding
 * one token's K and V vectors, 8 values a lane): the scores of its U tokens
 * t + u * NGRP (u < U; from n on: -inf) against GMAX query heads (qf,
 * pre-scaled), then the online-softmax update of each head's running max
 * m, sum l and output acc. Shared by attn_decode_kernel and the fused
 * kernel (attn_fused.cu), so both compute the same bits. */
template <int GMAX, int U, int LPT, int NGRP>
static __device__ __forceinline__ void dec_online_step(const float (*qf)[8], const uint4 *kv,
                                                       const uint4 *vv, int t, int n, float *m,
                                                       float *l, float (*acc)[8])
{
    float sc[U][GMAX];
#pragma unroll
    for (int u = 0; u < U; u++) {
        float kf[8];
        unpack8(kv[u], kf);
        bool ok = t + u * NGRP < n;
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            float d = dec_group_dot<LPT>(qf[g], kf);
            sc[u][g] = ok ? d : -INFINITY;
        }
    }
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        float cm = sc[0][g];
#pragma unroll
        for (int u = 1; u < U; u++) cm = fmaxf(cm, sc[u][g]);
        float mn = fmaxf(m[g], cm);
        if (mn != -INFINITY && mn > m[g]) {
            float a = __expf(m[g] - mn);
            l[g] *= a;
#pragma unroll
            for (int i = 0; i < 8; i++) acc[g][i] *= a;
            m[g] = mn;
        }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
        float vf[8];
        unpack8(vv[u], vf);
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            float p = sc[u][g] == -INFINITY ? 0.0f : __expf(sc[u][g] - m[g]);
            l[g] += p;
#pragma unroll
            for (int i = 0; i < 8; i++) acc[g][i] = fmaf(p, vf[i], acc[g][i]);
        }
    }
}
/* After the loop: merges the lane groups of a warp (shuffles) and parks
 * each warp's (m, l, acc) in shared memory; the caller syncs the block. */
template <int GMAX, int LPT, int D>
static __device__ __forceinline__ void dec_merge_warp(float *m, float *l, float (*acc)[8],
                                                      int lane, int li, int warp,
                                                      dec_smem<D, GMAX> &s)
{
#pragma unroll
    for (int o = LPT; o < 32; o <<= 1)
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            float a2[8];
#pragma unroll
            for (int i = 0; i < 8; i++) a2[i] = __shfl_xor_sync(0xffffffffu, acc[g][i], o);
            float m2 = __shfl_xor_sync(0xffffffffu, m[g], o);
            float l2 = __shfl_xor_sync(0xffffffffu, l[g], o);
            merge_state(m[g], l[g], acc[g], m2, l2, a2);
        }
    if (lane < LPT) {
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
#pragma unroll
            for (int i = 0; i < 8; i++) s.o[warp][g][li * 8 + i] = acc[g][i];
            if (li == 0) s.m[warp][g] = m[g], s.l[warp][g] = l[g];
        }
    }
}

/* Then, for head g and dimension d: the block's max *M, softmax sum *lt and
 * normalised output *o over its warps (0 where nothing was attended). */
template <int GMAX, int D>
static __device__ __forceinline__ void dec_merge_block(const dec_smem<D, GMAX> &s, int g, int d,
                                                       float *M, float *lt, float *o)
{
    *M = -INFINITY;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) *M = fmaxf(*M, s.m[w][g]);
    *lt = 0.0f;
    *o = 0.0f;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) {
        float wt = s.m[w][g] == -INFINITY ? 0.0f : __expf(s.m[w][g] - *M);
        *lt += s.l[w][g] * wt;
        *o += s.o[w][g][d] * wt;
    }
    *o = *lt > 0.0f ? *o / *lt : 0.0f;
}

/* After dec_merge_warp and a barrier: the block's ng heads from (sequence,
 * head) row bh0 on, written to out (direct: the only partition of the
 * sequence) or as partition z's partial output part_o [.., nparts, D] and
 * (max, sum) part_ml [.., nparts, 2]. */
template <int GMAX, int D>
static __device__ __forceinline__ void dec_block_out(const dec_smem<D, GMAX> &s, int ng,
                                                     long long bh0, int z, bool direct,
                                                     int nparts, __nv_bfloat16 *out,
                                                     float *part_o, float *part_ml)
{
    for (int i = threadIdx.x; i < ng * D; i += DEC_THREADS) {
        int g = i / D, d = i % D;
        float M, lt, o;
        dec_merge_block<GMAX, D>(s, g, d, &M, &lt, &o);
        long long bh = bh0 + g;
        if (direct) {
            out[bh * D + d] = f2bf(o);
        } else {
            part_o[(bh * nparts + z) * D + d] = o;
            if (d == 0) {
                part_ml[(bh * nparts + z) * 2] = M;
                part_ml[(bh * nparts + z) * 2 + 1] = lt;
            }
        }
    }
}
#endif
