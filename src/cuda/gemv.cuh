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

/* The inner loop every GEMV here shares (this kernel and the fused one of
 * backend_ops.cu): wv[r][u] = the 16-byte slice c0 + 32 u of weight row
 * rows[r] (zero past the row or for a row that is not ok), streamed
 * (evict-first); */
template <int R, int U>
static __device__ __forceinline__ void gemv_load(uint4 (*wv)[U], const uint4 *w, int cv,
                                                 const long long *rows, const bool *ok, int c0)
{
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int u = 0; u < U; u++) {
            int c = c0 + u * 32;
            wv[r][u] = (c < cv && ok[r]) ? __ldcs(w + rows[r] * cv + c) : make_uint4(0, 0, 0, 0);
        }
}

/* then acc[r][b] += W[rows[r], chunk at c0] . x[b, same columns] for U
 * 16-byte slices 32 apart. x is read with plain (coherent) loads, never
 * through the read-only cache (__ldg): under programmatic dependent launch
 * the kernel that writes x may still be running when this one starts, and
 * the assembler may move read-only-cache loads above griddepcontrol.wait
 * (seen: wrong decode outputs with one load per row in flight). */
template <int NB, int R, int U>
static __device__ __forceinline__ void gemv_fma(float (*acc)[NB], const uint4 (*wv)[U],
                                                const uint4 *x, int xs_v, int cv, int c0)
{
#pragma unroll
    for (int u = 0; u < U; u++) {
        int c = c0 + u * 32;
        if (c >= cv) break;
#pragma unroll
        for (int b = 0; b < NB; b++) {
            float xf[8];
            unpack8(x[(long long)b * xs_v + c], xf);
#pragma unroll
            for (int r = 0; r < R; r++) {
                float wf[8];
                unpack8(wv[r][u], wf);
#pragma unroll
                for (int i = 0; i < 8; i++) acc[r][b] = fmaf(wf[i], xf[i], acc[r][b]);
            }
        }
    }
}

/* y[b, n] (stride ys elements) = sum_c x[b, c] w[n, c]; x rows at xs_v
 * vectors, w rows of cv vectors. */
template <int NB, bool F32OUT>
__global__ void gemv_kernel(void *y, int ys, const uint4 *x, int xs_v, const uint4 *w, int N,
                            int cv);
#endif
