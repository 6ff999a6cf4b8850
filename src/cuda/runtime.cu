/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime — the CUDA runtime under octo's kernels: device probing, the
 * stream wrapper (with a pair of timing events), plain device allocations
 * and copies, the bump-allocated device memory pool, and the one place
 * where a cudaError_t becomes OCTO_E_CUDA with its message logged.
 *
 * It deliberately has no caching allocator, no multi-GPU logic and no
 * graph capture; those belong to the backend that uses it.
 */
#include <pthread.h>

#include "cuda/cuda_int.cuh"

octo_err octo_cuda_fail(cudaError_t e, const char *what, const char *file, int line)
{
    if (e == cudaSuccess) return OCTO_OK;
    OCTO_LOG_ERROR("CUDA error %d (%s: %s) in %s at %s:%d", (int)e, cudaGetErrorName(e),
                   cudaGetErrorString(e), what, file, line);
    return OCTO_E_CUDA;
}

/* ==== device ==== */

int octo_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky-free error */
        return 0;
    }
    return n;
}

octo_err octo_cuda_init(int device)
{
    cudaDeviceProp p;
    CUDA_TRY(cudaSetDevice(device));
    CUDA_TRY(cudaGetDeviceProperties(&p, device));
    OCTO_LOG_INFO("CUDA device %d: %s, sm_%d%d, %d SMs, %.1f GiB", device, p.name, p.major,
                  p.minor, p.multiProcessorCount, (double)p.totalGlobalMem / (1 << 30));
    return OCTO_OK;
}

octo_err octo_cuda_device_info(int *sm_count, size_t *total_mem, char *name, size_t name_size)
{
    int dev = 0;
    cudaDeviceProp p;
    CUDA_TRY(cudaGetDevice(&dev));
    CUDA_TRY(cudaGetDeviceProperties(&p, dev));
    if (sm_count) *sm_count = p.multiProcessorCount;
    if (total_mem) *total_mem = p.totalGlobalMem;
    if (name && name_size) octo_strlcpy(name, p.name, name_size);
    return OCTO_OK;
}

/* ==== streams ==== */

struct octo_cuda_stream {
    cudaStream_t st;
    cudaEvent_t start, stop;
};

cudaStream_t octo_cuda_raw_stream(octo_cuda_stream *s) { return s ? s->st : (cudaStream_t)0; }

void *octo_cuda_stream_handle(octo_cuda_stream *s) { return (void *)octo_cuda_raw_stream(s); }

octo_err octo_cuda_stream_new(octo_cuda_stream **out)
{
    *out = NULL;
    octo_cuda_stream *s = (octo_cuda_stream *)octo_calloc(1, sizeof *s);
    if (!s) return OCTO_E_NOMEM;
    cudaError_t e = cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking);
    if (e == cudaSuccess) {
        e = cudaEventCreate(&s->start);
        if (e == cudaSuccess) {
            e = cudaEventCreate(&s->stop);
            if (e != cudaSuccess) cudaEventDestroy(s->start);
        }
        if (e != cudaSuccess) cudaStreamDestroy(s->st);
    }
    if (e != cudaSuccess) {
        octo_free(s);
        return octo_cuda_fail(e, "stream create", __FILE__, __LINE__);
    }
    *out = s;
    return OCTO_OK;
}

void octo_cuda_stream_free(octo_cuda_stream *s)
{
    if (!s) return;
    cudaEventDestroy(s->start);
    cudaEventDestroy(s->stop);
    cudaStreamDestroy(s->st);
    octo_free(s);
}

octo_err octo_cuda_stream_sync(octo_cuda_stream *s)
{
    if (s) CUDA_TRY(cudaStreamSynchronize(s->st));
    else CUDA_TRY(cudaDeviceSynchronize());
    return OCTO_OK;
}

octo_err octo_cuda_stream_timer_start(octo_cuda_stream *s)
{
    ARG_CHECK(s);
    CUDA_TRY(cudaEventRecord(s->start, s->st));
    return OCTO_OK;
}

octo_err octo_cuda_stream_timer_stop(octo_cuda_stream *s)
{
    ARG_CHECK(s);
    CUDA_TRY(cudaEventRecord(s->stop, s->st));
    return OCTO_OK;
}

octo_err octo_cuda_stream_elapsed_ms(octo_cuda_stream *s, float *ms)
{
    ARG_CHECK(s && ms);
    CUDA_TRY(cudaEventSynchronize(s->stop));
    CUDA_TRY(cudaEventElapsedTime(ms, s->start, s->stop));
    return OCTO_OK;
}

/* ==== allocation counters ==== */

/* Live device allocations (pointer, bytes) so that a free knows its size:
 * a few hundred at most (weight chunks, KV layers, workspace, scratch). */
typedef struct dev_alloc {
    void *p;
    size_t n;
} dev_alloc;

static dev_alloc *g_allocs;
static size_t g_n_allocs, g_cap_allocs;
static pthread_mutex_t g_allocs_mu = PTHREAD_MUTEX_INITIALIZER;

void octo_cuda_count_alloc(void *d_ptr, size_t bytes)
{
    if (!d_ptr) return;
    pthread_mutex_lock(&g_allocs_mu);
    if (g_n_allocs == g_cap_allocs) {
        size_t cap = g_cap_allocs ? 2 * g_cap_allocs : 256;
        dev_alloc *a = (dev_alloc *)octo_realloc(g_allocs, cap * sizeof *a);
        if (a) {
            g_allocs = a;
            g_cap_allocs = cap;
        }
    }
    bool kept = g_n_allocs < g_cap_allocs;
    if (kept) g_allocs[g_n_allocs++] = dev_alloc{d_ptr, bytes};
    pthread_mutex_unlock(&g_allocs_mu);
    if (kept) octo_alloc_device_note((long long)bytes);
}

void octo_cuda_count_free(void *d_ptr)
{
    if (!d_ptr) return;
    size_t n = 0;
    pthread_mutex_lock(&g_allocs_mu);
    for (size_t i = g_n_allocs; i-- > 0;) {
        if (g_allocs[i].p != d_ptr) continue;
        n = g_allocs[i].n;
        g_allocs[i] = g_allocs[--g_n_allocs];
        break;
    }
    if (!g_n_allocs) { /* nothing live: give the table back */
        octo_free(g_allocs);
        g_allocs = NULL;
        g_cap_allocs = 0;
    }
    pthread_mutex_unlock(&g_allocs_mu);
    if (n) octo_alloc_device_note(-(long long)n);
}

/* ==== plain memory ==== */

octo_err octo_cuda_malloc(size_t bytes, void **d_ptr)
{
    *d_ptr = NULL;
    CUDA_TRY(cudaMalloc(d_ptr, bytes ? bytes : 1));
    octo_cuda_count_alloc(*d_ptr, bytes ? bytes : 1);
    return OCTO_OK;
}

void octo_cuda_free(void *d_ptr)
{
    octo_cuda_count_free(d_ptr);
    if (d_ptr) cudaFree(d_ptr);
}

octo_err octo_cuda_h2d(void *d_dst, const void *h_src, size_t bytes, octo_cuda_stream *s)
{
    if (!bytes) return OCTO_OK;
    CUDA_TRY(cudaMemcpyAsync(d_dst, h_src, bytes, cudaMemcpyHostToDevice, octo_cuda_raw_stream(s)));
    /* pageable host memory may be reused by the caller right away */
    CUDA_TRY(cudaStreamSynchronize(octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

octo_err octo_cuda_d2h(void *h_dst, const void *d_src, size_t bytes, octo_cuda_stream *s)
{
    if (!bytes) return OCTO_OK;
    CUDA_TRY(cudaMemcpyAsync(h_dst, d_src, bytes, cudaMemcpyDeviceToHost, octo_cuda_raw_stream(s)));
    CUDA_TRY(cudaStreamSynchronize(octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

octo_err octo_cuda_d2d_2d(void *d_dst, size_t dpitch, const void *d_src, size_t spitch,
                          size_t width, size_t rows, octo_cuda_stream *s)
{
    if (!width || !rows) return OCTO_OK;
    CUDA_TRY(cudaMemcpy2DAsync(d_dst, dpitch, d_src, spitch, width, rows,
                               cudaMemcpyDeviceToDevice, octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

octo_err octo_cuda_d2d(void *d_dst, const void *d_src, size_t bytes, octo_cuda_stream *s)
{
    if (!bytes) return OCTO_OK;
    CUDA_TRY(cudaMemcpyAsync(d_dst, d_src, bytes, cudaMemcpyDeviceToDevice,
                             octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

octo_err octo_cuda_memset(void *d_ptr, int byte, size_t bytes, octo_cuda_stream *s)
{
    if (!bytes) return OCTO_OK;
    CUDA_TRY(cudaMemsetAsync(d_ptr, byte, bytes, octo_cuda_raw_stream(s)));
    return OCTO_OK;
}

/* ==== pool ==== */

#define POOL_ALIGN 256u

struct octo_cuda_pool {
    char *base;
    size_t cap;
    size_t used;
};

octo_err octo_cuda_pool_new(size_t bytes, octo_cuda_pool **out)
{
    *out = NULL;
    ARG_CHECK(bytes > 0);
    octo_cuda_pool *p = (octo_cuda_pool *)octo_calloc(1, sizeof *p);
    if (!p) return OCTO_E_NOMEM;
    cudaError_t e = cudaMalloc((void **)&p->base, bytes);
    if (e != cudaSuccess) {
        octo_free(p);
        OCTO_LOG_ERROR("device pool of %zu bytes: %s", bytes, cudaGetErrorString(e));
        (void)cudaGetLastError();
        return e == cudaErrorMemoryAllocation ? OCTO_E_NOMEM : OCTO_E_CUDA;
    }
    p->cap = bytes;
    octo_cuda_count_alloc(p->base, bytes);
    *out = p;
    return OCTO_OK;
}

void octo_cuda_pool_free(octo_cuda_pool *p)
{
    if (!p) return;
    octo_cuda_count_free(p->base);
    cudaFree(p->base);
    octo_free(p);
}

octo_err octo_cuda_pool_alloc(octo_cuda_pool *p, size_t bytes, void **d_ptr)
{
    *d_ptr = NULL;
    ARG_CHECK(p);
    size_t start = (p->used + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    size_t need = bytes ? bytes : 1;
    if (start > p->cap || need > p->cap - start) {
        OCTO_LOG_WARN("device pool full: %zu of %zu bytes used, %zu asked", p->used, p->cap,
                      bytes);
        return OCTO_E_NOMEM;
    }
    *d_ptr = p->base + start;
    p->used = start + need;
    return OCTO_OK;
}

size_t octo_cuda_pool_mark(const octo_cuda_pool *p) { return p ? p->used : 0; }

void octo_cuda_pool_reset_to(octo_cuda_pool *p, size_t mark)
{
    if (p && mark <= p->used) p->used = mark;
}

size_t octo_cuda_pool_used(const octo_cuda_pool *p) { return p ? p->used : 0; }

size_t octo_cuda_pool_capacity(const octo_cuda_pool *p) { return p ? p->cap : 0; }
