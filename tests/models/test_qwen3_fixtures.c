/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_qwen3_fixtures — the CPU engine against Hugging Face transformers.
 * Each tests/fixtures/qwen3-* directory holds a tiny random Qwen3 made by
 * tools/fixtures/make_qwen3.py and transformers' logits at every position
 * of prompt + 32 greedy tokens. Checked here, for every fixture:
 *   - logits within 1e-4 x max|logit| (f32 arithmetic; for the bf16
 *     and f16 fixtures the reference is the same weights computed in f32,
 *     and transformers' native bf16/f16 run must agree within 5e-2 x
 *     max|logit|: the rounding of 16-bit activations that octo does not do);
 *   - the 32-token greedy continuation token for token;
 *   - logits at every position, from one 43-token step, from chunks of 5,
 *     and one token at a time;
 *   - a batch of two sequences of different lengths mixing prefill chunks
 *     and decode tokens == each alone (both against the reference);
 *   - a bf16 KV cache stays within 2e-2 x max|logit|;
 *   - the final-norm hidden states (embedding output) match
 *     last_hidden_state within 1e-4 x max|h|.
 */
#include "engine/engine.h"
#include "octo_engine_test.h"
#include "formats/formats.h"
#include "octo_test.h"
#include "tensor/tensor_int.h"

#include <stdint.h>

#define TOL_F32 1e-4
#define TOL_BF16_NATIVE 5e-2
#define TOL_KV_BF16 2e-2

static const char *FIXTURES[] = {"qwen3-f32-tied", "qwen3-f32-untied-gqa4", "qwen3-f32-yarn",
                                 "qwen3-bf16", "qwen3-f16"};
#define N_FIX (sizeof FIXTURES / sizeof FIXTURES[0])

typedef struct ref {
    octo_formats_st *st;
    const int32_t *prompt, *greedy, *prompt_b;
    int64_t n_prompt, n_greedy, n_prompt_b, V;
    const float *logits, *logits_b, *logits_bf16; /* [pos, V] */
    const float *hidden;                          /* [pos, C] */
    int64_t C;
    float max_abs;
    char dir[512];
} ref;

static const char *src_root(void)
{
    const char *s = getenv("OCTO_SRC");
    return s ? s : "..";
}

static int ref_open(ref *r, const char *name)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s/tests/fixtures/%s", src_root(), name);
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/ref.safetensors", r->dir);
    if (octo_formats_st_open(path, &r->st, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    octo_formats_tensor t;
    if (octo_formats_st_find(r->st, "input_ids", &t)) return -1;
    r->prompt = t.data;
    r->n_prompt = t.shape[0];
    if (octo_formats_st_find(r->st, "greedy_ids", &t)) return -1;
    r->greedy = t.data;
    r->n_greedy = t.shape[0];
    if (octo_formats_st_find(r->st, "input_ids_b", &t)) return -1;
    r->prompt_b = t.data;
    r->n_prompt_b = t.shape[0];
    if (octo_formats_st_find(r->st, "logits", &t)) return -1;
    r->logits = t.data;
    r->V = t.shape[1];
    if (octo_formats_st_find(r->st, "logits_b", &t)) return -1;
    r->logits_b = t.data;
    if (octo_formats_st_find(r->st, "logits_bf16", &t) == OCTO_OK) r->logits_bf16 = t.data;
    if (octo_formats_st_find(r->st, "hidden", &t)) return -1;
    r->hidden = t.data;
    r->C = t.shape[1];
    int64_t n = (r->n_prompt + r->n_greedy) * r->V;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(r->logits[i]);
        if (a > r->max_abs) r->max_abs = a;
    }
    return 0;
}

static int g_threads = 2;

static octo_engine *engine_for(const ref *r, octo_dtype kv, int64_t block_size)
{
    test_engine_opts o = {.model_path = r->dir, .n_threads = g_threads, .kv_dtype = kv,
                          .block_size = block_size, .kv_blocks = 64};
    octo_engine *e = NULL;
    char err[256];
    if (test_engine_new(&o, &e, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", r->dir, err);
        return NULL;
    }
    return e;
}

static int32_t argmax(const float *x, int64_t n)
{
    int32_t best = 0;
    for (int64_t i = 1; i < n; i++) {
        if (x[i] > x[best]) best = (int32_t)i;
    }
    return best;
}

static octo_engine_seq *seq_of(octo_engine *e, const int32_t *ids, int64_t n)
{
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    octo_engine_seq *s = NULL;
    if (octo_engine_seq_new(e, ids, n, &p, &s)) return NULL;
    return s;
}

/* Prefill in chunks of `chunk` (0: at once), then greedy decode; every
 * logits row is compared with the reference and every token with HF's. */
static void run_greedy(const ref *r, octo_dtype kv, int64_t chunk, double tol, bool check_tokens)
{
    octo_engine *e = engine_for(r, kv, 4);
    CHECK(e != NULL);
    if (!e) return;
    float *logits = malloc((size_t)r->V * sizeof *logits);
    octo_engine_seq *s = seq_of(e, r->prompt, r->n_prompt);
    CHECK(s != NULL);
    double worst = 0.0;
    int mismatches = 0;
    while (s && octo_engine_seq_computed(s) < r->n_prompt) {
        octo_engine_item it = {.seq = s, .n_tokens = chunk};
        int64_t left = r->n_prompt - octo_engine_seq_computed(s);
        if (chunk > left) it.n_tokens = left;
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
        int64_t p = octo_engine_seq_computed(s) - 1;
        if (p < r->n_prompt - 1) {
            CHECK_EQ_INT(it.logits_row, -1);
            continue;
        }
        CHECK_EQ_INT(it.logits_row, 0);
    }
    for (int64_t g = 0; s && g < r->n_greedy; g++) {
        int64_t p = octo_engine_seq_computed(s) - 1;
        double d = octo_test_max_diff(logits, r->logits + p * r->V, r->V);
        if (d > worst) worst = d;
        octo_sample_result res;
        CHECK_EQ_INT(octo_engine_sample(e, s, logits, &res), OCTO_OK);
        if (res.token != r->greedy[g]) mismatches++;
        if (check_tokens) CHECK_EQ_INT(res.token, argmax(r->logits + p * r->V, r->V));
        /* continue on HF's path so later rows stay comparable */
        CHECK_EQ_INT(octo_engine_seq_append(e, s, r->greedy[g]), OCTO_OK);
        octo_engine_item it = {.seq = s};
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
    }
    if (check_tokens) CHECK_EQ_INT(mismatches, 0);
    CHECK(worst <= tol * r->max_abs);
    fprintf(stderr, "  %s kv=%s chunk=%lld: max|diff| %.3g (tol %.3g), greedy mismatches %d\n",
            r->dir + strlen(src_root()) + 16, octo_dtype_name(kv), (long long)chunk, worst,
            tol * r->max_abs, mismatches);
    free(logits);
    octo_engine_free(e);
}

/* Prompt one token per step: the logits of every prompt position. */
static void run_per_position(const ref *r)
{
    octo_engine *e = engine_for(r, OCTO_DTYPE_F32, 4);
    CHECK(e != NULL);
    if (!e) return;
    float *logits = malloc((size_t)r->V * sizeof *logits);
    octo_engine_seq *s = seq_of(e, r->prompt, 1);
    double worst = 0.0;
    for (int64_t p = 0; s && p < r->n_prompt; p++) {
        if (p > 0) CHECK_EQ_INT(octo_engine_seq_append(e, s, r->prompt[p]), OCTO_OK);
        octo_engine_item it = {.seq = s};
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
        double d = octo_test_max_diff(logits, r->logits + p * r->V, r->V);
        if (d > worst) worst = d;
    }
    CHECK(worst <= TOL_F32 * r->max_abs);
    free(logits);
    octo_engine_free(e);
}

/* The whole of prompt + greedy continuation as one prompt, with logits
 * at every position: in one step (chunk 0) or in chunks. */
static void run_all_logits(const ref *r, int64_t chunk)
{
    octo_engine *e = engine_for(r, OCTO_DTYPE_F32, 4);
    CHECK(e != NULL);
    if (!e) return;
    int64_t n = r->n_prompt + r->n_greedy;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    memcpy(ids, r->prompt, (size_t)r->n_prompt * sizeof *ids);
    memcpy(ids + r->n_prompt, r->greedy, (size_t)r->n_greedy * sizeof *ids);
    float *logits = malloc((size_t)(n * r->V) * sizeof *logits);
    octo_engine_seq *s = seq_of(e, ids, n);
    double worst = 0.0;
    while (s && octo_engine_seq_computed(s) < n) {
        int64_t p0 = octo_engine_seq_computed(s);
        octo_engine_item it = {.seq = s, .n_tokens = chunk, .all_logits = true};
        if (chunk > n - p0) it.n_tokens = n - p0;
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
        CHECK_EQ_INT(it.logits_row, 0);
        int64_t k = octo_engine_seq_computed(s) - p0;
        double d = octo_test_max_diff(logits, r->logits + p0 * r->V, k * r->V);
        if (d > worst) worst = d;
    }
    CHECK(worst <= TOL_F32 * r->max_abs);
    free(ids);
    free(logits);
    octo_engine_free(e);
}

/* An output_hidden engine: the final-norm hidden states of every
 * position (all_logits rows) against transformers' last_hidden_state. */
static void run_hidden(const ref *r)
{
    test_engine_opts o = {.model_path = r->dir, .n_threads = 2, .kv_blocks = 64,
                          .block_size = 4, .output_hidden = true};
    octo_engine *e = NULL;
    CHECK_EQ_INT(test_engine_new(&o, &e, NULL, 0), OCTO_OK);
    if (!e) return;
    int64_t n = r->n_prompt;
    float *h = malloc((size_t)(n * r->C) * sizeof *h);
    octo_engine_seq *s = seq_of(e, r->prompt, n);
    octo_engine_item it = {.seq = s, .all_logits = true};
    CHECK_EQ_INT(octo_engine_step(e, &it, 1, h), OCTO_OK);
    double worst = octo_test_max_diff(h, r->hidden, n * r->C), mx = 0.0;
    for (int64_t i = 0; i < n * r->C; i++) mx = fmax(mx, fabs(r->hidden[i]));
    CHECK(worst <= TOL_F32 * mx);
    fprintf(stderr, "  %s hidden: max|diff| %.3g (max|h| %.3g)\n",
            r->dir + strlen(src_root()) + 16, worst, mx);
    octo_sample_result res;
    CHECK_EQ_INT(octo_engine_sample(e, s, h, &res), OCTO_E_INVALID);
    free(h);
    octo_engine_free(e);
}

/* Preemption by recomputation: decode 5 tokens, evict the cache, append
 * one more token and run everything again in one step. */
static void run_evict(const ref *r)
{
    octo_engine *e = engine_for(r, OCTO_DTYPE_F32, 4);
    CHECK(e != NULL);
    if (!e) return;
    float *logits = malloc((size_t)r->V * sizeof *logits);
    octo_engine_seq *s = seq_of(e, r->prompt, r->n_prompt);
    octo_engine_item it = {.seq = s};
    CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
    for (int g = 0; g < 5; g++) {
        CHECK_EQ_INT(octo_engine_seq_append(e, s, r->greedy[g]), OCTO_OK);
        it = (octo_engine_item){.seq = s};
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
    }
    int64_t before = octo_engine_kv_blocks_free(e);
    octo_engine_seq_evict(e, s);
    CHECK_EQ_INT(octo_engine_seq_computed(s), 0);
    CHECK(octo_engine_kv_blocks_free(e) > before);
    CHECK_EQ_INT(octo_engine_seq_append(e, s, r->greedy[5]), OCTO_OK);
    it = (octo_engine_item){.seq = s};
    CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
    int64_t p = r->n_prompt + 5;
    CHECK(octo_test_max_diff(logits, r->logits + p * r->V, r->V) <= TOL_F32 * r->max_abs);
    free(logits);
    octo_engine_free(e);
}

/* Two sequences in the same steps: A decodes token by token along HF's
 * greedy path while B prefills in chunks of 2, then both decode. */
static void run_batch(const ref *r)
{
    octo_engine *e = engine_for(r, OCTO_DTYPE_F32, 4);
    CHECK(e != NULL);
    if (!e) return;
    float *logits = malloc(2 * (size_t)r->V * sizeof *logits);
    octo_engine_seq *a = seq_of(e, r->prompt, r->n_prompt);
    octo_engine_seq *b = seq_of(e, r->prompt_b, r->n_prompt_b);
    double worst = 0.0;
    /* step 1: all of A's prompt + the first 2 of B's */
    octo_engine_item it[2] = {{.seq = a}, {.seq = b, .n_tokens = 2}};
    CHECK_EQ_INT(octo_engine_step(e, it, 2, logits), OCTO_OK);
    CHECK_EQ_INT(it[0].logits_row, 0);
    CHECK_EQ_INT(it[1].logits_row, -1);
    worst = octo_test_max_diff(logits, r->logits + (r->n_prompt - 1) * r->V, r->V);
    for (int64_t g = 0; g < 8; g++) {
        CHECK_EQ_INT(octo_engine_seq_append(e, a, r->greedy[g]), OCTO_OK);
        int64_t left = octo_engine_seq_len(b) - octo_engine_seq_computed(b);
        octo_engine_item st[2] = {{.seq = b, .n_tokens = left >= 2 ? 2 : left}, {.seq = a}};
        if (left == 0) { /* B decodes too: feed its own reference-free token */
            CHECK_EQ_INT(octo_engine_seq_append(e, b, r->greedy[g]), OCTO_OK);
            st[0].n_tokens = 1;
        }
        CHECK_EQ_INT(octo_engine_step(e, st, 2, logits), OCTO_OK);
        CHECK(st[1].logits_row >= 0);
        const float *ra = r->logits + (r->n_prompt + g) * r->V;
        double d = octo_test_max_diff(logits + st[1].logits_row * r->V, ra, r->V);
        if (d > worst) worst = d;
        if (octo_engine_seq_computed(b) == r->n_prompt_b && left > 0) {
            CHECK(st[0].logits_row >= 0);
            const float *rb = r->logits_b + (r->n_prompt_b - 1) * r->V;
            d = octo_test_max_diff(logits + st[0].logits_row * r->V, rb, r->V);
            if (d > worst) worst = d;
        }
    }
    CHECK_EQ_INT(octo_engine_seq_computed(a), r->n_prompt + 8);
    CHECK(worst <= TOL_F32 * r->max_abs);
    free(logits);
    octo_engine_free(e);
}

static void test_fixtures(void)
{
    for (size_t i = 0; i < N_FIX; i++) {
        ref r;
        CHECK_EQ_INT(ref_open(&r, FIXTURES[i]), 0);
        if (!r.st) continue;
        run_greedy(&r, OCTO_DTYPE_F32, 0, TOL_F32, true);
        run_greedy(&r, OCTO_DTYPE_F32, 3, TOL_F32, true);
        run_greedy(&r, OCTO_DTYPE_BF16, 0, TOL_KV_BF16, false);
        run_per_position(&r);
        run_all_logits(&r, 0);
        run_all_logits(&r, 5);
        run_batch(&r);
        run_evict(&r);
        run_hidden(&r);
        g_threads = 1; /* the pool with the caller only */
        run_greedy(&r, OCTO_DTYPE_F32, 0, TOL_F32, true);
        g_threads = 2;
        for (int lvl = octo_tensor_cpu_cap_simd(2) - 1; lvl >= 0; lvl--) { /* AVX2, scalar */
            octo_tensor_cpu_cap_simd(lvl);
            run_greedy(&r, OCTO_DTYPE_F32, 0, TOL_F32, true);
            run_greedy(&r, OCTO_DTYPE_F32, 3, TOL_F32, true);
        }
        octo_tensor_cpu_cap_simd(2);
        if (r.logits_bf16) { /* transformers' own bf16 arithmetic vs f32 */
            int64_t n = (r.n_prompt + r.n_greedy) * r.V;
            double d = octo_test_max_diff(r.logits_bf16, r.logits, n);
            CHECK(d <= TOL_BF16_NATIVE * r.max_abs);
        }
        octo_formats_st_close(r.st);
    }
}

typedef struct collect {
    int32_t ids[64];
    int n;
} collect;

static bool on_token(void *ud, const octo_sample_result *r)
{
    collect *c = ud;
    c->ids[c->n++] = r->token;
    return c->n < 64;
}

/* octo_engine_generate: greedy == transformers' continuation (prefill in
 * chunks of 4 through max_batch_tokens); a seeded sampled run repeats. */
static void test_generate(void)
{
    ref r;
    if (ref_open(&r, "qwen3-f32-untied-gqa4")) {
        CHECK(0);
        return;
    }
    test_engine_opts o = {.model_path = r.dir, .n_threads = 2, .kv_blocks = 32,
                          .max_batch_tokens = 4};
    octo_engine *e = NULL;
    CHECK_EQ_INT(test_engine_new(&o, &e, NULL, 0), OCTO_OK);
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    p.ignore_eos = true;
    collect c = {.n = 0};
    int64_t n = 0;
    CHECK_EQ_INT(octo_engine_generate(e, r.prompt, r.n_prompt, &p, r.n_greedy, on_token, &c, &n),
                 OCTO_OK);
    CHECK_EQ_INT(n, r.n_greedy);
    CHECK(memcmp(c.ids, r.greedy, (size_t)r.n_greedy * sizeof(int32_t)) == 0);
    CHECK_EQ_INT(octo_engine_kv_blocks_free(e), 32); /* the sequence is gone */
    /* seeded sampling: the same seed gives the same tokens */
    octo_engine_sampling_default(&p);
    p.has_seed = true;
    p.seed = 99;
    p.top_p = 0.9f;
    p.ignore_eos = true;
    collect a = {.n = 0}, b = {.n = 0};
    CHECK_EQ_INT(octo_engine_generate(e, r.prompt, r.n_prompt, &p, 20, on_token, &a, NULL),
                 OCTO_OK);
    CHECK_EQ_INT(octo_engine_generate(e, r.prompt, r.n_prompt, &p, 20, on_token, &b, NULL),
                 OCTO_OK);
    CHECK_EQ_INT(a.n, 20);
    CHECK(memcmp(a.ids, b.ids, sizeof a.ids) == 0);
    /* a stop id ends generation with that token */
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    p.n_stop_ids = 1;
    p.stop_ids[0] = r.greedy[3];
    c.n = 0;
    CHECK_EQ_INT(octo_engine_generate(e, r.prompt, r.n_prompt, &p, 32, on_token, &c, &n),
                 OCTO_OK);
    int first = 0;
    while (r.greedy[first] != r.greedy[3]) first++;
    CHECK_EQ_INT(n, first + 1);
    octo_engine_free(e);
    octo_formats_st_close(r.st);
}

static void test_dummy_and_errors(void)
{
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/tests/fixtures/qwen3-f32-tied/config.json", src_root());
    test_engine_opts o = {.model_path = path, .dummy = true, .dummy_seed = 7, .n_threads = 2,
                          .kv_blocks = 8};
    octo_engine *e = NULL;
    CHECK_EQ_INT(test_engine_new(&o, &e, err, sizeof err), OCTO_OK);
    if (e) {
        const octo_model_info *in = octo_engine_model_info(e);
        CHECK_EQ_INT(in->weight_dtype, OCTO_DTYPE_F32); /* the config's dtype */
        CHECK_EQ_INT(in->vocab_size, 512);
        int32_t ids[5] = {1, 2, 3, 4, 5};
        octo_engine_seq *s = seq_of(e, ids, 5);
        float *logits = malloc(512 * sizeof *logits);
        octo_engine_item it = {.seq = s};
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_OK);
        bool finite = true;
        for (int i = 0; i < 512; i++) finite = finite && isfinite(logits[i]);
        CHECK(finite);
        /* a token id out of range, an empty step */
        int32_t bad = 512;
        octo_engine_seq *s2 = NULL;
        CHECK_EQ_INT(octo_engine_seq_new(e, &bad, 1, NULL, &s2), OCTO_E_INVALID);
        it.n_tokens = 0;
        CHECK_EQ_INT(octo_engine_step(e, &it, 1, logits), OCTO_E_INVALID);
        /* cache exhaustion: 8 blocks x 16 tokens */
        int32_t *many = calloc(200, sizeof *many);
        octo_engine_seq *big = seq_of(e, many, 200);
        octo_engine_item bi = {.seq = big};
        CHECK_EQ_INT(octo_engine_step(e, &bi, 1, logits), OCTO_E_BUSY);
        octo_engine_seq_free(e, big);
        CHECK_EQ_INT(octo_engine_kv_blocks_free(e), 8 - 1);
        free(many);
        free(logits);
        octo_engine_free(e);
    }
    /* EOS from generation_config.json */
    ref r;
    if (ref_open(&r, "qwen3-f32-tied") == 0) {
        e = engine_for(&r, OCTO_DTYPE_F32, 16);
        const int64_t *eos = NULL;
        CHECK_EQ_INT(octo_engine_eos_ids(e, &eos), 1);
        CHECK_EQ_INT(eos[0], 2);
        octo_engine_free(e);
    }
    octo_formats_st_close(r.st);
    /* not a Qwen3 model; a missing folder */
    snprintf(path, sizeof path, "%s/configs/Qwen__Qwen3-30B-A3B.config.json",
             getenv("OCTO_TEST_DATA") ? getenv("OCTO_TEST_DATA") : OCTO_TEST_DATA_DIR);
    o.model_path = path;
    CHECK_EQ_INT(test_engine_new(&o, &e, err, sizeof err), OCTO_E_UNSUPPORTED);
    /* the message names the architecture and what the registry runs */
    CHECK(strstr(err, "Qwen3MoeForCausalLM") && strstr(err, "octo runs: Qwen3ForCausalLM"));
    o.model_path = "/nonexistent/model";
    o.dummy = false;
    CHECK(test_engine_new(&o, &e, err, sizeof err) != OCTO_OK);
    CHECK(e == NULL);
}

TEST_MAIN(TEST(test_fixtures), TEST(test_generate), TEST(test_dummy_and_errors))
