/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_write.cuh — the paged-cache write kernel (slot mapping), for code
 * that launches it itself; octo_cuda_kv_write in cuda.h is the checked
 * wrapper. Not a public header.
 */
#ifndef OCTO_CUDA_KV_WRITE_CUH
#define OCTO_CUDA_KV_WRITE_CUH
#include "cuda/cuda_int.cuh"

/* One thread per 16-byte vector of K*D per token; dv = D / 8. */
__global__ void kv_write_kernel(uint4 *k_cache, uint4 *v_cache, const __nv_bfloat16 *k,
                                int k_stride, const __nv_bfloat16 *v, int v_stride,
                                const int32_t *slots, int T, int K, int dv, long long nslots);
#endif
