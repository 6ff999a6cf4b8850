/* SPDX-License-Identifier: Apache-2.0 */
/*
 * matmul — y[T,N] = x[T,K] . w[N,K]^T on the CPU with f32 accumulation,
 * weights read in place as f32, f16 or bf16.
 *
 * Two paths. Few tokens (decode): a GEMV that walks each weight row once
 * and dots it with up to four token rows at a time, converting bf16/f16 in
 * registers (AVX2+FMA+F16C when the CPU has them, picked at run time;
 * scalar otherwise). Many tokens (prefill): each thread converts a tile of
 * weight rows to f32 in its scratch and hands it to OpenBLAS sgemm
 * (single-threaded inside; our pool splits the rows). Without OpenBLAS the
 * GEMV path serves every T.
 *
 * Not a general BLAS: no transposes, no strides, no quantised weights.
 */
#include "tensor_int.h"

#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if __has_include(<cblas.h>)
#include <cblas.h>
#define HAVE_BLAS 1
#else
#define HAVE_BLAS 0
#endif

#define GEMM_MIN_T 8     /* from this many tokens on, prefill path (AVX2) */
#define GEMM_MIN_T_512 32 /* same with the 6-token AVX-512 GEMV */
#define GEMM_TILE_N 64   /* weight rows converted per sgemm call */
#define GEMV_GRAIN 16    /* weight rows per pool work item, at least */
#define GEMV_ROW_BLOCK 32 /* weight rows kept in L2 across token passes */

/* ==== SIMD dispatch ==== */

/* Detected level: 0 scalar, 1 AVX2+FMA+F16C, 2 AVX-512F on top; capped by
 * octo_tensor_cpu_cap_simd (tests run every path on one machine). */
static _Atomic int g_detected = -1, g_cap = 2;

static int simd_level(void)
{
    int lvl = atomic_load_explicit(&g_detected, memory_order_relaxed);
    if (lvl < 0) {
        __builtin_cpu_init();
        unsigned a, b, c, d; /* F16C: CPUID.1:ECX bit 29 (clang 14 has no "f16c" name) */
        bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
        lvl = 0;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) lvl = 1;
        if (lvl == 1 && __builtin_cpu_supports("avx512f")) lvl = 2;
        atomic_store(&g_detected, lvl);
    }
    int cap = atomic_load_explicit(&g_cap, memory_order_relaxed);
    return lvl < cap ? lvl : cap;
}

int octo_tensor_cpu_cap_simd(int max_level)
{
    atomic_store(&g_cap, max_level < 0 ? 0 : max_level > 2 ? 2 : max_level);
    return simd_level();
}

bool octo_tensor_cpu_avx2(void) { return simd_level() >= 1; }
static bool cpu_avx512(void) { return simd_level() >= 2; }

const char *octo_tensor_cpu_simd(void)
{
    if (cpu_avx512()) return "avx512";
    return octo_tensor_cpu_avx2() ? "avx2+fma" : "scalar";
}
bool octo_tensor_cpu_has_blas(void) { return HAVE_BLAS; }

/* ==== scalar reference kernels ==== */

static float load1(const void *w, octo_dtype dt, int64_t i)
{
    switch (dt) {
    case OCTO_DTYPE_BF16: return octo_tensor_bf16_to_f32(((const uint16_t *)w)[i]);
    case OCTO_DTYPE_F16: return octo_tensor_f16_to_f32(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

static void dot_rows_scalar(float *out, const void *w, octo_dtype dt, const float *x,
                            int64_t ldx, int nx, int64_t n, int64_t from)
{
    for (int j = 0; j < nx; j++) {
        float s = 0.0f;
        for (int64_t i = from; i < n; i++) s += load1(w, dt, i) * x[j * ldx + i];
        out[j] += s;
    }
}

/* ==== AVX2 kernels ==== */

#define AVX2 __attribute__((target("avx2,fma,f16c")))

#define INLINE inline __attribute__((always_inline))

AVX2 static INLINE __m256 load8(const void *w, octo_dtype dt, int64_t i)
{
    if (dt == OCTO_DTYPE_BF16) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    if (dt == OCTO_DTYPE_F16) {
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
    }
    return _mm256_loadu_ps((const float *)w + i);
}

AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* One weight load feeds nx FMAs; two accumulators per token hide latency.
 * Inlined per constant nx so that the accumulators live in registers. */
#define ACC256(j)                                                                       \
    if (nx > j) {                                                                       \
        const float *xj = x + j * ldx + i;                                              \
        a0_##j = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xj), a0_##j);                     \
        a1_##j = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xj + 8), a1_##j);                 \
    }
#define TAIL256(j)                                                                      \
    if (nx > j) a0_##j = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j * ldx + i), a0_##j);
#define SUM256(j) \
    if (nx > j) out[j] = hsum8(_mm256_add_ps(a0_##j, a1_##j));

AVX2 static inline __attribute__((always_inline)) void
dot_rows_avx2_n(float *out, const void *w, octo_dtype dt, const float *x, int64_t ldx,
                const int nx, int64_t n)
{
    __m256 a0_0 = _mm256_setzero_ps(), a0_1 = a0_0, a0_2 = a0_0, a0_3 = a0_0;
    __m256 a1_0 = a0_0, a1_1 = a0_0, a1_2 = a0_0, a1_3 = a0_0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = load8(w, dt, i), w1 = load8(w, dt, i + 8);
        ACC256(0) ACC256(1) ACC256(2) ACC256(3)
    }
    for (; i + 8 <= n; i += 8) {
        __m256 w0 = load8(w, dt, i);
        TAIL256(0) TAIL256(1) TAIL256(2) TAIL256(3)
    }
    SUM256(0) SUM256(1) SUM256(2) SUM256(3)
    if (i < n) dot_rows_scalar(out, w, dt, x, ldx, nx, n, i);
}

/* Specialised per dtype too, so the conversion is not a branch per load. */
#define DOT_ROWS_DT(name, DT)                                                        \
    AVX2 static void name(float *out, const void *w, const float *x, int64_t ldx,    \
                          int nx, int64_t n)                                         \
    {                                                                                \
        switch (nx) {                                                                \
        case 1: dot_rows_avx2_n(out, w, DT, x, ldx, 1, n); break;                    \
        case 2: dot_rows_avx2_n(out, w, DT, x, ldx, 2, n); break;                    \
        case 3: dot_rows_avx2_n(out, w, DT, x, ldx, 3, n); break;                    \
        default: dot_rows_avx2_n(out, w, DT, x, ldx, 4, n); break;                   \
        }                                                                            \
    }
DOT_ROWS_DT(dot_rows_avx2_bf16, OCTO_DTYPE_BF16)
DOT_ROWS_DT(dot_rows_avx2_f16, OCTO_DTYPE_F16)
DOT_ROWS_DT(dot_rows_avx2_f32, OCTO_DTYPE_F32)

AVX2 static void dot_rows_avx2(float *out, const void *w, octo_dtype dt, const float *x,
                               int64_t ldx, int nx, int64_t n)
{
    switch (dt) {
    case OCTO_DTYPE_BF16: dot_rows_avx2_bf16(out, w, x, ldx, nx, n); break;
    case OCTO_DTYPE_F16: dot_rows_avx2_f16(out, w, x, ldx, nx, n); break;
    default: dot_rows_avx2_f32(out, w, x, ldx, nx, n); break;
    }
}

AVX2 static void row_to_f32_avx2(float *dst, const void *src, octo_dtype dt, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8(src, dt, i));
    for (; i < n; i++) dst[i] = load1(src, dt, i);
}

AVX2 static float dot_f32_avx2(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

AVX2 static void axpy_f32_avx2(float *y, float a, const float *x, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i),
                                                _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * x[i];
}

/* ==== AVX-512 kernels (same shape, 16 lanes) ==== */

#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

AVX512 static inline __attribute__((always_inline)) __m512 load16(const void *w, octo_dtype dt,
                                                                  int64_t i)
{
    if (dt == OCTO_DTYPE_BF16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    if (dt == OCTO_DTYPE_F16) {
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
    }
    return _mm512_loadu_ps((const float *)w + i);
}

/* Explicit accumulators (not arrays): with nx a constant after inlining,
 * the unused ones vanish and the used ones stay in registers. */
#define ACC512(j)                                                                       \
    if (nx > j) {                                                                       \
        const float *xj = x + j * ldx + i;                                              \
        a0_##j = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xj), a0_##j);                     \
        a1_##j = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xj + 16), a1_##j);                \
    }
#define TAIL512(j)                                                                      \
    if (nx > j) a0_##j = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + j * ldx + i), a0_##j);
#define SUM512(j) \
    if (nx > j) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(a0_##j, a1_##j));

AVX512 static inline __attribute__((always_inline)) void
dot_rows_avx512_n(float *out, const void *w, octo_dtype dt, const float *x, int64_t ldx,
                  const int nx, int64_t n)
{
    __m512 a0_0 = _mm512_setzero_ps(), a0_1 = a0_0, a0_2 = a0_0, a0_3 = a0_0;
    __m512 a1_0 = a0_0, a1_1 = a0_0, a1_2 = a0_0, a1_3 = a0_0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 w0 = load16(w, dt, i), w1 = load16(w, dt, i + 16);
        ACC512(0) ACC512(1) ACC512(2) ACC512(3)
    }
    for (; i + 16 <= n; i += 16) {
        __m512 w0 = load16(w, dt, i);
        TAIL512(0) TAIL512(1) TAIL512(2) TAIL512(3)
    }
    SUM512(0) SUM512(1) SUM512(2) SUM512(3)
    if (i < n) dot_rows_scalar(out, w, dt, x, ldx, nx, n, i);
}

/* 5 or 6 tokens per weight pass: one accumulator per token, 16 elements a
 * step. (Measured on Zen 5: ~3.5 ms per token per 311 MB bf16 matrix for
 * 3 to 6 tokens a pass, worse again at 7-8 where the x rows, 4 KiB apart,
 * crowd the same L1 sets.) */
#define ACC512W(j) \
    if (nx > j) a_##j = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + j * ldx + i), a_##j);
#define SUM512W(j) \
    if (nx > j) out[j] = _mm512_reduce_add_ps(a_##j);

AVX512 static inline __attribute__((always_inline)) void
dot_rows_avx512_wide(float *out, const void *w, octo_dtype dt, const float *x, int64_t ldx,
                     const int nx, int64_t n)
{
    __m512 a_0 = _mm512_setzero_ps(), a_1 = a_0, a_2 = a_0, a_3 = a_0;
    __m512 a_4 = a_0, a_5 = a_0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 w0 = load16(w, dt, i);
        ACC512W(0) ACC512W(1) ACC512W(2) ACC512W(3) ACC512W(4) ACC512W(5)
    }
    SUM512W(0) SUM512W(1) SUM512W(2) SUM512W(3) SUM512W(4) SUM512W(5)
    if (i < n) dot_rows_scalar(out, w, dt, x, ldx, nx, n, i);
}

#define DOT_ROWS512_DT(name, DT)                                                     \
    AVX512 static void name(float *out, const void *w, const float *x, int64_t ldx,  \
                            int nx, int64_t n)                                       \
    {                                                                                \
        switch (nx) {                                                                \
        case 1: dot_rows_avx512_n(out, w, DT, x, ldx, 1, n); break;                  \
        case 2: dot_rows_avx512_n(out, w, DT, x, ldx, 2, n); break;                  \
        case 3: dot_rows_avx512_n(out, w, DT, x, ldx, 3, n); break;                  \
        case 4: dot_rows_avx512_n(out, w, DT, x, ldx, 4, n); break;                  \
        case 5: dot_rows_avx512_wide(out, w, DT, x, ldx, 5, n); break;               \
        default: dot_rows_avx512_wide(out, w, DT, x, ldx, 6, n); break;              \
        }                                                                            \
    }
DOT_ROWS512_DT(dot_rows_avx512_bf16, OCTO_DTYPE_BF16)
DOT_ROWS512_DT(dot_rows_avx512_f16, OCTO_DTYPE_F16)
DOT_ROWS512_DT(dot_rows_avx512_f32, OCTO_DTYPE_F32)

static void dot_rows_avx512(float *out, const void *w, octo_dtype dt, const float *x,
                            int64_t ldx, int nx, int64_t n)
{
    switch (dt) {
    case OCTO_DTYPE_BF16: dot_rows_avx512_bf16(out, w, x, ldx, nx, n); break;
    case OCTO_DTYPE_F16: dot_rows_avx512_f16(out, w, x, ldx, nx, n); break;
    default: dot_rows_avx512_f32(out, w, x, ldx, nx, n); break;
    }
}

/* ==== dispatching row kernels ==== */

int octo_tensor_dot_rows_max(void) { return cpu_avx512() ? 6 : 4; }

void octo_tensor_dot_rows(float *out, const void *w, octo_dtype dt, const float *x,
                          int64_t ldx, int nx, int64_t n)
{
    OCTO_ASSERT(nx >= 1 && nx <= octo_tensor_dot_rows_max());
    if (cpu_avx512()) {
        dot_rows_avx512(out, w, dt, x, ldx, nx, n);
        return;
    }
    if (octo_tensor_cpu_avx2()) {
        dot_rows_avx2(out, w, dt, x, ldx, nx, n);
        return;
    }
    for (int j = 0; j < nx; j++) out[j] = 0.0f;
    dot_rows_scalar(out, w, dt, x, ldx, nx, n, 0);
}

void octo_tensor_row_to_f32(float *dst, const void *src, octo_dtype dt, int64_t n)
{
    if (octo_tensor_cpu_avx2()) {
        row_to_f32_avx2(dst, src, dt, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = load1(src, dt, i);
}

float octo_tensor_dot_f32(const float *a, const float *b, int64_t n)
{
    if (octo_tensor_cpu_avx2()) return dot_f32_avx2(a, b, n);
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void octo_tensor_axpy_f32(float *y, float a, const float *x, int64_t n)
{
    if (octo_tensor_cpu_avx2()) {
        axpy_f32_avx2(y, a, x, n);
        return;
    }
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* ==== the matmul op ==== */

typedef struct mm_ctx {
    float *y;
    const float *x;
    int64_t T;
    const octo_tensor_mat *w;
    const octo_tensor_mat *bias;
    octo_tensor_pool *pool;
} mm_ctx;

static void add_bias(const mm_ctx *c, int64_t n0, int64_t n1)
{
    if (!c->bias || !c->bias->data) return;
    int64_t N = c->w->rows;
    for (int64_t n = n0; n < n1; n++) {
        float b = load1(c->bias->data, c->bias->dtype, n);
        for (int64_t t = 0; t < c->T; t++) c->y[t * N + n] += b;
    }
}

/* Rows [n0, n1) of w against every token. Tokens go in passes of up to
 * dot_rows_max() (nearly equal sizes: 7 tokens are 4 + 3, not 6 + 1);
 * rows in blocks of GEMV_ROW_BLOCK so that a block read from memory by
 * the first pass is still in L2 for the next ones, while only one pass's
 * token rows sit in L1 (rows K floats apart alias the same L1 sets). */
static void gemv_task(void *ctx, int64_t n0, int64_t n1, int thread)
{
    const mm_ctx *c = ctx;
    int64_t K = c->w->cols, N = c->w->rows;
    size_t esz = octo_dtype_size(c->w->dtype);
    float out[8];
    int64_t max = octo_tensor_dot_rows_max(), passes = (c->T + max - 1) / max;
    int64_t step = (c->T + passes - 1) / passes;
    for (int64_t b0 = n0; b0 < n1; b0 += GEMV_ROW_BLOCK) {
        int64_t b1 = b0 + GEMV_ROW_BLOCK < n1 ? b0 + GEMV_ROW_BLOCK : n1;
        for (int64_t t = 0; t < c->T; t += step) {
            int nx = c->T - t < step ? (int)(c->T - t) : (int)step;
            for (int64_t n = b0; n < b1; n++) {
                const void *wr = (const char *)c->w->data + (size_t)n * (size_t)K * esz;
                octo_tensor_dot_rows(out, wr, c->w->dtype, c->x + t * K, K, nx, K);
                for (int j = 0; j < nx; j++) c->y[(t + j) * N + n] = out[j];
            }
        }
    }
    add_bias(c, n0, n1);
}

#if HAVE_BLAS
/* Our pool owns the threads: OpenBLAS runs each call on its caller's. */
static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* Tiles [i0, i1) of GEMM_TILE_N weight rows: convert, then one sgemm. */
static void gemm_task(void *ctx, int64_t i0, int64_t i1, int thread)
{
    const mm_ctx *c = ctx;
    int64_t K = c->w->cols, N = c->w->rows;
    size_t esz = octo_dtype_size(c->w->dtype);
    float *tile = octo_tensor_pool_scratch(c->pool, thread);
    for (int64_t i = i0; i < i1; i++) {
        int64_t n0 = i * GEMM_TILE_N;
        int64_t nn = N - n0 < GEMM_TILE_N ? N - n0 : GEMM_TILE_N;
        const void *src = (const char *)c->w->data + (size_t)n0 * (size_t)K * esz;
        const float *wt = src;
        if (c->w->dtype != OCTO_DTYPE_F32) {
            for (int64_t r = 0; r < nn; r++) {
                octo_tensor_row_to_f32(tile + r * K, (const char *)src + (size_t)(r * K) * esz,
                                       c->w->dtype, K);
            }
            wt = tile;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->T, (int)nn, (int)K, 1.0f,
                    c->x, (int)K, wt, (int)K, 0.0f, c->y + n0, (int)N);
        add_bias(c, n0, n0 + nn);
    }
}
#endif

void octo_tensor_cpu_matmul(const octo_tensor_backend *be, float *y, const float *x,
                            int64_t T, const octo_tensor_mat *w, const octo_tensor_mat *bias)
{
    octo_tensor_pool *pool = be->impl;
    mm_ctx c = {y, x, T, w, bias, pool};
#if HAVE_BLAS
    if (T >= (cpu_avx512() ? GEMM_MIN_T_512 : GEMM_MIN_T) && pool) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, blas_single_thread);
        size_t need = (size_t)GEMM_TILE_N * (size_t)w->cols * sizeof(float);
        if (octo_tensor_pool_reserve(pool, need) == OCTO_OK) {
            int64_t tiles = (w->rows + GEMM_TILE_N - 1) / GEMM_TILE_N;
            octo_tensor_pool_run(pool, tiles, 1, gemm_task, &c);
            return;
        }
    }
#endif
    octo_tensor_pool_run(pool, w->rows, GEMV_GRAIN, gemv_task, &c);
}
