/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decoder — building blocks every dense pre-norm decoder shares: its
 * hyperparameters from config.json, the activation workspace in backend
 * memory, and the head (gather the wanted rows, final norm, LM head or
 * hidden states). An architecture's own file writes its layers with the
 * backend table's operations between these.
 *
 * Not a layer: the order of norms, projections and residuals is each
 * architecture's business.
 */
#include "models_int.h"

#include <stdio.h>

octo_err octo_models_decoder_info(octo_model *m, const octo_formats_text_config *tc, char *err,
                                  size_t err_size)
{
    octo_model_info *in = &m->info;
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
        snprintf(err, err_size, "config: inconsistent %s sizes (heads %lld, kv heads %lld, "
                 "head_dim %lld)", m->arch->name, (long long)in->n_heads,
                 (long long)in->n_kv_heads, (long long)in->head_dim);
        return OCTO_E_INVALID;
    }
    if (tc->use_sliding_window) {
        OCTO_LOG_WARN("use_sliding_window is set: octo attends to the full context");
    }
    return OCTO_OK;
}

void octo_models_decoder_ws_release(octo_model *m, octo_models_decoder_ws *w)
{
    const octo_tensor_backend *be = m->be;
    float **bufs[] = {&w->x, &w->h, &w->q, &w->k, &w->v, &w->att, &w->o,
                      &w->gate, &w->up, &w->xo, &w->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        be->free(be, *bufs[i]);
        *bufs[i] = NULL;
    }
    w->cap_t = w->cap_out = 0;
}

octo_err octo_models_decoder_ws_reserve(octo_model *m, octo_models_decoder_ws *w, int64_t T,
                                        int64_t n_out)
{
    if (T <= w->cap_t && n_out <= w->cap_out) return OCTO_OK;
    if (T < w->cap_t) T = w->cap_t;
    if (n_out < w->cap_out) n_out = w->cap_out;
    octo_models_decoder_ws_release(m, w);
    const octo_tensor_backend *be = m->be;
    const octo_model_info *in = &m->info;
    size_t f = octo_dtype_size(be->act_dtype);
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
        octo_models_decoder_ws_release(m, w);
        return OCTO_E_NOMEM;
    }
    w->cap_t = T;
    w->cap_out = n_out;
    m->out_logits = w->logits;
    m->out_hidden = w->xo;
    return OCTO_OK;
}

void octo_models_decoder_head(octo_model *m, octo_models_decoder_ws *w,
                              const octo_tensor_mat *final_norm, const octo_model_batch *b)
{
    const octo_tensor_backend *be = m->be;
    if (b->n_out <= 0) return;
    /* xo[n_out,C] = final_norm(x[out_rows]) -> logits[n_out,V] */
    be->gather_rows(be, w->xo, w->x, b->out_rows, b->n_out, m->info.hidden_size);
    be->rmsnorm(be, w->xo, w->xo, b->n_out, final_norm, (float)m->info.rms_norm_eps);
    if (!b->hidden) be->matmul_f32(be, w->logits, w->xo, b->n_out, m->lm_head);
}
