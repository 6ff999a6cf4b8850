/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample — token sampling on the GPU, one block per sequence, so only the
 * chosen ids (and their logprobs) travel back to the host. Per row:
 * repetition / presence / frequency penalties from token counts, then
 * temperature (or greedy argmax), log-sum-exp for the logprob, then the
 * truncation thresholds — top-k and top-p found by radix select over the
 * order-preserving integer image of the f32 logits (four 8-bit digit
 * passes with shared-memory histograms each, exact, ties at the cut
 * kept), min-p as
 * max + log(min_p) — and finally a Gumbel-max draw (argmax of logit +
 * Gumbel noise), which is an exact sample from the softmax over the kept
 * tokens. The noise is Philox4x32-10 keyed by the row's seed, counter =
 * (token id, step), so a (seed, step) pair always gives the same token.
 *
 * It does not do beam search, logit bias, grammar masks or speculative
 * verification; those would be separate passes over the logits.
 */
#include "cuda/sample.cuh"

static __device__ __forceinline__ uint32_t f2ord(float f)
{
    uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static __device__ __forceinline__ float ord2f(uint32_t o)
{
    return __uint_as_float((o & 0x80000000u) ? (o & 0x7fffffffu) : ~o);
}

/* Block argmax of (v, i): larger v wins, then the smaller index. */
static __device__ void block_argmax(float *v, int *i, float *rv, int *ri)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, *v, o);
        int oi = __shfl_xor_sync(0xffffffffu, *i, o);
        if (ov > *v || (ov == *v && oi < *i)) *v = ov, *i = oi;
    }
    __syncthreads();
    if (lane == 0) rv[warp] = *v, ri[warp] = *i;
    __syncthreads();
    *v = lane < nw ? rv[lane] : -INFINITY;
    *i = lane < nw ? ri[lane] : 0x7fffffff;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, *v, o);
        int oi = __shfl_xor_sync(0xffffffffu, *i, o);
        if (ov > *v || (ov == *v && oi < *i)) *v = ov, *i = oi;
    }
}

/* Calls f(i, x[i]) for each i < V this thread owns, in increasing i (the
 * argmax tie-break relies on it): 16-byte loads, four in flight, when x is
 * 16-byte aligned; plain loads otherwise. */
template <typename F>
static __device__ __forceinline__ void for_each(const float *x, int V, F f)
{
    int bd = blockDim.x, i = threadIdx.x;
    if (((uintptr_t)x & 15) != 0) {
        for (; i < V; i += bd) f(i, x[i]);
        return;
    }
    const float4 *x4 = (const float4 *)x;
    int v4 = V / 4;
    for (; i + 3 * bd < v4; i += 4 * bd) {
        float4 a[4];
#pragma unroll
        for (int u = 0; u < 4; u++) a[u] = x4[i + u * bd];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            int b = (i + u * bd) * 4;
            f(b, a[u].x), f(b + 1, a[u].y), f(b + 2, a[u].z), f(b + 3, a[u].w);
        }
    }
    for (; i < v4; i += bd) {
        float4 a = x4[i];
        f(4 * i, a.x), f(4 * i + 1, a.y), f(4 * i + 2, a.z), f(4 * i + 3, a.w);
    }
    for (int j = 4 * v4 + threadIdx.x; j < V; j += bd) f(j, x[j]);
}

/* Radix select over the order-preserving keys of the logits: the largest
 * key c with S(c) >= goal, where S(c) sums w(x) over the logits whose key
 * is >= c and >= floor_key, and w is 1 (count: c is the goal-th largest
 * value) or exp(x - mx) (mass: the top-p boundary). Four passes of 8-bit
 * digits, most significant first; each pass builds per-warp histograms in
 * shared memory (so atomics only contend within a warp), sums them, and
 * warp 0 scans the 256 bins from the top. */
template <bool MASS>
static __device__ float radix_cut(const float *x, int V, uint32_t floor_key, float goal,
                                  float mx, float (*hist)[256], float *tot, float *bc)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    uint32_t prefix = 0, mask = 0;
    float above = 0.0f; /* weight of the keys above the current prefix */
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < nw * 256; i += blockDim.x) hist[i / 256][i % 256] = 0.0f;
        __syncthreads();
        for_each(x, V, [&](int, float v) {
            uint32_t key = f2ord(v);
            if (key >= floor_key && (key & mask) == prefix)
                atomicAdd(&hist[warp][(key >> shift) & 255u], MASS ? __expf(v - mx) : 1.0f);
        });
        __syncthreads();
        for (int b = threadIdx.x; b < 256; b += blockDim.x) {
            float t = 0.0f;
            for (int w = 0; w < nw; w++) t += hist[w][b];
            tot[b] = t;
        }
        __syncthreads();
        if (warp == 0) {
            float sv[8], ls = 0.0f;
#pragma unroll
            for (int j = 0; j < 8; j++) ls += sv[j] = tot[255 - 8 * lane - j];
            float inc = ls;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                float t = __shfl_up_sync(0xffffffffu, inc, o);
                if (lane >= o) inc += t;
            }
            unsigned hit = __ballot_sync(0xffffffffu, above + inc >= goal);
            unsigned nz = __ballot_sync(0xffffffffu, ls > 0.0f);
            int L = hit ? __ffs(hit) - 1 : (nz ? 31 - __clz(nz) : 31);
            if (lane == L) {
                float cum = above + inc - ls, sel_above = cum, last_above = cum;
                int sel = -1, last_nz = 255 - 8 * L;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    if (sv[j] > 0.0f) last_nz = 255 - 8 * L - j, last_above = cum;
                    if (sel < 0 && cum + sv[j] >= goal) sel = 255 - 8 * L - j, sel_above = cum;
                    cum += sv[j];
                }
                if (sel < 0) sel = last_nz, sel_above = last_above; /* rounding: keep all */
                bc[0] = (float)sel;
                bc[1] = sel_above;
            }
        }
        __syncthreads();
        prefix |= (uint32_t)bc[0] << shift;
        mask |= 255u << shift;
        above = bc[1];
        __syncthreads();
    }
    return ord2f(prefix);
}

__global__ void __launch_bounds__(SAMPLE_THREADS)
sample_kernel(int32_t *ids, float *logprobs, float *logits, int ls, const int32_t *counts,
              const octo_cuda_sample_params *prm, int V)
{
    __shared__ float red[32];
    __shared__ int redi[32];
    __shared__ float hist[SAMPLE_THREADS / 32][256];
    __shared__ float tot[256], bc[2];
    int row = blockIdx.x;
    float *x = logits + (long long)row * ls;
    const int32_t *cnt = counts ? counts + (long long)row * V : NULL;
    octo_cuda_sample_params P = prm[row];
    bool greedy = !(P.temperature > 1e-5f);
    float inv_t = greedy ? 1.0f : 1.0f / P.temperature;

    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for_each(x, V, [&](int i, float v) {
        if (cnt) {
            int c = cnt[i];
            if (c > 0) {
                if (P.repetition_penalty != 1.0f)
                    v = v > 0.0f ? v / P.repetition_penalty : v * P.repetition_penalty;
                v -= P.frequency_penalty * (float)c + P.presence_penalty;
            }
        }
        v *= inv_t;
        x[i] = v;
        if (v > bv) bv = v, bi = i;
    });
    block_argmax(&bv, &bi, red, redi);
    float mx = bv;
    float z = 0.0f;
    for_each(x, V, [&](int, float v) { z += __expf(v - mx); });
    z = block_sum(z, red);
    float log_z = mx + logf(z);

    int choice = bi;
    if (!greedy) {
        float cut = -INFINITY;
        if (P.min_p > 0.0f) cut = mx + logf(fminf(P.min_p, 1.0f));
        if (P.top_k > 0 && P.top_k < V)
            cut = fmaxf(cut, radix_cut<false>(x, V, 0u, (float)P.top_k, mx, hist, tot, bc));
        if (P.top_p < 1.0f) {
            float kept = 0.0f;
            if (cut == -INFINITY) {
                kept = z;
            } else {
                for_each(x, V, [&](int, float v) {
                    if (v >= cut) kept += __expf(v - mx);
                });
                kept = block_sum(kept, red);
            }
            float tp = radix_cut<true>(x, V, f2ord(cut), P.top_p * kept, mx, hist, tot, bc);
            cut = fmaxf(cut, tp);
        }
        uint2 key = make_uint2((uint32_t)P.seed, (uint32_t)(P.seed >> 32));
        bv = -INFINITY;
        bi = 0x7fffffff;
        for_each(x, V, [&](int i, float v) {
            if (!(v >= cut)) return;
            uint4 r = philox4x32_10(
                make_uint4((uint32_t)i, (uint32_t)P.step, (uint32_t)(P.step >> 32), 0u), key);
            float u = ((float)(r.x >> 8) + 0.5f) * (1.0f / 16777216.0f);
            float g = v - logf(-logf(u));
            if (g > bv) bv = g, bi = i;
        });
        block_argmax(&bv, &bi, red, redi);
        if (bi >= 0 && bi < V) choice = bi; /* else every logit was -inf: keep argmax */
    }
    if (choice < 0 || choice >= V) choice = 0; /* all NaN */
    if (threadIdx.x == 0) {
        ids[row] = choice;
        if (logprobs) logprobs[row] = x[choice] - log_z;
    }
}

octo_err octo_cuda_sample(int32_t *d_ids, float *d_logprobs, float *d_logits,
                          int logits_stride, const int32_t *d_counts,
                          const octo_cuda_sample_params *d_params, int B, int V,
                          octo_cuda_stream *s)
{
    ARG_CHECK(d_ids && d_logits && d_params && B >= 0 && V > 0 && logits_stride >= V);
    if (B == 0) return OCTO_OK;
    sample_kernel<<<(unsigned)B, SAMPLE_THREADS, 0, octo_cuda_raw_stream(s)>>>(
        d_ids, d_logprobs, d_logits, logits_stride, d_counts, d_params, V);
    CUDA_LAUNCHED("sample");
    return OCTO_OK;
}
