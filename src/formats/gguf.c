/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gguf — the reader of GGUF files (versions 2 and 3, little-endian), the
 * container of llama.cpp/ggml: a header (magic "GGUF", version, tensor and
 * metadata counts), typed metadata key/value pairs (scalars, strings and
 * arrays, e.g. tokenizer.ggml.tokens), tensor infos (name, dims, ggml type,
 * offset), then the tensor data, aligned to general.alignment (default 32).
 *
 * Everything in the header is bounded before it is trusted: counts by the
 * bytes left and by named limits, strings and arrays likewise, so a hostile
 * file cannot make it allocate more than a small multiple of its own size.
 * Metadata strings are copied (NUL-terminated) into an arena owned by the
 * handle; tensor data stays in the read-only mapping.
 *
 * It does not dequantise block types (the tensor module does) and does not
 * write GGUF. Version 1 (32-bit counts) and big-endian files are rejected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/formats_int.h"

#define GGUF_DEFAULT_ALIGNMENT 32u

/* ==== ggml tensor types: rows of the tensor module's type table ==== */

const char *octo_formats_ggml_type_name(uint32_t t)
{
    octo_dtype d = octo_dtype_from_ggml(t);
    return d ? octo_dtype_name(d) : NULL;
}

bool octo_formats_ggml_type_info(uint32_t t, uint32_t *blk, uint32_t *bytes)
{
    const octo_dtype_props *p = octo_dtype_props_get(octo_dtype_from_ggml(t));
    if (blk) *blk = p->block;
    if (bytes) *bytes = p->block_bytes;
    return p->block != 0;
}


/* ==== handle ==== */

typedef struct gkv {
    char *key;
    uint32_t type, elem_type; /* elem_type and count for arrays */
    uint64_t count;
    const unsigned char *raw; /* scalar bytes, or the first array element */
    char *str;                /* STRING scalar, NUL-terminated copy */
    size_t str_len;
    char **strs;              /* STRING array copies */
    size_t *lens;
} gkv;

typedef struct gten {
    char *name;
    uint32_t type;
    int n_dims;
    int64_t ne[OCTO_FORMATS_MAX_DIMS];
    uint64_t offset;
    size_t nbytes;
} gten;

struct octo_formats_gguf {
    fmt_map map; /* empty for borrowed memory images */
    const unsigned char *buf;
    size_t len;
    uint32_t version;
    size_t alignment, data_offset;
    octo_arena *arena;
    gkv *kv;
    size_t n_kv;
    size_t *kv_sorted; /* kv indices by key */
    gten *t;
    size_t n_t;
    size_t *t_sorted;  /* tensor indices by name */
};

void octo_formats_gguf_close(octo_formats_gguf *g)
{
    if (!g) return;
    octo_arena_free(g->arena);
    fmt_map_close(&g->map);
    octo_free(g);
}

/* ==== bounded reader ==== */

typedef struct rd {
    const unsigned char *p;
    size_t pos, len;
    const char *label;
    char *err;
    size_t n;
    octo_arena *arena;
} rd;

static octo_err need(rd *r, uint64_t k, const char *what)
{
    if (k <= r->len - r->pos) return OCTO_OK;
    return fmt_err(OCTO_E_PARSE, r->err, r->n,
                   "%s: truncated: %s at offset %zu needs %llu bytes, file has %zu", r->label,
                   what, r->pos, (unsigned long long)k, r->len);
}

static uint64_t le(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static octo_err rd_u32(rd *r, uint32_t *v, const char *what)
{
    octo_err rc = need(r, 4, what);
    if (rc) return rc;
    *v = (uint32_t)le(r->p + r->pos, 4);
    r->pos += 4;
    return OCTO_OK;
}

static octo_err rd_u64(rd *r, uint64_t *v, const char *what)
{
    octo_err rc = need(r, 8, what);
    if (rc) return rc;
    *v = le(r->p + r->pos, 8);
    r->pos += 8;
    return OCTO_OK;
}

/* A gguf_string: uint64 length + bytes. *s points into the file. */
static octo_err rd_str(rd *r, const unsigned char **s, size_t *slen, const char *what)
{
    uint64_t l;
    octo_err rc = rd_u64(r, &l, what);
    if (rc) return rc;
    if (l > OCTO_LIMIT_GGUF_STRING_BYTES)
        return fmt_err(OCTO_E_TOO_LARGE, r->err, r->n,
                       "%s: %s at offset %zu: string length %llu over the limit of %u", r->label,
                       what, r->pos - 8, (unsigned long long)l,
                       (unsigned)OCTO_LIMIT_GGUF_STRING_BYTES);
    if ((rc = need(r, l, what))) return rc;
    *s = r->p + r->pos;
    *slen = (size_t)l;
    r->pos += (size_t)l;
    return OCTO_OK;
}

static char *copy_str(rd *r, const unsigned char *s, size_t l)
{
    char *c = octo_arena_alloc(r->arena, l + 1);
    if (c) memcpy(c, s, l); /* arena memory is zeroed: NUL-terminated */
    return c;
}

static octo_err nomem(rd *r)
{
    return fmt_err(OCTO_E_NOMEM, r->err, r->n, "%s: out of memory", r->label);
}

/* Bytes of one element of a fixed-size type, 0 for STRING/ARRAY, -1 for
 * an unknown type. */
static int type_size(uint32_t t)
{
    switch (t) {
    case OCTO_GGUF_UINT8: case OCTO_GGUF_INT8: case OCTO_GGUF_BOOL: return 1;
    case OCTO_GGUF_UINT16: case OCTO_GGUF_INT16: return 2;
    case OCTO_GGUF_UINT32: case OCTO_GGUF_INT32: case OCTO_GGUF_FLOAT32: return 4;
    case OCTO_GGUF_UINT64: case OCTO_GGUF_INT64: case OCTO_GGUF_FLOAT64: return 8;
    case OCTO_GGUF_STRING: case OCTO_GGUF_ARRAY: return 0;
    default: return -1;
    }
}

/* ==== metadata values ==== */

static octo_err bad_bool(rd *r, const char *key, unsigned v)
{
    return fmt_err(OCTO_E_INVALID, r->err, r->n, "%s: key '%s': bool value %u is not 0 or 1",
                   r->label, key, v);
}

/* Validates (and skips) one value of type t; depth counts array nesting. */
static octo_err skip_value(rd *r, const char *key, uint32_t t, unsigned depth)
{
    int sz = type_size(t);
    if (sz < 0)
        return fmt_err(OCTO_E_PARSE, r->err, r->n, "%s: key '%s': unknown value type %u",
                       r->label, key, t);
    if (sz > 0) {
        octo_err rc = need(r, (uint64_t)sz, key);
        if (rc) return rc;
        if (t == OCTO_GGUF_BOOL && r->p[r->pos] > 1) return bad_bool(r, key, r->p[r->pos]);
        r->pos += (size_t)sz;
        return OCTO_OK;
    }
    if (t == OCTO_GGUF_STRING) {
        const unsigned char *s;
        size_t l;
        return rd_str(r, &s, &l, key);
    }
    if (depth >= OCTO_LIMIT_GGUF_ARRAY_DEPTH)
        return fmt_err(OCTO_E_TOO_LARGE, r->err, r->n,
                       "%s: key '%s': arrays nested deeper than %u", r->label, key,
                       (unsigned)OCTO_LIMIT_GGUF_ARRAY_DEPTH);
    uint32_t et;
    uint64_t cnt;
    octo_err rc = rd_u32(r, &et, key);
    if (!rc) rc = rd_u64(r, &cnt, key);
    if (rc) return rc;
    int esz = type_size(et);
    if (esz < 0)
        return fmt_err(OCTO_E_PARSE, r->err, r->n, "%s: key '%s': unknown array element type %u",
                       r->label, key, et);
    uint64_t min = esz > 0 ? (uint64_t)esz : et == OCTO_GGUF_STRING ? 8 : 12;
    if (cnt > OCTO_LIMIT_GGUF_ARRAY_ELEMS)
        return fmt_err(OCTO_E_TOO_LARGE, r->err, r->n,
                       "%s: key '%s': array of %llu elements over the limit of %u", r->label, key,
                       (unsigned long long)cnt, (unsigned)OCTO_LIMIT_GGUF_ARRAY_ELEMS);
    if (cnt > (r->len - r->pos) / min)
        return fmt_err(OCTO_E_PARSE, r->err, r->n,
                       "%s: truncated: key '%s': array of %llu elements at offset %zu does not "
                       "fit in the file (size %zu)",
                       r->label, key, (unsigned long long)cnt, r->pos, r->len);
    if (esz > 0 && et != OCTO_GGUF_BOOL) {
        r->pos += (size_t)(cnt * (uint64_t)esz);
        return OCTO_OK;
    }
    for (uint64_t i = 0; i < cnt; i++)
        if ((rc = skip_value(r, key, et, depth + 1))) return rc;
    return OCTO_OK;
}

/* Copies the strings of a STRING array (already validated) into the arena. */
static octo_err index_strings(rd *r, gkv *kv)
{
    size_t cnt = (size_t)kv->count;
    kv->strs = octo_arena_alloc(r->arena, (cnt ? cnt : 1) * sizeof *kv->strs);
    kv->lens = octo_arena_alloc(r->arena, (cnt ? cnt : 1) * sizeof *kv->lens);
    if (!kv->strs || !kv->lens) return nomem(r);
    rd s = *r;
    s.pos = (size_t)(kv->raw - r->p);
    for (size_t i = 0; i < cnt; i++) {
        const unsigned char *p;
        size_t l;
        octo_err rc = rd_str(&s, &p, &l, kv->key);
        if (rc) return rc;
        if (!(kv->strs[i] = copy_str(r, p, l))) return nomem(r);
        kv->lens[i] = l;
    }
    return OCTO_OK;
}

static octo_err read_kv(rd *r, gkv *kv)
{
    const unsigned char *k;
    size_t kl;
    octo_err rc = rd_str(r, &k, &kl, "metadata key");
    if (rc) return rc;
    if (!(kv->key = copy_str(r, k, kl))) return nomem(r);
    if (kl == 0 || strlen(kv->key) != kl)
        return fmt_err(OCTO_E_INVALID, r->err, r->n,
                       "%s: metadata key at offset %zu is empty or holds NUL", r->label,
                       r->pos - kl);
    if ((rc = rd_u32(r, &kv->type, kv->key))) return rc;
    kv->count = 1;
    if (kv->type == OCTO_GGUF_ARRAY) {
        size_t at = r->pos;
        if ((rc = skip_value(r, kv->key, kv->type, 0))) return rc;
        kv->elem_type = (uint32_t)le(r->p + at, 4);
        kv->count = le(r->p + at + 4, 8);
        kv->raw = r->p + at + 12;
        if (kv->elem_type == OCTO_GGUF_STRING) return index_strings(r, kv);
        return OCTO_OK;
    }
    kv->raw = r->p + r->pos;
    if (kv->type == OCTO_GGUF_STRING) {
        const unsigned char *s;
        if ((rc = rd_str(r, &s, &kv->str_len, kv->key))) return rc;
        kv->raw = s;
        if (!(kv->str = copy_str(r, s, kv->str_len))) return nomem(r);
        return OCTO_OK;
    }
    return skip_value(r, kv->key, kv->type, 0);
}

/* ==== tensor infos ==== */

static octo_err read_tensor(rd *r, gten *t, size_t idx)
{
    const unsigned char *s;
    size_t l;
    octo_err rc = rd_str(r, &s, &l, "tensor name");
    if (rc) return rc;
    if (l == 0 || l > OCTO_LIMIT_TENSOR_NAME_BYTES || memchr(s, 0, l))
        return fmt_err(OCTO_E_INVALID, r->err, r->n,
                       "%s: tensor %zu: name of %zu bytes is empty, holds NUL or is over %u",
                       r->label, idx, l, (unsigned)OCTO_LIMIT_TENSOR_NAME_BYTES);
    if (!(t->name = copy_str(r, s, l))) return nomem(r);
    uint32_t nd;
    if ((rc = rd_u32(r, &nd, t->name))) return rc;
    if (nd > OCTO_FORMATS_MAX_DIMS)
        return fmt_err(OCTO_E_TOO_LARGE, r->err, r->n, "%s: tensor '%s': %u dimensions (limit %d)",
                       r->label, t->name, nd, OCTO_FORMATS_MAX_DIMS);
    t->n_dims = (int)nd;
    for (uint32_t i = 0; i < nd; i++) {
        uint64_t d;
        if ((rc = rd_u64(r, &d, t->name))) return rc;
        if (d > INT64_MAX)
            return fmt_err(OCTO_E_INVALID, r->err, r->n, "%s: tensor '%s': dim %u = %llu",
                           r->label, t->name, i, (unsigned long long)d);
        t->ne[i] = (int64_t)d;
    }
    if ((rc = rd_u32(r, &t->type, t->name))) return rc;
    if ((rc = rd_u64(r, &t->offset, t->name))) return rc;
    uint32_t blk, bytes;
    if (!octo_formats_ggml_type_info(t->type, &blk, &bytes))
        return fmt_err(OCTO_E_UNSUPPORTED, r->err, r->n, "%s: tensor '%s': unknown ggml type %u",
                       r->label, t->name, t->type);
    uint64_t ne0 = nd ? (uint64_t)t->ne[0] : 1, rows = 1;
    if (ne0 % blk)
        return fmt_err(OCTO_E_INVALID, r->err, r->n,
                       "%s: tensor '%s': ne[0] = %llu is not a multiple of the %s block size %u",
                       r->label, t->name, (unsigned long long)ne0,
                       octo_formats_ggml_type_name(t->type), blk);
    if (ne0 / blk > UINT64_MAX / bytes) goto overflow;
    uint64_t nb = ne0 / blk * bytes;
    for (uint32_t i = 1; i < nd; i++) {
        uint64_t d = (uint64_t)t->ne[i];
        if (d && rows > UINT64_MAX / d) goto overflow;
        rows *= d;
    }
    if (rows && nb > (uint64_t)SIZE_MAX / rows) goto overflow;
    t->nbytes = (size_t)(nb * rows);
    return OCTO_OK;
overflow:
    return fmt_err(OCTO_E_INVALID, r->err, r->n, "%s: tensor '%s': size overflows", r->label,
                   t->name);
}

/* ==== sorting and lookup ==== */

static int cmp_kv(const void *a, const void *b, void *ctx)
{
    const octo_formats_gguf *g = ctx;
    return strcmp(g->kv[*(const size_t *)a].key, g->kv[*(const size_t *)b].key);
}

static int cmp_t(const void *a, const void *b, void *ctx)
{
    const octo_formats_gguf *g = ctx;
    return strcmp(g->t[*(const size_t *)a].name, g->t[*(const size_t *)b].name);
}

static int cmp_off(const void *a, const void *b, void *ctx)
{
    const octo_formats_gguf *g = ctx;
    uint64_t x = g->t[*(const size_t *)a].offset, y = g->t[*(const size_t *)b].offset;
    return x < y ? -1 : x > y;
}

/* Indices 0..n-1 sorted by cmp (glibc qsort_r: reentrant, unlike a static
 * context for qsort). */
static size_t *sorted_index(rd *r, size_t n, int (*cmp)(const void *, const void *, void *),
                            octo_formats_gguf *g)
{
    size_t *ix = octo_arena_alloc(r->arena, (n ? n : 1) * sizeof *ix);
    if (!ix) return NULL;
    for (size_t i = 0; i < n; i++) ix[i] = i;
    if (n) qsort_r(ix, n, sizeof *ix, cmp, g);
    return ix;
}

static long find_kv(const octo_formats_gguf *g, const char *key)
{
    size_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv[g->kv_sorted[mid]].key, key);
        if (c == 0) return (long)g->kv_sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* ==== whole file ==== */

static octo_err read_header(rd *r, octo_formats_gguf *g, uint64_t *n_t, uint64_t *n_kv)
{
    octo_err rc = need(r, 4, "magic");
    if (rc) return rc;
    if (memcmp(r->p, "GGUF", 4) != 0)
        return fmt_err(OCTO_E_PARSE, r->err, r->n,
                       "%s: bad magic %02x %02x %02x %02x (want \"GGUF\")", r->label, r->p[0],
                       r->p[1], r->p[2], r->p[3]);
    r->pos = 4;
    if ((rc = rd_u32(r, &g->version, "version"))) return rc;
    uint32_t swapped = __builtin_bswap32(g->version);
    if (swapped == 2 || swapped == 3)
        return fmt_err(OCTO_E_UNSUPPORTED, r->err, r->n,
                       "%s: big-endian GGUF (version %u) not supported", r->label, swapped);
    if (g->version != 2 && g->version != 3)
        return fmt_err(OCTO_E_UNSUPPORTED, r->err, r->n,
                       "%s: GGUF version %u not supported (want 2 or 3, little-endian)", r->label,
                       g->version);
    if ((rc = rd_u64(r, n_t, "tensor count")) || (rc = rd_u64(r, n_kv, "metadata count")))
        return rc;
    if (*n_t > OCTO_LIMIT_TENSORS || *n_kv > OCTO_LIMIT_GGUF_KV)
        return fmt_err(OCTO_E_TOO_LARGE, r->err, r->n,
                       "%s: %llu tensors / %llu metadata pairs over the limits %u / %u", r->label,
                       (unsigned long long)*n_t, (unsigned long long)*n_kv,
                       (unsigned)OCTO_LIMIT_TENSORS, (unsigned)OCTO_LIMIT_GGUF_KV);
    uint64_t left = r->len - r->pos;
    if (*n_kv > left / 13 || *n_t > left / 24 || *n_kv * 13 + *n_t * 24 > left)
        return fmt_err(OCTO_E_PARSE, r->err, r->n,
                       "%s: truncated: %llu metadata pairs and %llu tensors cannot fit in %llu "
                       "bytes",
                       r->label, (unsigned long long)*n_kv, (unsigned long long)*n_t,
                       (unsigned long long)left);
    return OCTO_OK;
}

static octo_err read_alignment(rd *r, octo_formats_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    long i = find_kv(g, "general.alignment");
    if (i < 0) return OCTO_OK;
    const gkv *kv = &g->kv[i];
    if (kv->type != OCTO_GGUF_UINT32)
        return fmt_err(OCTO_E_INVALID, r->err, r->n, "%s: general.alignment is not a uint32",
                       r->label);
    uint32_t a = (uint32_t)le(kv->raw, 4);
    if (a == 0 || (a & (a - 1)) || a > OCTO_LIMIT_GGUF_ALIGNMENT)
        return fmt_err(OCTO_E_INVALID, r->err, r->n,
                       "%s: general.alignment %u is not a power of two <= %u", r->label, a,
                       (unsigned)OCTO_LIMIT_GGUF_ALIGNMENT);
    g->alignment = a;
    return OCTO_OK;
}

/* Offsets aligned, inside the data section, not overlapping. */
static octo_err check_tensors(rd *r, octo_formats_gguf *g)
{
    size_t data_len = g->len - g->data_offset;
    for (size_t i = 0; i < g->n_t; i++) {
        const gten *t = &g->t[i];
        if (t->offset % g->alignment)
            return fmt_err(OCTO_E_INVALID, r->err, r->n,
                           "%s: tensor '%s': offset %llu is not a multiple of the alignment %zu",
                           r->label, t->name, (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return fmt_err(OCTO_E_INVALID, r->err, r->n,
                           "%s: tensor '%s': bytes [%llu,+%zu) past end of data (size %zu)",
                           r->label, t->name, (unsigned long long)t->offset, t->nbytes,
                           data_len);
    }
    size_t *ix = sorted_index(r, g->n_t, cmp_off, g);
    if (!ix) return nomem(r);
    for (size_t i = 1; i < g->n_t; i++) {
        const gten *a = &g->t[ix[i - 1]], *b = &g->t[ix[i]];
        if (a->offset + a->nbytes > b->offset)
            return fmt_err(OCTO_E_INVALID, r->err, r->n,
                           "%s: tensor '%s' at offset %llu overlaps tensor '%s' [%llu,+%zu)",
                           r->label, b->name, (unsigned long long)b->offset, a->name,
                           (unsigned long long)a->offset, a->nbytes);
    }
    return OCTO_OK;
}

static octo_err check_dups(rd *r, octo_formats_gguf *g)
{
    for (size_t i = 1; i < g->n_kv; i++)
        if (!strcmp(g->kv[g->kv_sorted[i - 1]].key, g->kv[g->kv_sorted[i]].key))
            return fmt_err(OCTO_E_INVALID, r->err, r->n, "%s: duplicate metadata key '%s'",
                           r->label, g->kv[g->kv_sorted[i]].key);
    for (size_t i = 1; i < g->n_t; i++)
        if (!strcmp(g->t[g->t_sorted[i - 1]].name, g->t[g->t_sorted[i]].name))
            return fmt_err(OCTO_E_INVALID, r->err, r->n, "%s: duplicate tensor name '%s'",
                           r->label, g->t[g->t_sorted[i]].name);
    return OCTO_OK;
}

static octo_err parse_all(octo_formats_gguf *g, rd *r)
{
    uint64_t n_t = 0, n_kv = 0;
    octo_err rc = read_header(r, g, &n_t, &n_kv);
    if (rc) return rc;
    g->kv = octo_arena_alloc(r->arena, (size_t)(n_kv ? n_kv : 1) * sizeof *g->kv);
    g->t = octo_arena_alloc(r->arena, (size_t)(n_t ? n_t : 1) * sizeof *g->t);
    if (!g->kv || !g->t) return nomem(r);
    for (; g->n_kv < n_kv; g->n_kv++)
        if ((rc = read_kv(r, &g->kv[g->n_kv]))) return rc;
    for (; g->n_t < n_t; g->n_t++)
        if ((rc = read_tensor(r, &g->t[g->n_t], g->n_t))) return rc;
    g->kv_sorted = sorted_index(r, g->n_kv, cmp_kv, g);
    g->t_sorted = sorted_index(r, g->n_t, cmp_t, g);
    if (!g->kv_sorted || !g->t_sorted) return nomem(r);
    if ((rc = check_dups(r, g)) || (rc = read_alignment(r, g))) return rc;
    size_t pad = (g->alignment - r->pos % g->alignment) % g->alignment;
    g->data_offset = r->pos + pad;
    if (g->data_offset > g->len) {
        if (g->n_t)
            return fmt_err(OCTO_E_PARSE, r->err, r->n,
                           "%s: truncated: data section at offset %zu past end of file (size %zu)",
                           r->label, g->data_offset, g->len);
        g->data_offset = g->len;
    }
    return check_tensors(r, g);
}

octo_err octo_formats_gguf_parse(const void *buf, size_t len, const char *label,
                                 octo_formats_gguf **out, char *err, size_t err_size)
{
    *out = NULL;
    if (!label) label = "<memory>";
    octo_formats_gguf *g = octo_calloc(1, sizeof *g);
    if (!g) return fmt_err(OCTO_E_NOMEM, err, err_size, "%s: out of memory", label);
    g->buf = buf;
    g->len = len;
    /* Worst case: every byte a 1-byte string in a string array costs a
     * pointer, a length and a 16-byte-rounded copy; bound well above. */
    size_t max = len > SIZE_MAX / 16 ? SIZE_MAX : len * 16 + (1u << 20);
    g->arena = octo_arena_new(1u << 20, max);
    if (!g->arena) {
        octo_free(g);
        return fmt_err(OCTO_E_NOMEM, err, err_size, "%s: out of memory", label);
    }
    if (!buf) len = 0;
    g->len = len;
    rd r = {buf, 0, len, label, err, err_size, g->arena};
    octo_err rc = parse_all(g, &r);
    if (rc) {
        octo_formats_gguf_close(g);
        return rc;
    }
    *out = g;
    return OCTO_OK;
}

octo_err octo_formats_gguf_open(const char *path, octo_formats_gguf **out, char *err,
                                size_t err_size)
{
    *out = NULL;
    fmt_map m;
    octo_err rc = fmt_map_open(path, &m, err, err_size);
    if (rc) return rc;
    rc = octo_formats_gguf_parse(m.data, m.size, fmt_path_base(path), out, err, err_size);
    if (rc) {
        fmt_map_close(&m);
        return rc;
    }
    (*out)->map = m;
    return OCTO_OK;
}

/* ==== queries ==== */

uint32_t octo_formats_gguf_version(const octo_formats_gguf *g) { return g ? g->version : 0; }
size_t octo_formats_gguf_alignment(const octo_formats_gguf *g) { return g ? g->alignment : 0; }
size_t octo_formats_gguf_data_offset(const octo_formats_gguf *g)
{
    return g ? g->data_offset : 0;
}
size_t octo_formats_gguf_kv_count(const octo_formats_gguf *g) { return g ? g->n_kv : 0; }

const char *octo_formats_gguf_kv_key(const octo_formats_gguf *g, size_t i)
{
    return g && i < g->n_kv ? g->kv[i].key : NULL;
}

octo_err octo_formats_gguf_kv_find(const octo_formats_gguf *g, const char *key, size_t *index)
{
    long i = g && key ? find_kv(g, key) : -1;
    if (i < 0) return OCTO_E_NOT_FOUND;
    *index = (size_t)i;
    return OCTO_OK;
}

octo_err octo_formats_gguf_kv_type(const octo_formats_gguf *g, const char *key,
                                   octo_gguf_type *type, octo_gguf_type *elem_type,
                                   uint64_t *count)
{
    long i = g && key ? find_kv(g, key) : -1;
    if (i < 0) return OCTO_E_NOT_FOUND;
    if (type) *type = (octo_gguf_type)g->kv[i].type;
    if (elem_type) *elem_type = (octo_gguf_type)g->kv[i].elem_type;
    if (count) *count = g->kv[i].count;
    return OCTO_OK;
}

/* Converts one fixed-size value of type t at p. */
static octo_err conv_int(uint32_t t, const unsigned char *p, int64_t *out)
{
    uint64_t u;
    switch (t) {
    case OCTO_GGUF_UINT8:
    case OCTO_GGUF_BOOL: *out = p[0]; return OCTO_OK;
    case OCTO_GGUF_INT8: *out = (int8_t)p[0]; return OCTO_OK;
    case OCTO_GGUF_UINT16: *out = (int64_t)le(p, 2); return OCTO_OK;
    case OCTO_GGUF_INT16: *out = (int16_t)le(p, 2); return OCTO_OK;
    case OCTO_GGUF_UINT32: *out = (int64_t)le(p, 4); return OCTO_OK;
    case OCTO_GGUF_INT32: *out = (int32_t)(uint32_t)le(p, 4); return OCTO_OK;
    case OCTO_GGUF_INT64: *out = (int64_t)le(p, 8); return OCTO_OK;
    case OCTO_GGUF_UINT64:
        u = le(p, 8);
        if (u > INT64_MAX) return OCTO_E_TOO_LARGE;
        *out = (int64_t)u;
        return OCTO_OK;
    default: return OCTO_E_INVALID;
    }
}

static octo_err conv_float(uint32_t t, const unsigned char *p, double *out)
{
    if (t == OCTO_GGUF_FLOAT32) {
        uint32_t b = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &b, 4);
        *out = f;
        return OCTO_OK;
    }
    if (t == OCTO_GGUF_FLOAT64) {
        uint64_t b = le(p, 8);
        memcpy(out, &b, 8);
        return OCTO_OK;
    }
    int64_t i;
    if (t == OCTO_GGUF_UINT64) {
        *out = (double)le(p, 8);
        return OCTO_OK;
    }
    if (t == OCTO_GGUF_BOOL) return OCTO_E_INVALID;
    octo_err rc = conv_int(t, p, &i);
    if (!rc) *out = (double)i;
    return rc;
}

static const gkv *get(const octo_formats_gguf *g, const char *key)
{
    long i = g && key ? find_kv(g, key) : -1;
    return i < 0 ? NULL : &g->kv[i];
}

octo_err octo_formats_gguf_get_int(const octo_formats_gguf *g, const char *key, int64_t *out)
{
    const gkv *kv = get(g, key);
    return kv ? conv_int(kv->type, kv->raw, out) : OCTO_E_NOT_FOUND;
}

octo_err octo_formats_gguf_get_float(const octo_formats_gguf *g, const char *key, double *out)
{
    const gkv *kv = get(g, key);
    return kv ? conv_float(kv->type, kv->raw, out) : OCTO_E_NOT_FOUND;
}

octo_err octo_formats_gguf_get_bool(const octo_formats_gguf *g, const char *key, bool *out)
{
    const gkv *kv = get(g, key);
    if (!kv) return OCTO_E_NOT_FOUND;
    if (kv->type != OCTO_GGUF_BOOL) return OCTO_E_INVALID;
    *out = kv->raw[0] != 0;
    return OCTO_OK;
}

octo_err octo_formats_gguf_get_string(const octo_formats_gguf *g, const char *key,
                                      const char **s, size_t *len)
{
    const gkv *kv = get(g, key);
    if (!kv) return OCTO_E_NOT_FOUND;
    if (kv->type != OCTO_GGUF_STRING) return OCTO_E_INVALID;
    *s = kv->str;
    if (len) *len = kv->str_len;
    return OCTO_OK;
}

octo_err octo_formats_gguf_get_array(const octo_formats_gguf *g, const char *key,
                                     octo_gguf_type *elem_type, uint64_t *count)
{
    const gkv *kv = get(g, key);
    if (!kv) return OCTO_E_NOT_FOUND;
    if (kv->type != OCTO_GGUF_ARRAY) return OCTO_E_INVALID;
    *elem_type = (octo_gguf_type)kv->elem_type;
    *count = kv->count;
    return OCTO_OK;
}

/* The i-th element of a fixed-size-element array, or NULL. */
static const unsigned char *elem(const octo_formats_gguf *g, const char *key, uint64_t i,
                                 uint32_t *type, octo_err *rc)
{
    const gkv *kv = get(g, key);
    *rc = kv ? OCTO_E_INVALID : OCTO_E_NOT_FOUND;
    if (!kv || kv->type != OCTO_GGUF_ARRAY || i >= kv->count) return NULL;
    int sz = type_size(kv->elem_type);
    if (sz <= 0) return NULL;
    *type = kv->elem_type;
    *rc = OCTO_OK;
    return kv->raw + i * (uint64_t)sz;
}

octo_err octo_formats_gguf_array_string(const octo_formats_gguf *g, const char *key, uint64_t i,
                                        const char **s, size_t *len)
{
    const gkv *kv = get(g, key);
    if (!kv) return OCTO_E_NOT_FOUND;
    if (kv->type != OCTO_GGUF_ARRAY || kv->elem_type != OCTO_GGUF_STRING || i >= kv->count)
        return OCTO_E_INVALID;
    *s = kv->strs[i];
    if (len) *len = kv->lens[i];
    return OCTO_OK;
}

octo_err octo_formats_gguf_array_int(const octo_formats_gguf *g, const char *key, uint64_t i,
                                     int64_t *out)
{
    uint32_t t = 0;
    octo_err rc;
    const unsigned char *p = elem(g, key, i, &t, &rc);
    return p ? conv_int(t, p, out) : rc;
}

octo_err octo_formats_gguf_array_float(const octo_formats_gguf *g, const char *key, uint64_t i,
                                       double *out)
{
    uint32_t t = 0;
    octo_err rc;
    const unsigned char *p = elem(g, key, i, &t, &rc);
    return p ? conv_float(t, p, out) : rc;
}

size_t octo_formats_gguf_tensor_count(const octo_formats_gguf *g) { return g ? g->n_t : 0; }

static void tview(const octo_formats_gguf *g, const gten *t, octo_formats_gguf_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->ggml_type = t->type;
    out->dtype = octo_dtype_from_ggml(t->type);
    out->n_dims = t->n_dims;
    memcpy(out->ne, t->ne, sizeof out->ne);
    out->offset = t->offset;
    out->nbytes = t->nbytes;
    out->data = t->nbytes ? g->buf + g->data_offset + t->offset : NULL;
}

octo_err octo_formats_gguf_tensor_at(const octo_formats_gguf *g, size_t i,
                                     octo_formats_gguf_tensor *out)
{
    if (!g || i >= g->n_t) return OCTO_E_INVALID;
    tview(g, &g->t[i], out);
    return OCTO_OK;
}

octo_err octo_formats_gguf_tensor_find(const octo_formats_gguf *g, const char *name,
                                       octo_formats_gguf_tensor *out)
{
    if (!g || !name) return OCTO_E_INVALID;
    size_t lo = 0, hi = g->n_t;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const gten *t = &g->t[g->t_sorted[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) {
            tview(g, t, out);
            return OCTO_OK;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return OCTO_E_NOT_FOUND;
}
