/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemv — batch-1..8 matrix-vector products against bf16 weights [N, C]:
 * the decode-time linear layers, which only have to stream the weight once
 * from device memory. One warp per output row; each lane keeps
 * GEMV_UNROLL 16-byte weight loads in flight (streaming, evict-first) and
 * reads the activations through the read-only cache; f32 accumulation,
 * one warp reduction per batch row.
 *
 * It is not a general GEMM (see gemm.cu for prefill) and has no split-K:
 * the shapes it serves (N >= 1024) give enough rows to fill the GPU.
 */
#include "cuda/gemv.cuh"

template <int NB, bool F32OUT>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
gemv_kernel(void *y, int ys, const uint4 *x, int xs_v, const uint4 *w, int N, int cv)
{
    int lane = threadIdx.x & 31;
    long long row = (long long)blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= N) return;
    const uint4 *wr = w + row * cv;
    float acc[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) acc[b] = 0.0f;
    for (int c0 = lane; c0 < cv; c0 += 32 * GEMV_UNROLL) {
        uint4 wv[GEMV_UNROLL];
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; u++) {
            int c = c0 + u * 32;
            wv[u] = c < cv ? __ldcs(wr + c) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; u++) {
            int c = c0 + u * 32;
            if (c >= cv) break;
            float wf[8];
            unpack8(wv[u], wf);
#pragma unroll
            for (int b = 0; b < NB; b++) {
                float xf[8];
                unpack8(__ldg(x + (long long)b * xs_v + c), xf);
#pragma unroll
                for (int i = 0; i < 8; i++) acc[b] = fmaf(wf[i], xf[i], acc[b]);
            }
        }
    }
#pragma unroll
    for (int b = 0; b < NB; b++) {
        float v = warp_sum(acc[b]);
        if (lane == b) {
            if (F32OUT) ((float *)y)[(long long)b * ys + row] = v;
            else ((__nv_bfloat16 *)y)[(long long)b * ys + row] = f2bf(v);
        }
    }
}

template <bool F32OUT>
static void launch(int B, unsigned blocks, cudaStream_t st, void *y, int ys, const uint4 *x,
                   int xs_v, const uint4 *w, int N, int cv)
{
    dim3 g(blocks), t(GEMV_WARPS * 32);
    switch (B) {
    case 1: gemv_kernel<1, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    case 2: gemv_kernel<2, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    case 3: gemv_kernel<3, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    case 4: gemv_kernel<4, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    case 5: gemv_kernel<5, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    case 6: gemv_kernel<6, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    case 7: gemv_kernel<7, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    default: gemv_kernel<8, F32OUT><<<g, t, 0, st>>>(y, ys, x, xs_v, w, N, cv); break;
    }
}

octo_err octo_cuda_gemv(void *d_y, int y_stride, bool out_f32, const octo_bf16 *d_x,
                        int x_stride, const octo_bf16 *d_w, int B, int N, int C,
                        octo_cuda_stream *s)
{
    ARG_CHECK(d_y && d_x && d_w && B >= 1 && B <= 8 && N > 0 && C > 0 && C % 8 == 0);
    ARG_CHECK(x_stride >= C && x_stride % 8 == 0 && y_stride >= N);
    ARG_CHECK(((uintptr_t)d_x & 15) == 0 && ((uintptr_t)d_w & 15) == 0);
    unsigned blocks = (unsigned)((N + GEMV_WARPS - 1) / GEMV_WARPS);
    cudaStream_t st = octo_cuda_raw_stream(s);
    if (out_f32)
        launch<true>(B, blocks, st, d_y, y_stride, (const uint4 *)d_x, x_stride / 8,
                     (const uint4 *)d_w, N, C / 8);
    else
        launch<false>(B, blocks, st, d_y, y_stride, (const uint4 *)d_x, x_stride / 8,
                      (const uint4 *)d_w, N, C / 8);
    CUDA_LAUNCHED("gemv");
    return OCTO_OK;
}
