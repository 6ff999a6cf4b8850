/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuda_kernels — times octo's CUDA kernels on the current GPU against the
 * two ceilings measured in the same run: device-to-device copy bandwidth
 * (bytes read + written) and cuBLASLt bf16 GEMM throughput. Benchmarks:
 * GEMV at Qwen3-8B decode shapes (bandwidth, % of copy), the skinny
 * tensor-core GEMM for 8..128 tokens against cuBLASLt at the same shapes
 * (bandwidth, split-K sweep, per-step sums), cuBLASLt GEMM at
 * prefill shapes (TFLOP/s), paged decode attention over batch 1..128 and
 * context 512..32k (KV bandwidth; from batch 32 both the tensor-core
 * kernel and the CUDA-core one), varlen prefill attention (TFLOP/s), the
 * sampler at V = 151936, the small per-token kernels, and the fused decode
 * attention (norm + RoPE + KV store + attention) against the unfused kernels. Inputs are
 * random (never zeros); buffers are rotated so that repeated runs do not
 * hit the 50 MB L2 where the sizes allow. Each number is the median of
 * event-timed runs after warm-up.
 *
 * Output: one JSON object per line, then a table. Usage: cuda_kernels
 * [quick | prefill | skinny | fused] (prefill: only the prefill attention,
 * all versions; skinny: the copy ceiling and the skinny GEMM only; fused:
 * the copy ceiling and the fused decode attention only). It checks
 * no results; tests/kernels does.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda.h"

#define REPS 21
#define WARM 3

static octo_cuda_stream *S;
static char card[128];
static double copy_gbps;
static char table[160][160];
static int nrows;

typedef octo_err (*run_fn)(void *ctx, int iter);

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median milliseconds of `reps` event-timed runs after `warm` untimed. */
static double time_ms(run_fn f, void *ctx, int reps)
{
    float ms[64];
    for (int i = 0; i < WARM; i++)
        if (f(ctx, i)) return NAN;
    for (int i = 0; i < reps; i++) {
        if (octo_cuda_stream_timer_start(S) || f(ctx, i) || octo_cuda_stream_timer_stop(S) ||
            octo_cuda_stream_elapsed_ms(S, &ms[i]))
            return NAN;
    }
    qsort(ms, (size_t)reps, sizeof(float), cmp_f);
    return ms[reps / 2];
}

static void row(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void row(const char *fmt, ...)
{
    if (nrows >= 160) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(table[nrows++], sizeof table[0], fmt, ap);
    va_end(ap);
}

static uint64_t rng = 88172645463325252ULL;
static uint16_t rand_bf16(float a)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    float f = a * (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    if (f == 0.0f) f = a / 3;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Device buffer of `bytes` random bf16 values in [-1, 1] (a 32 MiB random
 * chunk, copied at shifting offsets). */
static void *dev_rand(size_t bytes, float a)
{
    static uint16_t *chunk;
    const size_t cb = 32u << 20;
    if (!chunk) {
        chunk = malloc(cb + 4096);
        for (size_t i = 0; i < (cb + 4096) / 2; i++) chunk[i] = rand_bf16(1.0f);
    }
    (void)a;
    void *d = NULL;
    if (octo_cuda_malloc(bytes, &d)) return NULL;
    for (size_t off = 0; off < bytes; off += cb) {
        size_t n = bytes - off < cb ? bytes - off : cb;
        if (octo_cuda_h2d((char *)d + off, chunk + (off / cb) % 997, n, NULL)) {
            octo_cuda_free(d);
            return NULL;
        }
    }
    return d;
}

/* ==== copy ceiling ==== */

typedef struct { void *a, *b; size_t n; } copy_ctx;
static octo_err run_copy(void *c, int it)
{
    copy_ctx *x = c;
    (void)it;
    return octo_cuda_d2d(x->b, x->a, x->n, S);
}

static void bench_copy(void)
{
    copy_ctx c = {NULL, NULL, (size_t)1 << 30};
    if (octo_cuda_malloc(c.n, &c.a) || octo_cuda_malloc(c.n, &c.b)) return;
    if (octo_cuda_memset(c.a, 0x3c, c.n, S)) return;
    double ms = time_ms(run_copy, &c, 11);
    copy_gbps = 2.0 * (double)c.n / (ms * 1e-3) / 1e9;
    printf("{\"bench\":\"copy\",\"card\":\"%s\",\"bytes\":%zu,\"ms\":%.4f,\"GBps\":%.1f}\n", card,
           c.n, ms, copy_gbps);
    row("copy d2d 1 GiB (read+write)        %9.1f us  %7.1f GB/s", ms * 1e3, copy_gbps);
    octo_cuda_free(c.a), octo_cuda_free(c.b);
}

/* ==== GEMV ==== */

typedef struct { void **w; int nw; void *x, *y; int B, N, C; octo_cuda_gemm *g; } gemv_ctx;
static octo_err run_gemv(void *c, int it)
{
    gemv_ctx *x = c;
    return octo_cuda_gemv(x->y, x->N, false, x->x, x->C, x->w[it % x->nw], x->B, x->N, x->C, S);
}
static octo_err run_gemv_lt(void *c, int it)
{
    gemv_ctx *x = c;
    return octo_cuda_gemm_run(x->g, x->y, x->x, x->w[it % x->nw], x->B, x->N, x->C, S);
}

static void bench_gemv(octo_cuda_gemm *g)
{
    static const int shapes[][2] = {{4096, 4096}, {12288, 4096}, {4096, 12288}, {151936, 4096}};
    static const int batches[] = {1, 4, 8};
    for (int s = 0; s < 4; s++) {
        int N = shapes[s][0], C = shapes[s][1];
        size_t wb = (size_t)N * C * 2;
        gemv_ctx c = {NULL, 0, NULL, NULL, 1, N, C, g};
        c.nw = (int)((400u << 20) / wb) + 1;
        if (c.nw > 12) c.nw = 12;
        c.w = calloc((size_t)c.nw, sizeof(void *));
        for (int i = 0; i < c.nw; i++) c.w[i] = dev_rand(wb, 0.05f);
        c.x = dev_rand((size_t)8 * C * 2, 1.0f);
        if (octo_cuda_malloc((size_t)8 * N * 4, &c.y)) return;
        for (int bi = 0; bi < 3; bi++) {
            c.B = batches[bi];
            double ms = time_ms(run_gemv, &c, REPS);
            double ms_lt = time_ms(run_gemv_lt, &c, REPS);
            double gbps = (double)wb / (ms * 1e-3) / 1e9;
            printf("{\"bench\":\"gemv\",\"card\":\"%s\",\"B\":%d,\"N\":%d,\"C\":%d,\"us\":%.2f,"
                   "\"GBps\":%.1f,\"pct_copy\":%.1f,\"cublaslt_us\":%.2f}\n",
                   card, c.B, N, C, ms * 1e3, gbps, 100.0 * gbps / copy_gbps, ms_lt * 1e3);
            row("gemv B=%d %6dx%-5d                %9.1f us  %7.1f GB/s %5.1f%% (cuBLASLt %.1f us)",
                c.B, N, C, ms * 1e3, gbps, 100.0 * gbps / copy_gbps, ms_lt * 1e3);
        }
        for (int i = 0; i < c.nw; i++) octo_cuda_free(c.w[i]);
        free(c.w);
        octo_cuda_free(c.x), octo_cuda_free(c.y);
    }
}

/* ==== GEMM ==== */

typedef struct { octo_cuda_gemm *g; void *x, *w, *y; int T, N, C; } gemm_ctx;
static octo_err run_gemm(void *c, int it)
{
    gemm_ctx *x = c;
    (void)it;
    return octo_cuda_gemm_run(x->g, x->y, x->x, x->w, x->T, x->N, x->C, S);
}

static void bench_gemm(octo_cuda_gemm *g, int quick)
{
    static const int shapes[][2] = {{6144, 4096}, {4096, 4096}, {24576, 4096}, {4096, 12288}};
    static const int Ts[] = {512, 2048, 8192};
    for (int s = 0; s < 4; s++)
        for (int ti = quick ? 1 : 0; ti < (quick ? 2 : 3); ti++) {
            gemm_ctx c = {g, NULL, NULL, NULL, Ts[ti], shapes[s][0], shapes[s][1]};
            c.x = dev_rand((size_t)c.T * c.C * 2, 1.0f);
            c.w = dev_rand((size_t)c.N * c.C * 2, 0.05f);
            if (!c.x || !c.w || octo_cuda_malloc((size_t)c.T * c.N * 2, &c.y)) return;
            double ms = time_ms(run_gemm, &c, REPS);
            double tf = 2.0 * c.T * c.N * (double)c.C / (ms * 1e-3) / 1e12;
            printf("{\"bench\":\"gemm\",\"card\":\"%s\",\"T\":%d,\"N\":%d,\"C\":%d,\"us\":%.1f,"
                   "\"TFLOPS\":%.1f}\n", card, c.T, c.N, c.C, ms * 1e3, tf);
            if (ti == 1 || c.T == 8192)
                row("gemm T=%-5d %6dx%-5d             %9.1f us  %7.1f TFLOP/s", c.T, c.N, c.C,
                    ms * 1e3, tf);
            octo_cuda_free(c.x), octo_cuda_free(c.w), octo_cuda_free(c.y);
        }
}

/* ==== skinny GEMM (batched decode, 8..128 tokens) ==== */

typedef struct { void **w; int nw; void *x, *y; int T, N, K; octo_cuda_gemm *g; } sk_ctx;
static octo_err run_skinny(void *c, int it)
{
    sk_ctx *x = c;
    return octo_cuda_skinny_gemm(x->y, x->N, x->x, x->K, x->w[it % x->nw], x->T, x->N, x->K, S);
}
static octo_err run_skinny_lt(void *c, int it)
{
    sk_ctx *x = c;
    return octo_cuda_gemm_run(x->g, x->y, x->x, x->w[it % x->nw], x->T, x->N, x->K, S);
}

/* octo_cuda_skinny_gemm vs cuBLASLt on the Qwen3-8B decode shapes (fused
 * qkv, o_proj, fused gate_up, down_proj), weights rotated over >= 400 MB;
 * then, at T = 64 and 128, both block sizes with every split-K count (a
 * forced count is lowered where K or the GPU do not allow it: the JSON
 * line has the one used); then the four summed over 36
 * layers (the linear layers of one decode step, lm_head aside). */
static void bench_skinny(octo_cuda_gemm *g)
{
    static const int shapes[][2] = {{6144, 4096}, {4096, 4096}, {24576, 4096}, {4096, 12288}};
    static const int Ts[] = {8, 16, 32, 64, 128};
    double us[5][4], us_lt[5][4];
    for (int s = 0; s < 4; s++) {
        int N = shapes[s][0], K = shapes[s][1];
        size_t wb = (size_t)N * K * 2;
        sk_ctx c = {NULL, 0, NULL, NULL, 1, N, K, g};
        c.nw = (int)((400u << 20) / wb) + 1;
        if (c.nw > 12) c.nw = 12;
        c.w = calloc((size_t)c.nw, sizeof(void *));
        for (int i = 0; i < c.nw; i++)
            if (!(c.w[i] = dev_rand(wb, 0.05f))) return;
        c.x = dev_rand((size_t)128 * K * 2, 1.0f);
        if (!c.x || octo_cuda_malloc((size_t)128 * N * 2, &c.y)) return;
        for (int ti = 0; ti < 5; ti++) {
            c.T = Ts[ti];
            double ms = time_ms(run_skinny, &c, REPS), ms_lt = time_ms(run_skinny_lt, &c, REPS);
            double gb = (double)wb / (ms * 1e-3) / 1e9, gb_lt = (double)wb / (ms_lt * 1e-3) / 1e9;
            us[ti][s] = ms * 1e3, us_lt[ti][s] = ms_lt * 1e3;
            int S_ = octo_cuda_skinny_splits(c.T, N, K);
            printf("{\"bench\":\"skinny\",\"card\":\"%s\",\"T\":%d,\"N\":%d,\"K\":%d,\"splits\":%d,"
                   "\"us\":%.2f,\"GBps\":%.1f,\"pct_copy\":%.1f,\"cublaslt_us\":%.2f,"
                   "\"cublaslt_pct_copy\":%.1f,\"l2_rotations\":%d}\n",
                   card, c.T, N, K, S_, ms * 1e3, gb, 100.0 * gb / copy_gbps, ms_lt * 1e3,
                   100.0 * gb_lt / copy_gbps, c.nw);
            row("skinny T=%-3d %5dx%-5d S=%d      %9.1f us %5.1f%% (cuBLASLt %.1f us %.1f%%)", c.T,
                N, K, S_, ms * 1e3, 100.0 * gb / copy_gbps, ms_lt * 1e3,
                100.0 * gb_lt / copy_gbps);
        }
        for (int tt = 64; tt <= 128; tt *= 2) {
            double sw[2][4];
            c.T = tt;
            for (int r = 0; r < 2; r++)
                for (int l = 0; l < 4; l++) {
                    octo_cuda_skinny_tune(128 << r, 1 << l);
                    sw[r][l] = time_ms(run_skinny, &c, REPS) * 1e3;
                    printf("{\"bench\":\"skinny_tune\",\"card\":\"%s\",\"T\":%d,\"N\":%d,"
                           "\"K\":%d,\"rows\":%d,\"splits\":%d,\"us\":%.2f,"
                           "\"pct_copy\":%.1f}\n", card, tt, N, K, 128 << r,
                           octo_cuda_skinny_splits(tt, N, K), sw[r][l],
                           100.0 * (double)wb / (sw[r][l] * 1e-6) / 1e9 / copy_gbps);
                }
            octo_cuda_skinny_tune(0, 0);
            row("skinny T=%-3d %5dx%-5d S=1/2/4/8: 128 rows %.1f/%.1f/%.1f/%.1f, 256 rows "
                "%.1f/%.1f/%.1f/%.1f us", tt, N, K, sw[0][0], sw[0][1], sw[0][2], sw[0][3],
                sw[1][0], sw[1][1], sw[1][2], sw[1][3]);
        }
        for (int i = 0; i < c.nw; i++) octo_cuda_free(c.w[i]);
        free(c.w);
        octo_cuda_free(c.x), octo_cuda_free(c.y);
    }
    for (int ti = 0; ti < 5; ti++) {
        double a = 0, b = 0;
        for (int s = 0; s < 4; s++) a += us[ti][s], b += us_lt[ti][s];
        printf("{\"bench\":\"skinny_step\",\"card\":\"%s\",\"T\":%d,\"layers\":36,"
               "\"skinny_ms\":%.3f,\"cublaslt_ms\":%.3f}\n", card, Ts[ti], a * 36e-3, b * 36e-3);
        row("skinny T=%-3d 36 layers of qkv+o+gate_up+down: %.3f ms (cuBLASLt %.3f ms)", Ts[ti],
            a * 36e-3, b * 36e-3);
    }
}

/* ==== attention ==== */

#define A_H 32
#define A_K 8
#define A_D 128
#define A_BS 16
#define A_MAX_B 128 /* largest decode batch */

typedef struct {
    octo_cuda_kv kv;
    void *q, *out, *ws, *lens, *cu;
    void *bt[8], *slots[8]; /* slots: position ctx-1 of each sequence in bt[r] */
    int nbt, B, ctx, max_blocks;
    void *qkv, *qw, *inv, *pos, *fws; /* fused decode bench */
    octo_cuda_rope rope;
} attn_ctx;

static octo_err run_decode(void *c, int it)
{
    attn_ctx *a = c;
    return octo_cuda_attn_decode(a->out, a->q, A_H * A_D, &a->kv, a->bt[it % a->nbt],
                                 a->max_blocks, a->lens, a->B, A_H, a->ctx,
                                 1.0f / sqrtf((float)A_D), a->ws, S);
}

static octo_err run_prefill(void *c, int it)
{
    attn_ctx *a = c;
    return octo_cuda_attn_prefill(a->out, a->q, A_H * A_D, &a->kv, a->bt[it % a->nbt],
                                  a->max_blocks, a->cu, a->lens, a->B, A_H, a->ctx,
                                  1.0f / sqrtf((float)A_D), S);
}

/* Decode layer between the q/k/v and o projections, unfused: q/k norm +
 * RoPE + KV store, then attention (+ combine); FUSED_REPS back to back per
 * timed sample so that host launch costs overlap the GPU's work. */
#define FUSED_REPS 16
#define QKV_STRIDE ((A_H + 2 * A_K) * A_D)

static octo_err run_unfused(void *c, int it)
{
    attn_ctx *a = c;
    uint16_t *x = a->qkv;
    for (int i = 0; i < FUSED_REPS; i++) {
        int r = (it * FUSED_REPS + i) % a->nbt;
        octo_err rc = octo_cuda_qk_norm_rope_kv(x, QKV_STRIDE, x, QKV_STRIDE, x + A_H * A_D,
                                                QKV_STRIDE,
                                                x + (A_H + A_K) * A_D, QKV_STRIDE, a->qw, a->qw,
                                                a->pos, a->slots[r], &a->kv, a->B, A_H, A_D,
                                                1e-6f, &a->rope, S);
        if (!rc)
            rc = octo_cuda_attn_decode(a->out, x, QKV_STRIDE, &a->kv, a->bt[r], a->max_blocks,
                                       a->lens, a->B, A_H, a->ctx, 1.0f / sqrtf((float)A_D),
                                       a->ws, S);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err run_fused(void *c, int it)
{
    attn_ctx *a = c;
    uint16_t *x = a->qkv;
    for (int i = 0; i < FUSED_REPS; i++) {
        int r = (it * FUSED_REPS + i) % a->nbt;
        octo_err rc = octo_cuda_attn_decode_fused(
            a->out, x, QKV_STRIDE, x + A_H * A_D, QKV_STRIDE, x + (A_H + A_K) * A_D, QKV_STRIDE,
            a->qw, a->qw, 1e-6f, &a->rope, a->pos, a->slots[r], &a->kv, a->bt[r], a->max_blocks,
            a->lens, a->B, A_H, a->ctx, 1.0f / sqrtf((float)A_D), a->fws, S);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* Block tables: nbt disjoint, shuffled ranges of the cache's blocks. */
static int make_tables(attn_ctx *a, int total_blocks)
{
    int need = a->B * a->max_blocks;
    a->nbt = total_blocks / need;
    if (a->nbt > 8) a->nbt = 8;
    if (a->nbt < 1) return -1;
    int32_t *bt = malloc(sizeof(int32_t) * need);
    for (int r = 0; r < a->nbt; r++) {
        for (int i = 0; i < need; i++) bt[i] = r * need + i;
        for (int i = need - 1; i > 0; i--) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int j = (int)(rng % (uint64_t)(i + 1)), t = bt[i];
            bt[i] = bt[j], bt[j] = t;
        }
        if (octo_cuda_malloc(sizeof(int32_t) * need, &a->bt[r]) ||
            octo_cuda_h2d(a->bt[r], bt, sizeof(int32_t) * need, NULL))
            return -1;
        int32_t slots[A_MAX_B];
        int t = a->ctx - 1;
        for (int b = 0; b < a->B; b++)
            slots[b] = bt[b * a->max_blocks + t / A_BS] * A_BS + t % A_BS;
        if (octo_cuda_malloc(sizeof(int32_t) * a->B, &a->slots[r]) ||
            octo_cuda_h2d(a->slots[r], slots, sizeof(int32_t) * a->B, NULL))
            return -1;
    }
    free(bt);
    return 0;
}

static void free_tables(attn_ctx *a)
{
    for (int r = 0; r < a->nbt; r++) octo_cuda_free(a->bt[r]), octo_cuda_free(a->slots[r]);
    a->nbt = 0;
}

/* Fused decode attention vs the unfused kernels at Qwen3-8B shapes, on the
 * cache of bench_attention (block tables rotated as there). */
static void bench_fused(attn_ctx *a, int total_blocks)
{
    static const int cases[][2] = {{1, 512}, {1, 2048}, {1, 4096}, {1, 16384}, {64, 512}};
    float inv[A_D / 2], msc = 1.0f;
    int32_t pos[64];
    if (octo_cuda_rope_inv_freq(inv, A_D, 1e6, 1.0, 0, 0, 0, &msc)) return;
    a->qkv = dev_rand((size_t)64 * QKV_STRIDE * 2, 1.0f);
    a->qw = dev_rand(A_D * 2, 1.0f);
    if (!a->qkv || !a->qw || octo_cuda_malloc(sizeof inv, &a->inv) ||
        octo_cuda_h2d(a->inv, inv, sizeof inv, NULL) ||
        octo_cuda_malloc(sizeof pos, &a->pos))
        return;
    a->rope = (octo_cuda_rope){A_D, NULL, 0, a->inv, msc};
    for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
        a->B = cases[ci][0], a->ctx = cases[ci][1], a->max_blocks = a->ctx / A_BS;
        int32_t lens[64];
        for (int b = 0; b < a->B; b++) lens[b] = a->ctx, pos[b] = a->ctx - 1;
        if (octo_cuda_h2d(a->lens, lens, sizeof(int32_t) * a->B, NULL) ||
            octo_cuda_h2d(a->pos, pos, sizeof(int32_t) * a->B, NULL) ||
            make_tables(a, total_blocks))
            return;
        size_t ws = octo_cuda_attn_decode_workspace(a->B, A_H, A_D, a->ctx);
        size_t fws = octo_cuda_attn_decode_fused_workspace(a->B, A_H, A_D, a->ctx);
        a->ws = a->fws = NULL;
        if ((ws && octo_cuda_malloc(ws, &a->ws)) || octo_cuda_malloc(fws, &a->fws) ||
            octo_cuda_memset(a->fws, 0, fws, S))
            return;
        double mu = time_ms(run_unfused, a, REPS) / FUSED_REPS;
        double mf = time_ms(run_fused, a, REPS) / FUSED_REPS;
        printf("{\"bench\":\"attn_decode_fused\",\"card\":\"%s\",\"B\":%d,\"ctx\":%d,"
               "\"H\":%d,\"K\":%d,\"D\":%d,\"us_unfused\":%.2f,\"us_fused\":%.2f,"
               "\"back_to_back\":%d,\"l2_rotations\":%d}\n", card, a->B, a->ctx, A_H, A_K,
               A_D, mu * 1e3, mf * 1e3, FUSED_REPS, a->nbt);
        row("norm+rope+kv+attn B=%-2d ctx=%-5d unfused %6.1f us, fused %6.1f us (%.2fx)", a->B,
            a->ctx, mu * 1e3, mf * 1e3, mu / mf);
        octo_cuda_free(a->ws), octo_cuda_free(a->fws);
        free_tables(a);
    }
    octo_cuda_free(a->qkv), octo_cuda_free(a->qw), octo_cuda_free(a->inv);
    octo_cuda_free(a->pos);
}

/* One decode case at the kernel version chosen now: a JSON line and a row.
 * bytes: K and V of every cached token. */
static void decode_row(attn_ctx *a, const char *what, double bytes, int mixed)
{
    double ms = time_ms(run_decode, a, REPS);
    double gbps = bytes / (ms * 1e-3) / 1e9;
    printf("{\"bench\":\"attn_decode\",\"kernel\":\"%s\",\"card\":\"%s\",\"B\":%d,"
           "\"ctx\":%d,\"mixed\":%d,\"H\":%d,\"K\":%d,\"D\":%d,\"us\":%.2f,"
           "\"GBps\":%.1f,\"pct_copy\":%.1f,\"l2_rotations\":%d}\n", what, card, a->B,
           a->ctx, mixed, A_H, A_K, A_D, ms * 1e3, gbps, 100.0 * gbps / copy_gbps, a->nbt);
    row("attn_decode %-4s B=%-3d ctx=%-5d%s %9.1f us  %7.1f GB/s %5.1f%%", what, a->B, a->ctx,
        mixed ? " mixed" : "      ", ms * 1e3, gbps, 100.0 * gbps / copy_gbps);
}

/* Decode attention: B x ctx with every sequence at ctx, then the serving
 * regime (B = 64, 128 at ctx 512, 768) and mixed lengths 512..1152 under
 * a max_seq_len of 2048, the backend's power-of-two bucket (B = 32, 64,
 * 128). Where the automatic choice is the tensor-core kernel (version 4),
 * the CUDA-core one (v3) is timed too on the same tables. */
static void bench_decode(attn_ctx *a, int total_blocks, int quick)
{
    static const int cases[][3] = {
        {1, 1024, 0},   {1, 4096, 0},   {1, 16384, 0},  {1, 32768, 0},  {8, 1024, 0},
        {8, 4096, 0},   {8, 16384, 0},  {8, 32768, 0},  {32, 1024, 0},  {32, 4096, 0},
        {32, 16384, 0}, {32, 32768, 0}, {64, 1024, 0},  {64, 4096, 0},  {64, 16384, 0},
        {64, 32768, 0}, {64, 512, 0},   {64, 768, 0},   {128, 512, 0},  {128, 768, 0},
        {32, 2048, 1},  {64, 2048, 1},  {128, 2048, 1}};
    int32_t lens[A_MAX_B];
    for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
        int B = cases[ci][0], ctx = cases[ci][1], mixed = cases[ci][2];
        if (quick && ci < 16 && (B == 8 || ctx == 4096)) continue;
        a->B = B, a->ctx = ctx, a->max_blocks = ctx / A_BS;
        double tokens = 0;
        for (int b = 0; b < B; b++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            lens[b] = mixed ? 512 + (int)(rng % 641) : ctx;
            tokens += lens[b];
        }
        if (octo_cuda_h2d(a->lens, lens, sizeof(int32_t) * B, NULL) ||
            make_tables(a, total_blocks))
            return;
        size_t ws = octo_cuda_attn_decode_workspace(B, A_H, A_D, ctx);
        a->ws = NULL;
        if (ws && octo_cuda_malloc(ws, &a->ws)) return;
        double bytes = 2.0 * tokens * A_K * A_D * 2;
        octo_cuda_attn_decode_set_version(5);
        decode_row(a, (long long)B * A_H >= 1024 ? "v4" : "v3", bytes, mixed);
        if ((long long)B * A_H >= 1024) { /* the CUDA-core kernel beside it */
            octo_cuda_attn_decode_set_version(3);
            decode_row(a, "v3", bytes, mixed);
            octo_cuda_attn_decode_set_version(5);
        }
        octo_cuda_free(a->ws);
        free_tables(a);
    }
}

/* only: 0 everything, 1 prefill, 2 the fused decode attention */
static void bench_attention(int quick, int only)
{
    int prefill_only = only == 1;
    const long long tokens = 64LL * 32768; /* largest B x ctx */
    int total_blocks = (int)(tokens / A_BS);
    size_t cache_bytes = (size_t)tokens * A_K * A_D * 2;
    attn_ctx a;
    memset(&a, 0, sizeof a);
    a.kv.d_k_cache = dev_rand(cache_bytes, 1.0f);
    a.kv.d_v_cache = dev_rand(cache_bytes, 1.0f);
    a.kv.num_blocks = total_blocks, a.kv.block_size = A_BS, a.kv.K = A_K, a.kv.D = A_D;
    a.q = dev_rand((size_t)16384 * A_H * A_D * 2, 1.0f);
    if (!a.kv.d_k_cache || !a.kv.d_v_cache || !a.q ||
        octo_cuda_malloc((size_t)16384 * A_H * A_D * 2, &a.out) ||
        octo_cuda_malloc(A_MAX_B * sizeof(int32_t), &a.lens) ||
        octo_cuda_malloc(65 * sizeof(int32_t), &a.cu))
        return;
    int32_t lens[A_MAX_B], cu[65];
    if (!prefill_only && only != 2) bench_decode(&a, total_blocks, quick);
    if (!prefill_only) bench_fused(&a, total_blocks);
    if (only == 2) return;
    /* prefill: B sequences of T new tokens each, no prefix; the current
     * kernel (v5: the v4 kernel with 32 rows per warp), then v3 */
    static const int pre[][2] = {{1, 1024}, {1, 2048}, {1, 4096}, {1, 16384}, {8, 1024},
                                 {4, 4096}};
    static const int versions[] = {5, 3};
    for (int pv = 0; pv < 2 * 6; pv++) {
        int pi = pv % 6, version = versions[pv / 6];
        octo_cuda_attn_prefill_set_version(version);
        a.B = pre[pi][0], a.ctx = pre[pi][1], a.max_blocks = a.ctx / A_BS;
        cu[0] = 0;
        for (int b = 0; b < a.B; b++) lens[b] = a.ctx, cu[b + 1] = cu[b] + a.ctx;
        if (octo_cuda_h2d(a.lens, lens, sizeof(int32_t) * a.B, NULL) ||
            octo_cuda_h2d(a.cu, cu, sizeof(int32_t) * (a.B + 1), NULL) ||
            make_tables(&a, total_blocks))
            return;
        double ms = time_ms(run_prefill, &a, quick ? 5 : 11);
        double fl = 4.0 * a.B * (double)a.ctx * (a.ctx + 1) / 2 * A_H * A_D;
        double tf = fl / (ms * 1e-3) / 1e12;
        printf("{\"bench\":\"attn_prefill\",\"card\":\"%s\",\"version\":%d,\"B\":%d,"
               "\"T\":%d,\"H\":%d,\"K\":%d,\"D\":%d,\"us\":%.1f,\"TFLOPS\":%.1f}\n", card,
               version, a.B, a.ctx, A_H, A_K, A_D, ms * 1e3, tf);
        row("attn_prefill v%d B=%d T=%-5d          %9.1f us  %7.1f TFLOP/s (causal)", version,
            a.B, a.ctx, ms * 1e3, tf);
        free_tables(&a);
    }
    octo_cuda_attn_prefill_set_version(5);
    octo_cuda_free(a.kv.d_k_cache), octo_cuda_free(a.kv.d_v_cache);
    octo_cuda_free(a.q), octo_cuda_free(a.out), octo_cuda_free(a.lens), octo_cuda_free(a.cu);
}

/* ==== sampler and small kernels ==== */

typedef struct { void *l, *l0, *ids, *lp, *prm; int B, V; } samp_ctx;
static octo_err run_sample(void *c, int it)
{
    samp_ctx *s = c;
    (void)it;
    return octo_cuda_sample(s->ids, s->lp, s->l, s->V, NULL, s->prm, s->B, s->V, S);
}

static void bench_sample(void)
{
    int V = 151936;
    static const int Bs[] = {1, 32};
    for (int bi = 0; bi < 2; bi++)
        for (int mode = 0; mode < 2; mode++) {
            samp_ctx s = {NULL, NULL, NULL, NULL, NULL, Bs[bi], V};
            size_t n = (size_t)s.B * V;
            float *h = malloc(n * 4);
            for (size_t i = 0; i < n; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                h[i] = (float)((double)(rng >> 11) / 9007199254740992.0 * 24.0 - 12.0);
            }
            octo_cuda_sample_params p[32];
            memset(p, 0, sizeof p);
            for (int b = 0; b < s.B; b++) {
                p[b].temperature = mode ? 0.7f : 0.0f;
                p[b].top_k = mode ? 50 : 0;
                p[b].top_p = mode ? 0.9f : 1.0f;
                p[b].repetition_penalty = 1.0f, p[b].seed = (uint64_t)b + 1;
            }
            if (octo_cuda_malloc(n * 4, &s.l) || octo_cuda_h2d(s.l, h, n * 4, NULL) ||
                octo_cuda_malloc(256, &s.ids) || octo_cuda_malloc(256, &s.lp) ||
                octo_cuda_malloc(sizeof p, &s.prm) || octo_cuda_h2d(s.prm, p, sizeof p, NULL))
                return;
            /* temperature 0.7 rescales in place each run; over 24 runs that
             * stays finite and keeps the same ordering */
            double ms = time_ms(run_sample, &s, REPS);
            printf("{\"bench\":\"sample\",\"card\":\"%s\",\"B\":%d,\"V\":%d,\"mode\":\"%s\","
                   "\"us\":%.1f}\n", card, s.B, V, mode ? "t0.7_k50_p0.9" : "greedy", ms * 1e3);
            row("sample B=%-2d V=%d %-14s   %9.1f us", s.B, V, mode ? "top-k/top-p" : "greedy",
                ms * 1e3);
            free(h);
            octo_cuda_free(s.l), octo_cuda_free(s.ids), octo_cuda_free(s.lp), octo_cuda_free(s.prm);
        }
}

typedef struct { void *a, *b, *c, *w, *pos, *inv; int T; } small_ctx;
static octo_err run_norm(void *c, int it)
{
    small_ctx *s = c;
    (void)it;
    return octo_cuda_add_rmsnorm(s->a, s->b, s->c, s->w, s->T, 4096, 1e-6f, S);
}
static octo_err run_swiglu(void *c, int it)
{
    small_ctx *s = c;
    (void)it;
    return octo_cuda_swiglu(s->a, s->c, s->T, 12288, S);
}
static octo_err run_rope(void *c, int it)
{
    small_ctx *s = c;
    (void)it;
    octo_cuda_rope r = {128, NULL, 0, s->inv, 1.0f};
    return octo_cuda_qk_norm_rope(s->c, 6144, (uint16_t *)s->c + 4096, 6144, s->w, s->w, s->pos,
                                  s->T, 32, 8, 128, 1e-6f, &r, S);
}

static void bench_small(void)
{
    static const int Ts[] = {1, 2048};
    small_ctx s;
    memset(&s, 0, sizeof s);
    s.a = dev_rand((size_t)2048 * 24576 * 2, 1.0f);
    s.b = dev_rand((size_t)2048 * 24576 * 2, 1.0f);
    s.c = dev_rand((size_t)2048 * 24576 * 2, 1.0f);
    s.w = dev_rand(4096 * 2, 1.0f);
    int32_t pos[2048];
    float inv[64], ms_ = 1;
    for (int i = 0; i < 2048; i++) pos[i] = i;
    if (octo_cuda_rope_inv_freq(inv, 128, 1e6, 1.0, 0, 0, 0, &ms_)) return;
    if (octo_cuda_malloc(sizeof pos, &s.pos) || octo_cuda_h2d(s.pos, pos, sizeof pos, NULL) ||
        octo_cuda_malloc(sizeof inv, &s.inv) || octo_cuda_h2d(s.inv, inv, sizeof inv, NULL))
        return;
    for (int ti = 0; ti < 2; ti++) {
        s.T = Ts[ti];
        double a = time_ms(run_norm, &s, REPS), b = time_ms(run_swiglu, &s, REPS);
        double c = time_ms(run_rope, &s, REPS);
        printf("{\"bench\":\"small\",\"card\":\"%s\",\"T\":%d,\"add_rmsnorm_C4096_us\":%.2f,"
               "\"swiglu_F12288_us\":%.2f,\"qk_norm_rope_H32K8_us\":%.2f}\n", card, s.T, a * 1e3,
               b * 1e3, c * 1e3);
        row("T=%-4d add_rmsnorm %.1f us, swiglu %.1f us, qk_norm_rope %.1f us", s.T, a * 1e3,
            b * 1e3, c * 1e3);
    }
    octo_cuda_free(s.a), octo_cuda_free(s.b), octo_cuda_free(s.c), octo_cuda_free(s.w);
    octo_cuda_free(s.pos), octo_cuda_free(s.inv);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    int prefill = argc > 1 && strcmp(argv[1], "prefill") == 0;
    int only_skinny = argc > 1 && strcmp(argv[1], "skinny") == 0;
    int only_fused = argc > 1 && strcmp(argv[1], "fused") == 0;
    if (octo_cuda_device_count() <= 0 || octo_cuda_init(0)) {
        printf("SKIP: no CUDA device\n");
        return 0;
    }
    if (octo_cuda_device_info(NULL, NULL, card, sizeof card) || octo_cuda_stream_new(&S))
        return 1;
    octo_cuda_gemm *g = NULL;
    if (octo_cuda_gemm_new(32u << 20, &g)) return 1;
    bench_copy();
    int all = !prefill && !only_skinny && !only_fused;
    if (all) bench_gemv(g);
    if (all || only_skinny) bench_skinny(g);
    if (all) bench_gemm(g, quick);
    if (!only_skinny) bench_attention(quick, prefill ? 1 : only_fused ? 2 : 0);
    if (all) {
        bench_sample();
        bench_small();
    }
    printf("\n== %s (copy ceiling %.0f GB/s) ==\n", card, copy_gbps);
    for (int i = 0; i < nrows; i++) printf("%s\n", table[i]);
    octo_cuda_gemm_free(g);
    octo_cuda_stream_free(S);
    return 0;
}
