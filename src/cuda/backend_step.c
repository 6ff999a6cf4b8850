/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_step — what the CUDA backend does around the operations of one
 * forward: batch_begin copies the step's index arrays (token ids,
 * positions, cache slots, output rows, block tables regrouped per run of
 * one sequence's consecutive tokens) to fixed device buffers through pinned
 * staging in one copy, and the operations read those copies; pure decode
 * batches (one token per sequence) are recorded as a CUDA graph of the
 * whole forward the second time their shape is seen (batch size,
 * block-table width, and the longest context rounded up to a power of two,
 * which sizes the split-K attention grid) and replayed afterwards: no
 * allocation and no host synchronisation inside a step.
 *
 * Sizes that grow (metadata, scratch) grow on an eager forward and drop the
 * recorded graphs, never during a recording.
 */
#include <string.h>

#include "cuda/backend_table.h"

#define META_ARRAYS 8

/* ==== scratch ==== */

void octo_cuda_tb_graphs_drop(cuda_be *c)
{
    for (int i = 0; i < c->n_graphs; i++) octo_cuda_be_graph_free(c->graphs[i].exec);
    c->n_graphs = 0;
}

octo_err octo_cuda_tb_scratch_grow(cuda_be *c, void **p, size_t *have, size_t need)
{
    if (need <= *have) return OCTO_OK;
    if (c->capturing) return OCTO_E_CUDA;
    octo_cuda_tb_graphs_drop(c);
    octo_cuda_free(*p);
    *p = NULL;
    *have = 0;
    octo_err rc = octo_cuda_malloc(need, p);
    if (rc) return rc;
    *have = need;
    return OCTO_OK;
}


/* ==== step metadata ==== */

int64_t octo_cuda_tb_pow2_at_least(int64_t n, int64_t lo)
{
    int64_t p = lo;
    while (p < n) p *= 2;
    return p;
}

void octo_cuda_tb_meta_free(cuda_be *c)
{
    octo_cuda_free(c->d_meta);
    octo_cuda_be_host_free(c->h_meta[0]);
    octo_cuda_be_host_free(c->h_meta[1]);
    c->d_meta = c->h_meta[0] = c->h_meta[1] = NULL;
    c->cap_t = c->cap_s = c->cap_bt = 0;
}

static size_t meta_elems(int64_t ct, int64_t cs, int64_t cb)
{
    return (size_t)(5 * ct + 2 * cs + 1 + cs * cb);
}

/* Offsets of the arrays inside a meta block (device or host). */
static void meta_split(int32_t *base, int64_t ct, int64_t cs, int32_t **out /* [8] */)
{
    out[0] = base;             /* tokens [ct] */
    out[1] = out[0] + ct;      /* pos [ct] */
    out[2] = out[1] + ct;      /* slots [ct] */
    out[3] = out[2] + ct;      /* run of each token [ct] */
    out[4] = out[3] + ct;      /* out rows [ct] */
    out[5] = out[4] + ct;      /* cu_q [cs + 1] */
    out[6] = out[5] + cs + 1;  /* seq lens [cs] */
    out[7] = out[6] + cs;      /* block tables [cs, cb] */
}

static octo_err meta_reserve(cuda_be *c, int64_t T, int64_t S, int64_t stride)
{
    if (T <= c->cap_t && S <= c->cap_s && stride <= c->cap_bt) return OCTO_OK;
    int64_t ct = octo_cuda_tb_pow2_at_least(T > c->cap_t ? T : c->cap_t, 256);
    int64_t cs = octo_cuda_tb_pow2_at_least(S > c->cap_s ? S : c->cap_s, 256);
    int64_t cb = octo_cuda_tb_pow2_at_least(stride > c->cap_bt ? stride : c->cap_bt, 16);
    octo_cuda_tb_graphs_drop(c);
    octo_err rc = octo_cuda_stream_sync(c->st);
    if (rc) return rc;
    octo_cuda_tb_meta_free(c);
    size_t bytes = meta_elems(ct, cs, cb) * sizeof(int32_t);
    void *d = NULL, *h0 = NULL, *h1 = NULL;
    rc = octo_cuda_malloc(bytes, &d);
    if (!rc) rc = octo_cuda_be_host_alloc(bytes, &h0);
    if (!rc) rc = octo_cuda_be_host_alloc(bytes, &h1);
    c->d_meta = d;
    c->h_meta[0] = h0;
    c->h_meta[1] = h1;
    if (rc) {
        octo_cuda_tb_meta_free(c);
        return rc;
    }
    c->cap_t = ct;
    c->cap_s = cs;
    c->cap_bt = cb;
    int32_t *a[META_ARRAYS];
    meta_split(c->d_meta, ct, cs, a);
    c->d_tokens = a[0];
    c->d_pos = a[1];
    c->d_slots = a[2];
    c->d_run = a[3];
    c->d_rows = a[4];
    c->d_cu_q = a[5];
    c->d_lens = a[6];
    c->d_bt = a[7];
    return OCTO_OK;
}

/* Runs: maximal spans of consecutive positions of one sequence. */
static int64_t count_runs(const octo_tensor_attn_batch *b)
{
    int64_t S = 0;
    for (int64_t t = 0; t < b->n_tokens; t++) {
        if (t == 0 || b->tok_seq[t] != b->tok_seq[t - 1] ||
            b->tok_pos[t] != b->tok_pos[t - 1] + 1)
            S++;
    }
    return S;
}

static void meta_fill(cuda_be *c, int32_t **h, const int32_t *tokens,
                      const octo_tensor_attn_batch *b, const int32_t *out_rows, int64_t n_out)
{
    int64_t T = b->n_tokens, S = -1, max_q = 0, max_len = 0;
    h[5][0] = 0;
    for (int64_t t = 0; t < T; t++) {
        if (t == 0 || b->tok_seq[t] != b->tok_seq[t - 1] ||
            b->tok_pos[t] != b->tok_pos[t - 1] + 1) {
            S++;
            memcpy(h[7] + S * c->cap_bt, b->block_tables + b->tok_seq[t] * b->bt_stride,
                   (size_t)b->bt_stride * sizeof(int32_t));
        }
        h[0][t] = tokens[t];
        h[1][t] = b->tok_pos[t];
        h[2][t] = (int32_t)b->slot[t];
        h[3][t] = (int32_t)S;
        h[5][S + 1] = (int32_t)(t + 1);
        h[6][S] = b->tok_pos[t] + 1;
        if (h[6][S] > max_len) max_len = h[6][S];
    }
    for (int64_t s = 0; s <= S; s++) {
        int64_t q = h[5][s + 1] - h[5][s];
        if (q > max_q) max_q = q;
    }
    for (int64_t i = 0; i < n_out; i++) h[4][i] = out_rows[i];
    c->S = S + 1;
    c->max_q = max_q;
    c->max_len = octo_cuda_tb_pow2_at_least(max_len, ATTN_LEN_MIN);
}

octo_err octo_cuda_tb_batch_begin(const octo_tensor_backend *be, const int32_t *tokens,
                                  const octo_tensor_attn_batch *b, const int32_t *out_rows,
                                  int64_t n_out)
{
    cuda_be *c = C(be);
    int64_t T = b->n_tokens;
    c->err = OCTO_OK;
    if (T <= 0 || T > INT32_MAX / 2 || n_out > T) return OCTO_E_INVALID;
    for (int64_t t = 0; t < T; t++) {
        if (b->slot[t] < 0 || b->slot[t] > INT32_MAX) return OCTO_E_INVALID;
    }
    int64_t S = count_runs(b);
    octo_err rc = meta_reserve(c, T, S, b->bt_stride);
    if (rc) return rc;
    c->flip ^= 1;
    rc = octo_cuda_be_event_wait(c->ev[c->flip]); /* the copy two steps ago */
    if (rc) return rc;
    int32_t *h[META_ARRAYS], *d[META_ARRAYS];
    meta_split(c->h_meta[c->flip], c->cap_t, c->cap_s, h);
    meta_split(c->d_meta, c->cap_t, c->cap_s, d);
    meta_fill(c, h, tokens, b, out_rows, n_out);
    /* one copy of the block up to the last used block-table row (the
     * unused tails of the arrays travel too: cheaper than eight copies) */
    size_t n = (size_t)(h[7] - h[0]) + (size_t)(c->S * c->cap_bt);
    rc = octo_cuda_h2d(d[0], h[0], n * sizeof(int32_t), c->st);
    if (!rc) rc = octo_cuda_be_event_record(c->ev[c->flip], c->st);
    if (rc) return rc;
    c->T = T;
    c->n_out = n_out;
    c->decode = c->max_q == 1;
    c->cur_tokens = tokens;
    c->cur_pos = b->tok_pos;
    c->cur_rows = out_rows;
    return OCTO_OK;
}

const int32_t *octo_cuda_tb_dev_of(cuda_be *c, const int32_t *host)
{
    if (host == c->cur_tokens) return c->d_tokens;
    if (host == c->cur_pos) return c->d_pos;
    if (host == c->cur_rows) return c->d_rows;
    OCTO_LOG_ERROR("CUDA backend: an index array that batch_begin did not see");
    note(c, OCTO_E_INVALID);
    return NULL;
}

octo_err octo_cuda_tb_batch_end(const octo_tensor_backend *be)
{
    cuda_be *c = C(be);
    octo_err rc = c->err;
    c->err = OCTO_OK;
    return rc;
}


/* ==== graphs ==== */

bool octo_cuda_tb_graph_begin(const octo_tensor_backend *be)
{
    cuda_be *c = C(be);
    if (!c->graphs_on || !c->decode || c->n_out != c->T || c->err) return false;
    for (int i = 0; i < c->n_graphs; i++) {
        graph_entry *g = &c->graphs[i];
        if (g->T != c->T || g->n_out != c->n_out || g->stride != c->cap_bt ||
            g->len != c->max_len)
            continue;
        g->used = ++c->tick;
        if (g->exec) {
            note(c, octo_cuda_be_graph_launch(g->exec, c->st));
            return true;
        }
        octo_err rc = octo_cuda_be_capture_begin(c->st);
        if (rc) {
            note(c, rc);
            return false;
        }
        c->capturing = true;
        c->cur_graph = i;
        return false;
    }
    int slot = c->n_graphs;
    if (slot == MAX_GRAPHS) { /* full: the least recently used shape goes */
        slot = 0;
        for (int i = 1; i < MAX_GRAPHS; i++) {
            if (c->graphs[i].used < c->graphs[slot].used) slot = i;
        }
        octo_cuda_be_graph_free(c->graphs[slot].exec);
    } else {
        c->n_graphs++;
    }
    c->graphs[slot] = (graph_entry){c->T, c->n_out, c->cap_bt, c->max_len, ++c->tick, NULL};
    return false;
}

void octo_cuda_tb_graph_end(const octo_tensor_backend *be)
{
    cuda_be *c = C(be);
    if (!c->capturing) return;
    c->capturing = false;
    void *exec = NULL;
    octo_err rc = octo_cuda_be_capture_end(c->st, &exec);
    if (!rc && c->err) rc = c->err;
    if (rc) {
        octo_cuda_be_graph_free(exec);
        OCTO_LOG_WARN("CUDA graph recording failed; decode steps run op by op");
        c->graphs_on = false;
        octo_cuda_tb_graphs_drop(c);
        note(c, rc);
        return;
    }
    c->graphs[c->cur_graph].exec = exec;
    note(c, octo_cuda_be_graph_launch(exec, c->st)); /* recording ran nothing */
}

