/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sampler — the sampler against the formulas vLLM's v1 sampler
 * applies (values worked out by hand here) and against the properties a
 * sampler must have: masks keep exactly the tokens top-k / top-p / min-p
 * define, draws follow the softmax, seeds reproduce runs, logprobs are
 * log_softmax of the raw logits.
 */
#include "engine/engine.h"
#include "octo_test.h"

#define V 8

static void *scratch(void)
{
    static char buf[4096];
    return buf;
}

static octo_sampling_params defaults(void)
{
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    return p;
}

/* Draws n tokens from logits x with params p; counts[V]. */
static void draw(const octo_sampling_params *p, const float *x, int n, uint64_t seed,
                 int *counts)
{
    octo_engine_rng rng;
    octo_engine_rng_seed(&rng, seed);
    memset(counts, 0, V * sizeof *counts);
    for (int i = 0; i < n; i++) {
        float w[V];
        memcpy(w, x, sizeof w);
        octo_sample_result r;
        if (octo_engine_sampler_run(p, w, V, NULL, 0, NULL, 0, &rng, scratch(), &r)) {
            counts[0] = -1;
            return;
        }
        counts[r.token]++;
    }
}

/* logits whose softmax is {0.5, 0.3, 0.15, 0.05, 0, 0, 0, 0} */
static void probs_logits(float *x)
{
    const double p[4] = {0.5, 0.3, 0.15, 0.05};
    for (int i = 0; i < V; i++) x[i] = i < 4 ? (float)log(p[i]) : -INFINITY;
}

static void test_greedy_and_bias(void)
{
    float x[V] = {0.1f, 2.0f, 1.9f, -1.0f, 0.0f, 0.5f, 2.0f, 0.3f};
    octo_sampling_params p = defaults();
    p.temperature = 0.0f;
    octo_engine_rng rng;
    octo_engine_rng_seed(&rng, 1);
    octo_sample_result r;
    float w[V];
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(octo_engine_sampler_run(&p, w, V, NULL, 0, NULL, 0, &rng, scratch(), &r), 0);
    CHECK_EQ_INT(r.token, 1); /* first of the tied maxima, as torch.argmax */
    octo_logit_bias b[2] = {{3, 5.0f}, {1, -1.0f}};
    p.logit_bias = b;
    p.n_logit_bias = 2;
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(octo_engine_sampler_run(&p, w, V, NULL, 0, NULL, 0, &rng, scratch(), &r), 0);
    CHECK_EQ_INT(r.token, 3);
    CHECK(fabsf(w[3] - 4.0f) < 1e-6f && fabsf(w[1] - 1.0f) < 1e-6f);
    /* a bias of -100 (OpenAI's "ban") keeps a token from ever being drawn */
    octo_logit_bias ban = {6, -100.0f};
    p = defaults();
    p.logit_bias = &ban;
    p.n_logit_bias = 1;
    int counts[V];
    draw(&p, x, 2000, 5, counts);
    CHECK_EQ_INT(counts[6], 0);
}

/* vLLM apply_penalties: repetition over prompt+output (x>0: x/r, else
 * x*r), frequency (-f*count) and presence (-p*[count>0]) over output. */
static void test_penalties(void)
{
    float x[V] = {2.0f, -2.0f, 1.0f, 3.0f, 0.5f, 0.0f, -1.0f, 1.5f};
    int32_t prompt[3] = {0, 3, 3};
    int32_t output[4] = {1, 4, 4, 3};
    octo_sampling_params p = defaults();
    p.temperature = 0.0f;
    p.repetition_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    octo_engine_rng rng;
    octo_engine_rng_seed(&rng, 1);
    octo_sample_result r;
    CHECK_EQ_INT(octo_engine_sampler_run(&p, x, V, prompt, 3, output, 4, &rng, scratch(), &r),
                 0);
    float want[V] = {
        1.0f,                  /* prompt only: 2 / 2 */
        -4.0f - 0.5f - 0.25f,  /* output once, negative: -2 * 2, -f, -p */
        1.0f,                  /* untouched */
        1.5f - 0.5f - 0.25f,   /* prompt and output once: 3 / 2 - f - p */
        0.25f - 1.0f - 0.25f,  /* output twice: 0.5 / 2 - 2f - p */
        0.0f, -1.0f, 1.5f,
    };
    for (int i = 0; i < V; i++) CHECK(fabsf(x[i] - want[i]) < 1e-6f);
    CHECK_EQ_INT(r.token, 7);
}

static void test_top_k_top_p_min_p_masks(void)
{
    float x[V];
    probs_logits(x);
    int counts[V];
    octo_sampling_params p = defaults();
    /* top_p 0.79: ascending cumsum 0.05, 0.20, 0.50, 1.0; drop <= 0.21 */
    p.top_p = 0.79f;
    draw(&p, x, 3000, 11, counts);
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] == 0 && counts[3] == 0);
    /* top_p 0.81: 1 - p = 0.19 only drops the 0.05 token */
    p.top_p = 0.81f;
    draw(&p, x, 3000, 11, counts);
    CHECK(counts[2] > 0 && counts[3] == 0);
    /* top_k 3 */
    p = defaults();
    p.top_k = 3;
    draw(&p, x, 3000, 12, counts);
    CHECK(counts[2] > 0 && counts[3] == 0);
    /* top_k 1 == greedy */
    p.top_k = 1;
    draw(&p, x, 500, 13, counts);
    CHECK_EQ_INT(counts[0], 500);
    /* min_p 0.2: threshold 0.1 x ... = 0.2 * 0.5 = 0.1 drops 0.05 only */
    p = defaults();
    p.min_p = 0.2f;
    draw(&p, x, 3000, 14, counts);
    CHECK(counts[2] > 0 && counts[3] == 0);
    /* min_p 0.61: threshold 0.305 keeps the top token alone */
    p.min_p = 0.61f;
    draw(&p, x, 500, 15, counts);
    CHECK_EQ_INT(counts[0], 500);
    /* top_k ties are kept (vLLM masks logits strictly below the k-th) */
    float t[V] = {1.0f, 1.0f, 1.0f, 0.0f, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    p = defaults();
    p.top_k = 2;
    draw(&p, t, 3000, 16, counts);
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0 && counts[3] == 0);
}

static void test_distribution(void)
{
    float x[V];
    probs_logits(x);
    int counts[V];
    octo_sampling_params p = defaults();
    int n = 20000;
    draw(&p, x, n, 21, counts);
    const double want[4] = {0.5, 0.3, 0.15, 0.05};
    for (int i = 0; i < 4; i++) CHECK(fabs(counts[i] / (double)n - want[i]) < 0.015);
    /* temperature 2: p_i ~ sqrt(q_i) renormalised */
    p.temperature = 2.0f;
    draw(&p, x, n, 22, counts);
    double z = 0.0;
    for (int i = 0; i < 4; i++) z += sqrt(want[i]);
    for (int i = 0; i < 4; i++) CHECK(fabs(counts[i] / (double)n - sqrt(want[i]) / z) < 0.015);
    /* top_p 0.9 renormalises over {0.5, 0.3, 0.15} */
    p = defaults();
    p.top_p = 0.9f;
    draw(&p, x, n, 23, counts);
    CHECK(fabs(counts[0] / (double)n - 0.5 / 0.95) < 0.015);
    CHECK_EQ_INT(counts[3], 0);
}

static void test_seeds(void)
{
    float x[V] = {0.3f, 0.1f, 0.2f, 0.0f, 0.25f, 0.15f, 0.05f, 0.12f};
    octo_sampling_params p = defaults();
    int a[64], b[64], c[64];
    for (int run = 0; run < 3; run++) {
        octo_engine_rng rng;
        octo_engine_rng_seed(&rng, run == 2 ? 43 : 42);
        for (int i = 0; i < 64; i++) {
            float w[V];
            memcpy(w, x, sizeof w);
            octo_sample_result r;
            CHECK_EQ_INT(octo_engine_sampler_run(&p, w, V, NULL, 0, NULL, 0, &rng, scratch(),
                                                 &r), 0);
            (run == 0 ? a : run == 1 ? b : c)[i] = r.token;
        }
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
}

static void test_logprobs(void)
{
    float x[V] = {1.0f, 3.0f, 2.0f, 0.0f, -1.0f, 2.5f, 0.5f, 1.5f};
    double lse = 0.0;
    for (int i = 0; i < V; i++) lse += exp(x[i]);
    lse = log(lse);
    octo_sampling_params p = defaults();
    p.temperature = 0.0f;
    p.repetition_penalty = 1.5f; /* raw logprobs ignore processing */
    p.logprobs = 3;
    int32_t prompt[1] = {1};
    octo_engine_rng rng;
    octo_engine_rng_seed(&rng, 1);
    octo_sample_result r;
    float w[V];
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(octo_engine_sampler_run(&p, w, V, prompt, 1, NULL, 0, &rng, scratch(), &r), 0);
    CHECK_EQ_INT(r.token, 5); /* 3 / 1.5 = 2 < 2.5 */
    CHECK(fabs(r.logprob - (2.5 - lse)) < 1e-5);
    CHECK_EQ_INT(r.n_top, 3);
    CHECK_EQ_INT(r.top_ids[0], 1);
    CHECK_EQ_INT(r.top_ids[1], 5);
    CHECK_EQ_INT(r.top_ids[2], 2);
    CHECK(fabs(r.top_logprobs[0] - (3.0 - lse)) < 1e-5);
    /* processed: after the penalty, token 1's logit is 2 */
    p.processed_logprobs = true;
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(octo_engine_sampler_run(&p, w, V, prompt, 1, NULL, 0, &rng, scratch(), &r), 0);
    CHECK_EQ_INT(r.top_ids[0], 5);
    /* none asked */
    p = defaults();
    memcpy(w, x, sizeof w);
    CHECK_EQ_INT(octo_engine_sampler_run(&p, w, V, NULL, 0, NULL, 0, &rng, scratch(), &r), 0);
    CHECK(isnan(r.logprob));
    CHECK_EQ_INT(r.n_top, 0);
}

static void test_param_checks(void)
{
    octo_sampling_params p = defaults();
    char err[128];
    CHECK_EQ_INT(octo_engine_sampling_check(&p, V, err, sizeof err), OCTO_OK);
    p.top_p = 0.0f;
    CHECK_EQ_INT(octo_engine_sampling_check(&p, V, err, sizeof err), OCTO_E_INVALID);
    p = defaults();
    p.temperature = -1.0f;
    CHECK_EQ_INT(octo_engine_sampling_check(&p, V, err, sizeof err), OCTO_E_INVALID);
    p = defaults();
    p.logprobs = 21;
    CHECK_EQ_INT(octo_engine_sampling_check(&p, V, err, sizeof err), OCTO_E_INVALID);
    octo_logit_bias b = {V, 1.0f};
    p = defaults();
    p.logit_bias = &b;
    p.n_logit_bias = 1;
    CHECK_EQ_INT(octo_engine_sampling_check(&p, V, err, sizeof err), OCTO_E_INVALID);
    p = defaults();
    p.repetition_penalty = 0.0f;
    CHECK_EQ_INT(octo_engine_sampling_check(&p, V, err, sizeof err), OCTO_E_INVALID);
    /* all masked, NaN logits */
    float x[V];
    for (int i = 0; i < V; i++) x[i] = -INFINITY;
    p = defaults();
    octo_engine_rng rng;
    octo_engine_rng_seed(&rng, 1);
    octo_sample_result r;
    CHECK_EQ_INT(octo_engine_sampler_run(&p, x, V, NULL, 0, NULL, 0, &rng, scratch(), &r),
                 OCTO_E_INVALID);
    x[0] = NAN;
    CHECK_EQ_INT(octo_engine_sampler_run(&p, x, V, NULL, 0, NULL, 0, &rng, scratch(), &r),
                 OCTO_E_INVALID);
}

TEST_MAIN(TEST(test_greedy_and_bias), TEST(test_penalties), TEST(test_top_k_top_p_min_p_masks),
          TEST(test_distribution), TEST(test_seeds), TEST(test_logprobs), TEST(test_param_checks))
