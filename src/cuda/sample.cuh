/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample.cuh — the GPU sampler kernel and the Philox4x32-10 generator it
 * draws from (device side, also usable by other kernels). Not a public
 * header; the checked wrapper is octo_cuda_sample in cuda.h.
 */
#ifndef OCTO_CUDA_SAMPLE_CUH
#define OCTO_CUDA_SAMPLE_CUH
#include "cuda/cuda_int.cuh"

#define SAMPLE_THREADS 1024

/* Philox4x32 with 10 rounds (Salmon et al., SC'11): counter c, key k. */
static __device__ __forceinline__ uint4 philox4x32_10(uint4 c, uint2 k)
{
#pragma unroll
    for (int r = 0; r < 10; r++) {
        uint32_t hi0 = __umulhi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        uint32_t hi1 = __umulhi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += 0x9E3779B9u;
        k.y += 0xBB67AE85u;
    }
    return c;
}

/* One row per block: penalties, temperature, top-k/min-p/top-p cut,
 * Gumbel-max draw. */
__global__ void sample_kernel(int32_t *ids, float *logprobs, float *logits, int ls,
                              const int32_t *counts, const octo_cuda_sample_params *prm, int V);
#endif
