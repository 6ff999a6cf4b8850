/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_prefill.cuh — the two tiled varlen causal attention kernels over the
 * paged cache (v4: cp.async double-buffered K/V, 128 rows x heads per
 * block, attn_prefill_v4.cu; v3: 64 rows, synchronous loads, kept for
 * comparison and for D = 256, attn_prefill.cu) and their tile constants
 * (the tensor-core primitives they use are in mma.cuh). Not a public header; the checked
 * wrapper is octo_cuda_attn_prefill in cuda.h.
 */
#ifndef OCTO_CUDA_ATTN_PREFILL_CUH
#define OCTO_CUDA_ATTN_PREFILL_CUH
#include "cuda/cuda_int.cuh"
#include "cuda/mma.cuh"

/* ==== v3 ==== */

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

/* ==== v4 ==== */

#define PF_ROWS 128    /* M rows per block: (query rows) x (heads of one kv head) */
#define PF_BK 64       /* keys per tile */
#define PF_STAGES 2    /* K/V tiles in flight */
#ifndef PF_MIN_BLOCKS
#define PF_MIN_BLOCKS 2 /* blocks per SM the registers are capped for */
#endif

/* Dynamic shared memory of the v4 kernel for head dim D: the Q tile,
 * PF_STAGES K and V tiles (rows padded by 16 bytes) and PF_STAGES slices
 * of the block table (PF_BK entries each). D = 128: 104960 B. */
static inline size_t prefill_v4_smem_bytes(int D)
{
    return (size_t)(PF_ROWS + 2 * PF_STAGES * PF_BK) * (D + 8) * 2 +
           (size_t)PF_STAGES * PF_BK * 4;
}

/* Launches the v4 kernel (D 64 or 128, block_size a power of two;
 * arguments already checked by octo_cuda_attn_prefill) with mt 16-row
 * tiles per warp: 1 (8 warps, 128 registers) or 2 (4 warps, up to 255). */
octo_err prefill_v4_launch(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                           const octo_cuda_kv *kv, const int32_t *bt, int max_blocks,
                           const int32_t *cu_q, const int32_t *seq_lens, int B, int H,
                           int max_q_len, float scale, int mt, cudaStream_t st);

#endif
