/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_decode_tc — the tensor-core paged decode attention kernel for large
 * batches (version 4 of octo_cuda_attn_decode; attn_decode.cu chooses it).
 *
 * A block (4 warps) owns one kv head, up to 8 of the query heads that
 * share it and one partition of up to DEC4_MAX_PART cached tokens of one
 * sequence. Every warp runs its own pipeline, with no block barrier until
 * the end: it takes the partition's 16-token tiles w, w + 4, w + 8, ...,
 * copies each tile's K and V rows (16 x D bf16 each, rows padded by 16
 * bytes) with cp.async into a ring of DEC4_NST stages of its own, so that
 * DEC4_NST - 1 tiles are in flight while it computes one, and per tile
 * computes S = Q K^T with mma.sync m16n8k16 (the q heads are the M rows,
 * rows 8..15 zero), an online softmax in f32 (log2 domain) and O += P V
 * (P rounded to bf16). The block-table entries of a warp's tiles are read
 * once, one per lane. At the end the four warps' (max, sum, output) states
 * are merged through shared memory; with one partition the result is
 * written directly, otherwise as the same partials attn_decode_combine of
 * attn_decode.cu merges.
 *
 * PDL: seq_lens, the block table and the cache tiles whose tokens are all
 * older than L - 1 may be read before griddepcontrol.wait; q and every
 * write come after it.
 *
 * It needs a cache block size that is a multiple of 16 (a tile lies in one
 * cache block); it does not handle several query tokens per sequence.
 */
#include "cuda/attn_decode.cuh"
#include "cuda/attn_prefill.cuh"

/* c0, c1 (rows g, columns 2t, 2t+1 of a 16x8 f32 tile) += A . B where A
 * has rows 0..7 in a0 (k 2t..) and a2 (k 8+2t..) and zero rows 8..15. */
static __device__ __forceinline__ void mma_top(float *c, uint32_t a0, uint32_t a2, uint32_t b0,
                                               uint32_t b1)
{
    asm("{\n\t.reg .f32 j0, j1;\n\t" /* rows 8..15: dropped */
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,j0,j1}, {%2,%3,%4,%3}, {%5,%6}, {%0,%1,%7,%7};\n\t}\n"
        : "+f"(c[0]), "+f"(c[1])
        : "r"(a0), "r"(0u), "r"(a2), "r"(b0), "r"(b1), "f"(0.0f));
}

/* Issues the copies of one 16-token tile (cache row index row0 of its
 * token 0, rows K apart; `valid` tokens, the rest zero-filled) into the
 * stage at .shared address dst: K rows at dst, V rows at dst + TB. A lane
 * copies the same 16-byte column chunk of rows r0, r0 + RS, ...; rows past
 * `valid` still lie in the tile's cache block (valid addresses, not read). */
template <int D>
static __device__ __forceinline__ void dec4_issue(uint32_t dst, const __nv_bfloat16 *kc,
                                                  const __nv_bfloat16 *vc, long long row0,
                                                  int K, int valid, int lane)
{
    constexpr int CH = D / 8, RS = 32 / CH, PER = DEC4_TILE / RS;
    constexpr uint32_t ROWB = (D + 8) * 2, TB = DEC4_TILE * ROWB;
    const int r0 = lane / CH, p = lane % CH;
    const long long off = (row0 + (long long)r0 * K) * D + p * 8, step = (long long)RS * K * D;
    const __nv_bfloat16 *ks = kc + off, *vs = vc + off;
    const uint32_t d = dst + r0 * ROWB + p * 16;
#pragma unroll
    for (int i = 0; i < PER; i++) {
        bool ok = r0 + RS * i < valid;
        cp_async16(d + i * RS * ROWB, ks + i * step, ok);
        cp_async16(d + i * RS * ROWB + TB, vs + i * step, ok);
    }
}

/* One tile of a warp: S for its 16 tokens (lim = valid tokens), the online
 * softmax update of (m, l, o) and O += P V. sb: the stage's .shared address. */
template <int D>
static __device__ __forceinline__ void dec4_tile(uint32_t sb, const uint32_t (&qa)[D / 16][2],
                                                 float &m, float &l, float (&o)[D / 8][2],
                                                 int lim, int lane, float sl2)
{
    constexpr int LD = D + 8;
    constexpr uint32_t TB = DEC4_TILE * LD * 2;
    const int t = lane & 3, lr = lane & 7, lm = lane >> 3;
    const uint32_t ka = sb + ((lr + 8 * (lm >> 1)) * LD + 8 * (lm & 1)) * 2;
    const uint32_t va = sb + TB + ((lr + 8 * (lm & 1)) * LD + 8 * (lm >> 1)) * 2;
    float s[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
        uint32_t bk[4];
        ldsm_x4(bk, ka + ks * 32);
        mma_top(s[0], qa[ks][0], qa[ks][1], bk[0], bk[1]);
        mma_top(s[1], qa[ks][0], qa[ks][1], bk[2], bk[3]);
    }
    /* column (token) of s[i][e]: 8 i + 2 t + e */
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int e = 0; e < 2; e++)
            if (8 * i + 2 * t + e >= lim) s[i][e] = -INFINITY;
    float mx = fmaxf(fmaxf(s[0][0], s[0][1]), fmaxf(s[1][0], s[1][1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mn = fmaxf(m, mx);
    if (mn > m) { /* from -inf too: the factor is then 0, on zeros */
        const float al = fast_exp2((m - mn) * sl2);
        l *= al;
#pragma unroll
        for (int n = 0; n < D / 8; n++) o[n][0] *= al, o[n][1] *= al;
        m = mn;
    }
    const float z = mn == -INFINITY ? 0.0f : -mn * sl2;
    const float p00 = fast_exp2(fmaf(s[0][0], sl2, z)), p01 = fast_exp2(fmaf(s[0][1], sl2, z));
    const float p10 = fast_exp2(fmaf(s[1][0], sl2, z)), p11 = fast_exp2(fmaf(s[1][1], sl2, z));
    l += (p00 + p01) + (p10 + p11);
    const uint32_t pa0 = pack_bf16x2(p00, p01), pa2 = pack_bf16x2(p10, p11);
#pragma unroll
    for (int nn = 0; nn < D / 16; nn++) {
        uint32_t bv[4];
        ldsm_x4_t(bv, va + nn * 32);
        mma_top(o[2 * nn], pa0, pa2, bv[0], bv[1]);
        mma_top(o[2 * nn + 1], pa0, pa2, bv[2], bv[3]);
    }
}

/* Merges the 4 warps' states (fo [8][D], then m [8], l [8] at the start
 * of each warp's region, wb bytes apart) for the block's ng heads and
 * writes the output or the partition's partials. */
template <int D>
static __device__ __forceinline__ void dec4_finish(const unsigned char *smem, uint32_t wb,
                                                   __nv_bfloat16 *out, float *part_o,
                                                   float *part_ml, int b, int H, int h0, int ng,
                                                   int z, int nparts)
{
    for (int i = threadIdx.x; i < ng * D; i += DEC4_THREADS) {
        int g = i / D, d = i % D;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < DEC4_THREADS / 32; w++)
            M = fmaxf(M, ((const float *)(smem + w * wb))[8 * D + g]);
        float lt = 0.0f, acc = 0.0f;
#pragma unroll
        for (int w = 0; w < DEC4_THREADS / 32; w++) {
            const float *f = (const float *)(smem + w * wb);
            float mw = f[8 * D + g];
            float wt = mw == -INFINITY ? 0.0f : fast_exp2(mw - M);
            lt += f[8 * D + 8 + g] * wt;
            acc += f[g * D + d] * wt;
        }
        acc = lt > 0.0f ? acc / lt : 0.0f;
        long long bh = (long long)b * H + h0 + g;
        if (nparts == 1) {
            out[bh * D + d] = f2bf(acc);
        } else {
            part_o[(bh * nparts + z) * D + d] = acc;
            if (d == 0) { /* the combine pass works in natural-log units */
                part_ml[(bh * nparts + z) * 2] = M * 0.6931471805599453f;
                part_ml[(bh * nparts + z) * 2 + 1] = lt;
            }
        }
    }
}

/* grid (K * ceil(G / 8), B, nparts), DEC4_THREADS threads,
 * dec4_smem_bytes(D) of dynamic shared memory. part_len: a multiple of
 * 16, at most DEC4_MAX_PART; block_size a multiple of 16. early != 0:
 * seq_lens, the block table and the copies of old tiles come before
 * griddepcontrol.wait; early == 0: nothing does. */
template <int D>
__global__ void __launch_bounds__(DEC4_THREADS, 2)
attn_decode_tc_kernel(__nv_bfloat16 *out, float *part_o, float *part_ml,
                      const __nv_bfloat16 *q, int q_stride, const __nv_bfloat16 *kc,
                      const __nv_bfloat16 *vc, int block_size, int K,
                      const int32_t *block_tables, int max_blocks, const int32_t *seq_lens,
                      int H, int G, int part_len, int nparts, float scale, int early)
{
    constexpr int NST = DEC4_NST(D), NW = DEC4_THREADS / 32;
    constexpr uint32_t STB = 2 * DEC4_TILE * (D + 8) * 2, WB = NST * STB;
    extern __shared__ __align__(128) unsigned char smem[];
    asm volatile("griddepcontrol.launch_dependents;");
    if (!early) asm volatile("griddepcontrol.wait;" ::: "memory"); /* nothing read before */

    const int ngroups = (G + 7) >> 3;
    const int kvh = blockIdx.x / ngroups, sub = blockIdx.x % ngroups;
    const int h0 = kvh * G + sub * 8, ng = min(8, G - sub * 8);
    const int b = blockIdx.y, z = blockIdx.z;
    const int L = seq_lens[b], start = z * part_len;
    if (start >= L && z > 0) return;
    const int n = max(0, min(L, start + part_len) - start);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int ntiles = (n + DEC4_TILE - 1) / DEC4_TILE;
    const int mine = ntiles > warp ? (ntiles - 1 - warp) / NW + 1 : 0; /* <= 32 */
    const int32_t *bt = block_tables + (long long)b * max_blocks;
    /* lane i: the cache row of token 0 of this warp's tile i */
    long long my_row = 0;
    if (lane < mine) {
        int tok = start + (warp + NW * lane) * DEC4_TILE;
        my_row = ((long long)bt[tok / block_size] * block_size + tok % block_size) * K + kvh;
    }
    const uint32_t wbase = smem_addr(smem) + warp * WB;

    /* the first NST - 1 tiles: those of old tokens only before the wait */
    int pre = 0;
    if (early) {
        for (; pre < NST - 1 && pre < mine; pre++) {
            int tok0 = (warp + NW * pre) * DEC4_TILE;
            if (start + min(tok0 + DEC4_TILE, n) > L - 1) break;
            dec4_issue<D>(wbase + pre * STB, kc, vc, __shfl_sync(0xffffffffu, my_row, pre), K,
                          min(DEC4_TILE, n - tok0), lane);
            cp_async_commit();
        }
    }
    asm volatile("griddepcontrol.wait;" ::: "memory");
    for (int it = pre; it < NST - 1; it++) {
        if (it < mine) {
            int tok0 = (warp + NW * it) * DEC4_TILE;
            dec4_issue<D>(wbase + it * STB, kc, vc, __shfl_sync(0xffffffffu, my_row, it), K,
                          min(DEC4_TILE, n - tok0), lane);
        }
        cp_async_commit();
    }

    /* q as A fragments: row g = head h0 + g (zero past ng), k = 2t.. and 8+2t.. */
    uint32_t qa[D / 16][2];
    {
        const uint32_t *qp = (const uint32_t *)(q + (long long)b * q_stride +
                                                (long long)(h0 + min(g, ng - 1)) * D) + t;
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++) {
            qa[ks][0] = g < ng ? qp[ks * 8] : 0u;
            qa[ks][1] = g < ng ? qp[ks * 8 + 4] : 0u;
        }
    }
    const float sl2 = scale * 1.4426950408889634f; /* exp(x) = exp2(x log2 e) */
    float m = -INFINITY, l = 0.0f, o[D / 8][2];
#pragma unroll
    for (int i = 0; i < D / 8; i++) o[i][0] = o[i][1] = 0.0f;

    for (int it = 0; it < mine; it++) {
        int nx = it + NST - 1;
        if (nx < mine) {
            int tok0 = (warp + NW * nx) * DEC4_TILE;
            dec4_issue<D>(wbase + (nx % NST) * STB, kc, vc, __shfl_sync(0xffffffffu, my_row, nx),
                          K, min(DEC4_TILE, n - tok0), lane);
        }
        cp_async_commit();
        cp_async_wait<NST - 1>(); /* this lane's copies of tile it */
        __syncwarp();             /* ... and every lane's */
        dec4_tile<D>(wbase + (it % NST) * STB, qa, m, l, o,
                     n - (warp + NW * it) * DEC4_TILE, lane, sl2);
        __syncwarp(); /* done reading the stage before it is refilled */
    }
    cp_async_wait<0>();
    __syncwarp();

    /* this warp's state into the start of its own region: o [8][D] f32,
     * then m (scaled, log2 units) [8] and l [8] */
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    float *f = (float *)(smem + warp * WB);
#pragma unroll
    for (int i = 0; i < D / 8; i++) {
        f[g * D + 8 * i + 2 * t] = o[i][0];
        f[g * D + 8 * i + 2 * t + 1] = o[i][1];
    }
    if (t == 0) {
        f[8 * D + g] = m == -INFINITY ? -INFINITY : m * sl2;
        f[8 * D + 8 + g] = l;
    }
    __syncthreads();
    dec4_finish<D>(smem, WB, out, part_o, part_ml, b, H, h0, ng, z, nparts);
}

/* ==== host side ==== */

template <int D>
static octo_err launch4(dim3 grid, cudaStream_t st, __nv_bfloat16 *out, float *po, float *pml,
                        const __nv_bfloat16 *q, int q_stride, const octo_cuda_kv *kv,
                        const int32_t *bt, int max_blocks, const int32_t *sl, int H, int G,
                        int part, int nparts, float scale, int early)
{
    size_t smem = dec4_smem_bytes(D);
    CUDA_TRY(cudaFuncSetAttribute(attn_decode_tc_kernel<D>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CUDA_TRY(launch_pdl_smem(attn_decode_tc_kernel<D>, grid, dim3(DEC4_THREADS), smem, st, out,
                             po, pml, q, q_stride, (const __nv_bfloat16 *)kv->d_k_cache,
                             (const __nv_bfloat16 *)kv->d_v_cache, kv->block_size, kv->K, bt,
                             max_blocks, sl, H, G, part, nparts, scale, early));
    return OCTO_OK;
}

octo_err dec4_launch(__nv_bfloat16 *out, float *po, float *pml, const __nv_bfloat16 *q,
                     int q_stride, const octo_cuda_kv *kv, const int32_t *bt, int max_blocks,
                     const int32_t *sl, int B, int H, int part, int nparts, float scale,
                     int early, cudaStream_t st)
{
    int G = H / kv->K;
    dim3 grid((unsigned)(kv->K * ((G + 7) / 8)), (unsigned)B, (unsigned)nparts);
    if (kv->D == 64)
        return launch4<64>(grid, st, out, po, pml, q, q_stride, kv, bt, max_blocks, sl, H, G,
                           part, nparts, scale, early);
    if (kv->D == 128)
        return launch4<128>(grid, st, out, po, pml, q, q_stride, kv, bt, max_blocks, sl, H, G,
                            part, nparts, scale, early);
    return launch4<256>(grid, st, out, po, pml, q, q_stride, kv, bt, max_blocks, sl, H, G,
                        part, nparts, scale, early);
}
