/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models_int — what the architectures share: the model object, the
 * registry entry an architecture fills, the weight binder (safetensors or
 * dummy weights), the rotary tables and the dense decoder's building
 * blocks (workspace, embedding, LM head). No other module includes this.
 */
#ifndef OCTO_MODELS_INT_H
#define OCTO_MODELS_INT_H

#include "formats/formats.h"
#include "models.h"

/* ==== the registry ==== */

typedef struct octo_models_binder octo_models_binder;

/* One architecture: its entry in src/models/registry.c. */
typedef struct octo_model_arch {
    const char *name;     /* config.json "architectures" value */
    octo_formats_arch id; /* formats' enum for it (several names may share one) */
    octo_model_kind kind;
    /* Fills m->info from the config and binds every weight through the
     * binder (octo_models_bind); m->priv is the architecture's own state. */
    octo_err (*load)(octo_model *m, const octo_formats_model_config *cfg,
                     octo_models_binder *b, char *err, size_t err_size);
    /* Grows the workspace for n_tokens tokens and n_out output rows. */
    octo_err (*reserve)(octo_model *m, int64_t n_tokens, int64_t n_out);
    /* The ops of one forward (between the backend's batch_begin and
     * batch_end; graphs are recorded around it): leaves the wanted rows'
     * logits (or hidden states with b->hidden) in m->out_logits
     * (m->out_hidden). */
    void (*forward)(octo_model *m, const octo_model_batch *b, const octo_tensor_kv_layer *kv);
    /* Releases m->priv (workspace in backend memory included). */
    void (*free)(octo_model *m);
} octo_model_arch;

/* The registered architectures (each in its own file). */
extern const octo_model_arch octo_models_qwen3;

/* The names of every registered architecture, ", "-separated, into out
 * (cut to n bytes). */
void octo_models_arch_names(char *out, size_t n);
/* The entry for config.json's architecture, NULL when none. */
const octo_model_arch *octo_models_arch_find(const octo_formats_model_config *cfg);

/* ==== the model object ==== */

struct octo_model {
    octo_model_info info;
    const octo_model_arch *arch;
    const octo_tensor_backend *be;
    octo_formats_st *st;      /* the mapped checkpoint, NULL for dummy */
    void *dummy;              /* all dummy weights in one block */
    octo_tensor_mat **weights; /* every bound weight, in binding (upload) order */
    size_t n_weights, cap_weights;
    /* decoders: the token embedding and the LM head (rows 0: headless) */
    octo_tensor_mat *embed, *lm_head;
    float *inv_freq;          /* [head_dim / 2] host memory */
    octo_tensor_rope rope;
    /* backend memory the forward leaves its output rows in (set by the
     * architecture's reserve): logits [n_out, V] f32, hidden states
     * [n_out, C] of act_dtype */
    float *out_logits;
    void *out_hidden;
    void *priv;               /* the architecture's own state */
};

/* ==== weight binding (weights.c) ==== */

/* Binds weights by their checkpoint names: views into the mapped
 * safetensors, or, with the dummy load format, into one block of random
 * weights (a sizing pass with no memory first, then the real one). */
struct octo_models_binder {
    octo_model *m;
    const octo_formats_st *st;
    char *cursor;         /* dummy: the next weight's place (NULL: sizing pass) */
    size_t dummy_bytes;   /* dummy: bytes the bound weights take */
    octo_dtype dtype;     /* dummy: element type */
    char *err;
    size_t err_size;
};

/* Binds tensor `name` of shape [rows, cols] (cols 0: a vector of rows) into
 * *out and adds it to m->weights. `ones`: dummy norm weights are 1.
 * `optional`: a tensor missing from the checkpoint leaves *out empty (rows
 * 0). A base model saved without the "model." prefix is found too.
 * OCTO_E_INVALID (missing, wrong shape), OCTO_E_UNSUPPORTED (dtype),
 * OCTO_E_NOMEM; the message names the tensor. */
octo_err octo_models_bind(octo_models_binder *b, octo_tensor_mat *out, const char *name,
                          int64_t rows, int64_t cols, bool ones, bool optional) OCTO_WUR;
/* Binds every weight of m through arch->load: from the checkpoint at path,
 * or dummy weights of opts->dummy_dtype. */
octo_err octo_models_bind_all(octo_model *m, const octo_formats_model_config *cfg,
                              const char *path, const octo_model_opts *opts, char *err,
                              size_t err_size) OCTO_WUR;

/* ==== rotary tables (rope.c) ==== */

/* Inverse frequencies and attention factor of the config's rope (default,
 * linear or YaRN as transformers computes them) for head_dim in m->info;
 * fills m->inv_freq and m->rope. OCTO_E_UNSUPPORTED for other rope types. */
octo_err octo_models_rope_init(octo_model *m, const octo_formats_text_config *tc,
                               char *err, size_t err_size) OCTO_WUR;

/* ==== dense decoder blocks (decoder.c) ==== */

/* Activations of a pre-norm decoder for up to cap_t tokens and cap_out
 * output rows. */
typedef struct octo_models_decoder_ws {
    int64_t cap_t, cap_out;
    float *x, *h, *q, *k, *v, *att, *o, *gate, *up; /* [T, ...] */
    float *xo, *logits;                              /* [n_out, ...] */
} octo_models_decoder_ws;

/* Fills the shared decoder fields of m->info from a text config. */
octo_err octo_models_decoder_info(octo_model *m, const octo_formats_text_config *tc,
                                  char *err, size_t err_size) OCTO_WUR;
/* Grows w to T tokens and n_out rows for m's sizes (backend memory) and
 * points m->out_logits / m->out_hidden at its output rows. */
octo_err octo_models_decoder_ws_reserve(octo_model *m, octo_models_decoder_ws *w, int64_t T,
                                        int64_t n_out) OCTO_WUR;
void octo_models_decoder_ws_release(octo_model *m, octo_models_decoder_ws *w);
/* The head on the requested rows: xo = final_norm(x[out_rows]); then the
 * LM head into logits unless b->hidden. */
void octo_models_decoder_head(octo_model *m, octo_models_decoder_ws *w,
                              const octo_tensor_mat *final_norm, const octo_model_batch *b);

#endif /* OCTO_MODELS_INT_H */
