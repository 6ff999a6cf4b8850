/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_table — the private state of the CUDA backend table, shared by
 * its C files: backend.c (lifetime, memory, weights), backend_step.c (step
 * metadata, CUDA graphs), backend_layer.c (the operations) and
 * backend_sample.c (sampling on the device).
 *
 * Not a public header: only those files include it.
 */
#ifndef OCTO_CUDA_BACKEND_TABLE_H
#define OCTO_CUDA_BACKEND_TABLE_H

#include "cuda/backend_int.h"
#include "tensor/tensor.h"

#define MAX_GRAPHS 128
#define ATTN_LEN_MIN 256 /* smallest context the decode split-K grid is sized for */

typedef struct graph_entry {
    int64_t T, n_out, stride, len; /* len: the split-K bucket (max_len) */
    uint64_t used;                 /* tick of the last use (eviction order) */
    void *exec;                    /* NULL: seen once, not recorded yet */
} graph_entry;

typedef struct cuda_be {
    int device;
    octo_cuda_stream *st;
    octo_cuda_gemm *gemm;
    octo_err err; /* first failure since batch_begin */
    void **wts;   /* weight arena chunks */
    size_t n_wts, cap_wts;
    char *arena;  /* bump pointer in the last chunk */
    size_t arena_left;
    const float *h_inv_freq; /* rope frequencies, cached by host pointer */
    float *d_inv_freq;
    int64_t n_inv;
    /* step metadata: device buffers, pinned staging (two, alternating) */
    int64_t cap_t, cap_s, cap_bt;
    int32_t *d_meta, *h_meta[2];
    void *ev[2];
    int flip;
    int32_t *d_tokens, *d_pos, *d_slots, *d_run, *d_rows, *d_cu_q, *d_lens, *d_bt;
    /* the current batch */
    const int32_t *cur_tokens, *cur_pos, *cur_rows;
    int64_t T, S, n_out, max_q, max_len;
    bool decode;
    /* scratch */
    octo_bf16 *d_qkv; /* packed q/k/v projection [T, (H + 2K) D] */
    size_t qkv_bytes;
    void *d_fwork;    /* the fused decode attention's workspace (zeroed once) */
    size_t fwork_bytes;
    void *d_work;     /* split-K decode attention */
    size_t work_bytes;
    octo_bf16 *d_tmp, *d_gu;
    size_t tmp_bytes, gu_bytes;
    void *d_params;
    int32_t *d_ids, *h_ids;
    int cap_sample;
    /* graphs */
    bool graphs_on, capturing;
    graph_entry graphs[MAX_GRAPHS];
    int n_graphs, cur_graph;
    uint64_t tick;
} cuda_be;

static inline cuda_be *C(const octo_tensor_backend *be) { return (cuda_be *)be->impl; }

/* Keeps the first failure of a forward (reported by batch_end). */
static inline void note(cuda_be *c, octo_err rc)
{
    if (rc && !c->err) c->err = rc;
}

/* backend_step.c */
int64_t octo_cuda_tb_pow2_at_least(int64_t n, int64_t lo);
void octo_cuda_tb_meta_free(cuda_be *c);
/* The device copy of a host index array given to batch_begin (NULL and an
 * error noted for any other pointer). */
const int32_t *octo_cuda_tb_dev_of(cuda_be *c, const int32_t *host);
void octo_cuda_tb_graphs_drop(cuda_be *c);
/* Grows a device scratch buffer (an eager forward only: fails while a
 * graph is being recorded, and drops the recorded graphs). */
octo_err octo_cuda_tb_scratch_grow(cuda_be *c, void **p, size_t *have, size_t need) OCTO_WUR;
octo_err octo_cuda_tb_batch_begin(const octo_tensor_backend *be, const int32_t *tokens,
                                  const octo_tensor_attn_batch *b, const int32_t *out_rows,
                                  int64_t n_out) OCTO_WUR;
octo_err octo_cuda_tb_batch_end(const octo_tensor_backend *be) OCTO_WUR;
bool octo_cuda_tb_graph_begin(const octo_tensor_backend *be);
void octo_cuda_tb_graph_end(const octo_tensor_backend *be);

/* backend_layer.c: fills the table's operations. */
void octo_cuda_tb_ops_install(octo_tensor_backend *be);

#endif /* OCTO_CUDA_BACKEND_TABLE_H */
