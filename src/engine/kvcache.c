/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvcache — the paged KV pool: for every layer one key and one value
 * buffer of n_blocks x block_size token slots (f32 or bf16), a stack of
 * free block ids, and per-sequence block tables that grow a block at a
 * time as positions are computed. Block b covers positions
 * [i * block_size, (i + 1) * block_size) of the sequence whose table holds
 * b at index i.
 *
 * Prefix cache (off until octo_engine_kv_prefix_enable): every block has
 * a reference count (the sequences whose table holds it). A full block of
 * computed tokens is registered under a chained hash of its tokens and
 * its predecessor's hash; a new sequence whose leading full blocks match
 * registered ones takes them (ref + 1) instead of computing them again.
 * Candidates found by hash are verified exactly (same tokens, same
 * predecessor block and generation), so a hash collision can never serve
 * wrong keys and values. Registered blocks nobody holds wait in an LRU
 * list and are reclaimed oldest first when the free stack is empty.
 * Blocks are shared read-only: a sequence only writes at positions past
 * its computed prefix, which lie in blocks of its own.
 *
 * Not a scheduler: which sequence gets blocks, and preemption, are
 * decided above (sched.c).
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
    kv->blk = octo_calloc((size_t)n_blocks, sizeof *kv->blk);
    kv->lru_head = kv->lru_tail = -1;
    if (!kv->layers || !kv->free_ids || !kv->blk) goto fail;
    size_t bytes = (size_t)n_blocks * (size_t)block_size * (size_t)in->n_kv_heads *
                   (size_t)in->head_dim * octo_dtype_size(dtype);
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
    octo_free(kv->blk);
    octo_free(kv->blk_tokens);
    octo_free(kv->buckets);
    memset(kv, 0, sizeof *kv);
}

/* ==== block lists: LRU of cached idle blocks, hash buckets ==== */

static void lru_remove(kv_pool *kv, int32_t b)
{
    kv_block *k = &kv->blk[b];
    if (k->lru_prev >= 0) kv->blk[k->lru_prev].lru_next = k->lru_next;
    else kv->lru_head = k->lru_next;
    if (k->lru_next >= 0) kv->blk[k->lru_next].lru_prev = k->lru_prev;
    else kv->lru_tail = k->lru_prev;
    k->lru_prev = k->lru_next = -1;
    kv->n_lru--;
}

static void lru_push(kv_pool *kv, int32_t b)
{
    kv_block *k = &kv->blk[b];
    k->lru_next = -1;
    k->lru_prev = kv->lru_tail;
    if (kv->lru_tail >= 0) kv->blk[kv->lru_tail].lru_next = b;
    else kv->lru_head = b;
    kv->lru_tail = b;
    kv->n_lru++;
}

static void hash_remove(kv_pool *kv, int32_t b)
{
    int32_t *p = &kv->buckets[kv->blk[b].hash & (kv->n_buckets - 1)];
    while (*p != b) {
        OCTO_ASSERT(*p >= 0);
        p = &kv->blk[*p].hnext;
    }
    *p = kv->blk[b].hnext;
    kv->blk[b].hnext = -1;
    kv->blk[b].cached = false;
}

/* Takes a block for a new owner: the free stack first, else the oldest
 * idle cached block (dropped from the cache). -1 when none is left. */
static int32_t take_block(kv_pool *kv)
{
    int32_t b;
    if (kv->n_free > 0) {
        b = kv->free_ids[--kv->n_free];
    } else if (kv->lru_head >= 0) {
        b = kv->lru_head;
        lru_remove(kv, b);
        hash_remove(kv, b);
    } else {
        return -1;
    }
    kv_block *k = &kv->blk[b];
    OCTO_ASSERT(k->ref == 0 && !k->cached);
    k->ref = 1;
    k->gen++;
    return b;
}

static octo_err grow_table(octo_engine_seq *s, int64_t need)
{
    if (need <= s->cap_blocks) return OCTO_OK;
    int64_t cap = s->cap_blocks ? s->cap_blocks * 2 : 8;
    if (cap < need) cap = need;
    int32_t *b = octo_realloc(s->blocks, (size_t)cap * sizeof *b);
    if (!b) return OCTO_E_NOMEM;
    s->blocks = b;
    s->cap_blocks = cap;
    return OCTO_OK;
}

octo_err octo_engine_kv_reserve(kv_pool *kv, octo_engine_seq *s, int64_t n_tokens)
{
    int64_t need = (n_tokens + kv->block_size - 1) / kv->block_size;
    octo_err rc = grow_table(s, need);
    if (rc) return rc;
    while (s->n_blocks < need) {
        int32_t b = take_block(kv);
        if (b < 0) return OCTO_E_BUSY;
        s->blocks[s->n_blocks++] = b;
    }
    return OCTO_OK;
}

void octo_engine_kv_release(kv_pool *kv, octo_engine_seq *s)
{
    /* last blocks first: they reach the LRU first and are reclaimed before
     * the leading blocks that other prompts are likelier to share */
    for (int64_t i = s->n_blocks - 1; i >= 0; i--) {
        int32_t b = s->blocks[i];
        kv_block *k = &kv->blk[b];
        OCTO_ASSERT(k->ref > 0);
        if (--k->ref > 0) continue;
        if (k->cached) {
            lru_push(kv, b);
        } else {
            OCTO_ASSERT(kv->n_free < kv->n_blocks);
            kv->free_ids[kv->n_free++] = b;
        }
    }
    s->n_blocks = 0;
    s->n_reg = 0;
    s->reg_hash = 0;
    s->reg_stop = false;
}

int64_t octo_engine_kv_available(const kv_pool *kv) { return kv->n_free + kv->n_lru; }

/* ==== prefix cache ==== */

#define HASH_SEED 0x6f63746f6b767063ull /* "octokvpc" */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Hash of one block's tokens chained with its predecessor's hash. */
static uint64_t block_hash(uint64_t parent_hash, const int32_t *tok, int64_t n)
{
    uint64_t h = mix64(parent_hash ^ HASH_SEED);
    for (int64_t i = 0; i < n; i++) h = mix64(h ^ (uint64_t)(uint32_t)tok[i]) + (uint64_t)i;
    return h;
}

octo_err octo_engine_kv_prefix_enable(kv_pool *kv)
{
    if (kv->buckets) return OCTO_OK;
    uint64_t nb = 16;
    while (nb < (uint64_t)kv->n_blocks) nb <<= 1;
    kv->blk_tokens = octo_malloc((size_t)kv->n_blocks * (size_t)kv->block_size *
                                 sizeof *kv->blk_tokens);
    kv->buckets = octo_malloc((size_t)nb * sizeof *kv->buckets);
    if (!kv->blk_tokens || !kv->buckets) {
        octo_free(kv->blk_tokens);
        octo_free(kv->buckets);
        kv->blk_tokens = NULL;
        kv->buckets = NULL;
        return OCTO_E_NOMEM;
    }
    for (uint64_t i = 0; i < nb; i++) kv->buckets[i] = -1;
    for (int64_t b = 0; b < kv->n_blocks; b++) {
        kv->blk[b].hnext = kv->blk[b].lru_prev = kv->blk[b].lru_next = -1;
    }
    kv->n_buckets = nb;
    return OCTO_OK;
}

/* The cached block with hash h, these tokens and this predecessor (block
 * id and generation; -1 for a first block), or -1. */
static int32_t find_block(const kv_pool *kv, uint64_t h, const int32_t *tok, int32_t parent)
{
    uint32_t pgen = parent >= 0 ? kv->blk[parent].gen : 0;
    size_t bytes = (size_t)kv->block_size * sizeof *tok;
    for (int32_t b = kv->buckets[h & (kv->n_buckets - 1)]; b >= 0; b = kv->blk[b].hnext) {
        const kv_block *k = &kv->blk[b];
        if (k->hash == h && k->parent == parent && k->parent_gen == pgen &&
            memcmp(kv->blk_tokens + (size_t)b * (size_t)kv->block_size, tok, bytes) == 0) {
            return b;
        }
    }
    return -1;
}

int64_t octo_engine_kv_match(kv_pool *kv, octo_engine_seq *s)
{
    if (!kv->buckets || s->n_blocks || s->computed) return 0;
    int64_t bs = kv->block_size, max = (s->len - 1) / bs, n = 0;
    uint64_t h = 0;
    int32_t parent = -1;
    if (max < 1 || grow_table(s, max)) return 0;
    for (; n < max; n++) {
        uint64_t hn = block_hash(h, s->tokens + n * bs, bs);
        int32_t b = find_block(kv, hn, s->tokens + n * bs, parent);
        if (b < 0) break;
        if (kv->blk[b].ref++ == 0) lru_remove(kv, b);
        s->blocks[s->n_blocks++] = b;
        parent = b;
        h = hn;
    }
    s->computed = n * bs;
    s->n_reg = n;
    s->reg_hash = h;
    return n * bs;
}

void octo_engine_kv_commit(kv_pool *kv, octo_engine_seq *s)
{
    if (!kv->buckets) return;
    int64_t bs = kv->block_size;
    while (!s->reg_stop && (s->n_reg + 1) * bs <= s->computed) {
        int64_t i = s->n_reg;
        const int32_t *tok = s->tokens + i * bs;
        int32_t b = s->blocks[i], parent = i > 0 ? s->blocks[i - 1] : -1;
        uint64_t h = block_hash(s->reg_hash, tok, bs);
        kv_block *k = &kv->blk[b];
        OCTO_ASSERT(!k->cached);
        if (find_block(kv, h, tok, parent) >= 0) {
            /* the same block was computed by another sequence meanwhile:
             * keep that one cached; ours stays private, and so does the
             * rest of this sequence (its chain would hang off ours) */
            s->reg_stop = true;
            break;
        }
        k->hash = h;
        k->parent = parent;
        k->parent_gen = parent >= 0 ? kv->blk[parent].gen : 0;
        memcpy(kv->blk_tokens + (size_t)b * (size_t)bs, tok, (size_t)bs * sizeof *tok);
        int32_t *head = &kv->buckets[h & (kv->n_buckets - 1)];
        k->hnext = *head;
        *head = b;
        k->cached = true;
        s->n_reg++;
        s->reg_hash = h;
    }
}
