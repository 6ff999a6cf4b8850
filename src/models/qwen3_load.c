/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qwen3_load — turns a Qwen3 checkpoint into weight views: each tensor is
 * looked up by its Hugging Face name in the memory-mapped safetensors,
 * checked for dtype (f32/f16/bf16) and shape, and used in place. With the
 * dummy load format the same views point into one block of random weights
 * shaped by config.json alone. Also the rotary inverse frequencies
 * (default, linear, YaRN) as transformers computes them.
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

/* ==== rotary frequencies ==== */

/* YaRN: "find_correction_dim" of transformers' _compute_yarn_parameters. */
static double yarn_corr_dim(double rot, double dim, double base, double max_pos)
{
    return dim * log(max_pos / (rot * 2.0 * M_PI)) / (2.0 * log(base));
}

octo_err octo_models_rope_init(octo_model *m, const octo_formats_text_config *tc, char *err,
                               size_t err_size)
{
    const octo_formats_rope *r = &tc->rope;
    int64_t dim = m->info.head_dim, half = dim / 2;
    if (r->partial_rotary_factor != 1.0 && r->partial_rotary_factor != 0.0) {
        snprintf(err, err_size, "partial_rotary_factor %g is not supported",
                 r->partial_rotary_factor);
        return OCTO_E_UNSUPPORTED;
    }
    m->inv_freq = octo_calloc((size_t)half, sizeof(float));
    if (!m->inv_freq) return OCTO_E_NOMEM;
    float base = (float)r->theta;
    m->info.rope_attn_factor = 1.0f;
    for (int64_t i = 0; i < half; i++) {
        float pos_freq = powf(base, (float)(2 * i) / (float)dim);
        m->inv_freq[i] = 1.0f / pos_freq;
    }
    switch (r->type) {
    case OCTO_ROPE_DEFAULT: return OCTO_OK;
    case OCTO_ROPE_LINEAR:
        for (int64_t i = 0; i < half; i++) m->inv_freq[i] /= (float)r->factor;
        return OCTO_OK;
    case OCTO_ROPE_YARN: break;
    default:
        snprintf(err, err_size, "rope type %d is not supported for Qwen3", (int)r->type);
        return OCTO_E_UNSUPPORTED;
    }
    double factor = r->factor;
    double orig = r->original_max_position_embeddings > 0
                      ? (double)r->original_max_position_embeddings
                      : (double)tc->max_position_embeddings;
    if (factor <= 0.0) factor = (double)tc->max_position_embeddings / orig;
    double att = factor <= 1.0 ? 1.0 : 0.1 * log(factor) + 1.0;
    if (r->has_attention_factor) att = r->attention_factor;
    double beta_fast = r->beta_fast > 0 ? r->beta_fast : 32.0;
    double beta_slow = r->beta_slow > 0 ? r->beta_slow : 1.0;
    double lo = floor(yarn_corr_dim(beta_fast, (double)dim, r->theta, orig));
    double hi = ceil(yarn_corr_dim(beta_slow, (double)dim, r->theta, orig));
    if (lo < 0) lo = 0;
    if (hi > (double)(dim - 1)) hi = (double)(dim - 1);
    if (lo == hi) hi += 0.001;
    for (int64_t i = 0; i < half; i++) {
        float pos_freq = powf(base, (float)(2 * i) / (float)dim);
        float extra = 1.0f / pos_freq;
        float inter = 1.0f / ((float)factor * pos_freq);
        float ramp = ((float)i - (float)lo) / (float)(hi - lo);
        ramp = ramp < 0.0f ? 0.0f : ramp > 1.0f ? 1.0f : ramp;
        float ext_factor = 1.0f - ramp;
        m->inv_freq[i] = inter * (1.0f - ext_factor) + extra * ext_factor;
    }
    m->info.rope_attn_factor = (float)att;
    m->info.yarn = true;
    return OCTO_OK;
}

/* ==== binding from safetensors ==== */

typedef struct binder {
    octo_model *m;
    const octo_formats_st *st;
    /* dummy mode */
    char *cursor;
    octo_dtype dtype;
    char *err;
    size_t err_size;
    bool optional;        /* a missing tensor is left empty (rows 0) */
} binder;

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

/* Binds tensor `name` of shape [rows, cols] (cols 0: a vector of rows). */
static octo_err bind(binder *b, octo_tensor_mat *out, const char *name, int64_t rows,
                     int64_t cols, bool ones)
{
    int64_t ncols = cols ? cols : rows, nrows = cols ? rows : 1;
    if (!b->st) {
        size_t esz = octo_dtype_size(b->dtype);
        out->data = b->cursor;
        out->dtype = b->dtype;
        out->rows = nrows;
        out->cols = ncols;
        if (b->cursor) {
            if (ones) fill_ones(b->cursor, b->dtype, nrows * ncols);
            b->cursor += ((size_t)(nrows * ncols) * esz + 63) & ~(size_t)63;
        }
        return OCTO_OK;
    }
    octo_formats_tensor t;
    /* a base Qwen3Model (Qwen3-Embedding) is saved without the "model." prefix */
    bool found = octo_formats_st_find(b->st, name, &t) == OCTO_OK;
    if (!found && strncmp(name, "model.", 6) == 0)
        found = octo_formats_st_find(b->st, name + 6, &t) == OCTO_OK;
    if (!found && b->optional) return OCTO_OK;
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
    out->data = t.data;
    out->dtype = t.dtype;
    out->rows = nrows;
    out->cols = ncols;
    return OCTO_OK;
}

static octo_err bind_layer(binder *b, int64_t l)
{
    octo_model *m = b->m;
    const octo_model_info *in = &m->info;
    qwen3_layer *L = &m->layers[l];
    int64_t C = in->hidden_size, D = in->head_dim, HD = in->n_heads * D;
    int64_t KD = in->n_kv_heads * D, I = in->intermediate_size;
    char name[NAME_MAX_BYTES];
    octo_err rc = OCTO_OK;
#define BIND(field, suffix, rows, cols, ones)                                     \
    do {                                                                          \
        snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, suffix); \
        rc = bind(b, &L->field, name, rows, cols, ones);                         \
        if (rc) return rc;                                                        \
    } while (0)
    BIND(in_norm, "input_layernorm.weight", C, 0, true);
    BIND(wq, "self_attn.q_proj.weight", HD, C, false);
    BIND(wk, "self_attn.k_proj.weight", KD, C, false);
    BIND(wv, "self_attn.v_proj.weight", KD, C, false);
    BIND(wo, "self_attn.o_proj.weight", C, HD, false);
    if (in->attention_bias) {
        BIND(bq, "self_attn.q_proj.bias", HD, 0, false);
        BIND(bk, "self_attn.k_proj.bias", KD, 0, false);
        BIND(bv, "self_attn.v_proj.bias", KD, 0, false);
        BIND(bo, "self_attn.o_proj.bias", C, 0, false);
    }
    BIND(q_norm, "self_attn.q_norm.weight", D, 0, true);
    BIND(k_norm, "self_attn.k_norm.weight", D, 0, true);
    BIND(post_norm, "post_attention_layernorm.weight", C, 0, true);
    BIND(wg, "mlp.gate_proj.weight", I, C, false);
    BIND(wu, "mlp.up_proj.weight", I, C, false);
    BIND(wd, "mlp.down_proj.weight", C, I, false);
#undef BIND
    return rc;
}

static octo_err bind_all(binder *b)
{
    octo_model *m = b->m;
    const octo_model_info *in = &m->info;
    octo_err rc = bind(b, &m->embed, "model.embed_tokens.weight", in->vocab_size,
                       in->hidden_size, false);
    if (rc) return rc;
    for (int64_t l = 0; l < in->n_layers; l++) {
        rc = bind_layer(b, l);
        if (rc) return rc;
    }
    rc = bind(b, &m->final_norm, "model.norm.weight", in->hidden_size, 0, true);
    if (rc) return rc;
    if (in->tied_embeddings) {
        m->lm_head = m->embed;
        return OCTO_OK;
    }
    /* embedding checkpoints (Qwen3Model) have no head: forward then serves
     * hidden states only */
    b->optional = b->st != NULL;
    rc = bind(b, &m->lm_head, "lm_head.weight", in->vocab_size, in->hidden_size, false);
    b->optional = false;
    return rc;
}

static uint64_t mat_bytes(const octo_tensor_mat *w)
{
    return (uint64_t)(w->rows * w->cols) * octo_dtype_size(w->dtype);
}

static void count_weights(octo_model *m)
{
    octo_model_info *in = &m->info;
    uint64_t bytes = 0, params = 0;
    for (int64_t l = 0; l < in->n_layers; l++) {
        const qwen3_layer *L = &m->layers[l];
        const octo_tensor_mat *ws[] = {&L->in_norm, &L->post_norm, &L->q_norm, &L->k_norm,
                                       &L->wq, &L->wk, &L->wv, &L->wo, &L->bq, &L->bk,
                                       &L->bv, &L->bo, &L->wg, &L->wu, &L->wd};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            if (!ws[i]->rows) continue; /* absent bias */
            bytes += mat_bytes(ws[i]);
            params += (uint64_t)(ws[i]->rows * ws[i]->cols);
        }
    }
    uint64_t body = bytes + mat_bytes(&m->final_norm);
    params += (uint64_t)m->final_norm.cols;
    bytes = body + mat_bytes(&m->embed);
    params += (uint64_t)(m->embed.rows * m->embed.cols);
    if (!in->tied_embeddings) {
        bytes += mat_bytes(&m->lm_head);
        params += (uint64_t)(m->lm_head.rows * m->lm_head.cols);
    }
    in->weight_bytes = bytes;
    in->n_params = params;
    in->decode_bytes = body + mat_bytes(&m->lm_head);
    in->weight_dtype = m->layers ? m->layers[0].wq.dtype : m->embed.dtype;
}

octo_err octo_models_qwen3_bind(octo_model *m, const char *path, const octo_model_opts *opts,
                                char *err, size_t err_size)
{
    binder b = {.m = m, .err = err, .err_size = err_size};
    octo_err rc;
    m->layers = octo_calloc((size_t)m->info.n_layers, sizeof *m->layers);
    if (!m->layers) return OCTO_E_NOMEM;
    if (!opts->dummy) {
        rc = octo_formats_st_open(path, &m->st, err, err_size);
        if (rc) return rc;
        b.st = m->st;
        rc = bind_all(&b);
        if (rc) return rc;
        count_weights(m);
        return OCTO_OK;
    }
    /* Dummy: a sizing pass with no memory, then the real one. */
    b.dtype = opts->dummy_dtype;
    rc = bind_all(&b);
    if (rc) return rc;
    size_t total = 0;
    count_weights(m);
    total = (size_t)m->info.weight_bytes + (size_t)(m->info.n_layers * 16 + 4) * 64;
    m->dummy = octo_malloc(total);
    if (!m->dummy) {
        snprintf(err, err_size, "cannot allocate %zu bytes of dummy weights", total);
        return OCTO_E_NOMEM;
    }
    fill_random(m->dummy, b.dtype, (int64_t)(total / octo_dtype_size(b.dtype)),
                opts->dummy_seed);
    b.cursor = m->dummy;
    rc = bind_all(&b);
    if (rc) return rc;
    count_weights(m);
    return OCTO_OK;
}
