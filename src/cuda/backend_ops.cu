/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_ops — the kernels and runtime wrappers that the CUDA backend
 * table needs besides the tuned kernels: elementwise ops on bf16
 * activations (residual add, bias, SwiGLU of separate gate and up, row
 * gather, rope alone, softmax, bf16 -> f32), a general paged attention
 * (one warp per token and head, online softmax in f32) for head sizes the
 * tuned attention kernels do not take, and thin wrappers for pinned host
 * memory, memory info and CUDA graph capture.
 *
 * Deliberately simple: none of these is on the hot path of a Qwen3-8B
 * decode step except add (fused away there) and the graph calls; the
 * general attention serves the tiny fixture models and is not tuned.
 */
#include <math.h>

#include "cuda/backend_int.h"
#include "cuda/cuda_int.cuh"
#include "cuda/gemv.cuh"

#define EW_THREADS 256
#define ATT_MAX_D 512

static unsigned ew_blocks(int64_t n)
{
    int64_t b = (n + EW_THREADS - 1) / EW_THREADS;
    return (unsigned)(b > 65535 * 16 ? 65535 * 16 : b);
}

/* ==== elementwise ==== */

__global__ void k_add(__nv_bfloat16 *y, const __nv_bfloat16 *x, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = f2bf(bf2f(y[i]) + bf2f(x[i]));
}

__global__ void k_bias(__nv_bfloat16 *y, const __nv_bfloat16 *b, int64_t n, int64_t N)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = f2bf(bf2f(y[i]) + bf2f(b[i % N]));
}

__global__ void k_swiglu(__nv_bfloat16 *y, const __nv_bfloat16 *g, const __nv_bfloat16 *u,
                         int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float a = bf2f(g[i]);
        y[i] = f2bf(a / (1.0f + __expf(-a)) * bf2f(u[i]));
    }
}

__global__ void k_gather(__nv_bfloat16 *y, const __nv_bfloat16 *x, const int32_t *rows,
                         int64_t n, int64_t C)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * C;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = x[(int64_t)rows[i / C] * C + i % C];
}

__global__ void k_to_f32(float *y, const __nv_bfloat16 *x, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = bf2f(x[i]);
}

/* one thread per rotated pair (t, h, j < D/2) */
__global__ void k_rope(__nv_bfloat16 *x, int64_t T, int64_t H, int64_t D, const int32_t *pos,
                       const float *inv_freq, float mscale)
{
    int64_t half = D / 2, n = T * H * half;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = i % half, th = i / half, t = th / H;
        __nv_bfloat16 *r = x + th * D;
        float s, c;
        sincosf((float)pos[t] * inv_freq[j], &s, &c);
        c *= mscale;
        s *= mscale;
        float a = bf2f(r[j]), b = bf2f(r[j + half]);
        r[j] = f2bf(a * c - b * s);
        r[j + half] = f2bf(b * c + a * s);
    }
}

__global__ void k_softmax(__nv_bfloat16 *x, int64_t N)
{
    __shared__ float red[32];
    __nv_bfloat16 *r = x + (int64_t)blockIdx.x * N;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) m = fmaxf(m, bf2f(r[i]));
    m = block_max(m, red);
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += __expf(bf2f(r[i]) - m);
    s = block_sum(s, red);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) r[i] = f2bf(__expf(bf2f(r[i]) - m) / s);
}

/* ==== general paged attention ==== */

__global__ void k_attention(__nv_bfloat16 *out, const __nv_bfloat16 *q,
                            const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, int bs, int K,
                            int D, const int32_t *tok_run, const int32_t *pos,
                            const int32_t *bt, int bt_stride, int T, int H, float scale)
{
    int warp = (int)((blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5);
    int lane = threadIdx.x & 31;
    if (warp >= T * H) return;
    int t = warp / H, h = warp % H, kh = h / (H / K), nd = (D + 31) / 32;
    const __nv_bfloat16 *qr = q + ((int64_t)t * H + h) * D;
    const int32_t *table = bt + (int64_t)tok_run[t] * bt_stride;
    float qv[ATT_MAX_D / 32], acc[ATT_MAX_D / 32];
#pragma unroll
    for (int i = 0; i < ATT_MAX_D / 32; i++) {
        int d = lane + 32 * i;
        qv[i] = (i < nd && d < D) ? bf2f(qr[d]) * scale : 0.0f;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int p = 0; p <= pos[t]; p++) {
        int64_t slot = (int64_t)table[p / bs] * bs + p % bs;
        const __nv_bfloat16 *kr = kc + (slot * K + kh) * D;
        const __nv_bfloat16 *vr = vc + (slot * K + kh) * D;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < ATT_MAX_D / 32; i++) {
            int d = lane + 32 * i;
            if (i < nd && d < D) dot += qv[i] * bf2f(kr[d]);
        }
        dot = warp_sum(dot);
        float mn = fmaxf(m, dot), corr = __expf(m - mn), w = __expf(dot - mn);
        l = l * corr + w;
#pragma unroll
        for (int i = 0; i < ATT_MAX_D / 32; i++) {
            int d = lane + 32 * i;
            if (i < nd && d < D) acc[i] = acc[i] * corr + w * bf2f(vr[d]);
        }
        m = mn;
    }
    __nv_bfloat16 *o = out + ((int64_t)t * H + h) * D;
#pragma unroll
    for (int i = 0; i < ATT_MAX_D / 32; i++) {
        int d = lane + 32 * i;
        if (i < nd && d < D) o[d] = f2bf(acc[i] / l);
    }
}


/* ==== fused small-batch GEMV ==== */

/* Several products of one activation x[B, C] with weights stored back to
 * back in device memory, w = [W0; W1; W2] (Ntot rows of C), in one launch:
 * the decode step's q/k/v projections (outputs to three buffers) or its
 * gate/up projections with SwiGLU applied in the epilogue (gate row n and
 * up row I + n are taken by the same warps), or a single product. Same
 * scheme as gemv.cu (16-byte streaming weight loads in flight, f32
 * accumulation), except that the KS warps of a row group may split the row
 * length between them; plus programmatic dependent launch, so the first
 * weight loads overlap the end of the kernel before. */
#define GM_WARPS 4 /* warps per block unless a shape says otherwise */

/* The weight rows of warp `wid`: SwiGLU pairs gate row n with up row
 * n0 + n (R even), else R consecutive rows of [W0; W1; W2]. */
template <bool SWIGLU, int R>
static __device__ __forceinline__ void gemv_rows(long long wid, const octo_cuda_be_gemv_out &o,
                                                 long long *rows, bool *ok)
{
    constexpr int HALF = R >= 2 ? R / 2 : 1;
#pragma unroll
    for (int r = 0; r < R; r++) {
        if (SWIGLU) {
            long long n = wid * HALF + (r % HALF);
            ok[r] = n < o.n[0];
            rows[r] = r < HALF ? n : o.n[0] + n;
        } else {
            rows[r] = wid * R + r;
            ok[r] = rows[r] < (long long)o.n[0] + o.n[1] + o.n[2];
        }
    }
}

/* Lane b writes token b's outputs (acc: the whole dot products, in every
 * lane; SwiGLU applied). */
template <int NB, bool SWIGLU, int R>
static __device__ __forceinline__ void gemv_store(float (*acc)[NB], const long long *rows,
                                                  const bool *ok, int lane,
                                                  const octo_cuda_be_gemv_out &o)
{
    constexpr int HALF = R >= 2 ? R / 2 : 1;
    if (lane >= NB) return;
#pragma unroll
    for (int b = 0; b < NB; b++) {
        if (lane != b) continue;
#pragma unroll
        for (int r = 0; r < (SWIGLU ? HALF : R); r++) {
            if (!ok[r]) continue;
            if (SWIGLU) {
                float g = acc[r][b], u = acc[r + HALF][b];
                long long n = rows[r];
                ((__nv_bfloat16 *)o.y[0])[(long long)b * o.n[0] + n] =
                    f2bf(g / (1.0f + __expf(-g)) * u);
            } else {
                long long n = rows[r];
                int s = n < o.n[0] ? 0 : n < (long long)o.n[0] + o.n[1] ? 1 : 2;
                long long off = s == 0 ? 0 : s == 1 ? o.n[0] : (long long)o.n[0] + o.n[1];
                ((__nv_bfloat16 *)o.y[s])[(long long)b * o.n[s] + (n - off)] = f2bf(acc[r][b]);
            }
        }
    }
}

/* KS warps of a block share each row group, every one taking every KS-th
 * chunk of U x 32 vectors (more warps in flight for the matrices with few
 * rows); their sums meet in shared memory. */
template <int NB, bool SWIGLU, int R, int U, int MINB, int KS, int NW>
__global__ void __launch_bounds__(NW * 32, MINB)
k_gemv_multi(const uint4 *x, int xs_v, const uint4 *w, int cv, octo_cuda_be_gemv_out o)
{
    static_assert(NW % KS == 0, "KS divides the block's warps");
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, part = warp % KS;
    long long wid = (long long)blockIdx.x * (NW / KS) + warp / KS;
    long long rows[R];
    bool ok[R];
    gemv_rows<SWIGLU, R>(wid, o, rows, ok);
    /* let the next kernel (launched with programmatic serialisation) start
     * streaming its own weights while this one finishes */
    asm volatile("griddepcontrol.launch_dependents;");
    if (KS == 1 && !ok[0]) return; /* (with KS > 1 every warp meets the barrier) */
    float acc[R][NB];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int b = 0; b < NB; b++) acc[r][b] = 0.0f;
    bool waited = false;
    for (int c0 = lane + part * 32 * U; c0 < cv; c0 += 32 * U * KS) {
        uint4 wv[R][U];
        gemv_load<R, U>(wv, w, cv, rows, ok, c0);
        if (!waited) { /* weights do not depend on the previous kernel; x does */
            asm volatile("griddepcontrol.wait;" ::: "memory");
            waited = true;
        }
        gemv_fma<NB, R, U>(acc, wv, x, xs_v, cv, c0);
    }
    if (!waited) asm volatile("griddepcontrol.wait;" ::: "memory"); /* before any write */
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int b = 0; b < NB; b++) acc[r][b] = warp_sum(acc[r][b]);
    if (KS > 1) {
        __shared__ float part_sum[NW][R][NB];
        if (lane == 0) {
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int b = 0; b < NB; b++) part_sum[warp][r][b] = acc[r][b];
        }
        __syncthreads();
        if (part != 0 || !ok[0]) return;
#pragma unroll
        for (int p = 1; p < KS; p++)
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int b = 0; b < NB; b++) acc[r][b] += part_sum[warp + p][r][b];
    }
    gemv_store<NB, SWIGLU, R>(acc, rows, ok, lane, o);
}

/* Launched with programmatic dependent launch: the kernel may start before
 * the previous one on the stream ends; it waits (griddepcontrol.wait) for
 * it before reading x. */
template <int NB, bool SWIGLU, int R, int U, int MINB = 1, int KS = 1, int NW = GM_WARPS>
static cudaError_t launch_nb(long long rows, cudaStream_t st, const uint4 *x, int xs_v,
                             const uint4 *w, int cv, const octo_cuda_be_gemv_out &o)
{
    long long per_block = (long long)(NW / KS) * R;
    unsigned blocks = (unsigned)((rows + per_block - 1) / per_block);
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(NW * 32);
    cfg.stream = st;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, k_gemv_multi<NB, SWIGLU, R, U, MINB, KS, NW>, x, xs_v, w,
                              cv, o);
}

template <bool SWIGLU>
static cudaError_t launch_multi(int B, long long rows, cudaStream_t st, const uint4 *x,
                                int xs_v, const uint4 *w, int cv,
                                const octo_cuda_be_gemv_out &o)
{
    /* Default for one and two tokens: blocks of 8 warps on 4 rows, each
     * warp taking every 8th 512-byte slice of the rows (one 16-byte load
     * per row and lane in flight, register cap for 4 blocks per SM). On an
     * H100 with Qwen3-8B this took batch-1 decode from 6.15 to 5.67 ms
     * against the shape before, warps owning whole rows (2 rows x 4 loads); the split
     * keeps the 4096-row o_proj and down_proj from leaving half of each
     * SM's warps idle and shortens every kernel's tail (the sweep is in
     * docs/BENCHMARKS-cuda.md). */
    switch (B) {
    case 1: return launch_nb<1, SWIGLU, 4, 1, 4, 8, 8>(rows, st, x, xs_v, w, cv, o);
    case 2: return launch_nb<2, SWIGLU, 4, 1, 4, 8, 8>(rows, st, x, xs_v, w, cv, o);
    case 3: return launch_nb<3, SWIGLU, 4, 4>(rows, st, x, xs_v, w, cv, o);
    default: return launch_nb<4, SWIGLU, 4, 4>(rows, st, x, xs_v, w, cv, o);
    }
}

/* ==== greedy argmax over many blocks ==== */

/* (v, i) pairs: larger v wins, then the smaller index; NaN never wins. */
static __device__ __forceinline__ void amax_merge(float *v, int *i, float ov, int oi)
{
    if (ov > *v || (ov == *v && oi < *i)) *v = ov, *i = oi;
}

static __device__ void amax_block(float *v, int *i)
{
    __shared__ float sv[32];
    __shared__ int si[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        amax_merge(v, i, __shfl_xor_sync(0xffffffffu, *v, o), __shfl_xor_sync(0xffffffffu, *i, o));
    if (lane == 0) sv[warp] = *v, si[warp] = *i;
    __syncthreads();
    *v = lane < nw ? sv[lane] : -INFINITY;
    *i = lane < nw ? si[lane] : 0x7fffffff;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        amax_merge(v, i, __shfl_xor_sync(0xffffffffu, *v, o), __shfl_xor_sync(0xffffffffu, *i, o));
}

/* grid (AMAX_CHUNKS, B): block c of row b scans its slice of the row. */
__global__ void __launch_bounds__(EW_THREADS)
k_amax_part(float *pv, int *pi, const float *x, int ls, int V)
{
    int b = blockIdx.y, c = blockIdx.x, per = (V + gridDim.x - 1) / gridDim.x;
    int lo = c * per, hi = min(V, lo + per);
    const float *r = x + (long long)b * ls;
    float v = -INFINITY;
    int i = 0x7fffffff;
    for (int j = lo + (int)threadIdx.x; j < hi; j += EW_THREADS) amax_merge(&v, &i, r[j], j);
    amax_block(&v, &i);
    if (threadIdx.x == 0) {
        pv[b * gridDim.x + c] = v;
        pi[b * gridDim.x + c] = i;
    }
}

/* one warp per row over the AMAX_CHUNKS partials */
__global__ void k_amax_final(int32_t *ids, const float *pv, const int *pi, int n)
{
    int b = blockIdx.x, lane = threadIdx.x;
    float v = -INFINITY;
    int i = 0x7fffffff;
    for (int j = lane; j < n; j += 32) amax_merge(&v, &i, pv[b * n + j], pi[b * n + j]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        amax_merge(&v, &i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
    if (lane == 0) ids[b] = i == 0x7fffffff ? 0 : i;
}

/* ==== launch wrappers ==== */

extern "C" {

size_t octo_cuda_be_argmax_workspace(int B)
{
    return (size_t)(B > 0 ? B : 0) * OCTO_CUDA_BE_AMAX_CHUNKS * (sizeof(float) + sizeof(int));
}

octo_err octo_cuda_be_argmax(int32_t *ids, const float *logits, int B, int V, void *work,
                             octo_cuda_stream *s)
{
    ARG_CHECK(ids && logits && work && B >= 0 && V > 0);
    if (B == 0) return OCTO_OK;
    cudaStream_t st = octo_cuda_raw_stream(s);
    float *pv = (float *)work;
    int *pi = (int *)(pv + (size_t)B * OCTO_CUDA_BE_AMAX_CHUNKS);
    k_amax_part<<<dim3(OCTO_CUDA_BE_AMAX_CHUNKS, (unsigned)B), EW_THREADS, 0, st>>>(pv, pi, logits,
                                                                                V, V);
    CUDA_LAUNCHED("amax_part");
    k_amax_final<<<(unsigned)B, 32, 0, st>>>(ids, pv, pi, OCTO_CUDA_BE_AMAX_CHUNKS);
    CUDA_LAUNCHED("amax_final");
    return OCTO_OK;
}

octo_err octo_cuda_be_add(octo_bf16 *y, const octo_bf16 *x, int64_t n, octo_cuda_stream *s)
{
    if (n <= 0) return OCTO_OK;
    k_add<<<ew_blocks(n), EW_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        (__nv_bfloat16 *)y, (const __nv_bfloat16 *)x, n);
    CUDA_LAUNCHED("add");
    return OCTO_OK;
}

octo_err octo_cuda_be_bias(octo_bf16 *y, const octo_bf16 *b, int64_t T, int64_t N,
                           octo_cuda_stream *s)
{
    if (T * N <= 0) return OCTO_OK;
    k_bias<<<ew_blocks(T * N), EW_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        (__nv_bfloat16 *)y, (const __nv_bfloat16 *)b, T * N, N);
    CUDA_LAUNCHED("bias");
    return OCTO_OK;
}

octo_err octo_cuda_be_swiglu(octo_bf16 *y, const octo_bf16 *g, const octo_bf16 *u, int64_t n,
                             octo_cuda_stream *s)
{
    if (n <= 0) return OCTO_OK;
    k_swiglu<<<ew_blocks(n), EW_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        (__nv_bfloat16 *)y, (const __nv_bfloat16 *)g, (const __nv_bfloat16 *)u, n);
    CUDA_LAUNCHED("swiglu2");
    return OCTO_OK;
}

octo_err octo_cuda_be_gather(octo_bf16 *y, const octo_bf16 *x, const int32_t *rows, int64_t n,
                             int64_t C, octo_cuda_stream *s)
{
    if (n * C <= 0) return OCTO_OK;
    k_gather<<<ew_blocks(n * C), EW_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        (__nv_bfloat16 *)y, (const __nv_bfloat16 *)x, rows, n, C);
    CUDA_LAUNCHED("gather");
    return OCTO_OK;
}

octo_err octo_cuda_be_to_f32(float *y, const octo_bf16 *x, int64_t n, octo_cuda_stream *s)
{
    if (n <= 0) return OCTO_OK;
    k_to_f32<<<ew_blocks(n), EW_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        y, (const __nv_bfloat16 *)x, n);
    CUDA_LAUNCHED("to_f32");
    return OCTO_OK;
}

octo_err octo_cuda_be_rope(octo_bf16 *x, int64_t T, int64_t H, int64_t D, const int32_t *pos,
                           const float *inv_freq, float mscale, octo_cuda_stream *s)
{
    ARG_CHECK(D > 0 && D % 2 == 0);
    int64_t n = T * H * (D / 2);
    if (n <= 0) return OCTO_OK;
    k_rope<<<ew_blocks(n), EW_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        (__nv_bfloat16 *)x, T, H, D, pos, inv_freq, mscale);
    CUDA_LAUNCHED("rope");
    return OCTO_OK;
}

octo_err octo_cuda_be_softmax(octo_bf16 *x, int64_t R, int64_t N, octo_cuda_stream *s)
{
    ARG_CHECK(R >= 0 && R <= INT32_MAX && N > 0);
    if (R == 0) return OCTO_OK;
    k_softmax<<<(unsigned)R, EW_THREADS, 0, octo_cuda_raw_stream(s)>>>((__nv_bfloat16 *)x, N);
    CUDA_LAUNCHED("softmax");
    return OCTO_OK;
}

octo_err octo_cuda_be_attention(octo_bf16 *out, const octo_bf16 *q, const octo_cuda_kv *kv,
                                const int32_t *tok_run, const int32_t *pos, const int32_t *bt,
                                int bt_stride, int T, int H, float scale, octo_cuda_stream *s)
{
    ARG_CHECK(kv && kv->D > 0 && kv->D <= ATT_MAX_D && kv->K > 0 && H % kv->K == 0);
    if (T <= 0) return OCTO_OK;
    int64_t threads = (int64_t)T * H * 32;
    unsigned blocks = (unsigned)((threads + 127) / 128);
    k_attention<<<blocks, 128, 0, octo_cuda_raw_stream(s)>>>(
        (__nv_bfloat16 *)out, (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)kv->d_k_cache,
        (const __nv_bfloat16 *)kv->d_v_cache, kv->block_size, kv->K, kv->D, tok_run, pos, bt,
        bt_stride, T, H, scale);
    CUDA_LAUNCHED("attention (general)");
    return OCTO_OK;
}

octo_err octo_cuda_be_gemv_multi(const octo_bf16 *x, const octo_bf16 *w, int B, int C,
                                 const octo_cuda_be_gemv_out *o, bool swiglu,
                                 octo_cuda_stream *s)
{
    ARG_CHECK(x && w && o && B >= 1 && B <= OCTO_CUDA_BE_GEMV_MAX_B && C > 0 && C % 8 == 0);
    ARG_CHECK(((uintptr_t)x & 15) == 0 && ((uintptr_t)w & 15) == 0);
    ARG_CHECK(o->n[0] > 0 && o->n[1] >= 0 && o->n[2] >= 0);
    long long rows = swiglu ? (long long)o->n[0] * 2 : (long long)o->n[0] + o->n[1] + o->n[2];
    cudaStream_t st = octo_cuda_raw_stream(s);
    if (swiglu)
        CUDA_TRY(launch_multi<true>(B, rows, st, (const uint4 *)x, C / 8, (const uint4 *)w,
                                    C / 8, *o));
    else
        CUDA_TRY(launch_multi<false>(B, rows, st, (const uint4 *)x, C / 8, (const uint4 *)w,
                                     C / 8, *o));
    return OCTO_OK;
}


int octo_cuda_pdl_small = 1;

void octo_cuda_be_pdl(bool on) { octo_cuda_pdl_small = on; }

/* ==== runtime wrappers ==== */

octo_err octo_cuda_be_host_alloc(size_t bytes, void **p)
{
    *p = NULL;
    CUDA_TRY(cudaMallocHost(p, bytes ? bytes : 1));
    return OCTO_OK;
}

void octo_cuda_be_host_free(void *p)
{
    if (p) cudaFreeHost(p);
}

octo_err octo_cuda_be_mem_info(size_t *free_b, size_t *total)
{
    CUDA_TRY(cudaMemGetInfo(free_b, total));
    return OCTO_OK;
}

octo_err octo_cuda_be_event_new(void **ev)
{
    cudaEvent_t e = NULL;
    *ev = NULL;
    CUDA_TRY(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    *ev = (void *)e;
    return OCTO_OK;
}

void octo_cuda_be_event_free(void *ev)
{
    if (ev) cudaEventDestroy((cudaEvent_t)ev);
}

octo_err octo_cuda_be_event_record(void *ev, octo_cuda_stream *s)
{
    CUDA_TRY(cudaEventRecord((cudaEvent_t)ev, octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

octo_err octo_cuda_be_event_wait(void *ev)
{
    CUDA_TRY(cudaEventSynchronize((cudaEvent_t)ev));
    return OCTO_OK;
}

octo_err octo_cuda_be_capture_begin(octo_cuda_stream *s)
{
    CUDA_TRY(cudaStreamBeginCapture(octo_cuda_raw_stream(s), cudaStreamCaptureModeThreadLocal));
    return OCTO_OK;
}

octo_err octo_cuda_be_capture_end(octo_cuda_stream *s, void **exec)
{
    cudaGraph_t g = NULL;
    cudaGraphExec_t x = NULL;
    *exec = NULL;
    CUDA_TRY(cudaStreamEndCapture(octo_cuda_raw_stream(s), &g));
    cudaError_t e = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);
    CUDA_TRY(e);
    *exec = (void *)x;
    return OCTO_OK;
}

octo_err octo_cuda_be_graph_launch(void *exec, octo_cuda_stream *s)
{
    CUDA_TRY(cudaGraphLaunch((cudaGraphExec_t)exec, octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

void octo_cuda_be_graph_free(void *exec)
{
    if (exec) cudaGraphExecDestroy((cudaGraphExec_t)exec);
}

} /* extern "C" */
