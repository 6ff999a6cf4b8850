/* SPDX-License-Identifier: Apache-2.0 */
/*
 * octo_test — a minimal unit-test harness: CHECK records a failure with
 * file:line and goes on; TEST_MAIN runs the listed cases and prints the
 * closing line "N passed, N failed". Exit status is non-zero on failure.
 */
#ifndef OCTO_TEST_H
#define OCTO_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int octo_test_failures;
static int octo_test_checks;

#define CHECK(cond)                                                          \
    do {                                                                     \
        octo_test_checks++;                                                  \
        if (!(cond)) {                                                       \
            octo_test_failures++;                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                       \
    do {                                                                         \
        long long va_ = (long long)(a), vb_ = (long long)(b);                    \
        octo_test_checks++;                                                      \
        if (va_ != vb_) {                                                        \
            octo_test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %lld, %s == %lld\n", \
                    __FILE__, __LINE__, #a, va_, #b, vb_);                       \
        }                                                                        \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                           \
    do {                                                                             \
        const char *sa_ = (a), *sb_ = (b);                                           \
        octo_test_checks++;                                                          \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                 \
            octo_test_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed:\n  %s = \"%s\"\n  %s = \"%s\"\n", \
                    __FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", #b, sb_ ? sb_ : "(null)"); \
        }                                                                            \
    } while (0)

/* Largest |a[i] - b[i]| over n floats, in double; a NaN anywhere makes it
 * NaN (so a tolerance check fails). */
static inline double octo_test_max_diff(const float *a, const float *b, long long n)
{
    double m = 0.0;
    for (long long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

typedef struct octo_test_case {
    const char *name;
    void (*fn)(void);
} octo_test_case;

static inline int octo_test_run(const octo_test_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int before = octo_test_failures;
        cases[i].fn();
        if (octo_test_failures == before) {
            passed++;
            printf("ok   %s\n", cases[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", cases[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define TEST(fn) {#fn, fn}
#define TEST_MAIN(...)                                                       \
    int main(void)                                                           \
    {                                                                        \
        static const octo_test_case cases_[] = {__VA_ARGS__};                \
        return octo_test_run(cases_, sizeof cases_ / sizeof cases_[0]);      \
    }

#endif /* OCTO_TEST_H */
