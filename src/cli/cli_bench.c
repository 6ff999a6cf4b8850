/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_bench — `octo bench`: loads one model (real or dummy weights) on the
 * CPU or a CUDA device as a model instance (runtime/) and measures prefill tokens/s
 * at several prompt lengths, decode tokens/s at several batch sizes (each
 * sequence decoding after a prompt of `ctx` tokens), peak memory, the
 * machine's measured copy bandwidth and the fraction of the bandwidth
 * roofline batch-1 decode reaches: (bytes of weights read per token +
 * bytes of KV read at that context) / time per token / copy bandwidth.
 * JSON lines on stdout (one per measurement), a readable table on stderr.
 *
 * On the GPU, decode steps leave logits on the device and sample greedily
 * there; only the chosen ids come back. On the CPU the sizes are small so
 * CI can smoke-test it. It is not a load generator: no HTTP, no scheduler.
 */
#include "cli.h"
#include "cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config/config.h"
#include "engine/engine.h"
#include "runtime/runtime.h"

#ifdef OCTO_HAVE_CUDA
#include "cuda/cuda.h"
#endif

#define MAX_SIZES 8
#define BW_BYTES_GPU ((size_t)1 << 30)
#define BW_BYTES_CPU ((size_t)256 << 20)

static const char k_bench_help[] =
    "usage: octo bench --model DIR|CONFIG [options]\n"
    "\n"
    "Measures prefill and decode speed of one model and the fraction of the\n"
    "memory-bandwidth roofline that batch-1 decode reaches. JSON lines go to\n"
    "stdout, a table to stderr.\n"
    "\n"
    "  --model PATH                  model folder, or (with dummy) its config.json\n"
    "  --load-format F               auto | dummy (random bf16 weights)\n"
    "  --device N                    CUDA device (default: CPU)\n"
    "  --gpu-memory-utilization F    share of the GPU for the engine (default 0.9)\n"
    "  --quick                       fewer sizes and steps\n"
    "  --no-graphs                   run GPU decode steps op by op (no CUDA graphs)\n"
    "  --prefill N[,N...]            prompt lengths to time (0: none)\n"
    "  --batch N[,N...]              decode batch sizes to time (0: none)\n"
    "\n"
    "GPU sizes: prefill 512, 2048, 8192 tokens; decode batch 1, 8, 32, 64, 128\n"
    "after 512-token prompts. CPU sizes: prefill 32, 128; decode batch 1, 4\n"
    "after 32-token prompts (both capped by the model's context length).\n";

typedef struct bench_opts {
    const char *model;
    bool dummy, quick, no_graphs;
    int device; /* -1: CPU */
    double util;
    int64_t prefill[MAX_SIZES], batches[MAX_SIZES];
    int n_pre, n_bat; /* -1: the defaults */
} bench_opts;

typedef struct bench {
    bench_opts o;
    octo_engine *e;
    const octo_model_info *in;
    int64_t V;
    float *logits; /* host rows (CPU path, prefill) */
    uint64_t rng;
    double bw;     /* measured copy bandwidth, bytes/s */
    size_t peak_dev;
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int32_t next_token(bench *b)
{
    b->rng = b->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (int32_t)((b->rng >> 33) % (uint64_t)b->V);
}

static bool on_gpu(const bench *b) { return b->o.device >= 0; }

static void track_memory(bench *b)
{
#ifdef OCTO_HAVE_CUDA
    size_t used = 0, total = 0;
    if (on_gpu(b) && !octo_cuda_backend_memory(octo_engine_backend(b->e), &used, &total)) {
        if (used > b->peak_dev) b->peak_dev = used;
    }
#else
    (void)b;
#endif
}

/* ==== arguments ==== */

/* "N[,N...]" of at most MAX_SIZES sizes in 1..1<<20, or "0" for none;
 * returns the count, -1 on a malformed list. */
static int parse_sizes(const char *v, int64_t *out)
{
    if (!strcmp(v, "0")) return 0;
    int n = 0;
    for (const char *p = v;;) {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (errno || end == p || x < 1 || x > (1 << 20) || n == MAX_SIZES) return -1;
        out[n++] = x;
        if (*end == '\0') return n;
        if (*end != ',') return -1;
        p = end + 1;
    }
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.device = -1, .util = 0.0, .n_pre = -1, .n_bat = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        errno = 0;
        if (!strcmp(a, "--model") && v) {
            o->model = v;
            i++;
        } else if (!strcmp(a, "--load-format") && v) {
            if (strcmp(v, "dummy") && strcmp(v, "auto")) {
                fprintf(stderr, "octo bench: --load-format is auto or dummy\n");
                return -1;
            }
            o->dummy = !strcmp(v, "dummy");
            i++;
        } else if (!strcmp(a, "--device") && v) {
            long d = strtol(v, &end, 10);
            if (errno || *end || d < -1 || d > 255) {
                fprintf(stderr, "octo bench: bad --device '%s'\n", v);
                return -1;
            }
            o->device = (int)d;
            i++;
        } else if (!strcmp(a, "--gpu-memory-utilization") && v) {
            o->util = strtod(v, &end);
            if (errno || *end || o->util <= 0 || o->util > 1) {
                fprintf(stderr, "octo bench: bad --gpu-memory-utilization '%s'\n", v);
                return -1;
            }
            i++;
        } else if ((!strcmp(a, "--prefill") || !strcmp(a, "--batch")) && v) {
            bool pre = !strcmp(a, "--prefill");
            int n = parse_sizes(v, pre ? o->prefill : o->batches);
            if (n < 0) {
                fprintf(stderr, "octo bench: bad %s '%s' (up to %d sizes, e.g. 1,64)\n", a, v,
                        MAX_SIZES);
                return -1;
            }
            *(pre ? &o->n_pre : &o->n_bat) = n;
            i++;
        } else if (!strcmp(a, "--quick")) {
            o->quick = true;
        } else if (!strcmp(a, "--no-graphs")) {
            o->no_graphs = true;
        } else if (a[0] != '-' && !o->model) {
            o->model = a;
        } else {
            fprintf(stderr, "octo bench: unknown or incomplete option '%s'\n", a);
            return -1;
        }
    }
    if (!o->model) {
        fprintf(stderr, "octo bench: --model is required\n");
        return -1;
    }
    return 0;
}

/* ==== copy bandwidth ==== */

static double cpu_bandwidth(void)
{
    char *a = malloc(BW_BYTES_CPU), *c = malloc(BW_BYTES_CPU);
    double best = 0;
    if (!a || !c) goto out;
    memset(a, 1, BW_BYTES_CPU);
    memset(c, 2, BW_BYTES_CPU);
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        memcpy(c, a, BW_BYTES_CPU);
        double dt = now_s() - t0;
        a[r] = c[BW_BYTES_CPU - 1 - (size_t)r]; /* keep the copy observable */
        if (dt > 0 && 2.0 * BW_BYTES_CPU / dt > best) best = 2.0 * BW_BYTES_CPU / dt;
    }
out:
    free(a);
    free(c);
    return best;
}

/* Device-to-device copy, read + write bytes over time, best of 5. */
static double gpu_bandwidth(bench *b)
{
#ifdef OCTO_HAVE_CUDA
    octo_cuda_stream *s = octo_cuda_backend_stream(octo_engine_backend(b->e));
    void *x = NULL, *y = NULL;
    double best = 0;
    if (octo_cuda_malloc(BW_BYTES_GPU, &x) || octo_cuda_malloc(BW_BYTES_GPU, &y)) goto out;
    for (int r = 0; r < 6; r++) {
        float ms = 0;
        if (octo_cuda_stream_timer_start(s) || octo_cuda_d2d(y, x, BW_BYTES_GPU, s) ||
            octo_cuda_stream_timer_stop(s) || octo_cuda_stream_elapsed_ms(s, &ms))
            break;
        double bw = 2.0 * (double)BW_BYTES_GPU / (ms * 1e-3);
        if (r > 0 && bw > best) best = bw; /* the first one warms up */
    }
    track_memory(b);
out:
    octo_cuda_free(x);
    octo_cuda_free(y);
    return best;
#else
    (void)b;
    return 0;
#endif
}

/* ==== prefill ==== */

static octo_engine_seq *new_seq(bench *b, int64_t n)
{
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    octo_engine_seq *s = NULL;
    if (!ids) return NULL;
    for (int64_t i = 0; i < n; i++) ids[i] = next_token(b);
    octo_sampling_params p;
    octo_engine_sampling_default(&p);
    p.temperature = 0.0f;
    if (octo_engine_seq_new(b->e, ids, n, &p, &s)) s = NULL;
    free(ids);
    return s;
}

/* One prompt of P tokens in one step (logits of its last row copied back);
 * the best of `reps` after a warm-up run. Returns seconds or < 0. */
static double time_prefill(bench *b, int64_t P, int reps)
{
    double best = -1;
    for (int r = 0; r <= reps; r++) {
        octo_engine_seq *s = new_seq(b, P);
        if (!s) return -1;
        octo_engine_item it = {.seq = s};
        double t0 = now_s();
        octo_err rc = octo_engine_step(b->e, &it, 1, b->logits);
        double dt = now_s() - t0;
        track_memory(b);
        octo_engine_seq_free(b->e, s);
        if (rc) {
            fprintf(stderr, "octo bench: prefill of %lld tokens: %s\n", (long long)P,
                    octo_err_str(rc));
            return -1;
        }
        if (r > 0 && (best < 0 || dt < best)) best = dt;
    }
    return best;
}

/* ==== decode ==== */

/* Picks each sequence's next token: greedy on the device (ids only come
 * back) or on the host from the copied logits. */
static octo_err pick_tokens(bench *b, octo_engine_item *it, int64_t B, int32_t *ids)
{
#ifdef OCTO_HAVE_CUDA
    if (on_gpu(b)) {
        return octo_cuda_backend_sample_greedy(octo_engine_backend(b->e),
                                               octo_engine_logits_device(b->e), (int)B,
                                               (int)b->V, ids);
    }
#endif
    for (int64_t i = 0; i < B; i++) {
        const float *row = b->logits + it[i].logits_row * b->V;
        int32_t best = 0;
        for (int64_t v = 1; v < b->V; v++) best = row[v] > row[best] ? (int32_t)v : best;
        ids[i] = best;
    }
    return OCTO_OK;
}

static octo_err decode_step(bench *b, octo_engine_seq **seqs, octo_engine_item *it, int64_t B,
                            int32_t *ids)
{
    for (int64_t i = 0; i < B; i++) it[i] = (octo_engine_item){.seq = seqs[i]};
    octo_err rc = octo_engine_step(b->e, it, B, on_gpu(b) ? NULL : b->logits);
    if (!rc) rc = pick_tokens(b, it, B, ids);
    for (int64_t i = 0; i < B && !rc; i++) rc = octo_engine_seq_append(b->e, seqs[i], ids[i]);
    return rc;
}

/* B sequences after prompts of ctx tokens; seconds per decode step (mean
 * over `steps` after 3 warm-up steps, which record the CUDA graph), or < 0. */
static double time_decode(bench *b, int64_t B, int64_t ctx, int steps)
{
    octo_engine_seq **seqs = calloc((size_t)B, sizeof *seqs);
    octo_engine_item *it = calloc((size_t)B, sizeof *it);
    int32_t *ids = calloc((size_t)B, sizeof *ids);
    double per_step = -1;
    octo_err rc = seqs && it && ids ? OCTO_OK : OCTO_E_NOMEM;
    for (int64_t i = 0; i < B && !rc; i++) {
        seqs[i] = new_seq(b, ctx);
        if (!seqs[i]) rc = OCTO_E_NOMEM;
    }
    /* prefill: as many whole prompts per step as fit 4096 tokens */
    int64_t per = ctx >= 4096 ? 1 : 4096 / ctx;
    for (int64_t i = 0; i < B && !rc; i += per) {
        int64_t n = B - i < per ? B - i : per;
        for (int64_t j = 0; j < n; j++) it[j] = (octo_engine_item){.seq = seqs[i + j]};
        rc = octo_engine_step(b->e, it, n, on_gpu(b) ? NULL : b->logits);
        if (!rc && !on_gpu(b)) rc = pick_tokens(b, it, n, ids);
        for (int64_t j = 0; j < n && !rc; j++) {
            rc = octo_engine_seq_append(b->e, seqs[i + j], next_token(b));
        }
    }
    for (int w = 0; w < 3 && !rc; w++) rc = decode_step(b, seqs, it, B, ids);
    double t0 = now_s();
    for (int s = 0; s < steps && !rc; s++) rc = decode_step(b, seqs, it, B, ids);
    if (!rc) per_step = (now_s() - t0) / steps;
    else fprintf(stderr, "octo bench: decode at batch %lld: %s\n", (long long)B,
                 octo_err_str(rc));
    track_memory(b);
    for (int64_t i = 0; seqs && i < B; i++) octo_engine_seq_free(b->e, seqs[i]);
    free(seqs);
    free(it);
    free(ids);
    return per_step;
}

/* ==== report ==== */

static int run(bench *b)
{
    bool gpu = on_gpu(b);
    int64_t max_len = octo_engine_max_model_len(b->e);
    int64_t prefill[MAX_SIZES] = {512, 2048, 8192}, batches[MAX_SIZES] = {1, 8, 32, 64, 128};
    int n_pre = 3, n_bat = 5, steps = b->o.quick ? 8 : 32;
    int64_t ctx = 512;
    if (!gpu) {
        prefill[0] = 32, prefill[1] = 128, n_pre = b->o.quick ? 1 : 2;
        batches[0] = 1, batches[1] = 4, n_bat = b->o.quick ? 1 : 2;
        ctx = 32, steps = b->o.quick ? 2 : 4;
    } else if (b->o.quick) {
        n_pre = 2, n_bat = 3;
    }
    if (b->o.n_pre >= 0) {
        n_pre = b->o.n_pre;
        memcpy(prefill, b->o.prefill, sizeof prefill);
    }
    if (b->o.n_bat >= 0) {
        n_bat = b->o.n_bat;
        memcpy(batches, b->o.batches, sizeof batches);
    }
    if (ctx + steps + 4 > max_len) ctx = max_len / 2;
    const char *dev = gpu ? "cuda" : "cpu";
    b->bw = gpu ? gpu_bandwidth(b) : cpu_bandwidth();
    printf("{\"bench\":\"bandwidth\",\"device\":\"%s\",\"copy_gbps\":%.1f}\n", dev, b->bw / 1e9);
    fprintf(stderr, "%-10s %8s %8s %12s %10s\n", "phase", "tokens", "batch", "tokens/s", "ms");
    for (int i = 0; i < n_pre; i++) {
        int64_t P = prefill[i] < max_len ? prefill[i] : max_len;
        double t = time_prefill(b, P, gpu ? 3 : 1);
        if (t < 0) return OCTO_EXIT_FAIL;
        printf("{\"bench\":\"prefill\",\"device\":\"%s\",\"tokens\":%lld,\"tokens_per_s\":%.1f,"
               "\"ms\":%.3f}\n", dev, (long long)P, (double)P / t, t * 1e3);
        fprintf(stderr, "%-10s %8lld %8d %12.1f %10.3f\n", "prefill", (long long)P, 1,
                (double)P / t, t * 1e3);
    }
    for (int i = 0; i < n_bat; i++) {
        int64_t B = batches[i];
        double t = time_decode(b, B, ctx, steps);
        if (t < 0) return OCTO_EXIT_FAIL;
        printf("{\"bench\":\"decode\",\"device\":\"%s\",\"batch\":%lld,\"context\":%lld,"
               "\"tokens_per_s\":%.1f,\"ms_per_step\":%.3f}\n", dev, (long long)B,
               (long long)ctx, (double)B / t, t * 1e3);
        fprintf(stderr, "%-10s %8lld %8lld %12.1f %10.3f\n", "decode", (long long)ctx,
                (long long)B, (double)B / t, t * 1e3);
        if (B != 1) continue;
        /* roofline: weights + the KV of ~ctx + steps/2 positions, per token */
        double kv_tok = (double)(gpu ? 2 : 4) * 2.0 * (double)(b->in->n_kv_heads *
                        b->in->head_dim) * (double)b->in->n_layers;
        double bytes = (double)b->in->decode_bytes + kv_tok * (double)(ctx + 3 + steps / 2);
        double frac = b->bw > 0 ? bytes / t / b->bw : 0;
        printf("{\"bench\":\"roofline\",\"device\":\"%s\",\"bytes_per_token\":%.0f,"
               "\"achieved_gbps\":%.1f,\"copy_gbps\":%.1f,\"fraction\":%.3f}\n", dev, bytes,
               bytes / t / 1e9, b->bw / 1e9, frac);
        fprintf(stderr, "roofline: %.2f GB per token, %.1f GB/s achieved of %.1f GB/s copy "
                "bandwidth = %.1f %%\n", bytes / 1e9, bytes / t / 1e9, b->bw / 1e9, 100 * frac);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\":\"memory\",\"device\":\"%s\",\"peak_device_bytes\":%zu,"
           "\"peak_host_rss_bytes\":%lld}\n", dev, b->peak_dev, (long long)ru.ru_maxrss * 1024);
    fprintf(stderr, "peak memory: device %.2f GiB, host RSS %.2f GiB\n",
            (double)b->peak_dev / (1 << 30), (double)ru.ru_maxrss / (1 << 20));
    return OCTO_EXIT_OK;
}

int octo_cli_bench(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        fputs(k_bench_help, stdout);
        return OCTO_EXIT_OK;
    }
    bench b = {.rng = 0x9e3779b97f4a7c15ull};
    if (parse_args(argc, argv, &b.o)) return OCTO_EXIT_USAGE;
    if (b.o.device >= 0 && !octo_cli_cuda_built()) {
        fprintf(stderr, "octo bench: --device needs a build with the CUDA backend\n");
        return OCTO_EXIT_UNAVAILABLE;
    }
    /* the model entry it stands for: one generate model, stepped by hand */
    octo_model_config mc = {.name = (char *)b.o.model, .path = (char *)b.o.model,
                            .task = OCTO_TASK_GENERATE, .seed = 1,
                            .load_format = b.o.dummy ? OCTO_LOAD_DUMMY : OCTO_LOAD_AUTO,
                            .gpu_memory_utilization = b.o.util};
    if (b.o.device >= 0) {
        mc.devices[0] = b.o.device;
        mc.n_devices = 1;
    }
    octo_runtime_opts ro = {.engine_only = true, .weights_only = true,
                            .kv_bytes = b.o.device < 0 ? (uint64_t)64 << 20 : 0};
    octo_runtime_model *rm = NULL;
    char err[512] = "";
    octo_err rc = octo_runtime_model_new(&mc, &ro, &rm, err, sizeof err);
    if (rc) {
        fprintf(stderr, "octo bench: %s: %s\n", b.o.model, err[0] ? err : octo_err_str(rc));
        return OCTO_EXIT_FAIL;
    }
    b.e = octo_runtime_model_engine(rm);
    b.in = octo_engine_model_info(b.e);
#ifdef OCTO_HAVE_CUDA
    if (b.o.no_graphs && on_gpu(&b)) octo_cuda_backend_set_graphs(octo_engine_backend(b.e), false);
#endif
    b.V = b.in->vocab_size;
    int code = OCTO_EXIT_FAIL;
    b.logits = malloc((size_t)(b.V * 128) * sizeof(float));
    if (b.logits) {
        track_memory(&b);
        printf("{\"bench\":\"model\",\"device\":\"%s\",\"params\":%llu,\"weight_bytes\":%llu,"
               "\"layers\":%lld,\"kv_blocks\":%lld,\"block_size\":%lld}\n",
               on_gpu(&b) ? "cuda" : "cpu", (unsigned long long)b.in->n_params,
               (unsigned long long)b.in->weight_bytes, (long long)b.in->n_layers,
               (long long)octo_engine_kv_blocks_total(b.e),
               (long long)octo_engine_block_size(b.e));
        code = run(&b);
    }
    free(b.logits);
    octo_runtime_model_free(rm);
    return code;
}
