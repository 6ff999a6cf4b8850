/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qwen3 — Qwen3ForCausalLM (and its headless Qwen3Model form, the
 * embedding checkpoints): its weight names and its forward over a
 * flattened batch, written only with the backend table's operations.
 * Per layer: input RMSNorm, the attention block (q/k/v projections
 * (+bias), per-head q/k RMSNorm, rotary embedding, KV store into the paged
 * cache, grouped-query causal attention), o_proj, residual + RMSNorm,
 * SwiGLU MLP, residual (+ the next layer's input norm); then the shared
 * decoder head on the requested rows only.
 *
 * Not a scheduler: which tokens run together and where their keys live is
 * the engine's business; this file only follows the slots it is given.
 */
#include "models_int.h"

#include <math.h>
#include <stdio.h>

#define NAME_MAX_BYTES 160

typedef struct qwen3_layer {
    octo_tensor_mat in_norm, post_norm, q_norm, k_norm;
    octo_tensor_mat wq, wk, wv, wo;
    octo_tensor_mat bq, bk, bv, bo; /* data NULL without attention_bias */
    octo_tensor_mat wg, wu, wd;
} qwen3_layer;

typedef struct qwen3 {
    octo_tensor_mat embed, final_norm, lm_head;
    qwen3_layer *layers; /* [n_layers] */
    octo_models_decoder_ws ws;
} qwen3;

/* ==== weight names ==== */

static octo_err bind_layer(octo_models_binder *b, qwen3_layer *L, int64_t l,
                           const octo_model_info *in)
{
    int64_t C = in->hidden_size, D = in->head_dim, HD = in->n_heads * D;
    int64_t KD = in->n_kv_heads * D, I = in->intermediate_size;
    char name[NAME_MAX_BYTES];
    octo_err rc = OCTO_OK;
#define BIND(field, suffix, rows, cols, ones)                                     \
    do {                                                                          \
        snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, suffix); \
        rc = octo_models_bind(b, &L->field, name, rows, cols, ones, false);        \
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

static void qwen3_free(octo_model *m)
{
    qwen3 *q = m->priv;
    if (!q) return;
    octo_models_decoder_ws_release(m, &q->ws);
    octo_free(q->layers);
    octo_free(q);
    m->priv = NULL;
}

static octo_err qwen3_load(octo_model *m, const octo_formats_model_config *cfg,
                           octo_models_binder *b, char *err, size_t err_size)
{
    octo_model_info *in = &m->info;
    octo_err rc = octo_models_decoder_info(m, &cfg->text, err, err_size);
    if (!rc && !m->inv_freq) rc = octo_models_rope_init(m, &cfg->text, err, err_size);
    if (rc) return rc;
    qwen3 *q = m->priv = octo_calloc(1, sizeof *q);
    if (!q) return OCTO_E_NOMEM;
    q->layers = octo_calloc((size_t)in->n_layers, sizeof *q->layers);
    if (!q->layers) return OCTO_E_NOMEM;
    rc = octo_models_bind(b, &q->embed, "model.embed_tokens.weight", in->vocab_size,
                          in->hidden_size, false, false);
    for (int64_t l = 0; !rc && l < in->n_layers; l++) rc = bind_layer(b, &q->layers[l], l, in);
    if (!rc) rc = octo_models_bind(b, &q->final_norm, "model.norm.weight", in->hidden_size, 0,
                                   true, false);
    /* embedding checkpoints (Qwen3Model) have no head: forward then serves
     * hidden states only */
    if (!rc && !in->tied_embeddings)
        rc = octo_models_bind(b, &q->lm_head, "lm_head.weight", in->vocab_size,
                              in->hidden_size, false, b->st != NULL);
    if (rc) return rc;
    m->embed = &q->embed;
    m->lm_head = in->tied_embeddings ? &q->embed : &q->lm_head;
    in->weight_dtype = q->layers[0].wq.dtype;
    return OCTO_OK;
}

static octo_err qwen3_reserve(octo_model *m, int64_t n_tokens, int64_t n_out)
{
    qwen3 *q = m->priv;
    return octo_models_decoder_ws_reserve(m, &q->ws, n_tokens, n_out);
}

/* ==== forward ==== */

static void layer_forward(octo_model *m, const qwen3 *q, int64_t l, const octo_model_batch *b,
                          const octo_tensor_kv_layer *kv)
{
    const octo_tensor_backend *be = m->be;
    const octo_model_info *in = &m->info;
    const qwen3_layer *L = &q->layers[l];
    const octo_models_decoder_ws *w = &q->ws;
    int64_t T = b->attn.n_tokens, C = in->hidden_size, D = in->head_dim;
    float eps = (float)in->rms_norm_eps;

    /* attention block: h[T,C] -> att[T,H,D] -> o[T,C]; h of layers after the
     * first was made by the previous layer's residual + norm */
    if (l == 0) be->rmsnorm(be, w->h, w->x, T, &L->in_norm, eps);
    octo_tensor_attn_weights aw = {&L->wq,     &L->wk,     &L->wv,        &L->bq,
                                   &L->bk,     &L->bv,     &L->q_norm,    &L->k_norm,
                                   in->n_heads, in->n_kv_heads, D,        eps};
    be->attention_block(be, w->att, w->h, T, &aw, &m->rope, &kv[l], &b->attn,
                        1.0f / sqrtf((float)D), w->q, w->k, w->v);
    be->matmul(be, w->o, w->att, T, &L->wo, &L->bo);
    be->add_rmsnorm(be, w->h, w->x, w->o, T, &L->post_norm, eps);

    /* MLP block: h[T,C] -> gate/up[T,I] -> o[T,C], then the residual with
     * the next layer's input norm */
    be->matmul_swiglu(be, w->gate, w->up, w->h, T, &L->wg, &L->wu);
    be->matmul(be, w->o, w->gate, T, &L->wd, NULL);
    if (l + 1 < in->n_layers) {
        be->add_rmsnorm(be, w->h, w->x, w->o, T, &q->layers[l + 1].in_norm, eps);
    } else {
        be->add(be, w->x, w->o, T * C);
    }
}

static void qwen3_forward(octo_model *m, const octo_model_batch *b,
                          const octo_tensor_kv_layer *kv)
{
    qwen3 *q = m->priv;
    m->be->embed(m->be, q->ws.x, &q->embed, b->tokens, b->attn.n_tokens);
    for (int64_t l = 0; l < m->info.n_layers; l++) layer_forward(m, q, l, b, kv);
    octo_models_decoder_head(m, &q->ws, &q->final_norm, b);
}

const octo_model_arch octo_models_qwen3 = {
    .name = "Qwen3ForCausalLM",
    .id = OCTO_ARCH_QWEN3,
    .kind = OCTO_MODEL_DECODER,
    .load = qwen3_load,
    .reserve = qwen3_reserve,
    .forward = qwen3_forward,
    .free = qwen3_free,
};
