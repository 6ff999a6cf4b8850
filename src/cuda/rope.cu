/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rope — Qwen3's per-head q/k RMSNorm followed by rotary position
 * embedding (neox rotate_half), in place on q and k, one warp per (token,
 * head). Angles come from a precomputed cos/sin table or from inv_freq
 * (optionally YaRN-scaled; octo_cuda_rope_inv_freq computes it on the
 * host) times the token's position, in f32 with accurate sincosf.
 *
 * Optionally (octo_cuda_qk_norm_rope_kv) the same pass stores the rotated
 * keys and the values into the paged KV cache, one kernel instead of two
 * per decode layer; launched with programmatic dependent launch.
 *
 * It does not handle the GPT-J interleaved rotation or M-RoPE sections.
 */
#include <math.h>

#include "cuda/rope.cuh"

#define ROPE_PER (ROPE_MAX_D / 32) /* values per lane at most */

__global__ void __launch_bounds__(ROPE_WARPS * 32)
qk_norm_rope_kernel(__nv_bfloat16 *q, int q_stride, __nv_bfloat16 *k, int k_stride,
                    const __nv_bfloat16 *q_w, const __nv_bfloat16 *k_w, const int32_t *pos,
                    int T, int H, int K, int D, float eps, octo_cuda_rope rope,
                    rope_kv_store st)
{
    __shared__ float buf[ROPE_WARPS][ROPE_MAX_D];
    /* what does not depend on the kernel before (norm weights, position,
     * cache slot, the angles) is read before waiting for it */
    asm volatile("griddepcontrol.launch_dependents;");
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    long long row = (long long)blockIdx.x * ROPE_WARPS + warp;
    bool live = row < (long long)T * (H + K);
    int t = live ? (int)(row / (H + K)) : 0, h = live ? (int)(row % (H + K)) : 0;
    const __nv_bfloat16 *w = h < H ? q_w : k_w;
    __nv_bfloat16 *kst = NULL; /* this key head's cache row, when storing */
    if (live && st.kc && h >= H) {
        long long slot = st.slots[t];
        if (slot >= 0 && slot < st.nslots)
            kst = st.kc + (slot * K + (h - H)) * (long long)D;
    }
    int half = rope.rot_dim / 2, p = live ? pos[t] : 0;
    float wv[ROPE_PER], cs[ROPE_PER], sn[ROPE_PER];
#pragma unroll
    for (int i = 0; i < ROPE_PER; i++) {
        int d = lane + 32 * i;
        wv[i] = 1.0f, cs[i] = 1.0f, sn[i] = 0.0f;
        if (!live || d >= D) continue;
        if (w) wv[i] = bf2f(w[d]);
        if (d >= rope.rot_dim) continue;
        int j = d < half ? d : d - half;
        if (rope.d_cos_sin) {
            int pr = min(max(p, 0), rope.table_rows - 1);
            const float *row_cs = rope.d_cos_sin + (long long)pr * rope.rot_dim;
            cs[i] = row_cs[j];
            sn[i] = row_cs[half + j];
        } else {
            sincosf(__fmul_rn((float)p, rope.d_inv_freq[j]), &sn[i], &cs[i]);
            cs[i] = __fmul_rn(cs[i], rope.mscale);
            sn[i] = __fmul_rn(sn[i], rope.mscale);
        }
    }
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (!live) return;
    __nv_bfloat16 *x = h < H ? q + (long long)t * q_stride + (long long)h * D
                             : k + (long long)t * k_stride + (long long)(h - H) * D;
    __nv_bfloat16 *xo = h < H && st.q_out
                            ? st.q_out + (long long)t * st.q_out_stride + (long long)h * D
                            : x;
    const __nv_bfloat16 *vs =
        kst ? st.v + (long long)t * st.v_stride + (long long)(h - H) * D : NULL;
    float xv[ROPE_PER];
    __nv_bfloat16 vv[ROPE_PER];
    float ss = 0.0f;
#pragma unroll
    for (int i = 0; i < ROPE_PER; i++) {
        int d = lane + 32 * i;
        xv[i] = d < D ? bf2f(x[d]) : 0.0f;
        if (vs && d < D) vv[i] = vs[d];
        if (d < D) ss = rope_sq_acc(ss, xv[i]);
    }
    float inv = 1.0f;
    if (w) inv = rope_inv_rms(warp_sum(ss), D, eps);
    float *b = buf[warp];
#pragma unroll
    for (int i = 0; i < ROPE_PER; i++) {
        int d = lane + 32 * i;
        if (w) xv[i] = rope_normed(xv[i], inv, wv[i]);
        if (d < D) b[d] = xv[i];
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < ROPE_PER; i++) {
        int d = lane + 32 * i;
        if (d >= D) continue;
        float v = xv[i];
        if (d < rope.rot_dim)
            v = rope_rot(v, d < half ? b[d + half] : b[d - half], cs[i], sn[i], d < half);
        xo[d] = f2bf(v);
        if (kst) {
            kst[d] = f2bf(v);
            st.vc[(kst - st.kc) + d] = vv[i];
        }
    }
}

static octo_err launch(octo_bf16 *d_q, int q_stride, octo_bf16 *d_k, int k_stride,
                       const octo_bf16 *d_q_w, const octo_bf16 *d_k_w, const int32_t *d_pos,
                       int T, int H, int K, int D, float eps, const octo_cuda_rope *rope,
                       rope_kv_store st, octo_cuda_stream *s)
{
    ARG_CHECK(d_q && d_k && d_pos && rope && T >= 0 && H > 0 && K > 0);
    ARG_CHECK(D > 0 && D % 2 == 0 && D <= ROPE_MAX_D);
    ARG_CHECK(q_stride >= H * D && k_stride >= K * D);
    ARG_CHECK(rope->rot_dim >= 0 && rope->rot_dim % 2 == 0 && rope->rot_dim <= D);
    ARG_CHECK(rope->d_cos_sin ? rope->table_rows > 0 : (rope->d_inv_freq != NULL));
    ARG_CHECK((d_q_w == NULL) == (d_k_w == NULL));
    if (T == 0) return OCTO_OK;
    long long rows = (long long)T * (H + K);
    unsigned blocks = (unsigned)((rows + ROPE_WARPS - 1) / ROPE_WARPS);
    CUDA_TRY(launch_pdl(qk_norm_rope_kernel, dim3(blocks), dim3(ROPE_WARPS * 32),
                        octo_cuda_raw_stream(s), (__nv_bfloat16 *)d_q, q_stride,
                        (__nv_bfloat16 *)d_k, k_stride, (const __nv_bfloat16 *)d_q_w,
                        (const __nv_bfloat16 *)d_k_w, d_pos, T, H, K, D, eps, *rope, st));
    return OCTO_OK;
}

octo_err octo_cuda_qk_norm_rope(octo_bf16 *d_q, int q_stride, octo_bf16 *d_k, int k_stride,
                                const octo_bf16 *d_q_w, const octo_bf16 *d_k_w,
                                const int32_t *d_pos, int T, int H, int K, int D, float eps,
                                const octo_cuda_rope *rope, octo_cuda_stream *s)
{
    rope_kv_store none = {};
    return launch(d_q, q_stride, d_k, k_stride, d_q_w, d_k_w, d_pos, T, H, K, D, eps, rope,
                  none, s);
}

octo_err octo_cuda_qk_norm_rope_kv(octo_bf16 *d_q, int q_stride, octo_bf16 *d_q_out,
                                   int q_out_stride, octo_bf16 *d_k, int k_stride,
                                   const octo_bf16 *d_v, int v_stride, const octo_bf16 *d_q_w,
                                   const octo_bf16 *d_k_w, const int32_t *d_pos,
                                   const int32_t *d_slots, const octo_cuda_kv *kv, int T, int H,
                                   int D, float eps, const octo_cuda_rope *rope,
                                   octo_cuda_stream *s)
{
    ARG_CHECK(kv && kv->d_k_cache && kv->d_v_cache && d_v && d_slots && d_q_out);
    ARG_CHECK(kv->D == D && kv->K > 0 && kv->block_size > 0 && kv->num_blocks > 0);
    ARG_CHECK(v_stride >= kv->K * D && q_out_stride >= H * D);
    rope_kv_store st = {d_q_out == d_q ? NULL : (__nv_bfloat16 *)d_q_out, q_out_stride,
                        (__nv_bfloat16 *)kv->d_k_cache, (__nv_bfloat16 *)kv->d_v_cache,
                        (const __nv_bfloat16 *)d_v, v_stride, d_slots,
                        (long long)kv->num_blocks * kv->block_size};
    return launch(d_q, q_stride, d_k, k_stride, d_q_w, d_k_w, d_pos, T, H, kv->K, D, eps, rope,
                  st, s);
}

/* ==== YaRN inv_freq (host) ==== */

/* Dimension index at which a wavelength makes `rotations` turns over the
 * original context. */
static double correction_dim(double rotations, int dim, double theta, double max_pos)
{
    return dim * log(max_pos / (rotations * 2.0 * M_PI)) / (2.0 * log(theta));
}

octo_err octo_cuda_rope_inv_freq(float *h_inv_freq, int rot_dim, double theta,
                                 double yarn_factor, double original_max_pos,
                                 double beta_fast, double beta_slow, float *mscale)
{
    ARG_CHECK(h_inv_freq && mscale && rot_dim > 0 && rot_dim % 2 == 0 && theta > 1.0);
    int half = rot_dim / 2;
    *mscale = 1.0f;
    if (!(yarn_factor > 1.0)) {
        for (int i = 0; i < half; i++)
            h_inv_freq[i] = (float)(1.0 / pow(theta, (2.0 * i) / rot_dim));
        return OCTO_OK;
    }
    ARG_CHECK(original_max_pos > 0 && beta_fast > beta_slow && beta_slow > 0);
    double lo = floor(correction_dim(beta_fast, rot_dim, theta, original_max_pos));
    double hi = ceil(correction_dim(beta_slow, rot_dim, theta, original_max_pos));
    if (lo < 0) lo = 0;
    if (hi > rot_dim - 1) hi = rot_dim - 1;
    if (hi == lo) hi += 0.001;
    for (int i = 0; i < half; i++) {
        double extra = 1.0 / pow(theta, (2.0 * i) / rot_dim); /* extrapolation */
        double inter = extra / yarn_factor;                    /* interpolation */
        double ramp = (i - lo) / (hi - lo);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        double keep_extra = 1.0 - ramp; /* 1 for high frequencies */
        h_inv_freq[i] = (float)(inter * (1.0 - keep_extra) + extra * keep_extra);
    }
    *mscale = (float)(0.1 * log(yarn_factor) + 1.0);
    return OCTO_OK;
}
