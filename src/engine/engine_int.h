/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_int — the engine's private structures: the paged KV pool with its
 * free list (kvcache.c), sequences and the step's flattened batch arrays
 * (engine.c). No other module includes this.
 */
#ifndef OCTO_ENGINE_INT_H
#define OCTO_ENGINE_INT_H

#include "engine.h"

/* Bookkeeping of one KV block: how many sequences hold it and, once it
 * is full and registered in the prefix cache, the chained hash of its
 * tokens and the block before it (id and generation: exact verification,
 * the hash only finds candidates). */
typedef struct kv_block {
    uint64_t hash;       /* chained hash (valid while cached) */
    int32_t ref;         /* sequences whose table holds it */
    int32_t parent;      /* block before it in its chain; -1 for a first block */
    uint32_t gen;        /* bumped each time the block is handed out afresh */
    uint32_t parent_gen; /* parent's gen when this block was registered */
    int32_t hnext;       /* next block of its hash bucket; -1 ends */
    int32_t lru_prev, lru_next;
    bool cached;         /* registered in the hash table */
} kv_block;

/* The KV pool: n_layers caches sharing one block numbering; a block id
 * names the same slots in every layer. With the prefix cache on, full
 * blocks are registered by content; a registered block whose last holder
 * lets go waits in an LRU list (still findable) instead of the free
 * stack, and is reclaimed, oldest first, when the free stack is empty. */
typedef struct kv_pool {
    octo_tensor_kv_layer *layers; /* [n_layers] */
    int64_t n_layers, n_blocks, block_size;
    int32_t *free_ids;            /* stack of free block ids */
    int64_t n_free;
    kv_block *blk;                /* [n_blocks] */
    /* prefix cache (NULL / 0 while off) */
    int32_t *blk_tokens;          /* [n_blocks, block_size] contents of cached blocks */
    int32_t *buckets;             /* [n_buckets] first block of each hash bucket */
    uint64_t n_buckets;           /* power of two */
    int32_t lru_head, lru_tail;   /* oldest first; -1 when empty */
    int64_t n_lru;
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
    /* prefix cache: leading blocks registered (or found) in the cache,
     * the chained hash of the last of them, and whether registration
     * stopped (a duplicate of a block already cached) */
    int64_t n_reg;
    uint64_t reg_hash;
    bool reg_stop;
};

struct octo_engine {
    const octo_tensor_backend *be; /* borrowed */
    void (*release)(void *ctx);   /* octo_engine_opts.release */
    void *release_ctx;
    bool on_device;               /* be is the CUDA backend */
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

/* sampler.c: the raw log-softmax of one row of logits: the logprob of
 * `token` and the k (<= 20) most likely tokens (prompt logprobs). */
void octo_engine_row_logprobs(const float *x, int64_t V, int32_t token, int32_t k,
                              octo_sample_result *out /* OUT */);

/* kvcache.c */
octo_err octo_engine_kv_init(kv_pool *kv, const octo_tensor_backend *be, const octo_model *m,
                             octo_dtype dtype, int64_t block_size, int64_t n_blocks) OCTO_WUR;
void octo_engine_kv_deinit(kv_pool *kv, const octo_tensor_backend *be);
/* Gives s enough blocks for its first n_tokens positions.
 * OCTO_E_BUSY when the free list runs dry (blocks already taken stay). */
octo_err octo_engine_kv_reserve(kv_pool *kv, octo_engine_seq *s, int64_t n_tokens) OCTO_WUR;
/* Drops s's hold on all its blocks: a block nobody holds any more goes
 * back to the free stack, or to the LRU list when it is cached. */
void octo_engine_kv_release(kv_pool *kv, octo_engine_seq *s);
/* Blocks that a reserve can hand out: free ones plus cached ones nobody
 * holds. */
int64_t octo_engine_kv_available(const kv_pool *kv);

/* kvcache.c, the prefix cache */
/* Turns the prefix cache on (idempotent); OCTO_E_NOMEM. */
octo_err octo_engine_kv_prefix_enable(kv_pool *kv) OCTO_WUR;
/* For a sequence with nothing computed and no blocks: takes the cached
 * blocks that hold its leading full blocks of tokens (at most
 * (len - 1) / block_size of them, so one token is always left to run),
 * marks them computed and returns the number of tokens they cover
 * (0 when the cache is off or nothing matches). OCTO_E_NOMEM cannot
 * happen halfway: on a failed table growth nothing is taken. */
int64_t octo_engine_kv_match(kv_pool *kv, octo_engine_seq *s);
/* Registers s's full, computed blocks not yet registered (called after
 * each step). A no-op while the cache is off. */
void octo_engine_kv_commit(kv_pool *kv, octo_engine_seq *s);

#endif /* OCTO_ENGINE_INT_H */
