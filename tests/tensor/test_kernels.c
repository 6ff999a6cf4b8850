/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kernels — the CPU backend's operations against straightforward
 * double-precision loops written here from the definitions: dtype
 * conversions (IEEE values known by construction, exhaustive f16 round
 * trips), matmul on every path (GEMV for few tokens, tiled GEMM for many;
 * f32, f16 and bf16 weights; sizes with SIMD tails; bias), RMSNorm, rope,
 * SwiGLU, embedding gather, and paged attention with scattered blocks and
 * grouped heads (f32 and bf16 caches), plus the thread pool's coverage.
 */
#include "octo_test.h"
#include "tensor/tensor.h"
#include "tensor/tensor_int.h"

#include <stdint.h>

static uint64_t rng_state = 88172645463325252ull;

static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

/* Storage bytes of weight descriptors, worked out by hand: a 4096 x 4096
 * projection as AWQ int4 with groups of 128 (codes 4096*4096/2, f16
 * scales 4096*32*2, int4 zeros 4096*32/2), as block-scaled FP8 (codes
 * 4096*4096, f32 scales (4096/128)^2*4) and as GGML Q4_K (16 blocks of
 * 144 bytes per row). */
static void test_weight_bytes(void)
{
    static const char codes[1], scales[1];
    size_t n = 0;
    octo_tensor_mat w = {.data = codes, .dtype = OCTO_DTYPE_BF16, .rows = 4096, .cols = 4096};
    CHECK(octo_tensor_mat_bytes(&w, &n) == OCTO_OK);
    CHECK_EQ_INT(n, 4096 * 4096 * 2);
    CHECK(octo_tensor_mat_is_dense(&w));
    w.dtype = OCTO_DTYPE_Q4;
    w.quant = (octo_tensor_quant){.group_size = 128, .scales = scales,
                                  .scales_dtype = OCTO_DTYPE_F16, .zeros = scales};
    CHECK(octo_tensor_mat_bytes(&w, &n) == OCTO_OK);
    CHECK_EQ_INT(n, 8388608 + 262144 + 65536);
    CHECK(!octo_tensor_mat_is_dense(&w));
    w.quant.group_size = 100; /* does not divide 4096 */
    CHECK(octo_tensor_mat_bytes(&w, &n) == OCTO_E_INVALID);
    w.dtype = OCTO_DTYPE_F8_E4M3;
    w.quant = (octo_tensor_quant){.group_size = 128, .block_rows = 128, .scales = scales,
                                  .scales_dtype = OCTO_DTYPE_F32};
    CHECK(octo_tensor_mat_bytes(&w, &n) == OCTO_OK);
    CHECK_EQ_INT(n, 16777216 + 32 * 32 * 4);
    w.dtype = OCTO_DTYPE_GGML_Q4_K;
    w.quant = (octo_tensor_quant){0};
    CHECK(octo_tensor_mat_bytes(&w, &n) == OCTO_OK);
    CHECK_EQ_INT(n, 4096 * 16 * 144);
    w.cols = 100; /* not whole 256-element blocks */
    CHECK(octo_tensor_mat_bytes(&w, &n) == OCTO_E_INVALID);
}

static void test_dtypes(void)
{
    CHECK_EQ_INT(octo_tensor_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(octo_tensor_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even mantissa wins */
    CHECK_EQ_INT(octo_tensor_f32_to_bf16(1.0f + 0x1.0p-8f), 0x3f80);
    CHECK_EQ_INT(octo_tensor_f32_to_bf16(1.0f + 0x1.8p-8f), 0x3f81);
    CHECK(octo_tensor_bf16_to_f32(0x4049) == 3.140625f);
    CHECK(isnan(octo_tensor_bf16_to_f32(octo_tensor_f32_to_bf16(NAN))));
    CHECK_EQ_INT(octo_tensor_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(octo_tensor_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(octo_tensor_f32_to_f16(65520.0f), 0x7c00); /* rounds to inf */
    CHECK_EQ_INT(octo_tensor_f32_to_f16(0x1.0p-24f), 0x0001); /* smallest subnormal */
    CHECK_EQ_INT(octo_tensor_f32_to_f16(0x1.0p-25f), 0x0000); /* tie to even: 0 */
    CHECK_EQ_INT(octo_tensor_f32_to_f16(-0.0f), 0x8000);
    CHECK(octo_tensor_f16_to_f32(0x3555) == 0x1.554p-2f);
    CHECK(octo_tensor_f16_to_f32(0x0001) == 0x1.0p-24f);
    /* every finite f16 survives f16 -> f32 -> f16 */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaNs */
        if (octo_tensor_f32_to_f16(octo_tensor_f16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(octo_dtype_size(OCTO_DTYPE_BF16), 2);
    CHECK(octo_dtype_is_dense_float(OCTO_DTYPE_F16));
    CHECK(!octo_dtype_is_dense_float(OCTO_DTYPE_I8));
}

/* weights of dtype dt as stored, and their exact f32 values */
static void *make_weights(octo_dtype dt, int64_t n, float *exact)
{
    void *w = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        float v = frand();
        if (dt == OCTO_DTYPE_BF16) {
            ((uint16_t *)w)[i] = octo_tensor_f32_to_bf16(v);
            exact[i] = octo_tensor_bf16_to_f32(((uint16_t *)w)[i]);
        } else if (dt == OCTO_DTYPE_F16) {
            ((uint16_t *)w)[i] = octo_tensor_f32_to_f16(v);
            exact[i] = octo_tensor_f16_to_f32(((uint16_t *)w)[i]);
        } else {
            ((float *)w)[i] = exact[i] = v;
        }
    }
    return w;
}

static void check_matmul(const octo_tensor_backend *be, octo_dtype dt, int64_t T, int64_t N,
                         int64_t K, bool bias)
{
    float *wf = malloc((size_t)(N * K) * 4), *x = malloc((size_t)(T * K) * 4);
    float *y = malloc((size_t)(T * N) * 4), bf[256];
    void *w = make_weights(dt, N * K, wf);
    for (int64_t i = 0; i < T * K; i++) x[i] = frand();
    for (int64_t i = 0; i < N && i < 256; i++) bf[i] = frand();
    octo_tensor_mat W = {.data = w, .dtype = dt, .rows = N, .cols = K};
    octo_tensor_mat B = {.data = bias ? bf : NULL, .dtype = OCTO_DTYPE_F32, .rows = 1, .cols = N};
    be->matmul(be, y, x, T, &W, bias ? &B : NULL);
    double worst = 0.0;
    for (int64_t t = 0; t < T; t++) {
        for (int64_t n = 0; n < N; n++) {
            double s = bias ? bf[n] : 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)wf[n * K + k] * x[t * K + k];
            double d = fabs(s - y[t * N + n]);
            if (!(d <= worst)) worst = d;
        }
    }
    CHECK(worst < 1e-4 * sqrt((double)K));
    if (!(worst < 1e-4 * sqrt((double)K))) {
        fprintf(stderr, "matmul %s T=%lld N=%lld K=%lld: %g\n", octo_dtype_name(dt),
                (long long)T, (long long)N, (long long)K, worst);
    }
    free(w);
    free(wf);
    free(x);
    free(y);
}

static void test_matmul(void)
{
    octo_tensor_pool *pool = octo_tensor_pool_new(2);
    octo_tensor_backend be;
    octo_tensor_backend_cpu(&be, pool);
    const octo_dtype dts[3] = {OCTO_DTYPE_F32, OCTO_DTYPE_F16, OCTO_DTYPE_BF16};
    for (int d = 0; d < 3; d++) {
        check_matmul(&be, dts[d], 1, 37, 64, false);    /* decode */
        check_matmul(&be, dts[d], 3, 50, 77, true);     /* SIMD tails, bias */
        check_matmul(&be, dts[d], 7, 16, 40, false);    /* last GEMV size */
        check_matmul(&be, dts[d], 9, 130, 72, true);    /* GEMM: 3 tiles, ragged */
        check_matmul(&be, dts[d], 33, 64, 129, false);  /* GEMM, odd K */
    }
    octo_tensor_pool_free(pool);
}

static void test_norm_rope_swiglu_embed(void)
{
    octo_tensor_pool *pool = octo_tensor_pool_new(2);
    octo_tensor_backend be;
    octo_tensor_backend_cpu(&be, pool);
    enum { R = 3, C = 40 };
    float x[R * C], y[R * C], w[C];
    for (int i = 0; i < R * C; i++) x[i] = frand() * 3.0f;
    for (int i = 0; i < C; i++) w[i] = frand();
    octo_tensor_mat W = {.data = w, .dtype = OCTO_DTYPE_F32, .rows = 1, .cols = C};
    be.rmsnorm(&be, y, x, R, &W, 1e-6f);
    double worst = 0.0;
    for (int r = 0; r < R; r++) {
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)x[r * C + i] * x[r * C + i];
        double inv = 1.0 / sqrt(ss / C + 1e-6);
        for (int i = 0; i < C; i++) {
            worst = fmax(worst, fabs(x[r * C + i] * inv * w[i] - y[r * C + i]));
        }
    }
    CHECK(worst < 1e-5);

    /* rope: pairs (i, i + D/2) rotated by pos * inv_freq[i], scaled */
    enum { T = 2, H = 3, D = 8 };
    float q[T * H * D], q0[T * H * D], inv_freq[D / 2] = {1.0f, 0.1f, 0.01f, 0.001f};
    int32_t pos[T] = {5, 17};
    for (int i = 0; i < T * H * D; i++) q0[i] = q[i] = frand();
    be.rope(&be, q, T, H, D, pos, inv_freq, 1.25f);
    worst = 0.0;
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < H; h++) {
            for (int i = 0; i < D / 2; i++) {
                double a = (double)pos[t] * inv_freq[i], c = cos(a) * 1.25, s = sin(a) * 1.25;
                const float *v = q0 + (t * H + h) * D;
                double r0 = v[i] * c - v[i + D / 2] * s, r1 = v[i + D / 2] * c + v[i] * s;
                worst = fmax(worst, fabs(r0 - q[(t * H + h) * D + i]));
                worst = fmax(worst, fabs(r1 - q[(t * H + h) * D + i + D / 2]));
            }
        }
    }
    CHECK(worst < 1e-5);

    float g[C], u[C], o[C];
    for (int i = 0; i < C; i++) g[i] = frand() * 6.0f, u[i] = frand();
    be.swiglu(&be, o, g, u, C);
    worst = 0.0;
    for (int i = 0; i < C; i++) worst = fmax(worst, fabs(g[i] / (1.0 + exp(-g[i])) * u[i] - o[i]));
    CHECK(worst < 1e-6);

    float sm[2 * 3] = {1.0f, 2.0f, 3.0f, 1000.0f, 1000.0f, -INFINITY};
    be.softmax(&be, sm, 2, 3);
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK(fabs(sm[0] - exp(1.0) / z) < 1e-6 && fabs(sm[2] - exp(3.0) / z) < 1e-6);
    CHECK(sm[3] == 0.5f && sm[4] == 0.5f && sm[5] == 0.0f);

    uint16_t table[4 * 3];
    for (int i = 0; i < 12; i++) table[i] = octo_tensor_f32_to_bf16((float)i);
    octo_tensor_mat E = {.data = table, .dtype = OCTO_DTYPE_BF16, .rows = 4, .cols = 3};
    int32_t ids[2] = {3, 1};
    float e[6];
    be.embed(&be, e, &E, ids, 2);
    CHECK(e[0] == 9.0f && e[2] == 11.0f && e[3] == 3.0f && e[5] == 5.0f);
    octo_tensor_pool_free(pool);
}

/* Attention of 2 sequences (lengths 5 and 3, block size 2, blocks handed
 * out in a scrambled order) against a dense causal reference. */
static void check_attention(octo_dtype kv_dt, double tol, int H, int K)
{
    octo_tensor_pool *pool = octo_tensor_pool_new(2);
    OCTO_ASSERT(octo_tensor_pool_reserve(pool, 4096) == OCTO_OK);
    octo_tensor_backend be;
    octo_tensor_backend_cpu(&be, pool);
    enum { HM = 10, KM = 3, D = 6, T = 8, BS = 2, NB = 8 };
    size_t esz = octo_dtype_size(kv_dt);
    octo_tensor_kv_layer kv = {malloc(NB * BS * KM * D * esz), malloc(NB * BS * KM * D * esz),
                               kv_dt, NB, BS, K, D};
    int32_t tok_seq[T] = {0, 0, 0, 0, 0, 1, 1, 1}, tok_pos[T] = {0, 1, 2, 3, 4, 0, 1, 2};
    int32_t bt[2 * 3] = {5, 2, 7, 0, 3, -1};
    int64_t slot[T];
    for (int t = 0; t < T; t++) {
        slot[t] = (int64_t)bt[tok_seq[t] * 3 + tok_pos[t] / BS] * BS + tok_pos[t] % BS;
    }
    octo_tensor_attn_batch b = {T, tok_seq, tok_pos, slot, bt, 3};
    float q[T * HM * D], k[T * KM * D], v[T * KM * D], out[T * HM * D];
    for (int i = 0; i < T * H * D; i++) q[i] = frand();
    for (int i = 0; i < T * K * D; i++) k[i] = frand(), v[i] = frand();
    be.kv_store(&be, &kv, &b, k, v);
    be.attention(&be, out, q, H, &kv, &b, 0.4f);
    double worst = 0.0;
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < H; h++) {
            int kh = h / (H / K);
            double sc[T], mx = -1e30, sum = 0.0;
            for (int j = 0; j < T; j++) { /* keys of the same sequence, causal */
                sc[j] = -1e30;
                if (tok_seq[j] != tok_seq[t] || tok_pos[j] > tok_pos[t]) continue;
                double s = 0.0;
                for (int d = 0; d < D; d++) {
                    s += (double)q[(t * H + h) * D + d] * k[(j * K + kh) * D + d];
                }
                sc[j] = s * 0.4;
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j < T; j++) sum += sc[j] > -1e29 ? exp(sc[j] - mx) : 0.0;
            for (int d = 0; d < D; d++) {
                double o = 0.0;
                for (int j = 0; j < T; j++) {
                    if (sc[j] > -1e29) o += exp(sc[j] - mx) / sum * v[(j * K + kh) * D + d];
                }
                worst = fmax(worst, fabs(o - out[(t * H + h) * D + d]));
            }
        }
    }
    CHECK(worst < tol);
    free(kv.k);
    free(kv.v);
    octo_tensor_pool_free(pool);
}

static void test_attention(void)
{
    check_attention(OCTO_DTYPE_F32, 1e-5, 4, 2);
    check_attention(OCTO_DTYPE_BF16, 2e-2, 4, 2);
    check_attention(OCTO_DTYPE_F32, 1e-5, 10, 2); /* 5 heads per group: 4 + 1 */
    check_attention(OCTO_DTYPE_F32, 1e-5, 3, 3);  /* MHA */
}

/* One sequence of 301 positions (more than one 256-key chunk of the
 * blocked path), computed in three steps: 290 tokens, 10 tokens, 1 token,
 * against a dense causal reference in double precision. */
static void test_attention_long(void)
{
    enum { N = 301, H = 4, K = 2, D = 8, BS = 16, NB = 19 };
    octo_tensor_pool *pool = octo_tensor_pool_new(2);
    octo_tensor_backend be;
    octo_tensor_backend_cpu(&be, pool);
    octo_tensor_kv_layer kv = {malloc(NB * BS * K * D * 4), malloc(NB * BS * K * D * 4),
                               OCTO_DTYPE_F32, NB, BS, K, D};
    int32_t bt[NB], seq[N], pos[N];
    for (int i = 0; i < NB; i++) bt[i] = (i * 7) % NB; /* scrambled blocks */
    float *q = malloc(N * H * D * 4), *k = malloc(N * K * D * 4), *v = malloc(N * K * D * 4);
    float *out = malloc(N * H * D * 4);
    int64_t slot[N];
    for (int i = 0; i < N * H * D; i++) q[i] = frand();
    for (int i = 0; i < N * K * D; i++) k[i] = frand(), v[i] = frand();
    for (int p = 0; p < N; p++) {
        seq[p] = 0;
        pos[p] = p;
        slot[p] = (int64_t)bt[p / BS] * BS + p % BS;
    }
    const int steps[4] = {0, 290, 300, N};
    for (int s = 0; s < 3; s++) {
        int a = steps[s], n = steps[s + 1] - a;
        octo_tensor_attn_batch b = {n, seq + a, pos + a, slot + a, bt, NB};
        be.kv_store(&be, &kv, &b, k + a * K * D, v + a * K * D);
        be.attention(&be, out + a * H * D, q + a * H * D, H, &kv, &b, 0.3f);
    }
    double worst = 0.0, *sc = malloc(N * sizeof *sc);
    for (int t = 0; t < N; t += 7) {
        for (int h = 0; h < H; h++) {
            int kh = h / (H / K);
            double mx = -1e30, sum = 0.0;
            for (int j = 0; j <= t; j++) {
                double d = 0.0;
                for (int e = 0; e < D; e++) {
                    d += (double)q[(t * H + h) * D + e] * k[(j * K + kh) * D + e];
                }
                sc[j] = d * 0.3;
                mx = fmax(mx, sc[j]);
            }
            for (int j = 0; j <= t; j++) sum += exp(sc[j] - mx);
            for (int e = 0; e < D; e++) {
                double o = 0.0;
                for (int j = 0; j <= t; j++) {
                    o += exp(sc[j] - mx) / sum * v[(j * K + kh) * D + e];
                }
                worst = fmax(worst, fabs(o - out[(t * H + h) * D + e]));
            }
        }
    }
    CHECK(worst < 1e-5);
    free(sc);
    free(q);
    free(k);
    free(v);
    free(out);
    free(kv.k);
    free(kv.v);
    octo_tensor_pool_free(pool);
}

static void count_task(void *ctx, int64_t i0, int64_t i1, int thread)
{
    int *hits = ctx;
    for (int64_t i = i0; i < i1; i++) hits[i]++;
}

static void test_pool(void)
{
    int hits[1000] = {0};
    octo_tensor_pool *p = octo_tensor_pool_new(3);
    CHECK_EQ_INT(octo_tensor_pool_size(p), 3);
    for (int rep = 0; rep < 200; rep++) octo_tensor_pool_run(p, 1000, 7, count_task, hits);
    octo_tensor_pool_run(p, 2, 1, count_task, hits); /* fewer items than threads */
    bool ok = true;
    for (int i = 0; i < 1000; i++) ok = ok && hits[i] == 200 + (i < 2);
    CHECK(ok);
    octo_tensor_pool_run(NULL, 10, 1, count_task, hits);
    CHECK_EQ_INT(hits[9], 201);
    octo_tensor_pool_free(p);
    octo_tensor_pool_free(NULL);
}

/* The same checks on the lower SIMD levels this CPU also runs (AVX2 on an
 * AVX-512 machine, scalar everywhere). */
static void test_lower_simd_levels(void)
{
    int top = octo_tensor_cpu_cap_simd(2);
    for (int lvl = top - 1; lvl >= 0; lvl--) {
        CHECK_EQ_INT(octo_tensor_cpu_cap_simd(lvl), lvl);
        test_matmul();
        test_norm_rope_swiglu_embed();
        test_attention();
        test_attention_long();
    }
    octo_tensor_cpu_cap_simd(2);
}

TEST_MAIN(TEST(test_dtypes), TEST(test_weight_bytes), TEST(test_matmul), TEST(test_norm_rope_swiglu_embed),
          TEST(test_attention), TEST(test_attention_long), TEST(test_pool),
          TEST(test_lower_simd_levels))
