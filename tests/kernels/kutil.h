/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kutil — shared helpers of the GPU kernel tests: a seeded random source
 * (fresh seed each run, printed; OCTO_TEST_SEED repeats one), bf16
 * rounding on the host, relative error ||out - ref|| / ||ref|| in double,
 * device buffers poisoned before each run, and the SKIP main for machines
 * without a CUDA device.
 *
 * It holds no kernel references: each test file writes its own.
 */
#ifndef OCTO_KUTIL_H
#define OCTO_KUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef OCTO_HAVE_CUDA
#include "cuda/cuda.h"
#include "octo_test.h"

static uint64_t k_rng_state;

static inline void k_seed(void)
{
    const char *e = getenv("OCTO_TEST_SEED");
    uint64_t s = e ? strtoull(e, NULL, 10)
                   : (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 20;
    if (!s) s = 1;
    k_rng_state = s;
    printf("seed %llu (OCTO_TEST_SEED repeats it)\n", (unsigned long long)s);
}

static inline uint64_t k_next(void)
{
    uint64_t x = k_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    k_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi). */
static inline double k_unif(double lo, double hi)
{
    return lo + (hi - lo) * (double)(k_next() >> 11) * (1.0 / 9007199254740992.0);
}

static inline int k_int(int n) { return (int)(k_next() % (uint64_t)n); }

static inline float k_bf2f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t k_f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float k_round(float f) { return k_bf2f(k_f2bf(f)); }

/* n random bf16 values in [-a, a], none exactly zero. */
static inline uint16_t *k_rand_bf16(size_t n, double a)
{
    uint16_t *p = (uint16_t *)malloc(n * 2);
    for (size_t i = 0; i < n; i++) {
        float f = (float)k_unif(-a, a);
        if (k_round(f) == 0.0f) f = (float)(a * 0.5);
        p[i] = k_f2bf(f);
    }
    return p;
}

/* ||out - ref|| / ||ref|| with out given as bf16 or f32 (out_bf16 NULL). */
static inline double k_rel_err(const uint16_t *out_bf16, const float *out_f32,
                               const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double o = out_bf16 ? k_bf2f(out_bf16[i]) : out_f32[i];
        if (o != o) return INFINITY; /* NaN: unwritten (poisoned) or broken */
        num += (o - ref[i]) * (o - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Device copy of host data. */
static inline void *k_up(const void *h, size_t bytes)
{
    void *d = NULL;
    if (octo_cuda_malloc(bytes, &d) != OCTO_OK) return NULL;
    if (octo_cuda_h2d(d, h, bytes, NULL) != OCTO_OK) {
        octo_cuda_free(d);
        return NULL;
    }
    return d;
}

/* Device buffer filled with 0xFF bytes (bf16 and f32 NaN). */
static inline void *k_poisoned(size_t bytes)
{
    void *d = NULL;
    if (octo_cuda_malloc(bytes, &d) != OCTO_OK) return NULL;
    if (octo_cuda_memset(d, 0xFF, bytes, NULL) != OCTO_OK) {
        octo_cuda_free(d);
        return NULL;
    }
    return d;
}

/* Host copy of device data (malloc'd; NULL on error). */
static inline void *k_down(const void *d, size_t bytes)
{
    void *h = malloc(bytes ? bytes : 1);
    if (octo_cuda_stream_sync(NULL) != OCTO_OK || octo_cuda_d2h(h, d, bytes, NULL) != OCTO_OK) {
        free(h);
        return NULL;
    }
    return h;
}

#define CHECK_OK(expr) CHECK((expr) == OCTO_OK)
#define CHECK_ERR(name, err, tol)                                                 \
    do {                                                                          \
        double e_ = (err);                                                        \
        printf("  %-40s rel err %.3e (tol %.0e)\n", name, e_, (double)(tol));     \
        CHECK(e_ <= (tol));                                                       \
    } while (0)

/* main(): SKIP without a device, else seed and run the cases. */
#define KERNEL_TEST_MAIN(...)                                                    \
    int main(void)                                                               \
    {                                                                            \
        static const octo_test_case cases_[] = {__VA_ARGS__};                    \
        if (octo_cuda_device_count() <= 0 || octo_cuda_init(0) != OCTO_OK) {     \
            printf("SKIP: no CUDA device\n");                                    \
            printf("0 passed, 0 failed\n");                                      \
            return 0;                                                            \
        }                                                                        \
        k_seed();                                                                \
        return octo_test_run(cases_, sizeof cases_ / sizeof cases_[0]);          \
    }

#else /* no CUDA backend in this build */

#define KERNEL_TEST_SKIP_MAIN                                                    \
    int main(void)                                                               \
    {                                                                            \
        printf("SKIP: no CUDA device (built without the CUDA backend)\n");       \
        printf("0 passed, 0 failed\n");                                          \
        return 0;                                                                \
    }

#endif /* OCTO_HAVE_CUDA */
#endif /* OCTO_KUTIL_H */
