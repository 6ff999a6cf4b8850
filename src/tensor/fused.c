/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fused — the reference implementation of every fused operation of the
 * backend table, written with the table's own basic operations in the
 * order a model would call them unfused, and the default lifecycle hooks.
 * octo_tensor_backend_complete installs them where a backend has nothing
 * faster, so that a model never asks whether an operation exists, and the
 * CPU results of a fused call are bit-identical to the unfused sequence.
 *
 * It is not a place for speed: a backend that can fuse implements the
 * operation itself (src/cuda/backend_ops.c for the GPU).
 */
#include "tensor.h"

static octo_err ref_weight_reserve(const octo_tensor_backend *be, octo_tensor_mat *const *ws,
                                   size_t n)
{
    (void)be, (void)ws, (void)n;
    return OCTO_OK;
}

/* Host weights are used in place: only formats the CPU kernels read. */
static octo_err ref_weight_upload(const octo_tensor_backend *be, octo_tensor_mat *w)
{
    if (octo_tensor_mat_is_dense(w)) return OCTO_OK;
    OCTO_LOG_ERROR("%s backend: %s weights have no kernels in this build", be->name,
                   octo_dtype_name(w->dtype));
    return OCTO_E_UNSUPPORTED;
}

static octo_err ref_batch_begin(const octo_tensor_backend *be, const int32_t *tokens,
                                const octo_tensor_attn_batch *b, const int32_t *out_rows,
                                int64_t n_out)
{
    (void)be, (void)tokens, (void)b, (void)out_rows, (void)n_out;
    return OCTO_OK;
}

static bool ref_graph_begin(const octo_tensor_backend *be)
{
    (void)be;
    return false;
}

static void ref_graph_end(const octo_tensor_backend *be) { (void)be; }

static octo_err ref_batch_end(const octo_tensor_backend *be)
{
    (void)be;
    return OCTO_OK;
}

static void ref_add_rmsnorm(const octo_tensor_backend *be, float *y, float *x, const float *o,
                            int64_t R, const octo_tensor_mat *w, float eps)
{
    be->add(be, x, o, R * w->cols);
    be->rmsnorm(be, y, x, R, w, eps);
}

static void ref_matmul_f32(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                           const octo_tensor_mat *w)
{
    OCTO_ASSERT(be->act_dtype == OCTO_DTYPE_F32); /* else the backend brings its own */
    be->matmul(be, y, x, T, w, NULL);
}

static void ref_matmul_n(const octo_tensor_backend *be, int n, float *const *y, const float *x,
                         int64_t T, const octo_tensor_mat *const *w,
                         const octo_tensor_mat *const *bias)
{
    for (int i = 0; i < n; i++) be->matmul(be, y[i], x, T, w[i], bias ? bias[i] : NULL);
}

static void ref_matmul_swiglu(const octo_tensor_backend *be, float *y, float *tmp,
                              const float *x, int64_t T, const octo_tensor_mat *wg,
                              const octo_tensor_mat *wu)
{
    be->matmul(be, y, x, T, wg, NULL);
    be->matmul(be, tmp, x, T, wu, NULL);
    be->swiglu(be, y, y, tmp, T * wg->rows);
}

static void ref_attention_block(const octo_tensor_backend *be, float *out, const float *h,
                                int64_t T, const octo_tensor_attn_weights *w,
                                const octo_tensor_rope *rope, const octo_tensor_kv_layer *kv,
                                const octo_tensor_attn_batch *b, float scale, float *q,
                                float *k, float *v)
{
    float *const ys[3] = {q, k, v};
    const octo_tensor_mat *const ws[3] = {w->wq, w->wk, w->wv};
    const octo_tensor_mat *const bs[3] = {w->bq, w->bk, w->bv};
    be->matmul_n(be, 3, ys, h, T, ws, bs);
    if (w->q_norm->data) {
        be->rmsnorm(be, q, q, T * w->H, w->q_norm, w->norm_eps);
        be->rmsnorm(be, k, k, T * w->K, w->k_norm, w->norm_eps);
    }
    be->rope(be, q, T, w->H, w->D, b->tok_pos, rope->inv_freq, rope->attn_factor);
    be->rope(be, k, T, w->K, w->D, b->tok_pos, rope->inv_freq, rope->attn_factor);
    be->kv_store(be, kv, b, k, v);
    be->attention(be, out, q, w->H, kv, b, scale);
}

void octo_tensor_backend_complete(octo_tensor_backend *be)
{
    if (!be->act_dtype) be->act_dtype = OCTO_DTYPE_F32;
    if (!be->weight_reserve) be->weight_reserve = ref_weight_reserve;
    if (!be->weight_upload) be->weight_upload = ref_weight_upload;
    if (!be->batch_begin) be->batch_begin = ref_batch_begin;
    if (!be->graph_begin) be->graph_begin = ref_graph_begin;
    if (!be->graph_end) be->graph_end = ref_graph_end;
    if (!be->batch_end) be->batch_end = ref_batch_end;
    if (!be->add_rmsnorm) be->add_rmsnorm = ref_add_rmsnorm;
    if (!be->matmul_f32) be->matmul_f32 = ref_matmul_f32;
    if (!be->matmul_n) be->matmul_n = ref_matmul_n;
    if (!be->matmul_swiglu) be->matmul_swiglu = ref_matmul_swiglu;
    if (!be->attention_block) be->attention_block = ref_attention_block;
}
