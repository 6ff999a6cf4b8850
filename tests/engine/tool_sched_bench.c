/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_sched_bench — the serving scheduler under load, without HTTP: C
 * client threads each submit requests one after another (closed loop)
 * until N requests are done; each has a random prompt of P tokens (the
 * first `shared` of them common to all, for the prefix cache) and
 * generates exactly G tokens (EOS ignored, greedy). Prints one JSON line:
 * wall time, output and total tokens/s, TTFT and inter-token latency
 * p50/p90/p99 (ms), engine steps, preemptions and prefix-cache hits.
 *
 * usage: tool_sched_bench MODEL_DIR|CONFIG_JSON concurrency prompt output
 *                         [requests=4*concurrency] [shared=0] [threads=0]
 * A path ending in .json is loaded with dummy weights (bf16).
 */
#include "engine/engine.h"
#include "octo_engine_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench {
    octo_sched *s;
    int64_t prompt, output, shared, vocab;
    int64_t next_req, n_req;
    pthread_mutex_t mu;
    double *ttft, *itl;
    int64_t n_ttft, n_itl;
    int errors;
} bench;

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static void one_request(bench *b, int64_t id, int32_t *prompt, double *itl)
{
    uint64_t x = 1000 + (uint64_t)id;
    uint64_t xs = 7;
    for (int64_t k = 0; k < b->prompt; k++) {
        uint64_t v = k < b->shared ? lcg(&xs) : lcg(&x);
        prompt[k] = 3 + (int32_t)(v % (uint64_t)(b->vocab - 3));
    }
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    p.ignore_eos = true;
    octo_sched_req *r = NULL;
    char err[256];
    if (octo_sched_submit(b->s, prompt, b->prompt, &p, b->output, &r, err, sizeof err)) {
        fprintf(stderr, "submit: %s\n", err);
        pthread_mutex_lock(&b->mu);
        b->errors++;
        pthread_mutex_unlock(&b->mu);
        return;
    }
    octo_sched_event ev;
    int64_t n = 0;
    double ttft = -1.0, last = 0.0;
    while (octo_sched_req_next(r, -1.0, &ev) == OCTO_OK) {
        if (ev.token < 0) continue;
        double now = octo_now();
        if (n == 0) ttft = ev.ttft_s;
        else itl[n - 1] = now - last;
        last = now;
        n++;
    }
    octo_sched_req_free(r);
    pthread_mutex_lock(&b->mu);
    if (ttft >= 0) b->ttft[b->n_ttft++] = ttft;
    for (int64_t i = 0; i + 1 < n; i++) b->itl[b->n_itl++] = itl[i];
    if (n != b->output) b->errors++;
    pthread_mutex_unlock(&b->mu);
}

static void *client(void *arg)
{
    bench *b = arg;
    int32_t *prompt = malloc((size_t)b->prompt * sizeof *prompt);
    double *itl = malloc((size_t)b->output * sizeof *itl);
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int64_t id = b->next_req < b->n_req ? b->next_req++ : -1;
        pthread_mutex_unlock(&b->mu);
        if (id < 0) break;
        one_request(b, id, prompt, itl);
    }
    free(prompt);
    free(itl);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int64_t n, double q)
{
    if (n == 0) return 0.0;
    int64_t i = (int64_t)(q * (double)(n - 1) + 0.5);
    return v[i] * 1e3;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL_DIR|CONFIG_JSON concurrency prompt output "
                        "[requests] [shared] [threads]\n", argv[0]);
        return 2;
    }
    long conc = strtol(argv[2], NULL, 10);
    bench b = {.prompt = strtol(argv[3], NULL, 10), .output = strtol(argv[4], NULL, 10)};
    b.n_req = argc > 5 ? strtol(argv[5], NULL, 10) : 4 * conc;
    b.shared = argc > 6 ? strtol(argv[6], NULL, 10) : 0;
    int threads = argc > 7 ? (int)strtol(argv[7], NULL, 10) : 0;
    if (conc < 1 || b.prompt < 1 || b.output < 1 || b.n_req < 1 || b.shared > b.prompt) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    size_t len = strlen(argv[1]);
    bool dummy = len > 5 && strcmp(argv[1] + len - 5, ".json") == 0;
    test_engine_opts o = {.model_path = argv[1], .dummy = dummy, .dummy_seed = 1,
                          .dummy_dtype = dummy ? OCTO_DTYPE_BF16 : OCTO_DTYPE_INVALID,
                          .n_threads = threads, .max_model_len = b.prompt + b.output + 16};
    octo_engine *e = NULL;
    char err[512];
    if (test_engine_new(&o, &e, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        return 1;
    }
    b.vocab = octo_engine_model_info(e)->vocab_size;
    octo_sched_opts so = {.prefix_caching = b.shared > 0, .max_num_seqs = conc};
    if (octo_sched_new(e, &so, &b.s, err, sizeof err)) {
        fprintf(stderr, "sched: %s\n", err);
        octo_engine_free(e);
        return 1;
    }
    b.ttft = malloc((size_t)b.n_req * sizeof *b.ttft);
    b.itl = malloc((size_t)(b.n_req * b.output) * sizeof *b.itl);
    pthread_mutex_init(&b.mu, NULL);
    pthread_t *th = malloc((size_t)conc * sizeof *th);
    double t0 = octo_now();
    for (long i = 0; i < conc; i++) pthread_create(&th[i], NULL, client, &b);
    for (long i = 0; i < conc; i++) pthread_join(th[i], NULL);
    double wall = octo_now() - t0;
    octo_sched_stats st;
    octo_sched_stats_get(b.s, &st);
    qsort(b.ttft, (size_t)b.n_ttft, sizeof *b.ttft, cmp_double);
    qsort(b.itl, (size_t)b.n_itl, sizeof *b.itl, cmp_double);
    double out_tokens = (double)(b.n_req * b.output);
    printf("{\"bench\":\"sched\",\"model\":\"%s\",\"concurrency\":%ld,\"prompt\":%lld,"
           "\"output\":%lld,\"requests\":%lld,\"shared_prefix\":%lld,\"wall_s\":%.3f,"
           "\"output_tok_s\":%.1f,\"total_tok_s\":%.1f,\"ttft_ms\":{\"p50\":%.1f,\"p90\":%.1f,"
           "\"p99\":%.1f},\"itl_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f},\"steps\":%lld,"
           "\"preemptions\":%lld,\"prefix_hit_tokens\":%lld,\"errors\":%d}\n",
           argv[1], conc, (long long)b.prompt, (long long)b.output, (long long)b.n_req,
           (long long)b.shared, wall, out_tokens / wall,
           (out_tokens + (double)(b.n_req * b.prompt)) / wall, pct(b.ttft, b.n_ttft, 0.5),
           pct(b.ttft, b.n_ttft, 0.9), pct(b.ttft, b.n_ttft, 0.99), pct(b.itl, b.n_itl, 0.5),
           pct(b.itl, b.n_itl, 0.9), pct(b.itl, b.n_itl, 0.99), (long long)st.steps_total,
           (long long)st.swapped_or_preempted_total, (long long)st.prefix_hit_tokens,
           b.errors);
    octo_sched_free(b.s);
    free(th);
    free(b.ttft);
    free(b.itl);
    pthread_mutex_destroy(&b.mu);
    return b.errors ? 1 : 0;
}
