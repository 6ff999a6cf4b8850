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
 * the same reference, and each decode case every decode kernel (v3 CUDA
 * cores, v4 tensor cores, the automatic choice), with large batches of
 * mixed lengths at tile and partition boundaries.
 *
 * The fused decode kernel (q/k norm + RoPE + KV store + attention) is
 * checked against the unfused pair octo_cuda_qk_norm_rope_kv +
 * octo_cuda_attn_decode on the same inputs (output within 4e-3, cache
 * bit-identical, inputs untouched, two launches per workspace) and against
 * the CPU attention over the pair's rotated q and cache.
 *
 * Without a CUDA device (or a CUDA build) it prints "SKIP: no CUDA device".
 */
#include "kernels/kutil.h"

#ifdef OCTO_HAVE_CUDA

#define TOL_ATTN 1e-2
#define TOL_ATTN_ROW 3e-2 /* one (token, head) row of D outputs */

/* A paged cache with random contents and per-sequence random block tables
 * of at least min_blocks entries (room for max_seq_len), the unused ones 0. */
typedef struct cache {
    int nb, bs, K, D, B, max_blocks;
    uint16_t *k, *v;      /* host [nb, bs, K, D] */
    int32_t *bt;          /* host [B, max_blocks] */
    void *d_k, *d_v, *d_bt;
} cache;

static void cache_make(cache *c, int B, const int *lens, int bs, int K, int D, int min_blocks)
{
    memset(c, 0, sizeof *c);
    c->B = B, c->bs = bs, c->K = K, c->D = D;
    int total = 0, maxb = min_blocks > 1 ? min_blocks : 1;
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

static void decode_case(int B, int H, int K, int D, int bs, const int *lens)
{
    cache c;
    cache_make(&c, B, lens, bs, K, D, 0);
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
    double *ref = malloc(sizeof(double) * B * H * D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            attn_ref(&c, b, h / (H / K), q + (size_t)b * q_stride + (size_t)h * D, lens[b], scale,
                     ref + ((size_t)b * H + h) * D);
    /* every kernel version on the same inputs: 3 (CUDA cores), 4 (tensor
     * cores; 3 again where the block size is not a multiple of 16), and
     * the automatic choice last (the default left in place) */
    static const int versions[3] = {3, 4, 5};
    for (int vi = 0; vi < 3; vi++) {
        octo_cuda_attn_decode_set_version(versions[vi]);
        CHECK_OK(octo_cuda_memset(d_out, 0xff, (size_t)B * H * D * 2, NULL));
        CHECK_OK(octo_cuda_attn_decode(d_out, d_q, q_stride, &kv, c.d_bt, c.max_blocks, d_len,
                                       B, H, maxlen, scale, d_ws, NULL));
        uint16_t *out = k_down(d_out, (size_t)B * H * D * 2);
        char name[112];
        snprintf(name, sizeof name, "decode v%d B=%d H=%d K=%d D=%d bs=%d max=%d ws=%zu",
                 versions[vi], B, H, K, D, bs, maxlen, ws);
        CHECK_ERR(name, out ? k_rel_err(out, NULL, ref, (size_t)B * H * D) : INFINITY,
                  TOL_ATTN);
        CHECK_ERR("  worst (sequence, head) row",
                  out ? max_row_err(out, ref, (size_t)B * H, D) : INFINITY, TOL_ATTN_ROW);
        free(out);
    }
    free(ref), free(q);
    octo_cuda_free(d_q), octo_cuda_free(d_len), octo_cuda_free(d_out), octo_cuda_free(d_ws);
    cache_free(&c);
}

/* Lengths for the large-batch cases: the first ones at tile (16) and
 * partition (256 .. 2048) boundaries and one past them, the rest random
 * in 1 .. hi. */
static void edge_lens(int *lens, int B, int hi)
{
    static const int edges[] = {1,   2,   15,  16,  17,   63,   64,   65,   255,  256, 257,
                                511, 512, 513, 767, 768,  1023, 1024, 1025, 2047, 2048, 2049};
    int ne = (int)(sizeof edges / sizeof edges[0]);
    for (int b = 0; b < B; b++) lens[b] = b < ne && edges[b] <= hi ? edges[b] : 1 + k_int(hi);
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
    /* large batches (version 4 in the automatic choice): the serving
     * regime, lengths at tile and partition boundaries, G = 1, 4 and 8,
     * D = 64, 128 and 256, block sizes 16, 32 and 8 (8: version 3) */
    static int lb[128];
    edge_lens(lb, 64, 1100);
    decode_case(64, 32, 8, 128, 16, lb); /* Qwen3-8B shape */
    edge_lens(lb, 128, 1100);
    decode_case(128, 16, 2, 64, 16, lb); /* G=8 */
    edge_lens(lb, 64, 2100);
    decode_case(64, 8, 8, 256, 32, lb);  /* G=1, several partitions */
    edge_lens(lb, 32, 4100);
    decode_case(32, 32, 2, 128, 16, lb); /* partitions of 2048, G=16: two head groups */
    edge_lens(lb, 64, 300);
    decode_case(64, 16, 4, 128, 8, lb);  /* block size 8: version 3 */
}

/* ==== fused decode (norm + RoPE + KV store + attention, one kernel) ==== */

typedef struct fcase {
    int B, H, K, D, bs;
    const int *lens;
    int maxlen;       /* passed max_seq_len (>= every length) */
    int norms;        /* q/k RMSNorm weights, or NULL */
    int table;        /* cos/sin table, else inv_freq */
    int rot_dim;
    double yarn;      /* inv_freq's YaRN factor (1: none) */
} fcase;

typedef struct fdev {
    void *qw, *kw, *cs, *inv, *pos, *slots, *len;
    octo_cuda_rope rope;
} fdev;

/* RoPE angles and norm weights on the device, per case. */
static void fdev_make(fdev *f, const fcase *fc, const cache *c, const int32_t *pos)
{
    memset(f, 0, sizeof *f);
    int D = fc->D, B = fc->B, half = fc->rot_dim / 2, P = 1;
    for (int b = 0; b < B; b++)
        if (pos[b] + 1 > P) P = pos[b] + 1;
    if (fc->norms) {
        uint16_t *w = k_rand_bf16((size_t)2 * D, 1.5);
        f->qw = k_up(w, (size_t)D * 2), f->kw = k_up(w + D, (size_t)D * 2);
        free(w);
    }
    f->rope.rot_dim = fc->rot_dim;
    f->rope.mscale = 1.0f;
    if (fc->table) {
        float *t = malloc(sizeof(float) * (size_t)P * fc->rot_dim);
        for (int p = 0; p < P; p++)
            for (int j = 0; j < half; j++) {
                double a = p * pow(10000.0, -2.0 * j / fc->rot_dim);
                t[(size_t)p * fc->rot_dim + j] = (float)cos(a);
                t[(size_t)p * fc->rot_dim + half + j] = (float)sin(a);
            }
        f->cs = k_up(t, sizeof(float) * (size_t)P * fc->rot_dim);
        f->rope.d_cos_sin = f->cs, f->rope.table_rows = P;
        free(t);
    } else {
        float inv[256];
        CHECK_OK(octo_cuda_rope_inv_freq(inv, fc->rot_dim, 1e6, fc->yarn, 4096, 32, 1,
                                         &f->rope.mscale));
        f->inv = k_up(inv, sizeof(float) * (size_t)half);
        f->rope.d_inv_freq = f->inv;
    }
    int32_t slots[256];
    for (int b = 0; b < B; b++) {
        int t = fc->lens[b] - 1;
        slots[b] = c->bt[b * c->max_blocks + t / c->bs] * c->bs + t % c->bs;
    }
    f->pos = k_up(pos, sizeof(int32_t) * B), f->slots = k_up(slots, sizeof(int32_t) * B);
    f->len = k_up(fc->lens, sizeof(int32_t) * B);
}

static void fdev_free(fdev *f)
{
    octo_cuda_free(f->qw), octo_cuda_free(f->kw), octo_cuda_free(f->cs);
    octo_cuda_free(f->inv), octo_cuda_free(f->pos), octo_cuda_free(f->slots);
    octo_cuda_free(f->len);
}

/* Cache rows that differ: `news` counts rows of the new tokens' slots that
 * differ between the two caches, `olds` other rows that differ from the
 * initial contents. */
static void cache_diff(const cache *c, const fcase *fc, const uint16_t *init,
                       const uint16_t *a, const uint16_t *f, long *news, long *olds)
{
    size_t row = (size_t)c->D, rows = (size_t)c->nb * c->bs * c->K;
    char *is_new = calloc(rows, 1);
    for (int b = 0; b < fc->B; b++) {
        int t = fc->lens[b] - 1;
        size_t slot = (size_t)c->bt[b * c->max_blocks + t / c->bs] * c->bs + t % c->bs;
        for (int h = 0; h < c->K; h++) is_new[slot * c->K + h] = 1;
    }
    for (size_t r = 0; r < rows; r++) {
        const uint16_t *want = is_new[r] ? a + r * row : init + r * row;
        if (memcmp(f + r * row, want, row * 2)) {
            if (is_new[r]) (*news)++;
            else (*olds)++;
        }
        if (!is_new[r] && memcmp(a + r * row, want, row * 2)) (*olds)++;
    }
    free(is_new);
}

/* One launch of each path on the same raw q/k/v; out and cache compared. */
static void fused_round(const fcase *fc, cache *c, const fdev *f, void *dk2, void *dv2,
                        void *ws, int round)
{
    int B = fc->B, H = fc->H, K = fc->K, D = fc->D, qs = (H + 2 * K) * D;
    size_t nq = (size_t)B * qs, ncache = (size_t)c->nb * c->bs * K * D, no = (size_t)B * H * D;
    uint16_t *raw = k_rand_bf16(nq, 3.0);
    void *d1 = k_up(raw, nq * 2), *d2 = k_up(raw, nq * 2);
    void *o1 = k_poisoned(no * 2), *o2 = k_poisoned(no * 2);
    size_t ws1 = octo_cuda_attn_decode_workspace(B, H, D, fc->maxlen);
    void *dws1 = ws1 ? k_poisoned(ws1) : NULL;
    octo_cuda_kv kv1 = {c->d_k, c->d_v, c->nb, c->bs, K, D}, kv2 = {dk2, dv2, c->nb, c->bs, K, D};
    float scale = 1.0f / sqrtf((float)D), eps = 1e-6f;
    uint16_t *k0 = k_down(c->d_k, ncache * 2), *v0 = k_down(c->d_v, ncache * 2);
    CHECK_OK(octo_cuda_qk_norm_rope_kv(d1, qs, d1, qs, (uint16_t *)d1 + H * D, qs,
                                       (uint16_t *)d1 + (H + K) * D, qs, f->qw, f->kw, f->pos,
                                       f->slots, &kv1, B, H, D, eps, &f->rope, NULL));
    CHECK_OK(octo_cuda_attn_decode(o1, d1, qs, &kv1, c->d_bt, c->max_blocks, f->len, B, H,
                                   fc->maxlen, scale, dws1, NULL));
    CHECK_OK(octo_cuda_attn_decode_fused(o2, d2, qs, (uint16_t *)d2 + H * D, qs,
                                         (uint16_t *)d2 + (H + K) * D, qs, f->qw, f->kw, eps,
                                         &f->rope, f->pos, f->slots, &kv2, c->d_bt,
                                         c->max_blocks, f->len, B, H, fc->maxlen, scale, ws,
                                         NULL));
    uint16_t *out1 = k_down(o1, no * 2), *out2 = k_down(o2, no * 2);
    uint16_t *q1 = k_down(d1, nq * 2), *q2 = k_down(d2, nq * 2);
    uint16_t *k1 = k_down(c->d_k, ncache * 2), *v1 = k_down(c->d_v, ncache * 2);
    uint16_t *k2 = k_down(dk2, ncache * 2), *v2 = k_down(dv2, ncache * 2);
    CHECK(out1 && out2 && q1 && q2 && k0 && v0 && k1 && v1 && k2 && v2);
    if (!(out1 && out2 && q1 && q2 && k0 && v0 && k1 && v1 && k2 && v2)) goto done;
    /* oracle 1: the unfused pair; oracle 2: CPU attention in double with the
     * unfused path's rotated q over its cache */
    double *r1 = malloc(sizeof(double) * no), *r2 = malloc(sizeof(double) * no);
    for (size_t i = 0; i < no; i++) r1[i] = k_bf2f(out1[i]);
    cache cc = *c;
    cc.k = k1, cc.v = v1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            attn_ref(&cc, b, h / (H / K), q1 + (size_t)b * qs + (size_t)h * D, fc->lens[b],
                     scale, r2 + ((size_t)b * H + h) * D);
    char name[128];
    snprintf(name, sizeof name, "fused B=%d H=%d K=%d D=%d max=%d n%d t%d r%d #%d vs pair", B,
             H, K, D, fc->maxlen, fc->norms, fc->table, fc->rot_dim, round);
    CHECK_ERR(name, k_rel_err(out2, NULL, r1, no), 4e-3);
    snprintf(name, sizeof name, "  ... vs CPU (pair: %.1e)", k_rel_err(out1, NULL, r2, no));
    CHECK_ERR(name, k_rel_err(out2, NULL, r2, no), TOL_ATTN);
    long news = 0, olds = 0;
    cache_diff(c, fc, k0, k1, k2, &news, &olds);
    cache_diff(c, fc, v0, v1, v2, &news, &olds);
    printf("  ... cache rows differing: new %ld, old %ld; q/k/v input untouched: %s\n", news,
           olds, memcmp(q2, raw, nq * 2) ? "NO" : "yes");
    CHECK(news == 0 && olds == 0);
    CHECK(memcmp(q2, raw, nq * 2) == 0);
    free(r1), free(r2);
done:
    free(raw), free(out1), free(out2), free(q1), free(q2);
    free(k0), free(v0), free(k1), free(v1), free(k2), free(v2);
    octo_cuda_free(d1), octo_cuda_free(d2), octo_cuda_free(o1), octo_cuda_free(o2);
    octo_cuda_free(dws1);
}

static void fused_case(const fcase *fc)
{
    cache c;
    cache_make(&c, fc->B, fc->lens, fc->bs, fc->K, fc->D, (fc->maxlen + fc->bs - 1) / fc->bs);
    int32_t pos[256];
    for (int b = 0; b < fc->B; b++) pos[b] = fc->lens[b] - 1;
    fdev f;
    fdev_make(&f, fc, &c, pos);
    size_t ncache = (size_t)c.nb * c.bs * c.K * c.D;
    void *dk2 = k_up(c.k, ncache * 2), *dv2 = k_up(c.v, ncache * 2);
    /* zeroed once; both rounds reuse it (the counters must come back to 0) */
    size_t ws = octo_cuda_attn_decode_fused_workspace(fc->B, fc->H, fc->D, fc->maxlen);
    void *d_ws = NULL;
    CHECK(ws > 0 && octo_cuda_malloc(ws, &d_ws) == OCTO_OK);
    CHECK_OK(octo_cuda_memset(d_ws, 0, ws, NULL));
    for (int r = 0; r < 2; r++) fused_round(fc, &c, &f, dk2, dv2, d_ws, r);
    octo_cuda_free(d_ws), octo_cuda_free(dk2), octo_cuda_free(dv2);
    fdev_free(&f);
    cache_free(&c);
}

static void test_fused_decode(void)
{
    /* the pair's attention: the CUDA-core kernel (f32 probabilities, as the
     * fused kernel), not the tensor-core one that B = 64 would choose */
    octo_cuda_attn_decode_set_version(3);
    /* B = 1, Qwen3-8B heads: one partition (<= 64) and several */
    static const int ctx[] = {1, 2, 63, 64, 65, 200, 513, 600};
    for (int i = 0; i < 8; i++) {
        int l[1] = {ctx[i]};
        fcase fc = {1, 32, 8, 128, 16, l, ctx[i], 1, 0, 128, 1.0};
        fused_case(&fc);
    }
    int l7[7] = {1, 17, 600, 64, 65, 300, 2};
    fcase a = {7, 16, 4, 64, 32, l7, 600, 0, 1, 64, 1.0};    /* G=4, D=64, no norm, table */
    fused_case(&a);
    int l3[3] = {5, 400, 129};
    fcase b = {3, 8, 8, 256, 16, l3, 512, 1, 0, 64, 4.0};    /* G=1, D=256, YaRN, partial */
    fused_case(&b);
    int l5[5] = {1000, 1, 77, 512, 33};
    fcase d = {5, 32, 4, 128, 16, l5, 1024, 1, 1, 96, 1.0};  /* G=8, table, partial 96 */
    fused_case(&d);
    int l2[2] = {700, 3};
    fcase e = {2, 24, 2, 128, 16, l2, 700, 1, 0, 128, 1.0};  /* G=12: two head groups */
    fused_case(&e);
    int l1[1] = {3000 + k_int(100)};
    fcase g = {1, 40, 8, 128, 16, l1, 4096, 1, 0, 128, 1.0}; /* G=5, empty partitions */
    fused_case(&g);
    int l4[4] = {90, 1, 250, 64};
    fcase h = {4, 16, 2, 64, 8, l4, 256, 1, 1, 64, 1.0};     /* G=8, D=64, block 8 */
    fused_case(&h);
    int l64[64];
    for (int i = 0; i < 64; i++) l64[i] = 1 + k_int(512);
    l64[k_int(64)] = 512;
    fcase m = {64, 32, 8, 128, 16, l64, 512, 1, 0, 128, 1.0}; /* Qwen3-8B, B=64 */
    fused_case(&m);
    octo_cuda_attn_decode_set_version(5);
}

/* ==== prefill ==== */

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
    cache_make(&c, B, ctx, bs, K, D, 0);
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
    for (int version = 5; version >= 3; version -= 2) { /* v4 kernel, then v3 */
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

KERNEL_TEST_MAIN(TEST(test_decode), TEST(test_fused_decode), TEST(test_prefill),
                 TEST(test_prefill_tiles), TEST(test_prefill_blocks))

#else
KERNEL_TEST_SKIP_MAIN
#endif
