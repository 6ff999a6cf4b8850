/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tensor — the numeric layer: dtype helpers, a pthread pool, weight-matrix
 * views and the backend table of operations that every model forward is
 * written against. The CPU backend (this module) is the reference; a CUDA
 * backend implements the same table later. All activations are f32; weights
 * may be f32, f16 or bf16 and are read in place (never copied); every
 * accumulation is in f32.
 *
 * It deliberately knows no model architecture, no scheduler and no file
 * format: shapes and pointers come in, numbers come out. Shape letters:
 * T tokens, H heads, K kv heads, D head dim, C hidden, N/I output features,
 * V vocab, S sequences.
 */
#ifndef OCTO_TENSOR_H
#define OCTO_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ==== element types: the one type table ==== */

/* Element types of stored and computed tensors. The first ones are named
 * as safetensors spells them; the GGUF block types follow. Values are
 * stable (they may be stored); OCTO_DTYPE_INVALID is 0. */
typedef enum octo_dtype {
    OCTO_DTYPE_INVALID = 0,
    OCTO_DTYPE_F32,
    OCTO_DTYPE_F16,
    OCTO_DTYPE_BF16,
    OCTO_DTYPE_F64,
    OCTO_DTYPE_I8,
    OCTO_DTYPE_U8,
    OCTO_DTYPE_I16,
    OCTO_DTYPE_U16,
    OCTO_DTYPE_I32,
    OCTO_DTYPE_U32,
    OCTO_DTYPE_I64,
    OCTO_DTYPE_U64,
    OCTO_DTYPE_BOOL,
    OCTO_DTYPE_F8_E4M3,  /* float8_e4m3fn */
    OCTO_DTYPE_F8_E5M2,
    OCTO_DTYPE_F8_E8M0,  /* float8_e8m0fnu (MX scales) */
    /* Packed 4-bit integers, two per byte, low nibble first. Not a
     * safetensors dtype (AWQ/GPTQ checkpoints store their packed qweight and
     * qzeros as I32); the in-memory form of int4 groups. */
    OCTO_DTYPE_Q4,
    OCTO_DTYPE_F8_E4M3FNUZ, /* AMD variants: no negative zero, no infinities */
    OCTO_DTYPE_F8_E5M2FNUZ,
    OCTO_DTYPE_C64,         /* complex64: two F32 */
    OCTO_DTYPE_F4,          /* float4_e2m1, two per byte, low nibble first */
    /* GGUF block types (ggml's layouts: a block of `block` elements takes
     * `block_bytes` bytes, scales inside). */
    OCTO_DTYPE_GGML_Q4_0,
    OCTO_DTYPE_GGML_Q4_1,
    OCTO_DTYPE_GGML_Q5_0,
    OCTO_DTYPE_GGML_Q5_1,
    OCTO_DTYPE_GGML_Q8_0,
    OCTO_DTYPE_GGML_Q2_K,
    OCTO_DTYPE_GGML_Q3_K,
    OCTO_DTYPE_GGML_Q4_K,
    OCTO_DTYPE_GGML_Q5_K,
    OCTO_DTYPE_GGML_Q6_K,
    OCTO_DTYPE_GGML_Q8_K,
    OCTO_DTYPE_GGML_IQ2_XXS,
    OCTO_DTYPE_GGML_IQ2_XS,
    OCTO_DTYPE_GGML_IQ3_XXS,
    OCTO_DTYPE_GGML_IQ1_S,
    OCTO_DTYPE_GGML_IQ4_NL,
    OCTO_DTYPE_GGML_IQ3_S,
    OCTO_DTYPE_GGML_IQ2_S,
    OCTO_DTYPE_GGML_IQ4_XS,
    OCTO_DTYPE_GGML_IQ1_M,
    OCTO_DTYPE_GGML_TQ1_0,
    OCTO_DTYPE_GGML_TQ2_0,
    OCTO_DTYPE_GGML_MXFP4,
    OCTO_DTYPE_GGML_NVFP4,
    OCTO_DTYPE_GGML_Q1_0,
    OCTO_DTYPE_COUNT
} octo_dtype;

/* What the table knows of a type. Sub-byte types are blocks of 2 elements
 * in 1 byte; a scalar type is a block of 1. */
typedef struct octo_dtype_props {
    const char *name;     /* "F32", "BF16", "Q4", "Q4_K" ... */
    unsigned block;       /* elements per block (0 only for INVALID) */
    unsigned block_bytes; /* bytes per block */
    bool quantised;       /* integer codes with scales (Q4, the GGML blocks) */
    bool safetensors;     /* a dtype name safetensors headers may carry */
    int ggml_type;        /* GGUF's type number, -1 when none */
} octo_dtype_props;

/* The table row of d; the INVALID row (block 0) for INVALID or out of range. */
const octo_dtype_props *octo_dtype_props_get(octo_dtype d);
/* Bytes that n elements take: the one size function. OCTO_E_INVALID for
 * INVALID or an n that is not a whole number of blocks, OCTO_E_TOO_LARGE
 * on size_t overflow. */
octo_err octo_dtype_nbytes(octo_dtype d, uint64_t n, size_t *out /* OUT */) OCTO_WUR;
/* Bytes of one element of a scalar type (block 1); 0 for block and
 * sub-byte types and INVALID (a shorthand of octo_dtype_nbytes(d, 1)). */
size_t octo_dtype_size(octo_dtype d);
/* True for the dense float types the kernels read directly: f32, f16, bf16. */
bool octo_dtype_is_dense_float(octo_dtype d);
/* The name ("INVALID" for INVALID or out of range); static storage. */
const char *octo_dtype_name(octo_dtype d);
/* Parses a safetensors dtype name (exact, case-sensitive); INVALID when
 * unknown or not a safetensors dtype. */
octo_dtype octo_dtype_from_name(const char *name);
/* The type of a GGUF type number; INVALID when unknown. */
octo_dtype octo_dtype_from_ggml(uint32_t ggml_type);

/* ==== scalar conversions ==== */

/* Scalar conversions (round-to-nearest-even for the narrowing ones). */
float octo_tensor_bf16_to_f32(uint16_t h);
uint16_t octo_tensor_f32_to_bf16(float f);
float octo_tensor_f16_to_f32(uint16_t h);
uint16_t octo_tensor_f32_to_f16(float f);
/* Converts n elements of src (dtype dt) to f32. */
void octo_tensor_to_f32(float *dst /* OUT [n] */, const void *src, octo_dtype dt, size_t n);

/* ==== thread pool ==== */

typedef struct octo_tensor_pool octo_tensor_pool;

/* A task gets the half-open range [i0, i1) of work items and the index of
 * the thread running it (0 .. size-1), for per-thread scratch. */
typedef void (*octo_tensor_task_fn)(void *ctx, int64_t i0, int64_t i1, int thread);

/* Starts n_threads-1 workers (the caller is thread 0). n_threads <= 0 means
 * one per online CPU. Returns NULL on failure. */
octo_tensor_pool *octo_tensor_pool_new(int n_threads);
/* Joins the workers. NULL is a no-op. */
void octo_tensor_pool_free(octo_tensor_pool *p);
int octo_tensor_pool_size(const octo_tensor_pool *p);
/* Splits [0, n) into contiguous chunks of at least `grain` items that the
 * threads claim dynamically, runs fn on each and waits. p may be NULL (runs inline). Not
 * re-entrant: one run at a time per pool. */
void octo_tensor_pool_run(octo_tensor_pool *p, int64_t n, int64_t grain,
                          octo_tensor_task_fn fn, void *ctx);
/* Bytes of per-thread scratch every thread may use inside a task via
 * octo_tensor_pool_scratch(); sized by octo_tensor_pool_reserve(). */
octo_err octo_tensor_pool_reserve(octo_tensor_pool *p, size_t bytes) OCTO_WUR;
void *octo_tensor_pool_scratch(octo_tensor_pool *p, int thread);

/* ==== views ==== */

/* How a quantised weight is stored beside its codes (`data`). */
typedef struct octo_tensor_quant {
    /* int4 groups (AWQ/GPTQ, dtype Q4: codes of [rows, cols] two per byte):
     * `group_size` input columns share one scale and one zero point;
     * scales [rows, cols / group_size] (scales_dtype, f16 as published),
     * zeros [rows, cols / group_size] Q4 codes (NULL: symmetric, zero 8),
     * g_idx [cols] the group of each input column (GPTQ act-order; NULL:
     * column c is in group c / group_size).
     * Block-scaled FP8 (dtype F8_E4M3): scales [ceil(rows / block_rows),
     * ceil(cols / group_size)] (f32; DeepSeek/Qwen3-FP8's
     * weight_block_size [block_rows, group_size]). */
    int64_t group_size, block_rows;
    const void *scales;
    octo_dtype scales_dtype;
    const void *zeros;
    const int32_t *g_idx;
} octo_tensor_quant;

/* Which part of a full tensor a weight holds (tensor parallelism): `index`
 * of `count` equal slices along `dim` (0: rows, the output features; 1:
 * cols, the input features) of a tensor `full` long in that dim. count 0
 * or 1: the whole tensor. */
typedef struct octo_tensor_shard {
    int dim, index, count;
    int64_t full;
} octo_tensor_shard;

/* A weight matrix [rows, cols] in Hugging Face Linear layout [out_features,
 * in_features] (a vector: one row), in its storage format: a dense dtype
 * (row-major elements), a GGML block type (rows of blocks, scales inside),
 * or int4 groups / block-scaled FP8 with `quant` beside the codes. Not
 * owned. The bytes it takes: octo_tensor_mat_bytes. */
typedef struct octo_tensor_mat {
    const void *data;
    octo_dtype dtype;
    int64_t rows, cols;
    octo_tensor_quant quant; /* zero for dense and GGML types */
    octo_tensor_shard shard; /* zero: the whole tensor */
} octo_tensor_mat;

/* Bytes the weight's codes and its quantisation arrays take, from the type
 * table. OCTO_E_INVALID for a shape the format cannot hold (a row that is
 * not whole blocks, a group size that does not divide cols),
 * OCTO_E_TOO_LARGE on overflow. */
octo_err octo_tensor_mat_bytes(const octo_tensor_mat *w, size_t *out /* OUT */) OCTO_WUR;
/* True for a dense f32/f16/bf16 weight (what every backend computes with
 * today; quantised formats get their kernels with the MoE issue's work). */
bool octo_tensor_mat_is_dense(const octo_tensor_mat *w);

/* Paged key/value storage of ONE layer: blocks of `block_size` token slots,
 * each slot holding K heads of D values for keys (k) and for values (v).
 * Layout: [n_blocks][block_size][K][D], dtype f32 or bf16. */
typedef struct octo_tensor_kv_layer {
    void *k, *v;
    octo_dtype dtype;
    int64_t n_blocks, block_size, n_kv_heads, head_dim;
} octo_tensor_kv_layer;

/* Which cache slots a batch of flattened tokens reads and writes. Token t
 * belongs to sequence tok_seq[t] at position tok_pos[t]; it attends to the
 * positions 0..tok_pos[t] of that sequence (causal), whose slots are found
 * through the sequence's block table: block_tables[s * bt_stride + p /
 * block_size], offset p % block_size. Its own key/value are written at
 * slot[t] = block * block_size + offset. */
typedef struct octo_tensor_attn_batch {
    int64_t n_tokens;
    const int32_t *tok_seq;      /* [T] */
    const int32_t *tok_pos;      /* [T] */
    const int64_t *slot;         /* [T] */
    const int32_t *block_tables; /* [S, bt_stride] */
    int64_t bt_stride;
} octo_tensor_attn_batch;

/* The weights of one attention block (see attention_block). */
typedef struct octo_tensor_attn_weights {
    const octo_tensor_mat *wq, *wk, *wv; /* [H*D, C], [K*D, C], [K*D, C] */
    const octo_tensor_mat *bq, *bk, *bv; /* biases; data NULL: none */
    const octo_tensor_mat *q_norm, *k_norm; /* per-head RMSNorm [D]; data NULL: none */
    int64_t H, K, D;
    float norm_eps;
} octo_tensor_attn_weights;

/* Rotary embedding of one model (neox style over the whole head):
 * inv_freq[D/2] in host memory, cos and sin multiplied by attn_factor. */
typedef struct octo_tensor_rope {
    const float *inv_freq;
    float attn_factor;
} octo_tensor_rope;

/* ==== the backend table ==== */

/* Every operation a transformer forward needs. Pointers named x/y/q/k/v are
 * backend memory holding f32 (from ->alloc). Operations may run in place
 * where the comment says so. They cannot fail once their buffers exist;
 * shape errors are the caller's broken invariant. */
typedef struct octo_tensor_backend octo_tensor_backend;
struct octo_tensor_backend {
    const char *name;
    void *impl; /* the backend's own state (CPU: the thread pool) */

    /* Backend memory for activations and caches; contents undefined (not
     * zero-filled: a large KV pool is not touched until used). NULL on
     * failure. free(NULL) is a no-op. */
    void *(*alloc)(const octo_tensor_backend *be, size_t bytes);
    void (*free)(const octo_tensor_backend *be, void *p);
    /* Copies between host and backend memory. */
    void (*upload)(const octo_tensor_backend *be, void *dst, const void *src, size_t bytes);
    void (*download)(const octo_tensor_backend *be, void *dst, const void *src, size_t bytes);

    /* y[T,N] = x[T,K] . w[N,K]^T (+ bias[N] when bias->data). */
    void (*matmul)(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                   const octo_tensor_mat *w, const octo_tensor_mat *bias);
    /* y[R,C] = x / sqrt(mean(x^2) + eps) * w[C], row by row; y may be x. */
    void (*rmsnorm)(const octo_tensor_backend *be, float *y, const float *x, int64_t R,
                    const octo_tensor_mat *w, float eps);
    /* Rotary embedding, neox style (rotate_half over the two halves of
     * each head) in place on x[T, H, D]; angle pos[t] * inv_freq[i] for
     * i < D/2; cos and sin are multiplied by attn_factor (YaRN). */
    void (*rope)(const octo_tensor_backend *be, float *x, int64_t T, int64_t H, int64_t D,
                 const int32_t *pos, const float *inv_freq, float attn_factor);
    /* y[n] = silu(gate[n]) * up[n]; y may be gate. */
    void (*swiglu)(const octo_tensor_backend *be, float *y, const float *gate,
                   const float *up, int64_t n);
    /* Row-wise softmax in place on x[R, N] (max-subtracted, f32). */
    void (*softmax)(const octo_tensor_backend *be, float *x, int64_t R, int64_t N);
    /* y[n] += x[n]. */
    void (*add)(const octo_tensor_backend *be, float *y, const float *x, int64_t n);
    /* y[i, :] = x[rows[i], :] for i < n (row width C); y must not alias x. */
    void (*gather_rows)(const octo_tensor_backend *be, float *y, const float *x,
                        const int32_t *rows, int64_t n, int64_t C);
    /* y[T,C] = table[ids[t], :] (table [V, C]); ids must be < V. */
    void (*embed)(const octo_tensor_backend *be, float *y, const octo_tensor_mat *table,
                  const int32_t *ids, int64_t T);
    /* Writes k[T,K,D] and v[T,K,D] into the cache slots of the batch. */
    void (*kv_store)(const octo_tensor_backend *be, const octo_tensor_kv_layer *kv,
                     const octo_tensor_attn_batch *b, const float *k, const float *v);
    /* out[T,H,D] = softmax(q k^T * scale) v over each token's causal
     * context in the cache, grouped-query (head h reads kv head
     * h / (H / K)). Call after kv_store of the same batch. */
    void (*attention)(const octo_tensor_backend *be, float *out, const float *q, int64_t H,
                      const octo_tensor_kv_layer *kv, const octo_tensor_attn_batch *b,
                      float scale);

    /* ==== lifecycle: every backend has these (no-ops by default) ==== */

    /* Element type of activation buffers (x/y/q/k/v above): F32 on the
     * CPU; BF16 on the GPU, where the float * of the ops then point at bf16
     * data. Logits (matmul_f32) are f32 on every backend. */
    octo_dtype act_dtype;
    /* Optional, before the uploads: the n weights that will follow in that
     * order, so that the backend can keep them in one block (weights
     * uploaded one after the other then sit back to back).
     * OCTO_E_NOMEM, OCTO_E_CUDA. Default: nothing. */
    octo_err (*weight_reserve)(const octo_tensor_backend *be, octo_tensor_mat *const *ws,
                               size_t n);
    /* Makes weight w usable by the ops: a backend with its own memory copies
     * it there (w->data then points at backend memory, w->dtype may change
     * to the backend's compute format) and owns the copy until it is freed.
     * OCTO_E_NOMEM, OCTO_E_CUDA, OCTO_E_UNSUPPORTED for a storage format the
     * backend has no kernels for. Default (host memory): checks the format. */
    octo_err (*weight_upload)(const octo_tensor_backend *be, octo_tensor_mat *w);
    /* Called once per forward before any op with the step's host index
     * arrays; the backend may copy them to its memory, and the ops that later
     * get these same host pointers (embed ids, rope positions, kv slots,
     * gather rows) read the copies. OCTO_E_CUDA, OCTO_E_NOMEM. Default: nothing. */
    octo_err (*batch_begin)(const octo_tensor_backend *be, const int32_t *tokens,
                            const octo_tensor_attn_batch *b, const int32_t *out_rows,
                            int64_t n_out);
    /* Returns whether the backend replayed a recorded graph of the whole
     * forward for this batch's shape (the model then skips its ops); when it
     * returns false it may be recording, and graph_end closes the record.
     * Default: false / nothing. */
    bool (*graph_begin)(const octo_tensor_backend *be);
    void (*graph_end)(const octo_tensor_backend *be);
    /* Ends a forward: the first error any op met since batch_begin.
     * Default: OCTO_OK. */
    octo_err (*batch_end)(const octo_tensor_backend *be);

    /* ==== fused operations: every backend has these ====
     * Each is one explicit operation with a reference implementation made
     * of the ops above (octo_tensor_backend_complete installs it where a
     * backend has no faster one), so a model calls it unconditionally and
     * a backend fuses without watching the order of calls. */

    /* x[R,C] += o[R,C]; y[R,C] = rmsnorm(x) * w. y must not alias x. */
    void (*add_rmsnorm)(const octo_tensor_backend *be, float *y, float *x, const float *o,
                        int64_t R, const octo_tensor_mat *w, float eps);
    /* y[T,N] = x[T,K] . w[N,K]^T with y in f32 whatever act_dtype is (the LM
     * head; y is backend memory of T * N floats). */
    void (*matmul_f32)(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                       const octo_tensor_mat *w);
    /* n (<= 3) products of the same input, as n calls of matmul: y[i][T,
     * N_i] = x . w[i]^T (+ bias[i] when bias[i]->data). */
    void (*matmul_n)(const octo_tensor_backend *be, int n, float *const *y, const float *x,
                     int64_t T, const octo_tensor_mat *const *w,
                     const octo_tensor_mat *const *bias);
    /* y[T,I] = silu(x . wg^T) * (x . wu^T): a gated MLP's gate/up
     * projections with SwiGLU; tmp[T,I] is scratch the backend may use. */
    void (*matmul_swiglu)(const octo_tensor_backend *be, float *y, float *tmp, const float *x,
                          int64_t T, const octo_tensor_mat *wg, const octo_tensor_mat *wu);
    /* The attention half of a decoder layer, from its normed input h[T,C]
     * to the attention output out[T,H,D] (before o_proj):
     *   q[T,H,D], k[T,K,D], v[T,K,D] = h . wq^T, wk^T, wv^T (+ biases);
     *   per-head RMSNorm of q and k when w->q_norm->data (weights [D]);
     *   rotary embedding of q and k at the batch's positions;
     *   k and v into the cache slots of the batch;
     *   out = causal grouped-query attention (as `attention`).
     * q, k and v are [T, ...] buffers the reference writes; a backend may
     * leave them with any contents. */
    void (*attention_block)(const octo_tensor_backend *be, float *out, const float *h,
                            int64_t T, const octo_tensor_attn_weights *w,
                            const octo_tensor_rope *rope, const octo_tensor_kv_layer *kv,
                            const octo_tensor_attn_batch *b, float scale, float *q, float *k,
                            float *v);
};

/* The CPU backend running its loops on `pool` (borrowed). Fills *be (a
 * complete table); nothing to free beyond the pool. */
void octo_tensor_backend_cpu(octo_tensor_backend *be /* OUT */, octo_tensor_pool *pool);

/* Fills every lifecycle hook and fused operation that *be leaves NULL with
 * its default or reference implementation (src/tensor/fused.c), so that
 * the table is complete. A backend calls it at the end of its set-up. */
void octo_tensor_backend_complete(octo_tensor_backend *be);

/* Per-thread scratch bytes the CPU attention needs for contexts of up to
 * max_ctx positions (reserve it on the pool up front: the op itself aborts
 * when it cannot get it). */
size_t octo_tensor_attention_scratch(int64_t max_ctx, int64_t head_dim);

/* Which SIMD path the CPU kernels picked at run time ("avx512", "avx2+fma"
 * or "scalar"), and whether prefill GEMMs go through OpenBLAS. */
const char *octo_tensor_cpu_simd(void);
bool octo_tensor_cpu_has_blas(void);

#endif /* OCTO_TENSOR_H */
