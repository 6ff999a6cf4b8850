/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernels — the elementwise, normalisation, cache-write and matrix
 * kernels of src/cuda against straightforward CPU references in double
 * (inputs random each run, never zero; outputs poisoned with NaN first, so
 * an unwritten element fails). Tolerances: copies and bf16 sums that the
 * reference rounds the same way must match exactly; bf16 outputs of f32
 * arithmetic within 1e-2 relative (one bf16 rounding is 2^-9 = 2e-3 per
 * element); f32 outputs within 1e-4. The skinny GEMM is also checked for
 * unwritten outputs, writes past N in strided rows and bitwise-repeatable
 * split-K sums.
 *
 * Without a CUDA device (or a CUDA build) it prints "SKIP: no CUDA device".
 */
#include "kernels/kutil.h"

#ifdef OCTO_HAVE_CUDA
#include "cuda/backend_int.h"

#define TOL_BF16 1e-2
#define TOL_F32 1e-4

/* ==== pool ==== */

static void test_pool(void)
{
    octo_cuda_pool *p = NULL;
    void *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(octo_cuda_pool_new(1 << 20, &p));
    if (!p) return;
    CHECK_OK(octo_cuda_pool_alloc(p, 100, &a));
    size_t mark = octo_cuda_pool_mark(p);
    CHECK_OK(octo_cuda_pool_alloc(p, 1000, &b));
    CHECK(((uintptr_t)b & 255) == 0 && (char *)b >= (char *)a + 100);
    CHECK(octo_cuda_pool_alloc(p, 2 << 20, &c) == OCTO_E_NOMEM && c == NULL);
    octo_cuda_pool_reset_to(p, mark);
    CHECK_OK(octo_cuda_pool_alloc(p, 1000, &c));
    CHECK(c == b);
    CHECK(octo_cuda_pool_capacity(p) == (1 << 20));
    /* the memory is usable */
    uint32_t h[256], back[256];
    for (int i = 0; i < 256; i++) h[i] = (uint32_t)k_next();
    CHECK_OK(octo_cuda_h2d(c, h, sizeof h, NULL));
    CHECK_OK(octo_cuda_d2h(back, c, sizeof h, NULL));
    CHECK(memcmp(h, back, sizeof h) == 0);
    octo_cuda_pool_free(p);
    octo_cuda_pool_free(NULL);
    /* bad input is an error, not a crash */
    CHECK(octo_cuda_embed(NULL, NULL, NULL, 1, 8, 1, NULL) == OCTO_E_INVALID);
}

/* ==== embedding ==== */

static void test_embed(void)
{
    int V = 1000, C = 512, T = 37;
    uint16_t *tab = k_rand_bf16((size_t)V * C, 1.0);
    int32_t ids[37];
    for (int t = 0; t < T; t++) ids[t] = k_int(V);
    ids[5] = V + 3; /* out of range: zero row */
    void *d_tab = k_up(tab, (size_t)V * C * 2), *d_ids = k_up(ids, sizeof ids);
    void *d_out = k_poisoned((size_t)T * C * 2);
    CHECK_OK(octo_cuda_embed(d_out, d_tab, d_ids, T, C, V, NULL));
    uint16_t *out = k_down(d_out, (size_t)T * C * 2);
    int bad = 0;
    for (int t = 0; t < T && out; t++)
        for (int c = 0; c < C; c++) {
            uint16_t want = ids[t] < V ? tab[(size_t)ids[t] * C + c] : 0;
            bad += out[(size_t)t * C + c] != want;
        }
    CHECK(out && bad == 0);
    free(out), free(tab);
    octo_cuda_free(d_tab), octo_cuda_free(d_ids), octo_cuda_free(d_out);
}

/* ==== residual add + RMSNorm ==== */

static void rmsnorm_case(int T, int C, int with_res)
{
    float eps = 1e-6f;
    size_t n = (size_t)T * C;
    uint16_t *x = k_rand_bf16(n, 2.0), *res = k_rand_bf16(n, 2.0), *w = k_rand_bf16(C, 1.5);
    void *d_x = k_up(x, n * 2), *d_res = k_up(res, n * 2), *d_w = k_up(w, C * 2);
    void *d_out = k_poisoned(n * 2);
    CHECK_OK(octo_cuda_add_rmsnorm(d_out, with_res ? d_res : NULL, d_x, d_w, T, C, eps, NULL));
    uint16_t *out = k_down(d_out, n * 2), *res2 = k_down(d_res, n * 2);
    double *ref = malloc(n * sizeof(double));
    int res_bad = 0;
    for (int t = 0; t < T; t++) {
        double ss = 0;
        float *r = malloc(C * sizeof(float));
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)t * C + c;
            r[c] = with_res ? k_round(k_bf2f(x[i]) + k_bf2f(res[i])) : k_bf2f(x[i]);
            if (with_res && res2) res_bad += res2[i] != k_f2bf(r[c]);
            ss += (double)r[c] * r[c];
        }
        double inv = 1.0 / sqrt(ss / C + eps);
        for (int c = 0; c < C; c++) ref[(size_t)t * C + c] = r[c] * inv * k_bf2f(w[c]);
        free(r);
    }
    char name[64];
    snprintf(name, sizeof name, "add_rmsnorm T=%d C=%d res=%d", T, C, with_res);
    CHECK_ERR(name, out ? k_rel_err(out, NULL, ref, n) : INFINITY, TOL_BF16);
    CHECK(res2 && res_bad == 0);
    free(out), free(res2), free(ref), free(x), free(res), free(w);
    octo_cuda_free(d_x), octo_cuda_free(d_res), octo_cuda_free(d_w), octo_cuda_free(d_out);
}

static void test_add_rmsnorm(void)
{
    rmsnorm_case(7, 4096, 1);
    rmsnorm_case(3, 4096, 0);
    rmsnorm_case(5, 12288, 1); /* more vectors per thread than kept in registers */
    rmsnorm_case(2, 1024, 1);
}

/* ==== q/k norm + RoPE ==== */

static void test_rope_inv_freq(void)
{
    int D = 128;
    float f[64], ms = 0;
    CHECK_OK(octo_cuda_rope_inv_freq(f, D, 1e6, 1.0, 0, 0, 0, &ms));
    double e = 0;
    for (int i = 0; i < D / 2; i++) e = fmax(e, fabs(f[i] * pow(1e6, 2.0 * i / D) - 1.0));
    CHECK(e < 1e-6 && ms == 1.0f);
    /* YaRN: the fastest dims keep their frequency, the slowest are divided
     * by the factor, and mscale = 0.1 ln(factor) + 1 */
    CHECK_OK(octo_cuda_rope_inv_freq(f, D, 1e6, 4.0, 32768, 32, 1, &ms));
    CHECK(fabs(f[0] - 1.0) < 1e-7);
    CHECK(fabs(f[1] * pow(1e6, 2.0 / D) - 1.0) < 1e-6);
    CHECK(fabs(f[63] * pow(1e6, 126.0 / D) * 4.0 - 1.0) < 1e-6);
    CHECK(fabs(ms - (0.1 * log(4.0) + 1.0)) < 1e-6);
    for (int i = 1; i < D / 2; i++) CHECK(f[i] < f[i - 1]);
    CHECK(octo_cuda_rope_inv_freq(f, 127, 1e6, 1.0, 0, 0, 0, &ms) == OCTO_E_INVALID);
}

/* One token-head vector through the reference: optional norm (rounded to
 * bf16 like the kernel and the HF model), then rotate_half RoPE. */
static void rope_ref(const uint16_t *x, const uint16_t *w, int D, int rot, double pos,
                     const float *inv_freq, const float *table_row, float mscale, double eps,
                     double *out)
{
    float v[512];
    double ss = 0;
    for (int d = 0; d < D; d++) ss += (double)k_bf2f(x[d]) * k_bf2f(x[d]);
    double inv = 1.0 / sqrt(ss / D + eps);
    for (int d = 0; d < D; d++)
        v[d] = w ? k_round((float)(k_bf2f(x[d]) * inv * k_bf2f(w[d]))) : k_bf2f(x[d]);
    int half = rot / 2;
    for (int d = 0; d < D; d++) {
        if (d >= rot) {
            out[d] = v[d];
            continue;
        }
        int j = d < half ? d : d - half;
        double c, s;
        if (table_row) {
            c = table_row[j], s = table_row[half + j];
        } else {
            double ang = (double)((float)pos * inv_freq[j]);
            c = cos(ang) * mscale, s = sin(ang) * mscale;
        }
        out[d] = d < half ? v[d] * c - (double)v[d + half] * s : v[d] * c + (double)v[d - half] * s;
    }
}

static void rope_case(int T, int H, int K, int D, int rot, int use_norm, int use_table)
{
    int stride = (H + 2 * K) * D; /* fused qkv rows */
    size_t n = (size_t)T * stride;
    uint16_t *qkv = k_rand_bf16(n, 3.0), *qw = k_rand_bf16(D, 1.5), *kw = k_rand_bf16(D, 1.5);
    int32_t pos[64];
    int P = 40000;
    for (int t = 0; t < T; t++) pos[t] = k_int(P);
    float inv_freq[256], ms = 1.0f;
    CHECK_OK(octo_cuda_rope_inv_freq(inv_freq, rot, 1e6, use_table ? 1.0 : 4.0, 32768, 32, 1,
                                     &ms));
    /* table rows only for the positions used (others stay NaN-free zeros) */
    float *table = calloc((size_t)P * rot, sizeof(float));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < rot / 2; j++) {
            double a = (double)pos[t] * inv_freq[j] * 1.0001; /* any angles will do */
            table[(size_t)pos[t] * rot + j] = (float)cos(a);
            table[(size_t)pos[t] * rot + rot / 2 + j] = (float)sin(a);
        }
    void *d_qkv = k_up(qkv, n * 2), *d_qw = k_up(qw, D * 2), *d_kw = k_up(kw, D * 2);
    void *d_pos = k_up(pos, sizeof pos), *d_inv = k_up(inv_freq, sizeof inv_freq);
    void *d_tab = use_table ? k_up(table, (size_t)P * rot * 4) : NULL;
    octo_cuda_rope rp = {rot, d_tab, P, d_inv, ms};
    uint16_t *q = d_qkv, *k = (uint16_t *)d_qkv + H * D;
    CHECK_OK(octo_cuda_qk_norm_rope(q, stride, k, stride, use_norm ? d_qw : NULL,
                                    use_norm ? d_kw : NULL, d_pos, T, H, K, D, 1e-6f, &rp, NULL));
    uint16_t *out = k_down(d_qkv, n * 2);
    size_t nqk = (size_t)T * (H + K) * D;
    double *ref = malloc(nqk * sizeof(double));
    uint16_t *got = malloc(nqk * 2);
    int v_bad = 0;
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < H + K; h++) {
            const uint16_t *x = qkv + (size_t)t * stride + (size_t)h * D;
            const uint16_t *w = use_norm ? (h < H ? qw : kw) : NULL;
            size_t o = ((size_t)t * (H + K) + h) * D;
            const float *trow = use_table ? table + (size_t)pos[t] * rot : NULL;
            rope_ref(x, w, D, rot, pos[t], inv_freq, trow, ms, 1e-6, ref + o);
            if (out) memcpy(got + o, out + (size_t)t * stride + (size_t)h * D, (size_t)D * 2);
        }
        for (int c = (H + K) * D; c < stride && out; c++) /* v untouched */
            v_bad += out[(size_t)t * stride + c] != qkv[(size_t)t * stride + c];
    }
    char name[80];
    snprintf(name, sizeof name, "qk_norm_rope D=%d rot=%d norm=%d table=%d", D, rot, use_norm,
             use_table);
    CHECK_ERR(name, out ? k_rel_err(got, NULL, ref, nqk) : INFINITY, TOL_BF16);
    CHECK(out && v_bad == 0);
    free(out), free(ref), free(got), free(qkv), free(qw), free(kw), free(table);
    octo_cuda_free(d_qkv), octo_cuda_free(d_qw), octo_cuda_free(d_kw), octo_cuda_free(d_pos);
    octo_cuda_free(d_inv), octo_cuda_free(d_tab);
}

static void test_qk_norm_rope(void)
{
    rope_case(9, 4, 2, 128, 128, 1, 0); /* Qwen3: norm + full rotation, YaRN x4 */
    rope_case(5, 8, 8, 64, 32, 0, 1);   /* partial rotation from a table, no norm */
    rope_case(3, 2, 1, 256, 256, 1, 1);
}

/* ==== SwiGLU ==== */

static void test_swiglu(void)
{
    int T = 5, F = 3072;
    size_t n = (size_t)T * F;
    uint16_t *gu = k_rand_bf16(2 * n, 4.0);
    void *d_gu = k_up(gu, 4 * n), *d_out = k_poisoned(2 * n);
    CHECK_OK(octo_cuda_swiglu(d_out, d_gu, T, F, NULL));
    uint16_t *out = k_down(d_out, 2 * n);
    double *ref = malloc(n * sizeof(double));
    for (int t = 0; t < T; t++)
        for (int f = 0; f < F; f++) {
            double g = k_bf2f(gu[(size_t)t * 2 * F + f]), u = k_bf2f(gu[(size_t)t * 2 * F + F + f]);
            ref[(size_t)t * F + f] = g / (1.0 + exp(-g)) * u;
        }
    CHECK_ERR("swiglu T=5 F=3072", out ? k_rel_err(out, NULL, ref, n) : INFINITY, TOL_BF16);
    free(out), free(ref), free(gu);
    octo_cuda_free(d_gu), octo_cuda_free(d_out);
}

/* ==== KV cache write ==== */

static void test_kv_write(void)
{
    int nb = 13, bs = 16, K = 2, D = 128, T = 50;
    int stride = (4 + 2 * K) * D; /* k and v inside fused qkv rows */
    size_t cache = (size_t)nb * bs * K * D;
    uint16_t *qkv = k_rand_bf16((size_t)T * stride, 2.0);
    int32_t slots[50], used[13 * 16] = {0};
    for (int t = 0; t < T; t++) {
        int sl;
        do sl = k_int(nb * bs);
        while (used[sl]);
        used[sl] = 1;
        slots[t] = sl;
    }
    slots[7] = -1; /* padding */
    used[0] = used[0]; /* keep */
    void *d_qkv = k_up(qkv, (size_t)T * stride * 2), *d_sl = k_up(slots, sizeof slots);
    void *d_kc = k_poisoned(cache * 2), *d_vc = k_poisoned(cache * 2);
    octo_cuda_kv kv = {d_kc, d_vc, nb, bs, K, D};
    const uint16_t *dk = (const uint16_t *)d_qkv + 4 * D, *dv = dk + K * D;
    CHECK_OK(octo_cuda_kv_write(&kv, dk, stride, dv, stride, d_sl, T, NULL));
    uint16_t *kc = k_down(d_kc, cache * 2), *vc = k_down(d_vc, cache * 2);
    int bad = 0, written = 0;
    int *owner = malloc(sizeof(int) * nb * bs);
    for (int i = 0; i < nb * bs; i++) owner[i] = -1;
    for (int t = 0; t < T; t++)
        if (slots[t] >= 0) owner[slots[t]] = t;
    for (int sl = 0; sl < nb * bs && kc && vc; sl++)
        for (int c = 0; c < K * D; c++) {
            size_t i = (size_t)sl * K * D + c;
            int t = owner[sl];
            uint16_t wk = t >= 0 ? qkv[(size_t)t * stride + 4 * D + c] : 0xFFFF;
            uint16_t wv = t >= 0 ? qkv[(size_t)t * stride + (4 + K) * D + c] : 0xFFFF;
            bad += kc[i] != wk || vc[i] != wv;
            written += t >= 0;
        }
    CHECK(kc && vc && bad == 0 && written == (T - 1) * K * D);
    free(kc), free(vc), free(owner), free(qkv);
    octo_cuda_free(d_qkv), octo_cuda_free(d_sl), octo_cuda_free(d_kc), octo_cuda_free(d_vc);
}

/* q/k norm + RoPE with the KV-cache store in the same pass: q and the
 * cached keys against the double reference, values copied exactly, slots
 * of padding tokens and unused slots left untouched (poison). */
static void test_qk_norm_rope_kv(void)
{
    int nb = 7, bs = 16, H = 8, K = 2, D = 128, T = 40;
    int stride = (H + 2 * K) * D;
    size_t cache = (size_t)nb * bs * K * D, n = (size_t)T * stride;
    uint16_t *qkv = k_rand_bf16(n, 3.0), *qw = k_rand_bf16(D, 1.5), *kw = k_rand_bf16(D, 1.5);
    int32_t slots[40], pos[40], used[7 * 16] = {0};
    for (int t = 0; t < T; t++) {
        int sl;
        do sl = k_int(nb * bs);
        while (used[sl]);
        used[sl] = 1;
        slots[t] = sl;
        pos[t] = k_int(5000);
    }
    used[slots[3]] = 0; /* its slot must stay untouched too */
    slots[3] = -1;      /* padding */
    float inv_freq[64], ms = 1.0f;
    CHECK_OK(octo_cuda_rope_inv_freq(inv_freq, D, 1e6, 1.0, 32768, 32, 1, &ms));
    void *d_qkv = k_up(qkv, n * 2), *d_qw = k_up(qw, D * 2), *d_kw = k_up(kw, D * 2);
    void *d_pos = k_up(pos, sizeof pos), *d_sl = k_up(slots, sizeof slots);
    void *d_inv = k_up(inv_freq, sizeof inv_freq);
    void *d_kc = k_poisoned(cache * 2), *d_vc = k_poisoned(cache * 2);
    octo_cuda_kv kv = {d_kc, d_vc, nb, bs, K, D};
    octo_cuda_rope rp = {D, NULL, 0, d_inv, ms};
    uint16_t *q = d_qkv, *k = (uint16_t *)d_qkv + H * D, *v = k + K * D;
    CHECK_OK(octo_cuda_qk_norm_rope_kv(q, stride, q, stride, k, stride, v, stride, d_qw, d_kw,
                                       d_pos, d_sl, &kv, T, H, D, 1e-6f, &rp, NULL));
    /* the same queries rotated out of place, into a packed [T, H, D] */
    void *d_qo = k_poisoned((size_t)T * H * D * 2), *d_qkv2 = k_up(qkv, n * 2);
    uint16_t *q2 = d_qkv2, *k2 = q2 + H * D, *v2 = k2 + K * D;
    CHECK_OK(octo_cuda_qk_norm_rope_kv(q2, stride, d_qo, H * D, k2, stride, v2, stride, d_qw,
                                       d_kw, d_pos, d_sl, &kv, T, H, D, 1e-6f, &rp, NULL));
    uint16_t *qo = k_down(d_qo, (size_t)T * H * D * 2), *in2 = k_down(d_qkv2, n * 2);
    uint16_t *out = k_down(d_qkv, n * 2), *kc = k_down(d_kc, cache * 2);
    uint16_t *vc = k_down(d_vc, cache * 2);
    size_t nq = (size_t)T * H * D, nk = (size_t)T * K * D;
    double *rq = malloc(nq * sizeof(double)), *rk = malloc(nk * sizeof(double));
    uint16_t *gq = malloc(nq * 2), *gk = malloc(nk * 2);
    int bad = 0, nkc = 0;
    for (int t = 0; t < T && out && kc && vc; t++) {
        for (int h = 0; h < H + K; h++) {
            const uint16_t *x = qkv + (size_t)t * stride + (size_t)h * D;
            double *r = h < H ? rq + ((size_t)t * H + h) * D : rk + ((size_t)nkc * K + h - H) * D;
            uint16_t *g = h < H ? gq + ((size_t)t * H + h) * D : gk + ((size_t)nkc * K + h - H) * D;
            if (h >= H && slots[t] < 0) continue;
            rope_ref(x, h < H ? qw : kw, D, D, pos[t], inv_freq, NULL, ms, 1e-6, r);
            if (h < H) {
                memcpy(g, out + (size_t)t * stride + (size_t)h * D, (size_t)D * 2);
            } else {
                size_t row = ((size_t)slots[t] * K + (h - H)) * D;
                memcpy(g, kc + row, (size_t)D * 2);
                /* the activation holds the same rotated key */
                bad += memcmp(g, out + (size_t)t * stride + (size_t)h * D, (size_t)D * 2) != 0;
                bad += memcmp(vc + row, qkv + (size_t)t * stride + (size_t)(H + K + h - H) * D,
                              (size_t)D * 2) != 0;
            }
        }
        if (slots[t] >= 0) nkc++;
    }
    for (int sl = 0; sl < nb * bs && kc && vc; sl++) /* unused slots untouched */
        for (int c = 0; !used[sl] && c < K * D; c++)
            bad += kc[(size_t)sl * K * D + c] != 0xFFFF || vc[(size_t)sl * K * D + c] != 0xFFFF;
    CHECK_ERR("qk_norm_rope_kv q", out ? k_rel_err(gq, NULL, rq, nq) : INFINITY, TOL_BF16);
    CHECK_ERR("qk_norm_rope_kv cached k", kc ? k_rel_err(gk, NULL, rk, (size_t)nkc * K * D)
                                             : INFINITY, TOL_BF16);
    CHECK(out && kc && vc && bad == 0 && nkc == T - 1);
    int bad2 = !qo || !in2;
    for (int t = 0; !bad2 && t < T; t++) /* same bits as in place; the input q untouched */
        bad2 += memcmp(qo + (size_t)t * H * D, out + (size_t)t * stride, (size_t)H * D * 2) != 0 ||
                memcmp(in2 + (size_t)t * stride, qkv + (size_t)t * stride, (size_t)H * D * 2) != 0;
    CHECK(bad2 == 0);
    free(qo), free(in2);
    octo_cuda_free(d_qo), octo_cuda_free(d_qkv2);
    free(out), free(kc), free(vc), free(rq), free(rk), free(gq), free(gk);
    free(qkv), free(qw), free(kw);
    octo_cuda_free(d_qkv), octo_cuda_free(d_qw), octo_cuda_free(d_kw), octo_cuda_free(d_pos);
    octo_cuda_free(d_sl), octo_cuda_free(d_inv), octo_cuda_free(d_kc), octo_cuda_free(d_vc);
}

/* ==== GEMV and GEMM ==== */

static void gemv_case(int B, int N, int C, int out_f32)
{
    uint16_t *x = k_rand_bf16((size_t)B * C, 1.0), *w = k_rand_bf16((size_t)N * C, 0.05);
    void *d_x = k_up(x, (size_t)B * C * 2), *d_w = k_up(w, (size_t)N * C * 2);
    size_t osz = out_f32 ? 4 : 2;
    void *d_y = k_poisoned((size_t)B * N * osz);
    CHECK_OK(octo_cuda_gemv(d_y, N, out_f32, d_x, C, d_w, B, N, C, NULL));
    void *y = k_down(d_y, (size_t)B * N * osz);
    double *ref = malloc((size_t)B * N * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int c = 0; c < C; c++)
                s += (double)k_bf2f(x[(size_t)b * C + c]) * k_bf2f(w[(size_t)n * C + c]);
            ref[(size_t)b * N + n] = s;
        }
    char name[64];
    snprintf(name, sizeof name, "gemv B=%d N=%d C=%d %s", B, N, C, out_f32 ? "f32" : "bf16");
    double e = !y ? INFINITY
               : out_f32 ? k_rel_err(NULL, y, ref, (size_t)B * N)
                         : k_rel_err(y, NULL, ref, (size_t)B * N);
    CHECK_ERR(name, e, out_f32 ? TOL_F32 : TOL_BF16);
    free(y), free(ref), free(x), free(w);
    octo_cuda_free(d_x), octo_cuda_free(d_w), octo_cuda_free(d_y);
}

static void test_gemv(void)
{
    gemv_case(1, 1000, 4096, 0);
    gemv_case(1, 777, 4096, 1);
    gemv_case(3, 517, 1032, 0); /* C not a multiple of 256 */
    gemv_case(8, 256, 12288, 1);
    gemv_case(5, 300, 2048, 0);
}

/* The decode step's fused GEMV (octo_cuda_be_gemv_multi): [W0; W1; W2]
 * (n0 + n1 + n2 rows) into three outputs, or SwiGLU over [Wg; Wu] (n0 rows
 * each) into one. */
static void gemv_multi_case(int B, int n0, int n1, int n2, int C, bool swiglu)
{
    int rows = swiglu ? 2 * n0 : n0 + n1 + n2, n[3] = {n0, swiglu ? 0 : n1, swiglu ? 0 : n2};
    uint16_t *x = k_rand_bf16((size_t)B * C, 1.0), *w = k_rand_bf16((size_t)rows * C, 0.05);
    void *d_x = k_up(x, (size_t)B * C * 2), *d_w = k_up(w, (size_t)rows * C * 2);
    octo_cuda_be_gemv_out o = {{NULL, NULL, NULL}, {n[0], n[1], n[2]}};
    for (int s = 0; s < 3; s++) o.y[s] = n[s] ? k_poisoned((size_t)B * n[s] * 2) : NULL;
    CHECK_OK(octo_cuda_be_gemv_multi(d_x, d_w, B, C, &o, swiglu, NULL));
    double *dot = malloc((size_t)B * rows * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int r = 0; r < rows; r++) {
            double acc = 0;
            for (int c = 0; c < C; c++)
                acc += (double)k_bf2f(x[(size_t)b * C + c]) * k_bf2f(w[(size_t)r * C + c]);
            dot[(size_t)b * rows + r] = acc;
        }
    double worst = 0;
    for (int s = 0, off = 0; s < 3; off += n[s], s++) {
        if (!n[s]) continue;
        uint16_t *y = k_down(o.y[s], (size_t)B * n[s] * 2);
        double *ref = malloc((size_t)B * n[s] * sizeof(double));
        for (int b = 0; b < B; b++)
            for (int i = 0; i < n[s]; i++) {
                const double *d = dot + (size_t)b * rows;
                ref[(size_t)b * n[s] + i] =
                    swiglu ? d[i] / (1.0 + exp(-d[i])) * d[n0 + i] : d[off + i];
            }
        double e = y ? k_rel_err(y, NULL, ref, (size_t)B * n[s]) : INFINITY;
        worst = e > worst ? e : worst;
        free(y), free(ref);
    }
    char name[96];
    snprintf(name, sizeof name, "gemv_multi B=%d n=%d/%d/%d C=%d%s", B, n0, n1, n2,
             C, swiglu ? " swiglu" : "");
    CHECK_ERR(name, worst, TOL_BF16);
    free(dot), free(x), free(w);
    octo_cuda_free(d_x), octo_cuda_free(d_w);
    for (int s = 0; s < 3; s++) octo_cuda_free(o.y[s]);
}

static void test_gemv_multi(void)
{
    gemv_multi_case(1, 4096, 1024, 1024, 4096, false); /* Qwen3-8B q/k/v */
    gemv_multi_case(2, 4096, 1024, 1024, 4096, false);
    gemv_multi_case(1, 4096, 0, 0, 12288, false);      /* down_proj */
    gemv_multi_case(2, 1536, 0, 0, 4096, true);        /* gate/up + SwiGLU */
    gemv_multi_case(1, 3002, 0, 0, 1032, true);        /* partial groups, short tail */
    gemv_multi_case(1, 102, 34, 38, 264, false);       /* a group across outputs */
    gemv_multi_case(2, 102, 34, 38, 264, false);
    gemv_multi_case(3, 1000, 200, 200, 1032, false);
    gemv_multi_case(4, 770, 0, 0, 2048, true);
}

static void gemm_case(octo_cuda_gemm *g, int T, int N, int C)
{
    uint16_t *x = k_rand_bf16((size_t)T * C, 1.0), *w = k_rand_bf16((size_t)N * C, 0.05);
    void *d_x = k_up(x, (size_t)T * C * 2), *d_w = k_up(w, (size_t)N * C * 2);
    void *d_y = k_poisoned((size_t)T * N * 2);
    CHECK_OK(octo_cuda_gemm_run(g, d_y, d_x, d_w, T, N, C, NULL));
    uint16_t *y = k_down(d_y, (size_t)T * N * 2);
    double *ref = malloc((size_t)T * N * sizeof(double));
    float *xf = malloc((size_t)T * C * 4), *wf = malloc((size_t)N * C * 4);
    for (size_t i = 0; i < (size_t)T * C; i++) xf[i] = k_bf2f(x[i]);
    for (size_t i = 0; i < (size_t)N * C; i++) wf[i] = k_bf2f(w[i]);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            const float *a = xf + (size_t)t * C, *b = wf + (size_t)n * C;
            for (int c = 0; c < C; c++) s += (double)a[c] * b[c];
            ref[(size_t)t * N + n] = s;
        }
    char name[64];
    snprintf(name, sizeof name, "gemm T=%d N=%d C=%d", T, N, C);
    CHECK_ERR(name, y ? k_rel_err(y, NULL, ref, (size_t)T * N) : INFINITY, TOL_BF16);
    free(y), free(ref), free(x), free(w), free(xf), free(wf);
    octo_cuda_free(d_x), octo_cuda_free(d_w), octo_cuda_free(d_y);
}

static void test_gemm(void)
{
    octo_cuda_gemm *g = NULL;
    CHECK_OK(octo_cuda_gemm_new(32u << 20, &g));
    if (!g) return;
    gemm_case(g, 77, 384, 512);
    gemm_case(g, 256, 1024, 2048);
    gemm_case(g, 77, 384, 512); /* cached plan */
    gemm_case(g, 1, 96, 4096);
    octo_cuda_gemm_free(g);
    octo_cuda_gemm_free(NULL);
}

/* ==== skinny GEMM (3..128 tokens, tensor cores, split-K clusters) ==== */

/* y[T, N] (row stride ys) = x[T, K] (row stride xs) . W[N, K]^T through
 * octo_cuda_skinny_gemm with `rows` weight rows a block (128 or 256) and
 * the split count forced to `split` (0: the automatic choice). Against a double reference on every row, or (sample)
 * on the rows n % 7 == r for a random r, which still meets every row
 * position of a 128-row tile. Every output element must be written (the
 * poison is NaN), the padding columns of y (N .. ys-1) must keep their
 * poison, and a second run must give the same bits (the split-K sum has
 * a fixed order). */
static void skinny_case(int T, int N, int K, int xs, int ys, int rows, int split, int sample)
{
    size_t xn = (size_t)T * xs, yn = (size_t)T * ys;
    uint16_t *x = k_rand_bf16(xn, 1.0), *w = k_rand_bf16((size_t)N * K, 0.05);
    void *d_x = k_up(x, xn * 2), *d_w = k_up(w, (size_t)N * K * 2);
    void *d_y = k_poisoned(yn * 2), *d_y2 = k_poisoned(yn * 2);
    octo_cuda_skinny_tune(rows, split);
    int S = octo_cuda_skinny_splits(T, N, K);
    CHECK_OK(octo_cuda_skinny_gemm(d_y, ys, d_x, xs, d_w, T, N, K, NULL));
    CHECK_OK(octo_cuda_skinny_gemm(d_y2, ys, d_x, xs, d_w, T, N, K, NULL));
    octo_cuda_skinny_tune(0, 0);
    uint16_t *y = k_down(d_y, yn * 2), *y2 = k_down(d_y2, yn * 2);
    char name[96];
    snprintf(name, sizeof name, "skinny T=%d N=%d K=%d R=%d S=%d%s", T, N, K, rows, S,
             xs > K || ys > N ? " strided" : "");
    if (!y || !y2) {
        CHECK_ERR(name, INFINITY, TOL_BF16);
        goto out;
    }
    int r = sample ? k_int(7) : 0, unwritten = 0, pad_touched = 0;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < ys; n++) {
            uint16_t v = y[(size_t)t * ys + n];
            if (n < N && (v & 0x7f80) == 0x7f80 && (v & 0x7f)) unwritten++;
            if (n >= N && v != 0xFFFF) pad_touched++;
        }
    size_t m = 0, cap = (size_t)T * N;
    double *ref = malloc(cap * sizeof(double)), *xd = malloc((size_t)T * K * sizeof(double));
    double *wd = malloc((size_t)K * sizeof(double));
    uint16_t *got = malloc(cap * 2);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) xd[(size_t)t * K + k] = k_bf2f(x[(size_t)t * xs + k]);
    for (int n = 0; n < N; n++) {
        if (sample && n % 7 != r) continue;
        for (int k = 0; k < K; k++) wd[k] = k_bf2f(w[(size_t)n * K + k]);
        for (int t = 0; t < T; t++) {
            double acc = 0;
            const double *a = xd + (size_t)t * K;
            for (int k = 0; k < K; k++) acc += a[k] * wd[k];
            ref[m] = acc;
            got[m++] = y[(size_t)t * ys + n];
        }
    }
    printf("  %-40s unwritten %d, padding written %d, rerun %s\n", name, unwritten, pad_touched,
           memcmp(y, y2, yn * 2) ? "DIFFERS" : "bit-identical");
    CHECK(unwritten == 0 && pad_touched == 0);
    CHECK(memcmp(y, y2, yn * 2) == 0);
    CHECK_ERR(name, k_rel_err(got, NULL, ref, m), TOL_BF16);
    free(ref), free(xd), free(wd), free(got);
out:
    free(y), free(y2), free(x), free(w);
    octo_cuda_free(d_x), octo_cuda_free(d_w), octo_cuda_free(d_y), octo_cuda_free(d_y2);
}

static void test_skinny(void)
{
    static const int Ts[] = {3, 7, 16, 33, 64, 100, 128};
    CHECK_OK(octo_cuda_skinny_init());
    printf("  automatic splits at T=64: qkv %d, o %d, gate_up %d, down %d\n",
           octo_cuda_skinny_splits(64, 6144, 4096), octo_cuda_skinny_splits(64, 4096, 4096),
           octo_cuda_skinny_splits(64, 24576, 4096), octo_cuda_skinny_splits(64, 4096, 12288));
    for (int i = 0; i < 7; i++) skinny_case(Ts[i], 4096, 4096, 4096, 4096, 128, 0, 1); /* o */
    skinny_case(64, 6144, 4096, 4096, 6144, 128, 0, 1);                                 /* qkv */
    skinny_case(17, 6144, 4096, 4096, 6144, 128, 0, 1);
    skinny_case(64, 24576, 4096, 4096, 24576, 128, 0, 1); /* gate_up: no split */
    skinny_case(64, 4096, 12288, 12288, 4096, 128, 0, 1); /* down_proj */
    skinny_case(128, 4096, 12288, 12288, 4096, 128, 0, 1);
    /* a half tile (192 = 128 + 64 rows), one k-step */
    skinny_case(3, 192, 64, 64, 192, 128, 0, 0);
    skinny_case(40, 192, 64, 64, 192, 128, 0, 0);
    skinny_case(128, 192, 64, 64, 192, 128, 0, 0);
    /* every split count on one shape (K = 2048: 32 k-steps) */
    for (int s = 1; s <= 8; s *= 2) skinny_case(48, 1024, 2048, 2048, 1024, 128, s, 0);
    skinny_case(97, 320, 192, 192, 320, 128, 2, 0); /* 3 k-steps over 2 blocks */
    skinny_case(80, 192, 4096, 4096, 192, 128, 8, 0);
    /* rows of x and y wider than K and N */
    skinny_case(33, 512, 1024, 1024 + 64, 512 + 40, 128, 0, 0);
    skinny_case(100, 192, 4096, 4096 + 8, 200, 128, 4, 0);
    skinny_case(5, 256, 512, 520, 257, 128, 1, 0);
    /* 256 weight rows a block (8 warps; odd NJ leaves half a copy pass) */
    for (int i = 0; i < 7; i += 2) skinny_case(Ts[i], 4096, 4096, 4096, 4096, 256, 0, 1);
    skinny_case(64, 24576, 4096, 4096, 24576, 256, 0, 1);
    skinny_case(80, 192, 64, 64, 192, 256, 0, 0);
    skinny_case(48, 1024, 2048, 2048, 1024, 256, 8, 0);
    skinny_case(100, 320, 1024, 1024 + 16, 333, 256, 2, 0);
}

static void test_skinny_refusals(void)
{
    void *d_x = NULL, *d_w = NULL, *d_y = NULL;
    CHECK_OK(octo_cuda_malloc(256 * 4096 * 2, &d_x));
    CHECK_OK(octo_cuda_malloc(256 * 4096 * 2, &d_w));
    CHECK_OK(octo_cuda_malloc(256 * 4096 * 2, &d_y));
    if (!d_x || !d_w || !d_y) goto out;
    CHECK(octo_cuda_skinny_supported(3, 64, 64) && octo_cuda_skinny_supported(128, 4096, 12288));
    CHECK(!octo_cuda_skinny_supported(2, 64, 64) && !octo_cuda_skinny_supported(129, 64, 64));
    CHECK(!octo_cuda_skinny_supported(8, 100, 64) && !octo_cuda_skinny_supported(8, 64, 100));
    CHECK(!octo_cuda_skinny_supported(8, 0, 64) && !octo_cuda_skinny_supported(8, 64, 0));
    CHECK(octo_cuda_skinny_splits(2, 64, 64) == 0);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, d_x, 64, d_w, 2, 64, 64, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, d_x, 64, d_w, 129, 64, 64, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, d_x, 100, d_w, 8, 64, 100, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 96, d_x, 64, d_w, 8, 96, 64, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, d_x, 32, d_w, 8, 64, 64, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, d_x, 68, d_w, 8, 64, 64, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 63, d_x, 64, d_w, 8, 64, 64, NULL) == OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, (uint16_t *)d_x + 1, 64, d_w, 8, 64, 64, NULL) ==
          OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(d_y, 64, d_x, 64, (uint16_t *)d_w + 4, 8, 64, 64, NULL) ==
          OCTO_E_INVALID);
    CHECK(octo_cuda_skinny_gemm(NULL, 64, d_x, 64, d_w, 8, 64, 64, NULL) == OCTO_E_INVALID);
    CHECK_OK(octo_cuda_skinny_gemm(d_y, 64, d_x, 64, d_w, 8, 64, 64, NULL));
    CHECK_OK(octo_cuda_stream_sync(NULL));
out:
    octo_cuda_free(d_x), octo_cuda_free(d_w), octo_cuda_free(d_y);
}

KERNEL_TEST_MAIN(TEST(test_pool), TEST(test_embed), TEST(test_add_rmsnorm),
                 TEST(test_rope_inv_freq), TEST(test_qk_norm_rope), TEST(test_swiglu),
                 TEST(test_kv_write), TEST(test_qk_norm_rope_kv),
                 TEST(test_gemv), TEST(test_gemv_multi), TEST(test_gemm), TEST(test_skinny),
                 TEST(test_skinny_refusals))

#else
KERNEL_TEST_SKIP_MAIN
#endif
