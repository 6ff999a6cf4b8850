/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena — a bump allocator made of chunks, for per-request and per-pass
 * memory that is released all at once. Not thread-safe.
 */
#include "base.h"

#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
} chunk;

struct octo_arena {
    chunk *head;       /* current chunk; older ones follow */
    size_t chunk_bytes;
    size_t max_bytes;
    size_t total;      /* bytes of all chunks */
    size_t used;       /* bytes handed out */
};

octo_arena *octo_arena_new(size_t chunk_bytes, size_t max_bytes)
{
    octo_arena *a = octo_calloc(1, sizeof *a);
    if (!a) return NULL;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : 64 * 1024;
    a->max_bytes = max_bytes;
    return a;
}

void octo_arena_free(octo_arena *a)
{
    if (!a) return;
    chunk *c = a->head;
    while (c) {
        chunk *n = c->next;
        octo_free(c);
        c = n;
    }
    octo_free(a);
}

void *octo_arena_alloc(octo_arena *a, size_t n)
{
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need < n) return NULL;
    if (a->max_bytes && a->used + need > a->max_bytes) return NULL;
    chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > a->chunk_bytes ? need : a->chunk_bytes;
        c = octo_malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        a->total += cap;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used += need;
    memset(p, 0, n);
    return p;
}

char *octo_arena_strdup(octo_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *d = octo_arena_alloc(a, n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void octo_arena_reset(octo_arena *a)
{
    chunk *c = a->head;
    if (!c) return;
    /* keep the oldest chunk (the first allocated, usually chunk_bytes) */
    chunk *keep = c;
    while (keep->next) keep = keep->next;
    while (c != keep) {
        chunk *n = c->next;
        octo_free(c);
        c = n;
    }
    keep->used = 0;
    keep->next = NULL;
    a->head = keep;
    a->total = keep->cap;
    a->used = 0;
}

size_t octo_arena_used(const octo_arena *a) { return a->used; }
