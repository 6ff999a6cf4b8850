/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuda — octo's GPU kernels behind plain C launch wrappers (C17-callable),
 * plus the small runtime they need: a device memory pool (one cudaMalloc,
 * bump sub-allocation), a stream wrapper with event timing, and a cuBLASLt
 * GEMM handle. Every wrapper checks its arguments (OCTO_E_INVALID), launches
 * asynchronously on the given stream (NULL: the legacy default stream) and
 * turns any CUDA error into OCTO_E_CUDA with the message logged.
 *
 * It deliberately is not the backend table itself: models/engine plug these
 * wrappers into tensor's op table. It knows no model files, no scheduling,
 * and never synchronises unless a function says so.
 *
 * Storage is bf16 (uint16_t here, bit pattern of __nv_bfloat16); arithmetic
 * accumulates in f32. Shape letters: B sequences (batch), T tokens, H query
 * heads, K kv heads, D head dim, C hidden, F intermediate, V vocab, N output
 * rows of a weight, P positions. All arrays are row-major and contiguous
 * unless a stride (in elements) is given. Pointers named d_* are device
 * memory; h_* host memory.
 */
#ifndef OCTO_CUDA_H
#define OCTO_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__cplusplus) && !defined(_Noreturn)
#define _Noreturn [[noreturn]] /* base.h is C17; nvcc compiles it as C++ */
#endif
#ifdef __cplusplus
extern "C" {
#endif

#include "base/base.h"

typedef uint16_t octo_bf16;

/* ==== device, streams, memory (cuda_runtime.cu) ==== */

/* Number of CUDA devices; 0 (not an error) when there is no driver or no
 * device. Never fails. */
int octo_cuda_device_count(void);
/* Selects `device` for this thread and logs its name. OCTO_E_CUDA on error. */
octo_err octo_cuda_init(int device) OCTO_WUR;
/* Properties of the current device (any OUT may be NULL). */
octo_err octo_cuda_device_info(int *sm_count /* OUT */, size_t *total_mem /* OUT */,
                               char *name /* OUT */, size_t name_size) OCTO_WUR;

typedef struct octo_cuda_stream octo_cuda_stream;
/* A non-blocking stream with two timing events. Free with _free. */
octo_err octo_cuda_stream_new(octo_cuda_stream **s /* OUT */) OCTO_WUR;
void octo_cuda_stream_free(octo_cuda_stream *s);
/* Waits for all work on s (NULL: the whole device). */
octo_err octo_cuda_stream_sync(octo_cuda_stream *s) OCTO_WUR;
/* The underlying cudaStream_t (NULL for s == NULL), for code that calls
 * the CUDA runtime itself. */
void *octo_cuda_stream_handle(octo_cuda_stream *s);
/* Records the start / stop event on s; _elapsed_ms syncs on stop. */
octo_err octo_cuda_stream_timer_start(octo_cuda_stream *s) OCTO_WUR;
octo_err octo_cuda_stream_timer_stop(octo_cuda_stream *s) OCTO_WUR;
octo_err octo_cuda_stream_elapsed_ms(octo_cuda_stream *s, float *ms /* OUT */) OCTO_WUR;

/* Plain device allocations (outside any pool). _free(NULL) is a no-op. */
octo_err octo_cuda_malloc(size_t bytes, void **d_ptr /* OUT */) OCTO_WUR;
void octo_cuda_free(void *d_ptr);
/* Copies (async on s when s != NULL and the host memory allows it; the
 * d2h copy always completes before returning). */
octo_err octo_cuda_h2d(void *d_dst, const void *h_src, size_t bytes,
                       octo_cuda_stream *s) OCTO_WUR;
octo_err octo_cuda_d2h(void *h_dst, const void *d_src, size_t bytes,
                       octo_cuda_stream *s) OCTO_WUR;
octo_err octo_cuda_d2d(void *d_dst, const void *d_src, size_t bytes,
                       octo_cuda_stream *s) OCTO_WUR;
/* rows x width bytes, device to device, rows dpitch / spitch bytes apart. */
octo_err octo_cuda_d2d_2d(void *d_dst, size_t dpitch, const void *d_src, size_t spitch,
                          size_t width, size_t rows, octo_cuda_stream *s) OCTO_WUR;
/* Sets every byte of d_ptr to `byte` (tests poison outputs with it). */
octo_err octo_cuda_memset(void *d_ptr, int byte, size_t bytes, octo_cuda_stream *s) OCTO_WUR;

/* A device memory pool: one cudaMalloc of `bytes`, handed out by a bump
 * pointer (256-byte aligned). Not thread-safe: one owner (one stream).
 * _mark/_reset_to give stack-like scratch per forward pass. */
typedef struct octo_cuda_pool octo_cuda_pool;
octo_err octo_cuda_pool_new(size_t bytes, octo_cuda_pool **p /* OUT */) OCTO_WUR;
void octo_cuda_pool_free(octo_cuda_pool *p);
/* Returns device memory owned by the pool; OCTO_E_NOMEM when it is full
 * (nothing is allocated then). bytes == 0 gives a valid unique pointer. */
octo_err octo_cuda_pool_alloc(octo_cuda_pool *p, size_t bytes, void **d_ptr /* OUT */) OCTO_WUR;
size_t octo_cuda_pool_mark(const octo_cuda_pool *p);
/* Releases everything allocated after `mark` (0 releases all). */
void octo_cuda_pool_reset_to(octo_cuda_pool *p, size_t mark);
size_t octo_cuda_pool_used(const octo_cuda_pool *p);
size_t octo_cuda_pool_capacity(const octo_cuda_pool *p);

/* ==== elementwise and normalisation kernels ==== */

/* out[T, C] = table[ids[t], :]. d_ids int32 [T] on the device; an id
 * outside [0, V) gives a zero row (the caller validates ids on the host). */
octo_err octo_cuda_embed(octo_bf16 *d_out, const octo_bf16 *d_table, const int32_t *d_ids,
                         int T, int C, int V, octo_cuda_stream *s) OCTO_WUR;

/* Fused residual add + RMSNorm over rows of C:
 *   d_residual != NULL: residual[T, C] += x[T, C] (rounded to bf16, kept in
 *                       place), out = rmsnorm(residual) * w;
 *   d_residual == NULL: out = rmsnorm(x) * w.
 * rmsnorm(r) = r / sqrt(mean(r^2) + eps), in f32. w is [C]. d_out may alias
 * d_x (not d_residual). */
octo_err octo_cuda_add_rmsnorm(octo_bf16 *d_out, octo_bf16 *d_residual, const octo_bf16 *d_x,
                               const octo_bf16 *d_w, int T, int C, float eps,
                               octo_cuda_stream *s) OCTO_WUR;

/* Rotary embedding parameters. Rotation is neox style (rotate_half: pairs
 * (i, i + rot_dim/2)) on the first rot_dim dims of each head. Angles come
 * either from a precomputed table d_cos_sin [P, rot_dim] f32 (first half
 * cos, second half sin, already scaled) when non-NULL, or from d_inv_freq
 * [rot_dim/2] f32 times the position, with cos/sin multiplied by mscale. */
typedef struct octo_cuda_rope {
    int rot_dim;              /* even, <= D */
    const float *d_cos_sin;   /* [P, rot_dim] or NULL */
    int table_rows;           /* P of d_cos_sin */
    const float *d_inv_freq;  /* [rot_dim/2] when d_cos_sin is NULL */
    float mscale;             /* cos/sin multiplier (YaRN attention factor; 1.0 plain) */
} octo_cuda_rope;

/* Host helper: inv_freq[rot_dim/2] for base theta, with YaRN when
 * yarn_factor > 1 (original_max_pos, beta_fast, beta_slow as in the
 * model's rope_scaling; Qwen3 uses 32 and 1). *mscale gets the attention
 * factor 0.1*ln(factor)+1 (1 without YaRN). OCTO_E_INVALID on bad values. */
octo_err octo_cuda_rope_inv_freq(float *h_inv_freq /* OUT */, int rot_dim, double theta,
                                 double yarn_factor, double original_max_pos,
                                 double beta_fast, double beta_slow,
                                 float *mscale /* OUT */) OCTO_WUR;

/* Per-head RMSNorm (Qwen3 q_norm/k_norm, weights [D], NULL skips the norm)
 * then RoPE at per-token positions, in place on q and k:
 *   q [T, H, D] at row stride q_stride (elements per token),
 *   k [T, K, D] at row stride k_stride (so both may live in a fused qkv
 *   buffer [T, (H + 2K) * D]). d_pos int32 [T]. D even, D <= 512. */
octo_err octo_cuda_qk_norm_rope(octo_bf16 *d_q, int q_stride, octo_bf16 *d_k, int k_stride,
                                const octo_bf16 *d_q_w, const octo_bf16 *d_k_w,
                                const int32_t *d_pos, int T, int H, int K, int D, float eps,
                                const octo_cuda_rope *rope, octo_cuda_stream *s) OCTO_WUR;

/* SwiGLU on a fused gate_up projection: gu [T, 2F] holds gate in columns
 * [0, F) and up in [F, 2F); out [T, F] = silu(gate) * up. */
octo_err octo_cuda_swiglu(octo_bf16 *d_out, const octo_bf16 *d_gu, int T, int F,
                          octo_cuda_stream *s) OCTO_WUR;

/* ==== paged KV cache and attention ==== */

/* Paged cache geometry: k_cache and v_cache are each [num_blocks,
 * block_size, K, D] bf16. A sequence's token j lives in block
 * block_table[j / block_size] at offset j % block_size. */
typedef struct octo_cuda_kv {
    octo_bf16 *d_k_cache;
    octo_bf16 *d_v_cache;
    int num_blocks;
    int block_size;
    int K;
    int D;
} octo_cuda_kv;

/* Writes new keys/values into the cache: k, v [T, K, D] at row strides
 * k_stride, v_stride; d_slots int32 [T] = block * block_size + offset, or
 * < 0 to skip the token (padding). */
octo_err octo_cuda_kv_write(const octo_cuda_kv *kv, const octo_bf16 *d_k, int k_stride,
                            const octo_bf16 *d_v, int v_stride, const int32_t *d_slots, int T,
                            octo_cuda_stream *s) OCTO_WUR;

/* octo_cuda_qk_norm_rope, then stores the rotated keys and the values d_v [T, K, D]
 * (row stride v_stride) into the paged cache at d_slots [T] (as
 * octo_cuda_kv_write; slots < 0 skipped): one pass instead of
 * octo_cuda_qk_norm_rope followed by octo_cuda_kv_write. K = kv->K and
 * kv->D == D. The rotated queries go to d_q_out (row stride q_out_stride;
 * d_q itself for in place), so q, k and v may be read from one fused
 * projection output [T, (H + 2K) D]. */
octo_err octo_cuda_qk_norm_rope_kv(octo_bf16 *d_q, int q_stride, octo_bf16 *d_q_out,
                                   int q_out_stride, octo_bf16 *d_k, int k_stride,
                                   const octo_bf16 *d_v, int v_stride, const octo_bf16 *d_q_w,
                                   const octo_bf16 *d_k_w, const int32_t *d_pos,
                                   const int32_t *d_slots, const octo_cuda_kv *kv, int T, int H,
                                   int D, float eps, const octo_cuda_rope *rope,
                                   octo_cuda_stream *s) OCTO_WUR;

/* Decode attention: one query token per sequence, attending to all
 * seq_lens[b] cached tokens (the current token's K/V already written).
 *   q [B, H, D] at row stride q_stride (per sequence), out [B, H, D];
 *   d_block_tables int32 [B, max_blocks] (row stride max_blocks),
 *   d_seq_lens int32 [B] (>= 1, <= max_seq_len).
 * GQA: head h uses kv head h / (H / K). Long contexts are split into
 * partitions whose partial softmax results a second kernel combines
 * (flash-decoding); the partials need d_work of
 * octo_cuda_attn_decode_workspace(B, H, D, max_seq_len) bytes (may be 0 ->
 * d_work may be NULL). D in {64, 128, 256}.
 *
 * PDL: the kernel may read d_seq_lens, d_block_tables and the cache at
 * positions < L-1 BEFORE waiting for the previous kernel on the stream
 * (they must not be written by it); q and every write come after the
 * wait. */
size_t octo_cuda_attn_decode_workspace(int B, int H, int D, int max_seq_len);
octo_err octo_cuda_attn_decode(octo_bf16 *d_out, const octo_bf16 *d_q, int q_stride,
                               const octo_cuda_kv *kv, const int32_t *d_block_tables,
                               int max_blocks, const int32_t *d_seq_lens, int B, int H,
                               int max_seq_len, float scale, void *d_work,
                               octo_cuda_stream *s) OCTO_WUR;

/* Decode attention fused with its prologue, one kernel: the result of
 * octo_cuda_qk_norm_rope_kv (T = B tokens, token b of sequence b at position
 * d_pos[b] == d_seq_lens[b] - 1, cache slot d_slots[b]) followed by
 * octo_cuda_attn_decode, except that d_q [B, H*D] and d_k [B, K*D] (raw
 * projections, row strides q_stride, k_stride) are NOT modified: each block
 * norms and rotates its q heads itself. The new token's normed, rotated key
 * and its value (d_v [B, K*D], row stride v_stride) are written to the
 * cache at d_slots[b] (slots < 0 or past the pool skipped), bit-identical to
 * what octo_cuda_qk_norm_rope_kv stores; position L-1 is scored from those
 * values, never read from the cache. d_q_w/d_k_w [D] are the q/k RMSNorm
 * weights (both NULL: no norm), eps its epsilon; rope as for
 * octo_cuda_qk_norm_rope. out [B, H, D]. D in {64, 128, 256}, H % K == 0,
 * B <= 1024; a sequence of length 0 gets zeros and writes nothing.
 *
 * PDL: the kernel reads d_seq_lens, d_pos, d_block_tables, d_slots, the rope
 * table/inv_freq and the cache at positions < L-1 BEFORE waiting for the
 * previous kernel on the stream (they must not be written by it); q, k, v
 * and every write come after the wait.
 *
 * Workspace: d_work of octo_cuda_attn_decode_fused_workspace(B, H, D,
 * max_seq_len) bytes (may be NULL when max_seq_len <= 64: one partition).
 * Its first bytes hold counters that must be zero: the caller zeroes the
 * whole workspace ONCE when allocating it; every completed launch leaves
 * them at zero again (no memset per call, so it can sit in a CUDA graph;
 * re-zero after a failed or aborted launch). A workspace sized for (B, H,
 * D, max_seq_len) serves every call with the same H and B' <= B, D' <= D,
 * max_seq_len' <= max_seq_len. It must not be shared with another kernel
 * (octo_cuda_attn_decode's workspace is a different buffer) nor with
 * launches that may run concurrently. Returns 0
 * for invalid sizes. Errors: OCTO_E_INVALID, OCTO_E_CUDA (launch). */
size_t octo_cuda_attn_decode_fused_workspace(int B, int H, int D, int max_seq_len);
octo_err octo_cuda_attn_decode_fused(octo_bf16 *d_out, const octo_bf16 *d_q, int q_stride,
                                     const octo_bf16 *d_k, int k_stride, const octo_bf16 *d_v,
                                     int v_stride, const octo_bf16 *d_q_w,
                                     const octo_bf16 *d_k_w, float eps,
                                     const octo_cuda_rope *rope, const int32_t *d_pos,
                                     const int32_t *d_slots, const octo_cuda_kv *kv,
                                     const int32_t *d_block_tables, int max_blocks,
                                     const int32_t *d_seq_lens, int B, int H, int max_seq_len,
                                     float scale, void *d_work, octo_cuda_stream *s) OCTO_WUR;

/* Prefill (varlen, causal) attention over the paged cache. Sequence b has
 * q_len = cu_q[b+1] - cu_q[b] new query tokens (rows cu_q[b].. of q) and
 * seq_lens[b] >= q_len cached tokens in total, the new ones last (their
 * K/V already written): query i sits at position seq_lens[b] - q_len + i
 * and attends to tokens 0..that position.
 *   q [T, H, D] at row stride q_stride, out [T, H, D];
 *   d_cu_q int32 [B+1]; max_q_len >= every q_len;
 *   seq_lens[b] <= max_blocks * block_size, and every block id in the
 *   used part of a block table < num_blocks (device data is not checked:
 *   the engine's block manager guarantees it; the same holds for decode).
 * Tiled (128 query rows x heads of one kv head per block, 64-key tiles
 * double-buffered by cp.async, bf16 tensor cores, f32 online softmax);
 * D = 256, block sizes that are not powers of two and version 3 take the
 * previous 64-row kernel.
 * D in {64, 128, 256}. */
octo_err octo_cuda_attn_prefill(octo_bf16 *d_out, const octo_bf16 *d_q, int q_stride,
                                const octo_cuda_kv *kv, const int32_t *d_block_tables,
                                int max_blocks, const int32_t *d_cu_q,
                                const int32_t *d_seq_lens, int B, int H, int max_q_len,
                                float scale, octo_cuda_stream *s) OCTO_WUR;

/* Which prefill kernel octo_cuda_attn_prefill runs from now on: 3 (the
 * previous one, for comparisons), 4 (the current one with 16 query rows
 * per warp) or anything else for the current one with 32 (5, the
 * default). Without a call, the first prefill reads env
 * OCTO_CUDA_PREFILL_V3=1 (3) or OCTO_CUDA_PREFILL_VERSION=3|4|5. A
 * process-wide tuning switch, not synchronised with running calls. */
void octo_cuda_attn_prefill_set_version(int v);

/* Which decode kernel octo_cuda_attn_decode runs from now on: 3 (the
 * CUDA-core one, for every batch), 4 (the tensor-core one wherever the
 * cache block size is a multiple of 16, small batches too) or anything
 * else for the automatic choice (5, the default: 4 from B * H >= 1024).
 * Without a call, the first decode reads env OCTO_CUDA_DECODE_V3=1 (3) or
 * OCTO_CUDA_DECODE_VERSION=3|4|5; OCTO_CUDA_DECODE_EARLY=0 keeps version
 * 4 from reading anything (lengths, tables, old cache tiles) before the
 * PDL wait and
 * OCTO_CUDA_DECODE_PART=64|128|..|2048 fixes its partition length (both
 * read once, at the first decode or workspace call). A process-wide
 * tuning switch, not synchronised with running calls. */
void octo_cuda_attn_decode_set_version(int v);

/* ==== matrix products ==== */

/* Small-batch GEMV: y[B, N] = x[B, C] . W[N, C]^T, bf16 in, f32
 * accumulation, out bf16 (out_f32 false) or f32 (out_f32 true, e.g. for
 * logits). x rows at stride x_stride, y rows at stride y_stride. B in 1..8,
 * C % 8 == 0, 16-byte aligned rows. Bandwidth-bound: W is read once. */
octo_err octo_cuda_gemv(void *d_y, int y_stride, bool out_f32, const octo_bf16 *d_x,
                        int x_stride, const octo_bf16 *d_w, int B, int N, int C,
                        octo_cuda_stream *s) OCTO_WUR;

/* cuBLASLt GEMM: y[T, N] = x[T, C] . W[N, C]^T (bf16 in/out, f32
 * accumulate), contiguous rows. The handle owns a workspace and caches
 * the heuristic's algorithm per (T, N, C). One handle per stream/thread. */
typedef struct octo_cuda_gemm octo_cuda_gemm;
octo_err octo_cuda_gemm_new(size_t workspace_bytes, octo_cuda_gemm **g /* OUT */) OCTO_WUR;
void octo_cuda_gemm_free(octo_cuda_gemm *g);
octo_err octo_cuda_gemm_run(octo_cuda_gemm *g, octo_bf16 *d_y, const octo_bf16 *d_x,
                            const octo_bf16 *d_w, int T, int N, int C,
                            octo_cuda_stream *s) OCTO_WUR;

/* Weight-streaming GEMM for batched decode: y[T, N] (row stride y_stride)
 * = x[T, K] (row stride x_stride) . W[N, K]^T, bf16 in and out, f32
 * accumulation, on tensor cores; built to read W once at close to the
 * memory bandwidth (src/cuda/skinny.cu). 3 <= T <= 128, N % 64 == 0,
 * K % 64 == 0, x_stride >= K and a multiple of 8, y_stride >= N, d_x and
 * d_w 16-byte aligned; OCTO_E_INVALID (logged) otherwise. Small N splits K
 * over a thread-block cluster whose blocks add their partials on chip:
 * no workspace, deterministic, safe to capture in a CUDA graph. Launched
 * with programmatic dependent launch like the backend's decode kernels (its
 * weight loads start before the previous kernel ends). OCTO_E_CUDA on a
 * launch error. */
octo_err octo_cuda_skinny_gemm(octo_bf16 *d_y, int y_stride, const octo_bf16 *d_x, int x_stride,
                               const octo_bf16 *d_w, int T, int N, int K,
                               octo_cuda_stream *s) OCTO_WUR;
/* Whether octo_cuda_skinny_gemm takes this shape (strides and alignment
 * aside); callers use cuBLASLt when it does not. Never logs. */
bool octo_cuda_skinny_supported(int T, int N, int K);
/* Sets the kernel's shared-memory limits and reads the occupancy it needs
 * (once per process, for the current device; the first GEMM does it too,
 * so call it before capturing a graph). OCTO_E_CUDA on error. */
octo_err octo_cuda_skinny_init(void) OCTO_WUR;
/* Tests and tuning, process-wide: weight rows per block (128 or 256; 0:
 * automatic, now 128) and the split-K count (1, 2, 4 or 8, lowered to what
 * K and the GPU allow; 0: automatic). (0, 0) restores the defaults. */
void octo_cuda_skinny_tune(int rows, int splits);
/* The split-K count a GEMM of this shape would use now (0: unsupported). */
int octo_cuda_skinny_splits(int T, int N, int K);

/* ==== sampling ==== */

/* Per-row sampling parameters (an array of B on the device). */
typedef struct octo_cuda_sample_params {
    float temperature;        /* <= 1e-5: greedy (argmax) */
    int32_t top_k;            /* <= 0 or >= V: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repetition_penalty; /* 1: off; applies where counts > 0 */
    float presence_penalty;   /* 0: off */
    float frequency_penalty;  /* 0: off */
    uint32_t pad_;
    uint64_t seed;            /* Philox key */
    uint64_t step;            /* Philox counter; bump per generated token */
} octo_cuda_sample_params;

/* Samples one token per row of logits [B, V] (f32, row stride
 * logits_stride; processed IN PLACE: penalties, then temperature).
 * d_counts int32 [B, V] (occurrences of each token so far; NULL: no
 * penalties). Then top-k and min-p, then top-p over what remains
 * (ties at a cut are kept), then a Gumbel-max draw with Philox4x32-10
 * (key = seed, counter = (token id, step)). Writes d_ids int32 [B] and,
 * when non-NULL, d_logprobs f32 [B]: the chosen token's log-softmax of
 * the processed logits over the whole vocabulary (before truncation). */
octo_err octo_cuda_sample(int32_t *d_ids, float *d_logprobs, float *d_logits,
                          int logits_stride, const int32_t *d_counts,
                          const octo_cuda_sample_params *d_params, int B, int V,
                          octo_cuda_stream *s) OCTO_WUR;

/* ==== the tensor backend table on the GPU (backend.c) ==== */

/* Fills *be (tensor.h's table) with the CUDA implementation on `device`:
 * bf16 weights (weight_upload) and activations, bf16 paged KV caches,
 * cuBLASLt GEMMs / our GEMV for up to 8 tokens, the fused norm and rope
 * kernels, and CUDA graphs of whole decode forwards (a batch shape is
 * recorded the second time it is seen and replayed from then on).
 * OCTO_E_CUDA (no device, driver error), OCTO_E_NOMEM. Free with
 * octo_cuda_backend_free (which also frees uploaded weights). */
struct octo_tensor_backend;
octo_err octo_cuda_backend_new(int device, struct octo_tensor_backend *be /* OUT */) OCTO_WUR;
/* Frees the backend's state, weights and graphs; a table never filled
 * (impl NULL) is a no-op. Free activation buffers and caches first. */
void octo_cuda_backend_free(struct octo_tensor_backend *be);
/* Device memory in use (total minus free, every process) and the card's total. */
octo_err octo_cuda_backend_memory(const struct octo_tensor_backend *be, size_t *used /* OUT */,
                                  size_t *total /* OUT */) OCTO_WUR;
/* Turns graph recording and replay on (default) or off. */
void octo_cuda_backend_set_graphs(const struct octo_tensor_backend *be, bool on);
/* The backend's stream (all its work is queued there). */
octo_cuda_stream *octo_cuda_backend_stream(const struct octo_tensor_backend *be);
/* Greedy sampling on the device: h_ids[b] = argmax of d_logits row b
 * ([B, V] f32 backend memory, e.g. octo_model_logits_buffer; ties go to
 * the smaller index, NaN never wins); only the B ids are copied back.
 * OCTO_E_CUDA, OCTO_E_NOMEM. */
octo_err octo_cuda_backend_sample_greedy(const struct octo_tensor_backend *be, float *d_logits,
                                         int B, int V, int32_t *h_ids /* OUT */) OCTO_WUR;
/* Sampling on the device with per-row parameters h_params [B] (host
 * memory; octo_cuda_sample's semantics: temperature <= 1e-5 is greedy,
 * top-k, min-p, top-p, a Philox draw keyed by seed and step; no
 * penalties: their fields must be neutral) over d_logits [B, V] (changed
 * in place); only the B ids come back. All rows greedy: the argmax path of
 * octo_cuda_backend_sample_greedy. OCTO_E_CUDA, OCTO_E_NOMEM. */
octo_err octo_cuda_backend_sample(const struct octo_tensor_backend *be, float *d_logits, int B,
                                  int V, const octo_cuda_sample_params *h_params,
                                  int32_t *h_ids /* OUT */) OCTO_WUR;

#ifdef __cplusplus
}
#endif

#endif /* OCTO_CUDA_H */
