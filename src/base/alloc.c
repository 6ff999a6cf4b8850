/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc — the allocator front door. Each block carries a 16-byte header with
 * its size so that live bytes can be counted; freed memory is poisoned in
 * debug builds. Not a general-purpose allocator: it wraps libc malloc.
 */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16u

static _Atomic size_t g_live;
static _Atomic long g_fail_after;

void octo_alloc_fail_after(long n) { atomic_store(&g_fail_after, n); }
size_t octo_alloc_live_bytes(void) { return atomic_load(&g_live); }

/* ==== device bytes (counted by the backend that allocates them) ==== */

static _Atomic long long g_dev_live, g_dev_peak;

void octo_alloc_device_note(long long delta)
{
    long long now = atomic_fetch_add(&g_dev_live, delta) + delta;
    long long peak = atomic_load(&g_dev_peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_dev_peak, &peak, now)) {
    }
}

size_t octo_alloc_device_live_bytes(void)
{
    long long v = atomic_load(&g_dev_live);
    return v > 0 ? (size_t)v : 0;
}

size_t octo_alloc_device_peak_bytes(void)
{
    long long v = atomic_load(&g_dev_peak);
    return v > 0 ? (size_t)v : 0;
}

static bool should_fail(void)
{
    long n = atomic_load(&g_fail_after);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&g_fail_after, &n, n - 1)) return n == 1;
    }
    return false;
}

void *octo_malloc(size_t n)
{
    if (n > SIZE_MAX - HDR || should_fail()) return NULL;
    unsigned char *p = malloc(n + HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    atomic_fetch_add(&g_live, n);
    return p + HDR;
}

void *octo_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = octo_malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *octo_realloc(void *p, size_t n)
{
    if (!p) return octo_malloc(n);
    if (n > SIZE_MAX - HDR || should_fail()) return NULL;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *q = realloc(base, n + HDR);
    if (!q) return NULL;
    memcpy(q, &n, sizeof n);
    atomic_fetch_sub(&g_live, old);
    atomic_fetch_add(&g_live, n);
    return q + HDR;
}

void octo_free(void *p)
{
    if (!p) return;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t n;
    memcpy(&n, base, sizeof n);
    atomic_fetch_sub(&g_live, n);
#ifndef NDEBUG
    memset(p, 0xdd, n);
#endif
    free(base);
}

char *octo_strndup(const char *s, size_t n)
{
    char *d = octo_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *octo_strdup(const char *s) { return octo_strndup(s, strlen(s)); }
