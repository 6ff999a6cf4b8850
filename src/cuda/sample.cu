/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample — token sampling on the GPU, one block per sequence, so only the
 * chosen ids (and their logprobs) travel back to the host. Per row:
 * repetition / presence / frequency penalties from token counts, then
 * temperature (or greedy argmax), log-sum-exp for the logprob, then the
 * truncation thresholds — top-k and top-p found by binary search over the
 * order-preserving integer image of the f32 logits (32 block-wide counting
 * or mass reductions each, exact, ties at the cut kept), min-p as
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

/* Number of logits >= t (as a float, exact below 2^24). */
static __device__ float count_ge(const float *x, int V, float t, float *red)
{
    float c = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) c += x[i] >= t ? 1.0f : 0.0f;
    return block_sum(c, red);
}

/* Unnormalised mass sum exp(x - mx) over logits >= t. */
static __device__ float mass_ge(const float *x, int V, float t, float mx, float *red)
{
    float c = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        if (x[i] >= t) c += __expf(x[i] - mx);
    return block_sum(c, red);
}

/* Largest threshold t (searched in ordered space [lo, hi]) with
 * f(t) >= goal, f non-increasing in t and f(lo) >= goal. */
template <typename F>
static __device__ float search_cut(uint32_t lo, uint32_t hi, float goal, F f)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (f(ord2f(mid)) >= goal) lo = mid;
        else hi = mid - 1;
    }
    return ord2f(lo);
}

__global__ void __launch_bounds__(SAMPLE_THREADS)
sample_kernel(int32_t *ids, float *logprobs, float *logits, int ls, const int32_t *counts,
              const octo_cuda_sample_params *prm, int V)
{
    __shared__ float red[32];
    __shared__ int redi[32];
    int row = blockIdx.x;
    float *x = logits + (long long)row * ls;
    const int32_t *cnt = counts ? counts + (long long)row * V : NULL;
    octo_cuda_sample_params P = prm[row];
    bool greedy = !(P.temperature > 1e-5f);
    float inv_t = greedy ? 1.0f : 1.0f / P.temperature;

    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float v = x[i];
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
    }
    block_argmax(&bv, &bi, red, redi);
    float mx = bv;
    float z = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) z += __expf(x[i] - mx);
    float log_z = mx + logf(block_sum(z, red));

    int choice = bi;
    if (!greedy) {
        float cut = -INFINITY;
        if (P.min_p > 0.0f) cut = mx + logf(fminf(P.min_p, 1.0f));
        if (P.top_k > 0 && P.top_k < V) {
            float k = (float)P.top_k;
            float tk = search_cut(0u, f2ord(mx), k,
                                  [&](float t) { return count_ge(x, V, t, red); });
            cut = fmaxf(cut, tk);
        }
        if (P.top_p < 1.0f) {
            float kept = mass_ge(x, V, cut, mx, red);
            float tp = search_cut(f2ord(cut), f2ord(mx), P.top_p * kept,
                                  [&](float t) { return mass_ge(x, V, t, mx, red); });
            cut = fmaxf(cut, tp);
        }
        uint2 key = make_uint2((uint32_t)P.seed, (uint32_t)(P.seed >> 32));
        bv = -INFINITY;
        bi = 0x7fffffff;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            float v = x[i];
            if (!(v >= cut)) continue;
            uint4 r = philox4x32_10(
                make_uint4((uint32_t)i, (uint32_t)P.step, (uint32_t)(P.step >> 32), 0u), key);
            float u = ((float)(r.x >> 8) + 0.5f) * (1.0f / 16777216.0f);
            float g = v - logf(-logf(u));
            if (g > bv) bv = g, bi = i;
        }
        block_argmax(&bv, &bi, red, redi);
        if (bi >= 0 && bi < V) choice = bi; /* else every logit was -inf: keep argmax */
    }
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
