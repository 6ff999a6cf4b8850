/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models_int — the Qwen3 model's private state shared by its loader
 * (qwen3_load.c) and its forward (qwen3.c). No other module includes this.
 */
#ifndef OCTO_MODELS_INT_H
#define OCTO_MODELS_INT_H

#include "formats/formats.h"
#include "models.h"

typedef struct qwen3_layer {
    octo_tensor_mat in_norm, post_norm, q_norm, k_norm;
    octo_tensor_mat wq, wk, wv, wo;
    octo_tensor_mat bq, bk, bv, bo; /* data NULL without attention_bias */
    octo_tensor_mat wg, wu, wd;
} qwen3_layer;

/* Activations for up to cap_t tokens and cap_out logit rows. */
typedef struct qwen3_ws {
    int64_t cap_t, cap_out;
    float *x, *h, *q, *k, *v, *att, *o, *gate, *up; /* [T, ...] */
    float *xo, *logits;                              /* [n_out, ...] */
} qwen3_ws;

struct octo_model {
    octo_model_info info;
    const octo_tensor_backend *be;
    octo_formats_st *st;  /* the mapped checkpoint, NULL for dummy */
    void *dummy;          /* all dummy weights in one block */
    octo_tensor_mat embed, final_norm, lm_head;
    qwen3_layer *layers;  /* [n_layers] */
    float *inv_freq;      /* [head_dim / 2] host memory */
    qwen3_ws ws;
};

/* qwen3_load.c: binds or generates the weights of m (info filled). */
octo_err octo_models_qwen3_bind(octo_model *m, const char *path, const octo_model_opts *opts,
                                char *err, size_t err_size) OCTO_WUR;
/* qwen3_load.c: inverse frequencies and attention factor of the config's
 * rope (default, linear or YaRN as transformers computes them). */
octo_err octo_models_rope_init(octo_model *m, const octo_formats_text_config *tc,
                               char *err, size_t err_size) OCTO_WUR;

#endif /* OCTO_MODELS_INT_H */
