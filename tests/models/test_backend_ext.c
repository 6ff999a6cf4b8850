/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_backend_ext — the model's use of the backend table's lifecycle
 * hooks (weight_upload, batch_begin / graph_begin / graph_end / batch_end)
 * and fused operations (add_rmsnorm, attention_block, matmul_n,
 * matmul_swiglu, matmul_f32), checked on the CPU where CI can run it: a
 * table whose fused operations are written out here with the CPU's basic
 * ops, unfused, must give bit-identical logits to the plain CPU table and
 * its reference implementations (src/tensor/fused.c). A fusion applied at
 * the wrong place (e.g. the next layer's input norm fused into the residual
 * add of the last layer) changes the numbers. The GPU
 * implementation of the same extensions is checked against the CPU engine
 * in tests/kernels/test_backend_cuda.c.
 */
#include "models/models.h"
#include "octo_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UPLOADS 256

static const octo_tensor_backend *g_cpu; /* the plain table the wrappers call */
static int g_begin, g_graph_begin, g_graph_end, g_end, g_uploads;
static void *g_copies[MAX_UPLOADS];

static octo_err ext_upload(const octo_tensor_backend *be, octo_tensor_mat *w)
{
    (void)be;
    size_t bytes = (size_t)(w->rows * w->cols) * octo_dtype_size(w->dtype);
    if (g_uploads == MAX_UPLOADS) return OCTO_E_NOMEM;
    void *p = malloc(bytes);
    if (!p) return OCTO_E_NOMEM;
    memcpy(p, w->data, bytes);
    g_copies[g_uploads++] = p;
    w->data = p;
    return OCTO_OK;
}

static octo_err ext_batch_begin(const octo_tensor_backend *be, const int32_t *tokens,
                                const octo_tensor_attn_batch *b, const int32_t *rows,
                                int64_t n_out)
{
    (void)be, (void)tokens, (void)b, (void)rows, (void)n_out;
    g_begin++;
    return OCTO_OK;
}

static bool ext_graph_begin(const octo_tensor_backend *be)
{
    (void)be;
    g_graph_begin++;
    return false;
}

static void ext_graph_end(const octo_tensor_backend *be)
{
    (void)be;
    g_graph_end++;
}

static octo_err ext_batch_end(const octo_tensor_backend *be)
{
    (void)be;
    g_end++;
    return OCTO_OK;
}

static void ext_add_rmsnorm(const octo_tensor_backend *be, float *y, float *x, const float *o,
                            int64_t R, const octo_tensor_mat *w, float eps)
{
    (void)be;
    g_cpu->add(g_cpu, x, o, R * w->cols);
    g_cpu->rmsnorm(g_cpu, y, x, R, w, eps);
}

static int g_attn_blocks;

/* The attention block written out with the basic ops, independently of
 * src/tensor/fused.c. */
static void ext_attention_block(const octo_tensor_backend *be, float *out, const float *h,
                                int64_t T, const octo_tensor_attn_weights *w,
                                const octo_tensor_rope *rope, const octo_tensor_kv_layer *kv,
                                const octo_tensor_attn_batch *b, float scale, float *q,
                                float *k, float *v)
{
    (void)be;
    g_attn_blocks++;
    g_cpu->matmul(g_cpu, q, h, T, w->wq, w->bq);
    g_cpu->matmul(g_cpu, k, h, T, w->wk, w->bk);
    g_cpu->matmul(g_cpu, v, h, T, w->wv, w->bv);
    g_cpu->rmsnorm(g_cpu, q, q, T * w->H, w->q_norm, w->norm_eps);
    g_cpu->rmsnorm(g_cpu, k, k, T * w->K, w->k_norm, w->norm_eps);
    g_cpu->rope(g_cpu, q, T, w->H, w->D, b->tok_pos, rope->inv_freq, rope->attn_factor);
    g_cpu->rope(g_cpu, k, T, w->K, w->D, b->tok_pos, rope->inv_freq, rope->attn_factor);
    g_cpu->kv_store(g_cpu, kv, b, k, v);
    g_cpu->attention(g_cpu, out, q, w->H, kv, b, scale);
}

static void ext_matmul_f32(const octo_tensor_backend *be, float *y, const float *x, int64_t T,
                           const octo_tensor_mat *w)
{
    (void)be;
    g_cpu->matmul(g_cpu, y, x, T, w, NULL);
}

static void ext_matmul_n(const octo_tensor_backend *be, int n, float *const *y, const float *x,
                         int64_t T, const octo_tensor_mat *const *w,
                         const octo_tensor_mat *const *bias)
{
    (void)be;
    for (int i = 0; i < n; i++) g_cpu->matmul(g_cpu, y[i], x, T, w[i], bias[i]);
}

static void ext_matmul_swiglu(const octo_tensor_backend *be, float *y, float *tmp,
                              const float *x, int64_t T, const octo_tensor_mat *wg,
                              const octo_tensor_mat *wu)
{
    (void)be;
    g_cpu->matmul(g_cpu, y, x, T, wg, NULL);
    g_cpu->matmul(g_cpu, tmp, x, T, wu, NULL);
    g_cpu->swiglu(g_cpu, y, y, tmp, T * wg->rows);
}

/* Two sequences (7 and 5 prompt tokens) in one step, then one decode
 * token each; logits [2 + 2 rows, V] into out. */
static int run(const char *cfg, const octo_tensor_backend *be, float *out, int64_t *V_out)
{
    octo_model_opts mo = {.dummy = true, .dummy_seed = 5};
    octo_model *m = NULL;
    char err[256];
    if (octo_model_load(cfg, &mo, be, &m, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cfg, err);
        return -1;
    }
    const octo_model_info *in = octo_model_info_get(m);
    enum { BS = 4, NBLK = 8 };
    int64_t L = in->n_layers, V = in->vocab_size;
    size_t kvb = (size_t)(NBLK * BS * in->n_kv_heads * in->head_dim) * sizeof(float);
    octo_tensor_kv_layer *kv = calloc((size_t)L, sizeof *kv);
    for (int64_t l = 0; l < L; l++) {
        kv[l] = (octo_tensor_kv_layer){be->alloc(be, kvb), be->alloc(be, kvb), OCTO_DTYPE_F32,
                                       NBLK, BS, in->n_kv_heads, in->head_dim};
    }
    /* seq 0 owns blocks 0..3, seq 1 blocks 4..7 */
    int32_t bt[2 * 4] = {0, 1, 2, 3, 4, 5, 6, 7};
    int32_t tok[12], seq[12], pos[12], rows[2] = {6, 11};
    int64_t slot[12];
    for (int t = 0; t < 12; t++) {
        int s = t < 7 ? 0 : 1, p = t < 7 ? t : t - 7;
        tok[t] = (int32_t)((t * 37 + 11) % V);
        seq[t] = s;
        pos[t] = p;
        slot[t] = (int64_t)bt[s * 4 + p / BS] * BS + p % BS;
    }
    octo_model_batch b = {.tokens = tok, .attn = {12, seq, pos, slot, bt, 4}, .n_out = 2,
                          .out_rows = rows};
    int rc = octo_model_forward(m, &b, kv, out) ? -1 : 0;
    /* decode: one more token each, at positions 7 and 5 */
    int32_t tok2[2] = {3, 4}, seq2[2] = {0, 1}, pos2[2] = {7, 5}, rows2[2] = {0, 1};
    int64_t slot2[2] = {(int64_t)bt[1] * BS + 3, (int64_t)bt[5] * BS + 1};
    octo_model_batch d = {.tokens = tok2, .attn = {2, seq2, pos2, slot2, bt, 4}, .n_out = 2,
                          .out_rows = rows2};
    if (!rc && octo_model_forward(m, &d, kv, out + 2 * V)) rc = -1;
    for (int64_t l = 0; l < L; l++) {
        be->free(be, kv[l].k);
        be->free(be, kv[l].v);
    }
    free(kv);
    octo_model_free(m);
    *V_out = V;
    return rc;
}

static void check_fixture(const char *name)
{
    char cfg[600];
    const char *src = getenv("OCTO_SRC");
    snprintf(cfg, sizeof cfg, "%s/tests/fixtures/%s/config.json", src ? src : "..", name);
    octo_tensor_pool *pool = octo_tensor_pool_new(2);
    octo_tensor_backend cpu, ext;
    octo_tensor_backend_cpu(&cpu, pool);
    g_cpu = &cpu;
    ext = cpu;
    ext.name = "cpu-ext";
    ext.weight_upload = ext_upload;
    ext.batch_begin = ext_batch_begin;
    ext.graph_begin = ext_graph_begin;
    ext.graph_end = ext_graph_end;
    ext.batch_end = ext_batch_end;
    ext.add_rmsnorm = ext_add_rmsnorm;
    ext.attention_block = ext_attention_block;
    ext.matmul_f32 = ext_matmul_f32;
    ext.matmul_n = ext_matmul_n;
    ext.matmul_swiglu = ext_matmul_swiglu;
    g_begin = g_graph_begin = g_graph_end = g_end = g_uploads = g_attn_blocks = 0;
    size_t cap = 4 * 4096;
    float *a = calloc(cap, sizeof *a), *b = calloc(cap, sizeof *b);
    int64_t V = 0, V2 = 0;
    CHECK(run(cfg, &cpu, a, &V) == 0);
    CHECK(run(cfg, &ext, b, &V2) == 0);
    CHECK(V == V2 && 4 * V <= (int64_t)cap);
    CHECK(memcmp(a, b, (size_t)(4 * V) * sizeof *a) == 0); /* bit-identical */
    bool finite = true;
    for (int64_t i = 0; i < 4 * V; i++) finite = finite && isfinite(a[i]);
    CHECK(finite);
    CHECK_EQ_INT(g_begin, 2);
    CHECK_EQ_INT(g_graph_begin, 2);
    CHECK_EQ_INT(g_graph_end, 2);
    CHECK_EQ_INT(g_end, 2);
    CHECK(g_uploads > 0);
    CHECK(g_attn_blocks > 0 && g_attn_blocks % 2 == 0); /* every layer, both forwards */
    for (int i = 0; i < g_uploads; i++) free(g_copies[i]);
    free(a);
    free(b);
    octo_tensor_pool_free(pool);
}

static void test_untied_bias_gqa4(void) { check_fixture("qwen3-f32-untied-gqa4"); }
static void test_tied(void) { check_fixture("qwen3-f32-tied"); }
static void test_bf16_yarn(void)
{
    check_fixture("qwen3-bf16");
    check_fixture("qwen3-f32-yarn");
}

TEST_MAIN(TEST(test_untied_bias_gqa4), TEST(test_tied), TEST(test_bf16_yarn))
