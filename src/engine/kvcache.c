/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvcache — the paged KV pool: for every layer one key and one value
 * buffer of n_blocks x block_size token slots (f32 or bf16), a stack of
 * free block ids, and per-sequence block tables that grow a block at a
 * time as positions are computed. Block b covers positions
 * [i * block_size, (i + 1) * block_size) of the sequence whose table holds
 * b at index i.
 *
 * Not a prefix cache: blocks are never shared between sequences (yet), so
 * there is no reference counting and no eviction policy here.
 */
#include "engine_int.h"

#include <string.h>

octo_err octo_engine_kv_init(kv_pool *kv, const octo_tensor_backend *be, const octo_model *m,
                             octo_dtype dtype, int64_t block_size, int64_t n_blocks)
{
    const octo_model_info *in = octo_model_info_get(m);
    memset(kv, 0, sizeof *kv);
    kv->n_layers = in->n_layers;
    kv->n_blocks = n_blocks;
    kv->block_size = block_size;
    kv->layers = octo_calloc((size_t)in->n_layers, sizeof *kv->layers);
    kv->free_ids = octo_calloc((size_t)n_blocks, sizeof *kv->free_ids);
    if (!kv->layers || !kv->free_ids) goto fail;
    size_t bytes = (size_t)n_blocks * (size_t)block_size * (size_t)in->n_kv_heads *
                   (size_t)in->head_dim * octo_tensor_dtype_size(dtype);
    for (int64_t l = 0; l < in->n_layers; l++) {
        octo_tensor_kv_layer *L = &kv->layers[l];
        L->dtype = dtype;
        L->n_blocks = n_blocks;
        L->block_size = block_size;
        L->n_kv_heads = in->n_kv_heads;
        L->head_dim = in->head_dim;
        L->k = be->alloc(be, bytes);
        L->v = be->alloc(be, bytes);
        if (!L->k || !L->v) goto fail;
    }
    /* pop order: block 0 first */
    for (int64_t i = 0; i < n_blocks; i++) kv->free_ids[i] = (int32_t)(n_blocks - 1 - i);
    kv->n_free = n_blocks;
    return OCTO_OK;
fail:
    octo_engine_kv_deinit(kv, be);
    return OCTO_E_NOMEM;
}

void octo_engine_kv_deinit(kv_pool *kv, const octo_tensor_backend *be)
{
    if (kv->layers) {
        for (int64_t l = 0; l < kv->n_layers; l++) {
            be->free(be, kv->layers[l].k);
            be->free(be, kv->layers[l].v);
        }
    }
    octo_free(kv->layers);
    octo_free(kv->free_ids);
    memset(kv, 0, sizeof *kv);
}

octo_err octo_engine_kv_reserve(kv_pool *kv, octo_engine_seq *s, int64_t n_tokens)
{
    int64_t need = (n_tokens + kv->block_size - 1) / kv->block_size;
    if (need > s->cap_blocks) {
        int64_t cap = s->cap_blocks ? s->cap_blocks * 2 : 8;
        if (cap < need) cap = need;
        int32_t *b = octo_realloc(s->blocks, (size_t)cap * sizeof *b);
        if (!b) return OCTO_E_NOMEM;
        s->blocks = b;
        s->cap_blocks = cap;
    }
    while (s->n_blocks < need) {
        if (kv->n_free == 0) return OCTO_E_BUSY;
        s->blocks[s->n_blocks++] = kv->free_ids[--kv->n_free];
    }
    return OCTO_OK;
}

void octo_engine_kv_release(kv_pool *kv, octo_engine_seq *s)
{
    for (int64_t i = s->n_blocks - 1; i >= 0; i--) {
        OCTO_ASSERT(kv->n_free < kv->n_blocks);
        kv->free_ids[kv->n_free++] = s->blocks[i];
    }
    s->n_blocks = 0;
}
