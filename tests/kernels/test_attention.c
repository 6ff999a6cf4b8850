/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attention — the paged attention kernels (decode with split-K
 * partitions, varlen causal prefill over a cached prefix) against a direct
 * CPU softmax(q k^T * scale) v in double over the same paged cache. Block
 * tables are random permutations of the cache's blocks; inputs random each
 * run; outputs poisoned with NaN. Tolerance 1e-2 relative (bf16 output;
 * the prefill kernel also rounds probabilities to bf16 for its tensor-core
 * product, which costs ~4e-3), and 3e-2 for the worst single (token,
 * head) row of a prefill. Each prefill case runs every prefill kernel
 * (v4 with 32 or 16 rows per warp, the v3 kept for comparison) against
 * the same reference.
 *
 * Without a CUDA device (or a CUDA build) it prints "SKIP: no CUDA device".
 */
#include "kernels/kutil.h"

#ifdef OCTO_HAVE_CUDA

#define TOL_ATTN 1e-2
#define TOL_ATTN_ROW 3e-2 /* one (token, head) row of D outputs */

/* A paged cache with random contents and per-sequence random block tables. */
typedef struct cache {
    int nb, bs, K, D, B, max_blocks;
    uint16_t *k, *v;      /* host [nb, bs, K, D] */
    int32_t *bt;          /* host [B, max_blocks] */
    void *d_k, *d_v, *d_bt;
} cache;

static void cache_make(cache *c, int B, const int *lens, int bs, int K, int D)
{
    memset(c, 0, sizeof *c);
    c->B = B, c->bs = bs, c->K = K, c->D = D;
    int total = 0, maxb = 1;
    for (int b = 0; b < B; b++) {
        int nbk = (lens[b] + bs - 1) / bs;
        total += nbk;
        if (nbk > maxb) maxb = nbk;
    }
    c->nb = total + 3; /* a few blocks nobody uses */
    c->max_blocks = maxb;
    size_t n = (size_t)c->nb * bs * K * D;
    c->k = k_rand_bf16(n, 1.0);
    c->v = k_rand_bf16(n, 1.0);
    int *perm = malloc(sizeof(int) * c->nb);
    for (int i = 0; i < c->nb; i++) perm[i] = i;
    for (int i = c->nb - 1; i > 0; i--) {
        int j = k_int(i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    c->bt = malloc(sizeof(int32_t) * B * maxb);
    int next = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < maxb; i++)
            c->bt[b * maxb + i] = i < (lens[b] + bs - 1) / bs ? perm[next++] : 0;
    free(perm);
    c->d_k = k_up(c->k, n * 2);
    c->d_v = k_up(c->v, n * 2);
    c->d_bt = k_up(c->bt, sizeof(int32_t) * B * maxb);
}

static void cache_free(cache *c)
{
    free(c->k), free(c->v), free(c->bt);
    octo_cuda_free(c->d_k), octo_cuda_free(c->d_v), octo_cuda_free(c->d_bt);
}

static const uint16_t *cache_row(const cache *c, const uint16_t *base, int b, int tok, int kvh)
{
    int blk = c->bt[b * c->max_blocks + tok / c->bs];
    return base + (((size_t)blk * c->bs + tok % c->bs) * c->K + kvh) * c->D;
}

/* out[D] = softmax_j(q . k_j * scale) v_j over tokens 0..n-1 of sequence b. */
static void attn_ref(const cache *c, int b, int kvh, const uint16_t *q, int n, double scale,
                     double *out)
{
    int D = c->D;
    double *s = malloc(sizeof(double) * n), mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) {
        const uint16_t *k = cache_row(c, c->k, b, j, kvh);
        double d = 0;
        for (int i = 0; i < D; i++) d += (double)k_bf2f(q[i]) * k_bf2f(k[i]);
        s[j] = d * scale;
        if (s[j] > mx) mx = s[j];
    }
    for (int i = 0; i < D; i++) out[i] = 0;
    for (int j = 0; j < n; j++) {
        double p = exp(s[j] - mx);
        sum += p;
        const uint16_t *v = cache_row(c, c->v, b, j, kvh);
        for (int i = 0; i < D; i++) out[i] += p * k_bf2f(v[i]);
    }
    for (int i = 0; i < D; i++) out[i] /= sum;
    free(s);
}

/* ==== decode ==== */

static void decode_case(int B, int H, int K, int D, int bs, const int *lens)
{
    cache c;
    cache_make(&c, B, lens, bs, K, D);
    int maxlen = 1;
    for (int b = 0; b < B; b++)
        if (lens[b] > maxlen) maxlen = lens[b];
    int q_stride = (H + 2 * K) * D; /* q inside fused qkv rows */
    uint16_t *q = k_rand_bf16((size_t)B * q_stride, 1.0);
    void *d_q = k_up(q, (size_t)B * q_stride * 2), *d_len = k_up(lens, sizeof(int32_t) * B);
    void *d_out = k_poisoned((size_t)B * H * D * 2);
    size_t ws = octo_cuda_attn_decode_workspace(B, H, D, maxlen);
    void *d_ws = ws ? k_poisoned(ws) : NULL;
    octo_cuda_kv kv = {c.d_k, c.d_v, c.nb, bs, K, D};
    float scale = 1.0f / sqrtf((float)D);
    CHECK_OK(octo_cuda_attn_decode(d_out, d_q, q_stride, &kv, c.d_bt, c.max_blocks, d_len, B, H,
                                   maxlen, scale, d_ws, NULL));
    uint16_t *out = k_down(d_out, (size_t)B * H * D * 2);
    double *ref = malloc(sizeof(double) * B * H * D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            attn_ref(&c, b, h / (H / K), q + (size_t)b * q_stride + (size_t)h * D, lens[b], scale,
                     ref + ((size_t)b * H + h) * D);
    char name[96];
    snprintf(name, sizeof name, "decode B=%d H=%d K=%d D=%d max=%d ws=%zu", B, H, K, D, maxlen,
             ws);
    CHECK_ERR(name, out ? k_rel_err(out, NULL, ref, (size_t)B * H * D) : INFINITY, TOL_ATTN);
    free(out), free(ref), free(q);
    octo_cuda_free(d_q), octo_cuda_free(d_len), octo_cuda_free(d_out), octo_cuda_free(d_ws);
    cache_free(&c);
}

static void test_decode(void)
{
    int l1[5] = {1, 17, 700, 3000, 64};
    l1[2] += k_int(50);
    decode_case(5, 8, 2, 128, 16, l1);   /* G=4, several partitions */
    int l2[3] = {1000 + k_int(100), 5, 260};
    decode_case(3, 16, 2, 64, 32, l2);   /* G=8 */
    int l3[2] = {1500, 33};
    decode_case(2, 4, 2, 256, 16, l3);   /* G=2, D=256 */
    int l4[4] = {300, 2, 129, 77};
    decode_case(4, 32, 2, 128, 16, l4);  /* G=16: two head groups per kv head */
    int l5[64];
    for (int i = 0; i < 64; i++) l5[i] = 1 + k_int(400);
    decode_case(64, 64, 8, 128, 16, l5); /* one partition: direct output */
    int l6[1] = {9000 + k_int(1000)};
    decode_case(1, 40, 8, 128, 16, l6);  /* G=5, long context */
}

/* ==== prefill ==== */

/* Largest relative error of one (token, head) row of D outputs. */
static double max_row_err(const uint16_t *out, const double *ref, size_t rows, int D)
{
    double worst = 0;
    for (size_t r = 0; r < rows; r++) {
        double e = k_rel_err(out + r * D, NULL, ref + r * D, (size_t)D);
        if (e > worst) worst = e;
    }
    return worst;
}

/* Number of NaN (unwritten: the output is poisoned) bf16 values. */
static size_t count_nan(const uint16_t *out, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += (out[i] & 0x7F80) == 0x7F80 && (out[i] & 0x7F);
    return bad;
}

/* Runs the prefill kernel (versions 5 and 4: 32 and 16 rows per warp, then
 * the kept version 3) on B sequences with qlens[b] new tokens each and
 * ctx[b] tokens in all, and checks each against one reference: every
 * output must be written; the reference covers query rows i with
 * i % every == 0 and the last 64 of each sequence (every = 1: all). */
static void prefill_case(int B, const int *qlens, const int *ctx, int H, int K, int D, int bs,
                         int every)
{
    cache c;
    cache_make(&c, B, ctx, bs, K, D);
    int32_t cu[17];
    cu[0] = 0;
    int maxq = 0;
    for (int b = 0; b < B; b++) {
        cu[b + 1] = cu[b] + qlens[b];
        if (qlens[b] > maxq) maxq = qlens[b];
    }
    int T = cu[B], q_stride = H * D + 8; /* padded rows */
    uint16_t *q = k_rand_bf16((size_t)T * q_stride, 1.0);
    void *d_q = k_up(q, (size_t)T * q_stride * 2), *d_cu = k_up(cu, sizeof(int32_t) * (B + 1));
    void *d_len = k_up(ctx, sizeof(int32_t) * B);
    octo_cuda_kv kv = {c.d_k, c.d_v, c.nb, bs, K, D};
    float scale = 1.0f / sqrtf((float)D);
    int *sel = malloc(sizeof(int) * T); /* checked token rows */
    int ns = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < qlens[b]; i++)
            if (i % every == 0 || i >= qlens[b] - 64) sel[ns++] = cu[b] + i;
    double *ref = malloc(sizeof(double) * ns * H * D);
    uint16_t *got = malloc(sizeof(uint16_t) * ns * H * D);
    for (int r = 0, b = 0; r < ns; r++) {
        int t = sel[r];
        while (t >= cu[b + 1]) b++;
        int pos = ctx[b] - qlens[b] + (t - cu[b]);
        for (int h = 0; h < H; h++)
            attn_ref(&c, b, h / (H / K), q + (size_t)t * q_stride + (size_t)h * D, pos + 1,
                     scale, ref + ((size_t)r * H + h) * D);
    }
    for (int version = 5; version >= 3; version--) {
        void *d_out = k_poisoned((size_t)T * H * D * 2);
        octo_cuda_attn_prefill_set_version(version);
        CHECK_OK(octo_cuda_attn_prefill(d_out, d_q, q_stride, &kv, c.d_bt, c.max_blocks, d_cu,
                                        d_len, B, H, maxq, scale, NULL));
        uint16_t *out = k_down(d_out, (size_t)T * H * D * 2);
        char name[112];
        snprintf(name, sizeof name, "prefill v%d B=%d H=%d K=%d D=%d bs=%d T=%d maxq=%d",
                 version, B, H, K, D, bs, T, maxq);
        CHECK(out != NULL);
        if (out) {
            CHECK(count_nan(out, (size_t)T * H * D) == 0);
            for (int r = 0; r < ns; r++)
                memcpy(got + (size_t)r * H * D, out + (size_t)sel[r] * H * D,
                       sizeof(uint16_t) * H * D);
            CHECK_ERR(name, k_rel_err(got, NULL, ref, (size_t)ns * H * D), TOL_ATTN);
            CHECK_ERR("  worst (token, head) row", max_row_err(got, ref, (size_t)ns * H, D),
                      TOL_ATTN_ROW);
        }
        free(out);
        octo_cuda_free(d_out);
    }
    octo_cuda_attn_prefill_set_version(5);
    free(got), free(ref), free(sel), free(q);
    octo_cuda_free(d_q), octo_cuda_free(d_cu), octo_cuda_free(d_len);
    cache_free(&c);
}

static void test_prefill(void)
{
    int q1[3] = {1, 70, 130}, c1[3] = {1, 120, 130}; /* seq 1 extends a 50-token prefix */
    q1[2] += k_int(20), c1[2] = q1[2];
    prefill_case(3, q1, c1, 8, 2, 128, 16, 1);
    int q2[2] = {200, 64}, c2[2] = {200, 300};
    prefill_case(2, q2, c2, 4, 4, 64, 32, 1);      /* MHA, D=64 */
    int q3[1] = {100}, c3[1] = {100};
    prefill_case(1, q3, c3, 4, 1, 256, 16, 1);     /* G=4, D=256 */
    int q4[4] = {5, 333, 17, 64}, c4[4] = {5, 333, 1000, 64};
    prefill_case(4, q4, c4, 16, 8, 128, 16, 1);    /* chunked prefill of seq 2 */
}

/* Query counts around the v4 tiles (32, 64 or 128 rows per head by G),
 * with and without a cached prefix, in one batch. */
static void test_prefill_tiles(void)
{
    int q[6] = {1, 63, 65, 127, 129, 300}, c[6] = {1, 100, 65, 200, 129, 377};
    prefill_case(6, q, c, 8, 2, 128, 16, 1);       /* G=4: 32-row tiles */
    prefill_case(6, q, c, 2, 2, 128, 16, 1);       /* G=1: 128-row tiles */
    prefill_case(6, q, c, 4, 2, 64, 16, 1);        /* G=2: 64-row tiles, D=64 */
    int q2[3] = {65, 257, 31}, c2[3] = {65, 300, 95};
    prefill_case(3, q2, c2, 16, 2, 128, 16, 1);    /* G=8: two groups per kv head */
    prefill_case(3, q2, c2, 6, 2, 64, 16, 1);      /* G=3 */
    int q3[4] = {2, 129, 64, 33}, c3[4] = {700, 129, 64, 1000};
    prefill_case(4, q3, c3, 4, 2, 256, 16, 1);     /* D=256 (v3 path) */
}

/* Block sizes that put 8, 1 or a fraction of a KV block in a 64-key tile,
 * one that is not a power of two (v3 path), and a 2048-token prompt. */
static void test_prefill_blocks(void)
{
    int q[3] = {200, 1, 97}, c[3] = {333, 64, 97};
    prefill_case(3, q, c, 8, 2, 128, 8, 1);
    prefill_case(3, q, c, 8, 2, 128, 64, 1);
    prefill_case(3, q, c, 8, 2, 64, 128, 1);
    prefill_case(3, q, c, 8, 2, 128, 24, 1);
    int q2[1] = {2048}, c2[1] = {2048};
    prefill_case(1, q2, c2, 4, 1, 128, 16, 5); /* rows 0, 5, 10, ... and the last 64 */
}

KERNEL_TEST_MAIN(TEST(test_decode), TEST(test_prefill), TEST(test_prefill_tiles),
                 TEST(test_prefill_blocks))

#else
KERNEL_TEST_SKIP_MAIN
#endif
