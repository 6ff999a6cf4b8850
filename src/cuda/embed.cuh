/* SPDX-License-Identifier: Apache-2.0 */
/*
 * embed.cuh — the embedding gather kernel (rows of C/8 16-byte vectors),
 * for code that launches it itself (graph capture); octo_cuda_embed in
 * cuda.h is the checked wrapper. Not a public header.
 */
#ifndef OCTO_CUDA_EMBED_CUH
#define OCTO_CUDA_EMBED_CUH
#include "cuda/cuda_int.cuh"

/* out [T, cv] uint4 = table[ids[t], cv]; cv = C / 8. */
__global__ void embed_kernel(uint4 *out, const uint4 *table, const int32_t *ids, int T, int cv,
                             int V);
#endif
