/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_prefill_v4 — the pipelined varlen causal prefill attention kernel
 * over the paged cache (FlashAttention-2 style, mma.sync tensor cores).
 *
 * A block owns 128 "M rows": HPB heads that share one kv head (HPB = 4, 2
 * or 1, the largest dividing H / K) times 128 / HPB consecutive query rows
 * of one sequence, so every K/V tile in shared memory serves 128 rows and
 * the causal edge of a block spans only 128 / HPB positions. Its warps own
 * 16 * MT M rows each (one head): MT = 1, 8 warps (version 4), or MT = 2,
 * 4 warps that use each K/V fragment loaded from shared memory for two
 * 16-row tiles (version 5, half the ldmatrix traffic, twice the
 * registers). K/V tiles of 64 keys are copied with cp.async into two
 * stages: the copy of tile j + 1 runs while the warps compute tile j, and
 * the block-table entries of tile j + 2 are copied (cp.async too) into a
 * small shared table one tile ahead. Per tile a warp computes S = Q K^T
 * (m16n8k16, ldmatrix), masks only on tiles that cross its diagonal, does
 * the online softmax in f32 (log2 domain, one ex2 per score), rounds P to
 * bf16 and adds P V into f32 output registers. Blocks are numbered so that
 * the last (heaviest) query tiles of every sequence start first.
 *
 * It is not a Hopper wgmma/TMA kernel (next step), and it does not take
 * D = 256 (the output registers would not fit; the v3 kernel in
 * attn_prefill.cu serves it).
 */
#include "cuda/attn_prefill.cuh"

/* Copies the block-table slice of key tile kt (block ids kt * PF_BK / bs
 * onwards, those up to the block of key `last`) into sbt[kt & 1]. */
static __device__ __forceinline__ void copy_bt(uint32_t sbt, const int32_t *bt, int kt, int last,
                                               int bs_log2)
{
    int fb = (kt * PF_BK) >> bs_log2, n = bs_log2 >= 6 ? 1 : PF_BK >> bs_log2;
    int i = threadIdx.x;
    if (i < n) {
        bool ok = fb + i <= last >> bs_log2;
        cp_async4(sbt + ((kt & 1) * PF_BK + i) * 4, ok ? bt + fb + i : bt, ok);
    }
}

/* v, or -inf where c > lim (the causal mask). Volatile asm, so that the
 * compiler keeps the compares after the S products instead of hoisting
 * them (it then packed 32 predicates into bit masks on every tile). */
static __device__ __forceinline__ float mask_gt(float v, int c, int lim)
{
    float r;
    asm volatile("{\n\t.reg .pred p;\n\tsetp.gt.s32 p, %1, %2;\n\t"
                 "selp.f32 %0, 0fFF800000, %3, p;\n\t}\n"
                 : "=f"(r) : "r"(c), "r"(lim), "f"(v));
    return r;
}

/* Issues the copies of key tile kt into stage sk (K, then V at +KVB): this
 * thread's column chunk (col = kvh * D + its 8 columns) of rows jr0 +
 * i * RSTEP. Rows past `last` are zero-filled (their address, block 0, is
 * valid but not read). Block ids come from sbt[kt & 1]. */
template <int D, int THREADS>
static __device__ __forceinline__ void issue_kv(uint32_t sk, uint32_t sbt,
                                                const __nv_bfloat16 *kc,
                                                const __nv_bfloat16 *vc, int kt, int jr0,
                                                int col, int last, int bs_log2, int K)
{
    constexpr int DV = D / 8, RSTEP = THREADS / DV, CPT = PF_BK / RSTEP;
    constexpr uint32_t ROWB = (D + 8) * 2, KVB = PF_BK * ROWB;
    const int fb = (kt * PF_BK) >> bs_log2, bmask = (1 << bs_log2) - 1;
    const uint32_t ids = sbt + (kt & 1) * PF_BK * 4;
    const uint32_t d = sk + jr0 * ROWB + (col % D) * 2;
#pragma unroll
    for (int i = 0; i < CPT; i++) {
        int key = kt * PF_BK + jr0 + i * RSTEP;
        bool ok = key <= last;
        int blk = ok ? lds32(ids + ((key >> bs_log2) - fb) * 4) : 0;
        int tok = (blk << bs_log2) + (key & bmask); /* token slot in the cache */
        long long off = (long long)tok * (K * D) + col;
        cp_async16(d + i * RSTEP * ROWB, kc + off, ok);
        cp_async16(d + i * RSTEP * ROWB + KVB, vc + off, ok);
    }
}

/* The online-softmax step of one 16-row tile of a warp on one key tile:
 * masks (on tiles that cross the diagonal; wp0 = position of the tile's
 * row 0, pos0 = this lane's first row), updates the running max m and sum
 * l of the lane's two rows, rescales o and leaves P (bf16) in pa, the A
 * fragments of the P V product. Column c of S tile i is key k0 + 8i + 2t
 * + c. The max is taken on the unscaled scores (scale > 0), scaled inside
 * the exponent. Keys past `last` are zero rows and past every valid row. */
template <int NO>
static __device__ __forceinline__ void softmax_step(float (&s)[PF_BK / 8][4], float (&m)[2],
                                                    float (&l)[2], float (&o)[NO][4],
                                                    uint32_t (&pa)[PF_BK / 16][4], int k0,
                                                    int wp0, int pos0, int t, float sl2)
{
    constexpr int NT = PF_BK / 8;
    if (k0 + PF_BK - 1 > wp0) {
        const int lim0 = pos0 - k0 - 2 * t, lim1 = lim0 + 8;
#pragma unroll
        for (int i = 0; i < NT; i++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                s[i][e] = mask_gt(s[i][e], 8 * i + (e & 1), e < 2 ? lim0 : lim1);
    }
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int i = 0; i < NT; i++) {
        mx0 = fmaxf(mx0, fmaxf(s[i][0], s[i][1]));
        mx1 = fmaxf(mx1, fmaxf(s[i][2], s[i][3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
    }
    float n0 = fmaxf(m[0], mx0), n1 = fmaxf(m[1], mx1);
    /* rescale by exp2((m_old - m_new) sl2) only where the max grew (from
     * -inf too: the factor is then 0, on zeros); o only when some row of
     * the warp needs it, which after the first tiles is rare */
    const bool up0 = n0 > m[0], up1 = n1 > m[1];
    const float al0 = up0 ? fast_exp2((m[0] - n0) * sl2) : 1.0f;
    const float al1 = up1 ? fast_exp2((m[1] - n1) * sl2) : 1.0f;
    m[0] = n0, m[1] = n1;
    l[0] *= al0, l[1] *= al1;
    if (__any_sync(0xffffffffu, up0 || up1)) {
#pragma unroll
        for (int n = 0; n < NO; n++)
            o[n][0] *= al0, o[n][1] *= al0, o[n][2] *= al1, o[n][3] *= al1;
    }
    /* p = exp2((s - m) sl2); a row still at -inf has only -inf scores */
    const float z0 = n0 == -INFINITY ? 0.0f : -n0 * sl2;
    const float z1 = n1 == -INFINITY ? 0.0f : -n1 * sl2;
#pragma unroll
    for (int i = 0; i < NT; i++) {
        float e0 = fast_exp2(fmaf(s[i][0], sl2, z0)), e1 = fast_exp2(fmaf(s[i][1], sl2, z0));
        float e2 = fast_exp2(fmaf(s[i][2], sl2, z1)), e3 = fast_exp2(fmaf(s[i][3], sl2, z1));
        /* the row sums take the f32 values (v3 summed the bf16-rounded
         * ones; round-to-nearest makes the difference unbiased) */
        l[0] += e0 + e1;
        l[1] += e2 + e3;
        pa[i / 2][(i & 1) * 2 + 0] = pack_bf16x2(e0, e1);
        pa[i / 2][(i & 1) * 2 + 1] = pack_bf16x2(e2, e3);
    }
}

/* grid (B * H / HPB, ceil(max_q_len / (128 / HPB))), 256 / MT threads;
 * hpb_log2 = log2 HPB, bs_log2 = log2 of the cache's block size.
 * Fragment layouts as in v3 (attn_prefill.cu): with g = lane / 4,
 * t = lane % 4 an accumulator tile holds rows g, g + 8 at columns 2t,
 * 2t + 1, and two adjacent S tiles are the A fragment of P. */
template <int D, int MT>
__global__ void __launch_bounds__(256 / MT, PF_MIN_BLOCKS)
attn_prefill_v4_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                       const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, int bs_log2, int K,
                       const int32_t *block_tables, int max_blocks, const int32_t *cu_q,
                       const int32_t *seq_lens, int H, int hpb_log2, float scale)
{
    constexpr int THREADS = 256 / MT, LD = D + 8, DV = D / 8, NT = PF_BK / 8, NO = D / 8;
    constexpr uint32_t ROWB = LD * 2, KVB = PF_BK * ROWB; /* bytes: row, K or V tile */
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t sq = smem_addr(smem);                  /* Q tile, PF_ROWS rows */
    const uint32_t skv = sq + PF_ROWS * ROWB;             /* stage s: K, V at 2 s KVB */
    const uint32_t sbt = skv + 2 * PF_STAGES * KVB;       /* [PF_STAGES][PF_BK] block ids */

    pdl_enter();
    const int rph_log2 = 7 - hpb_log2, rph = 1 << rph_log2; /* query rows per head */
    const int HG = H >> hpb_log2;
    const int b = blockIdx.x / HG, h0 = (blockIdx.x % HG) << hpb_log2;
    const int q0 = cu_q[b], qlen = cu_q[b + 1] - q0;
    const int ntiles = (qlen + rph - 1) >> rph_log2;
    if ((int)blockIdx.y >= ntiles) return;
    const int r0 = (ntiles - 1 - (int)blockIdx.y) << rph_log2; /* first query row */
    const int rows = min(rph, qlen - r0);
    const int ctx = seq_lens[b];
    const int kvh = h0 / (H / K);
    const int p0 = ctx - qlen + r0;    /* position of query row r0 */
    const int last = p0 + rows - 1;    /* last key any row needs (<= ctx - 1) */
    const int nk = last / PF_BK + 1;   /* key tiles */
    const int32_t *bt = block_tables + (long long)b * max_blocks;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int jr0 = tid / DV, col = kvh * D + (tid % DV) * 8; /* this thread's K/V copies */

    /* block ids of tile 0, then Q, tile 0 and the block ids of tile 1 */
    copy_bt(sbt, bt, 0, last, bs_log2);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    /* Q tile: M row m = head (m >> rph_log2) of the group, query row m % rph */
    for (int i = tid; i < PF_ROWS * DV; i += THREADS) {
        int m = i / DV, c = i % DV, rq = m & (rph - 1);
        bool ok = rq < rows;
        const __nv_bfloat16 *src =
            q + (long long)(q0 + r0 + rq) * q_stride + (long long)(h0 + (m >> rph_log2)) * D;
        cp_async16(sq + m * ROWB + c * 16, ok ? src + c * 8 : q, ok);
    }
    issue_kv<D, THREADS>(skv, sbt, kc, vc, 0, jr0, col, last, bs_log2, K);
    if (nk > 1) copy_bt(sbt, bt, 1, last, bs_log2);
    cp_async_commit();

    /* this warp: head h, query rows rl .. rl + 16 MT - 1 of the tile (rph
     * is a multiple of 32, so they belong to one head) */
    const int wm = warp * 16 * MT, rl = wm & (rph - 1), h = h0 + (wm >> rph_log2);
    const int wp0 = p0 + rl;                              /* position of its row 0 */
    const int warp_last = rl < rows ? min(wp0 + 16 * MT - 1, last) : -1;
    const float sl2 = scale * 1.4426950408889634f;        /* exp(x) = exp2(x log2 e) */
    float m[MT][2], l[MT][2], o[MT][NO][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.0f;
#pragma unroll
        for (int n = 0; n < NO; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0;
    }

    /* ldmatrix row addresses (bytes): matrix l / 8, row l % 8 */
    const int lr = lane & 7, lm = lane >> 3;
    const uint32_t qa = sq + ((wm + lr + 8 * (lm & 1)) * LD + 8 * (lm >> 1)) * 2;
    const uint32_t ka = ((lr + 8 * (lm >> 1)) * LD + 8 * (lm & 1)) * 2;
    const uint32_t va = KVB + ((lr + 8 * (lm & 1)) * LD + 8 * (lm >> 1)) * 2;

    /* One barrier per tile: after it, tile j is in stage j & 1 for
     * everyone, and everyone is done with tile j - 1, whose stage (and
     * block-id slot) the copies issued next may overwrite. */
    for (int j = 0; j < nk; j++) {
        cp_async_wait<0>(); /* this thread's copies of tile j (and ids of j + 1) */
        __syncthreads();
        if (j + 1 < nk) {
            issue_kv<D, THREADS>(skv + ((j + 1) & 1) * 2 * KVB, sbt, kc, vc, j + 1, jr0, col,
                                 last, bs_log2, K);
            if (j + 2 < nk) copy_bt(sbt, bt, j + 2, last, bs_log2);
        }
        cp_async_commit();
        const int k0 = j * PF_BK;
        if (k0 > warp_last) continue;
        const uint32_t kb = skv + (j & 1) * 2 * KVB;

        /* S = Q K^T: 16 MT rows x 64 keys per warp, each K fragment used MT times */
        float s[MT][NT][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int i = 0; i < NT; i++) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) ldsm_x4(a[mt], qa + mt * 16 * ROWB + kk * 32);
#pragma unroll
            for (int jj = 0; jj < NT / 2; jj++) {
                uint32_t bk[4];
                ldsm_x4(bk, kb + ka + jj * 16 * ROWB + kk * 32);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_bf16(s[mt][2 * jj], a[mt], bk[0], bk[1]);
                    mma_bf16(s[mt][2 * jj + 1], a[mt], bk[2], bk[3]);
                }
            }
        }

        uint32_t pa[MT][PF_BK / 16][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
            softmax_step<NO>(s[mt], m[mt], l[mt], o[mt], pa[mt], k0, wp0 + 16 * mt,
                             wp0 + 16 * mt + g, t, sl2);

        /* O += P V, each V fragment used MT times */
#pragma unroll
        for (int kk = 0; kk < PF_BK / 16; kk++) {
#pragma unroll
            for (int nn = 0; nn < NO / 2; nn++) {
                uint32_t bv[4];
                ldsm_x4_t(bv, kb + va + kk * 16 * ROWB + nn * 32);
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma_bf16(o[mt][2 * nn], pa[mt][kk], bv[0], bv[1]);
                    mma_bf16(o[mt][2 * nn + 1], pa[mt][kk], bv[2], bv[3]);
                }
            }
        }
    }

    /* O / l as bf16 into this warp's own Q rows (only it reads them, and
     * it is done), then 16-byte row stores */
    __syncwarp();
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        float l0 = l[mt][0], l1 = l[mt][1];
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            l0 += __shfl_xor_sync(0xffffffffu, l0, off);
            l1 += __shfl_xor_sync(0xffffffffu, l1, off);
        }
        const float i0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
        unsigned char *r = smem + (wm + 16 * mt + g) * ROWB + 4 * t; /* column 2t */
#pragma unroll
        for (int n = 0; n < NO; n++) {
            *(uint32_t *)(r + n * 16) = pack_bf16x2(o[mt][n][0] * i0, o[mt][n][1] * i0);
            *(uint32_t *)(r + 8 * ROWB + n * 16) =
                pack_bf16x2(o[mt][n][2] * i1, o[mt][n][3] * i1);
        }
    }
    __syncwarp();
    for (int i = lane; i < 16 * MT * DV; i += 32) {
        int rw = i / DV, c = i % DV, rq = rl + rw; /* query row within the tile */
        if (rq < rows)
            *(uint4 *)(out + ((long long)(q0 + r0 + rq) * H + h) * D + c * 8) =
                *(const uint4 *)(smem + (wm + rw) * ROWB + c * 16);
    }
}

template <int D, int MT>
static octo_err launch_v4(dim3 grid, cudaStream_t st, __nv_bfloat16 *out,
                          const __nv_bfloat16 *q, int q_stride, const octo_cuda_kv *kv,
                          const int32_t *bt, int max_blocks, const int32_t *cu_q,
                          const int32_t *sl, int H, int hpb_log2, float scale)
{
    size_t smem = prefill_v4_smem_bytes(D);
    int bs_log2 = 0;
    while ((1 << bs_log2) < kv->block_size) bs_log2++;
    CUDA_TRY(cudaFuncSetAttribute(attn_prefill_v4_kernel<D, MT>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CUDA_TRY(launch_pdl_smem(attn_prefill_v4_kernel<D, MT>, grid, dim3(256 / MT), smem, st, out,
                             q, q_stride, (const __nv_bfloat16 *)kv->d_k_cache,
                             (const __nv_bfloat16 *)kv->d_v_cache, bs_log2, kv->K, bt,
                             max_blocks, cu_q, sl, H, hpb_log2, scale));
    CUDA_LAUNCHED("attn_prefill_v4");
    return OCTO_OK;
}

octo_err prefill_v4_launch(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                           const octo_cuda_kv *kv, const int32_t *bt, int max_blocks,
                           const int32_t *cu_q, const int32_t *seq_lens, int B, int H,
                           int max_q_len, float scale, int mt, cudaStream_t st)
{
    int G = H / kv->K, hpb_log2 = G % 4 == 0 ? 2 : G % 2 == 0 ? 1 : 0;
    int rph = PF_ROWS >> hpb_log2;
    dim3 grid((unsigned)(B * (H >> hpb_log2)), (unsigned)((max_q_len + rph - 1) / rph));
    if (kv->D == 64 && mt == 2)
        return launch_v4<64, 2>(grid, st, out, q, q_stride, kv, bt, max_blocks, cu_q,
                                seq_lens, H, hpb_log2, scale);
    if (kv->D == 64)
        return launch_v4<64, 1>(grid, st, out, q, q_stride, kv, bt, max_blocks, cu_q,
                                seq_lens, H, hpb_log2, scale);
    if (mt == 2)
        return launch_v4<128, 2>(grid, st, out, q, q_stride, kv, bt, max_blocks, cu_q,
                                 seq_lens, H, hpb_log2, scale);
    return launch_v4<128, 1>(grid, st, out, q, q_stride, kv, bt, max_blocks, cu_q, seq_lens,
                             H, hpb_log2, scale);
}
