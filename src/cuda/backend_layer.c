/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_layer — the operations of tensor.h's table on one CUDA device:
 * activations and the paged KV caches are bf16 device memory, logits f32.
 * Each operation picks its kernel by shape: for one or two tokens the
 * GEMV that streams weights stored back to back (q/k/v, gate/up) in one
 * pass, our tensor-core GEMM up to 32 tokens, cuBLASLt above. The fused
 * operations are whole: attention_block projects q/k/v (one packed GEMM
 * from 3 tokens on), then runs q/k norm + RoPE + KV store as one kernel and
 * the attention, or, for one decoding sequence, norm + RoPE + store +
 * attention as one kernel. No operation remembers an earlier call.
 *
 * Not a scheduler and not an allocator: buffers come from ->alloc; the
 * step's index arrays from backend_step.c.
 */
#include "cuda/backend_table.h"

#define GEMV_MAX_T 2          /* our GEMV up to here, then the skinny GEMM */
#define GEMV_MAX_T_HEAD 4     /* the LM head's GEMV stays ahead a little longer */
#define SWIGLU_GEMM_MAX_T 256 /* fused gate/up GEMM through scratch up to here */
#define SKINNY_MAX_T 32       /* our tensor-core GEMM up to here, cuBLASLt above */
/* decode batches up to here run norm + RoPE + KV store + attention as one
 * kernel: a single sequence (6.15 against 6.23-6.69 ms per step); from 2 on
 * the tensor-core split kernel is faster (docs/BENCHMARKS-cuda.md) */
#define FUSED_ATTN_MAX_S 1

/* ==== projections ==== */

/* y[T, N] = x[T, K] . w[N, K]^T: our tensor-core kernel for 3..32 tokens
 * (Qwen3-8B's four decode GEMMs take 6.21 instead of 6.52 ms over 36
 * layers at 8 tokens; from 64 tokens cuBLASLt is faster:
 * docs/BENCHMARKS-cuda.md), else cuBLASLt. */
static octo_err gemm(cuda_be *c, octo_bf16 *y, const octo_bf16 *x, const octo_bf16 *w, int T,
                     int N, int K)
{
    if (T <= SKINNY_MAX_T && octo_cuda_skinny_supported(T, N, K))
        return octo_cuda_skinny_gemm(y, N, x, K, w, T, N, K, c->st);
    return octo_cuda_gemm_run(c->gemm, y, x, w, T, N, K, c->st);
}

static void be_matmul(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                      const octo_tensor_mat *w, const octo_tensor_mat *bias)
{
    cuda_be *c = C(be);
    int N = (int)w->rows, K = (int)w->cols;
    octo_bf16 *yb = (octo_bf16 *)y;
    const octo_bf16 *xb = (const octo_bf16 *)x;
    if (T <= GEMV_MAX_T && K % 8 == 0) {
        octo_cuda_be_gemv_out o = {{yb, NULL, NULL}, {N, 0, 0}};
        note(c, octo_cuda_be_gemv_multi(xb, w->data, (int)T, K, &o, false, c->st));
    } else {
        note(c, gemm(c, yb, xb, w->data, (int)T, N, K));
    }
    if (bias && bias->data) note(c, octo_cuda_be_bias(yb, bias->data, T, N, c->st));
}

static void be_matmul_f32(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                          const octo_tensor_mat *w)
{
    cuda_be *c = C(be);
    int N = (int)w->rows, K = (int)w->cols;
    const octo_bf16 *xb = (const octo_bf16 *)x;
    if (T <= GEMV_MAX_T_HEAD && K % 8 == 0) {
        note(c, octo_cuda_gemv(y, N, true, xb, K, w->data, (int)T, N, K, c->st));
        return;
    }
    /* bf16 GEMM, then widen (as vLLM's logits: bf16 GEMM output, .float()) */
    octo_err rc = octo_cuda_tb_scratch_grow(c, (void **)&c->d_tmp, &c->tmp_bytes,
                                            (size_t)(T * N) * 2);
    if (!rc) rc = octo_cuda_gemm_run(c->gemm, c->d_tmp, xb, w->data, (int)T, N, K, c->st);
    if (!rc) rc = octo_cuda_be_to_f32(y, c->d_tmp, T * N, c->st);
    note(c, rc);
}

/* True when w[0..n) are stored back to back with the same width. */
static bool adjacent(int n, const octo_tensor_mat *const *w)
{
    for (int i = 1; i < n; i++) {
        const char *end = (const char *)w[i - 1]->data + w[i - 1]->rows * w[i - 1]->cols * 2;
        if (w[i]->cols != w[0]->cols || (const char *)w[i]->data != end) return false;
    }
    return true;
}

static void be_matmul_n(const octo_tensor_backend *be, int n, float *const *y, const float *x,
                        int64_t T, const octo_tensor_mat *const *w,
                        const octo_tensor_mat *const *bias)
{
    cuda_be *c = C(be);
    int K = (int)w[0]->cols;
    if (n < 1 || n > 3 || T > GEMV_MAX_T || K % 8 != 0 || !adjacent(n, w)) {
        for (int i = 0; i < n; i++) be_matmul(be, y[i], x, T, w[i], bias ? bias[i] : NULL);
        return;
    }
    octo_cuda_be_gemv_out o = {{NULL, NULL, NULL}, {0, 0, 0}};
    for (int i = 0; i < n; i++) {
        o.y[i] = y[i];
        o.n[i] = (int)w[i]->rows;
    }
    note(c, octo_cuda_be_gemv_multi((const octo_bf16 *)x, w[0]->data, (int)T, K, &o, false,
                                    c->st));
    for (int i = 0; bias && i < n; i++) {
        if (bias[i] && bias[i]->data)
            note(c, octo_cuda_be_bias((octo_bf16 *)y[i], bias[i]->data, T, w[i]->rows, c->st));
    }
}

static void be_matmul_swiglu(const octo_tensor_backend *be, float *y, float *tmp,
                             const float *x, int64_t T, const octo_tensor_mat *wg,
                             const octo_tensor_mat *wu)
{
    cuda_be *c = C(be);
    const octo_tensor_mat *const w[2] = {wg, wu};
    int I = (int)wg->rows, K = (int)wg->cols;
    const octo_bf16 *xb = (const octo_bf16 *)x;
    bool adj = wu->rows == wg->rows && adjacent(2, w);
    if (adj && T <= GEMV_MAX_T && K % 8 == 0) {
        octo_cuda_be_gemv_out o = {{y, NULL, NULL}, {I, 0, 0}};
        note(c, octo_cuda_be_gemv_multi(xb, wg->data, (int)T, K, &o, true, c->st));
        return;
    }
    if (adj && T <= SWIGLU_GEMM_MAX_T) {
        /* one GEMM over [Wg; Wu] -> gu[T, 2I], then SwiGLU */
        octo_err rc = octo_cuda_tb_scratch_grow(c, (void **)&c->d_gu, &c->gu_bytes,
                                                (size_t)(T * 2 * I) * 2);
        if (!rc) rc = gemm(c, c->d_gu, xb, wg->data, (int)T, 2 * I, K);
        if (!rc) rc = octo_cuda_swiglu((octo_bf16 *)y, c->d_gu, (int)T, I, c->st);
        note(c, rc);
        return;
    }
    be_matmul(be, y, x, T, wg, NULL);
    be_matmul(be, tmp, x, T, wu, NULL);
    note(c, octo_cuda_be_swiglu((octo_bf16 *)y, (const octo_bf16 *)y, (const octo_bf16 *)tmp,
                                T * I, c->st));
}

/* ==== norms and elementwise ==== */

static void be_rmsnorm(const octo_tensor_backend *be, float *y, const float *x, int64_t R,
                       const octo_tensor_mat *w, float eps)
{
    cuda_be *c = C(be);
    note(c, octo_cuda_add_rmsnorm((octo_bf16 *)y, NULL, (const octo_bf16 *)x, w->data, (int)R,
                                  (int)w->cols, eps, c->st));
}

static void be_add_rmsnorm(const octo_tensor_backend *be, float *y, float *x, const float *o,
                           int64_t R, const octo_tensor_mat *w, float eps)
{
    cuda_be *c = C(be);
    note(c, octo_cuda_add_rmsnorm((octo_bf16 *)y, (octo_bf16 *)x, (const octo_bf16 *)o,
                                  w->data, (int)R, (int)w->cols, eps, c->st));
}

static void be_swiglu(const octo_tensor_backend *be, float *y, const float *gate,
                      const float *up, int64_t n)
{
    cuda_be *c = C(be);
    note(c, octo_cuda_be_swiglu((octo_bf16 *)y, (const octo_bf16 *)gate,
                                (const octo_bf16 *)up, n, c->st));
}

static void be_softmax(const octo_tensor_backend *be, float *x, int64_t R, int64_t N)
{
    cuda_be *c = C(be);
    note(c, octo_cuda_be_softmax((octo_bf16 *)x, R, N, c->st));
}

static void be_add(const octo_tensor_backend *be, float *y, const float *x, int64_t n)
{
    cuda_be *c = C(be);
    note(c, octo_cuda_be_add((octo_bf16 *)y, (const octo_bf16 *)x, n, c->st));
}

static void be_gather_rows(const octo_tensor_backend *be, float *y, const float *x,
                           const int32_t *rows, int64_t n, int64_t Cw)
{
    cuda_be *c = C(be);
    const int32_t *r = octo_cuda_tb_dev_of(c, rows);
    if (!r) return;
    note(c, octo_cuda_be_gather((octo_bf16 *)y, (const octo_bf16 *)x, r, n, Cw, c->st));
}

static void be_embed(const octo_tensor_backend *be, float *y, const octo_tensor_mat *table,
                     const int32_t *ids, int64_t T)
{
    cuda_be *c = C(be);
    const int32_t *d = octo_cuda_tb_dev_of(c, ids);
    if (!d) return;
    note(c, octo_cuda_embed((octo_bf16 *)y, table->data, d, (int)T, (int)table->cols,
                            (int)table->rows, c->st));
}

/* ==== rotary embedding, KV cache, attention ==== */

/* Device copy of the model's rope frequencies (uploaded on an eager forward). */
static const float *inv_freq_dev(cuda_be *c, const float *h, int64_t n)
{
    if (h == c->h_inv_freq && n == c->n_inv) return c->d_inv_freq;
    if (c->capturing) {
        note(c, OCTO_E_CUDA);
        return NULL;
    }
    octo_cuda_free(c->d_inv_freq);
    c->d_inv_freq = NULL;
    c->h_inv_freq = NULL;
    void *d = NULL;
    octo_err rc = octo_cuda_malloc((size_t)n * sizeof(float), &d);
    if (!rc) rc = octo_cuda_h2d(d, h, (size_t)n * sizeof(float), NULL);
    if (rc) {
        octo_cuda_free(d);
        note(c, rc);
        return NULL;
    }
    c->d_inv_freq = d;
    c->h_inv_freq = h;
    c->n_inv = n;
    return c->d_inv_freq;
}

static void be_rope(const octo_tensor_backend *be, float *x, int64_t T, int64_t H, int64_t D,
                    const int32_t *pos, const float *inv_freq, float attn_factor)
{
    cuda_be *c = C(be);
    const float *f = inv_freq_dev(c, inv_freq, D / 2);
    const int32_t *p = octo_cuda_tb_dev_of(c, pos);
    if (!f || !p) return;
    note(c, octo_cuda_be_rope((octo_bf16 *)x, T, H, D, p, f, attn_factor, c->st));
}

static octo_cuda_kv kv_of(const octo_tensor_kv_layer *kv)
{
    OCTO_ASSERT(kv->dtype == OCTO_DTYPE_BF16);
    return (octo_cuda_kv){kv->k, kv->v, (int)kv->n_blocks, (int)kv->block_size,
                          (int)kv->n_kv_heads, (int)kv->head_dim};
}

static void be_kv_store(const octo_tensor_backend *be, const octo_tensor_kv_layer *kv,
                        const octo_tensor_attn_batch *b, const float *k, const float *v)
{
    cuda_be *c = C(be);
    octo_cuda_kv ck = kv_of(kv);
    int KD = ck.K * ck.D;
    note(c, octo_cuda_kv_write(&ck, (const octo_bf16 *)k, KD, (const octo_bf16 *)v, KD,
                               c->d_slots, (int)b->n_tokens, c->st));
}

static bool tuned_head_dim(int D) { return D == 64 || D == 128 || D == 256; }

/* out[T,H,D] from rotated q (row stride H*D) over the cache: the general
 * kernel for other head sizes, the prefill kernel, or the split-K decode
 * kernel sized for the batch's longest context (rounded up to a power of
 * two, part of a graph's key); its workspace is kept at the widest size so
 * that switching buckets does not regrow it (and drop the graphs). */
static void attend(cuda_be *c, octo_bf16 *o, const octo_bf16 *q, int H,
                   const octo_cuda_kv *ck, float scale)
{
    int D = ck->D, S = (int)c->S, stride = (int)c->cap_bt, qs = H * D;
    if (!tuned_head_dim(D)) {
        note(c, octo_cuda_be_attention(o, q, ck, c->d_run, c->d_pos, c->d_bt, stride,
                                       (int)c->T, H, scale, c->st));
        return;
    }
    if (!c->decode) {
        note(c, octo_cuda_attn_prefill(o, q, qs, ck, c->d_bt, stride, c->d_cu_q, c->d_lens, S,
                                       H, (int)c->max_q, scale, c->st));
        return;
    }
    int full = stride * ck->block_size;
    int max_len = c->max_len < full ? (int)c->max_len : full;
    size_t need = octo_cuda_attn_decode_workspace(S, H, D, full);
    size_t need2 = octo_cuda_attn_decode_workspace(S, H, D, max_len);
    if (need2 > need) need = need2;
    octo_err rc = octo_cuda_tb_scratch_grow(c, &c->d_work, &c->work_bytes, need);
    if (!rc) {
        rc = octo_cuda_attn_decode(o, q, qs, ck, c->d_bt, stride, c->d_lens, S, H, max_len,
                                   scale, c->d_work, c->st);
    }
    note(c, rc);
}

static void be_attention(const octo_tensor_backend *be, float *out, const float *q, int64_t H,
                         const octo_tensor_kv_layer *kv, const octo_tensor_attn_batch *b,
                         float scale)
{
    octo_cuda_kv ck = kv_of(kv);
    (void)b;
    attend(C(be), (octo_bf16 *)out, (const octo_bf16 *)q, (int)H, &ck, scale);
}

/* Where the q/k/v projections of an attention block are: the model's
 * buffers, or one packed [T, (H + 2K) D] scratch (row stride `stride`). */
typedef struct qkv_view {
    octo_bf16 *q, *k, *v;
    int qs, ks; /* row strides of q and of k/v */
} qkv_view;

/* The projections: one GEMM over [Wq; Wk; Wv] into scratch from 3 tokens
 * on (weights back to back, no biases), else matmul_n (the fused GEMV for
 * one or two tokens) into the model's buffers. */
static bool project_qkv(cuda_be *c, const octo_tensor_backend *be, const float *h, int64_t T,
                        const octo_tensor_attn_weights *w, float *q, float *k, float *v,
                        qkv_view *out)
{
    const octo_tensor_mat *const ws[3] = {w->wq, w->wk, w->wv};
    const octo_tensor_mat *const bs[3] = {w->bq, w->bk, w->bv};
    int HD = (int)(w->H * w->D), KD = (int)(w->K * w->D);
    bool biased = w->bq->data || w->bk->data || w->bv->data;
    if (T > GEMV_MAX_T && !biased && adjacent(3, ws)) {
        int N = HD + 2 * KD;
        octo_err rc = octo_cuda_tb_scratch_grow(c, (void **)&c->d_qkv, &c->qkv_bytes,
                                                (size_t)(T * N) * 2);
        if (!rc) rc = gemm(c, c->d_qkv, (const octo_bf16 *)h, w->wq->data, (int)T, N,
                           (int)w->wq->cols);
        note(c, rc);
        if (rc) return false;
        *out = (qkv_view){c->d_qkv, c->d_qkv + HD, c->d_qkv + HD + KD, N, N};
        return true;
    }
    float *const ys[3] = {q, k, v};
    be_matmul_n(be, 3, ys, h, T, ws, bs);
    *out = (qkv_view){(octo_bf16 *)q, (octo_bf16 *)k, (octo_bf16 *)v, HD, KD};
    return true;
}

/* Decode of one sequence: norm + RoPE + KV store + attention in one kernel
 * (octo_cuda_attn_decode_fused) reading the raw projections. */
static void attend_fused(cuda_be *c, octo_bf16 *out, const qkv_view *p,
                         const octo_tensor_attn_weights *w, const octo_cuda_rope *r,
                         const int32_t *pos, const octo_cuda_kv *ck, float scale)
{
    int S = (int)c->S, stride = (int)c->cap_bt, full = stride * ck->block_size;
    int max_len = c->max_len < full ? (int)c->max_len : full;
    size_t need = octo_cuda_attn_decode_fused_workspace(S, (int)w->H, (int)w->D, full);
    if (need > c->fwork_bytes) { /* grows on an eager step only; zeroed once */
        octo_err rc = octo_cuda_tb_scratch_grow(c, &c->d_fwork, &c->fwork_bytes, need);
        if (!rc) rc = octo_cuda_memset(c->d_fwork, 0, need, c->st);
        if (rc) {
            note(c, rc);
            return;
        }
    }
    note(c, octo_cuda_attn_decode_fused(out, p->q, p->qs, p->k, p->ks, p->v, p->ks,
                                        w->q_norm->data, w->k_norm->data, w->norm_eps, r, pos,
                                        c->d_slots, ck, c->d_bt, stride, c->d_lens, S,
                                        (int)w->H, max_len, scale, c->d_fwork, c->st));
}

static void be_attention_block(const octo_tensor_backend *be, float *out, const float *h,
                               int64_t T, const octo_tensor_attn_weights *w,
                               const octo_tensor_rope *rope, const octo_tensor_kv_layer *kv,
                               const octo_tensor_attn_batch *b, float scale, float *q,
                               float *k, float *v)
{
    cuda_be *c = C(be);
    int H = (int)w->H, D = (int)w->D;
    const float *f = inv_freq_dev(c, rope->inv_freq, D / 2);
    const int32_t *pos = octo_cuda_tb_dev_of(c, b->tok_pos);
    qkv_view p;
    if (!f || !pos || !project_qkv(c, be, h, T, w, q, k, v, &p)) return;
    octo_cuda_rope r = {.rot_dim = D, .d_inv_freq = f, .mscale = rope->attn_factor};
    octo_cuda_kv ck = kv_of(kv);
    octo_bf16 *o = (octo_bf16 *)out;
    if (!w->q_norm->data) { /* no q/k norm: the unfused sequence on the model's buffers */
        if (p.q != (octo_bf16 *)q) {
            const octo_bf16 *src[3] = {p.q, p.k, p.v};
            octo_bf16 *dst[3] = {(octo_bf16 *)q, (octo_bf16 *)k, (octo_bf16 *)v};
            int n[3] = {H * D, ck.K * D, ck.K * D};
            for (int i = 0; i < 3; i++)
                note(c, octo_cuda_d2d_2d(dst[i], (size_t)n[i] * 2, src[i], (size_t)p.qs * 2,
                                         (size_t)n[i] * 2, (size_t)T, c->st));
        }
        be_rope(be, q, T, H, D, b->tok_pos, rope->inv_freq, rope->attn_factor);
        be_rope(be, k, T, ck.K, D, b->tok_pos, rope->inv_freq, rope->attn_factor);
        be_kv_store(be, kv, b, k, v);
        attend(c, o, (const octo_bf16 *)q, H, &ck, scale);
        return;
    }
    if (c->decode && c->S <= FUSED_ATTN_MAX_S && tuned_head_dim(D)) {
        attend_fused(c, o, &p, w, &r, pos, &ck, scale);
        return;
    }
    /* norm + RoPE of q (into the model's q buffer) and k, k and v into the cache */
    note(c, octo_cuda_qk_norm_rope_kv(p.q, p.qs, (octo_bf16 *)q, H * D, p.k, p.ks, p.v, p.ks,
                                      w->q_norm->data, w->k_norm->data, pos, c->d_slots, &ck,
                                      (int)T, H, D, w->norm_eps, &r, c->st));
    attend(c, o, (const octo_bf16 *)q, H, &ck, scale);
}

void octo_cuda_tb_ops_install(octo_tensor_backend *be)
{
    be->matmul = be_matmul;
    be->rmsnorm = be_rmsnorm;
    be->rope = be_rope;
    be->swiglu = be_swiglu;
    be->softmax = be_softmax;
    be->add = be_add;
    be->gather_rows = be_gather_rows;
    be->embed = be_embed;
    be->kv_store = be_kv_store;
    be->attention = be_attention;
    be->add_rmsnorm = be_add_rmsnorm;
    be->matmul_f32 = be_matmul_f32;
    be->matmul_n = be_matmul_n;
    be->matmul_swiglu = be_matmul_swiglu;
    be->attention_block = be_attention_block;
}
