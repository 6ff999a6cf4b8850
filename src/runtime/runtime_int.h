/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime_int — the model instance's structure, shared by runtime.c (the
 * device side: backend, weights, budget, engine) and runtime_text.c (the
 * checkpoint's text files). No other module includes this.
 */
#ifndef OCTO_RUNTIME_INT_H
#define OCTO_RUNTIME_INT_H

#include "runtime.h"

struct octo_runtime_model {
    const octo_model_config *cfg;
    octo_runtime_opts opts;
    char dir[OCTO_LIMIT_PATH_BYTES];     /* the model's files */
    char tok_dir[OCTO_LIMIT_PATH_BYTES]; /* tokenizer.json's folder */

    /* device side (runtime.c), freed in reverse order */
    octo_tensor_pool *threads;     /* CPU threads (also under a CUDA backend) */
    octo_tensor_backend be;
    bool be_ready, on_device;
    int device;                    /* -1: CPU */
    size_t dev_used0;              /* device bytes in use before this instance's */
    octo_engine *engine;           /* owned unless sched or pool holds it */
    octo_sched *sched;
    octo_engine_pool *pool;
    int64_t max_len, batch_tokens, batch_seqs;

    /* text side (runtime_text.c) */
    octo_text_tokenizer *tok;
    json_t *tok_config;            /* tokenizer_config.json, or NULL */
    octo_text_template *tpl;
    char *tpl_origin;
    octo_text_chat_opts chat_opts;
    octo_formats_gen_config gen;
    octo_text_jsonc_vocab *jvocab;
    char *query_prompt;
    int32_t yes_id, no_id;         /* score: the tokens compared */
    int32_t *rr_prefix, *rr_suffix;/* score: the official prompt around the pair */
    int64_t n_rr_prefix, n_rr_suffix;
};

/* runtime_text.c. Before the engine: the tokenizer, and for generate
 * tokenizer_config.json, the chat template and generation_config.json;
 * for embed the query prompt; for score the reranker prompt. */
octo_err octo_runtime_text_load(octo_runtime_model *rm, char *err, size_t n) OCTO_WUR;
/* After the engine: what needs its EOS ids (the constraint vocabulary). */
octo_err octo_runtime_text_finish(octo_runtime_model *rm, char *err, size_t n) OCTO_WUR;
void octo_runtime_text_free(octo_runtime_model *rm);

#endif /* OCTO_RUNTIME_INT_H */
