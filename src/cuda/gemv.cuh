/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemv.cuh — the small-batch bf16 GEMV kernel (GEMV_ROWS weight rows a warp,
 * NB activation rows), for code that launches it itself; octo_cuda_gemv in
 * cuda.h is the checked wrapper. Not a public header.
 */
#ifndef OCTO_CUDA_GEMV_CUH
#define OCTO_CUDA_GEMV_CUH
#include "cuda/cuda_int.cuh"

#define GEMV_WARPS 4 /* warps per block */
/* Weight rows per warp and 16-byte loads per row in flight per lane, by
 * batch size NB: 16 loads in flight per lane either way. */
#define GEMV_ROWS(NB) ((NB) <= 2 ? 2 : 4)
#define GEMV_UNROLL(NB) ((NB) <= 2 ? 8 : 4)

/* y[b, n] (stride ys elements) = sum_c x[b, c] w[n, c]; x rows at xs_v
 * vectors, w rows of cv vectors. */
template <int NB, bool F32OUT>
__global__ void gemv_kernel(void *y, int ys, const uint4 *x, int xs_v, const uint4 *w, int N,
                            int cv);
#endif
