/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models — the front every architecture shares: load (config, registry
 * lookup, binding, the backend upload of every weight in one block), the
 * checks of a batch, one forward between the backend's batch_begin and
 * batch_end with CUDA-graph record/replay around the architecture's ops,
 * and the copy of the output rows to the host.
 *
 * It knows no architecture: those are entries of the registry.
 */
#include "models_int.h"

#include <stdio.h>
#include <string.h>

/* ==== load / free ==== */

/* Copies every weight to the backend once (a host backend checks it can
 * read them), in one block where it can, so that q/k/v and gate/up sit
 * back to back; the dummy block on the host is released afterwards when
 * the backend made copies. */
static octo_err upload_weights(octo_model *m, char *err, size_t err_size)
{
    const octo_tensor_backend *be = m->be;
    octo_err rc = be->weight_reserve(be, m->weights, m->n_weights);
    for (size_t i = 0; !rc && i < m->n_weights; i++) rc = be->weight_upload(be, m->weights[i]);
    if (rc) {
        snprintf(err, err_size, "cannot copy the weights to the %s backend: %s", be->name,
                 octo_err_str(rc));
        return rc;
    }
    if (m->dummy && m->n_weights && m->weights[0]->data != m->dummy) {
        octo_free(m->dummy); /* the backend holds its own copies */
        m->dummy = NULL;
    }
    return OCTO_OK;
}

octo_err octo_model_load(const char *path, const octo_model_opts *opts,
                         const octo_tensor_backend *be, octo_model **out, char *err,
                         size_t err_size)
{
    static const octo_model_opts defaults;
    char dummy_err[8];
    if (!err) {
        err = dummy_err;
        err_size = sizeof dummy_err;
    }
    err[0] = '\0';
    *out = NULL;
    if (!opts) opts = &defaults;
    octo_formats_model_config *cfg = NULL;
    octo_model *m = octo_calloc(1, sizeof *m);
    if (!m) return OCTO_E_NOMEM;
    m->be = be;
    octo_err rc = octo_formats_model_config_load(path, &cfg, err, err_size);
    if (rc) goto fail;
    m->arch = octo_models_arch_find(cfg);
    if (!m->arch) {
        char names[256];
        octo_models_arch_names(names, sizeof names);
        snprintf(err, err_size, "architecture '%s' is not supported (octo runs: %s)",
                 cfg->architecture[0] ? cfg->architecture : cfg->model_type, names);
        rc = OCTO_E_UNSUPPORTED;
        goto fail;
    }
    m->info.arch = m->arch->name;
    m->info.kind = m->arch->kind;
    octo_model_opts o = *opts;
    if (o.dummy && !o.dummy_dtype) {
        octo_dtype d = cfg->text.dtype;
        o.dummy_dtype = octo_dtype_is_dense_float(d) ? d : OCTO_DTYPE_BF16;
    }
    if (o.dummy && !octo_dtype_is_dense_float(o.dummy_dtype)) {
        snprintf(err, err_size, "dummy weights must be f32, f16 or bf16");
        rc = OCTO_E_INVALID;
        goto fail;
    }
    rc = octo_models_bind_all(m, cfg, path, &o, err, err_size);
    if (rc) goto fail;
    rc = upload_weights(m, err, err_size);
    if (rc) goto fail;
    octo_formats_model_config_free(cfg);
    *out = m;
    return OCTO_OK;
fail:
    if (err[0]) OCTO_LOG_ERROR("%s: %s", path, err);
    octo_formats_model_config_free(cfg);
    octo_model_free(m);
    return rc;
}

void octo_model_free(octo_model *m)
{
    if (!m) return;
    if (m->arch) m->arch->free(m);
    octo_formats_st_close(m->st);
    octo_free(m->dummy);
    octo_free(m->weights);
    octo_free(m->inv_freq);
    octo_free(m);
}

const octo_model_info *octo_model_info_get(const octo_model *m) { return &m->info; }

uint64_t octo_model_kv_bytes_per_token(const octo_model *m, octo_dtype kv_dtype)
{
    return 2ull * (uint64_t)(m->info.n_kv_heads * m->info.head_dim) * octo_dtype_size(kv_dtype);
}

/* ==== forward ==== */

static octo_err check_batch(const octo_model *m, const octo_model_batch *b)
{
    const octo_model_info *in = &m->info;
    int64_t T = b->attn.n_tokens;
    if (T <= 0 || b->n_out < 0) return OCTO_E_INVALID;
    if (b->n_features > 0) {
        OCTO_LOG_ERROR("%s takes no image or audio features", in->arch);
        return OCTO_E_INVALID;
    }
    for (int64_t t = 0; t < T; t++) {
        if (b->tokens[t] < 0 || b->tokens[t] >= in->vocab_size) {
            OCTO_LOG_ERROR("token id %d out of range (vocab %lld)", (int)b->tokens[t],
                           (long long)in->vocab_size);
            return OCTO_E_INVALID;
        }
        if (b->attn.tok_pos[t] < 0) return OCTO_E_INVALID;
    }
    for (int64_t i = 0; i < b->n_out; i++) {
        if (b->out_rows[i] < 0 || b->out_rows[i] >= T) return OCTO_E_INVALID;
    }
    if (b->n_out > 0 && !b->hidden && (!m->lm_head || !m->lm_head->rows))
        return OCTO_E_INVALID; /* a headless (embedding) checkpoint has no logits */
    return OCTO_OK;
}

/* Copies n final-norm hidden values to the host as f32, widening them
 * in place when the backend keeps bf16 activations. */
static void download_hidden(octo_model *m, float *out, size_t n)
{
    const octo_tensor_backend *be = m->be;
    if (be->act_dtype == OCTO_DTYPE_F32) {
        be->download(be, out, m->out_hidden, n * sizeof(float));
        return;
    }
    OCTO_ASSERT(be->act_dtype == OCTO_DTYPE_BF16);
    be->download(be, out, m->out_hidden, n * sizeof(uint16_t));
    const uint16_t *h = (const uint16_t *)out;
    for (size_t i = n; i-- > 0;) out[i] = octo_tensor_bf16_to_f32(h[i]); /* back to front */
}

octo_err octo_model_forward(octo_model *m, const octo_model_batch *b,
                            const octo_tensor_kv_layer *kv, float *logits)
{
    const octo_tensor_backend *be = m->be;
    const octo_model_info *in = &m->info;
    octo_err rc = check_batch(m, b);
    if (rc) return rc;
    rc = m->arch->reserve(m, b->attn.n_tokens, b->n_out > 0 ? b->n_out : 1);
    if (rc) return rc;
    rc = be->batch_begin(be, b->tokens, &b->attn, b->out_rows, b->n_out);
    if (rc) return rc;
    /* graphs record whole logits forwards only (not the hidden-state output) */
    if (b->hidden) {
        m->arch->forward(m, b, kv);
    } else if (!be->graph_begin(be)) {
        m->arch->forward(m, b, kv);
        be->graph_end(be);
    }
    if (b->n_out > 0 && logits && b->hidden) {
        download_hidden(m, logits, (size_t)(b->n_out * in->hidden_size));
    } else if (b->n_out > 0 && logits) {
        be->download(be, logits, m->out_logits,
                     (size_t)(b->n_out * in->vocab_size) * sizeof(float));
    }
    return be->batch_end(be);
}

/* The backend buffer holding the last forward's logits [n_out, V] f32
 * (backend memory; valid until the next forward). */
const float *octo_model_logits_buffer(const octo_model *m) { return m->out_logits; }

octo_err octo_model_reserve(octo_model *m, int64_t n_tokens, int64_t n_out)
{
    if (n_tokens <= 0 || n_out < 0) return OCTO_E_INVALID;
    return m->arch->reserve(m, n_tokens, n_out > 0 ? n_out : 1);
}
