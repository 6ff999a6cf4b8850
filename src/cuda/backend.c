/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend — tensor.h's table of operations on one CUDA device, so the same
 * model forward that runs on the CPU runs on the GPU. Weights are copied
 * once as bf16 (weight_upload); activations and the paged KV caches are
 * bf16 device memory; logits are f32. Each forward starts with
 * batch_begin, which copies the step's index arrays (token ids, positions,
 * cache slots, output rows, block tables regrouped per run of one
 * sequence's consecutive tokens) to fixed device buffers through pinned
 * staging (one copy); the ops then read those copies. Pure decode batches
 * (one token per sequence) are recorded as a CUDA graph of the whole
 * forward the second time their shape is seen (batch size, block-table
 * width, and the longest context rounded up to a power of two, which sizes
 * the split-K attention grid) and replayed afterwards: no allocation, no
 * host synchronisation inside a step. A q/k norm + RoPE is held back until
 * the kv_store that the model issues right after it, and both run as one
 * kernel; any other op first launches a held-back one on its own.
 *
 * It is not a scheduler or an allocator: buffers come from cudaMalloc
 * through ->alloc; sizes that grow (metadata, split-K workspace) grow on an
 * eager forward and drop the recorded graphs, never during a recording.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda/backend_int.h"
#include "tensor/tensor.h"

#define MAX_GRAPHS 128
#define GEMV_MAX_T 2      /* our GEMV up to here (c->gemv_max_t), then the skinny GEMM */
#define GEMV_MAX_T_HEAD 4 /* the LM head's GEMV stays ahead a little longer */
#define SWIGLU_GEMM_MAX_T 256 /* fused gate/up GEMM through scratch up to here */
#define ARENA_CHUNK ((size_t)1 << 30)
#define META_ARRAYS 8
#define ATTN_LEN_MIN 256 /* smallest context the decode split-K grid is sized for */
/* decode batches up to here run norm + RoPE + KV store + attention as one
 * kernel: a single sequence (6.15 against 6.23-6.69 ms per step); from 2 on
 * the tensor-core split kernel is faster (docs/BENCHMARKS-cuda.md) */
#define FUSED_ATTN_MAX_S 1
#define SKINNY_MAX_T 32 /* our tensor-core GEMM up to here, cuBLASLt above */

typedef struct graph_entry {
    int64_t T, n_out, stride, len; /* len: the split-K bucket (max_len) */
    uint64_t used;                 /* tick of the last use (eviction order) */
    void *exec;                    /* NULL: seen once, not recorded yet */
} graph_entry;

/* A q/k norm + RoPE held back until the kv_store that follows it, so the
 * two run as one kernel (octo_cuda_qk_norm_rope_kv). */
typedef struct pending_rope {
    bool on;
    octo_bf16 *q, *k; /* the model's buffers */
    const octo_bf16 *qn, *kn;
    const int32_t *pos;
    int T, H, K, D;
    float eps;
    octo_cuda_rope r;
    /* packed: q, k and v are still in one projection output (packed_qkv) */
    bool packed;
    octo_bf16 *pq, *pk, *pv;
    int pstride;
    /* kv_store seen (decode): the KV store waits for the attention, which
     * then does norm + RoPE + store + attention in one kernel */
    bool kv_held;
    octo_cuda_kv ck;
    const octo_bf16 *v;
} pending_rope;

/* Prefill and batched decode (T > GEMV_MAX_T): q, k and v come from one
 * GEMM over [Wq; Wk; Wv] into scratch [T, n0 + n1 + n2] and stand for the
 * three buffers the model passed. The q/k norm + RoPE + KV store reads
 * them there (rotated q to the model's q buffer); any other use first
 * copies them out (qkv_unpack). */
typedef struct packed_qkv {
    bool on;
    octo_bf16 *y[3]; /* the model's buffers */
    int n[3];
    int64_t T;
} packed_qkv;

/* OCTO_CUDA_SKIP bits (diagnostic runs only: the outputs are wrong, the
 * step times tell what each kind of kernel costs on the critical path) */
enum { SKIP_NORM = 1, SKIP_ROPE_KV = 2, SKIP_ATTN = 4, SKIP_GEMV = 8 };

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
    pending_rope pend;
    packed_qkv pqkv;
    octo_bf16 *d_qkv;
    size_t qkv_bytes;
    void *d_fwork; /* the fused decode attention's workspace (zeroed once) */
    size_t fwork_bytes;
    /* tuning switches (octo_cuda_backend_new) */
    bool no_fuse_kv, splitk_full, one_block_sampler, no_pack_qkv, no_fuse_attn, skinny;
    int skip;
    int gemv_max_t; /* tokens up to which the GEMV runs the projections */
    /* scratch */
    void *d_work;
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

static cuda_be *C(const octo_tensor_backend *be) { return (cuda_be *)be->impl; }

static void note(cuda_be *c, octo_err rc)
{
    if (rc && !c->err) c->err = rc;
}

/* Launches a held-back q/k norm + RoPE on its own. */
/* Copies a packed q/k/v projection output out to the model's buffers. */
static void qkv_unpack(cuda_be *c, const packed_qkv *q)
{
    size_t pitch = (size_t)(q->n[0] + q->n[1] + q->n[2]) * 2, off = 0;
    for (int i = 0; i < 3; i++) {
        note(c, octo_cuda_d2d_2d(q->y[i], (size_t)q->n[i] * 2, (const char *)c->d_qkv + off,
                                 pitch, (size_t)q->n[i] * 2, (size_t)q->T, c->st));
        off += (size_t)q->n[i] * 2;
    }
}

/* The held q/k norm + RoPE with the KV store (p->ck, p->v) in one kernel. */
static void rope_kv_launch(cuda_be *c, const pending_rope *p)
{
    int KD = p->K * p->D;
    if (p->packed)
        note(c, octo_cuda_qk_norm_rope_kv(p->pq, p->pstride, p->q, p->H * p->D, p->pk,
                                          p->pstride, p->pv, p->pstride, p->qn, p->kn, p->pos,
                                          c->d_slots, &p->ck, p->T, p->H, p->D, p->eps, &p->r,
                                          c->st));
    else
        note(c, octo_cuda_qk_norm_rope_kv(p->q, p->H * p->D, p->q, p->H * p->D, p->k, KD, p->v,
                                          KD, p->qn, p->kn, p->pos, c->d_slots, &p->ck, p->T,
                                          p->H, p->D, p->eps, &p->r, c->st));
}

static void pending_flush(cuda_be *c)
{
    if (c->pqkv.on) {
        c->pqkv.on = false;
        qkv_unpack(c, &c->pqkv);
    }
    pending_rope *p = &c->pend;
    if (!p->on) return;
    p->on = false;
    if (p->packed && !p->kv_held) { /* no KV store: the model reads q, k and v itself */
        packed_qkv q = {true, {p->q, p->k, (octo_bf16 *)p->pv}, {p->H * p->D, p->K * p->D,
                        p->K * p->D}, p->T};
        qkv_unpack(c, &q);
    }
    if (c->skip & SKIP_ROPE_KV) return;
    if (p->kv_held) {
        rope_kv_launch(c, p);
        return;
    }
    note(c, octo_cuda_qk_norm_rope(p->q, p->H * p->D, p->k, p->K * p->D, p->qn, p->kn, p->pos,
                                   p->T, p->H, p->K, p->D, p->eps, &p->r, c->st));
}

static void graphs_drop(cuda_be *c)
{
    for (int i = 0; i < c->n_graphs; i++) octo_cuda_be_graph_free(c->graphs[i].exec);
    c->n_graphs = 0;
}

/* Grows a device scratch buffer (an eager forward only). */
static octo_err scratch_grow(cuda_be *c, void **p, size_t *have, size_t need)
{
    if (need <= *have) return OCTO_OK;
    if (c->capturing) return OCTO_E_CUDA;
    graphs_drop(c);
    octo_cuda_free(*p);
    *p = NULL;
    *have = 0;
    octo_err rc = octo_cuda_malloc(need, p);
    if (rc) return rc;
    *have = need;
    return OCTO_OK;
}

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
    graphs_drop(C(be)); /* a recorded graph may point at p */
    octo_cuda_free(p);
}

static void be_upload(const octo_tensor_backend *be, void *dst, const void *src, size_t n)
{
    note(C(be), octo_cuda_h2d(dst, src, n, C(be)->st));
}

static void be_download(const octo_tensor_backend *be, void *dst, const void *src, size_t n)
{
    pending_flush(C(be));
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

/* ==== step metadata ==== */

static int64_t pow2_at_least(int64_t n, int64_t lo)
{
    int64_t p = lo;
    while (p < n) p *= 2;
    return p;
}

static void meta_free(cuda_be *c)
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
    int64_t ct = pow2_at_least(T > c->cap_t ? T : c->cap_t, 256);
    int64_t cs = pow2_at_least(S > c->cap_s ? S : c->cap_s, 256);
    int64_t cb = pow2_at_least(stride > c->cap_bt ? stride : c->cap_bt, 16);
    graphs_drop(c);
    octo_err rc = octo_cuda_stream_sync(c->st);
    if (rc) return rc;
    meta_free(c);
    size_t bytes = meta_elems(ct, cs, cb) * sizeof(int32_t);
    void *d = NULL, *h0 = NULL, *h1 = NULL;
    rc = octo_cuda_malloc(bytes, &d);
    if (!rc) rc = octo_cuda_be_host_alloc(bytes, &h0);
    if (!rc) rc = octo_cuda_be_host_alloc(bytes, &h1);
    c->d_meta = d;
    c->h_meta[0] = h0;
    c->h_meta[1] = h1;
    if (rc) {
        meta_free(c);
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
    c->max_len = c->splitk_full ? INT32_MAX : pow2_at_least(max_len, ATTN_LEN_MIN);
}

static octo_err be_batch_begin(const octo_tensor_backend *be, const int32_t *tokens,
                               const octo_tensor_attn_batch *b, const int32_t *out_rows,
                               int64_t n_out)
{
    cuda_be *c = C(be);
    int64_t T = b->n_tokens;
    c->err = OCTO_OK;
    c->pend.on = false;
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

/* The device copy of a host index array given to batch_begin. */
static const int32_t *dev_of(cuda_be *c, const int32_t *host)
{
    if (host == c->cur_tokens) return c->d_tokens;
    if (host == c->cur_pos) return c->d_pos;
    if (host == c->cur_rows) return c->d_rows;
    OCTO_LOG_ERROR("CUDA backend: an index array that batch_begin did not see");
    note(c, OCTO_E_INVALID);
    return NULL;
}

static octo_err be_batch_end(const octo_tensor_backend *be)
{
    cuda_be *c = C(be);
    pending_flush(c);
    octo_err rc = c->err;
    c->err = OCTO_OK;
    return rc;
}

/* ==== graphs ==== */

static bool be_graph_begin(const octo_tensor_backend *be)
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

static void be_graph_end(const octo_tensor_backend *be)
{
    cuda_be *c = C(be);
    pending_flush(c);
    if (!c->capturing) return;
    c->capturing = false;
    void *exec = NULL;
    octo_err rc = octo_cuda_be_capture_end(c->st, &exec);
    if (!rc && c->err) rc = c->err;
    if (rc) {
        octo_cuda_be_graph_free(exec);
        OCTO_LOG_WARN("CUDA graph recording failed; decode steps run op by op");
        c->graphs_on = false;
        graphs_drop(c);
        note(c, rc);
        return;
    }
    c->graphs[c->cur_graph].exec = exec;
    note(c, octo_cuda_be_graph_launch(exec, c->st)); /* recording ran nothing */
}

/* ==== operations ==== */

/* y[T, N] = x[T, K] . w[N, K]^T: our tensor-core kernel for 3..32 tokens
 * (Qwen3-8B's four decode GEMMs take 6.21 instead of 6.52 ms over 36
 * layers at 8 tokens; from 64 tokens cuBLASLt is faster:
 * docs/BENCHMARKS-cuda.md), else cuBLASLt. */
static octo_err gemm(cuda_be *c, octo_bf16 *y, const octo_bf16 *x, const octo_bf16 *w, int T,
                     int N, int K)
{
    if (c->skinny && T <= SKINNY_MAX_T && octo_cuda_skinny_supported(T, N, K))
        return octo_cuda_skinny_gemm(y, N, x, K, w, T, N, K, c->st);
    return octo_cuda_gemm_run(c->gemm, y, x, w, T, N, K, c->st);
}

static void be_matmul(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                      const octo_tensor_mat *w, const octo_tensor_mat *bias)
{
    cuda_be *c = C(be);
    pending_flush(c);
    int N = (int)w->rows, K = (int)w->cols;
    octo_bf16 *yb = (octo_bf16 *)y;
    const octo_bf16 *xb = (const octo_bf16 *)x;
    if (T <= c->gemv_max_t && K % 8 == 0) {
        octo_cuda_be_gemv_out o = {{yb, NULL, NULL}, {N, 0, 0}};
        if (!(c->skip & SKIP_GEMV))
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
    pending_flush(c);
    int N = (int)w->rows, K = (int)w->cols;
    const octo_bf16 *xb = (const octo_bf16 *)x;
    if (T <= GEMV_MAX_T_HEAD && K % 8 == 0) {
        note(c, octo_cuda_gemv(y, N, true, xb, K, w->data, (int)T, N, K, c->st));
        return;
    }
    /* bf16 GEMM, then widen (as vLLM's logits: bf16 GEMM output, .float()) */
    octo_err rc = scratch_grow(c, (void **)&c->d_tmp, &c->tmp_bytes, (size_t)(T * N) * 2);
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
    pending_flush(c);
    int K = (int)w[0]->cols;
    if (n == 3 && T > c->gemv_max_t && !c->no_pack_qkv && adjacent(n, w) &&
        !(bias && (bias[0]->data || bias[1]->data || bias[2]->data))) {
        int N = (int)(w[0]->rows + w[1]->rows + w[2]->rows);
        octo_err rc = scratch_grow(c, (void **)&c->d_qkv, &c->qkv_bytes, (size_t)(T * N) * 2);
        if (!rc) rc = gemm(c, c->d_qkv, (const octo_bf16 *)x, w[0]->data, (int)T, N, K);
        note(c, rc);
        if (rc) return;
        c->pqkv = (packed_qkv){true, {(octo_bf16 *)y[0], (octo_bf16 *)y[1], (octo_bf16 *)y[2]},
                               {(int)w[0]->rows, (int)w[1]->rows, (int)w[2]->rows}, T};
        return;
    }
    if (n < 1 || n > 3 || T > c->gemv_max_t || K % 8 != 0 || !adjacent(n, w)) {
        for (int i = 0; i < n; i++) be_matmul(be, y[i], x, T, w[i], bias ? bias[i] : NULL);
        return;
    }
    octo_cuda_be_gemv_out o = {{NULL, NULL, NULL}, {0, 0, 0}};
    for (int i = 0; i < n; i++) {
        o.y[i] = y[i];
        o.n[i] = (int)w[i]->rows;
    }
    if (!(c->skip & SKIP_GEMV))
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
    pending_flush(c);
    const octo_tensor_mat *const w[2] = {wg, wu};
    int I = (int)wg->rows, K = (int)wg->cols;
    const octo_bf16 *xb = (const octo_bf16 *)x;
    bool adj = wu->rows == wg->rows && adjacent(2, w);
    if (adj && T <= c->gemv_max_t && K % 8 == 0) {
        octo_cuda_be_gemv_out o = {{y, NULL, NULL}, {I, 0, 0}};
        if (!(c->skip & SKIP_GEMV))
            note(c, octo_cuda_be_gemv_multi(xb, wg->data, (int)T, K, &o, true, c->st));
        return;
    }
    if (adj && T <= SWIGLU_GEMM_MAX_T) {
        /* one GEMM over [Wg; Wu] -> gu[T, 2I], then SwiGLU */
        octo_err rc = scratch_grow(c, (void **)&c->d_gu, &c->gu_bytes, (size_t)(T * 2 * I) * 2);
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

static void be_rmsnorm(const octo_tensor_backend *be, float *y, const float *x, int64_t R,
                       const octo_tensor_mat *w, float eps)
{
    cuda_be *c = C(be);
    pending_flush(c);
    if (c->skip & SKIP_NORM) return;
    note(c, octo_cuda_add_rmsnorm((octo_bf16 *)y, NULL, (const octo_bf16 *)x, w->data, (int)R,
                                  (int)w->cols, eps, c->st));
}

static void be_add_rmsnorm(const octo_tensor_backend *be, float *y, float *x, const float *o,
                           int64_t R, const octo_tensor_mat *w, float eps)
{
    cuda_be *c = C(be);
    pending_flush(c);
    if (c->skip & SKIP_NORM) return;
    note(c, octo_cuda_add_rmsnorm((octo_bf16 *)y, (octo_bf16 *)x, (const octo_bf16 *)o,
                                  w->data, (int)R, (int)w->cols, eps, c->st));
}

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
    const int32_t *p = dev_of(c, pos);
    if (!f || !p) return;
    note(c, octo_cuda_be_rope((octo_bf16 *)x, T, H, D, p, f, attn_factor, c->st));
}

static void be_qk_norm_rope(const octo_tensor_backend *be, float *q, float *k, int64_t T,
                            int64_t H, int64_t K, int64_t D, const octo_tensor_mat *qn,
                            const octo_tensor_mat *kn, float eps, const int32_t *pos,
                            const float *inv_freq, float attn_factor)
{
    cuda_be *c = C(be);
    const float *f = inv_freq_dev(c, inv_freq, D / 2);
    const int32_t *p = dev_of(c, pos);
    if (!f || !p) return;
    packed_qkv pk = c->pqkv;
    bool packed = pk.on && pk.y[0] == (octo_bf16 *)q && pk.y[1] == (octo_bf16 *)k &&
                  pk.T == T && pk.n[0] == H * D && pk.n[1] == K * D && pk.n[2] == K * D;
    if (packed) c->pqkv.on = false;
    pending_flush(c);
    int ps = packed ? pk.n[0] + pk.n[1] + pk.n[2] : 0;
    c->pend = (pending_rope){true, (octo_bf16 *)q, (octo_bf16 *)k, qn->data, kn->data, p,
                             (int)T, (int)H, (int)K, (int)D, eps,
                             {.rot_dim = (int)D, .d_inv_freq = f, .mscale = attn_factor},
                             packed, NULL, NULL, NULL, ps, false, {0}, NULL};
    if (packed) {
        c->pend.pq = c->d_qkv;
        c->pend.pk = c->d_qkv + pk.n[0];
        c->pend.pv = c->d_qkv + pk.n[0] + pk.n[1];
    }
    if (c->no_fuse_kv) pending_flush(c);
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
    const int32_t *r = dev_of(c, rows);
    if (!r) return;
    note(c, octo_cuda_be_gather((octo_bf16 *)y, (const octo_bf16 *)x, r, n, Cw, c->st));
}

static void be_embed(const octo_tensor_backend *be, float *y, const octo_tensor_mat *table,
                     const int32_t *ids, int64_t T)
{
    cuda_be *c = C(be);
    const int32_t *d = dev_of(c, ids);
    if (!d) return;
    note(c, octo_cuda_embed((octo_bf16 *)y, table->data, d, (int)T, (int)table->cols,
                            (int)table->rows, c->st));
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
    pending_rope *p = &c->pend;
    if (p->on && p->k == (const octo_bf16 *)k && p->T == b->n_tokens && p->K == ck.K &&
        p->D == ck.D) {
        p->kv_held = true;
        p->ck = ck;
        p->v = (const octo_bf16 *)v;
        /* decode: held for the attention right after (one fused kernel) */
        if (c->decode && !c->no_fuse_attn && c->S <= FUSED_ATTN_MAX_S &&
            (ck.D == 64 || ck.D == 128 || ck.D == 256))
            return;
        p->on = false;
        if (c->skip & SKIP_ROPE_KV) return;
        rope_kv_launch(c, p);
        return;
    }
    pending_flush(c);
    note(c, octo_cuda_kv_write(&ck, (const octo_bf16 *)k, KD, (const octo_bf16 *)v, KD,
                               c->d_slots, (int)b->n_tokens, c->st));
}

/* Decode: the held q/k norm + RoPE + KV store and the attention as one
 * kernel (octo_cuda_attn_decode_fused) reading the raw projections. */
static void attention_fused(cuda_be *c, octo_bf16 *out, const pending_rope *p, float scale)
{
    if (c->skip & (SKIP_ATTN | SKIP_ROPE_KV)) return;
    int S = (int)c->S, stride = (int)c->cap_bt, full = stride * p->ck.block_size;
    int max_len = c->max_len < full ? (int)c->max_len : full;
    size_t need = octo_cuda_attn_decode_fused_workspace(S, p->H, p->D, full);
    if (need > c->fwork_bytes) { /* grows on an eager step only; zeroed once */
        octo_err rc = scratch_grow(c, &c->d_fwork, &c->fwork_bytes, need);
        if (!rc) rc = octo_cuda_memset(c->d_fwork, 0, need, c->st);
        if (rc) {
            note(c, rc);
            return;
        }
    }
    int KD = p->K * p->D, qs = p->packed ? p->pstride : p->H * p->D;
    int ks = p->packed ? p->pstride : KD;
    note(c, octo_cuda_attn_decode_fused(out, p->packed ? p->pq : p->q, qs,
                                        p->packed ? p->pk : p->k, ks,
                                        p->packed ? p->pv : p->v, ks, p->qn, p->kn, p->eps,
                                        &p->r, p->pos, c->d_slots, &p->ck, c->d_bt, stride,
                                        c->d_lens, S, p->H, max_len, scale, c->d_fwork, c->st));
}

static void be_attention(const octo_tensor_backend *be, float *out, const float *q, int64_t H,
                         const octo_tensor_kv_layer *kv, const octo_tensor_attn_batch *b,
                         float scale)
{
    cuda_be *c = C(be);
    pending_rope *p = &c->pend;
    if (p->on && p->kv_held && c->decode && p->q == (const octo_bf16 *)q && p->H == H &&
        p->ck.d_k_cache == kv->k) {
        p->on = false;
        attention_fused(c, (octo_bf16 *)out, p, scale);
        return;
    }
    pending_flush(c);
    octo_cuda_kv ck = kv_of(kv);
    octo_bf16 *o = (octo_bf16 *)out;
    const octo_bf16 *qb = (const octo_bf16 *)q;
    int D = ck.D, S = (int)c->S, stride = (int)c->cap_bt, qs = (int)H * D;
    (void)b;
    if (c->skip & SKIP_ATTN) return;
    if (D != 64 && D != 128 && D != 256) {
        note(c, octo_cuda_be_attention(o, qb, &ck, c->d_run, c->d_pos, c->d_bt, stride,
                                       (int)c->T, (int)H, scale, c->st));
        return;
    }
    if (!c->decode) {
        note(c, octo_cuda_attn_prefill(o, qb, qs, &ck, c->d_bt, stride, c->d_cu_q, c->d_lens,
                                       S, (int)H, (int)c->max_q, scale, c->st));
        return;
    }
    /* split-K grid sized for the batch's longest context rounded up to a
     * power of two (part of a graph's key), not for the widest block table
     * seen; the workspace is kept at the widest size so that switching
     * buckets does not regrow it (and drop the graphs) */
    int full = stride * ck.block_size;
    int max_len = c->max_len < full ? (int)c->max_len : full;
    size_t need = octo_cuda_attn_decode_workspace(S, (int)H, D, full);
    size_t need2 = octo_cuda_attn_decode_workspace(S, (int)H, D, max_len);
    if (need2 > need) need = need2;
    octo_err rc = scratch_grow(c, &c->d_work, &c->work_bytes, need);
    if (!rc) {
        rc = octo_cuda_attn_decode(o, qb, qs, &ck, c->d_bt, stride, c->d_lens, S, (int)H,
                                   max_len, scale, c->d_work, c->st);
    }
    note(c, rc);
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
    const char *var = getenv("OCTO_CUDA_GEMV_VARIANT");
    if (var) octo_cuda_be_gemv_variant((int)strtol(var, NULL, 10));
    /* tuning switches: each turns one decode-step optimisation off */
    octo_cuda_be_pdl(!getenv("OCTO_CUDA_NO_PDL"));
    c->no_fuse_kv = getenv("OCTO_CUDA_NO_FUSE_KV") != NULL;
    c->splitk_full = getenv("OCTO_CUDA_SPLITK_FULL") != NULL;
    c->one_block_sampler = getenv("OCTO_CUDA_ONE_BLOCK_SAMPLER") != NULL;
    c->no_pack_qkv = getenv("OCTO_CUDA_NO_PACK_QKV") != NULL;
    c->no_fuse_attn = getenv("OCTO_CUDA_NO_FUSE_ATTN") != NULL;
    c->skinny = getenv("OCTO_CUDA_NO_SKINNY") == NULL;
    var = getenv("OCTO_CUDA_GEMV_MAX_T");
    c->gemv_max_t = var ? (int)strtol(var, NULL, 10) : GEMV_MAX_T;
    if (c->gemv_max_t < 1 || c->gemv_max_t > OCTO_CUDA_BE_GEMV_MAX_B) c->gemv_max_t = GEMV_MAX_T;
    const char *sk_rows = getenv("OCTO_CUDA_SKINNY_ROWS");
    const char *sk_split = getenv("OCTO_CUDA_SKINNY_SPLIT");
    if (sk_rows || sk_split)
        octo_cuda_skinny_tune(sk_rows ? (int)strtol(sk_rows, NULL, 10) : 0,
                              sk_split ? (int)strtol(sk_split, NULL, 10) : 0);
    var = getenv("OCTO_CUDA_SKIP"); /* diagnostics: wrong outputs, see SKIP_* */
    if (var) c->skip = (int)strtol(var, NULL, 0);
    be->impl = c;
    octo_err rc = octo_cuda_init(device);
    if (!rc) rc = octo_cuda_stream_new(&c->st);
    if (!rc) rc = octo_cuda_gemm_new((size_t)32 << 20, &c->gemm);
    if (!rc && c->skinny) rc = octo_cuda_skinny_init(); /* before any graph capture */
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
    be->act_dtype = OCTO_DTYPE_BF16;
    be->weight_upload = be_weight_upload;
    be->weight_reserve = be_weight_reserve;
    be->batch_begin = be_batch_begin;
    be->graph_begin = be_graph_begin;
    be->graph_end = be_graph_end;
    be->batch_end = be_batch_end;
    be->add_rmsnorm = be_add_rmsnorm;
    be->qk_norm_rope = be_qk_norm_rope;
    be->matmul_f32 = be_matmul_f32;
    be->matmul_n = be_matmul_n;
    be->matmul_swiglu = be_matmul_swiglu;
    return OCTO_OK;
}

void octo_cuda_backend_free(octo_tensor_backend *be)
{
    if (!be || !be->impl) return;
    cuda_be *c = C(be);
    if (c->st && octo_cuda_stream_sync(c->st)) OCTO_LOG_WARN("CUDA stream failed at exit");
    graphs_drop(c);
    for (size_t i = 0; i < c->n_wts; i++) octo_cuda_free(c->wts[i]);
    octo_free(c->wts);
    meta_free(c);
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
    if (!on) graphs_drop(c);
}

octo_cuda_stream *octo_cuda_backend_stream(const octo_tensor_backend *be) { return C(be)->st; }

octo_err octo_cuda_backend_sample_greedy(const octo_tensor_backend *be, float *d_logits, int B,
                                         int V, int32_t *h_ids)
{
    return octo_cuda_backend_sample(be, d_logits, B, V, NULL, h_ids);
}

octo_err octo_cuda_backend_sample(const octo_tensor_backend *be, float *d_logits, int B, int V,
                                  const octo_cuda_sample_params *h_params, int32_t *h_ids)
{
    cuda_be *c = C(be);
    octo_err rc = OCTO_OK;
    if (B <= 0) return OCTO_OK;
    if (B > c->cap_sample) {
        int cap = (int)pow2_at_least(B, 64);
        octo_cuda_free(c->d_params);
        octo_cuda_free(c->d_ids);
        octo_cuda_be_host_free(c->h_ids);
        c->d_params = NULL;
        c->d_ids = NULL;
        c->h_ids = NULL;
        c->cap_sample = 0;
        void *d = NULL, *ids = NULL, *h = NULL;
        size_t pb = (size_t)cap * sizeof(octo_cuda_sample_params);
        size_t wb = octo_cuda_be_argmax_workspace(cap);
        rc = octo_cuda_malloc(pb > wb ? pb : wb, &d);
        if (!rc) rc = octo_cuda_malloc((size_t)cap * sizeof(int32_t), &ids);
        if (!rc) rc = octo_cuda_be_host_alloc((size_t)cap * sizeof(int32_t), &h);
        c->d_params = d;
        c->d_ids = ids;
        c->h_ids = h;
        if (rc) return rc;
        c->cap_sample = cap;
    }
    bool greedy = true;
    for (int i = 0; h_params && i < B; i++) greedy = greedy && h_params[i].temperature <= 1e-5f;
    const octo_cuda_sample_params *pp = greedy ? NULL : h_params;
    octo_cuda_sample_params *tmp = NULL;
    if (greedy && c->one_block_sampler) { /* the general sampler, one block per row (tuning) */
        tmp = octo_calloc((size_t)B, sizeof *tmp);
        if (!tmp) return OCTO_E_NOMEM;
        for (int i = 0; i < B; i++)
            tmp[i] = (octo_cuda_sample_params){.temperature = 0.0f, .top_p = 1.0f,
                                               .repetition_penalty = 1.0f};
        pp = tmp;
    }
    if (pp) {
        rc = octo_cuda_h2d(c->d_params, pp, (size_t)B * sizeof *pp, c->st);
        if (!rc)
            rc = octo_cuda_sample(c->d_ids, NULL, d_logits, V, NULL, c->d_params, B, V, c->st);
    } else {
        rc = octo_cuda_be_argmax(c->d_ids, d_logits, B, V, c->d_params, c->st);
    }
    octo_free(tmp);
    if (!rc) rc = octo_cuda_d2h(c->h_ids, c->d_ids, (size_t)B * sizeof(int32_t), c->st);
    if (!rc) memcpy(h_ids, c->h_ids, (size_t)B * sizeof(int32_t));
    return rc;
}
