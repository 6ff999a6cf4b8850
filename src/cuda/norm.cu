/* SPDX-License-Identifier: Apache-2.0 */
/*
 * norm — fused residual add + RMSNorm, the pre-attention / pre-MLP step of
 * a Qwen3 layer: residual += x (bf16), out = residual * rsqrt(mean(r^2) +
 * eps) * w, with f32 sums. One block per row, 16-byte vectors; launched
 * with programmatic dependent launch: it loads its weights before waiting
 * for the kernel before, and the GEMV after it starts streaming its own
 * weights while it runs.
 *
 * It is not LayerNorm (no mean subtraction, no bias) and not the per-head
 * q/k norm (see rope.cu).
 */
#include "cuda/norm.cuh"

#define NORM_THREADS 256
#define NORM_KEEP 4 /* vectors per thread kept in registers between passes */

__global__ void __launch_bounds__(NORM_THREADS)
add_rmsnorm_kernel(uint4 *out, uint4 *residual, const uint4 *x, const uint4 *w, int cv, float eps)
{
    __shared__ float red[32];
    /* the weights do not depend on the kernel before: load them first */
    asm volatile("griddepcontrol.launch_dependents;");
    float wk[NORM_KEEP][8];
#pragma unroll
    for (int j = 0; j < NORM_KEEP; j++) {
        int c = threadIdx.x + j * blockDim.x;
        if (c < cv) unpack8(__ldg(&w[c]), wk[j]);
    }
    asm volatile("griddepcontrol.wait;" ::: "memory");
    long long row = (long long)blockIdx.x * cv;
    float keep[NORM_KEEP][8];
    float ss = 0.0f;
    int k = 0;
    for (int c = threadIdx.x; c < cv; c += blockDim.x, k++) {
        float a[8];
        unpack8(x[row + c], a);
        if (residual) {
            float r[8];
            unpack8(residual[row + c], r);
#pragma unroll
            for (int i = 0; i < 8; i++) a[i] = bf2f(f2bf(a[i] + r[i]));
            residual[row + c] = pack8(a);
        }
#pragma unroll
        for (int i = 0; i < 8; i++) ss += a[i] * a[i];
#pragma unroll
        for (int j = 0; j < NORM_KEEP; j++)
            if (j == k) {
#pragma unroll
                for (int i = 0; i < 8; i++) keep[j][i] = a[i];
            }
    }
    ss = block_sum(ss, red);
    float inv = rsqrtf(ss / (float)(cv * 8) + eps);
    k = 0;
    for (int c = threadIdx.x; c < cv; c += blockDim.x, k++) {
        float a[8], g[8];
        if (k < NORM_KEEP) {
#pragma unroll
            for (int j = 0; j < NORM_KEEP; j++)
                if (j == k) {
#pragma unroll
                    for (int i = 0; i < 8; i++) a[i] = keep[j][i], g[i] = wk[j][i];
                }
        } else {
            unpack8(residual ? residual[row + c] : x[row + c], a);
            unpack8(__ldg(&w[c]), g);
        }
#pragma unroll
        for (int i = 0; i < 8; i++) a[i] = a[i] * inv * g[i];
        out[row + c] = pack8(a);
    }
}

octo_err octo_cuda_add_rmsnorm(octo_bf16 *d_out, octo_bf16 *d_residual, const octo_bf16 *d_x,
                               const octo_bf16 *d_w, int T, int C, float eps,
                               octo_cuda_stream *s)
{
    ARG_CHECK(d_out && d_x && d_w && T >= 0 && C > 0 && C % 8 == 0 && eps >= 0.0f);
    ARG_CHECK(d_out != d_residual);
    if (T == 0) return OCTO_OK;
    CUDA_TRY(launch_pdl(add_rmsnorm_kernel, dim3((unsigned)T), dim3(NORM_THREADS),
                        octo_cuda_raw_stream(s), (uint4 *)d_out, (uint4 *)d_residual,
                        (const uint4 *)d_x, (const uint4 *)d_w, C / 8, eps));
    return OCTO_OK;
}
