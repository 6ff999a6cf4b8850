/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sched — the serving scheduler (engine thread, continuous batching)
 * on the tiny transformers fixture models and a slower dummy model.
 * The oracle chain: the fixture prompt served through the scheduler gives
 * transformers' greedy continuation token for token; every other request
 * served alone is the reference for the same request served among others.
 * Checked:
 *   - 64 concurrent requests (one consumer thread each, greedy) == alone;
 *   - chunked prefill (max_num_batched_tokens 5) == alone;
 *   - preemption by recomputation (a pool of 24 blocks of 4) == alone,
 *     and preemptions happened;
 *   - prefix caching: cached_tokens reported, tokens and logprobs equal to
 *     an uncached run, shared-prefix requests under preemption == alone;
 *   - cancel (running and waiting) and req_free mid-stream free the
 *     blocks (stats), timeouts (running and waiting), BUSY when the queue
 *     is full, TOO_LARGE / INVALID at submit, shutdown with live requests;
 *   - prompt logprobs (submit_ex): against log_softmax of transformers'
 *     logits at every prompt position, in chunks; among others under
 *     preemption == alone, every prompt event exactly once, in order;
 *   - the statistics (token counters, histograms);
 *   - on a slower dummy model: a cached prompt's TTFT is lower, and the
 *     idle engine thread uses no CPU (it sleeps on its condition variable).
 */
#include "engine/engine.h"
#include "octo_engine_test.h"
#include "formats/formats.h"
#include "octo_test.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Under ThreadSanitizer the instrumented kernels run ~10x slower than
 * OpenBLAS (not instrumented): time limits stretch, and the TTFT
 * comparison (16 tokens through our GEMV against 192 through sgemm) means
 * nothing there. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
#define SLOW 10.0
#else
#define SLOW 1.0
#endif

#define N_REQ 64
#define MAX_OUT 64
#define WAIT_S 60.0

static const char *src_root(void)
{
    const char *s = getenv("OCTO_SRC");
    return s ? s : "..";
}

/* ==== requests and their outcome ==== */

typedef struct job {
    int32_t prompt[200];
    int64_t n_prompt, max_tokens;
    bool ignore_eos;
    int32_t logprobs;
    /* outcome */
    octo_err submit_rc, end_rc; /* checked by the main thread (CHECK is not thread-safe) */
    int32_t out[MAX_OUT];
    float lp[MAX_OUT];
    int64_t n_out, cached, completion_tokens;
    double ttft;
    octo_finish fin;
    int n_final;
} job;

typedef struct runner {
    octo_sched *s;
    job *j;
} runner;

static void job_params(const job *j, octo_sampling_params *p)
{
    octo_engine_sampling_default(p);
    p->temperature = 0.0f;
    p->ignore_eos = j->ignore_eos;
    p->logprobs = j->logprobs;
}

/* Submits j and reads its events to the end. */
static void run_job(octo_sched *s, job *j)
{
    octo_sampling_params p;
    job_params(j, &p);
    octo_sched_req *r = NULL;
    char err[256];
    j->n_out = 0;
    j->n_final = 0;
    j->fin = OCTO_FINISH_NONE;
    j->submit_rc = octo_sched_submit(s, j->prompt, j->n_prompt, &p, j->max_tokens, &r, err,
                                     sizeof err);
    if (j->submit_rc) return;
    octo_sched_event ev;
    octo_err rc;
    while ((rc = octo_sched_req_next(r, WAIT_S, &ev)) == OCTO_OK) {
        if (ev.token >= 0 && j->n_out < MAX_OUT) {
            j->lp[j->n_out] = ev.sample.logprob;
            j->out[j->n_out++] = ev.token;
        }
        j->cached = ev.cached_tokens;
        j->ttft = ev.ttft_s;
        j->completion_tokens = ev.completion_tokens;
        if (ev.finish != OCTO_FINISH_NONE) {
            j->fin = ev.finish;
            j->n_final++;
        }
    }
    j->end_rc = rc;
    octo_sched_req_free(r);
}

static void *job_thread(void *arg)
{
    runner *ru = arg;
    run_job(ru->s, ru->j);
    return NULL;
}

/* All jobs at once, one consumer thread each. */
static void run_concurrent(octo_sched *s, job *jobs, int n)
{
    pthread_t th[N_REQ];
    runner ru[N_REQ];
    for (int i = 0; i < n; i++) {
        ru[i] = (runner){s, &jobs[i]};
        CHECK_EQ_INT(pthread_create(&th[i], NULL, job_thread, &ru[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(jobs[i].submit_rc, OCTO_OK);
        CHECK_EQ_INT(jobs[i].end_rc, OCTO_E_CLOSED);
    }
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

/* Deterministic mixed workload: prompt lengths 3..42, outputs 4..27,
 * vocabulary ids 3..511; some requests may stop at EOS. job 0 is the
 * fixture's reference prompt with 32 tokens and EOS ignored. */
static void make_jobs(job *jobs, int n, const int32_t *ref_prompt, int64_t n_ref)
{
    uint64_t x = 42;
    for (int i = 0; i < n; i++) {
        job *j = &jobs[i];
        memset(j, 0, sizeof *j);
        j->n_prompt = 3 + (int64_t)(lcg(&x) % 40);
        for (int64_t k = 0; k < j->n_prompt; k++) j->prompt[k] = 3 + (int32_t)(lcg(&x) % 509);
        j->max_tokens = 4 + (int64_t)(lcg(&x) % 24);
        j->ignore_eos = i % 2 == 0;
        j->logprobs = -1;
    }
    memcpy(jobs[0].prompt, ref_prompt, (size_t)n_ref * sizeof *ref_prompt);
    jobs[0].n_prompt = n_ref;
    jobs[0].max_tokens = 32;
    jobs[0].ignore_eos = true;
}

static int n_mismatch(const job *a, const job *b, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        bool same = a[i].n_out == b[i].n_out && a[i].fin == b[i].fin &&
                    memcmp(a[i].out, b[i].out, (size_t)a[i].n_out * sizeof a[i].out[0]) == 0;
        if (!same) {
            bad++;
            fprintf(stderr, "  request %d differs: %lld tokens (%s) vs %lld (%s)\n", i,
                    (long long)a[i].n_out, octo_finish_name(a[i].fin), (long long)b[i].n_out,
                    octo_finish_name(b[i].fin));
        }
    }
    return bad;
}

/* ==== engines and schedulers ==== */

typedef struct fixture {
    octo_formats_st *st;
    const int32_t *prompt, *greedy;
    int64_t n_prompt, n_greedy;
    char dir[512];
} fixture;

static fixture FIX;

static int fixture_open(void)
{
    if (FIX.st) return 0;
    snprintf(FIX.dir, sizeof FIX.dir, "%s/tests/fixtures/qwen3-f32-tied", src_root());
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/ref.safetensors", FIX.dir);
    if (octo_formats_st_open(path, &FIX.st, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    octo_formats_tensor t;
    if (octo_formats_st_find(FIX.st, "input_ids", &t)) return -1;
    FIX.prompt = t.data;
    FIX.n_prompt = t.shape[0];
    if (octo_formats_st_find(FIX.st, "greedy_ids", &t)) return -1;
    FIX.greedy = t.data;
    FIX.n_greedy = t.shape[0];
    return 0;
}

static octo_sched *sched_for(int64_t block_size, int64_t kv_blocks, const octo_sched_opts *so)
{
    test_engine_opts o = {.model_path = FIX.dir, .n_threads = 2, .block_size = block_size,
                          .kv_blocks = kv_blocks};
    octo_engine *e = NULL;
    octo_sched *s = NULL;
    char err[256];
    if (test_engine_new(&o, &e, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        return NULL;
    }
    if (octo_sched_new(e, so, &s, err, sizeof err)) {
        fprintf(stderr, "sched: %s\n", err);
        octo_engine_free(e);
        return NULL;
    }
    return s;
}

/* The slow model: random weights, hidden 512, 4 layers, vocab 4096 (a few
 * ms per step), for timeouts and a full queue. */
static octo_sched *slow_sched(const octo_sched_opts *so)
{
    char dir[] = "/tmp/octo-sched-XXXXXX";
    if (!mkdtemp(dir)) return NULL;
    char path[64];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f, "{\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": \"qwen3\", "
               "\"hidden_size\": 512, \"intermediate_size\": 1536, \"num_hidden_layers\": 4, "
               "\"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"head_dim\": 64, "
               "\"vocab_size\": 4096, \"max_position_embeddings\": 1024, "
               "\"rms_norm_eps\": 1e-6, \"rope_theta\": 10000.0, \"eos_token_id\": 2, "
               "\"tie_word_embeddings\": false, \"torch_dtype\": \"float32\"}\n");
    fclose(f);
    test_engine_opts o = {.model_path = path, .dummy = true, .dummy_seed = 3, .n_threads = 2,
                          .kv_blocks = 256};
    octo_engine *e = NULL;
    octo_sched *s = NULL;
    char err[256];
    octo_err rc = test_engine_new(&o, &e, err, sizeof err);
    unlink(path);
    rmdir(dir);
    if (rc) {
        fprintf(stderr, "dummy engine: %s\n", err);
        return NULL;
    }
    if (octo_sched_new(e, so, &s, err, sizeof err)) {
        octo_engine_free(e);
        return NULL;
    }
    return s;
}

static void wait_idle(octo_sched *s, octo_sched_stats *st)
{
    double until = octo_now() + WAIT_S;
    do {
        octo_sched_stats_get(s, st);
        if (st->running == 0 && st->waiting == 0) return;
        usleep(1000);
    } while (octo_now() < until);
}

/* ==== the reference: each request alone ==== */

static job ALONE[N_REQ];
static bool alone_done;

static void alone_runs(void)
{
    if (alone_done) return;
    make_jobs(ALONE, N_REQ, FIX.prompt, FIX.n_prompt);
    octo_sched *s = sched_for(4, 256, NULL);
    CHECK(s != NULL);
    if (!s) return;
    double t0 = octo_now();
    for (int i = 0; i < N_REQ; i++) {
        run_job(s, &ALONE[i]);
        CHECK_EQ_INT(ALONE[i].submit_rc, OCTO_OK);
        CHECK_EQ_INT(ALONE[i].end_rc, OCTO_E_CLOSED);
        CHECK_EQ_INT(ALONE[i].n_final, 1);
    }
    fprintf(stderr, "  alone: 64 requests one after another in %.3f s\n", octo_now() - t0);
    octo_sched_free(s);
    alone_done = true;
}

/* The fixture prompt through the scheduler: transformers' tokens. */
static void test_reference_tokens(void)
{
    CHECK_EQ_INT(fixture_open(), 0);
    if (!FIX.st) return;
    alone_runs();
    CHECK_EQ_INT(ALONE[0].n_out, FIX.n_greedy);
    CHECK(memcmp(ALONE[0].out, FIX.greedy, (size_t)FIX.n_greedy * sizeof(int32_t)) == 0);
    CHECK_EQ_INT(ALONE[0].fin, OCTO_FINISH_LENGTH);
    CHECK_EQ_INT(ALONE[0].completion_tokens, 32);
    int stops = 0;
    for (int i = 0; i < N_REQ; i++) {
        const job *j = &ALONE[i];
        CHECK(j->n_out >= 1 && j->n_out <= j->max_tokens);
        CHECK_EQ_INT(j->completion_tokens, j->n_out);
        if (j->fin == OCTO_FINISH_STOP) {
            stops++;
            CHECK_EQ_INT(j->out[j->n_out - 1], 2); /* EOS carried by the final event */
        } else {
            CHECK_EQ_INT(j->fin, OCTO_FINISH_LENGTH);
            CHECK_EQ_INT(j->n_out, j->max_tokens);
        }
    }
    fprintf(stderr, "  alone: %d of %d requests stopped at EOS\n", stops, N_REQ);
}

static void check_against_alone(octo_sched *s, const char *what, octo_sched_stats *st)
{
    job jobs[N_REQ];
    make_jobs(jobs, N_REQ, FIX.prompt, FIX.n_prompt);
    double t0 = octo_now();
    run_concurrent(s, jobs, N_REQ);
    double dt = octo_now() - t0;
    for (int i = 0; i < N_REQ; i++) CHECK_EQ_INT(jobs[i].n_final, 1);
    CHECK_EQ_INT(n_mismatch(ALONE, jobs, N_REQ), 0);
    wait_idle(s, st);
    CHECK_EQ_INT(st->running, 0);
    CHECK_EQ_INT(st->kv_blocks_used, 0);
    fprintf(stderr, "  %s: 64 requests in %.3f s, %lld steps, %lld preemptions\n", what, dt,
            (long long)st->steps_total, (long long)st->swapped_or_preempted_total);
}

static void test_concurrent(void)
{
    if (!alone_done) return;
    octo_sched *s = sched_for(4, 1024, NULL);
    CHECK(s != NULL);
    if (!s) return;
    octo_sched_stats st;
    check_against_alone(s, "concurrent", &st);
    /* statistics */
    int64_t gen = 0, prompt = 0;
    for (int i = 0; i < N_REQ; i++) {
        gen += ALONE[i].n_out;
        prompt += ALONE[i].n_prompt;
    }
    CHECK_EQ_INT(st.generation_tokens_total, gen);
    CHECK_EQ_INT(st.prompt_tokens_total, prompt);
    CHECK_EQ_INT(st.requests_finished_total, N_REQ);
    int stops = 0;
    for (int i = 0; i < N_REQ; i++) stops += ALONE[i].fin == OCTO_FINISH_STOP;
    CHECK_EQ_INT(st.finished_by[OCTO_FINISH_STOP], stops);
    CHECK_EQ_INT(st.finished_by[OCTO_FINISH_LENGTH], N_REQ - stops);
    CHECK_EQ_INT(st.ttft_total, N_REQ);
    CHECK_EQ_INT(st.itl_total, gen - N_REQ);
    CHECK_EQ_INT(st.n_buckets, 16);
    CHECK(st.ttft_count[15] <= st.ttft_total && st.ttft_sum > 0.0);
    for (int b = 1; b < st.n_buckets; b++) {
        CHECK(st.ttft_count[b] >= st.ttft_count[b - 1]);
        CHECK(st.itl_count[b] >= st.itl_count[b - 1]);
    }
    CHECK(st.steps_total < gen); /* batched: far fewer steps than tokens */
    CHECK_EQ_INT(st.kv_blocks_total, 1024);
    octo_sched_free(s);
}

static void test_chunked_prefill(void)
{
    if (!alone_done) return;
    octo_sched_opts so = {.max_num_batched_tokens = 5, .max_num_seqs = 8};
    octo_sched *s = sched_for(4, 1024, &so);
    CHECK(s != NULL);
    if (!s) return;
    octo_sched_stats st;
    check_against_alone(s, "chunked prefill (5 tokens a step, 5 seqs)", &st);
    int64_t tokens = 0;
    for (int i = 0; i < N_REQ; i++) tokens += ALONE[i].n_prompt + ALONE[i].n_out - 1;
    CHECK(st.steps_total >= tokens / 5);
    octo_sched_free(s);
}

static void test_preemption(void)
{
    if (!alone_done) return;
    /* 24 blocks x 4 tokens: room for ~2 of these sequences at a time */
    octo_sched *s = sched_for(4, 24, NULL);
    CHECK(s != NULL);
    if (!s) return;
    octo_sched_stats st;
    check_against_alone(s, "preemption (24 blocks of 4)", &st);
    CHECK(st.swapped_or_preempted_total > 0);
    octo_sched_free(s);
}

/* ==== prefix cache ==== */

static void test_prefix_cache(void)
{
    if (!FIX.st) return;
    octo_sched_opts so = {.prefix_caching = true};
    octo_sched *s = sched_for(4, 256, &so);
    octo_sched *plain = sched_for(4, 256, NULL);
    CHECK(s && plain);
    if (!s || !plain) goto done;
    job a = {.n_prompt = 30, .max_tokens = 12, .ignore_eos = true, .logprobs = 3};
    uint64_t x = 7;
    for (int k = 0; k < 30; k++) a.prompt[k] = 3 + (int32_t)(lcg(&x) % 509);
    job b = a, c = a, ref = a;
    run_job(plain, &ref);
    run_job(s, &a);
    CHECK_EQ_INT(a.cached, 0);
    run_job(s, &b); /* the same prompt again: 7 full blocks of the first 29 tokens */
    CHECK_EQ_INT(b.cached, 28);
    int bit_equal = 0;
    float worst = 0.0f;
    for (int i = 0; i < 12; i++) {
        if (fabsf(b.lp[i] - ref.lp[i]) > worst) worst = fabsf(b.lp[i] - ref.lp[i]);
        CHECK_EQ_INT(a.out[i], ref.out[i]);
        CHECK_EQ_INT(b.out[i], ref.out[i]);
        CHECK(fabsf(b.lp[i] - ref.lp[i]) <= 1e-5f);
        bit_equal += b.lp[i] == ref.lp[i] && a.lp[i] == ref.lp[i];
    }
    /* shares 20 tokens then differs: 5 blocks */
    for (int k = 20; k < 30; k++) c.prompt[k] = 3 + (int32_t)(lcg(&x) % 509);
    job cref = c;
    run_job(plain, &cref);
    run_job(s, &c);
    CHECK_EQ_INT(c.cached, 20);
    CHECK_EQ_INT(c.n_out, 12);
    CHECK(memcmp(c.out, cref.out, sizeof c.out[0] * 12) == 0);
    /* generated tokens are cached too: prompt + output of a as a prompt */
    job d = a;
    memcpy(d.prompt + 30, a.out, 11 * sizeof(int32_t));
    d.n_prompt = 41;
    run_job(s, &d);
    CHECK_EQ_INT(d.cached, 40);
    octo_sched_stats st;
    wait_idle(s, &st);
    CHECK_EQ_INT(st.kv_blocks_used, 0); /* cached blocks idle in the LRU are not used */
    CHECK(st.prefix_hit_tokens == 28 + 20 + 40);
    CHECK(st.prefix_queries_tokens == 30 + 30 + 30 + 41);
    fprintf(stderr, "  prefix cache: hits %lld of %lld tokens; logprobs bit-equal to the "
            "uncached run at %d of 12 positions, max |diff| %.3g\n",
            (long long)st.prefix_hit_tokens, (long long)st.prefix_queries_tokens, bit_equal,
            (double)worst);
done:
    octo_sched_free(s);
    octo_sched_free(plain);
}

/* Requests sharing a long system prompt, concurrently, in a pool small
 * enough to preempt and to reclaim cached blocks: same as alone. */
static void test_prefix_shared_under_pressure(void)
{
    if (!FIX.st) return;
    enum { N = 32 };
    static job jobs[N], ref[N];
    uint64_t x = 99;
    int32_t sys[24];
    for (int k = 0; k < 24; k++) sys[k] = 3 + (int32_t)(lcg(&x) % 509);
    for (int i = 0; i < N; i++) {
        job *j = &jobs[i];
        memset(j, 0, sizeof *j);
        int64_t shared = i % 3 == 0 ? 24 : 13; /* a full and a partial block boundary */
        memcpy(j->prompt, sys, (size_t)shared * sizeof *sys);
        j->n_prompt = shared + 1 + (int64_t)(lcg(&x) % 12);
        for (int64_t k = shared; k < j->n_prompt; k++) j->prompt[k] = 3 + (int32_t)(lcg(&x) % 509);
        j->max_tokens = 6 + (int64_t)(lcg(&x) % 16);
        j->ignore_eos = true;
        j->logprobs = -1;
        ref[i] = *j;
    }
    octo_sched *plain = sched_for(4, 256, NULL);
    CHECK(plain != NULL);
    if (!plain) return;
    for (int i = 0; i < N; i++) run_job(plain, &ref[i]);
    octo_sched_free(plain);
    octo_sched_opts so = {.prefix_caching = true, .max_num_batched_tokens = 16};
    octo_sched *s = sched_for(4, 40, &so);
    CHECK(s != NULL);
    if (!s) return;
    for (int round = 0; round < 2; round++) { /* the second round finds a warm cache */
        run_concurrent(s, jobs, N);
        CHECK_EQ_INT(n_mismatch(ref, jobs, N), 0);
    }
    octo_sched_stats st;
    wait_idle(s, &st);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK(st.prefix_hit_tokens > 0);
    CHECK(st.swapped_or_preempted_total > 0);
    fprintf(stderr, "  shared prefixes, 40 blocks: %lld preemptions, prefix hits %lld of %lld\n",
            (long long)st.swapped_or_preempted_total, (long long)st.prefix_hit_tokens,
            (long long)st.prefix_queries_tokens);
    octo_sched_free(s);
}

/* ==== a randomised mix: shared prefixes, cancels, frees, a small pool ==== */

#define N_MIX 96
#define MIX_THREADS 16

typedef struct mix_job {
    job j;
    int cancel_after; /* -1 never; k: cancel after k events; -2: free after 1 event */
} mix_job;

typedef struct mix_runner {
    octo_sched *s;
    mix_job *jobs;
    int first, n;
} mix_runner;

static void run_mix_job(octo_sched *s, mix_job *m)
{
    job *j = &m->j;
    octo_sampling_params p;
    job_params(j, &p);
    octo_sched_req *r = NULL;
    j->n_out = 0;
    j->fin = OCTO_FINISH_NONE;
    j->submit_rc = octo_sched_submit(s, j->prompt, j->n_prompt, &p, j->max_tokens, &r, NULL, 0);
    if (j->submit_rc) return;
    octo_sched_event ev;
    int seen = 0;
    while ((j->end_rc = octo_sched_req_next(r, WAIT_S, &ev)) == OCTO_OK) {
        if (ev.token >= 0 && j->n_out < MAX_OUT) j->out[j->n_out++] = ev.token;
        if (ev.finish) j->fin = ev.finish;
        seen++;
        if (m->cancel_after == -2) break; /* the client goes away */
        if (seen == m->cancel_after) octo_sched_req_cancel(r);
    }
    octo_sched_req_free(r);
}

static void *mix_thread(void *arg)
{
    mix_runner *ru = arg;
    for (int i = ru->first; i < ru->first + ru->n; i++) run_mix_job(ru->s, &ru->jobs[i]);
    return NULL;
}

static void test_random_mix(void)
{
    if (!FIX.st) return;
    static mix_job mix[N_MIX];
    static job ref[N_MIX];
    uint64_t x = 2024;
    int32_t sys[4][20];
    for (int v = 0; v < 4; v++) {
        for (int k = 0; k < 20; k++) sys[v][k] = 3 + (int32_t)(lcg(&x) % 509);
    }
    for (int i = 0; i < N_MIX; i++) {
        job *j = &mix[i].j;
        memset(&mix[i], 0, sizeof mix[i]);
        int64_t shared = (int64_t)(lcg(&x) % 21);
        memcpy(j->prompt, sys[lcg(&x) % 4], (size_t)shared * sizeof(int32_t));
        j->n_prompt = shared + 1 + (int64_t)(lcg(&x) % 10);
        for (int64_t k = shared; k < j->n_prompt; k++) j->prompt[k] = 3 + (int32_t)(lcg(&x) % 509);
        j->max_tokens = 2 + (int64_t)(lcg(&x) % 20);
        j->ignore_eos = lcg(&x) % 2;
        j->logprobs = -1;
        uint64_t c = lcg(&x) % 8;
        mix[i].cancel_after = c == 0 ? 1 + (int)(lcg(&x) % 4) : c == 1 ? -2 : -1;
        ref[i] = *j;
    }
    octo_sched *plain = sched_for(4, 256, NULL);
    CHECK(plain != NULL);
    if (!plain) return;
    for (int i = 0; i < N_MIX; i++) run_job(plain, &ref[i]);
    octo_sched_free(plain);
    octo_sched_opts so = {.prefix_caching = true, .max_num_batched_tokens = 12,
                          .max_num_seqs = 12};
    octo_sched *s = sched_for(4, 32, &so);
    CHECK(s != NULL);
    if (!s) return;
    pthread_t th[MIX_THREADS];
    mix_runner ru[MIX_THREADS];
    for (int t = 0; t < MIX_THREADS; t++) {
        ru[t] = (mix_runner){s, mix, t * (N_MIX / MIX_THREADS), N_MIX / MIX_THREADS};
        CHECK_EQ_INT(pthread_create(&th[t], NULL, mix_thread, &ru[t]), 0);
    }
    for (int t = 0; t < MIX_THREADS; t++) pthread_join(th[t], NULL);
    int compared = 0, cancelled = 0;
    for (int i = 0; i < N_MIX; i++) {
        const job *j = &mix[i].j;
        CHECK_EQ_INT(j->submit_rc, OCTO_OK);
        if (mix[i].cancel_after == -1) {
            CHECK_EQ_INT(j->end_rc, OCTO_E_CLOSED);
            CHECK_EQ_INT(n_mismatch(&ref[i], j, 1), 0);
            compared++;
        } else if (j->fin == OCTO_FINISH_CANCELLED) {
            cancelled++;
        }
        /* whatever came out is a prefix of the reference */
        CHECK(j->n_out <= ref[i].n_out);
        CHECK(memcmp(j->out, ref[i].out, (size_t)j->n_out * sizeof j->out[0]) == 0);
    }
    octo_sched_stats st;
    wait_idle(s, &st);
    CHECK_EQ_INT(st.running, 0);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK_EQ_INT(st.requests_finished_total, N_MIX);
    fprintf(stderr, "  random mix: %d compared with alone, %d cancelled, %lld preemptions, "
            "prefix hits %lld of %lld tokens\n", compared, cancelled,
            (long long)st.swapped_or_preempted_total, (long long)st.prefix_hit_tokens,
            (long long)st.prefix_queries_tokens);
    octo_sched_free(s);
}

/* ==== prompt logprobs (echo + logprobs) ==== */

typedef struct plp_out {
    int64_t n_events, bad_order, n_gen, cached;
    int32_t gen[8];
    octo_sample_result lp[200]; /* by prompt index */
} plp_out;

typedef struct plp_job {
    octo_sched *s;
    const int32_t *prompt;
    int64_t n_prompt;
    int32_t k;
    plp_out out;
    octo_err rc;
} plp_job;

static void *plp_run(void *arg)
{
    plp_job *pj = arg;
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    p.ignore_eos = true;
    octo_sched_req *r = NULL;
    plp_out *o = &pj->out;
    memset(o, 0, sizeof *o);
    pj->rc = octo_sched_submit_ex(pj->s, pj->prompt, pj->n_prompt, &p, 4, pj->k, &r, NULL, 0);
    if (pj->rc) return NULL;
    octo_sched_event ev;
    int64_t want = 1;
    while (octo_sched_req_next(r, WAIT_S, &ev) == OCTO_OK) {
        o->cached = ev.cached_tokens;
        if (ev.prompt_index >= 0) {
            if (ev.prompt_index != want || o->n_gen > 0 || ev.token != pj->prompt[want]) {
                o->bad_order++;
            }
            if (ev.prompt_index < 200) o->lp[ev.prompt_index] = ev.sample;
            want = ev.prompt_index + 1;
            o->n_events++;
        } else if (ev.token >= 0 && o->n_gen < 8) {
            o->gen[o->n_gen++] = ev.token;
        }
    }
    octo_sched_req_free(r);
    return NULL;
}

/* The fixture prompt's logprobs against log_softmax of transformers'
 * logits at every position (in chunks of 5 tokens). */
static void test_prompt_logprobs(void)
{
    if (!FIX.st) return;
    octo_formats_tensor t;
    CHECK_EQ_INT(octo_formats_st_find(FIX.st, "logits", &t), OCTO_OK);
    const float *ref = t.data;
    int64_t V = t.shape[1];
    float max_abs = 0.0f;
    for (int64_t i = 0; i < FIX.n_prompt * V; i++) {
        if (fabsf(ref[i]) > max_abs) max_abs = fabsf(ref[i]);
    }
    double tol = 2e-4 * max_abs;
    octo_sched_opts so = {.max_num_batched_tokens = 5, .prefix_caching = true};
    octo_sched *s = sched_for(4, 256, &so);
    CHECK(s != NULL);
    if (!s) return;
    job warm = {.n_prompt = FIX.n_prompt, .max_tokens = 1, .logprobs = -1};
    memcpy(warm.prompt, FIX.prompt, (size_t)FIX.n_prompt * sizeof(int32_t));
    run_job(s, &warm); /* the prompt is in the prefix cache now */
    plp_job pj = {.s = s, .prompt = FIX.prompt, .n_prompt = FIX.n_prompt, .k = 5};
    plp_run(&pj);
    CHECK_EQ_INT(pj.rc, OCTO_OK);
    CHECK_EQ_INT(pj.out.n_events, FIX.n_prompt - 1);
    CHECK_EQ_INT(pj.out.bad_order, 0);
    CHECK_EQ_INT(pj.out.cached, 0); /* logits were needed everywhere */
    CHECK_EQ_INT(pj.out.n_gen, 4);
    CHECK(memcmp(pj.out.gen, FIX.greedy, 4 * sizeof(int32_t)) == 0);
    double worst = 0.0;
    int id_checked = 0, id_bad = 0;
    for (int64_t i = 1; i < FIX.n_prompt; i++) {
        const float *row = ref + (i - 1) * V;
        double mx = row[0], sum = 0.0;
        for (int64_t v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
        for (int64_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
        double lse = mx + log(sum);
        const octo_sample_result *g = &pj.out.lp[i];
        double d = fabs((double)g->logprob - ((double)row[FIX.prompt[i]] - lse));
        worst = d > worst ? d : worst;
        CHECK_EQ_INT(g->n_top, 5);
        for (int k = 0; k < g->n_top; k++) {
            d = fabs((double)g->top_logprobs[k] - ((double)row[g->top_ids[k]] - lse));
            worst = d > worst ? d : worst;
            /* rank k: no other token above the k-th by more than tol */
            int above = 0;
            for (int64_t v = 0; v < V; v++) above += row[v] > row[g->top_ids[k]] + tol;
            id_checked++;
            id_bad += above > k;
        }
    }
    CHECK(worst <= tol);
    CHECK_EQ_INT(id_bad, 0);
    fprintf(stderr, "  prompt logprobs vs transformers: %lld positions, max |diff| %.3g "
            "(tol %.3g), %d top ids ranked right\n", (long long)(FIX.n_prompt - 1), worst, tol,
            id_checked);
    octo_sched_free(s);
}

/* Prompt-logprob requests among others, in a pool that forces preemption:
 * each gets every prompt event once, in order, equal to its run alone. */
static void test_prompt_logprobs_concurrent(void)
{
    if (!alone_done) return;
    enum { N = 8 };
    static plp_job alone[N], conc[N];
    octo_sched *s = sched_for(4, 256, NULL);
    CHECK(s != NULL);
    if (!s) return;
    for (int i = 0; i < N; i++) {
        alone[i] = (plp_job){.s = s, .prompt = ALONE[i + 1].prompt,
                             .n_prompt = ALONE[i + 1].n_prompt, .k = 2};
        plp_run(&alone[i]);
    }
    octo_sched_free(s);
    octo_sched_opts so = {.max_num_batched_tokens = 48};
    s = sched_for(4, 14, &so);
    CHECK(s != NULL);
    if (!s) return;
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        conc[i] = alone[i];
        conc[i].s = s;
        CHECK_EQ_INT(pthread_create(&th[i], NULL, plp_run, &conc[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    float worst = 0.0f;
    for (int i = 0; i < N; i++) {
        const plp_out *a = &alone[i].out, *c = &conc[i].out;
        CHECK_EQ_INT(c->n_events, alone[i].n_prompt - 1);
        CHECK_EQ_INT(a->n_events, alone[i].n_prompt - 1);
        CHECK_EQ_INT(c->bad_order, 0);
        CHECK_EQ_INT(c->n_gen, 4);
        CHECK(memcmp(a->gen, c->gen, 4 * sizeof(int32_t)) == 0);
        for (int64_t p = 1; p < alone[i].n_prompt; p++) {
            float d = fabsf(a->lp[p].logprob - c->lp[p].logprob);
            worst = d > worst ? d : worst;
            CHECK_EQ_INT(a->lp[p].top_ids[0], c->lp[p].top_ids[0]);
        }
    }
    CHECK(worst <= 1e-4f);
    octo_sched_stats st;
    wait_idle(s, &st);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK(st.swapped_or_preempted_total > 0);
    fprintf(stderr, "  prompt logprobs, 8 at once in 14 blocks: %lld preemptions, max |diff| "
            "to alone %.3g\n", (long long)st.swapped_or_preempted_total, (double)worst);
    octo_sched_free(s);
}

/* Allocation failures anywhere in a request's life (submit, the engine
 * thread's sequence, block tables, event ring, logits): submit says NOMEM
 * or the request ends with a final event; nothing leaks, and the next
 * request is served normally. */
static void test_alloc_failures(void)
{
    if (!alone_done) return;
    octo_sched_opts so = {.prefix_caching = true, .max_num_batched_tokens = 8};
    octo_sched *s = sched_for(4, 64, &so);
    CHECK(s != NULL);
    if (!s) return;
    const job *ref = &ALONE[2];
    int clean_runs = 0, nomem = 0, errors = 0;
    for (long n = 1; n < 400 && clean_runs < 3; n++) {
        plp_job pj = {.s = s, .prompt = ref->prompt, .n_prompt = ref->n_prompt, .k = 2};
        octo_alloc_fail_after(n);
        plp_run(&pj);
        octo_alloc_fail_after(0);
        CHECK(pj.rc == OCTO_OK || pj.rc == OCTO_E_NOMEM);
        nomem += pj.rc == OCTO_E_NOMEM;
        bool whole = pj.rc == OCTO_OK && pj.out.n_gen == 4 &&
                     pj.out.n_events == ref->n_prompt - 1;
        if (pj.rc == OCTO_OK && !whole) errors++;
        clean_runs = whole ? clean_runs + 1 : 0;
        if (whole) CHECK(memcmp(pj.out.gen, ref->out, 4 * sizeof(int32_t)) == 0);
    }
    CHECK_EQ_INT(clean_runs, 3);
    job again = *ref;
    run_job(s, &again);
    CHECK_EQ_INT(n_mismatch(ref, &again, 1), 0);
    octo_sched_stats st;
    wait_idle(s, &st);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    fprintf(stderr, "  allocation failures: %d at submit, %d requests ended early\n", nomem,
            errors);
    octo_sched_free(s);
}

/* ==== cancel, timeout, busy, errors ==== */

static octo_sched_req *submit_long(octo_sched *s, int64_t max_tokens)
{
    int32_t prompt[8] = {5, 6, 7, 8, 9, 10, 11, 12};
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    p.ignore_eos = true;
    octo_sched_req *r = NULL;
    char err[128];
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 8, &p, max_tokens, &r, err, sizeof err), OCTO_OK);
    return r;
}

/* Reads events to the end; returns the finish reason and the tokens. */
static octo_finish drain(octo_sched_req *r, int64_t *n_tokens)
{
    octo_sched_event ev;
    octo_finish fin = OCTO_FINISH_NONE;
    int64_t n = 0;
    while (octo_sched_req_next(r, WAIT_S, &ev) == OCTO_OK) {
        if (ev.token >= 0) n++;
        if (ev.finish) fin = ev.finish;
    }
    if (n_tokens) *n_tokens = n;
    return fin;
}

static void test_cancel(void)
{
    if (!FIX.st) return;
    octo_sched_opts so = {.max_num_seqs = 1};
    octo_sched *s = sched_for(4, 128, &so);
    CHECK(s != NULL);
    if (!s) return;
    octo_sched_req *a = submit_long(s, 0); /* up to the context (256) */
    octo_sched_event ev;
    CHECK_EQ_INT(octo_sched_req_next(a, WAIT_S, &ev), OCTO_OK); /* a runs */
    octo_sched_req *b = submit_long(s, 0); /* waits: one seat */
    octo_sched_req *c = submit_long(s, 0);
    octo_sched_stats st;
    double until = octo_now() + WAIT_S;
    do { /* the statistics follow the step that sent the event */
        octo_sched_stats_get(s, &st);
    } while ((st.kv_blocks_used == 0 || st.waiting < 2) && octo_now() < until);
    CHECK(st.kv_blocks_used > 0);
    CHECK_EQ_INT(st.running, 1);
    CHECK_EQ_INT(st.waiting, 2);
    octo_sched_req_cancel(b); /* a waiting request */
    int64_t nb;
    CHECK_EQ_INT(drain(b, &nb), OCTO_FINISH_CANCELLED);
    CHECK_EQ_INT(nb, 0);
    octo_sched_req_cancel(a); /* a running one */
    octo_sched_req_cancel(a);
    int64_t na;
    CHECK_EQ_INT(drain(a, &na), OCTO_FINISH_CANCELLED);
    CHECK(na < 248);
    CHECK_EQ_INT(octo_sched_req_next(a, 0.0, &ev), OCTO_E_CLOSED);
    octo_sched_req_free(a);
    octo_sched_req_free(b);
    /* c runs now; its consumer goes away mid-stream */
    CHECK_EQ_INT(octo_sched_req_next(c, WAIT_S, &ev), OCTO_OK);
    octo_sched_req_free(c);
    wait_idle(s, &st);
    CHECK_EQ_INT(st.running, 0);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK_EQ_INT(st.requests_finished_total, 3);
    CHECK_EQ_INT(st.finished_by[OCTO_FINISH_CANCELLED], 3);
    /* cancel after the end is harmless */
    octo_sched_req *d = submit_long(s, 3);
    int64_t nd;
    CHECK_EQ_INT(drain(d, &nd), OCTO_FINISH_LENGTH);
    CHECK_EQ_INT(nd, 3);
    octo_sched_req_cancel(d);
    CHECK_EQ_INT(octo_sched_req_next(d, 0.0, &ev), OCTO_E_CLOSED);
    octo_sched_req_free(d);
    /* shutdown with live requests: they end CANCELLED, consumers free later */
    octo_sched_req *e1 = submit_long(s, 0), *e2 = submit_long(s, 0);
    CHECK_EQ_INT(octo_sched_req_next(e1, WAIT_S, &ev), OCTO_OK);
    octo_sched_free(s);
    CHECK_EQ_INT(drain(e1, NULL), OCTO_FINISH_CANCELLED);
    CHECK_EQ_INT(drain(e2, NULL), OCTO_FINISH_CANCELLED);
    octo_sched_req_free(e1);
    octo_sched_req_free(e2);
}

static void test_timeout_and_busy(void)
{
    octo_sched_opts so = {.max_num_seqs = 1, .max_waiting = 2,
                          .request_timeout_s = 0.3 * SLOW};
    octo_sched *s = slow_sched(&so);
    CHECK(s != NULL);
    if (!s) return;
    double t0 = octo_now();
    octo_sched_req *a = submit_long(s, 900); /* hundreds of steps of a few ms each */
    octo_sched_event ev;
    CHECK_EQ_INT(octo_sched_req_next(a, WAIT_S, &ev), OCTO_OK);
    CHECK(ev.ttft_s > 0.0);
    octo_sched_req *b = submit_long(s, 500), *c = submit_long(s, 500); /* one seat */
    int32_t prompt[2] = {5, 6};
    octo_sched_req *d = NULL;
    char err[160];
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 2, NULL, 4, &d, err, sizeof err), OCTO_E_BUSY);
    CHECK(d == NULL);
    octo_sched_stats st;
    octo_sched_stats_get(s, &st);
    CHECK_EQ_INT(st.waiting, 2);
    CHECK_EQ_INT(octo_sched_req_next(b, 0.0, &ev), OCTO_E_TIMEOUT); /* nothing yet */
    int64_t na, nb;
    CHECK_EQ_INT(drain(a, &na), OCTO_FINISH_TIMEOUT);
    double dt = octo_now() - t0;
    CHECK(na > 0 && na < 900);
    CHECK(dt >= 0.3 * SLOW && dt < 10.0 * SLOW);
    /* b and c were queued a few ms after a: b gets a's seat for those few
     * ms, c (due microseconds after b) almost always times out in the queue */
    int64_t nc;
    CHECK_EQ_INT(drain(b, &nb), OCTO_FINISH_TIMEOUT);
    CHECK_EQ_INT(drain(c, &nc), OCTO_FINISH_TIMEOUT);
    CHECK(nb < 500 && nc < 500);
    fprintf(stderr, "  timeout: a stopped after %lld tokens, %.3f s; b %lld tokens, c %lld\n",
            (long long)na, dt, (long long)nb, (long long)nc);
    octo_sched_req_free(a);
    octo_sched_req_free(b);
    octo_sched_req_free(c);
    wait_idle(s, &st);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK_EQ_INT(st.finished_by[OCTO_FINISH_TIMEOUT], 3);
    octo_sched_free(s);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The slow model with the prefix cache: the second request with the same
 * long prompt reports cached tokens and a far lower TTFT, and an idle
 * engine thread burns no CPU. */
static void test_prefix_ttft_and_idle(void)
{
    octo_sched_opts so = {.prefix_caching = true};
    octo_sched *s = slow_sched(&so);
    CHECK(s != NULL);
    if (!s) return;
    job a = {.n_prompt = 192, .max_tokens = 2, .ignore_eos = true, .logprobs = -1};
    uint64_t x = 5;
    for (int k = 0; k < 192; k++) a.prompt[k] = 3 + (int32_t)(lcg(&x) % 4000);
    job b = a;
    run_job(s, &a);
    run_job(s, &b);
    double ta = a.ttft, tb = b.ttft;
    CHECK_EQ_INT(a.cached, 0);
    CHECK_EQ_INT(b.cached, 176); /* 11 blocks of 16 of the first 191 tokens */
    CHECK_EQ_INT(b.n_out, 2);
    CHECK(memcmp(a.out, b.out, 2 * sizeof a.out[0]) == 0);
    octo_sched_stats st;
    octo_sched_stats_get(s, &st);
    CHECK_EQ_INT(st.ttft_total, 2);
    CHECK(tb > 0.0);
#ifndef UNDER_TSAN
    CHECK(tb < ta);
#endif
    /* idle: 0.2 s of wall time, (almost) no CPU time */
    double c0 = cpu_seconds();
    usleep(200000);
    double idle_cpu = cpu_seconds() - c0;
    CHECK(idle_cpu < 0.05);
    fprintf(stderr, "  slow model, 192-token prompt: TTFT %.1f ms, then with 176 cached "
            "%.1f ms; idle engine: %.1f ms CPU in 200 ms\n", ta * 1e3, tb * 1e3,
            idle_cpu * 1e3);
    octo_sched_free(s);
}

static void test_submit_errors(void)
{
    if (!FIX.st) return;
    octo_sched *s = sched_for(4, 16, NULL); /* 64 tokens of pool: the longest sequence */
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(octo_sched_max_len(s), 64);
    int32_t prompt[64] = {0};
    octo_sched_req *r = NULL;
    char err[256];
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 64, NULL, 0, &r, err, sizeof err),
                 OCTO_E_TOO_LARGE);
    CHECK(strstr(err, "64") != NULL);
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 0, NULL, 0, &r, err, sizeof err), OCTO_E_INVALID);
    prompt[3] = 512;
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 5, NULL, 0, &r, err, sizeof err), OCTO_E_INVALID);
    CHECK(strstr(err, "512") != NULL);
    prompt[3] = 4;
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.top_p = 2.0f;
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 5, &p, 0, &r, err, sizeof err), OCTO_E_INVALID);
    CHECK(r == NULL);
    /* 63 prompt tokens: exactly one completion token fits */
    octo_sampling_params g;
    octo_engine_sampling_default(&g);
    g.temperature = 0.0f;
    g.ignore_eos = true;
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 63, &g, 0, &r, err, sizeof err), OCTO_OK);
    int64_t n;
    CHECK_EQ_INT(drain(r, &n), OCTO_FINISH_LENGTH);
    CHECK_EQ_INT(n, 1);
    octo_sched_req_free(r);
    /* logit_bias is copied: the caller's array may go away */
    octo_logit_bias *bias = malloc(sizeof *bias);
    bias->token = 77;
    bias->bias = 100.0f;
    g.n_logit_bias = 1;
    g.logit_bias = bias;
    CHECK_EQ_INT(octo_sched_submit(s, prompt, 10, &g, 3, &r, err, sizeof err), OCTO_OK);
    bias->token = 1;
    free(bias);
    octo_sched_event ev;
    CHECK_EQ_INT(octo_sched_req_next(r, WAIT_S, &ev), OCTO_OK);
    CHECK_EQ_INT(ev.token, 77);
    CHECK_EQ_INT(ev.prompt_tokens, 10);
    CHECK_EQ_INT(ev.completion_tokens, 1);
    octo_sched_req_free(r);
    octo_sched_free(s);
    octo_sched_free(NULL);
    octo_sched_req_free(NULL);
}

static void test_cleanup(void)
{
    octo_formats_st_close(FIX.st);
    FIX.st = NULL;
}

TEST_MAIN(TEST(test_reference_tokens), TEST(test_concurrent), TEST(test_chunked_prefill),
          TEST(test_preemption), TEST(test_prefix_cache), TEST(test_prefix_shared_under_pressure),
          TEST(test_random_mix), TEST(test_prompt_logprobs),
          TEST(test_prompt_logprobs_concurrent), TEST(test_alloc_failures),
          TEST(test_cancel), TEST(test_timeout_and_busy), TEST(test_prefix_ttft_and_idle),
          TEST(test_submit_errors),
          TEST(test_cleanup))
