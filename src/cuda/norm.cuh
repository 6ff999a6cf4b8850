/* SPDX-License-Identifier: Apache-2.0 */
/*
 * norm.cuh — the fused residual-add + RMSNorm kernel (one block per row),
 * for code that launches it itself; octo_cuda_add_rmsnorm in cuda.h is the
 * checked wrapper. Not a public header.
 */
#ifndef OCTO_CUDA_NORM_CUH
#define OCTO_CUDA_NORM_CUH
#include "cuda/cuda_int.cuh"

/* Rows of cv = C / 8 vectors; residual may be NULL. */
__global__ void add_rmsnorm_kernel(uint4 *out, uint4 *residual, const uint4 *x, const uint4 *w,
                                   int cv, float eps);
#endif
