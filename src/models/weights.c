/* SPDX-License-Identifier: Apache-2.0 */
/*
 * weights — turns a checkpoint into weight views for any architecture:
 * each tensor is looked up by its Hugging Face name in the memory-mapped
 * safetensors, checked for dtype and shape, and used in place. With the
 * dummy load format the same views point into one block of random weights
 * shaped by config.json alone (a sizing pass, then the real one). Every
 * bound weight is listed on the model, in binding order, for the backend
 * upload and the counts of parameters and bytes.
 *
 * Not a converter: nothing is transposed, fused or re-quantised here.
 */
#include "models_int.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_BYTES 160

/* ==== dummy values ==== */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Dummy values: uniform with std 0.02, from a counter-based generator
 * (element i of the block depends only on the seed and i), so threads can
 * fill disjoint ranges. */
typedef struct fill_job {
    void *data;
    octo_dtype dtype;
    int64_t i0, i1;
    uint64_t seed;
    pthread_t tid;
} fill_job;

static void *fill_range(void *arg)
{
    fill_job *j = arg;
    uint16_t *h = j->data;
    float *f = j->data;
    for (int64_t i = j->i0; i < j->i1; i++) {
        uint64_t bits = mix64(j->seed ^ (uint64_t)(i >> 2));
        float u = (float)((bits >> ((i & 3) * 16)) & 0xffffu) / 65535.0f;
        float v = (u * 2.0f - 1.0f) * 0.0346f;
        switch (j->dtype) {
        case OCTO_DTYPE_BF16: h[i] = octo_tensor_f32_to_bf16(v); break;
        case OCTO_DTYPE_F16: h[i] = octo_tensor_f32_to_f16(v); break;
        default: f[i] = v;
        }
    }
    return NULL;
}

/* Fills n elements on up to 16 threads (one per CPU). */
static void fill_random(void *data, octo_dtype dt, int64_t n, uint64_t seed)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus;
    fill_job jobs[16];
    int started = 0;
    for (int t = 0; t < nt; t++) {
        jobs[t] = (fill_job){data, dt, n * t / nt, n * (t + 1) / nt, seed, 0};
        if (t > 0 && pthread_create(&jobs[t].tid, NULL, fill_range, &jobs[t]) == 0) {
            started |= 1 << t;
        } else if (t > 0) {
            fill_range(&jobs[t]);
        }
    }
    fill_range(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (started & (1 << t)) pthread_join(jobs[t].tid, NULL);
    }
}

static void fill_ones(void *data, octo_dtype dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (dt == OCTO_DTYPE_F32) ((float *)data)[i] = 1.0f;
        else if (dt == OCTO_DTYPE_BF16) ((uint16_t *)data)[i] = 0x3f80;
        else ((uint16_t *)data)[i] = 0x3c00;
    }
}

static octo_err add_weight(octo_model *m, octo_tensor_mat *w)
{
    if (m->n_weights == m->cap_weights) {
        size_t cap = m->cap_weights ? m->cap_weights * 2 : 64;
        octo_tensor_mat **p = octo_realloc(m->weights, cap * sizeof *p);
        if (!p) return OCTO_E_NOMEM;
        m->weights = p;
        m->cap_weights = cap;
    }
    m->weights[m->n_weights++] = w;
    return OCTO_OK;
}

octo_err octo_models_bind(octo_models_binder *b, octo_tensor_mat *out, const char *name,
                          int64_t rows, int64_t cols, bool ones, bool optional)
{
    int64_t ncols = cols ? cols : rows, nrows = cols ? rows : 1;
    if (!b->st) {
        size_t bytes = 0;
        if (octo_dtype_nbytes(b->dtype, (uint64_t)(nrows * ncols), &bytes)) {
            snprintf(b->err, b->err_size, "tensor '%s': %lld x %lld %s weights", name,
                     (long long)nrows, (long long)ncols, octo_dtype_name(b->dtype));
            return OCTO_E_INVALID;
        }
        *out = (octo_tensor_mat){.data = b->cursor, .dtype = b->dtype, .rows = nrows,
                                 .cols = ncols};
        if (b->cursor) {
            if (ones) fill_ones(b->cursor, b->dtype, nrows * ncols);
            b->cursor += (bytes + 63) & ~(size_t)63;
        }
        b->dummy_bytes += (bytes + 63) & ~(size_t)63;
        return b->cursor ? add_weight(b->m, out) : OCTO_OK;
    }
    octo_formats_tensor t;
    /* a base model (Qwen3-Embedding) is saved without the "model." prefix */
    bool found = octo_formats_st_find(b->st, name, &t) == OCTO_OK;
    if (!found && strncmp(name, "model.", 6) == 0)
        found = octo_formats_st_find(b->st, name + 6, &t) == OCTO_OK;
    if (!found && optional) {
        *out = (octo_tensor_mat){0};
        return OCTO_OK;
    }
    if (!found) {
        snprintf(b->err, b->err_size, "tensor '%s' is missing from the checkpoint", name);
        return OCTO_E_INVALID;
    }
    if (!octo_dtype_is_dense_float(t.dtype)) {
        snprintf(b->err, b->err_size, "tensor '%s': dtype %s is not supported (f32, f16, bf16)",
                 name, octo_dtype_name(t.dtype));
        return OCTO_E_UNSUPPORTED;
    }
    bool ok = cols ? (t.ndim == 2 && t.shape[0] == rows && t.shape[1] == cols)
                   : (t.ndim == 1 && t.shape[0] == rows);
    if (!ok && cols) {
        snprintf(b->err, b->err_size, "tensor '%s': shape [%lld, %lld] expected", name,
                 (long long)rows, (long long)cols);
        return OCTO_E_INVALID;
    }
    if (!ok) {
        snprintf(b->err, b->err_size, "tensor '%s': shape [%lld] expected", name,
                 (long long)rows);
        return OCTO_E_INVALID;
    }
    *out = (octo_tensor_mat){.data = t.data, .dtype = t.dtype, .rows = nrows, .cols = ncols};
    return add_weight(b->m, out);
}

/* Parameters and bytes of every bound weight; the bytes a decode step
 * reads: all but the embedding table, plus the LM head (the table again
 * when the head is tied to it). */
static void count_weights(octo_model *m)
{
    octo_model_info *in = &m->info;
    uint64_t bytes = 0, params = 0, embed = 0;
    for (size_t i = 0; i < m->n_weights; i++) {
        const octo_tensor_mat *w = m->weights[i];
        size_t n = 0;
        if (octo_tensor_mat_bytes(w, &n)) continue; /* shapes checked at binding */
        bytes += n;
        params += (uint64_t)(w->rows * w->cols);
        if (w == m->embed) embed = n;
    }
    in->weight_bytes = bytes;
    in->n_params = params;
    in->decode_bytes = bytes - embed + (m->lm_head == m->embed ? embed : 0);
}

octo_err octo_models_bind_all(octo_model *m, const octo_formats_model_config *cfg,
                              const char *path, const octo_model_opts *opts, char *err,
                              size_t err_size)
{
    octo_models_binder b = {.m = m, .err = err, .err_size = err_size};
    octo_err rc;
    if (!opts->dummy) {
        rc = octo_formats_st_open(path, &m->st, err, err_size);
        if (rc) return rc;
        b.st = m->st;
        rc = m->arch->load(m, cfg, &b, err, err_size);
        if (!rc) count_weights(m);
        return rc;
    }
    /* Dummy: a sizing pass with no memory, then the real one. */
    b.dtype = opts->dummy_dtype;
    rc = m->arch->load(m, cfg, &b, err, err_size);
    if (rc) return rc;
    m->arch->free(m);
    octo_free(m->inv_freq);
    m->inv_freq = NULL;
    size_t total = b.dummy_bytes + 64;
    m->dummy = octo_malloc(total);
    if (!m->dummy) {
        snprintf(err, err_size, "cannot allocate %zu bytes of dummy weights", total);
        return OCTO_E_NOMEM;
    }
    fill_random(m->dummy, b.dtype, (int64_t)(total / octo_dtype_size(b.dtype)),
                opts->dummy_seed);
    b.cursor = m->dummy;
    b.dummy_bytes = 0;
    rc = m->arch->load(m, cfg, &b, err, err_size);
    if (!rc) count_weights(m);
    return rc;
}
