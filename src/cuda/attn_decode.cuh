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
#define DEC_MAX_PART 512 /* tokens per partition at most */
#define DEC_MIN_PART 64
#define DEC_UNROLL 4     /* tokens per lane group in flight */

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

/* Combine pass: grid (H, B), D threads. */
__global__ void attn_decode_combine(__nv_bfloat16 *out, const float *part_o,
                                    const float *part_ml, const int32_t *seq_lens, int H, int D,
                                    int part_len, int nparts);
#endif
