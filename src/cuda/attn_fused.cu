/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_fused — one kernel for a decode layer's attention at one query token
 * per sequence: per-head q/k RMSNorm + RoPE (the arithmetic of rope.cu),
 * the new token's key and value stored into the paged KV cache, and
 * flash-decoding over the cache (the partition pass of attn_decode.cu),
 * with the split-K partitions merged by the last partition block of each
 * (sequence, kv-head group) instead of a second kernel.
 *
 * Each block norms and rotates the q heads it serves (in shared memory, one
 * warp per head, so the f32 sums match rope.cu's and the bf16 results are
 * identical). The partition that holds the new position L-1 also norms and
 * rotates that kv head's key, writes key and value to the cache slot (the
 * first head group of the kv head only) and scores that position from
 * shared memory: no block reads position L-1 from the cache. The key/value
 * vectors of older positions depend on no earlier kernel of the step, so
 * each block starts loading its first ones before griddepcontrol.wait.
 *
 * It does not handle several query tokens per sequence, fp8 KV, sliding
 * windows, or sequences without a new token (seq_len 0 gives zeros).
 */
#include <stdlib.h>

#include "cuda/attn_decode.cuh"
#include "cuda/rope.cuh"

#define FUSED_MAX_B 1024  /* sequences per launch (fixed counter region) */
#define FUSED_PREFETCH 64 /* tokens per block prefetched to L2 before the wait */
#define FUSED_CHUNK 64    /* partitions per combine round */

typedef struct fused_args {
    __nv_bfloat16 *out;
    float *part_o, *part_ml;
    int *counters;
    const __nv_bfloat16 *q, *k, *v, *q_w, *k_w;
    int q_stride, k_stride, v_stride;
    float eps, scale;
    octo_cuda_rope rope;
    const int32_t *pos, *slots, *block_tables, *seq_lens;
    __nv_bfloat16 *kc, *vc;
    long long nslots;
    int block_size, K, max_blocks, H, G, part_len, nparts;
} fused_args;

/* Counter region at the start of the workspace: a fixed size for a given H,
 * so that calls of any B and context reuse the same (zeroed) counters. */
static size_t counter_bytes(int H)
{
    return ((size_t)FUSED_MAX_B * H * sizeof(int) + 255) / 256 * 256;
}

/* ==== norm + RoPE of the block's heads ==== */

/* cos/sin of the token's position for the rotary pairs: cs[j], cs[half + j]
 * as rope.cu computes them. */
static __device__ __forceinline__ void rope_table(float *cs, const octo_cuda_rope &r, int p)
{
    int half = r.rot_dim / 2;
    for (int j = threadIdx.x; j < half; j += DEC_THREADS) {
        float c, sn;
        if (r.d_cos_sin) {
            int pr = min(max(p, 0), r.table_rows - 1);
            const float *row_cs = r.d_cos_sin + (long long)pr * r.rot_dim;
            c = row_cs[j];
            sn = row_cs[half + j];
        } else {
            sincosf(__fmul_rn((float)p, r.d_inv_freq[j]), &sn, &c);
            c = __fmul_rn(c, r.mscale);
            sn = __fmul_rn(sn, r.mscale);
        }
        cs[j] = c;
        cs[half + j] = sn;
    }
}

/* One warp: head x (raw bf16) -> RMSNorm with w (NULL: none), bf16 rounding,
 * RoPE, bf16 rounding; the f32 values of the result land in row[D] and, when
 * kdst != NULL, the bf16 values in kdst[D]. Same operations and order as
 * qk_norm_rope_kernel. */
template <int D>
static __device__ __forceinline__ void norm_rope_head(float *row, const __nv_bfloat16 *x,
                                                      const __nv_bfloat16 *w, float eps,
                                                      const float *cs, int rot_dim,
                                                      __nv_bfloat16 *kdst)
{
    constexpr int EPL = D / 32;
    int lane = threadIdx.x & 31;
    float xr[EPL];
    float ss = 0.0f;
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        float v = bf2f(x[lane + 32 * i]);
        xr[i] = v;
        ss = rope_sq_acc(ss, v);
    }
    if (w) {
        float inv = rope_inv_rms(warp_sum(ss), D, eps);
#pragma unroll
        for (int i = 0; i < EPL; i++) xr[i] = rope_normed(xr[i], inv, bf2f(w[lane + 32 * i]));
    }
#pragma unroll
    for (int i = 0; i < EPL; i++) row[lane + 32 * i] = xr[i];
    __syncwarp();
    int half = rot_dim / 2;
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        int d = lane + 32 * i;
        float v = xr[i];
        if (d < rot_dim) {
            int j = d < half ? d : d - half;
            float c = cs[j], sn = cs[half + j];
            v = rope_rot(v, d < half ? row[d + half] : row[d - half], c, sn, d < half);
        }
        xr[i] = v;
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < EPL; i++) {
        __nv_bfloat16 h = f2bf(xr[i]);
        row[lane + 32 * i] = bf2f(h);
        if (kdst) kdst[lane + 32 * i] = h;
    }
}

/* The block's q heads into sx[0..ng), the new key into sx[GMAX] and value
 * into sx[GMAX + 1] (when has_new), one warp per head; the first head group
 * of the kv head also stores key and value into the cache slot. */
template <int D, int GMAX>
static __device__ void prep_heads(const fused_args &a, float (*sx)[D], const float *cs, int b,
                                  int kvh, int h0, int ng, bool has_new, bool writer)
{
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int nh = ng + (has_new ? 1 : 0);
    for (int hh = warp; hh < nh; hh += DEC_WARPS) {
        if (hh < ng) {
            norm_rope_head<D>(sx[hh], a.q + (long long)b * a.q_stride + (long long)(h0 + hh) * D,
                              a.q_w, a.eps, cs, a.rope.rot_dim, NULL);
            continue;
        }
        __nv_bfloat16 *kdst = NULL, *vdst = NULL;
        if (writer) {
            long long slot = a.slots[b];
            if (slot >= 0 && slot < a.nslots) {
                kdst = a.kc + (slot * a.K + kvh) * (long long)D;
                vdst = a.vc + (slot * a.K + kvh) * (long long)D;
            }
        }
        const __nv_bfloat16 *vs = a.v + (long long)b * a.v_stride + (long long)kvh * D;
#pragma unroll
        for (int i = 0; i < D / 32; i++) {
            __nv_bfloat16 h = vs[lane + 32 * i];
            sx[GMAX + 1][lane + 32 * i] = bf2f(h);
            if (vdst) vdst[lane + 32 * i] = h;
        }
        norm_rope_head<D>(sx[GMAX], a.k + (long long)b * a.k_stride + (long long)kvh * D, a.k_w,
                          a.eps, cs, a.rope.rot_dim, kdst);
    }
}

/* ==== split-K merge by the last partition block ==== */

/* Called by every thread of a block that wrote its partials: true in the
 * block that completes the (sequence, head group), which then resets the
 * counter. */
static __device__ bool last_block(int *cnt, int np, int *s_flag)
{
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        int prev = atomicAdd(cnt, 1);
        int last = prev == np - 1;
        if (last) atomicExch(cnt, 0);
        *s_flag = last;
    }
    __syncthreads();
    bool last = *s_flag != 0;
    if (last) __threadfence();
    return last;
}

/* out for heads h0..h0+ng-1 of sequence b from the np partials: per head the
 * max and the weighted sum (one warp each), then float4 columns of all heads
 * over chunks of FUSED_CHUNK partitions with their weights in shared memory. */
template <int D, int GMAX>
static __device__ void combine(const fused_args &a, int b, int h0, int ng, int np)
{
    constexpr int C4 = D / 4;
    __shared__ float s_M[GMAX], s_den[GMAX], s_w[GMAX][FUSED_CHUNK];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    long long bh0 = (long long)b * a.H + h0;
    for (int g = warp; g < ng; g += DEC_WARPS) {
        const float *ml = a.part_ml + (bh0 + g) * a.nparts * 2;
        float M = -INFINITY;
        for (int p = lane; p < np; p += 32) M = fmaxf(M, __ldcg(ml + 2 * p));
        M = warp_max(M);
        float den = 0.0f;
        for (int p = lane; p < np; p += 32) {
            float l = __ldcg(ml + 2 * p + 1);
            if (l > 0.0f) den += __expf(__ldcg(ml + 2 * p) - M) * l;
        }
        den = warp_sum(den);
        if (lane == 0) s_M[g] = M, s_den[g] = den;
    }
    constexpr int CPT = (GMAX * C4 + DEC_THREADS - 1) / DEC_THREADS; /* columns per thread */
    float4 acc[CPT];
#pragma unroll
    for (int c = 0; c < CPT; c++) acc[c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int p0 = 0; p0 < np; p0 += FUSED_CHUNK) {
        int nc = min(FUSED_CHUNK, np - p0);
        __syncthreads(); /* s_M ready; previous chunk's weights used */
        for (int i = threadIdx.x; i < ng * FUSED_CHUNK; i += DEC_THREADS) {
            int g = i / FUSED_CHUNK, pp = i % FUSED_CHUNK;
            float wt = 0.0f;
            if (pp < nc) {
                const float *ml = a.part_ml + ((bh0 + g) * a.nparts + p0 + pp) * 2;
                float l = __ldcg(ml + 1);
                if (l > 0.0f) wt = __expf(__ldcg(ml) - s_M[g]) * l;
            }
            s_w[g][pp] = wt;
        }
        __syncthreads();
#pragma unroll
        for (int c = 0; c < CPT; c++) {
            int col = threadIdx.x + c * DEC_THREADS;
            if (col >= ng * C4) break;
            int g = col / C4, d4 = col % C4;
            const float4 *po = (const float4 *)(a.part_o + ((bh0 + g) * a.nparts + p0) * D) + d4;
            float4 s = acc[c];
#pragma unroll 16
            for (int pp = 0; pp < nc; pp++) {
                float4 o = __ldcg(po + (long long)pp * C4);
                float wt = s_w[g][pp];
                s.x = fmaf(wt, o.x, s.x), s.y = fmaf(wt, o.y, s.y);
                s.z = fmaf(wt, o.z, s.z), s.w = fmaf(wt, o.w, s.w);
            }
            acc[c] = s;
        }
    }
#pragma unroll
    for (int c = 0; c < CPT; c++) {
        int col = threadIdx.x + c * DEC_THREADS;
        if (col >= ng * C4) break;
        int g = col / C4, d4 = col % C4;
        float den = s_den[g];
        float4 r = den > 0.0f ? make_float4(acc[c].x / den, acc[c].y / den, acc[c].z / den,
                                            acc[c].w / den)
                              : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        __nv_bfloat162 *o = (__nv_bfloat162 *)(a.out + (bh0 + g) * D + d4 * 4);
        o[0] = __floats2bfloat162_rn(r.x, r.y);
        o[1] = __floats2bfloat162_rn(r.z, r.w);
    }
}

/* ==== the kernel ==== */

/* This lane group's U tokens t0 + gin + u * NGRP (< n) of the partition. */
template <int D, int U, int NGRP>
static __device__ __forceinline__ void load_kv(uint4 *kv, uint4 *vv, const fused_args &a,
                                               const int32_t *bt, int start, int t0, int n,
                                               int kvh, int li)
{
#pragma unroll
    for (int u = 0; u < U; u++) {
        int t = t0 + u * NGRP;
        kv[u] = vv[u] = make_uint4(0, 0, 0, 0);
        if (t < n) {
            kv[u] = __ldg(kv_vec(a.kc, bt, start + t, a.block_size, a.K, kvh, D, li));
            vv[u] = __ldg(kv_vec(a.vc, bt, start + t, a.block_size, a.K, kvh, D, li));
        }
    }
}

/* L2 prefetch of tokens [t0, t1) of the partition (K and V rows). */
template <int D>
static __device__ __forceinline__ void prefetch_kv(const fused_args &a, const int32_t *bt,
                                                   int start, int t0, int t1, int kvh)
{
    constexpr int LPR = D * 2 / 128; /* 128-byte lines per row */
    for (int i = threadIdx.x; i < (t1 - t0) * 2 * LPR; i += DEC_THREADS) {
        int t = t0 + i / (2 * LPR), r = i % (2 * LPR);
        const char *p = (const char *)kv_vec(r < LPR ? a.kc : a.vc, bt, start + t, a.block_size,
                                             a.K, kvh, D, 0) + (r % LPR) * 128;
        asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
    }
}

/* Grid (K * ngroups, B, nparts), DEC_THREADS threads; see attn_decode_kernel
 * for the partition pass, which this follows except for the new position. */
template <int D, int GMAX>
__global__ void __launch_bounds__(DEC_THREADS)
attn_fused_kernel(const fused_args a)
{
    using S = dec_shape<D, GMAX>;
    constexpr int LPT = S::LPT, NGRP = S::NGRP, TPW = S::TPW, U = S::U;
    __shared__ dec_smem<D, GMAX> sm;
    __shared__ float s_x[GMAX + 2][D]; /* q heads, new k, new v (f32 of bf16) */
    __shared__ float s_cs[D];
    __shared__ int s_flag;
    asm volatile("griddepcontrol.launch_dependents;");

    int ngroups = gridDim.x / a.K;
    int kvh = blockIdx.x / ngroups, sub = blockIdx.x % ngroups;
    int h0 = kvh * a.G + sub * GMAX, ng = min(GMAX, a.G - sub * GMAX);
    int b = blockIdx.y, z = blockIdx.z;
    int L = a.seq_lens[b];
    int start = z * a.part_len;
    if (start >= L && z > 0) return;
    int end = min(L, start + a.part_len);
    bool has_new = L > 0 && end == L;            /* this partition holds position L-1 */
    int n = max(0, end - start) - (has_new ? 1 : 0); /* older positions, from the cache */
    /* active partitions of this sequence; with one, out is written directly */
    int np = max(1, min(a.nparts, (L + a.part_len - 1) / a.part_len));
    const int32_t *bt = a.block_tables + (long long)b * a.max_blocks;
    int li = threadIdx.x % LPT, grp = threadIdx.x / LPT;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int gin = grp - warp * TPW;
    const int tw = warp * TPW; /* the warp's first token */

    /* independent of the previous kernel: metadata, older K/V, cos/sin */
    uint4 kv[U], vv[U];
    load_kv<D, U, NGRP>(kv, vv, a, bt, start, tw + gin, n, kvh, li);
    prefetch_kv<D>(a, bt, start, NGRP * U, min(n, NGRP * U + FUSED_PREFETCH), kvh);
    rope_table(s_cs, a.rope, a.pos[b]);
    asm volatile("griddepcontrol.wait;" ::: "memory");
    __syncthreads();
    prep_heads<D, GMAX>(a, s_x, s_cs, b, kvh, h0, ng, has_new, sub == 0);
    __syncthreads();

    float qf[GMAX][8];
#pragma unroll
    for (int g = 0; g < GMAX; g++)
#pragma unroll
        for (int i = 0; i < 8; i++) qf[g][i] = g < ng ? s_x[g][li * 8 + i] * a.scale : 0.0f;
    float m[GMAX], l[GMAX], acc[GMAX][8];
    dec_state_init<GMAX>(m, l, acc);

    for (int t0 = tw; t0 < n; t0 += NGRP * U) {
        if (t0 != tw) load_kv<D, U, NGRP>(kv, vv, a, bt, start, t0 + gin, n, kvh, li);
        dec_online_step<GMAX, U, LPT, NGRP>(qf, kv, vv, t0 + gin, n, m, l, acc);
    }

    /* the new position, from shared memory, into lane group 0 */
    if (has_new && warp == 0) {
        float kf[8], vf[8];
#pragma unroll
        for (int i = 0; i < 8; i++) {
            kf[i] = s_x[GMAX][li * 8 + i];
            vf[i] = s_x[GMAX + 1][li * 8 + i];
        }
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            float d = dec_group_dot<LPT>(qf[g], kf);
            if (gin == 0) merge_state(m[g], l[g], acc[g], d, 1.0f, vf);
        }
    }

    /* merge the lane groups of a warp, then the warps through shared memory */
    dec_merge_warp<GMAX, LPT, D>(m, l, acc, lane, li, warp, sm);
    __syncthreads();
    dec_block_out<GMAX, D>(sm, ng, (long long)b * a.H + h0, z, np == 1, a.nparts, a.out,
                           a.part_o, a.part_ml);
    if (np == 1) return;
    if (last_block(a.counters + (long long)b * gridDim.x + blockIdx.x, np, &s_flag))
        combine<D, GMAX>(a, b, h0, ng, np);
}

/* ==== host side ==== */

#define ONE_SEQ_MIN_PART 32  /* one sequence: partitions of 32..256 tokens, */
#define ONE_SEQ_MAX_PART 256 /* as few as stay within ONE_SEQ_PARTS */
#define ONE_SEQ_PARTS 32

/* Partition length. One sequence: the shortest power of two from 32 to 256
 * tokens that needs at most 32 partitions (kernel times on an H100,
 * docs/BENCHMARKS-cuda.md: 11.2 us at 512 cached tokens against 13.8 with
 * dec_part_len's 64-token ones; 20.3 against 27.5 us at 4096). Else
 * dec_part_len's. */
static int fused_part_len(int B, int H, int max_seq_len)
{
    if (B != 1) return dec_part_len(B, H, max_seq_len);
    int part = ONE_SEQ_MIN_PART;
    while (part < ONE_SEQ_MAX_PART && (max_seq_len + part - 1) / part > ONE_SEQ_PARTS) part *= 2;
    return part;
}

/* Upper bound of B' * H * nparts over every B' <= B and max_seq_len' <=
 * max_seq_len (dec_part_len is not monotonic): either the longest
 * partitions were kept, or halving stopped below 2 * 4096 partials; the
 * one-sequence rule's at most max(32, L / 256) partitions. */
static size_t partials_bound(int B, int H, int max_seq_len)
{
    size_t bh = (size_t)B * H;
    size_t longest = bh * (size_t)((max_seq_len + DEC_MAX_PART - 1) / DEC_MAX_PART);
    size_t shortest = bh * (size_t)((max_seq_len + DEC_MIN_PART - 1) / DEC_MIN_PART);
    size_t halved = shortest < 8192 ? shortest : 8192;
    size_t bound = longest > halved ? longest : halved;
    size_t one = (size_t)(max_seq_len + ONE_SEQ_MAX_PART - 1) / ONE_SEQ_MAX_PART;
    one = (size_t)H * (one > ONE_SEQ_PARTS ? one : ONE_SEQ_PARTS);
    return one > bound ? one : bound;
}

size_t octo_cuda_attn_decode_fused_workspace(int B, int H, int D, int max_seq_len)
{
    if (B <= 0 || B > FUSED_MAX_B || H <= 0 || D <= 0 || max_seq_len <= 0) return 0;
    size_t p = partials_bound(B, H, max_seq_len);
    return counter_bytes(H) + p * D * sizeof(float) + p * 2 * sizeof(float) + 256;
}

template <int D>
static cudaError_t launch_d(int G, dim3 grid, cudaStream_t st, const fused_args &a)
{
    if (G <= 4)
        return launch_pdl(attn_fused_kernel<D, 4>, grid, dim3(DEC_THREADS), st, a);
    return launch_pdl(attn_fused_kernel<D, 8>, grid, dim3(DEC_THREADS), st, a);
}

octo_err octo_cuda_attn_decode_fused(octo_bf16 *d_out, const octo_bf16 *d_q, int q_stride,
                                     const octo_bf16 *d_k, int k_stride, const octo_bf16 *d_v,
                                     int v_stride, const octo_bf16 *d_q_w,
                                     const octo_bf16 *d_k_w, float eps,
                                     const octo_cuda_rope *rope, const int32_t *d_pos,
                                     const int32_t *d_slots, const octo_cuda_kv *kv,
                                     const int32_t *d_block_tables, int max_blocks,
                                     const int32_t *d_seq_lens, int B, int H, int max_seq_len,
                                     float scale, void *d_work, octo_cuda_stream *s)
{
    ARG_CHECK(d_out && d_q && d_k && d_v && rope && d_pos && d_slots && kv);
    ARG_CHECK(kv->d_k_cache && kv->d_v_cache && d_block_tables && d_seq_lens);
    ARG_CHECK(B >= 0 && B <= FUSED_MAX_B && H > 0 && kv->K > 0 && H % kv->K == 0);
    ARG_CHECK(kv->D == 64 || kv->D == 128 || kv->D == 256);
    int D = kv->D, K = kv->K, G = H / K;
    ARG_CHECK(q_stride >= H * D && k_stride >= K * D && v_stride >= K * D);
    ARG_CHECK(kv->block_size > 0 && kv->num_blocks > 0);
    ARG_CHECK(max_seq_len > 0 && (long long)max_blocks * kv->block_size >= max_seq_len);
    ARG_CHECK(rope->rot_dim >= 0 && rope->rot_dim % 2 == 0 && rope->rot_dim <= D);
    ARG_CHECK(rope->d_cos_sin ? rope->table_rows > 0 : (rope->d_inv_freq != NULL));
    ARG_CHECK((d_q_w == NULL) == (d_k_w == NULL));
    if (B == 0) return OCTO_OK;
    int part = fused_part_len(B, H, max_seq_len);
    int nparts = (max_seq_len + part - 1) / part;
    fused_args a = {};
    if (nparts > 1) {
        ARG_CHECK(d_work != NULL);
        a.counters = (int *)d_work;
        a.part_o = (float *)((char *)d_work + counter_bytes(H));
        a.part_ml = a.part_o + (size_t)B * H * nparts * D;
    }
    a.out = (__nv_bfloat16 *)d_out;
    a.q = (const __nv_bfloat16 *)d_q, a.k = (const __nv_bfloat16 *)d_k;
    a.v = (const __nv_bfloat16 *)d_v;
    a.q_w = (const __nv_bfloat16 *)d_q_w, a.k_w = (const __nv_bfloat16 *)d_k_w;
    a.q_stride = q_stride, a.k_stride = k_stride, a.v_stride = v_stride;
    a.eps = eps, a.scale = scale, a.rope = *rope;
    a.pos = d_pos, a.slots = d_slots, a.block_tables = d_block_tables;
    a.seq_lens = d_seq_lens;
    a.kc = (__nv_bfloat16 *)kv->d_k_cache, a.vc = (__nv_bfloat16 *)kv->d_v_cache;
    a.nslots = (long long)kv->num_blocks * kv->block_size;
    a.block_size = kv->block_size, a.K = K, a.max_blocks = max_blocks;
    a.H = H, a.G = G, a.part_len = part, a.nparts = nparts;
    int ngroups = G <= 4 ? 1 : (G + 7) / 8;
    dim3 grid((unsigned)(K * ngroups), (unsigned)B, (unsigned)nparts);
    cudaStream_t st = octo_cuda_raw_stream(s);
    if (D == 64)
        CUDA_TRY(launch_d<64>(G, grid, st, a));
    else if (D == 128)
        CUDA_TRY(launch_d<128>(G, grid, st, a));
    else
        CUDA_TRY(launch_d<256>(G, grid, st, a));
    return OCTO_OK;
}
