/* SPDX-License-Identifier: Apache-2.0 */
/*
 * embed — token embedding gather: out[T, C] = table[ids[t], :], one
 * 16-byte vector per thread.
 *
 * It does not scale, add positions or validate ids beyond writing a zero
 * row for an id outside [0, V).
 */
#include "cuda/embed.cuh"

__global__ void embed_kernel(uint4 *out, const uint4 *table, const int32_t *ids, int T, int cv,
                             int V)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)T * cv) return;
    int t = (int)(i / cv), c = (int)(i % cv);
    int id = ids[t];
    uint4 z = make_uint4(0, 0, 0, 0);
    out[i] = (id >= 0 && id < V) ? __ldg(&table[(long long)id * cv + c]) : z;
}

octo_err octo_cuda_embed(octo_bf16 *d_out, const octo_bf16 *d_table, const int32_t *d_ids,
                         int T, int C, int V, octo_cuda_stream *s)
{
    ARG_CHECK(d_out && d_table && d_ids && T >= 0 && C > 0 && V > 0 && C % 8 == 0);
    if (T == 0) return OCTO_OK;
    int cv = C / 8;
    long long n = (long long)T * cv;
    int threads = 256;
    unsigned blocks = (unsigned)((n + threads - 1) / threads);
    embed_kernel<<<blocks, threads, 0, octo_cuda_raw_stream(s)>>>(
        (uint4 *)d_out, (const uint4 *)d_table, d_ids, T, cv, V);
    CUDA_LAUNCHED("embed");
    return OCTO_OK;
}
