/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_int — C-callable pieces that the CUDA backend table (backend.c)
 * needs beyond the kernels of cuda.h: small elementwise kernels on bf16
 * activations (add, bias, SwiGLU of separate gate/up, row gather, rope
 * alone, softmax, bf16 -> f32), a general paged attention for head sizes
 * the tuned kernels do not take, and wrappers for pinned memory, events,
 * memory info and CUDA graph capture (backend_ops.cu).
 *
 * Not a public header: only src/cuda includes it. Every launch is async on
 * the given stream and returns OCTO_E_CUDA on a launch error.
 */
#ifndef OCTO_CUDA_BACKEND_INT_H
#define OCTO_CUDA_BACKEND_INT_H

#include "cuda/cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[n] += x[n] */
octo_err octo_cuda_be_add(octo_bf16 *y, const octo_bf16 *x, int64_t n,
                          octo_cuda_stream *s) OCTO_WUR;
/* y[T, N] += bias[N] */
octo_err octo_cuda_be_bias(octo_bf16 *y, const octo_bf16 *bias, int64_t T, int64_t N,
                           octo_cuda_stream *s) OCTO_WUR;
/* y[n] = silu(gate[n]) * up[n]; y may be gate */
octo_err octo_cuda_be_swiglu(octo_bf16 *y, const octo_bf16 *gate, const octo_bf16 *up,
                             int64_t n, octo_cuda_stream *s) OCTO_WUR;
/* y[i, :] = x[rows[i], :] for i < n, rows on the device */
octo_err octo_cuda_be_gather(octo_bf16 *y, const octo_bf16 *x, const int32_t *d_rows,
                             int64_t n, int64_t C, octo_cuda_stream *s) OCTO_WUR;
/* y[n] (f32) = x[n] (bf16) */
octo_err octo_cuda_be_to_f32(float *y, const octo_bf16 *x, int64_t n,
                             octo_cuda_stream *s) OCTO_WUR;
/* neox rope in place on x[T, H, D] at positions d_pos[T] (angles pos *
 * d_inv_freq[i] in f32, cos/sin times mscale) */
octo_err octo_cuda_be_rope(octo_bf16 *x, int64_t T, int64_t H, int64_t D,
                           const int32_t *d_pos, const float *d_inv_freq, float mscale,
                           octo_cuda_stream *s) OCTO_WUR;
/* row-wise softmax in place on x[R, N] (f32 arithmetic) */
octo_err octo_cuda_be_softmax(octo_bf16 *x, int64_t R, int64_t N,
                              octo_cuda_stream *s) OCTO_WUR;
/* General paged attention, one warp per (token, head): token t of run
 * d_tok_run[t] at position d_pos[t] attends to positions 0..d_pos[t]
 * found through d_bt[run * bt_stride + p / block_size]. q/out [T, H, D],
 * D <= 512 (any size). For head sizes the tuned kernels do not take. */
octo_err octo_cuda_be_attention(octo_bf16 *out, const octo_bf16 *q, const octo_cuda_kv *kv,
                                const int32_t *d_tok_run, const int32_t *d_pos,
                                const int32_t *d_bt, int bt_stride, int T, int H, float scale,
                                octo_cuda_stream *s) OCTO_WUR;

/* Fused small-batch GEMV over weights stored back to back, w = [W0; W1;
 * W2] with n[i] rows each (C columns), x [B, C] contiguous, B <= 4:
 *   swiglu false: y[i] [B, n[i]] = x . Wi^T for each i with n[i] > 0;
 *   swiglu true:  w = [Wg; Wu] (n[0] rows each, n[1] and n[2] unused),
 *                 y[0] [B, n[0]] = silu(x . Wg^T) * (x . Wu^T).
 * bf16 in and out, f32 accumulation. */
#define OCTO_CUDA_BE_GEMV_MAX_B 4
typedef struct octo_cuda_be_gemv_out {
    void *y[3];
    int n[3];
} octo_cuda_be_gemv_out;
octo_err octo_cuda_be_gemv_multi(const octo_bf16 *x, const octo_bf16 *w, int B, int C,
                                 const octo_cuda_be_gemv_out *o, bool swiglu,
                                 octo_cuda_stream *s) OCTO_WUR;

/* Programmatic dependent launch of the short per-layer kernels (add +
 * RMSNorm, q/k norm + RoPE, decode attention): on by default; off to
 * debug an ordering fault (env OCTO_CUDA_NO_PDL, read by
 * octo_cuda_backend_new). */
void octo_cuda_be_pdl(bool on);

/* Greedy ids[b] = argmax of logits[b, 0..V) (f32, rows V apart; ties: the
 * smaller index; a row of NaN / -inf gives 0), over many blocks per row
 * (a one-block-per-row pass over 152k logits takes ~55 us on an H100).
 * work: octo_cuda_be_argmax_workspace(B) bytes of device memory. */
#define OCTO_CUDA_BE_AMAX_CHUNKS 64
size_t octo_cuda_be_argmax_workspace(int B);
octo_err octo_cuda_be_argmax(int32_t *ids, const float *logits, int B, int V, void *work,
                             octo_cuda_stream *s) OCTO_WUR;

/* Page-locked host memory (for async copies); _free(NULL) is a no-op. */
octo_err octo_cuda_be_host_alloc(size_t bytes, void **p /* OUT */) OCTO_WUR;
void octo_cuda_be_host_free(void *p);
/* Free and total bytes of the current device. */
octo_err octo_cuda_be_mem_info(size_t *free_b /* OUT */, size_t *total /* OUT */) OCTO_WUR;

/* Events to fence reuse of pinned staging buffers (opaque cudaEvent_t). */
octo_err octo_cuda_be_event_new(void **ev /* OUT */) OCTO_WUR;
void octo_cuda_be_event_free(void *ev);
octo_err octo_cuda_be_event_record(void *ev, octo_cuda_stream *s) OCTO_WUR;
octo_err octo_cuda_be_event_wait(void *ev) OCTO_WUR; /* host waits */

/* Graph capture of everything queued on s between _capture_begin and
 * _capture_end, instantiated into *exec (an opaque cudaGraphExec_t). */
octo_err octo_cuda_be_capture_begin(octo_cuda_stream *s) OCTO_WUR;
octo_err octo_cuda_be_capture_end(octo_cuda_stream *s, void **exec /* OUT */) OCTO_WUR;
octo_err octo_cuda_be_graph_launch(void *exec, octo_cuda_stream *s) OCTO_WUR;
void octo_cuda_be_graph_free(void *exec);

#ifdef __cplusplus
}
#endif

#endif /* OCTO_CUDA_BACKEND_INT_H */
