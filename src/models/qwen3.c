/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qwen3 — the Qwen3ForCausalLM forward over a flattened batch, written
 * only against the tensor backend table, so that any backend runs it.
 * Per layer: RMSNorm, q/k/v projections (+bias), per-head q/k RMSNorm,
 * rotary embedding, KV store into the paged cache, grouped-query causal
 * attention, o_proj, residual, RMSNorm, SwiGLU MLP, residual; then the
 * final norm and the LM head on the requested rows only.
 *
 * Not a scheduler: which tokens run together and where their keys live is
 * the engine's business; this file only follows the slots it is given.
 */
#include "models_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ==== load / free ==== */

static octo_err info_from_config(octo_model *m, const octo_formats_model_config *cfg,
                                 char *err, size_t err_size)
{
    const octo_formats_text_config *tc = &cfg->text;
    octo_model_info *in = &m->info;
    if (cfg->arch != OCTO_ARCH_QWEN3) {
        snprintf(err, err_size, "architecture '%s' is not Qwen3ForCausalLM",
                 cfg->architecture[0] ? cfg->architecture : cfg->model_type);
        return OCTO_E_UNSUPPORTED;
    }
    in->vocab_size = tc->vocab_size;
    in->hidden_size = tc->hidden_size;
    in->intermediate_size = tc->intermediate_size;
    in->n_layers = tc->num_hidden_layers;
    in->n_heads = tc->num_attention_heads;
    in->n_kv_heads = tc->num_key_value_heads;
    in->head_dim = tc->head_dim;
    in->max_position_embeddings = tc->max_position_embeddings;
    in->rms_norm_eps = tc->rms_norm_eps;
    in->tied_embeddings = tc->tie_word_embeddings;
    in->attention_bias = tc->attention_bias;
    in->n_eos = tc->n_eos < 8 ? tc->n_eos : 8;
    for (int i = 0; i < in->n_eos; i++) in->eos_token_id[i] = tc->eos_token_id[i];
    if (in->vocab_size <= 0 || in->hidden_size <= 0 || in->intermediate_size <= 0 ||
        in->n_layers <= 0 || in->n_heads <= 0 || in->n_kv_heads <= 0 || in->head_dim <= 0 ||
        in->vocab_size > INT32_MAX || in->n_heads % in->n_kv_heads != 0 ||
        in->head_dim % 2 != 0 || in->head_dim > 512 || in->n_layers > 4096) {
        snprintf(err, err_size, "config: inconsistent Qwen3 sizes (heads %lld, kv heads %lld, "
                 "head_dim %lld)", (long long)in->n_heads, (long long)in->n_kv_heads,
                 (long long)in->head_dim);
        return OCTO_E_INVALID;
    }
    if (tc->use_sliding_window) {
        OCTO_LOG_WARN("use_sliding_window is set: octo attends to the full context");
    }
    return OCTO_OK;
}

/* The weights a device backend copies, in upload order (lm_head only when
 * untied; absent biases left out): n of them into out when out is given. */
static size_t upload_list(octo_model *m, octo_tensor_mat **out)
{
    size_t n = 0;
    octo_tensor_mat *head[] = {&m->embed, &m->final_norm,
                               m->info.tied_embeddings ? NULL : &m->lm_head};
    for (size_t i = 0; i < 3; i++) {
        if (head[i] && out) out[n] = head[i];
        n += head[i] != NULL;
    }
    for (int64_t l = 0; l < m->info.n_layers; l++) {
        qwen3_layer *L = &m->layers[l];
        octo_tensor_mat *ws[] = {&L->in_norm, &L->post_norm, &L->q_norm, &L->k_norm,
                                 &L->wq, &L->wk, &L->wv, &L->wo, &L->bq, &L->bk,
                                 &L->bv, &L->bo, &L->wg, &L->wu, &L->wd};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            if (!ws[i]->data) continue; /* absent bias */
            if (out) out[n] = ws[i];
            n++;
        }
    }
    return n;
}

/* A backend with its own memory (be->weight_upload) gets a copy of every
 * weight once, in one block where it can (be->weight_reserve), so that
 * q/k/v and gate/up sit back to back; the dummy block on the host is
 * released afterwards. */
static octo_err upload_weights(octo_model *m, char *err, size_t err_size)
{
    const octo_tensor_backend *be = m->be;
    if (!be->weight_upload) return OCTO_OK;
    size_t n = upload_list(m, NULL);
    octo_tensor_mat **ws = octo_calloc(n, sizeof *ws);
    octo_err rc = ws ? OCTO_OK : OCTO_E_NOMEM;
    if (!rc) upload_list(m, ws);
    if (!rc && be->weight_reserve) rc = be->weight_reserve(be, ws, n);
    for (size_t i = 0; !rc && i < n; i++) rc = be->weight_upload(be, ws[i]);
    octo_free(ws);
    if (rc) {
        snprintf(err, err_size, "cannot copy the weights to the %s backend: %s", be->name,
                 octo_err_str(rc));
        return rc;
    }
    if (m->info.tied_embeddings) m->lm_head = m->embed;
    octo_free(m->dummy);
    m->dummy = NULL;
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
    rc = info_from_config(m, cfg, err, err_size);
    if (rc) goto fail;
    rc = octo_models_rope_init(m, &cfg->text, err, err_size);
    if (rc) goto fail;
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
    rc = octo_models_qwen3_bind(m, path, &o, err, err_size);
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

static void ws_release(octo_model *m)
{
    const octo_tensor_backend *be = m->be;
    qwen3_ws *w = &m->ws;
    float **bufs[] = {&w->x, &w->h, &w->q, &w->k, &w->v, &w->att, &w->o,
                      &w->gate, &w->up, &w->xo, &w->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        be->free(be, *bufs[i]);
        *bufs[i] = NULL;
    }
    w->cap_t = w->cap_out = 0;
}

void octo_model_free(octo_model *m)
{
    if (!m) return;
    ws_release(m);
    octo_formats_st_close(m->st);
    octo_free(m->dummy);
    octo_free(m->layers);
    octo_free(m->inv_freq);
    octo_free(m);
}

const octo_model_info *octo_model_info_get(const octo_model *m) { return &m->info; }

uint64_t octo_model_kv_bytes_per_token(const octo_model *m, octo_dtype kv_dtype)
{
    return 2ull * (uint64_t)(m->info.n_kv_heads * m->info.head_dim) *
           octo_dtype_size(kv_dtype);
}

/* ==== workspace ==== */

static octo_err ws_reserve(octo_model *m, int64_t T, int64_t n_out)
{
    qwen3_ws *w = &m->ws;
    if (T <= w->cap_t && n_out <= w->cap_out) return OCTO_OK;
    if (T < w->cap_t) T = w->cap_t;
    if (n_out < w->cap_out) n_out = w->cap_out;
    ws_release(m);
    const octo_tensor_backend *be = m->be;
    const octo_model_info *in = &m->info;
    size_t f = be->act_dtype ? octo_dtype_size(be->act_dtype) : sizeof(float);
    size_t t = (size_t)T;
    size_t C = (size_t)in->hidden_size, HD = (size_t)(in->n_heads * in->head_dim);
    size_t KD = (size_t)(in->n_kv_heads * in->head_dim), I = (size_t)in->intermediate_size;
    w->x = be->alloc(be, t * C * f);
    w->h = be->alloc(be, t * C * f);
    w->q = be->alloc(be, t * HD * f);
    w->k = be->alloc(be, t * KD * f);
    w->v = be->alloc(be, t * KD * f);
    w->att = be->alloc(be, t * HD * f);
    w->o = be->alloc(be, t * C * f);
    w->gate = be->alloc(be, t * I * f);
    w->up = be->alloc(be, t * I * f);
    w->xo = be->alloc(be, (size_t)n_out * C * f);
    w->logits = be->alloc(be, (size_t)n_out * (size_t)in->vocab_size * sizeof(float));
    if (!w->x || !w->h || !w->q || !w->k || !w->v || !w->att || !w->o || !w->gate || !w->up ||
        !w->xo || !w->logits) {
        ws_release(m);
        return OCTO_E_NOMEM;
    }
    w->cap_t = T;
    w->cap_out = n_out;
    return OCTO_OK;
}

/* ==== forward ==== */

static octo_err check_batch(const octo_model *m, const octo_model_batch *b)
{
    const octo_model_info *in = &m->info;
    int64_t T = b->attn.n_tokens;
    if (T <= 0 || b->n_out < 0) return OCTO_E_INVALID;
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
    return OCTO_OK;
}

static void layer_forward(octo_model *m, int64_t l, const octo_model_batch *b,
                          const octo_tensor_kv_layer *kv)
{
    const octo_tensor_backend *be = m->be;
    const octo_model_info *in = &m->info;
    const qwen3_layer *L = &m->layers[l];
    qwen3_ws *w = &m->ws;
    int64_t T = b->attn.n_tokens, C = in->hidden_size, H = in->n_heads;
    int64_t K = in->n_kv_heads, D = in->head_dim, I = in->intermediate_size;
    float eps = (float)in->rms_norm_eps;
    const int32_t *pos = b->attn.tok_pos;

    /* attention block: h[T,C] -> q[T,H,D], k/v[T,K,D] -> att[T,H,D] -> o[T,C]
     * (with add_rmsnorm, h was already made by the previous layer) */
    if (!be->add_rmsnorm || l == 0) be->rmsnorm(be, w->h, w->x, T, &L->in_norm, eps);
    if (be->matmul_n) {
        float *const ys[3] = {w->q, w->k, w->v};
        const octo_tensor_mat *const ws[3] = {&L->wq, &L->wk, &L->wv};
        const octo_tensor_mat *const bs[3] = {&L->bq, &L->bk, &L->bv};
        be->matmul_n(be, 3, ys, w->h, T, ws, bs);
    } else {
        be->matmul(be, w->q, w->h, T, &L->wq, &L->bq);
        be->matmul(be, w->k, w->h, T, &L->wk, &L->bk);
        be->matmul(be, w->v, w->h, T, &L->wv, &L->bv);
    }
    if (be->qk_norm_rope) {
        be->qk_norm_rope(be, w->q, w->k, T, H, K, D, &L->q_norm, &L->k_norm, eps, pos,
                         m->inv_freq, in->rope_attn_factor);
    } else {
        be->rmsnorm(be, w->q, w->q, T * H, &L->q_norm, eps);
        be->rmsnorm(be, w->k, w->k, T * K, &L->k_norm, eps);
        be->rope(be, w->q, T, H, D, pos, m->inv_freq, in->rope_attn_factor);
        be->rope(be, w->k, T, K, D, pos, m->inv_freq, in->rope_attn_factor);
    }
    be->kv_store(be, &kv[l], &b->attn, w->k, w->v);
    be->attention(be, w->att, w->q, H, &kv[l], &b->attn, 1.0f / sqrtf((float)D));
    be->matmul(be, w->o, w->att, T, &L->wo, &L->bo);
    if (be->add_rmsnorm) {
        be->add_rmsnorm(be, w->h, w->x, w->o, T, &L->post_norm, eps);
    } else {
        be->add(be, w->x, w->o, T * C);
        be->rmsnorm(be, w->h, w->x, T, &L->post_norm, eps);
    }

    /* MLP block: h[T,C] -> gate/up[T,I] -> o[T,C]; then the next layer's
     * input norm fused with the residual add where the backend can */
    if (be->matmul_swiglu) {
        be->matmul_swiglu(be, w->gate, w->up, w->h, T, &L->wg, &L->wu);
    } else {
        be->matmul(be, w->gate, w->h, T, &L->wg, NULL);
        be->matmul(be, w->up, w->h, T, &L->wu, NULL);
        be->swiglu(be, w->gate, w->gate, w->up, T * I);
    }
    be->matmul(be, w->o, w->gate, T, &L->wd, NULL);
    if (be->add_rmsnorm && l + 1 < in->n_layers) {
        be->add_rmsnorm(be, w->h, w->x, w->o, T, &m->layers[l + 1].in_norm, eps);
    } else {
        be->add(be, w->x, w->o, T * C);
    }
}

/* Copies n final-norm hidden values to the host as f32, widening them
 * in place when the backend keeps bf16 activations. */
static void download_hidden(octo_model *m, float *out, size_t n)
{
    const octo_tensor_backend *be = m->be;
    if (!be->act_dtype || be->act_dtype == OCTO_DTYPE_F32) {
        be->download(be, out, m->ws.xo, n * sizeof(float));
        return;
    }
    be->download(be, out, m->ws.xo, n * sizeof(uint16_t));
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
    int64_t T = b->attn.n_tokens, C = in->hidden_size, V = in->vocab_size;
    rc = ws_reserve(m, T, b->n_out > 0 ? b->n_out : 1);
    if (rc) return rc;
    qwen3_ws *w = &m->ws;
    if (b->n_out > 0 && !b->hidden && !m->lm_head.rows)
        return OCTO_E_INVALID; /* a headless (embedding) checkpoint has no logits */
    if (be->batch_begin) {
        rc = be->batch_begin(be, b->tokens, &b->attn, b->out_rows, b->n_out);
        if (rc) return rc;
    }
    /* graphs record whole logits forwards only (not the hidden-state output) */
    if (b->hidden || !be->graph_begin || !be->graph_begin(be)) {
        be->embed(be, w->x, &m->embed, b->tokens, T);
        for (int64_t l = 0; l < in->n_layers; l++) layer_forward(m, l, b, kv);
        if (b->n_out > 0) {
            /* head on the requested rows only: xo[n_out,C] -> logits[n_out,V] */
            be->gather_rows(be, w->xo, w->x, b->out_rows, b->n_out, C);
            be->rmsnorm(be, w->xo, w->xo, b->n_out, &m->final_norm, (float)in->rms_norm_eps);
            if (b->hidden) {
                /* nothing more */
            } else if (be->matmul_f32) {
                be->matmul_f32(be, w->logits, w->xo, b->n_out, &m->lm_head);
            } else {
                be->matmul(be, w->logits, w->xo, b->n_out, &m->lm_head, NULL);
            }
        }
        if (!b->hidden && be->graph_end) be->graph_end(be);
    }
    if (b->n_out > 0 && logits && b->hidden) {
        download_hidden(m, logits, (size_t)(b->n_out * C));
    } else if (b->n_out > 0 && logits) {
        be->download(be, logits, w->logits, (size_t)(b->n_out * V) * sizeof(float));
    }
    return be->batch_end ? be->batch_end(be) : OCTO_OK;
}

/* The backend buffer holding the last forward's logits [n_out, V] f32
 * (backend memory; valid until the next forward). */
const float *octo_model_logits_buffer(const octo_model *m) { return m->ws.logits; }

octo_err octo_model_reserve(octo_model *m, int64_t n_tokens, int64_t n_out)
{
    if (n_tokens <= 0 || n_out < 0) return OCTO_E_INVALID;
    return ws_reserve(m, n_tokens, n_out > 0 ? n_out : 1);
}
