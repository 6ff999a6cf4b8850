/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skinny — Y[T, N] = X[T, K] . W[N, K]^T for 3..128 tokens (batched decode):
 * a GEMM that is bound by streaming the weight once from device memory, on
 * bf16 tensor cores with f32 accumulation. Computed as Y^T = W . X^T so the
 * weight tile is the 16-row "A" operand of mma.sync m16n8k16 and the tokens
 * are its 8-column "B" tiles (T padded to a multiple of 16, pad rows zero).
 *
 * Each block owns 128 weight rows (4 warps x 32 rows; 256 rows and 8 warps
 * as a tuning option) and all tokens, and streams its W rows along K
 * through a 3-4 stage cp.async pipeline (16-byte copies, 128-byte rows
 * XOR-swizzled so ldmatrix is conflict-free; plain copies: the L2
 * cache-hint forms faulted on the H100, see mma.cuh); X[T, 64-column
 * slice] rides in the same stages. The first
 * weight stages are issued before griddepcontrol.wait: weights do not
 * depend on the previous kernel, X does.
 * When N / 128 blocks would leave resident slots free (o_proj, down_proj,
 * qkv) K is split over 2, 4 or 8 blocks that form one thread-block cluster;
 * they add their f32 partial tiles through distributed shared memory in a
 * fixed order (bitwise deterministic, no workspace, no atomics, nothing to
 * reset: safe inside CUDA graphs).
 *
 * It is not a general GEMM: no T above 128 (cuBLASLt is compute-bound
 * there), no epilogues, no fp8, and K, N must be multiples of 64.
 */
#include <cooperative_groups.h>
#include <string.h>

#include "cuda/mma.cuh"
#include "cuda/skinny.cuh"

namespace cg = cooperative_groups;

/* ==== kernel ==== */

/* Accumulator fragment (PTX ISA, mma.m16n8k16, f32 C/D): with g = lane / 4
 * and q = lane % 4, c0, c1 are weight row g at tokens 2q, 2q + 1 and c2, c3
 * row g + 8 at the same tokens. Fragment f of a warp is m-tile f / (2 NJ)
 * (16 rows) and n-tile f % (2 NJ) (8 tokens). Writes the in-range ones. */
static __device__ __forceinline__ void store_frag(const sk_args &a, int n, int t, float v0,
                                                  float v1, float v2, float v3)
{
    __nv_bfloat16 *y0 = a.y + (long long)t * a.ys, *y1 = y0 + a.ys;
    bool t0 = t < a.T, t1 = t + 1 < a.T;
    if (n < a.N) {
        if (t0) y0[n] = f2bf(v0);
        if (t1) y1[n] = f2bf(v1);
    }
    if (n + 8 < a.N) {
        if (t0) y0[n + 8] = f2bf(v2);
        if (t1) y1[n + 8] = f2bf(v3);
    }
}

/*
 * Shared memory: SK_STAGES stages of W [32 W rows][128 bytes], then as many
 * of X [16 NJ rows][128 bytes]; the 16-byte chunk c of row r sits at chunk
 * c ^ (r & 7). Copies: thread i moves chunk i % 8 of rows i / 8 + RP j
 * (RP = 4 W rows a pass). cp.async groups: the prologue commits
 * SK_STAGES - 1 groups (group 0 also holds the weight stages issued before
 * the PDL wait), every iteration one more (possibly empty), so waiting for
 * all but SK_STAGES - 2 completes the group of the stage about to be used.
 */
template <int NJ, int W>
__global__ void __launch_bounds__(W * 32) skinny_kernel(sk_args a)
{
    constexpr int ST = SK_STAGES(W, NJ), FR = 4 * NJ, BN = 32 * W, RP = 4 * W;
    constexpr int WB = BN * SK_BK * 2, XB = 16 * NJ * SK_BK * 2;
    constexpr int XP = (16 * NJ + RP - 1) / RP; /* copy passes over the X rows */
    extern __shared__ __align__(128) unsigned char smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int n0 = blockIdx.x * BN, S = gridDim.y;
    const int KB = a.K / SK_BK;
    const int kb0 = blockIdx.y * KB / S, nk = (blockIdx.y + 1) * KB / S - kb0;
    const uint32_t sw = smem_addr(smem), sx = sw + ST * WB;

    const int c = tid & 7, r0 = tid >> 3; /* copy: chunk c of rows r0 + RP j */
    const uint32_t soff = (uint32_t)(r0 * 128 + ((c ^ (r0 & 7)) << 4));
    const __nv_bfloat16 *wp = a.w + (long long)(n0 + r0) * a.K + c * 8;
    const __nv_bfloat16 *xp = a.x + (long long)r0 * a.xs + c * 8;

    auto load_w = [&](int slot, int kb) {
#pragma unroll
        for (int j = 0; j < BN / RP; j++) {
            bool ok = n0 + r0 + RP * j < a.N;
            const void *src = ok ? (const void *)(wp + (long long)RP * j * a.K + kb * SK_BK)
                                 : (const void *)a.w;
            cp_async16_n(sw + slot * WB + soff + j * RP * 128, src, ok ? 16 : 0);
        }
    };
    auto load_x = [&](int slot, int kb) {
#pragma unroll
        for (int j = 0; j < XP; j++) {
            if ((16 * NJ) % RP && r0 + RP * j >= 16 * NJ) break; /* past the tile */
            bool ok = r0 + RP * j < a.T;
            const void *src = ok ? (const void *)(xp + (long long)RP * j * a.xs + kb * SK_BK)
                                 : (const void *)a.x;
            cp_async16_n(sx + slot * XB + soff + j * RP * 128, src, ok ? 16 : 0);
        }
    };

    /* let the next kernel (launched with programmatic serialisation) start */
    asm volatile("griddepcontrol.launch_dependents;");
#pragma unroll
    for (int st = 0; st < ST - 1; st++)
        if (st < nk) load_w(st, kb0 + st);
    /* weights do not depend on the previous kernel; x (and y's buffer) do */
    asm volatile("griddepcontrol.wait;" ::: "memory");
#pragma unroll
    for (int st = 0; st < ST - 1; st++) {
        if (st < nk) load_x(st, kb0 + st);
        cp_async_commit();
    }

    float acc[2][2 * NJ][4];
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int n = 0; n < 2 * NJ; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[m][n][e] = 0.0f;

    /* ldmatrix rows: lane l addresses row l % 8 of matrix l / 8. A (weight,
     * x4 = a0..a3): matrices (rows 0-7 | 8-15) x (k 0-7 | 8-15), row-block
     * first; B (tokens, x4 = b0, b1 of n-tile 0, then of n-tile 1):
     * (tokens 0-7 | 8-15) x (k 0-7 | 8-15), k-half first. */
    const int lm = lane >> 3, lr = lane & 7;
    const uint32_t arow = (uint32_t)((warp * 32 + lr + 8 * (lm & 1)) * 128);
    const uint32_t brow = (uint32_t)((lr + 8 * (lm >> 1)) * 128);
    for (int i = 0; i < nk; i++) {
        cp_async_wait<ST - 2>();
        __syncthreads(); /* stage i landed for all; stage i - 1 fully read */
        int nx = i + ST - 1;
        if (nx < nk) {
            load_w(nx % ST, kb0 + nx);
            load_x(nx % ST, kb0 + nx);
        }
        cp_async_commit();
        const uint32_t wb = sw + (i % ST) * WB, xb = sx + (i % ST) * XB;
#pragma unroll
        for (int kk = 0; kk < SK_BK / 16; kk++) {
            const uint32_t ca = (uint32_t)(((2 * kk + (lm >> 1)) ^ lr) << 4);
            const uint32_t cb = (uint32_t)(((2 * kk + (lm & 1)) ^ lr) << 4);
            uint32_t af[2][4];
            ldsm_x4(af[0], wb + arow + ca);
            ldsm_x4(af[1], wb + arow + 16 * 128 + ca);
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                uint32_t bf[4];
                ldsm_x4(bf, xb + brow + j * 16 * 128 + cb);
#pragma unroll
                for (int m = 0; m < 2; m++) {
                    mma_bf16(acc[m][2 * j], af[m], bf[0], bf[1]);
                    mma_bf16(acc[m][2 * j + 1], af[m], bf[2], bf[3]);
                }
            }
        }
    }
    cp_async_wait<0>();

    const int g = lane >> 2, q = lane & 3;
    const int nw = n0 + warp * 32 + g; /* row of c0 in m-tile 0 */
    if (S == 1) {
#pragma unroll
        for (int m = 0; m < 2; m++)
#pragma unroll
            for (int n = 0; n < 2 * NJ; n++)
                store_frag(a, nw + 16 * m, 8 * n + 2 * q, acc[m][n][0], acc[m][n][1],
                           acc[m][n][2], acc[m][n][3]);
        return;
    }

    /* split K: every block of the cluster parks its partial tile in its own
     * shared memory (fragment order, 16 bytes a lane), then block `rank`
     * sums fragments rank, rank + S, ... over all S blocks in rank order */
    __syncthreads(); /* the pipeline buffers are no longer read */
    float4 *part = reinterpret_cast<float4 *>(smem);
#pragma unroll
    for (int f = 0; f < FR; f++) {
        const float *v = acc[f / (2 * NJ)][f % (2 * NJ)];
        part[(warp * FR + f) * 32 + lane] = make_float4(v[0], v[1], v[2], v[3]);
    }
    cg::cluster_group cl = cg::this_cluster();
    cl.sync();
    const int rank = (int)cl.block_rank();
    const float4 *peer[SK_MAX_SPLIT];
#pragma unroll
    for (int r = 0; r < SK_MAX_SPLIT; r++) peer[r] = r < S ? cl.map_shared_rank(part, r) : part;
    for (int f = rank; f < FR; f += S) {
        const int slot = (warp * FR + f) * 32 + lane;
        float4 v[SK_MAX_SPLIT];
#pragma unroll
        for (int r = 0; r < SK_MAX_SPLIT; r++)
            if (r < S) v[r] = peer[r][slot];
        float4 s = v[0];
#pragma unroll
        for (int r = 1; r < SK_MAX_SPLIT; r++)
            if (r < S) s.x += v[r].x, s.y += v[r].y, s.z += v[r].z, s.w += v[r].w;
        int m = f / (2 * NJ), n = f % (2 * NJ);
        store_frag(a, nw + 16 * m, 8 * n + 2 * q, s.x, s.y, s.z, s.w);
    }
    cl.sync(); /* peers may still read this block's partial tile */
}

/* ==== host side ==== */

/* Per process facts (one device), gathered once: for each variant (NJ, 4 or
 * 8 warps) the blocks that fit on the GPU at once and the clusters of 2, 4,
 * 8 blocks that do (0: that cluster size cannot be launched). */
typedef struct sk_info {
    octo_err rc;
    int blocks[9][2];      /* [NJ][W / 8] */
    int clusters[9][2][4]; /* [NJ][W / 8][log2 S], S = 2, 4, 8 */
} sk_info;

static int g_rows, g_split; /* octo_cuda_skinny_tune: 0 automatic */

template <int NJ, int W>
static cudaError_t sk_prepare(sk_info *inf, int sms)
{
    auto k = skinny_kernel<NJ, W>;
    const int smem = SK_SMEM(W, NJ);
    cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout,
                                 cudaSharedmemCarveoutMaxShared);
    int per_sm = 0;
    if (e == cudaSuccess)
        e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, W * 32, smem);
    if (e != cudaSuccess) return e;
    inf->blocks[NJ][W / 8] = per_sm * sms;
    for (int l = 1; l <= 3; l++) {
        int S = 1 << l, n = 0;
        cudaLaunchConfig_t cfg = {};
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = 1, at[0].val.clusterDim.y = (unsigned)S;
        at[0].val.clusterDim.z = 1;
        cfg.gridDim = dim3(64, (unsigned)S);
        cfg.blockDim = dim3(W * 32);
        cfg.dynamicSmemBytes = (size_t)smem;
        cfg.attrs = at;
        cfg.numAttrs = 1;
        if (cudaOccupancyMaxActiveClusters(&n, k, &cfg) != cudaSuccess) {
            (void)cudaGetLastError(); /* not fatal: this cluster size is off */
            n = 0;
        }
        inf->clusters[NJ][W / 8][l] = n;
    }
    return cudaSuccess;
}

template <int W>
static cudaError_t sk_prepare_all(sk_info *inf, int sms)
{
    cudaError_t e = sk_prepare<1, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<2, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<3, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<4, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<5, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<6, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<7, W>(inf, sms);
    if (e == cudaSuccess) e = sk_prepare<8, W>(inf, sms);
    return e;
}

static sk_info sk_build(void)
{
    sk_info inf;
    memset(&inf, 0, sizeof inf);
    int dev = 0, sms = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = sk_prepare_all<4>(&inf, sms);
    if (e == cudaSuccess) e = sk_prepare_all<8>(&inf, sms);
    inf.rc = octo_cuda_fail(e, "skinny GEMM setup", __FILE__, __LINE__);
    return inf;
}

/* Built on first use (thread-safe static initialisation); one device. */
static const sk_info *sk_get(void)
{
    static const sk_info inf = sk_build();
    return &inf;
}

octo_err octo_cuda_skinny_init(void) { return sk_get()->rc; }

void octo_cuda_skinny_tune(int rows, int splits)
{
    g_rows = rows, g_split = splits;
}

typedef struct sk_plan {
    int nj, w, tiles, splits;
} sk_plan;

/* Warps: 4 (128 weight rows a block) unless tuned to 256 rows. Splits: the
 * largest of 8, 4, 2 whose clusters all fit on the GPU at once and leave
 * each block >= 4 k-steps, when one block per tile would not fill the GPU;
 * else 1. A forced count is lowered to what K and the GPU allow. */
static sk_plan sk_plan_for(const sk_info *inf, int T, int N, int K)
{
    sk_plan p;
    p.nj = (T + 15) / 16;
    p.w = g_rows == 256 ? 8 : 4;
    p.tiles = (N + 32 * p.w - 1) / (32 * p.w);
    p.splits = 1;
    int kb = K / SK_BK, wi = p.w / 8;
    if (g_split > 0) {
        for (int l = 3; l >= 1; l--)
            if ((1 << l) <= g_split && (1 << l) <= kb && inf->clusters[p.nj][wi][l] > 0) {
                p.splits = 1 << l;
                break;
            }
        return p;
    }
    if (p.tiles >= inf->blocks[p.nj][wi]) return p;
    for (int l = 3; l >= 1; l--)
        if (kb >= 4 * (1 << l) && inf->clusters[p.nj][wi][l] >= p.tiles) {
            p.splits = 1 << l;
            break;
        }
    return p;
}

template <int NJ, int W>
static cudaError_t sk_launch(const sk_args &a, const sk_plan &p, cudaStream_t st)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[2];
    int na = 0;
    if (p.splits > 1) {
        at[na].id = cudaLaunchAttributeClusterDimension;
        at[na].val.clusterDim.x = 1, at[na].val.clusterDim.y = (unsigned)p.splits;
        at[na].val.clusterDim.z = 1;
        na++;
    }
    if (octo_cuda_pdl_small) {
        at[na].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[na].val.programmaticStreamSerializationAllowed = 1;
        na++;
    }
    cfg.gridDim = dim3((unsigned)p.tiles, (unsigned)p.splits);
    cfg.blockDim = dim3(W * 32);
    cfg.dynamicSmemBytes = SK_SMEM(W, NJ);
    cfg.stream = st;
    cfg.attrs = at;
    cfg.numAttrs = (unsigned)na;
    return cudaLaunchKernelEx(&cfg, skinny_kernel<NJ, W>, a);
}

template <int W>
static cudaError_t sk_launch_w(const sk_args &a, const sk_plan &p, cudaStream_t st)
{
    switch (p.nj) {
    case 1: return sk_launch<1, W>(a, p, st);
    case 2: return sk_launch<2, W>(a, p, st);
    case 3: return sk_launch<3, W>(a, p, st);
    case 4: return sk_launch<4, W>(a, p, st);
    case 5: return sk_launch<5, W>(a, p, st);
    case 6: return sk_launch<6, W>(a, p, st);
    case 7: return sk_launch<7, W>(a, p, st);
    default: return sk_launch<8, W>(a, p, st);
    }
}

bool octo_cuda_skinny_supported(int T, int N, int K)
{
    return T >= SK_MIN_T && T <= SK_MAX_T && N > 0 && N % 64 == 0 && K > 0 && K % SK_BK == 0;
}

octo_err octo_cuda_skinny_gemm(octo_bf16 *d_y, int y_stride, const octo_bf16 *d_x, int x_stride,
                               const octo_bf16 *d_w, int T, int N, int K, octo_cuda_stream *s)
{
    ARG_CHECK(d_y && d_x && d_w && octo_cuda_skinny_supported(T, N, K));
    ARG_CHECK(x_stride >= K && x_stride % 8 == 0 && y_stride >= N);
    ARG_CHECK(((uintptr_t)d_x & 15) == 0 && ((uintptr_t)d_w & 15) == 0);
    const sk_info *inf = sk_get();
    if (inf->rc) return inf->rc;
    sk_plan p = sk_plan_for(inf, T, N, K);
    sk_args a = {(__nv_bfloat16 *)d_y, (const __nv_bfloat16 *)d_x, (const __nv_bfloat16 *)d_w,
                 y_stride, x_stride, T, N, K};
    cudaStream_t st = octo_cuda_raw_stream(s);
    CUDA_TRY(p.w == 8 ? sk_launch_w<8>(a, p, st) : sk_launch_w<4>(a, p, st));
    return OCTO_OK;
}

int octo_cuda_skinny_splits(int T, int N, int K)
{
    if (!octo_cuda_skinny_supported(T, N, K) || sk_get()->rc) return 0;
    return sk_plan_for(sk_get(), T, N, K).splits;
}
