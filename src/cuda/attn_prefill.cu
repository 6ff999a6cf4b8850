/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_prefill — causal attention for prompt (and chunked-prefill) tokens
 * of a variable-length batch, reading K/V from the paged cache, so a
 * prompt may extend an already cached prefix. A block takes 64 query rows
 * of one sequence and one head; each of its 4 warps owns 16 rows. Per
 * 64-key tile: the block stages K and V in shared memory, each warp
 * computes S = Q K^T with bf16 tensor cores (WMMA 16x16x16, f32
 * accumulation), applies the causal mask and an online softmax in f32
 * (running max and sum per row), and adds P V (P rounded to bf16) into an
 * f32 output tile in shared memory. Tiles past a warp's last position are
 * skipped.
 *
 * It is a straightforward tensor-core kernel, not a Hopper wgmma/TMA
 * pipeline: K/V loads are not overlapped with the products.
 */
#include <mma.h>

#include "cuda/attn_prefill.cuh"

using namespace nvcuda;

template <int D>
__global__ void __launch_bounds__(PRE_THREADS)
attn_prefill_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                    const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, int block_size, int K,
                    const int32_t *block_tables, int max_blocks, const int32_t *cu_q,
                    const int32_t *seq_lens, int H, float scale)
{
    constexpr int LQ = D + 8, LS = PRE_BK + 4, LP = PRE_BK + 8, LO = D + 4;
    constexpr int DV = D / 8;
    extern __shared__ __align__(128) unsigned char smem[];
    __nv_bfloat16 *Qs = (__nv_bfloat16 *)smem;
    __nv_bfloat16 *Ks = Qs + PRE_BQ * LQ;
    __nv_bfloat16 *Vs = Ks + PRE_BK * LQ;
    float *Ss = (float *)(Vs + PRE_BK * LQ);
    __nv_bfloat16 *Ps = (__nv_bfloat16 *)(Ss + PRE_BQ * LS);
    float *Os = (float *)(Ps + PRE_BQ * LP);

    int tile = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int q0 = cu_q[b], qlen = cu_q[b + 1] - q0;
    if (tile * PRE_BQ >= qlen) return;
    int ctx = seq_lens[b];
    int kvh = h / (H / K);
    int p0 = ctx - qlen + tile * PRE_BQ;                 /* position of row 0 */
    int rows = min(PRE_BQ, qlen - tile * PRE_BQ);
    int last = min(p0 + rows - 1, ctx - 1);              /* last key needed */
    const int32_t *bt = block_tables + (long long)b * max_blocks;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    for (int i = threadIdx.x; i < PRE_BQ * DV; i += PRE_THREADS) {
        int r = i / DV, c = i % DV;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (r < rows)
            v = *((const uint4 *)(q + (long long)(q0 + tile * PRE_BQ + r) * q_stride +
                                  (long long)h * D) + c);
        *(uint4 *)(Qs + r * LQ + c * 8) = v;
    }
    for (int i = threadIdx.x; i < PRE_BQ * LO; i += PRE_THREADS) Os[i] = 0.0f;

    /* lane pairs own rows: row r = warp*16 + lane/2, columns half*32.. */
    int r = warp * 16 + (lane >> 1), half = lane & 1;
    int pos = p0 + r;
    float m = -INFINITY, l = 0.0f;
    int warp_last = min(p0 + warp * 16 + 15, last);      /* last key any row of the warp sees */

    for (int k0 = 0; k0 <= last; k0 += PRE_BK) {
        __syncthreads(); /* previous K/V tile fully used */
        for (int i = threadIdx.x; i < PRE_BK * DV; i += PRE_THREADS) {
            int j = i / DV, c = i % DV, key = k0 + j;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
            if (key <= last) {
                long long blk = bt[key / block_size];
                long long off = ((blk * block_size + key % block_size) * K + kvh) * D + c * 8;
                kv = *(const uint4 *)(kc + off);
                vv = *(const uint4 *)(vc + off);
            }
            *(uint4 *)(Ks + j * LQ + c * 8) = kv;
            *(uint4 *)(Vs + j * LQ + c * 8) = vv;
        }
        __syncthreads();
        if (k0 > warp_last) continue; /* whole tile masked for this warp */

        /* S = Q K^T for the warp's 16 rows */
        {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[PRE_BK / 16];
#pragma unroll
            for (int j = 0; j < PRE_BK / 16; j++) wmma::fill_fragment(acc[j], 0.0f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
                wmma::load_matrix_sync(a, Qs + warp * 16 * LQ + kk * 16, LQ);
#pragma unroll
                for (int j = 0; j < PRE_BK / 16; j++) {
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> bk;
                    wmma::load_matrix_sync(bk, Ks + j * 16 * LQ + kk * 16, LQ);
                    wmma::mma_sync(acc[j], a, bk, acc[j]);
                }
            }
#pragma unroll
            for (int j = 0; j < PRE_BK / 16; j++)
                wmma::store_matrix_sync(Ss + warp * 16 * LS + j * 16, acc[j], LS,
                                        wmma::mem_row_major);
        }
        __syncwarp();

        /* online softmax on row r, columns half*32 .. half*32+31 */
        {
            float sv[32];
            float mx = -INFINITY;
#pragma unroll
            for (int c = 0; c < 32; c++) {
                int col = half * 32 + c, key = k0 + col;
                float v = Ss[r * LS + col] * scale;
                sv[c] = (key <= pos && key <= last) ? v : -INFINITY;
                mx = fmaxf(mx, sv[c]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            float mn = fmaxf(m, mx);
            float alpha = mn == -INFINITY ? 1.0f : __expf(m - mn);
            float sum = 0.0f;
#pragma unroll
            for (int c = 0; c < 32; c++) {
                float p = mn == -INFINITY ? 0.0f : __expf(sv[c] - mn);
                __nv_bfloat16 pb = f2bf(p);
                Ps[r * LP + half * 32 + c] = pb;
                sum += bf2f(pb);
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            l = l * alpha + sum;
            m = mn;
            for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++) Os[r * LO + c] *= alpha;
        }
        __syncwarp();

        /* O += P V */
#pragma unroll
        for (int n = 0; n < D / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
            wmma::load_matrix_sync(o, Os + warp * 16 * LO + n * 16, LO, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < PRE_BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> bv;
                wmma::load_matrix_sync(a, Ps + warp * 16 * LP + kk * 16, LP);
                wmma::load_matrix_sync(bv, Vs + kk * 16 * LQ + n * 16, LQ);
                wmma::mma_sync(o, a, bv, o);
            }
            wmma::store_matrix_sync(Os + warp * 16 * LO + n * 16, o, LO, wmma::mem_row_major);
        }
        __syncwarp();
    }

    if (r < rows) {
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
        __nv_bfloat16 *dst = out + ((long long)(q0 + tile * PRE_BQ + r) * H + h) * D;
        for (int c = half * (D / 2); c < (half + 1) * (D / 2); c++)
            dst[c] = f2bf(Os[r * LO + c] * inv);
    }
}

template <int D>
static octo_err launch(dim3 grid, cudaStream_t st, __nv_bfloat16 *out, const __nv_bfloat16 *q,
                       int q_stride, const octo_cuda_kv *kv, const int32_t *bt, int max_blocks,
                       const int32_t *cu_q, const int32_t *sl, int H, float scale)
{
    size_t smem = prefill_smem_bytes(D);
    CUDA_TRY(cudaFuncSetAttribute(attn_prefill_kernel<D>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    attn_prefill_kernel<D><<<grid, PRE_THREADS, smem, st>>>(
        out, q, q_stride, (const __nv_bfloat16 *)kv->d_k_cache,
        (const __nv_bfloat16 *)kv->d_v_cache, kv->block_size, kv->K, bt, max_blocks, cu_q, sl,
        H, scale);
    CUDA_LAUNCHED("attn_prefill");
    return OCTO_OK;
}

octo_err octo_cuda_attn_prefill(octo_bf16 *d_out, const octo_bf16 *d_q, int q_stride,
                                const octo_cuda_kv *kv, const int32_t *d_block_tables,
                                int max_blocks, const int32_t *d_cu_q,
                                const int32_t *d_seq_lens, int B, int H, int max_q_len,
                                float scale, octo_cuda_stream *s)
{
    ARG_CHECK(d_out && d_q && kv && kv->d_k_cache && kv->d_v_cache && d_block_tables);
    ARG_CHECK(d_cu_q && d_seq_lens && B >= 0 && H > 0 && kv->K > 0 && H % kv->K == 0);
    ARG_CHECK(kv->D == 64 || kv->D == 128 || kv->D == 256);
    ARG_CHECK(q_stride >= H * kv->D && q_stride % 8 == 0 && kv->block_size > 0);
    ARG_CHECK(max_q_len >= 0 && max_blocks > 0);
    if (B == 0 || max_q_len == 0) return OCTO_OK;
    dim3 grid((unsigned)((max_q_len + PRE_BQ - 1) / PRE_BQ), (unsigned)H, (unsigned)B);
    cudaStream_t st = octo_cuda_raw_stream(s);
    __nv_bfloat16 *out = (__nv_bfloat16 *)d_out;
    const __nv_bfloat16 *q = (const __nv_bfloat16 *)d_q;
    if (kv->D == 64)
        return launch<64>(grid, st, out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                          d_seq_lens, H, scale);
    if (kv->D == 128)
        return launch<128>(grid, st, out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                           d_seq_lens, H, scale);
    return launch<256>(grid, st, out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                       d_seq_lens, H, scale);
}
