/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend — tensor.h's table of operations on one CUDA device, so the same
 * model forward that runs on the CPU runs on the GPU: its lifetime, device
 * memory and the weights. Dense weights are copied once as bf16
 * (weight_upload), in upload order into one block (weight_reserve), so a
 * layer's q/k/v and gate/up sit back to back and one kernel streams them
 * together; quantised storage formats are refused until their kernels
 * exist. The operations are in backend_layer.c, the per-step metadata and
 * CUDA graphs in backend_step.c, device sampling in backend_sample.c.
 *
 * It is not a scheduler or an allocator: buffers come from cudaMalloc
 * through ->alloc.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda/backend_table.h"

#define ARENA_CHUNK ((size_t)1 << 30)

/* ==== memory and copies ==== */

static void *be_alloc(const octo_tensor_backend *be, size_t bytes)
{
    void *p = NULL;
    (void)be;
    return octo_cuda_malloc(bytes ? bytes : 1, &p) ? NULL : p;
}

static void be_free(const octo_tensor_backend *be, void *p)
{
    if (!p) return;
    octo_cuda_tb_graphs_drop(C(be)); /* a recorded graph may point at p */
    octo_cuda_free(p);
}

static void be_upload(const octo_tensor_backend *be, void *dst, const void *src, size_t n)
{
    note(C(be), octo_cuda_h2d(dst, src, n, C(be)->st));
}

static void be_download(const octo_tensor_backend *be, void *dst, const void *src, size_t n)
{
    note(C(be), octo_cuda_d2h(dst, src, n, C(be)->st));
}

/* Bytes a weight of `bytes` takes in the arena (256-byte aligned). */
static size_t arena_need(size_t bytes)
{
    size_t need = (bytes + 255) & ~(size_t)255;
    return need ? need : 256;
}

/* Weights are handed out in upload order, 256-byte aligned, from one block
 * sized by weight_reserve (else from 1 GiB chunks), so a layer's q/k/v
 * (and gate/up) weights uploaded one after the other sit back to back and
 * one kernel can stream them together. With chunks, a pair that straddles
 * two of them runs as separate kernels. */
static octo_err arena_chunk(cuda_be *c, size_t size)
{
    if (c->n_wts == c->cap_wts) {
        size_t cap = c->cap_wts ? c->cap_wts * 2 : 64;
        void **p = octo_realloc(c->wts, cap * sizeof *p);
        if (!p) return OCTO_E_NOMEM;
        c->wts = p;
        c->cap_wts = cap;
    }
    void *d = NULL;
    octo_err rc = octo_cuda_malloc(size, &d);
    if (rc) return rc;
    c->wts[c->n_wts++] = d;
    c->arena = d;
    c->arena_left = size;
    return OCTO_OK;
}

static octo_err arena_alloc(cuda_be *c, size_t bytes, void **out)
{
    size_t need = arena_need(bytes);
    if (need > c->arena_left) {
        octo_err rc = arena_chunk(c, need > ARENA_CHUNK ? need : ARENA_CHUNK);
        if (rc) return rc;
    }
    *out = c->arena;
    c->arena += need;
    c->arena_left -= need;
    return OCTO_OK;
}

/* A weight's size on the device: dense weights are computed in bf16. */
static size_t weight_bytes(const octo_tensor_mat *w)
{
    size_t n = 0;
    return octo_dtype_nbytes(OCTO_DTYPE_BF16, (uint64_t)(w->rows * w->cols), &n) ? 0 : n;
}

/* One block for the weights to come, at their device sizes. */
static octo_err be_weight_reserve(const octo_tensor_backend *be, octo_tensor_mat *const *ws,
                                  size_t n)
{
    cuda_be *c = C(be);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += arena_need(weight_bytes(ws[i]));
    return total > c->arena_left ? arena_chunk(c, total) : OCTO_OK;
}

/* f32 / f16 / bf16 host weights -> bf16 device copy, in chunks (bf16 is
 * kept byte for byte). Quantised formats have no kernels here yet: refused. */
static octo_err be_weight_upload(const octo_tensor_backend *be, octo_tensor_mat *w)
{
    cuda_be *c = C(be);
    if (!octo_tensor_mat_is_dense(w)) {
        OCTO_LOG_ERROR("CUDA backend: %s weights have no kernels in this build",
                       octo_dtype_name(w->dtype));
        return OCTO_E_UNSUPPORTED;
    }
    size_t n = (size_t)(w->rows * w->cols), chunk = (size_t)1 << 22;
    uint16_t *tmp = NULL;
    void *d = NULL;
    octo_err rc = arena_alloc(c, weight_bytes(w), &d);
    if (rc) return rc;
    if (w->dtype == OCTO_DTYPE_BF16) {
        rc = octo_cuda_h2d(d, w->data, n * 2, NULL);
    } else {
        tmp = octo_malloc(chunk * 2);
        if (!tmp) rc = OCTO_E_NOMEM;
        for (size_t i = 0; !rc && i < n; i += chunk) {
            size_t m = n - i < chunk ? n - i : chunk;
            for (size_t j = 0; j < m; j++) {
                float f = w->dtype == OCTO_DTYPE_F32
                              ? ((const float *)w->data)[i + j]
                              : octo_tensor_f16_to_f32(((const uint16_t *)w->data)[i + j]);
                tmp[j] = octo_tensor_f32_to_bf16(f);
            }
            rc = octo_cuda_h2d((uint16_t *)d + i, tmp, m * 2, NULL);
        }
        octo_free(tmp);
    }
    if (rc) return rc; /* the arena keeps the space until the backend goes */
    w->data = d;
    w->dtype = OCTO_DTYPE_BF16;
    return OCTO_OK;
}


/* ==== lifetime and extras ==== */

octo_err octo_cuda_backend_new(int device, octo_tensor_backend *be)
{
    memset(be, 0, sizeof *be);
    if (device < 0 || device >= octo_cuda_device_count()) {
        OCTO_LOG_ERROR("CUDA device %d is not present (%d found)", device,
                       octo_cuda_device_count());
        return OCTO_E_CUDA;
    }
    cuda_be *c = octo_calloc(1, sizeof *c);
    if (!c) return OCTO_E_NOMEM;
    c->device = device;
    c->graphs_on = true;
    /* a debugging switch, not a tuning one: launches the short kernels
     * without programmatic dependent launch (a PDL ordering bug then shows
     * as a changed result) */
    octo_cuda_be_pdl(!getenv("OCTO_CUDA_NO_PDL"));
    be->impl = c;
    octo_err rc = octo_cuda_init(device);
    if (!rc) rc = octo_cuda_stream_new(&c->st);
    if (!rc) rc = octo_cuda_gemm_new((size_t)32 << 20, &c->gemm);
    if (!rc) rc = octo_cuda_skinny_init(); /* before any graph capture */
    if (!rc) rc = octo_cuda_be_event_new(&c->ev[0]);
    if (!rc) rc = octo_cuda_be_event_new(&c->ev[1]);
    if (!rc) rc = octo_cuda_be_event_record(c->ev[0], c->st);
    if (!rc) rc = octo_cuda_be_event_record(c->ev[1], c->st);
    if (rc) {
        octo_cuda_backend_free(be);
        return rc;
    }
    be->name = "cuda";
    be->alloc = be_alloc;
    be->free = be_free;
    be->upload = be_upload;
    be->download = be_download;
    be->act_dtype = OCTO_DTYPE_BF16;
    be->weight_upload = be_weight_upload;
    be->weight_reserve = be_weight_reserve;
    be->batch_begin = octo_cuda_tb_batch_begin;
    be->graph_begin = octo_cuda_tb_graph_begin;
    be->graph_end = octo_cuda_tb_graph_end;
    be->batch_end = octo_cuda_tb_batch_end;
    octo_cuda_tb_ops_install(be);
    octo_tensor_backend_complete(be); /* nothing left: every entry is ours */
    return OCTO_OK;
}

void octo_cuda_backend_free(octo_tensor_backend *be)
{
    if (!be || !be->impl) return;
    cuda_be *c = C(be);
    if (c->st && octo_cuda_stream_sync(c->st)) OCTO_LOG_WARN("CUDA stream failed at exit");
    octo_cuda_tb_graphs_drop(c);
    for (size_t i = 0; i < c->n_wts; i++) octo_cuda_free(c->wts[i]);
    octo_free(c->wts);
    octo_cuda_tb_meta_free(c);
    octo_cuda_free(c->d_inv_freq);
    octo_cuda_free(c->d_work);
    octo_cuda_free(c->d_tmp);
    octo_cuda_free(c->d_gu);
    octo_cuda_free(c->d_qkv);
    octo_cuda_free(c->d_fwork);
    octo_cuda_free(c->d_params);
    octo_cuda_free(c->d_ids);
    octo_cuda_be_host_free(c->h_ids);
    octo_cuda_be_event_free(c->ev[0]);
    octo_cuda_be_event_free(c->ev[1]);
    octo_cuda_gemm_free(c->gemm);
    octo_cuda_stream_free(c->st);
    octo_free(c);
    be->impl = NULL;
}

octo_err octo_cuda_backend_memory(const octo_tensor_backend *be, size_t *used, size_t *total)
{
    size_t f = 0, t = 0;
    (void)be;
    octo_err rc = octo_cuda_be_mem_info(&f, &t);
    if (rc) return rc;
    *used = t - f;
    *total = t;
    return OCTO_OK;
}

void octo_cuda_backend_set_graphs(const octo_tensor_backend *be, bool on)
{
    cuda_be *c = C(be);
    c->graphs_on = on;
    if (!on) octo_cuda_tb_graphs_drop(c);
}

octo_cuda_stream *octo_cuda_backend_stream(const octo_tensor_backend *be) { return C(be)->st; }

