/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_plan — the planner against figures worked out by hand from the
 * configs' numbers (tests/data/configs, copied from shared/data/configs):
 * the arithmetic is written out below, term by term, never pasted from the
 * program. Also: the workspace and weight formulas against what octo's
 * Qwen3 model really allocates and uploads (a counting backend), GPU
 * specs, placement and the errors of bad configs.
 */
#include <stdint.h>

#include "models/models.h"
#include "octo_test.h"
#include "plan/plan.h"
#include "tensor/tensor.h"

#define MIB (1024ull * 1024ull)

static char g_dir[512];

static const char *cfg_path(const char *name)
{
    static char buf[8][700];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/tests/data/configs/%s", g_dir, name);
    return b;
}

static octo_plan_gpus gpus_of(const char *spec)
{
    octo_plan_gpus g;
    memset(&g, 0, sizeof g);
    char err[256];
    if (octo_plan_gpus_parse(spec, &g, err, sizeof err)) fprintf(stderr, "%s\n", err);
    return g;
}

/* ==== quantised linear layers ==== */

static void test_linear_bytes(void)
{
    /* a 4096 x 4096 linear (n = k = 4096), group 128 -> 32 groups */
    CHECK_EQ_INT(octo_plan_linear_bytes("bf16", 0, 4096, 4096), 4096ull * 4096 * 2);
    /* AWQ: qweight [k, n/8] int32 + qzeros [k/G, n/8] int32 + scales [k/G, n] f16 */
    CHECK_EQ_INT(octo_plan_linear_bytes("awq", 128, 4096, 4096),
                 4096ull * 512 * 4 + 32ull * 512 * 4 + 32ull * 4096 * 2);
    /* GPTQ: qweight [k/8, n] + qzeros [k/G, n/8] + scales [k/G, n] + g_idx [k] int32 */
    CHECK_EQ_INT(octo_plan_linear_bytes("gptq", 128, 4096, 4096),
                 512ull * 4096 * 4 + 32ull * 512 * 4 + 32ull * 4096 * 2 + 4096ull * 4);
    /* FP8 128x128 blocks: one byte a weight + f32 scale per block (32 x 32) */
    CHECK_EQ_INT(octo_plan_linear_bytes("fp8", 0, 4096, 4096), 4096ull * 4096 + 32ull * 32 * 4);
    /* GGUF Q4_0: blocks of 32 weights in 18 bytes; Q8_0: 32 in 34 */
    CHECK_EQ_INT(octo_plan_linear_bytes("q4_0", 0, 4096, 4096), 4096ull * 128 * 18);
    CHECK_EQ_INT(octo_plan_linear_bytes("Q8_0", 0, 4096, 4096), 4096ull * 128 * 34);
    /* an uneven group: k = 2736 inputs at G 128 -> 22 groups (21.375 rounded up) */
    CHECK_EQ_INT(octo_plan_linear_bytes("awq", 128, 4096, 2736),
                 2736ull * 512 * 4 + 22ull * 512 * 4 + 22ull * 4096 * 2);
    CHECK_EQ_INT(octo_plan_linear_bytes("nonsense", 0, 4096, 4096), 0);
}

/* ==== GPUs ==== */

static void test_gpus(void)
{
    octo_plan_gpus g = gpus_of("8xL20-48G");
    CHECK_EQ_INT(g.n, 8);
    CHECK_EQ_INT(g.gpu[7].bytes, 46068ull * MIB); /* nvidia-smi's 46068 MiB */
    CHECK_EQ_STR(g.gpu[0].name, "L20");
    g = gpus_of("4xH100-80G,2xFOO-24G");
    CHECK_EQ_INT(g.n, 6);
    CHECK_EQ_INT(g.gpu[0].bytes, 81559ull * MIB);
    CHECK_EQ_INT(g.gpu[5].bytes, 24ull << 30); /* unknown name: N GiB */
    const char *bad[] = {"8L20", "0xL20", "8xFOO", "", "8xL20-48", "8xL20-G", "65xL20-48G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        octo_plan_gpus x;
        memset(&x, 0, sizeof x);
        char err[256] = "";
        CHECK(octo_plan_gpus_parse(bad[i], &x, err, sizeof err) != OCTO_OK);
        CHECK(strstr(err, "--gpus") != NULL);
    }
}

/* ==== Qwen3-8B bf16 on one H100 at 0.90 ==== */

static void test_qwen3_8b_h100(void)
{
    octo_plan_gpus g = gpus_of("1xH100-80G");
    octo_plan *p = octo_plan_new(&g);
    octo_plan_model m = {.name = "LLM", .path = cfg_path("Qwen__Qwen3-8B.config.json"),
                         .n_devices = 1, .gpu_memory_utilization = 0.90};
    char err[256];
    CHECK(octo_plan_add(p, &m, err, sizeof err) == OCTO_OK);
    octo_plan_evaluate(p);
    const octo_plan_entry *e = octo_plan_entry_at(p, 0);
    /* config: C 4096, H 32, K 8, D 128, I 12288, V 151936, 36 layers, untied */
    uint64_t layer = 4096ull * 4096      /* q_proj [H*D, C] */
                     + 2 * 1024ull * 4096 /* k_proj, v_proj [K*D, C] */
                     + 4096ull * 4096     /* o_proj */
                     + 2 * 128 + 2 * 4096 /* q/k norms [D], two RMSNorms [C] */
                     + 3 * 12288ull * 4096; /* gate, up, down */
    uint64_t params = 36 * layer + 2 * 151936ull * 4096 /* embed + lm_head */ + 4096;
    CHECK_EQ_INT(params, 8190735360ull); /* the published 8.19 B */
    CHECK_EQ_INT(e->size.params, params);
    CHECK_EQ_INT(e->size.weights, params * 2); /* bf16 */
    /* KV: 2 (K, V) x 36 layers x 8 kv heads x 128 x 2 bytes */
    CHECK_EQ_INT(e->size.kv_per_token, 2ull * 36 * 8 * 128 * 2);
    CHECK_EQ_INT(e->size.kv_per_token, 147456);
    /* workspace: T 8192 x (3C + 2HD + 2KD + 2I) x 2 + 256 rows x C x 2
     * + 256 rows x V x 4 (f32 logits) */
    uint64_t ws = 8192ull * (3 * 4096 + 2 * 4096 + 2 * 1024 + 2 * 12288) * 2 +
                  256ull * 4096 * 2 + 256ull * 151936 * 4;
    CHECK_EQ_INT(e->size.workspace, ws);
    CHECK_EQ_INT(e->size.reserve, 512ull * MIB);
    /* share: 0.90 x 81559 MiB; KV = share - weights - ws - reserve in
     * blocks of 16 tokens */
    uint64_t share = (uint64_t)(0.90 * (double)(81559ull * MIB));
    CHECK_EQ_INT(e->share, share);
    int64_t budget = (int64_t)(share - params * 2 - ws - 512ull * MIB);
    int64_t blocks = budget / (16 * 147456);
    CHECK_EQ_INT(e->kv_blocks, blocks);
    CHECK_EQ_INT(e->kv_tokens, blocks * 16);
    CHECK_EQ_INT(e->kv_tokens, 400928); /* 25 058 blocks */
    /* max_model_len: the config's 40960 capped at 32768 */
    CHECK_EQ_INT(e->size.max_model_len, 32768);
    CHECK(fabs(e->full_seqs - 400928.0 / 32768.0) < 1e-9);
    CHECK_EQ_INT(e->concurrent, 12);
    CHECK(e->fits);
    CHECK(octo_plan_fits(p));
    /* per-GPU row: the one model plus the context estimate */
    const octo_plan_gpu_row *r = octo_plan_gpu_at(p, 0);
    CHECK_EQ_INT(r->weights, params * 2);
    CHECK_EQ_INT(r->kv, (uint64_t)blocks * 16 * 147456);
    CHECK_EQ_INT(r->used, params * 2 + ws + 512ull * MIB + (uint64_t)blocks * 16 * 147456);
    octo_plan_free(p);
}

/* ==== the seed deployment: 8 x L20 48 GB ==== */

static void add_seed(octo_plan *p)
{
    char err[256];
    octo_plan_model llm = {.name = "LLM", .path = cfg_path("Qwen__Qwen3-235B-A22B.config.json"),
                           .devices = {0, 1, 2, 3}, .n_devices = 4,
                           .gpu_memory_utilization = 0.75, .max_model_len = 65536,
                           .tensor_parallel_size = 4, .quantization = "awq"};
    octo_plan_model vlm = {.name = "VLM", .path = cfg_path("zai-org__GLM-4.5V.PARTIAL.json"),
                           .devices = {4, 5, 6, 7}, .n_devices = 4,
                           .gpu_memory_utilization = 0.45, .max_model_len = 42000,
                           .tensor_parallel_size = 4, .expert_parallel = true,
                           .quantization = "awq"};
    /* Qwen3-Embedding-4B / Reranker-4B: Qwen3-4B's shapes (their configs
     * are not in shared/data; see tests/data/MANIFEST.md) */
    octo_plan_model emb = {.name = "EMBEDDING", .path = cfg_path("Qwen__Qwen3-4B.config.json"),
                           .task = OCTO_PLAN_EMBED, .devices = {4}, .n_devices = 1,
                           .gpu_memory_utilization = 0.08, .max_model_len = 8192};
    octo_plan_model rr = emb;
    rr.name = "RERANKER";
    rr.task = OCTO_PLAN_SCORE;
    rr.devices[0] = 5;
    CHECK(octo_plan_add(p, &llm, err, sizeof err) == OCTO_OK);
    CHECK(octo_plan_add(p, &vlm, err, sizeof err) == OCTO_OK);
    CHECK(octo_plan_add(p, &emb, err, sizeof err) == OCTO_OK);
    CHECK(octo_plan_add(p, &rr, err, sizeof err) == OCTO_OK);
}

/* AWQ int4 g128 bytes of a linear [n, k], written out per the layout. */
static uint64_t awq(uint64_t n, uint64_t k)
{
    uint64_t groups = (k + 127) / 128;
    return k * (n / 8) * 4 /* qweight */ + groups * (n / 8) * 4 /* qzeros */ +
           groups * n * 2 /* scales */;
}

static void test_seed_llm(void)
{
    octo_plan_gpus g = gpus_of("8xL20-48G");
    octo_plan *p = octo_plan_new(&g);
    add_seed(p);
    octo_plan_evaluate(p);
    const octo_plan_entry *e = octo_plan_entry_at(p, 0);
    /* Qwen3-235B-A22B: C 4096, H 64, K 4, D 128, 94 layers, 128 experts of
     * 1536, top 8, V 151936, untied. TP 4: 16 q heads, 1 kv head per GPU
     * (4 kv heads / 4); experts split over their intermediate (384). */
    CHECK_EQ_INT(awq(2048, 4096), 4358144);
    uint64_t attn = awq(16 * 128, 4096)      /* q_proj shard */
                    + 2 * awq(1 * 128, 4096) /* k, v: one head */
                    + awq(4096, 16 * 128);   /* o_proj shard (row) */
    uint64_t expert = 2 * awq(384, 4096) + awq(4096, 384);
    uint64_t layer = attn + 128 * expert + 128ull * 4096 * 2 /* router, bf16 */
                     + (2 * 128 + 2 * 4096) * 2;            /* norms */
    uint64_t weights = 94 * layer + 2 * (151936ull / 4) * 4096 * 2 /* embed + head shards */
                       + 4096 * 2;
    CHECK_EQ_INT(weights, 31088950272ull);
    CHECK_EQ_INT(e->size.weights, weights);
    /* params of the whole (bf16) checkpoint: 235.09 B */
    uint64_t lp = 64ull * 128 * 4096 * 2 + 2 * 4ull * 128 * 4096 + 128ull * 3 * 1536 * 4096 +
                  128ull * 4096 + 2 * 128 + 2 * 4096;
    CHECK_EQ_INT(e->size.params, 94 * lp + 2 * 151936ull * 4096 + 4096);
    CHECK_EQ_INT(e->size.params, 235093634560ull);
    /* KV per token per GPU: 2 x 94 layers x 1 head x 128 x 2 bytes */
    CHECK_EQ_INT(e->size.kv_per_token, 2ull * 94 * 1 * 128 * 2);
    /* workspace: T 8192 x (3C + 2 x 2048 + 2 x 128 + 2 x (8 x 1536 / 4)) x 2
     * + rows + logits + router logits [T, 128] f32 */
    uint64_t ws = 8192ull * (3 * 4096 + 2 * 2048 + 2 * 128 + 2 * 3072) * 2 +
                  256ull * 4096 * 2 + 256ull * 151936 * 4 + 8192ull * 128 * 4;
    CHECK_EQ_INT(e->size.workspace, ws);
    uint64_t share = (uint64_t)(0.75 * (double)(46068ull * MIB));
    int64_t blocks = (int64_t)(share - weights - ws - 512ull * MIB) / (16 * 48128);
    CHECK_EQ_INT(e->kv_blocks, blocks);
    CHECK_EQ_INT(e->kv_tokens, 84528); /* 5 283 blocks */
    CHECK(fabs(e->full_seqs - 84528.0 / 65536.0) < 1e-9);
    CHECK_EQ_INT(e->concurrent, 1);
    CHECK(e->fits);
    octo_plan_free(p);
}

static void test_seed_vlm(void)
{
    octo_plan_gpus g = gpus_of("8xL20-48G");
    octo_plan *p = octo_plan_new(&g);
    add_seed(p);
    octo_plan_evaluate(p);
    const octo_plan_entry *e = octo_plan_entry_at(p, 1);
    /* GLM-4.5V text: C 4096, H 96, K 8, D 128, 46 layers (layer 0 dense,
     * I 10944), 128 experts of 1408 + 1 shared, top 8, V 151552, q/k/v
     * bias, no q/k norm. TP 4 with EP: 24 q heads, 2 kv heads, 32 whole
     * experts per GPU; the dense MLP and the shared expert split by TP. */
    uint64_t attn = awq(24 * 128, 4096) + 2 * awq(2 * 128, 4096) + awq(4096, 24 * 128) +
                    (24 * 128 + 2 * 2 * 128) * 2 /* q, k, v biases */ + 2 * 4096 * 2;
    uint64_t dense = 2 * awq(10944 / 4, 4096) + awq(4096, 10944 / 4);
    uint64_t expert = 2 * awq(1408, 4096) + awq(4096, 1408);
    uint64_t shared = 2 * awq(1408 / 4, 4096) + awq(4096, 1408 / 4);
    uint64_t moe = attn + 128ull * 4096 * 2 /* router */ + 128 * 4 /* score bias f32 */ +
                   32 * expert + shared;
    /* vision (bf16, replicated): h 1536, out 4096, I 10944, 24 blocks,
     * patch 14, temporal 2, merge 2, image 336 (24 x 24 positions) */
    uint64_t h = 1536, out = 4096;
    uint64_t vblock = 2 * h + 3 * h * h + h * h + 3 * out * h;
    uint64_t vision = (h * 3 * 2 * 14 * 14 + h) + 24 * 24 * h + 24 * vblock + h +
                      (out * h * 4 + out) + out * out + 2 * out + 3 * 10944 * out + h;
    CHECK_EQ_INT(e->size.vision, vision * 2);
    uint64_t weights = attn + dense + 45 * moe + 2 * (151552ull / 4) * 4096 * 2 + 4096 * 2 +
                       vision * 2;
    CHECK_EQ_INT(e->size.weights, weights);
    CHECK_EQ_INT(weights, 16100362240ull);
    /* the whole checkpoint: 107 710 933 120 parameters, as its weight report counts */
    CHECK_EQ_INT(e->size.params, 107710933120ull);
    CHECK_EQ_INT(e->size.kv_per_token, 2ull * 46 * 2 * 128 * 2);
    /* workspace: per-token intermediate max(10944, 8 x 1408 + 1408) / 4 */
    uint64_t ws = 8192ull * (3 * 4096 + 2 * 3072 + 2 * 256 + 2 * (12672 / 4)) * 2 +
                  256ull * 4096 * 2 + 256ull * 151552 * 4 + 8192ull * 128 * 4;
    CHECK_EQ_INT(e->size.workspace, ws);
    uint64_t share = (uint64_t)(0.45 * (double)(46068ull * MIB));
    int64_t blocks = (int64_t)(share - weights - ws - 512ull * MIB) / (16 * 47104);
    CHECK_EQ_INT(e->kv_blocks, blocks);
    CHECK_EQ_INT(e->kv_tokens, blocks * 16);
    CHECK(fabs(e->full_seqs - (double)(blocks * 16) / 42000.0) < 1e-9);
    CHECK_EQ_INT(e->concurrent, 2);
    CHECK(e->fits);
    CHECK(strstr(e->size.note, "dense down_proj") != NULL); /* 2736 inputs, not 21.4 groups */
    octo_plan_free(p);
}

static void test_seed_pooling(void)
{
    octo_plan_gpus g = gpus_of("8xL20-48G");
    octo_plan *p = octo_plan_new(&g);
    add_seed(p);
    octo_plan_evaluate(p);
    const octo_plan_entry *e = octo_plan_entry_at(p, 2);
    /* Qwen3-4B shapes: C 2560, H 32, K 8, D 128, I 9728, 36 layers, tied,
     * V 151936; an embedding model has no LM head */
    uint64_t layer = 4096ull * 2560 + 2 * 1024ull * 2560 + 2560ull * 4096 + 2 * 128 + 2 * 2560 +
                     3 * 9728ull * 2560;
    uint64_t weights = (36 * layer + 151936ull * 2560 + 2560) * 2;
    CHECK_EQ_INT(e->size.weights, weights);
    CHECK_EQ_INT(e->size.kv_per_token, 2ull * 36 * 8 * 128 * 2);
    /* the pooling engine's fixed pool: ceil(max(16384 batch, 8192) / 16)
     * + 256 seqs + 1 blocks */
    CHECK_EQ_INT(e->kv_blocks, 16384 / 16 + 256 + 1);
    CHECK_EQ_INT(e->kv_tokens, 1281 * 16);
    /* its workspace: T 16384, 256 output rows */
    uint64_t ws = 16384ull * (3 * 2560 + 2 * 4096 + 2 * 1024 + 2 * 9728) * 2 +
                  256ull * 2560 * 2 + 256ull * 151936 * 4;
    CHECK_EQ_INT(e->size.workspace, ws);
    /* 0.08 of an L20 (3.6 GiB) cannot hold 7.5 GiB of bf16 weights */
    uint64_t share = (uint64_t)(0.08 * (double)(46068ull * MIB));
    uint64_t need = weights + ws + 512ull * MIB + 1281ull * 16 * 147456;
    CHECK(!e->fits);
    CHECK_EQ_INT(e->shortfall, (int64_t)(need - share));
    /* the advice: the utilisation that holds it, rounded up to 0.01 */
    char want[64];
    snprintf(want, sizeof want, "gpu_memory_utilization >= %.2f",
             ceil((double)need / (double)(46068ull * MIB) * 100.0) / 100.0);
    CHECK(strstr(e->advice, want) != NULL);
    CHECK(!octo_plan_fits(p));
    /* GPU 4: VLM + EMBEDDING shares, 0.45 + 0.08 */
    const octo_plan_gpu_row *r = octo_plan_gpu_at(p, 4);
    CHECK(fabs(r->util_sum - 0.53) < 1e-9);
    CHECK_EQ_INT(r->n_models, 2);
    CHECK_EQ_INT(r->weights, octo_plan_entry_at(p, 1)->size.weights + weights);
    CHECK_EQ_INT(octo_plan_gpu_at(p, 6)->n_models, 1);
    octo_plan_free(p);
}

/* ==== whole checkpoints against their published parameter counts ==== */

static uint64_t params_of(const char *name)
{
    octo_formats_model_config *cfg = NULL;
    char err[256];
    octo_plan_model m = {.n_devices = 1};
    octo_plan_size s;
    memset(&s, 0, sizeof s);
    if (octo_formats_model_config_load(cfg_path(name), &cfg, err, sizeof err) ||
        octo_plan_size_model(cfg, &m, &s, err, sizeof err))
        fprintf(stderr, "%s: %s\n", name, err);
    octo_formats_model_config_free(cfg);
    return s.params;
}

static void test_published_param_counts(void)
{
    /* the parameter counts the Hugging Face model pages give for these
     * checkpoints (quoted from those pages as remembered, not re-read from
     * here; GLM-4.5V's, above, is from its weight report in shared/data):
     * the planner's tensor-by-tensor count of the text model and the
     * vision tower must land on the same number */
    CHECK_EQ_INT(params_of("Qwen__Qwen2.5-VL-7B-Instruct.config.json"), 8292166656ull);
    CHECK_EQ_INT(params_of("Qwen__Qwen3-VL-8B-Instruct.config.json"), 8767123696ull);
    CHECK_EQ_INT(params_of("Qwen__Qwen3-30B-A3B.config.json"), 30532122624ull);
    /* Qwen3-30B-A3B: 48 layers of 128 experts (768 wide), 32 q / 4 kv heads */
    uint64_t layer = 32ull * 128 * 2048 * 2 + 2 * 4ull * 128 * 2048 + 128ull * 3 * 768 * 2048 +
                     128ull * 2048 + 2 * 128 + 2 * 2048;
    CHECK_EQ_INT(48 * layer + 2 * 151936ull * 2048 + 2048, 30532122624ull);
    /* its FP8 checkpoint: experts and attention e4m3 with 128x128 f32
     * scales; embeddings, head, norms and routers bf16 */
    octo_plan_gpus g = gpus_of("1xH100-80G");
    octo_plan *p = octo_plan_new(&g);
    octo_plan_model m = {.path = cfg_path("Qwen__Qwen3-30B-A3B-FP8.config.json"), .n_devices = 1};
    char err[256];
    CHECK(octo_plan_add(p, &m, err, sizeof err) == OCTO_OK);
    const octo_plan_entry *e = octo_plan_entry_at(p, 0);
    CHECK_EQ_STR(e->size.quant, "fp8-block128");
    uint64_t f8 = 4096ull * 2048 + 32 * 16 * 4          /* q [4096, 2048] */
                  + 2 * (512ull * 2048 + 4 * 16 * 4)      /* k, v [512, 2048] */
                  + 2048ull * 4096 + 16 * 32 * 4          /* o */
                  + 128 * (2 * (768ull * 2048 + 6 * 16 * 4) + 2048ull * 768 + 16 * 6 * 4);
    uint64_t bf = (128ull * 2048 + 2 * 128 + 2 * 2048) * 2;
    CHECK_EQ_INT(e->size.weights, 48 * (f8 + bf) + (2 * 151936ull * 2048 + 2048) * 2);
    octo_plan_free(p);
}

/* ==== a checkpoint's own quantization_config ==== */

static void test_checkpoint_awq(void)
{
    /* Qwen3-32B-AWQ: {"bits": 4, "group_size": 128, "zero_point": true};
     * C 5120, H 64, K 8, D 128, I 25600, 64 layers, V 151936, untied */
    octo_plan_gpus g = gpus_of("1xH100-80G");
    octo_plan *p = octo_plan_new(&g);
    octo_plan_model m = {.path = cfg_path("Qwen__Qwen3-32B-AWQ.PARTIAL.json"), .n_devices = 1};
    char err[256];
    CHECK(octo_plan_add(p, &m, err, sizeof err) == OCTO_OK);
    const octo_plan_entry *e = octo_plan_entry_at(p, 0);
    CHECK_EQ_STR(e->size.quant, "awq-int4-g128");
    uint64_t layer = awq(8192, 5120) + 2 * awq(1024, 5120) + awq(5120, 8192) +
                     2 * awq(25600, 5120) + awq(5120, 25600) + (2 * 128 + 2 * 5120) * 2;
    CHECK_EQ_INT(e->size.weights, 64 * layer + (2 * 151936ull * 5120 + 5120) * 2);
    /* GPTQ with another group: g_idx [k] int32 per linear as well */
    octo_plan_free(p);
    p = octo_plan_new(&g);
    m.quantization = "gptq";
    m.group_size = 64;
    CHECK(octo_plan_add(p, &m, err, sizeof err) == OCTO_OK);
    e = octo_plan_entry_at(p, 0);
    CHECK_EQ_STR(e->size.quant, "gptq-int4-g64");
    CHECK_EQ_INT(octo_plan_linear_bytes("gptq", 64, 8192, 5120),
                 640ull * 8192 * 4 + 80ull * 1024 * 4 + 80ull * 8192 * 2 + 5120ull * 4);
    octo_plan_free(p);
}

/* ==== advice and placement ==== */

static void test_advice_and_place(void)
{
    /* Qwen3-32B bf16 (65.5 GB of weights) on one L20: does not fit; the
     * planner proposes what would */
    octo_plan_gpus g = gpus_of("4xL20-48G");
    octo_plan *p = octo_plan_new(&g);
    octo_plan_model m = {.name = "big", .path = cfg_path("Qwen__Qwen3-32B-AWQ.PARTIAL.json"),
                         .n_devices = 1, .gpu_memory_utilization = 0.9,
                         .quantization = "bf16"};
    char err[256];
    CHECK(octo_plan_add(p, &m, err, sizeof err) == OCTO_OK);
    octo_plan_evaluate(p);
    const octo_plan_entry *e = octo_plan_entry_at(p, 0);
    CHECK(!e->fits);
    CHECK(e->shortfall > 0);
    CHECK(strstr(e->advice, "tensor_parallel_size 2") != NULL);
    CHECK(strstr(e->advice, "quantization awq-int4-g128") != NULL);
    /* --place: it gets two GPUs */
    CHECK(octo_plan_place(p, err, sizeof err) == OCTO_OK);
    octo_plan_evaluate(p);
    e = octo_plan_entry_at(p, 0);
    CHECK_EQ_INT(e->size.tp, 2);
    CHECK_EQ_INT(e->n_devices, 2);
    CHECK(e->fits);
    CHECK(e->util <= 0.95 + 1e-9);
    CHECK(octo_plan_fits(p));
    octo_plan_free(p);

    /* the seed's four models placed on 8 L20s: every one fits */
    g = gpus_of("8xL20-48G");
    p = octo_plan_new(&g);
    add_seed(p);
    CHECK(octo_plan_place(p, err, sizeof err) == OCTO_OK);
    octo_plan_evaluate(p);
    CHECK(octo_plan_fits(p));
    for (size_t i = 0; i < octo_plan_count(p); i++) CHECK(octo_plan_entry_at(p, i)->fits);
    for (int i = 0; i < 8; i++) CHECK(octo_plan_gpu_at(p, i)->util_sum <= 0.95 + 1e-9);
    octo_plan_free(p);
}

/* ==== bad configs ==== */

static void expect_error(const char *path, octo_plan_model m, const char *want)
{
    octo_plan_gpus g = gpus_of("4xH100-80G");
    octo_plan *p = octo_plan_new(&g);
    m.path = path;
    char err[512] = "";
    CHECK(octo_plan_add(p, &m, err, sizeof err) != OCTO_OK);
    if (!strstr(err, want)) fprintf(stderr, "error was: %s (wanted %s)\n", err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(octo_plan_entry_at(p, 0)->error, want) != NULL);
    octo_plan_evaluate(p);
    CHECK(!octo_plan_fits(p));
    char *json = octo_plan_report_json(p);
    CHECK(json && strstr(json, "\"error\":"));
    octo_free(json);
    octo_plan_free(p);
}

static void test_errors(void)
{
    const char *q8 = cfg_path("Qwen__Qwen3-8B.config.json");
    expect_error(q8, (octo_plan_model){.n_devices = 3, .devices = {0, 1, 2},
                                       .tensor_parallel_size = 3},
                 "tensor_parallel_size 3 does not divide the 32 attention heads");
    expect_error(q8, (octo_plan_model){.n_devices = 1, .quantization = "int3"},
                 "unknown quantization 'int3'");
    expect_error(q8, (octo_plan_model){.n_devices = 1, .devices = {7}},
                 "device 7 is not among the 4 GPUs");
    expect_error(q8, (octo_plan_model){.n_devices = 1, .expert_parallel = true},
                 "has no experts");
    expect_error(q8, (octo_plan_model){.n_devices = 2, .devices = {0, 1},
                                       .tensor_parallel_size = 4},
                 "tensor_parallel_size 4 but 2 devices");
    expect_error(cfg_path("no-such.json"), (octo_plan_model){.n_devices = 1}, "no-such.json");
    /* Qwen3-235B has 4 kv heads: TP 8 replicates them (fine), TP 16 too,
     * but 64 heads / TP 16 = 4; TP 3 fails on the heads */
    expect_error(cfg_path("Qwen__Qwen3-235B-A22B.config.json"),
                 (octo_plan_model){.n_devices = 3, .devices = {0, 1, 2},
                                   .tensor_parallel_size = 3},
                 "does not divide the 64 attention heads");
}

/* ==== the formulas against the code that allocates ==== */

static uint64_t g_alloc_bytes, g_upload_bytes;
static void *g_copies[4096];
static size_t g_n_copies;
static const octo_tensor_backend *g_cpu;

static void *count_alloc(const octo_tensor_backend *be, size_t bytes)
{
    (void)be;
    g_alloc_bytes += bytes;
    return g_cpu->alloc(g_cpu, bytes);
}

static void count_free(const octo_tensor_backend *be, void *ptr)
{
    (void)be;
    g_cpu->free(g_cpu, ptr);
}

/* Counts the device bytes the CUDA backend would give each weight
 * (rows x cols x 2, bf16) and keeps the host data. */
static octo_err count_upload(const octo_tensor_backend *be, octo_tensor_mat *w)
{
    (void)be;
    g_upload_bytes += (uint64_t)(w->rows * w->cols) * 2;
    size_t n = (size_t)(w->rows * w->cols) * octo_dtype_size(w->dtype);
    void *copy = malloc(n);
    if (!copy || g_n_copies == sizeof g_copies / sizeof g_copies[0]) {
        free(copy);
        return OCTO_E_NOMEM;
    }
    memcpy(copy, w->data, n);
    g_copies[g_n_copies++] = copy; /* a backend owns its copies: freed by the test */
    w->data = copy;
    return OCTO_OK;
}

static void test_matches_model_allocations(void)
{
    const char *names[] = {"qwen3-chat", "qwen3-f32-untied-gqa4", "qwen3-embed"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/tests/fixtures/%s/config.json", g_dir, names[i]);
        octo_tensor_pool *pool = octo_tensor_pool_new(1);
        octo_tensor_backend cpu, be;
        octo_tensor_backend_cpu(&cpu, pool);
        g_cpu = &cpu;
        be = cpu;
        be.alloc = count_alloc;
        be.free = count_free;
        be.weight_upload = count_upload;
        be.weight_reserve = NULL;
        octo_tensor_backend_complete(&be); /* the default reserve again */
        g_alloc_bytes = g_upload_bytes = 0;
        octo_model_opts mo = {.dummy = true, .dummy_seed = 1};
        octo_model *m = NULL;
        char err[256];
        CHECK(octo_model_load(path, &mo, &be, &m, err, sizeof err) == OCTO_OK);
        if (!m) {
            fprintf(stderr, "%s: %s\n", names[i], err);
            octo_tensor_pool_free(pool);
            continue;
        }
        const octo_model_info *in = octo_model_info_get(m);
        /* weights: what the planner counts at bf16, TP 1 */
        octo_formats_model_config *cfg = NULL;
        CHECK(octo_formats_model_config_load(path, &cfg, err, sizeof err) == OCTO_OK);
        octo_plan_model pm = {.path = path, .n_devices = 1};
        octo_plan_size s;
        CHECK(octo_plan_size_model(cfg, &pm, &s, err, sizeof err) == OCTO_OK);
        CHECK_EQ_INT(s.weights, g_upload_bytes);
        /* workspace: the planner's formula (f32 activations on the CPU)
         * against the bytes ws_reserve asked the backend for */
        uint64_t before = g_alloc_bytes;
        CHECK(octo_model_reserve(m, 96, 7) == OCTO_OK);
        uint64_t got = g_alloc_bytes - before;
        CHECK_EQ_INT(got, octo_plan_workspace_bytes(96, 7, in->hidden_size, in->n_heads,
                                                    in->n_kv_heads, in->head_dim,
                                                    in->intermediate_size, in->vocab_size, 4));
        /* and the model's KV bytes per token (bf16) times its layers */
        CHECK_EQ_INT(octo_model_kv_bytes_per_token(m, OCTO_DTYPE_BF16) * (uint64_t)in->n_layers,
                     s.kv_per_token);
        octo_formats_model_config_free(cfg);
        octo_model_free(m);
        octo_tensor_pool_free(pool);
        while (g_n_copies) free(g_copies[--g_n_copies]);
    }
}

int main(void)
{
    const char *src = getenv("OCTO_SRC");
    snprintf(g_dir, sizeof g_dir, "%s", src ? src : "..");
    static const octo_test_case cases[] = {
        {"linear_bytes", test_linear_bytes},
        {"gpus", test_gpus},
        {"qwen3_8b_h100", test_qwen3_8b_h100},
        {"seed_llm", test_seed_llm},
        {"seed_vlm", test_seed_vlm},
        {"seed_pooling", test_seed_pooling},
        {"published_param_counts", test_published_param_counts},
        {"checkpoint_awq", test_checkpoint_awq},
        {"advice_and_place", test_advice_and_place},
        {"errors", test_errors},
        {"matches_model_allocations", test_matches_model_allocations},
    };
    return octo_test_run(cases, sizeof cases / sizeof cases[0]);
}
