/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_cpu_bench — CPU engine benchmark (driven by bench/cpu_bench.sh):
 *   1. memory bandwidth, STREAM-like: copy (a = b) and triad (a = b + s*c)
 *      over arrays far larger than the last-level cache, on the engine's
 *      thread count, best of several runs (bytes moved counted as STREAM
 *      does: 2 or 3 arrays per element, no write-allocate);
 *   2. a dummy-weight model from a config.json (e.g. Qwen3-0.6B, bf16):
 *      prefill tokens/s for one prompt in one step, decode tokens/s at
 *      batch 1 (and batch B if asked), and the fraction of the bandwidth
 *      roofline decode reaches: weight bytes read per token / time per
 *      token / measured bandwidth.
 * Prints one JSON object per line.
 *
 * usage: tool_cpu_bench CONFIG_JSON [prompt_tokens=512] [decode_tokens=32]
 *                       [threads=0] [batch=8] [stream_mib=512]
 */
#include "engine/engine.h"
#include "octo_engine_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process CPU seconds (all threads): on a shared machine, wall time also
 * counts the time other processes held our cores. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct stream_ctx {
    double *a, *b, *c;
    int64_t n;
    int triad;
} stream_ctx;

static void stream_task(void *ctx, int64_t i0, int64_t i1, int thread)
{
    stream_ctx *s = ctx;
    if (s->triad) {
        for (int64_t i = i0; i < i1; i++) s->a[i] = s->b[i] + 3.0 * s->c[i];
    } else {
        for (int64_t i = i0; i < i1; i++) s->a[i] = s->b[i];
    }
}

static void bandwidth(int threads, long mib, double *copy_gbs, double *triad_gbs)
{
    octo_tensor_pool *pool = octo_tensor_pool_new(threads);
    int64_t n = (int64_t)mib * 1024 * 1024 / 8 / 3;
    stream_ctx s = {malloc((size_t)n * 8), malloc((size_t)n * 8), malloc((size_t)n * 8), n, 0};
    /* first touch on the pool's threads */
    for (int64_t i = 0; i < n; i++) s.b[i] = 1.0, s.c[i] = 2.0, s.a[i] = 0.0;
    *copy_gbs = *triad_gbs = 0.0;
    for (int rep = 0; rep < 6; rep++) {
        s.triad = rep & 1;
        double t0 = octo_now();
        octo_tensor_pool_run(pool, n, 4096, stream_task, &s);
        double dt = octo_now() - t0;
        double gbs = (double)n * 8.0 * (s.triad ? 3.0 : 2.0) / dt / 1e9;
        double *best = s.triad ? triad_gbs : copy_gbs;
        if (gbs > *best) *best = gbs;
    }
    free(s.a);
    free(s.b);
    free(s.c);
    octo_tensor_pool_free(pool);
}

static long arg(int argc, char **argv, int i, long def)
{
    long v;
    if (argc > i && octo_parse_long(argv[i], 0, 1L << 30, &v) == OCTO_OK) return v;
    return def;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG_JSON [prompt] [decode] [threads] [batch] [mib]\n",
                argv[0]);
        return 2;
    }
    long n_prompt = arg(argc, argv, 2, 512), n_decode = arg(argc, argv, 3, 32);
    long threads = arg(argc, argv, 4, 0), batch = arg(argc, argv, 5, 8);
    long mib = arg(argc, argv, 6, 512);
    octo_log_set_level(OCTO_LOG_LEVEL_WARN);

    double copy_gbs, triad_gbs;
    bandwidth((int)threads, mib, &copy_gbs, &triad_gbs);
    printf("{\"bench\":\"stream\",\"threads\":%ld,\"array_mib\":%ld,\"copy_GBps\":%.2f,"
           "\"triad_GBps\":%.2f}\n", threads, mib / 3, copy_gbs, triad_gbs);
    fflush(stdout);

    test_engine_opts o = {.model_path = argv[1], .dummy = true, .dummy_seed = 1,
                          .n_threads = (int)threads, .kv_dtype = OCTO_DTYPE_BF16,
                          .kv_bytes = 1ull << 30, .max_batch_tokens = 16384};
    char err[256];
    octo_engine *e = NULL;
    double t0 = octo_now();
    if (test_engine_new(&o, &e, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        return 1;
    }
    double t_load = octo_now() - t0;
    const octo_model_info *in = octo_engine_model_info(e);
    int64_t V = in->vocab_size;
    float *logits = malloc((size_t)(V * (batch > 1 ? batch : 1)) * sizeof *logits);
    int32_t *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    for (long i = 0; i < n_prompt; i++) prompt[i] = (int32_t)((i * 7919 + 13) % V);
    octo_sampling_params sp;
    octo_engine_sampling_default(&sp);
    sp.temperature = 0.0f;

    /* prefill: one prompt in one step */
    octo_engine_seq *s = NULL;
    if (octo_engine_seq_new(e, prompt, n_prompt, &sp, &s)) return 1;
    octo_engine_item it = {.seq = s};
    t0 = octo_now();
    double c0 = cpu_now();
    if (octo_engine_step(e, &it, 1, logits)) return 1;
    double t_prefill = octo_now() - t0, c_prefill = cpu_now() - c0;

    /* decode, batch 1 (the sampler included) */
    t0 = octo_now();
    c0 = cpu_now();
    for (long g = 0; g < n_decode; g++) {
        octo_sample_result r;
        if (octo_engine_sample(e, s, logits, &r)) return 1;
        if (octo_engine_seq_append(e, s, r.token)) return 1;
        it = (octo_engine_item){.seq = s};
        if (octo_engine_step(e, &it, 1, logits)) return 1;
    }
    double t_decode = (octo_now() - t0) / (double)n_decode;
    double c_decode = (cpu_now() - c0) / (double)n_decode;
    octo_engine_seq_free(e, s);
    double bytes = (double)in->decode_bytes;
    double roofline = bytes / t_decode / (copy_gbs * 1e9);
    printf("{\"bench\":\"qwen3_dummy\",\"config\":\"%s\",\"weights\":\"%s\",\"params\":%llu,"
           "\"weight_bytes\":%llu,\"load_s\":%.2f,\"threads\":%d,\"simd\":\"%s\",\"blas\":%s,"
           "\"prefill_tokens\":%ld,\"prefill_s\":%.3f,\"prefill_tok_s\":%.1f,"
           "\"decode_tokens\":%ld,\"decode_ms_per_tok\":%.2f,\"decode_tok_s\":%.2f,"
           "\"decode_bytes_per_tok\":%.0f,\"decode_GBps\":%.2f,\"roofline_fraction\":%.3f,"
           "\"prefill_cpu_s\":%.3f,\"decode_cpu_ms_per_tok\":%.2f}\n",
           argv[1], octo_dtype_name(in->weight_dtype), (unsigned long long)in->n_params,
           (unsigned long long)in->weight_bytes, t_load,
           (int)threads,
           octo_tensor_cpu_simd(), octo_tensor_cpu_has_blas() ? "true" : "false", n_prompt,
           t_prefill, (double)n_prompt / t_prefill, n_decode, t_decode * 1e3, 1.0 / t_decode,
           bytes, bytes / t_decode / 1e9, roofline, c_prefill, c_decode * 1e3);
    fflush(stdout);

    /* decode, batch B: B sequences of 64 prompt tokens, one token each per step */
    if (batch > 1) {
        octo_engine_seq **seqs = calloc((size_t)batch, sizeof *seqs);
        octo_engine_item *items = calloc((size_t)batch, sizeof *items);
        for (long b = 0; b < batch; b++) {
            if (octo_engine_seq_new(e, prompt + b, 64, &sp, &seqs[b])) return 1;
            items[b] = (octo_engine_item){.seq = seqs[b]};
        }
        if (octo_engine_step(e, items, batch, logits)) return 1;
        long steps = n_decode / 2 > 4 ? n_decode / 2 : 4;
        t0 = octo_now();
        c0 = cpu_now();
        for (long g = 0; g < steps; g++) {
            for (long b = 0; b < batch; b++) {
                octo_sample_result r;
                if (octo_engine_sample(e, seqs[b], logits + items[b].logits_row * V, &r)) return 1;
                if (octo_engine_seq_append(e, seqs[b], r.token)) return 1;
                items[b] = (octo_engine_item){.seq = seqs[b]};
            }
            if (octo_engine_step(e, items, batch, logits)) return 1;
        }
        double dt = (octo_now() - t0) / (double)steps;
        double dc = (cpu_now() - c0) / (double)steps;
        printf("{\"bench\":\"qwen3_dummy_batch\",\"batch\":%ld,\"steps\":%ld,"
               "\"ms_per_step\":%.2f,\"decode_tok_s\":%.2f,\"cpu_ms_per_step\":%.2f}\n",
               batch, steps, dt * 1e3, (double)batch / dt, dc * 1e3);
        free(seqs);
        free(items);
    }
    free(prompt);
    free(logits);
    octo_engine_free(e);
    return 0;
}
