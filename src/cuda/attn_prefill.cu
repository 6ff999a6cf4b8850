/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_prefill — causal attention for prompt (and chunked-prefill) tokens
 * of a variable-length batch, reading K/V from the paged cache, so a
 * prompt may extend an already cached prefix: the checked wrapper
 * octo_cuda_attn_prefill, which runs the v4 kernel (attn_prefill_v4.cu,
 * 32 rows per warp) for D 64 and 128, and the previous kernel, v3, kept
 * here for D = 256 and for block sizes that are not powers of two (tests
 * force it on every shape with octo_cuda_attn_prefill_set_version).
 *
 * v3: a block takes 64 query rows of one sequence and one head; each of
 * its 4 warps owns 16 rows. Per 64-key tile: the block stages K and V in
 * shared memory, each warp computes S = Q K^T with bf16 tensor cores
 * (mma.sync m16n8k16 fed by ldmatrix, f32 accumulation), applies the
 * causal mask and an online softmax in f32 on the accumulator registers,
 * and adds P V (P rounded to bf16, straight from registers) into f32
 * output registers (FlashAttention-2 style). Tiles past a warp's last
 * position are skipped. Its K/V loads are plain 16-byte loads, not
 * overlapped with the products of the same block (v4 fixes that).
 */
#include <stdlib.h>

#include "cuda/attn_prefill.cuh"

/* ==== kernel ==== */

/* Fragment layouts (PTX ISA, mma.m16n8k16): with g = lane / 4 and
 * t = lane % 4, an accumulator tile holds rows g (c0, c1) and g + 8 (c2,
 * c3) at columns 2t, 2t + 1; two adjacent S tiles (keys 16kk .. 16kk + 15)
 * are exactly the A fragment of P for the P.V product, so P never leaves
 * registers. */
template <int D>
__global__ void __launch_bounds__(PRE_THREADS)
attn_prefill_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                    const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, int block_size, int K,
                    const int32_t *block_tables, int max_blocks, const int32_t *cu_q,
                    const int32_t *seq_lens, int H, float scale)
{
    constexpr int LD = D + 8, DV = D / 8, NT = PRE_BK / 8, NO = D / 8;
    extern __shared__ __align__(128) unsigned char smem[];
    __nv_bfloat16 *Qs = (__nv_bfloat16 *)smem;
    __nv_bfloat16 *Ks = Qs + PRE_BQ * LD;
    __nv_bfloat16 *Vs = Ks + PRE_BK * LD;

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
    int g = lane >> 2, t = lane & 3;

    for (int i = threadIdx.x; i < PRE_BQ * DV; i += PRE_THREADS) {
        int r = i / DV, c = i % DV;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (r < rows)
            v = *((const uint4 *)(q + (long long)(q0 + tile * PRE_BQ + r) * q_stride +
                                  (long long)h * D) + c);
        *(uint4 *)(Qs + r * LD + c * 8) = v;
    }

    const float sl2 = scale * 1.4426950408889634f; /* exp(x) = exp2(x log2 e) */
    int pos0 = p0 + warp * 16 + g, pos1 = pos0 + 8;    /* this lane's two rows */
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    float o[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    int warp_last = min(p0 + warp * 16 + 15, last);

    /* ldmatrix row addresses: matrix l / 8, row l % 8 */
    int lr = lane & 7, lm = lane >> 3;
    const __nv_bfloat16 *qa = Qs + (warp * 16 + lr + 8 * (lm & 1)) * LD + 8 * (lm >> 1);
    const __nv_bfloat16 *ka = Ks + (lr + 8 * (lm >> 1)) * LD + 8 * (lm & 1);
    const __nv_bfloat16 *va = Vs + (lr + 8 * (lm & 1)) * LD + 8 * (lm >> 1);

    for (int k0 = 0; k0 <= last; k0 += PRE_BK) {
        __syncthreads(); /* Q stored; previous K/V tile fully used */
        for (int i = threadIdx.x; i < PRE_BK * DV; i += PRE_THREADS) {
            int j = i / DV, c = i % DV, key = k0 + j;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
            if (key <= last) {
                long long blk = bt[key / block_size];
                long long off = ((blk * block_size + key % block_size) * K + kvh) * D + c * 8;
                kv = *(const uint4 *)(kc + off);
                vv = *(const uint4 *)(vc + off);
            }
            *(uint4 *)(Ks + j * LD + c * 8) = kv;
            *(uint4 *)(Vs + j * LD + c * 8) = vv;
        }
        __syncthreads();
        if (k0 > warp_last) continue; /* whole tile masked for this warp */

        /* S = Q K^T: 16 rows x 64 keys per warp */
        float s[NT][4];
#pragma unroll
        for (int j = 0; j < NT; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t a[4];
            ldsm_x4(a, qa + kk * 16);
#pragma unroll
            for (int jj = 0; jj < NT / 2; jj++) {
                uint32_t bk[4];
                ldsm_x4(bk, ka + jj * 16 * LD + kk * 16);
                mma_bf16(s[2 * jj], a, bk[0], bk[1]);
                mma_bf16(s[2 * jj + 1], a, bk[2], bk[3]);
            }
        }

        /* causal mask, online softmax in the log2 domain */
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = k0 + 8 * j + 2 * t + (e & 1);
                int pos = e < 2 ? pos0 : pos1;
                float v = (key <= pos && key <= last) ? s[j][e] * sl2 : -INFINITY;
                s[j][e] = v;
                if (e < 2) mx0 = fmaxf(mx0, v);
                else mx1 = fmaxf(mx1, v);
            }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
        }
        float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
        float al0 = n0 == -INFINITY ? 1.0f : exp2f(m0 - n0);
        float al1 = n1 == -INFINITY ? 1.0f : exp2f(m1 - n1);
        m0 = n0, m1 = n1;
        l0 *= al0, l1 *= al1;
#pragma unroll
        for (int n = 0; n < NO; n++) o[n][0] *= al0, o[n][1] *= al0, o[n][2] *= al1, o[n][3] *= al1;
        uint32_t pa[PRE_BK / 16][4];
#pragma unroll
        for (int j = 0; j < NT; j++) {
            float e0 = m0 == -INFINITY ? 0.0f : exp2f(s[j][0] - m0);
            float e1 = m0 == -INFINITY ? 0.0f : exp2f(s[j][1] - m0);
            float e2 = m1 == -INFINITY ? 0.0f : exp2f(s[j][2] - m1);
            float e3 = m1 == -INFINITY ? 0.0f : exp2f(s[j][3] - m1);
            uint32_t lo = pack_bf16x2(e0, e1), hi = pack_bf16x2(e2, e3);
            /* sum what the product will use: the bf16-rounded values */
            __nv_bfloat162 blo = *reinterpret_cast<__nv_bfloat162 *>(&lo);
            __nv_bfloat162 bhi = *reinterpret_cast<__nv_bfloat162 *>(&hi);
            float2 flo = __bfloat1622float2(blo), fhi = __bfloat1622float2(bhi);
            l0 += flo.x + flo.y;
            l1 += fhi.x + fhi.y;
            pa[j / 2][(j & 1) * 2 + 0] = lo;
            pa[j / 2][(j & 1) * 2 + 1] = hi;
        }

        /* O += P V */
#pragma unroll
        for (int kk = 0; kk < PRE_BK / 16; kk++) {
#pragma unroll
            for (int nn = 0; nn < NO / 2; nn++) {
                uint32_t bv[4];
                ldsm_x4_t(bv, va + kk * 16 * LD + nn * 16);
                mma_bf16(o[2 * nn], pa[kk], bv[0], bv[1]);
                mma_bf16(o[2 * nn + 1], pa[kk], bv[2], bv[3]);
            }
        }
    }

#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        l0 += __shfl_xor_sync(0xffffffffu, l0, off);
        l1 += __shfl_xor_sync(0xffffffffu, l1, off);
    }
    float i0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    int r0 = warp * 16 + g, r1 = r0 + 8;
    __nv_bfloat16 *d0 = out + ((long long)(q0 + tile * PRE_BQ + r0) * H + h) * D + 2 * t;
    __nv_bfloat16 *d1 = out + ((long long)(q0 + tile * PRE_BQ + r1) * H + h) * D + 2 * t;
#pragma unroll
    for (int n = 0; n < NO; n++) {
        if (r0 < rows)
            *(__nv_bfloat162 *)(d0 + n * 8) = __floats2bfloat162_rn(o[n][0] * i0, o[n][1] * i0);
        if (r1 < rows)
            *(__nv_bfloat162 *)(d1 + n * 8) = __floats2bfloat162_rn(o[n][2] * i1, o[n][3] * i1);
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

/* 3: the v3 kernel for every shape; 5 (the default): the v4 kernel (32
 * rows per warp) where it applies. Set only by tests that check both. */
static int prefill_version = 5;

void octo_cuda_attn_prefill_set_version(int v) { prefill_version = v == 3 ? 3 : 5; }

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
    cudaStream_t st = octo_cuda_raw_stream(s);
    __nv_bfloat16 *out = (__nv_bfloat16 *)d_out;
    const __nv_bfloat16 *q = (const __nv_bfloat16 *)d_q;
    /* v4: power-of-two blocks (shifts), 16-byte output rows; its grid.y
     * counts tiles of >= 32 rows */
    int bs = kv->block_size;
    if (prefill_version != 3 && kv->D <= 128 && (bs & (bs - 1)) == 0 &&
        ((uintptr_t)d_out & 15) == 0 && (max_q_len + 31) / 32 <= 65535)
        return prefill_v4_launch(out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                                 d_seq_lens, B, H, max_q_len, scale, 2, st);
    dim3 grid((unsigned)((max_q_len + PRE_BQ - 1) / PRE_BQ), (unsigned)H, (unsigned)B);
    if (kv->D == 64)
        return launch<64>(grid, st, out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                          d_seq_lens, H, scale);
    if (kv->D == 128)
        return launch<128>(grid, st, out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                           d_seq_lens, H, scale);
    return launch<256>(grid, st, out, q, q_stride, kv, d_block_tables, max_blocks, d_cu_q,
                       d_seq_lens, H, scale);
}
