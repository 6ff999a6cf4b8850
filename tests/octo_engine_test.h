/* SPDX-License-Identifier: Apache-2.0 */
/*
 * octo_engine_test — engines for the engine, model and kernel tests,
 * made the way they were before runtime/ took backend creation and the
 * memory budget out of the engine: a path and a few sizes in, an engine
 * out. Each engine gets a backend of its own (a CPU thread pool, or CUDA
 * device 0), released with the engine (octo_engine_opts.release), so
 * that octo_engine_free (or a scheduler's or pool's _free) is all a test
 * releases. Not for serving: see runtime/ for the real load path.
 */
#ifndef OCTO_ENGINE_TEST_H
#define OCTO_ENGINE_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#ifdef OCTO_HAVE_CUDA
#include "cuda/cuda.h"
#endif

typedef struct test_engine_opts {
    const char *model_path;   /* model folder; with dummy, a config.json or folder */
    bool dummy;
    uint64_t dummy_seed;
    octo_dtype dummy_dtype;
    int n_threads;            /* <= 0: one per CPU */
    octo_dtype kv_dtype;
    int64_t block_size, kv_blocks;
    uint64_t kv_bytes;        /* with kv_blocks 0; both 0: 256 MiB */
    int64_t max_model_len, max_batch_tokens;
    bool output_hidden;
    bool on_device;           /* CUDA device 0 (see test_engine_opts_device) */
} test_engine_opts;

static inline void test_engine_opts_device(test_engine_opts *o, int device)
{
    o->on_device = device >= 0;
}

/* One engine's backend: its own thread pool, and on a GPU its own CUDA
 * backend (which keeps per-model state: workspace, recorded graphs). */
typedef struct test_engine_backend {
    octo_tensor_pool *pool;
    octo_tensor_backend be;
    bool cuda;
} test_engine_backend;

static inline void test_engine_backend_free(void *ctx)
{
    test_engine_backend *b = ctx;
    if (!b) return;
#ifdef OCTO_HAVE_CUDA
    if (b->cuda) octo_cuda_backend_free(&b->be);
#endif
    octo_tensor_pool_free(b->pool);
    free(b);
}

static inline test_engine_backend *test_engine_backend_new(bool cuda, int n_threads)
{
    test_engine_backend *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->pool = octo_tensor_pool_new(n_threads);
    if (!b->pool) goto fail;
    if (!cuda) {
        octo_tensor_backend_cpu(&b->be, b->pool);
        return b;
    }
#ifdef OCTO_HAVE_CUDA
    if (octo_cuda_backend_new(0, &b->be) == OCTO_OK) {
        b->cuda = true;
        return b;
    }
#endif
fail:
    test_engine_backend_free(b);
    return NULL;
}

/* Makes the backend, loads the model and makes the engine, which frees
 * the backend when it goes (octo_engine_opts.release); the error of
 * either, message in err (may be NULL). */
static inline octo_err test_engine_new(const test_engine_opts *o, octo_engine **out, char *err,
                                       size_t err_size)
{
    char dummy_err[128];
    if (!err) {
        err = dummy_err;
        err_size = sizeof dummy_err;
    }
    *out = NULL;
    test_engine_backend *b = test_engine_backend_new(o->on_device, o->n_threads);
    if (!b) {
        snprintf(err, err_size, "no %s backend", o->on_device ? "CUDA" : "CPU");
        return o->on_device ? OCTO_E_CUDA : OCTO_E_NOMEM;
    }
    octo_model_opts mo = {o->dummy, o->dummy_seed, o->dummy_dtype};
    octo_model *m = NULL;
    octo_err rc = octo_model_load(o->model_path, &mo, &b->be, &m, err, err_size);
    if (rc) {
        test_engine_backend_free(b);
        return rc;
    }
    octo_engine_opts eo = {
        .on_device = o->on_device, .kv_dtype = o->kv_dtype, .block_size = o->block_size,
        .kv_blocks = o->kv_blocks, .kv_bytes = o->kv_bytes, .max_model_len = o->max_model_len,
        .max_batch_tokens = o->max_batch_tokens, .output_hidden = o->output_hidden,
        .release = test_engine_backend_free, .release_ctx = b};
    if (!eo.kv_blocks && !eo.kv_bytes) eo.kv_bytes = 256ull << 20;
    return octo_engine_new(m, &b->be, &eo, out, err, err_size); /* takes m and b */
}

#endif /* OCTO_ENGINE_TEST_H */
