/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_int — the engine's private structures: the paged KV pool with its
 * free list (kvcache.c), sequences and the step's flattened batch arrays
 * (engine.c). No other module includes this.
 */
#ifndef OCTO_ENGINE_INT_H
#define OCTO_ENGINE_INT_H

#include "engine.h"

/* The KV pool: n_layers caches sharing one block numbering; a block id
 * names the same slots in every layer. */
typedef struct kv_pool {
    octo_tensor_kv_layer *layers; /* [n_layers] */
    int64_t n_layers, n_blocks, block_size;
    int32_t *free_ids;            /* stack of free block ids */
    int64_t n_free;
} kv_pool;

struct octo_engine_seq {
    octo_engine_seq *prev, *next; /* the engine's live list */
    int32_t *tokens;
    int64_t len, cap, n_prompt, computed;
    int32_t *blocks;              /* block table */
    int64_t n_blocks, cap_blocks;
    octo_sampling_params params;  /* logit_bias points into bias below */
    octo_logit_bias *bias;
    octo_engine_rng rng;
    bool in_step;
};

struct octo_engine {
    octo_tensor_pool *pool;
    octo_tensor_backend be;
    octo_model *model;
    kv_pool kv;
    int64_t max_model_len, max_batch_tokens;
    bool output_hidden;
    int n_eos;
    int64_t eos[8];
    octo_engine_seq *seqs;        /* live sequences */
    uint64_t seed_counter;
    void *sampler_scratch;
    /* step arrays, grown on demand */
    int64_t cap_t, cap_s, cap_bt;
    int32_t *tokens, *pos, *tok_seq, *out_rows, *block_tables;
    int64_t *slot;
};

/* kvcache.c */
octo_err octo_engine_kv_init(kv_pool *kv, const octo_tensor_backend *be, const octo_model *m,
                             octo_dtype dtype, int64_t block_size, int64_t n_blocks) OCTO_WUR;
void octo_engine_kv_deinit(kv_pool *kv, const octo_tensor_backend *be);
/* Gives s enough blocks for its first n_tokens positions.
 * OCTO_E_BUSY when the free list runs dry (blocks already taken stay). */
octo_err octo_engine_kv_reserve(kv_pool *kv, octo_engine_seq *s, int64_t n_tokens) OCTO_WUR;
/* Returns all of s's blocks to the free list. */
void octo_engine_kv_release(kv_pool *kv, octo_engine_seq *s);

#endif /* OCTO_ENGINE_INT_H */
