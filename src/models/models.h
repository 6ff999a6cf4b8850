/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models — model architectures written against the tensor backend table,
 * one registry entry and one file per architecture (src/models/registry.c)
 * over shared blocks (weight binding, rotary tables, the dense decoder's
 * workspace and head). Today: Qwen3ForCausalLM and its headless
 * Qwen3Model (embedding) form: embeddings, per layer RMSNorm, the attention
 * block (q/k/v projections (+bias), per-head q/k RMSNorm, rotary embedding
 * (default or YaRN), grouped-query attention over a paged KV cache), o_proj,
 * SwiGLU MLP, final norm and LM head (tied or not). Weights come from a
 * safetensors checkpoint, memory-mapped and used in place (f32, f16, bf16),
 * or are random ("dummy" load format) for memory and speed measurements.
 *
 * A model knows no scheduler and no sequences: it runs one forward over a
 * flattened batch of tokens whose cache slots the caller (the engine)
 * chose, and returns logits for the rows the caller asks for.
 */
#ifndef OCTO_MODELS_H
#define OCTO_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "tensor/tensor.h"

typedef struct octo_model octo_model;

typedef struct octo_model_opts {
    bool dummy;             /* random weights; `path` is a config.json or its folder */
    uint64_t dummy_seed;    /* PRNG seed of the dummy weights */
    octo_dtype dummy_dtype; /* dtype of dummy weights; INVALID: the config's, else bf16 */
} octo_model_opts;

/* What a model does with its input. */
typedef enum octo_model_kind {
    OCTO_MODEL_DECODER = 1, /* causal, token by token over a KV cache */
    OCTO_MODEL_ENCODER,     /* the whole input at once, no KV cache (audio,
                             * vision towers, punctuation: none registered yet) */
} octo_model_kind;

/* Hyperparameters and facts about a loaded model (read-only). */
typedef struct octo_model_info {
    const char *arch;        /* the registry's name ("Qwen3ForCausalLM") */
    octo_model_kind kind;
    int64_t vocab_size, hidden_size, intermediate_size;
    int64_t n_layers, n_heads, n_kv_heads, head_dim;
    int64_t max_position_embeddings;
    double rms_norm_eps;
    bool tied_embeddings, attention_bias;
    bool yarn;               /* rope scaled with YaRN */
    float rope_attn_factor;  /* cos/sin multiplier (1 without YaRN) */
    octo_dtype weight_dtype; /* of the projection weights */
    uint64_t n_params;       /* parameters (the tied head counted once) */
    uint64_t weight_bytes;   /* bytes of all weights */
    uint64_t decode_bytes;   /* bytes read per decoded token: all weights but the
                              * embedding table, plus the LM head (counted again
                              * when tied) */
    int n_eos;               /* eos_token_id of config.json */
    int64_t eos_token_id[8];
} octo_model_info;

/* Loads the model of config.json's architecture. `path` is a folder with config.json and
 * model.safetensors (or a sharded index), or with opts->dummy a
 * config.json (or its folder). `be` is borrowed and must outlive the
 * model. Returns OCTO_OK and *out; OCTO_E_NOT_FOUND / OCTO_E_IO for missing
 * files, OCTO_E_PARSE / OCTO_E_INVALID for malformed configs or weights of
 * the wrong shape or dtype (the message in `err` names the tensor),
 * OCTO_E_UNSUPPORTED for an architecture the registry lacks or a rope type, OCTO_E_NOMEM.
 * Free with octo_model_free. */
octo_err octo_model_load(const char *path, const octo_model_opts *opts,
                         const octo_tensor_backend *be, octo_model **out /* OUT */,
                         char *err, size_t err_size) OCTO_WUR;
/* Unmaps or frees the weights and the workspace; NULL is a no-op. */
void octo_model_free(octo_model *m);
const octo_model_info *octo_model_info_get(const octo_model *m);

/* One forward over a flattened batch. tokens[t] sits at attn.tok_pos[t] of
 * sequence attn.tok_seq[t], and its key/value go to cache slot attn.slot[t]
 * (see octo_tensor_attn_batch). Every earlier position of each sequence
 * must already be in the cache or in this batch before it. */
typedef struct octo_model_batch {
    const int32_t *tokens;         /* [T], each < vocab_size */
    octo_tensor_attn_batch attn;   /* n_tokens = T */
    int64_t n_out;                 /* rows whose logits are wanted */
    const int32_t *out_rows;       /* [n_out] token indices in 0..T-1 */
    bool hidden;                   /* output the final-norm hidden states
                                    * [n_out, hidden_size] instead of logits
                                    * (embedding models pool these) */
    /* Non-token inputs (image patches, audio features): n_features rows of
     * feature_dim f32 values in host memory; for a decoder, feature_rows
     * [n_features] are the batch rows whose token embedding they replace.
     * An architecture that takes none refuses n_features > 0. */
    const float *features;
    int64_t n_features, feature_dim;
    const int32_t *feature_rows;
} octo_model_batch;

/* KV bytes one token takes in one layer's cache (keys and values), for a
 * cache dtype of f32 or bf16. */
uint64_t octo_model_kv_bytes_per_token(const octo_model *m, octo_dtype kv_dtype);

/* Runs the model. kv[n_layers] are the per-layer caches (same geometry).
 * logits (host memory) receives [n_out, vocab_size] f32 ([n_out,
 * hidden_size] with b->hidden). Returns OCTO_OK,
 * OCTO_E_INVALID for a token id out of range or a position past
 * max_position_embeddings, OCTO_E_NOMEM when the workspace cannot grow.
 * Not thread-safe: one forward at a time per model. */
octo_err octo_model_forward(octo_model *m, const octo_model_batch *b,
                            const octo_tensor_kv_layer *kv, float *logits /* OUT */) OCTO_WUR;
/* logits may also be NULL: the head runs but nothing is copied back; the
 * rows stay in octo_model_logits_buffer() (backend memory, f32 [n_out, V],
 * valid until the next forward), e.g. for sampling on the device. */
const float *octo_model_logits_buffer(const octo_model *m);

/* Grows the activation workspace for n_tokens tokens and n_out logit rows
 * now (the engine does it at start-up so device memory is measured with
 * it, and forwards up to that size allocate nothing). OCTO_E_INVALID,
 * OCTO_E_NOMEM. */
octo_err octo_model_reserve(octo_model *m, int64_t n_tokens, int64_t n_out) OCTO_WUR;

#endif /* OCTO_MODELS_H */
