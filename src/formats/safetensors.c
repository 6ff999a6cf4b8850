/* SPDX-License-Identifier: Apache-2.0 */
/*
 * safetensors — the reader of Hugging Face's safetensors checkpoints: one
 * file, or many shards listed by a model.safetensors.index.json.
 *
 * File layout (public spec): an 8-byte little-endian header length N, N
 * bytes of JSON (an object mapping tensor names to {dtype, shape,
 * data_offsets} plus an optional "__metadata__" object of strings), then
 * the data section, which the tensors must cover exactly. Files are mapped
 * read-only; tensor views point into the mapping.
 *
 * What it is not: a writer, a converter between dtypes, or a lazy loader
 * that reads tensors on demand (the kernel pages the mapping in).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/formats_int.h"

/* ==== handle ==== */

typedef struct st_entry {
    char *name;
    octo_dtype dtype;
    int ndim;
    int64_t shape[OCTO_FORMATS_MAX_DIMS];
    uint64_t begin, end; /* within the shard's data section */
    int shard;
} st_entry;

typedef struct st_shard {
    char *path;                /* as opened, or the label for memory images */
    fmt_map map;                  /* empty for borrowed memory images */
    const unsigned char *data; /* start of the data section */
    size_t data_len;
    json_t *meta;              /* "__metadata__" or NULL */
} st_shard;

struct octo_formats_st {
    st_shard *shards;
    size_t n_shards;
    st_entry *entries; /* sorted by name once complete */
    size_t n, cap;
};

static void st_free(octo_formats_st *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) octo_free(st->entries[i].name);
    octo_free(st->entries);
    for (size_t i = 0; i < st->n_shards; i++) {
        fmt_map_close(&st->shards[i].map);
        json_decref(st->shards[i].meta);
        octo_free(st->shards[i].path);
    }
    octo_free(st->shards);
    octo_free(st);
}

void octo_formats_st_close(octo_formats_st *st) { st_free(st); }

static octo_err push_entry(octo_formats_st *st, st_entry **e)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        st_entry *p = octo_realloc(st->entries, cap * sizeof *p);
        if (!p) return OCTO_E_NOMEM;
        st->entries = p;
        st->cap = cap;
    }
    *e = &st->entries[st->n++];
    memset(*e, 0, sizeof **e);
    return OCTO_OK;
}

/* ==== one tensor entry ==== */

/* Parses {"dtype":..., "shape":[...], "data_offsets":[b,e]} of tensor
 * `name` into e, checking everything that one entry alone can violate. */
static octo_err parse_entry(const char *label, const char *name, json_t *v, size_t data_len,
                            st_entry *e, char *err, size_t n)
{
    if (!json_is_object(v))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: tensor '%s': entry is not a JSON object", label,
                    name);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return fmt_err(OCTO_E_PARSE, err, n, "%s: tensor '%s': unexpected key '%s'", label,
                           name, k);
    }
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: tensor '%s': missing string \"dtype\"", label,
                       name);
    if (!json_is_array(js))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: tensor '%s': missing array \"shape\"", label,
                       name);
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return fmt_err(OCTO_E_PARSE, err, n,
                       "%s: tensor '%s': \"data_offsets\" is not [begin, end]", label, name);
    const char *dn = json_string_value(jd);
    e->dtype = octo_dtype_from_name(dn);
    if (e->dtype == OCTO_DTYPE_Q4 || (e->dtype == OCTO_DTYPE_INVALID && !strncmp(dn, "F6_", 3)))
        return fmt_err(OCTO_E_UNSUPPORTED, err, n,
                       "%s: tensor '%s': dtype '%s' not supported", label, name, dn);
    if (e->dtype == OCTO_DTYPE_INVALID)
        return fmt_err(OCTO_E_UNSUPPORTED, err, n, "%s: tensor '%s': unknown dtype '%s'", label,
                       name, dn);
    size_t nd = json_array_size(js);
    if (nd > OCTO_FORMATS_MAX_DIMS)
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: tensor '%s': %zu dimensions (limit %d)",
                       label, name, nd, OCTO_FORMATS_MAX_DIMS);
    e->ndim = (int)nd;
    uint64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return fmt_err(OCTO_E_PARSE, err, n,
                           "%s: tensor '%s': shape[%zu] is not a non-negative integer", label, name,
                           i);
        e->shape[i] = (int64_t)json_integer_value(d);
        uint64_t dim = (uint64_t)e->shape[i];
        if (dim && numel > (uint64_t)INT64_MAX / dim) overflow = true; /* numel fits int64 */
        numel *= dim;
    }
    int64_t off[2];
    for (int i = 0; i < 2; i++) {
        json_t *o = json_array_get(jo, (size_t)i);
        if (!json_is_integer(o) || json_integer_value(o) < 0)
            return fmt_err(OCTO_E_PARSE, err, n,
                        "%s: tensor '%s': data_offsets[%d] is not a non-negative integer", label,
                        name, i);
        off[i] = (int64_t)json_integer_value(o);
    }
    e->begin = (uint64_t)off[0];
    e->end = (uint64_t)off[1];
    if (e->begin > e->end)
        return fmt_err(OCTO_E_INVALID, err, n, "%s: tensor '%s': data_offsets [%llu,%llu] decrease",
                    label, name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        return fmt_err(OCTO_E_INVALID, err, n,
                    "%s: tensor '%s': data_offsets [%llu,%llu] past end of data (size %zu)", label,
                    name, (unsigned long long)e->begin, (unsigned long long)e->end, data_len);
    size_t want = 0;
    if (numel % octo_dtype_props_get(e->dtype)->block)
        return fmt_err(OCTO_E_INVALID, err, n,
                       "%s: tensor '%s': %llu elements of %s do not fill whole bytes", label, name,
                       (unsigned long long)numel, dn);
    if (overflow || octo_dtype_nbytes(e->dtype, numel, &want) != OCTO_OK)
        return fmt_err(OCTO_E_INVALID, err, n, "%s: tensor '%s': shape product overflows", label,
                    name);
    if (want != e->end - e->begin)
        return fmt_err(OCTO_E_INVALID, err, n,
                    "%s: tensor '%s': %s shape of %llu elements needs %zu bytes but data_offsets "
                    "[%llu,%llu] hold %llu",
                    label, name, dn, (unsigned long long)numel, want,
                    (unsigned long long)e->begin, (unsigned long long)e->end,
                    (unsigned long long)(e->end - e->begin));
    size_t el = octo_dtype_size(e->dtype);
    if (el > 8) el = 8;
    if (el > 1 && e->begin % el)
        return fmt_err(OCTO_E_INVALID, err, n,
                    "%s: tensor '%s': data offset %llu is not a multiple of %zu (%s alignment)",
                    label, name, (unsigned long long)e->begin, el, dn);
    return OCTO_OK;
}

/* ==== one file ==== */

static int cmp_begin(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Checks that entries [first, st->n) cover the data section exactly. */
static octo_err check_coverage(octo_formats_st *st, size_t first, const char *label,
                               size_t data_len, char *err, size_t n)
{
    size_t cnt = st->n - first;
    if (cnt == 0) {
        if (data_len)
            return fmt_err(OCTO_E_INVALID, err, n, "%s: %zu data bytes but no tensors", label,
                        data_len);
        return OCTO_OK;
    }
    st_entry **order = octo_malloc(cnt * sizeof *order);
    if (!order) return fmt_err(OCTO_E_NOMEM, err, n, "%s: out of memory", label);
    for (size_t i = 0; i < cnt; i++) order[i] = &st->entries[first + i];
    qsort(order, cnt, sizeof *order, cmp_begin);
    octo_err rc = OCTO_OK;
    uint64_t pos = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < cnt && !rc; i++) {
        const st_entry *e = order[i];
        if (e->begin > pos)
            rc = fmt_err(OCTO_E_INVALID, err, n,
                      "%s: tensor '%s': data_offsets [%llu,%llu] leave a hole of %llu bytes "
                      "after offset %llu",
                      label, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                      (unsigned long long)(e->begin - pos), (unsigned long long)pos);
        else if (e->begin < pos)
            rc = fmt_err(OCTO_E_INVALID, err, n,
                      "%s: tensor '%s': data_offsets [%llu,%llu] overlap tensor '%s' (ends at "
                      "%llu)",
                      label, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                      prev ? prev : "?", (unsigned long long)pos);
        pos = e->end;
        prev = e->name;
    }
    if (!rc && pos != data_len)
        rc = fmt_err(OCTO_E_INVALID, err, n,
                  "%s: %llu trailing data bytes after the last tensor (data size %zu)", label,
                  (unsigned long long)(data_len - pos), data_len);
    octo_free(order);
    return rc;
}

static octo_err parse_metadata(const char *label, json_t *v, char *err, size_t n)
{
    if (!json_is_object(v))
        return fmt_err(OCTO_E_PARSE, err, n, "%s: __metadata__ is not a JSON object", label);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (!json_is_string(x))
            return fmt_err(OCTO_E_PARSE, err, n, "%s: __metadata__ '%s' is not a string", label, k);
    }
    return OCTO_OK;
}

/* Parses the image buf[0..len) as shard `si` of st: appends its tensors
 * and fills the shard's data section and metadata. */
static octo_err parse_file(octo_formats_st *st, size_t si, const unsigned char *buf, size_t len,
                           const char *label, char *err, size_t n)
{
    st_shard *sh = &st->shards[si];
    if (len < 8)
        return fmt_err(OCTO_E_PARSE, err, n, "%s: %zu bytes, shorter than the 8-byte header length",
                    label, len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    if (hl > OCTO_LIMIT_ST_HEADER_BYTES)
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: header length %llu over the limit of %u",
                    label, (unsigned long long)hl, (unsigned)OCTO_LIMIT_ST_HEADER_BYTES);
    if (hl < 2)
        return fmt_err(OCTO_E_PARSE, err, n, "%s: header length %llu too small", label,
                    (unsigned long long)hl);
    if (hl > len - 8)
        return fmt_err(OCTO_E_PARSE, err, n, "%s: header length %llu past end of file (size %zu)",
                    label, (unsigned long long)hl, len);
    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fmt_err(OCTO_E_PARSE, err, n, "%s: header JSON invalid at column %d: %s", label,
                    je.column, je.text);
    octo_err rc = OCTO_OK;
    if (!json_is_object(root)) {
        rc = fmt_err(OCTO_E_PARSE, err, n, "%s: header is not a JSON object", label);
        goto done;
    }
    if ((8 + hl) % 8) {
        rc = fmt_err(OCTO_E_INVALID, err, n,
                  "%s: data section starts at offset %llu, not a multiple of 8", label,
                  (unsigned long long)(8 + hl));
        goto done;
    }
    sh->data = buf + 8 + hl;
    sh->data_len = len - 8 - (size_t)hl;
    size_t first = st->n;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (strcmp(k, "__metadata__") == 0) {
            if (json_is_null(v)) continue; /* as the official reader: no metadata */
            rc = parse_metadata(label, v, err, n);
            if (rc) goto done;
            sh->meta = json_incref(v);
            continue;
        }
        size_t kl = strlen(k);
        if (kl == 0 || kl > OCTO_LIMIT_TENSOR_NAME_BYTES) {
            rc = fmt_err(OCTO_E_INVALID, err, n, "%s: tensor name of %zu bytes (must be 1..%u)",
                      label, kl, (unsigned)OCTO_LIMIT_TENSOR_NAME_BYTES);
            goto done;
        }
        if (st->n >= OCTO_LIMIT_TENSORS) {
            rc = fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: more than %u tensors", label,
                      (unsigned)OCTO_LIMIT_TENSORS);
            goto done;
        }
        st_entry *e;
        if ((rc = push_entry(st, &e)) != OCTO_OK) goto nomem;
        e->shard = (int)si;
        if (!(e->name = octo_strdup(k))) {
            rc = OCTO_E_NOMEM;
            goto nomem;
        }
        rc = parse_entry(label, k, v, sh->data_len, e, err, n);
        if (rc) goto done;
    }
    rc = check_coverage(st, first, label, sh->data_len, err, n);
    goto done;
nomem:
    fmt_err(rc, err, n, "%s: out of memory", label);
done:
    json_decref(root);
    return rc;
}

/* ==== whole handle ==== */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

/* Sorts entries by name and rejects a name found in two shards. */
static octo_err finish(octo_formats_st *st, char *err, size_t n)
{
    if (st->n) qsort(st->entries, st->n, sizeof *st->entries, cmp_name);
    for (size_t i = 1; i < st->n; i++) {
        const st_entry *a = &st->entries[i - 1], *b = &st->entries[i];
        if (strcmp(a->name, b->name) == 0)
            return fmt_err(OCTO_E_INVALID, err, n, "tensor '%s' is in both %s and %s", a->name,
                        fmt_path_base(st->shards[a->shard].path),
                        fmt_path_base(st->shards[b->shard].path));
    }
    return OCTO_OK;
}

static octo_formats_st *st_alloc(size_t n_shards)
{
    octo_formats_st *st = octo_calloc(1, sizeof *st);
    if (!st) return NULL;
    st->shards = octo_calloc(n_shards ? n_shards : 1, sizeof *st->shards);
    if (!st->shards) {
        octo_free(st);
        return NULL;
    }
    st->n_shards = n_shards;
    return st;
}

octo_err octo_formats_st_parse(const void *buf, size_t len, const char *label,
                               octo_formats_st **out, char *err, size_t err_size)
{
    *out = NULL;
    if (!label) label = "<memory>";
    octo_formats_st *st = st_alloc(1);
    if (!st) return fmt_err(OCTO_E_NOMEM, err, err_size, "%s: out of memory", label);
    octo_err rc = OCTO_E_NOMEM;
    if (!(st->shards[0].path = octo_strdup(label))) goto fail;
    rc = parse_file(st, 0, buf, len, label, err, err_size);
    if (rc) goto fail;
    rc = finish(st, err, err_size);
    if (rc) goto fail;
    *out = st;
    return OCTO_OK;
fail:
    if (rc == OCTO_E_NOMEM) fmt_err(rc, err, err_size, "%s: out of memory", label);
    st_free(st);
    return rc;
}

/* Maps `path` as shard si of st and parses it. */
static octo_err open_shard(octo_formats_st *st, size_t si, const char *path, char *err,
                           size_t n)
{
    st_shard *sh = &st->shards[si];
    if (!(sh->path = octo_strdup(path))) return fmt_err(OCTO_E_NOMEM, err, n, "out of memory");
    octo_err rc = fmt_map_open(path, &sh->map, err, n);
    if (rc) return rc;
    return parse_file(st, si, sh->map.data, sh->map.size, fmt_path_base(path), err, n);
}

/* Opens the listed shard files (paths relative to dir) into a new handle;
 * entries are sorted by name and unique. Used by st_index.c. */
octo_err fmt_st_open_shards(const char *dir, const char **files, size_t n_files,
                              octo_formats_st **out, char *err, size_t n)
{
    *out = NULL;
    octo_formats_st *st = st_alloc(n_files);
    if (!st) return fmt_err(OCTO_E_NOMEM, err, n, "out of memory");
    octo_err rc = OCTO_OK;
    char path[OCTO_LIMIT_PATH_BYTES];
    for (size_t i = 0; i < n_files; i++) {
        if (fmt_path_join(path, sizeof path, dir, files[i])) {
            rc = fmt_err(OCTO_E_TOO_LARGE, err, n, "%s/%s: path too long", dir, files[i]);
            goto fail;
        }
        char why[512] = "";
        rc = open_shard(st, i, path, why, sizeof why);
        if (rc == OCTO_E_NOT_FOUND || rc == OCTO_E_IO) {
            fmt_err(rc, err, n, "shard %s named by the index: %s", files[i], why);
            goto fail;
        }
        if (rc) {
            fmt_err(rc, err, n, "%s", why);
            goto fail;
        }
    }
    rc = finish(st, err, n);
    if (rc) goto fail;
    *out = st;
    return OCTO_OK;
fail:
    st_free(st);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

octo_err octo_formats_st_open(const char *path, octo_formats_st **out, char *err,
                              size_t err_size)
{
    *out = NULL;
    if (!path) return fmt_err(OCTO_E_INVALID, err, err_size, "no path given");
    char buf[OCTO_LIMIT_PATH_BYTES];
    if (fmt_is_dir(path)) {
        if (fmt_path_join(buf, sizeof buf, path, "model.safetensors.index.json"))
            return fmt_err(OCTO_E_TOO_LARGE, err, err_size, "%s: path too long", path);
        if (fmt_exists(buf)) return fmt_st_open_index(buf, out, err, err_size);
        if (fmt_path_join(buf, sizeof buf, path, "model.safetensors"))
            return fmt_err(OCTO_E_TOO_LARGE, err, err_size, "%s: path too long", path);
        if (!fmt_exists(buf))
            return fmt_err(OCTO_E_NOT_FOUND, err, err_size,
                        "%s: neither model.safetensors.index.json nor model.safetensors found",
                        path);
        path = buf;
    } else if (ends_with(path, ".json")) {
        return fmt_st_open_index(path, out, err, err_size);
    }
    octo_formats_st *st = st_alloc(1);
    if (!st) return fmt_err(OCTO_E_NOMEM, err, err_size, "out of memory");
    octo_err rc = open_shard(st, 0, path, err, err_size);
    if (!rc) rc = finish(st, err, err_size);
    if (rc) {
        st_free(st);
        return rc;
    }
    *out = st;
    return OCTO_OK;
}

/* ==== queries ==== */

static void to_view(const octo_formats_st *st, const st_entry *e, octo_formats_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->name = e->name;
    out->dtype = e->dtype;
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof out->shape);
    out->nbytes = (size_t)(e->end - e->begin);
    out->data = out->nbytes ? st->shards[e->shard].data + e->begin : NULL;
    out->shard = e->shard;
}

size_t octo_formats_st_count(const octo_formats_st *st) { return st ? st->n : 0; }

octo_err octo_formats_st_at(const octo_formats_st *st, size_t i, octo_formats_tensor *out)
{
    if (!st || i >= st->n) return OCTO_E_INVALID;
    to_view(st, &st->entries[i], out);
    return OCTO_OK;
}

octo_err octo_formats_st_find(const octo_formats_st *st, const char *name,
                              octo_formats_tensor *out)
{
    if (!st || !name) return OCTO_E_INVALID;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->entries[mid].name, name);
        if (c == 0) {
            to_view(st, &st->entries[mid], out);
            return OCTO_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return OCTO_E_NOT_FOUND;
}

/* "[a,b,c]" into buf. */
static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%lld", i ? "," : "[", (long long)shape[i]);
        if (w < 0) return;
        len += (size_t)w;
    }
    if (len < n) snprintf(buf + len, n - len, "%s", ndim ? "]" : "[]");
}

octo_err octo_formats_st_get(const octo_formats_st *st, const char *name, octo_dtype dtype,
                             int ndim, const int64_t *shape, octo_formats_tensor *out, char *err,
                             size_t err_size)
{
    octo_formats_tensor t;
    if (octo_formats_st_find(st, name, &t) != OCTO_OK)
        return fmt_err(OCTO_E_NOT_FOUND, err, err_size, "tensor '%s' not found", name ? name : "");
    if (dtype != OCTO_DTYPE_INVALID && t.dtype != dtype)
        return fmt_err(OCTO_E_INVALID, err, err_size, "tensor '%s': dtype %s, expected %s", name,
                       octo_dtype_name(t.dtype), octo_dtype_name(dtype));
    if (ndim >= 0) {
        bool same = t.ndim == ndim && ndim <= OCTO_FORMATS_MAX_DIMS;
        for (int i = 0; same && i < ndim; i++) same = t.shape[i] == shape[i];
        if (!same) {
            char got[160], want[160];
            shape_str(got, sizeof got, t.ndim, t.shape);
            shape_str(want, sizeof want, ndim > OCTO_FORMATS_MAX_DIMS ? 0 : ndim, shape);
            return fmt_err(OCTO_E_INVALID, err, err_size, "tensor '%s': shape %s, expected %s",
                           name, got, want);
        }
    }
    *out = t;
    return OCTO_OK;
}

uint64_t octo_formats_st_total_bytes(const octo_formats_st *st)
{
    uint64_t sum = 0;
    for (size_t i = 0; st && i < st->n; i++) sum += st->entries[i].end - st->entries[i].begin;
    return sum;
}

size_t octo_formats_st_shard_count(const octo_formats_st *st) { return st ? st->n_shards : 0; }

const char *octo_formats_st_shard_path(const octo_formats_st *st, size_t i)
{
    return st && i < st->n_shards ? st->shards[i].path : NULL;
}

const char *octo_formats_st_metadata(const octo_formats_st *st, const char *key)
{
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_shards; i++) {
        json_t *v = st->shards[i].meta ? json_object_get(st->shards[i].meta, key) : NULL;
        if (v) return json_string_value(v);
    }
    return NULL;
}

int fmt_st_shard_of(const octo_formats_st *st, const char *name)
{
    octo_formats_tensor t;
    if (octo_formats_st_find(st, name, &t) != OCTO_OK) return -1;
    return t.shard;
}
