/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_prefill.cuh — the tiled varlen causal attention kernel over the
 * paged cache and its tile constants. Not a public header; the checked
 * wrapper is octo_cuda_attn_prefill in cuda.h.
 */
#ifndef OCTO_CUDA_ATTN_PREFILL_CUH
#define OCTO_CUDA_ATTN_PREFILL_CUH
#include "cuda/cuda_int.cuh"

#define PRE_BQ 64      /* query rows per block (16 per warp) */
#define PRE_BK 64      /* keys per tile */
#define PRE_THREADS 128

/* Dynamic shared memory bytes the kernel needs for head dim D: Q, K and V
 * tiles of 64 rows, each row padded by 16 bytes (conflict-free ldmatrix). */
static inline size_t prefill_smem_bytes(int D)
{
    return 3 * (size_t)PRE_BQ * (D + 8) * 2;
}

/* grid (ceil(max_q_len / PRE_BQ), H, B), PRE_THREADS threads. */
template <int D>
__global__ void attn_prefill_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                                    const __nv_bfloat16 *kc, const __nv_bfloat16 *vc,
                                    int block_size, int K, const int32_t *block_tables,
                                    int max_blocks, const int32_t *cu_q,
                                    const int32_t *seq_lens, int H, float scale);
#endif
