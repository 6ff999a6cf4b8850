/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skinny.cuh — the weight-streaming tensor-core GEMM for 3..128 tokens
 * (tile sizes, pipeline depth, shared-memory footprint and the kernel's
 * argument block), for code that launches it itself; octo_cuda_skinny_gemm
 * in cuda.h is the checked wrapper. Not a public header.
 */
#ifndef OCTO_CUDA_SKINNY_CUH
#define OCTO_CUDA_SKINNY_CUH
#include "cuda/cuda_int.cuh"

/* A block owns 32 * W weight rows (W = 4 or 8 warps) and all tokens. */
#define SK_BK 64          /* K elements per pipeline stage (128-byte rows) */
#define SK_MIN_T 3
#define SK_MAX_T 128
#define SK_MAX_SPLIT 8    /* split-K blocks of one tile form one cluster (portable max 8) */
/* Tokens are padded to 16 * NJ (NJ = 1..8). A stage holds W[32 W, 64] and
 * X[16 NJ, 64]; 4-warp blocks take 3-4 stages so that two fit on an SM,
 * 8-warp blocks 4 stages (one per SM). */
#define SK_STAGES(W, NJ) ((W) == 4 && (NJ) > 5 ? 3 : 4)
#define SK_SMEM(W, NJ) (SK_STAGES(W, NJ) * (32 * (W) + 16 * (NJ)) * SK_BK * 2)

/* y[T, N] (row stride ys) = x[T, K] (row stride xs) . w[N, K]^T. The grid is
 * (ceil(N / (32 W)), splits); with splits > 1 it is launched as clusters of
 * (1, splits, 1) blocks that sum their partial tiles through distributed
 * shared memory. */
typedef struct sk_args {
    __nv_bfloat16 *y;
    const __nv_bfloat16 *x;
    const __nv_bfloat16 *w;
    int ys, xs, T, N, K;
} sk_args;

template <int NJ, int W>
__global__ void skinny_kernel(sk_args a);

#endif
