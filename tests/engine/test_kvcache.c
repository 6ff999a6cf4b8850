/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kvcache — white-box tests of the KV pool's block bookkeeping and
 * prefix cache (kvcache.c) on a pool without tensors: reference counts,
 * registration of full computed blocks, matching of leading blocks (at
 * most (len - 1) / block_size), the chain (a different first block means
 * no match at all), exact verification behind the hash (a stored block
 * whose tokens or predecessor generation differ is never served), LRU
 * reclaim order (last blocks of the stalest sequence first), duplicates
 * computed by two sequences at once. Outputs of the model with the cache
 * are checked in test_sched.c.
 */
#include "engine/engine_int.h"
#include "octo_test.h"

#define BS 4

static void pool_init(kv_pool *kv, int64_t n_blocks)
{
    memset(kv, 0, sizeof *kv);
    kv->n_blocks = n_blocks;
    kv->block_size = BS;
    kv->free_ids = calloc((size_t)n_blocks, sizeof *kv->free_ids);
    kv->blk = calloc((size_t)n_blocks, sizeof *kv->blk);
    kv->lru_head = kv->lru_tail = -1;
    for (int64_t i = 0; i < n_blocks; i++) kv->free_ids[i] = (int32_t)(n_blocks - 1 - i);
    kv->n_free = n_blocks;
    CHECK_EQ_INT(octo_engine_kv_prefix_enable(kv), OCTO_OK);
}

static void pool_deinit(kv_pool *kv)
{
    free(kv->free_ids);
    free(kv->blk);
    octo_free(kv->blk_tokens);
    octo_free(kv->buckets);
}

/* A sequence of n tokens: ids base, base + 1, ... */
static void seq_init(octo_engine_seq *s, int32_t *tok, int64_t n, int32_t base)
{
    memset(s, 0, sizeof *s);
    for (int64_t i = 0; i < n; i++) tok[i] = base + (int32_t)i;
    s->tokens = tok;
    s->len = n;
}

/* As a step would: blocks for all tokens, computed, registered. */
static void compute_all(kv_pool *kv, octo_engine_seq *s)
{
    CHECK_EQ_INT(octo_engine_kv_reserve(kv, s, s->len), OCTO_OK);
    s->computed = s->len;
    octo_engine_kv_commit(kv, s);
}

static void seq_done(kv_pool *kv, octo_engine_seq *s)
{
    octo_engine_kv_release(kv, s);
    octo_free(s->blocks);
    s->blocks = NULL;
    s->cap_blocks = 0;
}

static void test_refcount_and_match(void)
{
    kv_pool kv;
    pool_init(&kv, 16);
    int32_t ta[13], tb[13], tc[12];
    octo_engine_seq a, b, c;
    seq_init(&a, ta, 13, 100);
    compute_all(&kv, &a);                /* 4 blocks, the first 3 full */
    CHECK_EQ_INT(a.n_reg, 3);
    CHECK_EQ_INT(octo_engine_kv_available(&kv), 12);
    seq_init(&b, tb, 13, 100);          /* same tokens: 3 blocks shared */
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &b), 12);
    CHECK_EQ_INT(b.computed, 12);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(b.blocks[i], a.blocks[i]);
        CHECK_EQ_INT(kv.blk[a.blocks[i]].ref, 2);
    }
    CHECK_EQ_INT(octo_engine_kv_available(&kv), 12); /* nothing new taken */
    seq_init(&c, tc, 12, 100);          /* 12 tokens: one must be left to run */
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &c), 8);
    seq_done(&kv, &c);
    seq_done(&kv, &a);
    CHECK_EQ_INT(kv.blk[b.blocks[0]].ref, 1);
    CHECK_EQ_INT(octo_engine_kv_available(&kv), 13); /* a's private last block */
    seq_done(&kv, &b);
    CHECK_EQ_INT(octo_engine_kv_available(&kv), 16);
    CHECK_EQ_INT(kv.n_lru, 3);          /* registered blocks wait, still findable */
    seq_init(&c, tc, 12, 100);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &c), 8);
    CHECK_EQ_INT(kv.n_lru, 1);
    seq_done(&kv, &c);
    /* a different first block: no match, although the rest is equal */
    seq_init(&c, tc, 12, 100);
    tc[0] = 7;
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &c), 0);
    CHECK_EQ_INT(c.n_blocks, 0);
    seq_done(&kv, &c);
    pool_deinit(&kv);
}

static void test_exact_verification(void)
{
    kv_pool kv;
    pool_init(&kv, 8);
    int32_t ta[9], tb[9];
    octo_engine_seq a, b;
    seq_init(&a, ta, 9, 10);
    compute_all(&kv, &a);
    int32_t b0 = a.blocks[0], b1 = a.blocks[1];
    seq_done(&kv, &a);
    /* a stored block whose contents differ under the same hash (what a
     * collision looks like) is not served */
    kv.blk_tokens[b0 * BS + 2] = 999;
    seq_init(&b, tb, 9, 10);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &b), 0);
    seq_done(&kv, &b);
    kv.blk_tokens[b0 * BS + 2] = 12;
    seq_init(&b, tb, 9, 10);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &b), 8);
    seq_done(&kv, &b);
    /* the second block hangs off a predecessor of another generation */
    kv.blk[b1].parent_gen++;
    seq_init(&b, tb, 9, 10);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &b), 4);
    seq_done(&kv, &b);
    pool_deinit(&kv);
}

static void test_lru_reclaim(void)
{
    kv_pool kv;
    pool_init(&kv, 4);
    int32_t ta[9], tc[12], tb[9];
    octo_engine_seq a, c, b;
    seq_init(&a, ta, 9, 50);
    compute_all(&kv, &a);               /* 3 blocks: 2 registered, 1 private */
    int32_t a0 = a.blocks[0], a1 = a.blocks[1];
    seq_done(&kv, &a);
    CHECK_EQ_INT(kv.n_lru, 2);
    CHECK_EQ_INT(kv.n_free, 2);
    seq_init(&c, tc, 12, 300);          /* needs 3: 2 free, then the oldest idle one */
    CHECK_EQ_INT(octo_engine_kv_reserve(&kv, &c, 12), OCTO_OK);
    CHECK_EQ_INT(c.blocks[2], a1);      /* a's last registered block went first */
    CHECK(!kv.blk[a1].cached);
    CHECK_EQ_INT(octo_engine_kv_reserve(&kv, &c, 13), OCTO_OK);
    CHECK_EQ_INT(c.blocks[3], a0);
    CHECK_EQ_INT(octo_engine_kv_reserve(&kv, &c, 17), OCTO_E_BUSY); /* pool exhausted */
    CHECK_EQ_INT(c.n_blocks, 4);
    seq_done(&kv, &c);
    seq_init(&b, tb, 9, 50);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &b), 0); /* gone from the cache */
    seq_done(&kv, &b);
    /* a0 reused under a new generation: a block registered after it as its
     * successor in the old chain can never be matched */
    seq_init(&a, ta, 9, 50);
    compute_all(&kv, &a);
    a0 = a.blocks[0];
    a1 = a.blocks[1];
    uint32_t gen0 = kv.blk[a0].gen;
    seq_done(&kv, &a);
    CHECK_EQ_INT(kv.blk[a1].parent, a0);
    CHECK_EQ_INT(kv.blk[a1].parent_gen, gen0);
    pool_deinit(&kv);
}

static void test_duplicates(void)
{
    kv_pool kv;
    pool_init(&kv, 8);
    int32_t ta[9], tb[9], tc[9];
    octo_engine_seq a, b, c;
    seq_init(&a, ta, 9, 70);
    seq_init(&b, tb, 9, 70);
    /* both admitted before either computed anything: no match, two copies */
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &a), 0);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &b), 0);
    compute_all(&kv, &a);
    compute_all(&kv, &b);
    CHECK_EQ_INT(a.n_reg, 2);
    CHECK_EQ_INT(b.n_reg, 0);
    CHECK(b.reg_stop);
    seq_done(&kv, &a);
    seq_done(&kv, &b);
    CHECK_EQ_INT(kv.n_lru, 2);          /* a's copies cached, b's freed */
    CHECK_EQ_INT(kv.n_free, 6);
    seq_init(&c, tc, 9, 70);
    CHECK_EQ_INT(octo_engine_kv_match(&kv, &c), 8);
    seq_done(&kv, &c);
    pool_deinit(&kv);
}

TEST_MAIN(TEST(test_refcount_and_match), TEST(test_exact_verification), TEST(test_lru_reclaim),
          TEST(test_duplicates))
