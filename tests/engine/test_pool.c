/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pool — the pooling batcher against the transformers oracle of
 * tests/fixtures/qwen3-embed and qwen3-rerank (ref.json, made by
 * tools/fixtures/make_embed_models.py): last-token hidden states, once
 * normalised, equal the official embeddings; the "no"/"yes" logits give the
 * official P(yes); the result does not depend on how prompts are packed
 * (one forward, chunked prefill over tiny budgets, many threads at once);
 * bad prompts are refused before anything runs.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "octo_engine_test.h"
#include "octo_test.h"

#define MAX_CASES 32
#define MAX_IDS 512

typedef struct ref_case {
    int32_t ids[MAX_IDS];
    int64_t n;
    double want[64]; /* embedding (hidden 64) or {score} */
} ref_case;

static ref_case g_cases[MAX_CASES];
static int g_n;
static int32_t g_yes = -1, g_no = -1;

static const char *src_root(void)
{
    const char *s = getenv("OCTO_SRC");
    return s ? s : "..";
}

/* Loads ref.json of a fixture: ids and the embedding or score per case. */
static bool load_ref(const char *fixture, bool score)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/ref.json", src_root(), fixture);
    json_t *root = json_load_file(path, 0, NULL);
    if (!root) return false;
    const json_t *cases = json_object_get(root, "cases");
    g_n = 0;
    if (score) {
        g_yes = (int32_t)json_integer_value(json_object_get(root, "yes_id"));
        g_no = (int32_t)json_integer_value(json_object_get(root, "no_id"));
    }
    for (size_t i = 0; i < json_array_size(cases) && g_n < MAX_CASES; i++) {
        const json_t *c = json_array_get(cases, i), *ids = json_object_get(c, "ids");
        ref_case *r = &g_cases[g_n++];
        r->n = (int64_t)json_array_size(ids);
        for (int64_t k = 0; k < r->n && k < MAX_IDS; k++)
            r->ids[k] = (int32_t)json_integer_value(json_array_get(ids, (size_t)k));
        if (score) {
            r->want[0] = json_real_value(json_object_get(c, "score"));
            continue;
        }
        const json_t *e = json_object_get(c, "embedding");
        for (size_t k = 0; k < json_array_size(e) && k < 64; k++)
            r->want[k] = json_real_value(json_array_get(e, k));
    }
    json_decref(root);
    return g_n > 0;
}

static octo_engine_pool *make_pool(const char *fixture, bool score, int64_t budget)
{
    char dir[1024], err[256] = "";
    snprintf(dir, sizeof dir, "%s/tests/fixtures/%s", src_root(), fixture);
    test_engine_opts eo = {.model_path = dir, .n_threads = 1, .output_hidden = !score,
                           .max_batch_tokens = budget, .block_size = 16};
    eo.kv_blocks = octo_engine_pool_kv_blocks(budget, 512, 64, 16);
    octo_engine *e = NULL;
    octo_engine_pool *p = NULL;
    if (test_engine_new(&eo, &e, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        return NULL;
    }
    octo_engine_pool_opts po = {.max_batch_tokens = budget};
    if (score) {
        po.n_select = 2;
        po.select[0] = g_no;
        po.select[1] = g_yes;
    }
    if (octo_engine_pool_new(e, &po, &p, err, sizeof err)) {
        fprintf(stderr, "pool: %s\n", err);
        octo_engine_free(e);
        return NULL;
    }
    return p;
}

/* Max |normalised(out row) - reference| over the cases [lo, hi). */
static double embed_error(const float *out, int lo, int hi)
{
    double worst = 0;
    for (int i = lo; i < hi; i++) {
        const float *v = out + (i - lo) * 64;
        double ss = 0;
        for (int k = 0; k < 64; k++) ss += (double)v[k] * v[k];
        for (int k = 0; k < 64; k++) {
            double d = fabs(v[k] / sqrt(ss) - g_cases[i].want[k]);
            worst = d > worst ? d : worst;
        }
    }
    return worst;
}

static octo_err run_cases(octo_engine_pool *p, int lo, int hi, float *out)
{
    const int32_t *prompts[MAX_CASES];
    int64_t lens[MAX_CASES];
    for (int i = lo; i < hi; i++) {
        prompts[i - lo] = g_cases[i].ids;
        lens[i - lo] = g_cases[i].n;
    }
    return octo_engine_pool_run(p, prompts, lens, hi - lo, out, NULL, 0);
}

static void test_embeddings_match_transformers(void)
{
    CHECK(load_ref("qwen3-embed", false));
    /* budgets: everything in one forward, and chunks of 7 tokens */
    int64_t budgets[] = {8192, 7};
    for (size_t b = 0; b < 2; b++) {
        octo_engine_pool *p = make_pool("qwen3-embed", false, budgets[b]);
        CHECK(p != NULL);
        if (!p) return;
        CHECK_EQ_INT(octo_engine_pool_out_dim(p), 64);
        float out[MAX_CASES * 64];
        CHECK_EQ_INT(run_cases(p, 0, g_n, out), OCTO_OK);
        CHECK(embed_error(out, 0, g_n) < 1e-4);
        octo_engine_pool_stats st;
        octo_engine_pool_stats_get(p, &st);
        CHECK_EQ_INT(st.prompts_total, g_n);
        if (b == 1) CHECK(st.steps_total > 8); /* really chunked */
        else CHECK_EQ_INT(st.steps_total, 1);  /* really one forward */
        octo_engine_pool_free(p);
    }
}

typedef struct thread_arg {
    octo_engine_pool *p;
    int lo, hi;
    double err;
    octo_err rc;
} thread_arg;

static void *thread_main(void *a)
{
    thread_arg *t = a;
    float out[MAX_CASES * 64];
    t->err = 1;
    for (int round = 0; round < 4; round++) {
        t->rc = run_cases(t->p, t->lo, t->hi, out);
        if (t->rc) return NULL;
        double e = embed_error(out, t->lo, t->hi);
        if (round == 0 || e > t->err) t->err = e;
    }
    return NULL;
}

static void test_concurrent_callers(void)
{
    CHECK(load_ref("qwen3-embed", false));
    octo_engine_pool *p = make_pool("qwen3-embed", false, 64);
    CHECK(p != NULL);
    if (!p) return;
    enum { NT = 8 };
    pthread_t th[NT];
    thread_arg args[NT];
    for (int i = 0; i < NT; i++) {
        int lo = i % g_n, hi = lo + 1 + (i % 3);
        args[i] = (thread_arg){.p = p, .lo = lo, .hi = hi > g_n ? g_n : hi};
        CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].rc, OCTO_OK);
        CHECK(args[i].err < 1e-4);
    }
    octo_engine_pool_free(p);
}

static void test_reranker_scores(void)
{
    CHECK(load_ref("qwen3-rerank", true));
    octo_engine_pool *p = make_pool("qwen3-rerank", true, 8192);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_EQ_INT(octo_engine_pool_out_dim(p), 2);
    float out[MAX_CASES * 2];
    CHECK_EQ_INT(run_cases(p, 0, g_n, out), OCTO_OK);
    for (int i = 0; i < g_n; i++) {
        double s = 1.0 / (1.0 + exp((double)out[2 * i] - out[2 * i + 1]));
        CHECK(fabs(s - g_cases[i].want[0]) < 1e-4);
    }
    octo_engine_pool_free(p);
}

static void test_bad_prompts(void)
{
    CHECK(load_ref("qwen3-embed", false));
    octo_engine_pool *p = make_pool("qwen3-embed", false, 256);
    CHECK(p != NULL);
    if (!p) return;
    int32_t ok[] = {1, 2, 3}, bad_id[] = {1, 100000}, *longp = calloc(200, sizeof(int32_t));
    const int32_t *pr[] = {ok, bad_id};
    int64_t lens[] = {3, 2};
    float out[2 * 64];
    char err[128] = "";
    CHECK_EQ_INT(octo_engine_pool_run(p, pr, lens, 2, out, err, sizeof err), OCTO_E_INVALID);
    CHECK(strstr(err, "prompt 1") != NULL);
    lens[1] = 0;
    CHECK_EQ_INT(octo_engine_pool_run(p, pr, lens, 2, out, NULL, 0), OCTO_E_INVALID);
    const int32_t *pl[] = {longp};
    int64_t ll[] = {200}; /* the fixture's max_model_len is 128 */
    CHECK_EQ_INT(octo_engine_pool_run(p, pl, ll, 1, out, err, sizeof err), OCTO_E_TOO_LARGE);
    CHECK(strstr(err, "200 tokens") != NULL);
    CHECK_EQ_INT(octo_engine_pool_run(p, pr, lens, 0, out, NULL, 0), OCTO_E_INVALID);
    free(longp);
    octo_engine_pool_free(p);
    octo_engine_pool_free(NULL);
}

static void test_pool_kind_must_fit_the_engine(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/qwen3-rerank", src_root());
    test_engine_opts eo = {.model_path = dir, .n_threads = 1};
    octo_engine *e = NULL;
    octo_engine_pool *p = NULL;
    CHECK_EQ_INT(test_engine_new(&eo, &e, NULL, 0), OCTO_OK);
    octo_engine_pool_opts hidden = {0}, bad_id = {.n_select = 1, .select = {100000}};
    CHECK_EQ_INT(octo_engine_pool_new(e, &hidden, &p, NULL, 0), OCTO_E_INVALID);
    CHECK_EQ_INT(octo_engine_pool_new(e, &bad_id, &p, NULL, 0), OCTO_E_INVALID);
    CHECK(p == NULL);
    octo_engine_free(e); /* a refused engine stays with the caller */
}

TEST_MAIN(TEST(test_embeddings_match_transformers), TEST(test_concurrent_callers),
          TEST(test_reranker_scores), TEST(test_bad_prompts),
          TEST(test_pool_kind_must_fit_the_engine))
