/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemv — batch-1..8 matrix-vector products against bf16 weights [N, C]:
 * the decode-time linear layers, which only have to stream the weight once
 * from device memory. Each warp takes GEMV_ROWS weight rows and keeps
 * GEMV_ROWS x GEMV_UNROLL 16-byte weight loads per lane in flight
 * (streaming, evict-first); each activation vector it reads through the
 * read-only cache serves all of its rows, so larger batches do not turn
 * into L1 traffic. f32 accumulation, one warp reduction per output.
 *
 * It is not a general GEMM (see gemm.cu for prefill) and has no split-K:
 * the shapes it serves (N >= 1024) give enough rows to fill the GPU.
 */
#include "cuda/gemv.cuh"

template <int NB, bool F32OUT>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
gemv_kernel(void *y, int ys, const uint4 *x, int xs_v, const uint4 *w, int N, int cv)
{
    constexpr int R = GEMV_ROWS(NB), U = GEMV_UNROLL(NB);
    int lane = threadIdx.x & 31;
    long long row0 = ((long long)blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5)) * R;
    if (row0 >= N) return;
    long long rows[R];
    bool ok[R];
    float acc[R][NB];
#pragma unroll
    for (int r = 0; r < R; r++) {
        rows[r] = row0 + r;
        ok[r] = rows[r] < N;
#pragma unroll
        for (int b = 0; b < NB; b++) acc[r][b] = 0.0f;
    }
    for (int c0 = lane; c0 < cv; c0 += 32 * U) {
        uint4 wv[R][U];
        gemv_load<R, U>(wv, w, cv, rows, ok, c0);
        gemv_fma<NB, R, U>(acc, wv, x, xs_v, cv, c0);
    }
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int b = 0; b < NB; b++) {
            float v = warp_sum(acc[r][b]);
            if (lane == b && ok[r]) {
                long long o = (long long)b * ys + rows[r];
                if (F32OUT) ((float *)y)[o] = v;
                else ((__nv_bfloat16 *)y)[o] = f2bf(v);
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
    int rows_per_block = GEMV_WARPS * GEMV_ROWS(B);
    unsigned blocks = (unsigned)((N + rows_per_block - 1) / rows_per_block);
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
