/* SPDX-License-Identifier: Apache-2.0 */
/*
 * swiglu — the MLP activation of Qwen3 on the fused gate_up projection:
 * out = silu(gate) * up, with silu(g) = g / (1 + exp(-g)) in f32 and the
 * silu result rounded to bf16 first (as the reference model does), one
 * 16-byte vector per thread.
 *
 * It is not GELU and does not fuse the down projection.
 */
#include "cuda/swiglu.cuh"

__global__ void swiglu_kernel(uint4 *out, const uint4 *gu, int T, int fv)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)T * fv) return;
    long long t = i / fv, c = i % fv;
    float g[8], u[8];
    unpack8(gu[t * 2 * fv + c], g);
    unpack8(gu[t * 2 * fv + fv + c], u);
#pragma unroll
    for (int j = 0; j < 8; j++) g[j] = bf2f(f2bf(g[j] / (1.0f + __expf(-g[j])))) * u[j];
    out[i] = pack8(g);
}

octo_err octo_cuda_swiglu(octo_bf16 *d_out, const octo_bf16 *d_gu, int T, int F,
                          octo_cuda_stream *s)
{
    ARG_CHECK(d_out && d_gu && T >= 0 && F > 0 && F % 8 == 0);
    if (T == 0) return OCTO_OK;
    int fv = F / 8;
    long long n = (long long)T * fv;
    swiglu_kernel<<<(unsigned)((n + 255) / 256), 256, 0, octo_cuda_raw_stream(s)>>>(
        (uint4 *)d_out, (const uint4 *)d_gu, T, fv);
    CUDA_LAUNCHED("swiglu");
    return OCTO_OK;
}
