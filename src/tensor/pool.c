/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool — a fixed pthread pool for the hot loops of the CPU kernels. One
 * run at a time: the caller publishes a task and a generation number,
 * workers spin briefly then sleep on a condition variable, all threads
 * (the caller too) take chunks of [0, n) from an atomic cursor until none
 * is left (so a thread the OS preempts does not hold the others up), and
 * the caller waits for all of them. Also
 * per-thread scratch memory for kernels (weight tiles, score rows).
 *
 * Not a general task scheduler: no queue, no nesting, no work stealing.
 */
#include "tensor.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define SPIN_ITERS 20000

typedef struct worker {
    struct octo_tensor_pool *pool;
    pthread_t tid;
    int index;
} worker;

struct octo_tensor_pool {
    int n_threads;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t gen;      /* bumped for each run */
    _Atomic int pending;       /* workers still running the current run */
    _Atomic int quit;
    /* the current run */
    octo_tensor_task_fn fn;
    void *ctx;
    int64_t n, chunk;
    _Atomic int64_t cursor;    /* next unclaimed item */
    /* per-thread scratch */
    void **scratch;
    size_t scratch_bytes;
};

static void run_chunk(octo_tensor_pool *p, int t)
{
    for (;;) {
        int64_t i0 = atomic_fetch_add_explicit(&p->cursor, p->chunk, memory_order_relaxed);
        if (i0 >= p->n) break;
        int64_t i1 = i0 + p->chunk;
        if (i1 > p->n) i1 = p->n;
        p->fn(p->ctx, i0, i1, t);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    octo_tensor_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int i = 0; g == seen && i < SPIN_ITERS; i++) {
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->quit)) {
                pthread_cond_wait(&p->cv, &p->mu);
            }
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = g;
        run_chunk(p, w->index);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

octo_tensor_pool *octo_tensor_pool_new(int n_threads)
{
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > 256) n_threads = 256;
    octo_tensor_pool *p = octo_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    p->scratch = octo_calloc((size_t)n_threads, sizeof *p->scratch);
    p->workers = octo_calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->scratch || !p->workers) goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 1; i < n_threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        if (pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i])) {
            p->n_threads = i; /* join the ones started */
            octo_tensor_pool_free(p);
            return NULL;
        }
    }
    return p;
fail:
    octo_free(p->scratch);
    octo_free(p->workers);
    octo_free(p);
    return NULL;
}

void octo_tensor_pool_free(octo_tensor_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i].tid, NULL);
    for (int i = 0; i < p->n_threads; i++) octo_free(p->scratch[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    octo_free(p->scratch);
    octo_free(p->workers);
    octo_free(p);
}

int octo_tensor_pool_size(const octo_tensor_pool *p) { return p ? p->n_threads : 1; }

void octo_tensor_pool_run(octo_tensor_pool *p, int64_t n, int64_t grain,
                          octo_tensor_task_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t nt = p ? p->n_threads : 1;
    int64_t by_grain = (n + grain - 1) / grain;
    if (by_grain < nt) nt = by_grain;
    if (!p || nt <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    /* about 4 chunks per thread: balance without much contention */
    p->chunk = (n + 4 * p->n_threads - 1) / (4 * p->n_threads);
    if (p->chunk < grain) p->chunk = grain;
    atomic_store_explicit(&p->cursor, 0, memory_order_relaxed);
    atomic_store(&p->pending, p->n_threads - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, 0);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        sched_yield();
    }
}

octo_err octo_tensor_pool_reserve(octo_tensor_pool *p, size_t bytes)
{
    if (!p || bytes <= p->scratch_bytes) return OCTO_OK;
    for (int i = 0; i < p->n_threads; i++) {
        void *q = octo_malloc(bytes);
        if (!q) return OCTO_E_NOMEM;
        octo_free(p->scratch[i]);
        p->scratch[i] = q;
    }
    p->scratch_bytes = bytes;
    return OCTO_OK;
}

void *octo_tensor_pool_scratch(octo_tensor_pool *p, int thread)
{
    return p ? p->scratch[thread] : NULL;
}
