/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_write — stores the new tokens' keys and values into the paged KV
 * cache ([num_blocks, block_size, K, D] each) at their slots (block *
 * block_size + offset; negative slots are padding and skipped).
 *
 * It does not allocate blocks or build slot mappings: the engine's block
 * manager does that on the host.
 */
#include "cuda/kv_write.cuh"

__global__ void kv_write_kernel(uint4 *k_cache, uint4 *v_cache, const __nv_bfloat16 *k,
                                int k_stride, const __nv_bfloat16 *v, int v_stride,
                                const int32_t *slots, int T, int K, int dv, long long nslots)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    int per_tok = K * dv;
    if (i >= (long long)T * per_tok) return;
    int t = (int)(i / per_tok), c = (int)(i % per_tok);
    long long slot = slots[t];
    if (slot < 0 || slot >= nslots) return;
    long long dst = slot * per_tok + c;
    k_cache[dst] = *(const uint4 *)(k + (long long)t * k_stride + (long long)c * 8);
    v_cache[dst] = *(const uint4 *)(v + (long long)t * v_stride + (long long)c * 8);
}

octo_err octo_cuda_kv_write(const octo_cuda_kv *kv, const octo_bf16 *d_k, int k_stride,
                            const octo_bf16 *d_v, int v_stride, const int32_t *d_slots, int T,
                            octo_cuda_stream *s)
{
    ARG_CHECK(kv && kv->d_k_cache && kv->d_v_cache && d_k && d_v && d_slots && T >= 0);
    ARG_CHECK(kv->K > 0 && kv->D > 0 && kv->D % 8 == 0 && kv->block_size > 0);
    ARG_CHECK(kv->num_blocks > 0 && k_stride % 8 == 0 && v_stride % 8 == 0);
    ARG_CHECK(k_stride >= kv->K * kv->D && v_stride >= kv->K * kv->D);
    if (T == 0) return OCTO_OK;
    int dv = kv->D / 8;
    long long n = (long long)T * kv->K * dv;
    long long nslots = (long long)kv->num_blocks * kv->block_size;
    kv_write_kernel<<<(unsigned)((n + 255) / 256), 256, 0, octo_cuda_raw_stream(s)>>>(
        (uint4 *)kv->d_k_cache, (uint4 *)kv->d_v_cache, (const __nv_bfloat16 *)d_k, k_stride,
        (const __nv_bfloat16 *)d_v, v_stride, d_slots, T, kv->K, dv, nslots);
    CUDA_LAUNCHED("kv_write");
    return OCTO_OK;
}
