/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_decode — paged attention for decode steps (one query token per
 * sequence), flash-decoding style. A block takes one kv head, up to GMAX
 * of the query heads that share it (GQA: each K/V row is loaded once for
 * all of them) and one partition of at most DEC_MAX_PART cached tokens.
 * Groups of D/8 lanes each load one token's 16-byte K and V vectors,
 * several tokens in flight, and keep an online softmax (running max, sum
 * and output, f32) for their tokens; the groups' states are merged through
 * shuffles and shared memory at the end (one pass over K/V). When a
 * sequence spans several partitions, a second kernel merges the partial
 * results with their (max, sum) statistics.
 *
 * This CUDA-core kernel (version 3) serves small batches; from B * H >=
 * DEC4_MIN_BH the partition pass is the tensor-core kernel of
 * attn_decode_tc.cu (version 4; octo_cuda_attn_decode_set_version).
 *
 * It does not handle several query tokens per sequence (speculative
 * decoding goes through attn_prefill), ALiBi, sliding windows or fp8 KV.
 */
#include <stdlib.h>

#include "cuda/attn_decode.cuh"

template <int D, int GMAX>
__global__ void __launch_bounds__(DEC_THREADS)
attn_decode_kernel(__nv_bfloat16 *out, float *part_o, float *part_ml, const __nv_bfloat16 *q,
                   int q_stride, const __nv_bfloat16 *kc, const __nv_bfloat16 *vc,
                   int block_size, int K, const int32_t *block_tables, int max_blocks,
                   const int32_t *seq_lens, int H, int G, int part_len, int nparts, float scale)
{
    using S = dec_shape<D, GMAX>;
    constexpr int LPT = S::LPT, NGRP = S::NGRP, TPW = S::TPW, U = S::U;
    __shared__ dec_smem<D, GMAX> sm;
    pdl_enter();

    int ngroups = (G + GMAX - 1) / GMAX;
    int kvh = blockIdx.x / ngroups, sub = blockIdx.x % ngroups;
    int h0 = kvh * G + sub * GMAX, ng = min(GMAX, G - sub * GMAX);
    int b = blockIdx.y, z = blockIdx.z;
    int L = seq_lens[b];
    int start = z * part_len;
    if (start >= L && z > 0) return;
    int n = max(0, min(L, start + part_len) - start);
    const int32_t *bt = block_tables + (long long)b * max_blocks;
    int li = threadIdx.x % LPT, grp = threadIdx.x / LPT;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    float qf[GMAX][8];
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        if (g < ng) {
            unpack8(*((const uint4 *)(q + (long long)b * q_stride + (long long)(h0 + g) * D) + li),
                    qf[g]);
#pragma unroll
            for (int i = 0; i < 8; i++) qf[g][i] *= scale;
        }
    }
    float m[GMAX], l[GMAX], acc[GMAX][8];
    dec_state_init<GMAX>(m, l, acc);

    /* One pass with an online softmax per lane group: U tokens' K and V
     * vectors in flight, scores reduced over the group's lanes (t0 is
     * uniform across a warp so that the shuffles see every lane). */
    int gin = grp - warp * TPW;
    for (int t0 = warp * TPW; t0 < n; t0 += NGRP * U) {
        uint4 kv[U], vv[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int t = t0 + gin + u * NGRP;
            kv[u] = vv[u] = make_uint4(0, 0, 0, 0);
            if (t < n) {
                kv[u] = __ldg(kv_vec(kc, bt, start + t, block_size, K, kvh, D, li));
                vv[u] = __ldg(kv_vec(vc, bt, start + t, block_size, K, kvh, D, li));
            }
        }
        dec_online_step<GMAX, U, LPT, NGRP>(qf, kv, vv, t0 + gin, n, m, l, acc);
    }

    /* merge the lane groups of a warp, then the warps through shared memory */
    dec_merge_warp<GMAX, LPT, D>(m, l, acc, lane, li, warp, sm);
    __syncthreads();
    dec_block_out<GMAX, D>(sm, ng, (long long)b * H + h0, z, nparts == 1, nparts, out, part_o,
                           part_ml);
}

__global__ void attn_decode_combine(__nv_bfloat16 *out, const float *part_o,
                                    const float *part_ml, const int32_t *seq_lens, int H, int D,
                                    int part_len, int nparts)
{
    pdl_enter();
    int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
    long long bh = (long long)b * H + h;
    int np = max(1, min(nparts, (seq_lens[b] + part_len - 1) / part_len));
    const float *ml = part_ml + bh * nparts * 2;
    float M = -INFINITY;
    for (int p = 0; p < np; p++) M = fmaxf(M, ml[2 * p]);
    float num = 0.0f, den = 0.0f;
    for (int p = 0; p < np; p++) {
        float l = ml[2 * p + 1];
        if (l <= 0.0f) continue;
        float w = __expf(ml[2 * p] - M) * l;
        num += w * part_o[(bh * nparts + p) * D + d];
        den += w;
    }
    out[bh * D + d] = f2bf(den > 0.0f ? num / den : 0.0f);
}

/* ==== host side ==== */

/* 3: the CUDA-core version for every batch, 4: version 4 wherever it
 * applies, 5 (the default): version 4 from B * H >= DEC4_MIN_BH, else 3.
 * Set only by tests that check both versions on the same shapes. */
static int decode_version = 5;

void octo_cuda_attn_decode_set_version(int v)
{
    decode_version = v == 3 || v == 4 ? v : 5;
}

/* Version 4's partition length. */
static int part4_len(int B, int H, int max_seq_len) { return dec4_part_len(B, H, max_seq_len); }

size_t octo_cuda_attn_decode_workspace(int B, int H, int D, int max_seq_len)
{
    if (B <= 0 || H <= 0 || D <= 0 || max_seq_len <= 0) return 0;
    /* the larger of the two versions' partials */
    int part = dec_part_len(B, H, max_seq_len), part4 = part4_len(B, H, max_seq_len);
    int nparts = (max_seq_len + part - 1) / part;
    int nparts4 = (max_seq_len + part4 - 1) / part4;
    if (nparts4 > nparts) nparts = nparts4;
    if (nparts <= 1) return 0;
    size_t per = (size_t)B * H * nparts;
    return per * D * sizeof(float) + per * 2 * sizeof(float) + 256;
}

/* Version 4 for this call? */
static bool use_v4(int B, int H, const octo_cuda_kv *kv)
{
    if (decode_version == 3 || kv->block_size % DEC4_TILE) return false;
    return decode_version == 4 || (long long)B * H >= DEC4_MIN_BH;
}

template <int D, int GMAX>
static void launch_dec(dim3 grid, cudaStream_t st, __nv_bfloat16 *out, float *po, float *pml,
                       const __nv_bfloat16 *q, int q_stride, const octo_cuda_kv *kv,
                       const int32_t *bt, int max_blocks, const int32_t *sl, int H, int G,
                       int part, int nparts, float scale)
{
    cudaError_t e = launch_pdl(attn_decode_kernel<D, GMAX>, grid, dim3(DEC_THREADS), st, out, po,
                               pml, q, q_stride, (const __nv_bfloat16 *)kv->d_k_cache,
                               (const __nv_bfloat16 *)kv->d_v_cache, kv->block_size, kv->K, bt,
                               max_blocks, sl, H, G, part, nparts, scale);
    (void)e; /* reported by CUDA_LAUNCHED after the dispatch */
}

template <int D>
static void launch_d(int G, dim3 grid, cudaStream_t st, __nv_bfloat16 *out, float *po,
                     float *pml, const __nv_bfloat16 *q, int q_stride, const octo_cuda_kv *kv,
                     const int32_t *bt, int max_blocks, const int32_t *sl, int H, int part,
                     int nparts, float scale)
{
    if (G <= 4)
        launch_dec<D, 4>(grid, st, out, po, pml, q, q_stride, kv, bt, max_blocks, sl, H, G,
                         part, nparts, scale);
    else
        launch_dec<D, 8>(grid, st, out, po, pml, q, q_stride, kv, bt, max_blocks, sl, H, G,
                         part, nparts, scale);
}

octo_err octo_cuda_attn_decode(octo_bf16 *d_out, const octo_bf16 *d_q, int q_stride,
                               const octo_cuda_kv *kv, const int32_t *d_block_tables,
                               int max_blocks, const int32_t *d_seq_lens, int B, int H,
                               int max_seq_len, float scale, void *d_work,
                               octo_cuda_stream *s)
{
    ARG_CHECK(d_out && d_q && kv && kv->d_k_cache && kv->d_v_cache && d_block_tables);
    ARG_CHECK(d_seq_lens && B >= 0 && H > 0 && kv->K > 0 && H % kv->K == 0);
    ARG_CHECK(kv->D == 64 || kv->D == 128 || kv->D == 256);
    ARG_CHECK(q_stride >= H * kv->D && q_stride % 8 == 0 && kv->block_size > 0);
    ARG_CHECK(max_seq_len > 0 && max_blocks * kv->block_size >= max_seq_len);
    if (B == 0) return OCTO_OK;
    int D = kv->D, G = H / kv->K;
    bool v4 = use_v4(B, H, kv);
    int part = v4 ? part4_len(B, H, max_seq_len) : dec_part_len(B, H, max_seq_len);
    int nparts = (max_seq_len + part - 1) / part;
    float *po = NULL, *pml = NULL;
    if (nparts > 1) {
        ARG_CHECK(d_work != NULL);
        po = (float *)d_work;
        pml = po + (size_t)B * H * nparts * D;
    }
    int ngroups = (G + 7) / 8;
    if (G <= 4) ngroups = 1;
    dim3 grid((unsigned)(kv->K * ngroups), (unsigned)B, (unsigned)nparts);
    cudaStream_t st = octo_cuda_raw_stream(s);
    __nv_bfloat16 *out = (__nv_bfloat16 *)d_out;
    const __nv_bfloat16 *q = (const __nv_bfloat16 *)d_q;
    if (v4) {
        octo_err rc = dec4_launch(out, po, pml, q, q_stride, kv, d_block_tables, max_blocks,
                                  d_seq_lens, B, H, part, nparts, scale, 1, st);
        if (rc) return rc;
    } else if (D == 64)
        launch_d<64>(G, grid, st, out, po, pml, q, q_stride, kv, d_block_tables, max_blocks,
                     d_seq_lens, H, part, nparts, scale);
    else if (D == 128)
        launch_d<128>(G, grid, st, out, po, pml, q, q_stride, kv, d_block_tables, max_blocks,
                      d_seq_lens, H, part, nparts, scale);
    else
        launch_d<256>(G, grid, st, out, po, pml, q, q_stride, kv, d_block_tables, max_blocks,
                      d_seq_lens, H, part, nparts, scale);
    CUDA_LAUNCHED("attn_decode");
    if (nparts > 1) {
        CUDA_TRY(launch_pdl(attn_decode_combine, dim3((unsigned)H, (unsigned)B),
                            dim3((unsigned)D), st, out, (const float *)po, (const float *)pml,
                            d_seq_lens, H, D, part, nparts));
    }
    return OCTO_OK;
}
